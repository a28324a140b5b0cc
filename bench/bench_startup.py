"""CLI start-up: `massager-ctl --help` against a bare interpreter.

Each is started as a fresh process (``python -c pass``, ``python -m massager_ctl --help``),
best of ``--runs`` wall times; the ratio is the cost massager-ctl adds to starting Python.
The top-level `--help` is printed from a pre-rendered text without importing click
(cli/entry.py, cli/help_text.py). As a reference, with no goal, it also times
``python -m massager_ctl --version``, which goes through click like every other command
(click's import is most of it; subcommands are imported lazily, cli/main.py).

    python bench/bench_startup.py            # best of 20
    python bench/bench_startup.py --quick    # best of 5: CI smoke run

Goal: `massager-ctl --help` within 4x a bare interpreter (`--version`: no goal).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header  # noqa: E402

GOAL_RATIO = 4.0


def best_of(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="best of 5 (CI smoke run)")
    ap.add_argument("--runs", type=int, help="processes per command (default 20)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    runs = args.runs or (5 if args.quick else 20)
    bare = best_of([sys.executable, "-c", "pass"], runs)
    cli = best_of([sys.executable, "-m", "massager_ctl", "--help"], runs)
    version = best_of([sys.executable, "-m", "massager_ctl", "--version"], runs)
    ratio = cli / bare
    version_ratio = version / bare
    header()
    print(
        f"best of {runs}: `python -c pass` {bare * 1000:.1f} ms, "
        f"`python -m massager_ctl --help` {cli * 1000:.1f} ms (pre-rendered, no click import)"
    )
    print(f"ratio {ratio:.2f}x (goal <= {GOAL_RATIO:g}x: {'PASS' if ratio <= GOAL_RATIO else 'FAIL'})")
    print(
        f"reference, no goal: `python -m massager_ctl --version` (through click) "
        f"{version * 1000:.1f} ms, {version_ratio:.2f}x"
    )
    emit_json(
        args.json,
        bench="startup",
        bare_ms=bare * 1000,
        cli_ms=cli * 1000,
        ratio=ratio,
        version_ms=version * 1000,
        version_ratio=version_ratio,
        runs=runs,
        goal_ratio=GOAL_RATIO,
        passed=ratio <= GOAL_RATIO,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
