"""Step-boundary timing in real time: a profile played against the simulated chair.

Plays a plan whose roller track changes every second (plus airbag and heat
tracks on their own timelines) in REAL time on the monotonic clock, through
the whole control path (governor, mapping, writer, native driver, simulator
over the in-memory link), and reports how late each step boundary was acted
on: p50 / p99 / max, and whether the error grows over the run (first tenth
vs last tenth, and a least-squares slope).

    python bench/bench_realtime.py            # 75 s run (the figure in docs/benchmarks.md)
    python bench/bench_realtime.py --quick    # 5 s smoke run for CI
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

from massager_ctl.api import connect
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import RealClock


def stepping_plan(seconds: int) -> Plan:
    techniques = [Technique.KNEAD, Technique.TAP, Technique.ROLL, Technique.SHIATSU]
    zones = [Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK, Zone.LOWER_BACK]
    roller = tuple(
        RollerStep(
            i * 1000,
            1000,
            f"s{i}",
            f"segment {i + 1}",
            techniques[i % 4],
            frozenset({zones[i % 4]}),
            Level.constant(20 + (i % 5) * 10),
            Level.constant(50),
        )
        for i in range(seconds)
    )
    airbag = tuple(
        AirbagStep(
            i * 2500,
            2500,
            f"a{i}",
            f"airbag {i + 1}",
            zones=frozenset({Zone.CALVES}),
            pressure=Level.constant(40 if i % 2 else 0),
        )
        for i in range(seconds * 1000 // 2500)
    )
    heat = (HeatStep(0, seconds * 1000, "warm", "heat 1", Heat.LOW),)
    return Plan(name=f"stepping {seconds}s", roller=roller, airbag=airbag, heat=heat)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


async def play(seconds: int):
    async with connect("sim:") as chair:
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        report = await chair.run(stepping_plan(seconds))
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
    return report, cpu, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s smoke run")
    ap.add_argument("--seconds", type=int, default=75)
    args = ap.parse_args(argv)
    seconds = 5 if args.quick else args.seconds
    report, cpu, wall = RealClock().run(play(seconds))
    errors_ms = [e * 1000 for e in report.boundary_errors_s]
    n = len(errors_ms)
    tenth = max(1, n // 10)
    first, last = errors_ms[:tenth], errors_ms[-tenth:]
    cmd = "python bench/bench_realtime.py" + (" --quick" if args.quick else "")
    print(f"command: {cmd}")
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    print(f"played {seconds} s in real time: {report.reason}, {n} step boundaries, wall {wall:.2f} s")
    print(
        f"step-boundary error: p50 {percentile(errors_ms, 0.5):.3f} ms, "
        f"p99 {percentile(errors_ms, 0.99):.3f} ms, max {max(errors_ms):.3f} ms"
    )
    trend_us = slope(list(range(n)), errors_ms) * 1000
    print(
        f"growth: first tenth p50 {statistics.median(first):.3f} ms, last tenth p50 "
        f"{statistics.median(last):.3f} ms, slope {trend_us:.4f} us/boundary"
    )
    print(f"CPU used while playing: {cpu:.2f} s of {wall:.2f} s = {100 * cpu / wall:.1f} % of one core")
    return 0 if report.stop_confirmed else 1


if __name__ == "__main__":
    sys.exit(main())
