"""A 30-minute profile in virtual time: how long the whole stack takes to play it.

Virtual time (``run_virtual``) jumps from one deadline to the next, so what is measured
is pure work: the session's ticks, the governor, the mapping, the writer, the native
driver's frames, and the simulated chair (status at 10 Hz, physics) - every byte on the
in-memory link encoded and decoded. Tests and ``--dry-run`` / ``--time-scale max`` run
this way.

Two profiles: a generated 30-minute one shaped like the shipped ones (segments of 1-3
minutes, ramps, six techniques, airbag cycles, heat), and the longest shipped profile
(profiles/relaxation.toml, 22 minutes) for reference. Best of ``--runs``; wall and CPU.
In process (the session alone: connect, play, stop), and through the CLI as a person
types it (``massager-ctl run FILE --time-scale max``: start-up, reading and compiling
the profile, the session, the report), each command a fresh process with its bytecode
compiled (as an installed package has it).

    python bench/bench_virtual.py            # 5 runs each
    python bench/bench_virtual.py --quick    # 1 run each: CI smoke run

Goal: the 30-minute profile in at most 0.25 s of wall time in process, and 0.5 s through
the CLI.
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

from massager_ctl.api import connect  # noqa: E402
from massager_ctl.profile import compile_profile, load_profile, parse_profile  # noqa: E402
from massager_ctl.session.clock import run_virtual  # noqa: E402
from massager_ctl.session.limits import SafetyLimits  # noqa: E402

GOAL_S = 0.25
GOAL_CLI_S = 0.5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TECHNIQUES = ("roll", "knead", "shiatsu", "tap", "knock", "knead")
ZONES = (
    ("upper_back", "mid_back", "lower_back"),
    ("shoulders", "upper_back"),
    ("mid_back", "lower_back"),
    ("neck", "shoulders"),
    ("lower_back",),
    ("upper_back",),
)
CURVES = ("linear", "ease-in", "ease-out", "ease-in-out")


def thirty_minute_profile() -> str:
    """Fifteen segments (1m30s to 2m30s, every fifth a rest) adding up to exactly 30 minutes."""
    lengths = [90, 120, 150] * 5  # seconds: 15 segments, 1800 s
    out = [
        "format = 1",
        'name = "Thirty minutes"',
        'description = "benchmark profile"',
        'benefit = "relaxation"',
        "",
        "[defaults]",
        "speed = 40",
        "",
    ]
    for i, seconds in enumerate(lengths):
        out += ["[[segment]]", f'name = "segment {i + 1}"', f'duration = "{seconds}s"']
        if i % 5 == 4:
            out += ["rest = true", ""]
            continue
        zones = ", ".join(f'"{z}"' for z in ZONES[i % len(ZONES)])
        out += [f'technique = "{TECHNIQUES[i % len(TECHNIQUES)]}"', f"zones = [{zones}]"]
        if i % 2:
            out.append(f'intensity = {{ from = {20 + i}, to = {45 + i}, curve = "{CURVES[i % 4]}" }}')
        else:
            out.append(f"intensity = {35 + i}")
        out.append("")
    out += [
        "[[airbag]]",
        'name = "leg cycles"',
        "repeat = 36",
        "  [[airbag.steps]]",
        '  duration = "30s"',
        '  zones = ["calves", "feet"]',
        '  pressure = { from = 30, to = 60, curve = "ease-in-out" }',
        "  [[airbag.steps]]",
        '  duration = "20s"',
        "  zones = []",
        "",
        "[[heat]]",
        'duration = "15m"',
        'level = "low"',
        "",
        "[[heat]]",
        'duration = "5m"',
        'level = "high"',
        "",
    ]
    return "\n".join(out)


async def play(plan):
    limits = SafetyLimits(max_session_s=3600)  # the cap is not what is measured here
    async with connect("sim:", limits=limits) as chair:
        report = await chair.run(plan)
        return report, chair.simulator


def measure(plan, runs: int) -> tuple[float, float, object, object]:
    best_wall = best_cpu = float("inf")
    report = sim = None
    for _ in range(runs):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report, sim = run_virtual(play(plan))
        best_wall = min(best_wall, time.perf_counter() - wall0)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
    return best_wall, best_cpu, report, sim


def through_cli(text: str, runs: int) -> tuple[float, int]:
    """Best wall time of ``massager-ctl run FILE --time-scale max`` (exit code of the last)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "thirty-minutes.toml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        argv = [sys.executable, "-m", "massager_ctl", "run", path, "--time-scale", "max"]
        env["MASSAGER_CTL_CONFIG"] = os.path.join(tmp, "config.toml")
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)  # bytecode written
        best, code = float("inf"), 0
        for _ in range(runs):
            t0 = time.perf_counter()
            code = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True).returncode
            best = min(best, time.perf_counter() - t0)
    return best, code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run each (CI smoke run)")
    ap.add_argument("--runs", type=int, help="runs per profile, best reported (default 5)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)

    text = thirty_minute_profile()
    thirty = compile_profile(parse_profile(text, "thirty-minutes.toml"))
    relax = compile_profile(load_profile(os.path.join(ROOT, "profiles", "relaxation.toml")))
    header()
    print(f"before: {load()}")
    results = {}
    for key, plan in (("thirty", thirty), ("relaxation", relax)):
        wall, cpu, report, sim = measure(plan, runs)
        minutes = plan.duration_ms / 60_000
        frames = sim.sent_count + sim.received.total
        ok = report.reason == "finished" and report.stop_confirmed
        results[key] = (wall, cpu, minutes, ok)
        print(
            f"{plan.name} ({minutes:g} min, {plan.step_count} steps): best of {runs}: wall "
            f"{wall:.3f} s, CPU {cpu:.3f} s; {frames} frames on the link; {report.reason}"
            f"{'' if ok else ' (NOT confirmed)'}"
        )
    cli_s, cli_code = through_cli(text, runs)
    print(
        f"through the CLI, `massager-ctl run thirty-minutes.toml --time-scale max`, best of {runs}: "
        f"{cli_s:.3f} s wall (exit {cli_code})"
    )
    print(f"after: {load()}")
    wall30 = results["thirty"][0]
    passed = wall30 <= GOAL_S and cli_s <= GOAL_CLI_S and cli_code == 0
    print(
        f"30-minute profile in virtual time: {wall30:.3f} s in process (goal <= {GOAL_S:g} s), "
        f"{cli_s:.3f} s through the CLI (goal <= {GOAL_CLI_S:g} s): {'PASS' if passed else 'FAIL'}"
    )
    emit_json(
        args.json,
        bench="virtual",
        thirty_wall_s=wall30,
        thirty_cpu_s=results["thirty"][1],
        relaxation_wall_s=results["relaxation"][0],
        relaxation_minutes=results["relaxation"][2],
        cli_wall_s=cli_s,
        cli_exit=cli_code,
        runs=runs,
        goal_s=GOAL_S,
        goal_cli_s=GOAL_CLI_S,
        passed=passed,
    )
    return 0 if all(ok for *_, ok in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
