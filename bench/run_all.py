"""Run every benchmark and (re)write docs/benchmarks.md.

    python bench/run_all.py            # full runs (about 5 minutes); rewrites docs/benchmarks.md
    python bench/run_all.py --quick    # every benchmark in smoke mode; prints, writes nothing
    python bench/run_all.py --quick --out /tmp/bench.md   # smoke mode, written elsewhere

Each benchmark is its own script in bench/ and runs as its own process (so one cannot
warm another's caches); those that take ``--json`` end their output with one JSON line,
the others are read from their text. A benchmark script that is missing (one a helper
has not written yet) is listed as not run. The exit code is 1 if a benchmark failed to
run - not if it missed its goal: that is what the report is for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


@dataclass
class Row:
    figure: str
    status: str  # PASS | FAIL | - (no goal)
    detail: list[tuple[str, str]]  # (what, value) lines of the benchmark's table


@dataclass(frozen=True)
class Bench:
    key: str
    title: str
    script: str
    goal: str
    parse: Callable[[str], Row]
    json: bool = False  # the script takes --json
    timeout_s: float = 600.0


def _last_json(out: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def _find(pattern: str, out: str) -> re.Match:
    m = re.search(pattern, out)
    if m is None:
        raise ValueError(f"output has no line matching {pattern!r}")
    return m


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def parse_realtime(out: str) -> Row:
    m = _find(r"step-boundary error: p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", out)
    p50, p99, worst = map(float, m.groups())
    g = _find(
        r"growth: first tenth p50 ([\d.]+) ms, last tenth p50 ([\d.]+) ms, slope ([-\d.]+) "
        r"us/boundary",
        out,
    )
    first, last, slope = map(float, g.groups())
    played = _find(r"played (\d+) s in real time: (\w+), (\d+) step boundaries", out)
    cpu = _find(r"CPU used while playing: .* = ([\d.]+) % of one core", out)
    ok = p99 <= 2.0 and last - first <= 1.0
    return Row(
        f"p99 {p99:.2f} ms, growth {last - first:+.3f} ms",
        _verdict(ok),
        [
            ("run", f"{played.group(1)} s, {played.group(3)} boundaries, {played.group(2)}"),
            ("step-boundary error p50 / p99 / max", f"{p50:.3f} / {p99:.3f} / {worst:.3f} ms"),
            (
                "growth (first tenth p50 -> last tenth p50)",
                f"{first:.3f} -> {last:.3f} ms (slope {slope:.4f} us per boundary)",
            ),
            ("CPU, host + in-process simulator", f"{float(cpu.group(1)):.1f} % of one core"),
        ],
    )


def parse_scale(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"p99 {r['p99_ms']:.2f} ms over {r['chairs']} chairs",
        _verdict(r["passed"]),
        [
            (
                "chairs x seconds (real time)",
                f"{r['chairs']} x {r['seconds']} s, {r['finished']}/{r['chairs']} finished, stop confirmed",
            ),
            (
                "step-boundary error p50 / p99 / max",
                f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} / "
                f"{r['max_ms']:.3f} ms ({r['boundaries']} boundaries)",
            ),
            ("worst single chair's p99", f"{r['worst_chair_p99_ms']:.3f} ms"),
            ("CPU, all chairs and simulators", f"{r['cpu_percent']:.0f} % of one core"),
        ],
    )


def parse_serial(out: str) -> Row:
    detail, figures = [], []
    for m in re.finditer(
        r"(?m)^([\w-]+): (\d+) commands over a pty.*\n\s+measured call -> applied: "
        r"median ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms\n\s+wire time of one "
        r"command \((\d+) bytes.*?: ([\d.]+) ms",
        out,
    ):
        model, n, med, p99, worst, nbytes, wire = m.groups()
        detail.append(
            (
                f"{model}: call -> applied over a pty (median / p99 / max)",
                f"{med} / {p99} / {worst} ms ({n} commands)",
            )
        )
        detail.append(
            (f"{model}: wire time of one command ({nbytes} bytes at the model's line)", f"{wire} ms")
        )
        figures.append(f"{model} {med} ms vs wire {wire} ms")
    if not detail:
        raise ValueError("no model lines in the output")
    return Row("; ".join(figures), "-", detail)


def parse_coalescing(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"max {r['max_ms']:.1f} ms (allowance {r['allowance_ms']:g} ms)",
        _verdict(r["passed"]),
        [
            ("offered / written / coalesced", f"{r['offered']} / {r['written']} / {r['coalesced']}"),
            ("most states ever waiting", str(r["max_waiting"])),
            (
                "offer -> written (it or newer) p50 / p99 / max",
                f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ms",
            ),
            ("shortest gap between writes", f"{r['min_gap_ms']:.1f} ms"),
            ("last state offered is the last written", "yes" if r["last_is_latest"] else "NO"),
        ],
    )


def parse_virtual(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"{r['thirty_wall_s']:.2f} s wall",
        _verdict(r["passed"]),
        [
            (
                f"30-minute profile, best of {r['runs']}: wall / CPU",
                f"{r['thirty_wall_s']:.3f} / {r['thirty_cpu_s']:.3f} s",
            ),
            (
                f"shipped relaxation ({r['relaxation_minutes']:g} min), wall",
                f"{r['relaxation_wall_s']:.3f} s",
            ),
        ],
    )


def parse_startup(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"{r['ratio']:.2f}x",
        _verdict(r["passed"]),
        [
            (f"`python -c pass`, best of {r['runs']}", f"{r['bare_ms']:.1f} ms"),
            (
                f"`python -m massager_ctl --help`, best of {r['runs']}",
                f"{r['cli_ms']:.1f} ms (pre-rendered: click not imported)",
            ),
            (
                "reference, no goal: `python -m massager_ctl --version` (through click)",
                f"{r['version_ms']:.1f} ms, {r['version_ratio']:.2f}x",
            ),
        ],
    )


def parse_cpu(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"{r['host_percent']:.2f} % of a core",
        _verdict(r["passed"]),
        [
            ("host only (chair simulated in another process, pty)", f"{r['host_percent']:.2f} % of one core"),
            ("host + simulator in one process", f"{r['inprocess_percent']:.2f} % of one core"),
            ("played", f"profile quick, {r['seconds']:g} s of real time"),
        ],
    )


def parse_compile(out: str) -> Row:
    prof = _find(r"profile:\s+([\d,]+) segments, ([\d,]+) characters -> ([\d,]+) steps", out)
    parse = _find(r"parse\+validate\s+best\s+([\d.]+) ms", out)
    comp = _find(r"compile\s+best\s+([\d.]+) ms", out)
    total = _find(r"total\s+best\s+([\d.]+) ms\s+median\s+([\d.]+) ms", out)
    return Row(
        f"{float(total.group(1)):.0f} ms",
        "-",
        [
            ("profile", f"{prof.group(1)} segments, {prof.group(2)} characters, {prof.group(3)} steps"),
            ("parse + validate, best", f"{parse.group(1)} ms"),
            ("compile, best", f"{comp.group(1)} ms"),
            ("total, best / median", f"{total.group(1)} / {total.group(2)} ms"),
        ],
    )


def parse_serve(out: str) -> Row:
    r = _last_json(out)
    return Row(
        f"command -> bytes p50 {r['cmd_p50_ms']:.2f} / p99 {r['cmd_p99_ms']:.2f} ms; "
        f"boundary p99 {r['p99_ms']:.2f} ms over {r['chairs']} chairs",
        _verdict(r["passed"]),
        [
            (
                f"MQTT command -> device bytes, {r['commands']} commands (p50 / p99 / max)",
                f"{r['cmd_p50_ms']:.2f} / {r['cmd_p99_ms']:.2f} / {r['cmd_max_ms']:.2f} ms",
            ),
            (
                "chairs x seconds (real time), one service",
                f"{r['chairs']} x {r['seconds']} s, {r['finished']}/{r['chairs']} finished, stop confirmed",
            ),
            ("state published per chair", f"{r['publish_per_s']:.2f} per second"),
            (
                "step-boundary error p50 / p99 / max",
                f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} / {r['max_ms']:.3f} ms "
                f"({r['boundaries']} boundaries)",
            ),
            ("CPU, service + simulators + broker client", f"{r['cpu_percent']:.0f} % of one core"),
        ],
    )


BENCHES: tuple[Bench, ...] = (
    Bench(
        "realtime",
        "Step-boundary error in real time",
        "bench_realtime.py",
        "p99 <= 2 ms (issue 3), and no growth over the run (last tenth's p50 within 1 ms of the first's)",
        parse_realtime,
    ),
    Bench(
        "scale",
        "32 chairs in one process, real time",
        "bench_scale.py",
        "p99 of the step-boundary error across all chairs <= 5 ms",
        parse_scale,
        json=True,
    ),
    Bench(
        "serial",
        "Command latency over a pty vs wire time",
        "bench_serial_latency.py",
        "none set (a pty does not enforce baud timing: the software path is measured)",
        parse_serial,
    ),
    Bench(
        "coalescing",
        "Coalescing on a slow (BLE) link",
        "bench_coalescing.py",
        "the latest state is on its way within one gap (after the write in flight); never more "
        "than one state waiting",
        parse_coalescing,
        json=True,
    ),
    Bench(
        "virtual",
        "A 30-minute profile in virtual time",
        "bench_virtual.py",
        "<= 1 s of wall time",
        parse_virtual,
        json=True,
    ),
    Bench(
        "startup",
        "CLI start-up against a bare interpreter",
        "bench_startup.py",
        "`massager-ctl --help` <= 4x `python -c pass`",
        parse_startup,
        json=True,
    ),
    Bench(
        "cpu",
        "CPU used while a real-time session plays",
        "bench_cpu.py",
        "<= 1 % of one core (the host)",
        parse_cpu,
        json=True,
    ),
    Bench("compile", "Compiling a 10 000-segment profile", "bench_compile.py", "none set", parse_compile),
    Bench(
        "serve",
        "serve --mqtt: command latency, and 32 chairs publishing every second",
        "bench_serve_mqtt.py",
        "step-boundary p99 across 32 served chairs <= 5 ms with state published every second "
        "(command latency: none set)",
        parse_serve,
        json=True,
    ),
)


def run(bench: Bench, quick: bool) -> tuple[Row | None, str, str, str]:
    """(row or None, command, output, error) for one benchmark."""
    path = os.path.join(ROOT, "bench", bench.script)
    args = ["--quick"] if quick else []
    command = " ".join(["python", f"bench/{bench.script}", *args])
    if not os.path.exists(path):
        return None, command, "", "not run: the script does not exist yet"
    argv = [sys.executable, path, *args, *(["--json"] if bench.json else [])]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout_s)
    except subprocess.TimeoutExpired:
        return None, command, "", f"did not finish within {bench.timeout_s:g} s"
    out = done.stdout
    if done.returncode != 0:
        return None, command, out, f"exit code {done.returncode}: {done.stderr.strip()[-500:]}"
    try:
        return bench.parse(out), command, out, ""
    except (ValueError, KeyError) as exc:
        return None, command, out, f"could not read its output: {exc}"


def markdown(results, when: str, where: str, quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Every figure below is reproduced by `python bench/run_all.py` (about 5 minutes), which "
        "runs each benchmark in bench/ as its own process and rewrites this page; the command "
        "of each one is given with its figure. CI runs `python bench/run_all.py --quick`: the "
        "same benchmarks in smoke mode, to keep them working (those figures are not "
        "comparable).",
        "",
        f"Machine: {where}  ",
        f"Date: {when}" + ("  \n**Smoke-mode figures (--quick): not comparable.**" if quick else ""),
        "",
        "| benchmark | goal | figure | result |",
        "|---|---|---|---|",
    ]
    for bench, (row, _, _, error) in results:
        figure = row.figure if row else error
        status = row.status if row else "not run"
        lines.append(f"| [{bench.title}](#{bench.key}) | {bench.goal} | {figure} | {status} |")
    for bench, (row, command, out, error) in results:
        lines += ["", f'<a id="{bench.key}"></a>', f"## {bench.title}", ""]
        lines += ["| | |", "|---|---|", f"| goal | {bench.goal} |"]
        if row is None:
            lines.append(f"| result | not run: {error} |")
        else:
            lines.append(f"| result | **{row.status}**: {row.figure} |")
            lines += [f"| {what} | {value} |" for what, value in row.detail]
        lines += [f"| command | `{command}` |", f"| machine | {where} |", f"| date | {when} |"]
        if out:
            lines += [
                "",
                "<details><summary>output</summary>",
                "",
                "```",
                out.strip(),
                "```",
                "",
                "</details>",
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke mode; writes nothing unless --out")
    ap.add_argument(
        "--out", help=f"write the report here (default {os.path.relpath(DOC, ROOT)} for a full run)"
    )
    ap.add_argument("--only", help="comma-separated benchmark keys: " + ", ".join(b.key for b in BENCHES))
    args = ap.parse_args(argv)
    chosen = [b for b in BENCHES if not args.only or b.key in args.only.split(",")]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = machine()
    results = []
    failed = False
    for bench in chosen:
        print(f"== {bench.title}: python bench/{bench.script}{' --quick' if args.quick else ''}", flush=True)
        row, command, out, error = run(bench, args.quick)
        results.append((bench, (row, command, out, error)))
        if row is None:
            print(f"   {error}")
            failed = failed or not error.startswith("not run: the script does not exist")
        else:
            print(f"   {row.status}: {row.figure}   (goal: {bench.goal})")
    out_path = args.out or (None if args.quick else DOC)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as fh:
            fh.write(markdown(results, when, where, args.quick))
        print(f"wrote {os.path.relpath(out_path, ROOT)}")
    print(f"machine: {where}; {when}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
