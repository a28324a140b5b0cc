"""Run every benchmark and (re)write docs/benchmarks.md.

    python bench/run_all.py            # full runs (about 20 minutes); rewrites docs/benchmarks.md
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
    timeout_s: float = 900.0
    args: tuple[str, ...] = ()  # extra arguments (a variant of a script)
    idle: bool = True  # its goal assumes an idle machine (False: a loaded run, or correctness only)


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


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def parse_realtime(out: str) -> Row:
    r = _last_json(out)
    sim, pty = r["sim"], r["pty"]
    busy = " (one core busy)" if r["busy_core"] else ""
    return Row(
        f"at the chair p99 {sim['chair_p99_ms']:.2f} ms in process, {pty['chair_p99_ms']:.2f} ms "
        f"over a pty{busy}",
        _verdict(r["passed"]),
        [
            ("played", f"{r['seconds']} s in real time each way, {sim['boundaries']} boundaries"),
            (
                "chair in this process (sim:): at the chair p50 / p99 / max",
                f"{sim['chair_p50_ms']:.3f} / {sim['chair_p99_ms']:.3f} / {sim['chair_max_ms']:.3f} ms",
            ),
            ("... on the host (the session woke) p99", _ms(sim["host_p99_ms"])),
            (
                "chair in another process, over a pty: at the chair p50 / p99 / max",
                f"{pty['chair_p50_ms']:.3f} / {pty['chair_p99_ms']:.3f} / {pty['chair_max_ms']:.3f} ms",
            ),
            ("... on the host p99", _ms(pty["host_p99_ms"])),
            (
                "growth at the chair (last tenth p50 - first tenth p50)",
                f"{sim['growth_ms']:+.3f} ms in process, {pty['growth_ms']:+.3f} ms over a pty",
            ),
            (
                "CPU of the host process",
                f"{sim['cpu_percent']:.1f} % of a core with the simulator in it, "
                f"{pty['cpu_percent']:.1f} % without",
            ),
        ],
    )


def parse_scale(out: str) -> Row:
    r = _last_json(out)
    detail, figures = [], []
    for run in r["runs"]:
        how = "collection tuned after set-up" if run["tuned_gc"] else "collector as it is"
        name = f"{run['chairs']} chairs, {how}"
        figures.append(f"{run['chairs']}{' tuned' if run['tuned_gc'] else ''}: p99 {run['p99_ms']:.2f} ms")
        detail += [
            (
                f"{name}: at the chair p50 / p99 / max",
                f"{run['p50_ms']:.3f} / {run['p99_ms']:.3f} / {run['max_ms']:.3f} ms "
                f"({run['boundaries']} boundaries, {run['finished']}/{run['chairs']} finished); "
                f"{'PASS' if run['passed'] else 'FAIL'}",
            ),
            (
                f"{name}: on the host p99; worst chair's p99 at the chair",
                f"{run['host_p99_ms']:.3f} ms; {run['worst_chair_p99_ms']:.3f} ms",
            ),
            (
                f"{name}: garbage collections (full); longest pause",
                f"{run['gc_collections']} ({run['gc_full']}); {run['gc_max_ms']:.2f} ms",
            ),
            (f"{name}: CPU", f"{run['cpu_percent']:.0f} % of one core"),
        ]
    return Row("; ".join(figures), _verdict(r["passed"]), detail)


def parse_set_stop(out: str) -> Row:
    r = _last_json(out)
    names = {
        "pty": "pty, chair in this process",
        "pty_process": "pty, chair in another process",
        "ble": "BLE (simulated radio, 7.5 ms a way)",
    }
    detail = []
    for key, name in names.items():
        x = r[key]
        detail += [
            (
                f"{name}: set on a playing hold, call -> new state at the chair p50 / p99",
                f"{_ms(x['set_chair_p50_ms'])} / {_ms(x['set_chair_p99_ms'])}",
            ),
            (
                f"{name}: stop, call -> return (ACK) p50 / p99; STOP frames per stop",
                f"{_ms(x['stop_return_p50_ms'])} / {_ms(x['stop_return_p99_ms'])}; {x['stop_frames_max']}",
            ),
        ]
    figure = (
        f"pty: set p99 {r['pty']['set_chair_p99_ms']:.2f} / {r['pty_process']['set_chair_p99_ms']:.2f} ms, "
        f"stop p99 {r['pty']['stop_return_p99_ms']:.2f} / {r['pty_process']['stop_return_p99_ms']:.2f} ms; "
        f"BLE set p99 {r['ble']['set_chair_p99_ms'] / 7.5:.2f} intervals"
    )
    return Row(figure, _verdict(r["passed"]), detail)


def parse_memory(out: str) -> Row:
    r = _last_json(out)
    detail = []
    for key, name in (("hold", "a hold (set)"), ("profile", "a profile with ramps")):
        x = r[key]
        detail += [
            (
                f"{name}: growth over {r['hours']:.3g} h (after the first minute)",
                f"{x['growth_mib']:+.3f} MiB",
            ),
            (
                f"{name}: automatic collections, longest; a forced full collection, longest",
                f"{x['auto_collections']}, {x['auto_max_ms']:.2f} ms; {x['full_max_ms']:.2f} ms "
                f"({x['unfrozen_full_ms']:.2f} ms before set-up was frozen)",
            ),
        ]
    figure = (
        f"growth {r['hold']['growth_mib']:+.2f} / {r['profile']['growth_mib']:+.2f} MiB over "
        f"{r['hours']:.3g} h; "
        f"longest pause {max(r['hold']['full_max_ms'], r['profile']['full_max_ms']):.2f} ms"
    )
    return Row(figure, _verdict(r["passed"]), detail)


def parse_timescale(out: str) -> Row:
    r = _last_json(out)
    detail = [
        (
            f"--time-scale {x['scale']}",
            f"{'ok' if x['ok'] else 'BAD'}: exit {x['exit']}, {x['reason']}, deadman trips "
            f"{x['deadman_trips']}; wall {x['wall_s']:.2f} s"
            + ("" if x["asked_s"] is None else f" (asked {x['asked_s']:.3f} s)"),
        )
        for x in r["runs"]
    ]
    good = sum(x["ok"] for x in r["runs"])
    return Row(f"{good}/{len(r['runs'])} scales play correctly", _verdict(r["passed"]), detail)


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
        f"{r['thirty_wall_s']:.2f} s in process, {r['cli_wall_s']:.2f} s through the CLI",
        _verdict(r["passed"]),
        [
            (
                f"30-minute profile in process, best of {r['runs']}: wall / CPU",
                f"{r['thirty_wall_s']:.3f} / {r['thirty_cpu_s']:.3f} s (goal <= {r['goal_s']:g} s)",
            ),
            (
                "through the CLI: `massager-ctl run FILE --time-scale max`, whole command",
                f"{r['cli_wall_s']:.3f} s, exit {r['cli_exit']} (goal <= {r['goal_cli_s']:g} s)",
            ),
            (
                f"shipped relaxation ({r['relaxation_minutes']:g} min), in process",
                f"{r['relaxation_wall_s']:.3f} s",
            ),
        ],
    )


def parse_startup(out: str) -> Row:
    r = _last_json(out)
    detail = [(f"`python -c pass`, best of {r['runs']}", f"{r['bare_ms']:.1f} ms")]
    for name, x in r["commands"].items():
        goal = r["goal_help"] if name == "--help" else r["goal_read"]
        detail.append((f"`massager-ctl {name}`", f"{x['ms']:.1f} ms, {x['ratio']:.2f}x (goal <= {goal:g}x)"))
    figure = ", ".join(f"{name} {x['ratio']:.1f}x" for name, x in r["commands"].items())
    return Row(figure, _verdict(r["passed"]), detail)


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
        "Step-boundary error at the chair, real time",
        "bench_realtime.py",
        "p99 at the chair <= 2 ms, the chair in this process and in another over a pty; no growth",
        parse_realtime,
        json=True,
    ),
    Bench(
        "realtime-busy",
        "Step-boundary error at the chair, one core busy (loaded run)",
        "bench_realtime.py",
        "p99 at the chair <= 5 ms with another process keeping one core busy",
        parse_realtime,
        json=True,
        args=("--busy-core",),
        idle=False,
    ),
    Bench(
        "scale",
        "32 and 256 chairs in one process, real time",
        "bench_scale.py",
        "p99 at the chair <= 5 ms and GC pauses < 5 ms: 32 chairs; 256 chairs with collection "
        "tuned after set-up",
        parse_scale,
        json=True,
    ),
    Bench(
        "set-stop",
        "`set` on a playing hold and `stop`, call to chair",
        "bench_set_stop.py",
        "pty: set p99 <= 5 ms call -> new state at the chair, stop p99 <= 5 ms call -> return, "
        "one STOP; BLE: set p99 <= 2 connection intervals",
        parse_set_stop,
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
        "memory",
        "Memory and collection pauses over 4 hours of `sim:`",
        "bench_memory.py",
        "growth <= 1 MiB over 4 hours; no collection pause of 5 ms or more",
        parse_memory,
        json=True,
    ),
    Bench(
        "virtual",
        "A 30-minute profile in virtual time",
        "bench_virtual.py",
        "<= 0.25 s of wall time in process, <= 0.5 s through the CLI",
        parse_virtual,
        json=True,
    ),
    Bench(
        "timescale",
        "`--time-scale` at every speed the CLI accepts",
        "bench_timescale.py",
        "every run plays the profile correctly (finished, exit 0, stop confirmed, no deadman trip)",
        parse_timescale,
        json=True,
        idle=False,
    ),
    Bench(
        "startup",
        "CLI start-up against a bare interpreter",
        "bench_startup.py",
        "`--help` <= 4x `python -c pass`; `--version`, `devices`, `profile list`, `status` on "
        "`sim:` each <= 2.5x",
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


def load_now() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover
        return "?"


NOTES = [
    "**Which figures need an idle machine.** Timing goals (the column *machine*: idle) hold on an "
    "idle 2-core machine: nothing else running, load average below about 1.5. The load "
    "average when each benchmark started is given beside it; on a busy machine those figures "
    "are not the goals' figures. The loaded run keeps one core busy on purpose (its own goal), "
    "and is reported whatever it shows. Correctness goals (*any*) hold on any machine.",
    "",
    "**At the chair.** A step boundary or a command is judged where the person gets it: when "
    "the simulated chair decoded the frame that carries it, in this process and in another "
    "process on a pty (its own event loop, as a real chair has its own processor; the "
    "monotonic clock is one clock for every process on the machine). The host-side figure "
    "(when the session woke) is given beside it: it was the only figure before, and hid a "
    "heartbeat written just ahead of half the steps, which then waited the 20 ms gap.",
    "",
    "**The write gap.** A device's minimum gap between frames (20 ms for the native protocol on "
    "a serial line, 75 ms on the BLE UART models) counts from the *end* of the previous write, "
    "that is from the device's answer (its ACK) or, for a write with no answer, from when the "
    "transport took it: the gap is there so the device (a UART module's buffer, the chair's "
    "firmware) has dealt with one frame before the next, and only the end says so. Writes "
    "therefore start every gap + write time (105 ms for a 30 ms BLE write with response). A "
    "state that falls due within a gap of the previous frame waits for the rest of it; a "
    "heartbeat never goes just before a state that is due (the state is itself proof of "
    "life).",
    "",
    "**In process and through the CLI.** Virtual-time figures are given for the session in "
    "process and for the whole command as a person types it (start-up, reading and compiling "
    "the profile, the session, the report).",
    "",
    "**Two goals are not met, and why.** *Virtual time*: each status frame of the simulated "
    "chair's 10 Hz stream (18 000 in 30 minutes, about 70 % of the run) costs about 35 us "
    "from the chair's loop to the host's check, spread over some 250 Python calls with no hot "
    "spot left; 0.25 s needs about 4x less work per frame, which takes a compiled codec and "
    "physics (mypyc or C), not more caching. The status stream itself is the chair's "
    "behaviour and is not thinned. *Start-up*: `devices`, `--version` and `--help` answer "
    "without click; `profile list` does too, but the standard modules that reading a profile "
    "and the config needs (dataclasses, typing, pathlib, logging, the TOML reader) cost about "
    "33 ms, about 4x a bare interpreter, on their own; `status` drives a device through "
    "asyncio, whose import alone is about 5.5x a bare interpreter here. Neither is done by a "
    "second, reduced code path kept only for the benchmark.",
]


def run(bench: Bench, quick: bool) -> tuple[Row | None, str, str, str]:
    """(row or None, command, output, error) for one benchmark."""
    path = os.path.join(ROOT, "bench", bench.script)
    args = [*bench.args, *(["--quick"] if quick else [])]
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
        "Every figure below is reproduced by `python bench/run_all.py` (about 20 minutes), which "
        "runs each benchmark in bench/ as its own process and rewrites this page; the command "
        "of each one is given with its figure. CI runs `python bench/run_all.py --quick`: the "
        "same benchmarks in smoke mode, to keep them working (those figures are not "
        "comparable).",
        "",
        f"Machine: {where}  ",
        f"Date: {when}" + ("  \n**Smoke-mode figures (--quick): not comparable.**" if quick else ""),
        "",
        *NOTES,
        "",
        "| benchmark | machine | goal | figure | result |",
        "|---|---|---|---|---|",
    ]
    for bench, (row, _, _, error), load_seen in results:
        figure = row.figure if row else error
        status = row.status if row else "not run"
        machine_needed = "idle" if bench.idle else ("loaded" if bench.args else "any")
        lines.append(
            f"| [{bench.title}](#{bench.key}) | {machine_needed} (load {load_seen}) | {bench.goal} | "
            f"{figure} | {status} |"
        )
    for bench, (row, command, out, error), load_seen in results:
        lines += ["", f'<a id="{bench.key}"></a>', f"## {bench.title}", ""]
        lines += ["| | |", "|---|---|", f"| goal | {bench.goal} |"]
        if row is None:
            lines.append(f"| result | not run: {error} |")
        else:
            lines.append(f"| result | **{row.status}**: {row.figure} |")
            lines += [f"| {what} | {value} |" for what, value in row.detail]
        lines += [
            f"| command | `{command}` |",
            f"| machine | {where}; load average {load_seen} when it started |",
            f"| date | {when} |",
        ]
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
        extra = " ".join([*bench.args, *(["--quick"] if args.quick else [])])
        print(f"== {bench.title}: python bench/{bench.script} {extra}".rstrip(), flush=True)
        load_seen = load_now()
        row, command, out, error = run(bench, args.quick)
        results.append((bench, (row, command, out, error), load_seen))
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
