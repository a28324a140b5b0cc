"""``--time-scale``: does a profile play correctly at every speed-up the CLI accepts?

Runs ``massager-ctl run quick --time-scale X`` (the shipped 3-minute profile on the
built-in simulated chair) as a person would, for a range of X up to the CLI's maximum,
and judges each run from the simulated chair's own account (its final state and trace,
written through ``MASSAGER_CTL_SIM_TRACE``) and from the command's JSON report: it must
finish the profile, exit 0, confirm the stop, and the chair's deadman must never have
tripped (it trips when the host's frames come too late on the chair's clock). Wall time
is reported beside the requested one (3 minutes / X): on a computer that cannot keep
pace, a run may take longer than asked, but it must not play differently.

    python bench/bench_timescale.py            # X = 10, 50, 100, 500, 1000, 10000, max
    python bench/bench_timescale.py --quick    # X = 100, 10000

Goal: every run plays correctly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header, load  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE_S = 180.0  # profiles/quick.toml


def final_report(stdout: str) -> dict:
    """The command's ``end`` record: the session's report (docs/cli.md, JSON output)."""
    for line in reversed(stdout.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") == "end":
            return record
    raise ValueError("no end record in the output")


def play(scale: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.json")
        env = {**os.environ, "MASSAGER_CTL_SIM_TRACE": trace}
        argv = [sys.executable, "-m", "massager_ctl", "--json", "run", "quick", "--time-scale", scale]
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
        try:
            with open(trace, encoding="utf-8") as fh:
                sim = json.load(fh)
        except OSError:
            sim = {}
    try:
        report = final_report(done.stdout)
    except ValueError:
        report = {}
    ok = (
        done.returncode == 0
        and report.get("reason") == "finished"
        and report.get("stop_confirmed") is True
        and sim.get("deadman_trips") == 0
        and sim.get("target_stopped") is True
    )
    return {
        "scale": scale,
        "exit": done.returncode,
        "reason": report.get("reason", "?"),
        "stop_confirmed": report.get("stop_confirmed"),
        "deadman_trips": sim.get("deadman_trips"),
        "wall_s": wall,
        "asked_s": None if scale == "max" else PROFILE_S / float(scale),
        "ok": ok,
        "error": "" if ok else (done.stderr.strip().splitlines() or [""])[-1][:200],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two scales (CI smoke run)")
    ap.add_argument("--scales", help="comma-separated (default 10,50,100,500,1000,10000,max)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    scales = (args.scales or ("100,10000" if args.quick else "10,50,100,500,1000,10000,max")).split(",")
    header()
    print(f"before: {load()}")
    results = [play(s) for s in scales]
    for r in results:
        asked = "as fast as it goes" if r["asked_s"] is None else f"asked {r['asked_s']:.3f} s"
        print(
            f"--time-scale {r['scale']:>5}: {'ok ' if r['ok'] else 'BAD'} exit {r['exit']}, {r['reason']}, "
            f"stop confirmed {r['stop_confirmed']}, deadman trips {r['deadman_trips']}; wall "
            f"{r['wall_s']:.2f} s ({asked}, start-up included){'  ' + r['error'] if r['error'] else ''}"
        )
    passed = all(r["ok"] for r in results)
    print(f"after: {load()}")
    print(f"goal: every run plays the profile correctly: {'PASS' if passed else 'FAIL'}")
    emit_json(args.json, bench="timescale", runs=results, passed=passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
