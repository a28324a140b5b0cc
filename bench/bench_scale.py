"""Scale: one process drives N simulated chairs at once, each playing a profile in real time.

Every chair is a full stack of its own (session, governor, writer, native driver, an
in-memory link, the simulated chair with its 10 Hz status and physics), all on one
event loop on the monotonic clock. Each plays the stepping plan of
bench/bench_realtime.py (a roller step every second, airbag and heat tracks), starting a
little apart as real hosts would. For every step boundary of every chair it takes the
error at the chair (how late that chair decoded the SET carrying the step) and on the
host (how late the session woke), and it times every garbage collection of the run.

The simulators' own logs are the chairs' memory, not the host's: for the measurement
each keeps only the time of every SET it decoded (plain floats), and next to nothing
else. Three runs: 32 chairs; 256 chairs with the garbage collector as it is; 256 chairs
with ``massager_ctl.api.freeze_setup()`` (``gc.freeze()``) after set-up (what a host
driving many chairs does: what set-up built lives as long as the chairs, and the
collector stops walking it).

    python bench/bench_scale.py                          # the three runs, 60 s each
    python bench/bench_scale.py --chairs 128 --tune-gc   # one run
    python bench/bench_scale.py --quick                  # 4 and 8 chairs, 5 s: CI smoke run

Goal (idle 2-core machine): p99 of the step-boundary error at the chair, across all
chairs, <= 5 ms, and no garbage-collection pause of 5 ms or more: for 32 chairs, and for
256 with collection tuned after set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections import deque
from contextlib import AsyncExitStack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_realtime import stepping_plan  # noqa: E402
from benchlib import SetTimes, at_chair_errors, emit_json, header, load, percentile, summary  # noqa: E402

from massager_ctl.api import connect, freeze_setup  # noqa: E402
from massager_ctl.core.recent import RecentLog  # noqa: E402
from massager_ctl.session.clock import RealClock  # noqa: E402

GOAL_P99_MS = 5.0
GOAL_GC_MS = 5.0


class GcTimer:
    """Times every collection the interpreter makes (gc.callbacks)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._t = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t))

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def drive(chairs: int, seconds: int, model: str, stagger_s: float, tune_gc: bool):
    loop = asyncio.get_running_loop()
    lag: list[float] = []

    async def watch_loop_lag():  # how late the loop itself wakes (the floor under every figure)
        while True:
            t = loop.time()
            await asyncio.sleep(0.05)
            lag.append(loop.time() - t - 0.05)

    async with AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(connect(f"sim:{model}")) for _ in range(chairs)]
        for c in opened:
            # The simulators' logs are the chairs' own memory, not the host's: keep only
            # what is measured (every SET's time, as plain floats) and next to nothing else.
            sim = c.simulator
            sim.received = SetTimes()
            sim.sent = deque(maxlen=1)
            sim.physics.trace = RecentLog(1)
            c._opened.link.host.writes = RecentLog(1)
        if tune_gc:
            freeze_setup()  # set-up is done: what it built lives as long as the chairs
        plan = stepping_plan(seconds)

        async def play(i, chair):
            await asyncio.sleep(i * stagger_s)
            return await chair.run(plan)

        watcher = loop.create_task(watch_loop_lag())
        with GcTimer() as gc_timer:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            reports = await asyncio.gather(*(play(i, c) for i, c in enumerate(opened)))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        watcher.cancel()
        stopped = [c.simulator.physics.target.is_stopped for c in opened]
        sets = [list(c.simulator.received) for c in opened]
    if tune_gc:
        gc.unfreeze()
    at_chair = []
    for report, times in zip(reports, sets, strict=True):
        errors, _ = at_chair_errors(report.started_at, plan.boundaries_ms(), plan.duration_ms, times)
        at_chair.append(errors)
    return reports, at_chair, cpu, wall, lag, stopped, gc_timer.pauses


