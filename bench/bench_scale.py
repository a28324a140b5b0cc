"""Scale: one process drives N simulated chairs at once, each playing a profile in real time.

Every chair is a full stack of its own (session, governor, writer, native driver, an
in-memory link, the simulated chair with its 10 Hz status and physics), all on one
event loop on the monotonic clock. Each plays the stepping plan of
bench/bench_realtime.py (a roller step every second, airbag and heat tracks), starting a
little apart as real hosts would; the step-boundary error (how late each boundary was
acted on) is gathered across all of them.

    python bench/bench_scale.py              # 32 chairs, 60 s each (the figure in docs/benchmarks.md)
    python bench/bench_scale.py --quick      # 4 chairs, 5 s: CI smoke run

Goal: p99 of the step-boundary error across all chairs <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import AsyncExitStack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_realtime import stepping_plan  # noqa: E402
from benchlib import emit_json, header, percentile  # noqa: E402

from massager_ctl.api import connect  # noqa: E402
from massager_ctl.session.clock import RealClock  # noqa: E402

GOAL_P99_MS = 5.0


async def drive(chairs: int, seconds: int, model: str, stagger_s: float):
    loop = asyncio.get_running_loop()
    lag: list[float] = []

    async def watch_loop_lag():  # how late the loop itself wakes (the floor under every figure)
        while True:
            t = loop.time()
            await asyncio.sleep(0.05)
            lag.append(loop.time() - t - 0.05)

    async with AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(connect(f"sim:{model}")) for _ in range(chairs)]

        async def play(i, chair):
            await asyncio.sleep(i * stagger_s)
            return await chair.run(stepping_plan(seconds))

        watcher = loop.create_task(watch_loop_lag())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        reports = await asyncio.gather(*(play(i, c) for i, c in enumerate(opened)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        watcher.cancel()
        stopped = [c.simulator.physics.target.is_stopped for c in opened]
    return reports, cpu, wall, lag, stopped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 chairs for 5 s (CI smoke run)")
    ap.add_argument("--chairs", type=int, help="how many chairs (default 32)")
    ap.add_argument("--seconds", type=int, help="plan length per chair (default 60)")
    ap.add_argument("--model", default="sim-chair", help="simulated model (default sim-chair)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    chairs = args.chairs or (4 if args.quick else 32)
    seconds = args.seconds or (5 if args.quick else 60)
    stagger = 1.0 / chairs  # chairs start spread over the first second

    reports, cpu, wall, lag, stopped = RealClock().run(drive(chairs, seconds, args.model, stagger))
    errors = [e * 1000 for r in reports for e in r.boundary_errors_s]
    per_chair_p99 = [percentile([e * 1000 for e in r.boundary_errors_s], 0.99) for r in reports]
    lag_ms = [x * 1000 for x in lag] or [0.0]
    p50, p99, worst = percentile(errors, 0.5), percentile(errors, 0.99), max(errors)
    finished = sum(r.reason == "finished" and r.stop_confirmed for r in reports)

    header()
    print(
        f"{chairs} x {args.model} in one process, each playing {seconds} s in real time "
        f"(started {stagger * 1000:.0f} ms apart): {finished}/{chairs} finished with the stop "
        f"confirmed, {sum(stopped)}/{chairs} simulators stopped; wall {wall:.1f} s"
    )
    print(
        f"step-boundary error over {len(errors)} boundaries: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {worst:.3f} ms  (goal p99 <= {GOAL_P99_MS:g} ms: "
        f"{'PASS' if p99 <= GOAL_P99_MS else 'FAIL'})"
    )
    print(
        f"worst chair's p99 {max(per_chair_p99):.3f} ms, median chair's p99 "
        f"{statistics.median(per_chair_p99):.3f} ms"
    )
    print(
        f"event-loop wake-up lag: p50 {percentile(lag_ms, 0.5):.3f} ms, p99 "
        f"{percentile(lag_ms, 0.99):.3f} ms, max {max(lag_ms):.3f} ms"
    )
    print(
        f"CPU: {cpu:.1f} s of {wall:.1f} s = {100 * cpu / wall:.0f} % of one core "
        f"({100 * cpu / wall / chairs:.2f} % per chair)"
    )
    emit_json(
        args.json,
        bench="scale",
        chairs=chairs,
        seconds=seconds,
        boundaries=len(errors),
        p50_ms=p50,
        p99_ms=p99,
        max_ms=worst,
        worst_chair_p99_ms=max(per_chair_p99),
        cpu_percent=100 * cpu / wall,
        finished=finished,
        goal_p99_ms=GOAL_P99_MS,
        passed=p99 <= GOAL_P99_MS and finished == chairs,
    )
    return 0 if finished == chairs and all(stopped) else 1


if __name__ == "__main__":
    sys.exit(main())
