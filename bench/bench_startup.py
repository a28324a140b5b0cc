"""CLI start-up: the read commands against a bare interpreter.

Each command is started as a fresh process, best of ``--runs`` wall times, against
``python -c pass``; the ratio is the cost massager-ctl adds to starting Python. Bytecode
is compiled first (an installed package has it; a first run writes it), and a private,
empty config is used.

* ``--help`` is printed from a pre-rendered text without importing click (cli/entry.py,
  cli/help_text.py); ``--version`` alone likewise;
* ``devices`` (a text rendered in advance) and ``profile list`` are answered without click
  (cli/fast.py);
* ``status`` on the simulated chair goes through click and asyncio.

    python bench/bench_startup.py            # best of 20
    python bench/bench_startup.py --quick    # best of 5: CI smoke run

Goals: ``--help`` within 4x a bare interpreter (issue 10); ``--version``, ``devices``,
``profile list`` and ``status`` on ``sim:`` each within 2.5x (issue 14).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header, load  # noqa: E402

GOAL_HELP = 4.0
GOAL_READ = 2.5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "devices": ["devices"],
    "profile list": ["profile", "list"],
    "status on sim:": ["--device", "sim:", "status"],
}


def best_of(argv: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="best of 5 (CI smoke run)")
    ap.add_argument("--runs", type=int, help="processes per command (default 20)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    runs = args.runs or (5 if args.quick else 20)
    header()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "COLUMNS")}
        env["MASSAGER_CTL_CONFIG"] = os.path.join(tmp, "config.toml")
        bare = best_of([sys.executable, "-c", "pass"], runs, env)
        times = {
            name: best_of([sys.executable, "-m", "massager_ctl", *a], runs, env)
            for name, a in COMMANDS.items()
        }
    print(f"best of {runs}: `python -c pass` {bare * 1000:.1f} ms")
    ratios = {}
    for name, t in times.items():
        goal = GOAL_HELP if name == "--help" else GOAL_READ
        ratios[name] = t / bare
        print(
            f"  `massager-ctl {name}`: {t * 1000:.1f} ms, {t / bare:.2f}x (goal <= {goal:g}x: "
            f"{'PASS' if t / bare <= goal else 'FAIL'})"
        )
    print(f"after: {load()}")
    passed = ratios["--help"] <= GOAL_HELP and all(r <= GOAL_READ for n, r in ratios.items() if n != "--help")
    print(f"goal: {'PASS' if passed else 'FAIL'}")
    emit_json(
        args.json,
        bench="startup",
        bare_ms=bare * 1000,
        commands={n: {"ms": t * 1000, "ratio": ratios[n]} for n, t in times.items()},
        runs=runs,
        goal_help=GOAL_HELP,
        goal_read=GOAL_READ,
        passed=passed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