def run_size(chairs: int, seconds: int, model: str, tune_gc: bool) -> dict:
    stagger = 1.0 / chairs  # chairs start spread over the first second
    reports, at_chair, cpu, wall, lag, stopped, pauses = RealClock().run(
        drive(chairs, seconds, model, stagger, tune_gc)
    )
    chair_ms = [e for errors in at_chair for e in errors]
    host_ms = [e * 1000 for r in reports for e in r.boundary_errors_s]
    per_chair_p99 = [percentile(errors, 0.99) for errors in at_chair if errors]
    lag_ms = [x * 1000 for x in lag] or [0.0]
    finished = sum(r.reason == "finished" and r.stop_confirmed for r in reports)
    gc_ms = [p * 1000 for _, p in pauses]
    full = [p * 1000 for g, p in pauses if g == 2]
    p99 = percentile(chair_ms, 0.99)
    worst_gc = max(gc_ms, default=0.0)
    passed = p99 <= GOAL_P99_MS and finished == chairs and worst_gc < GOAL_GC_MS
    print(
        f"{chairs} x {model} in one process, each playing {seconds} s in real time "
        f"(started {stagger * 1000:.1f} ms apart): {finished}/{chairs} finished with the stop "
        f"confirmed, {sum(stopped)}/{chairs} simulators stopped; wall {wall:.1f} s"
    )
    print(f"  at the chair (the SET decoded), {len(chair_ms)} boundaries: {summary(chair_ms)}")
    print(f"  on the host (the session woke):  {summary(host_ms)}")
    print(
        f"  worst chair's p99 at the chair {max(per_chair_p99):.3f} ms, median chair's "
        f"{statistics.median(per_chair_p99):.3f} ms"
    )
    print(f"  event-loop wake-up lag: {summary(lag_ms)}")
    by_gen = [[p * 1000 for g, p in pauses if g == gen] for gen in (0, 1, 2)]
    print(
        f"  garbage collections during the run: {len(gc_ms)}, longest pause {worst_gc:.2f} ms; "
        + ", ".join(
            f"generation {gen}: {len(ms)}, longest {max(ms, default=0.0):.2f} ms"
            for gen, ms in enumerate(by_gen)
        )
    )
    print(
        f"  CPU: {cpu:.1f} s of {wall:.1f} s = {100 * cpu / wall:.0f} % of one core "
        f"({100 * cpu / wall / chairs:.2f} % per chair)"
    )
    print(
        f"  goal p99 at the chair <= {GOAL_P99_MS:g} ms, GC pauses < {GOAL_GC_MS:g} ms: "
        f"{'PASS' if passed else 'FAIL'}"
    )
    return {
        "chairs": chairs,
        "seconds": seconds,
        "boundaries": len(chair_ms),
        "p50_ms": percentile(chair_ms, 0.5),
        "p99_ms": p99,
        "max_ms": max(chair_ms),
        "host_p99_ms": percentile(host_ms, 0.99),
        "worst_chair_p99_ms": max(per_chair_p99),
        "gc_collections": len(gc_ms),
        "gc_full": len(full),
        "gc_max_ms": worst_gc,
        "cpu_percent": 100 * cpu / wall,
        "finished": finished,
        "passed": passed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 chairs for 5 s (CI smoke run)")
    ap.add_argument("--chairs", type=int, help="one run of this many chairs (default: the three runs)")
    ap.add_argument("--seconds", type=int, help="plan length per chair (default 60)")
    ap.add_argument("--model", default="sim-chair", help="simulated model (default sim-chair)")
    ap.add_argument("--tune-gc", action="store_true", help="with --chairs: gc.freeze() after set-up")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    if args.chairs:
        runs = [(args.chairs, args.tune_gc)]
    elif args.quick:
        runs = [(4, False), (8, True)]
    else:  # 32 as they are; 256 as they are (why the tuning); 256 tuned after set-up
        runs = [(32, False), (256, False), (256, True)]
    seconds = args.seconds or (5 if args.quick else 60)
    header()
    print(f"before: {load()}")
    results = []
    for chairs, tune in runs:
        print(
            f"-- {chairs} chairs, " + ("gc.freeze() after set-up" if tune else "garbage collector as it is")
        )
        results.append({**run_size(chairs, seconds, args.model, tune), "tuned_gc": tune})
    print(f"after: {load()}")
    # The goal: 32 chairs as they are, and 256 with collection tuned after set-up (a
    # many-chair host does that); 256 untuned is reported to show why.
    judged = [r for r in results if r["chairs"] <= 32 or r["tuned_gc"]] or results
    passed = all(r["passed"] for r in judged)
    print(
        "goal: p99 at the chair <= 5 ms and GC pauses < 5 ms, for 32 chairs and for 256 "
        f"(collection tuned after set-up): {'PASS' if passed else 'FAIL'}"
    )
    emit_json(
        args.json, bench="scale", runs=results, goal_p99_ms=GOAL_P99_MS, goal_gc_ms=GOAL_GC_MS, passed=passed
    )
    return 0 if all(r["finished"] == r["chairs"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
