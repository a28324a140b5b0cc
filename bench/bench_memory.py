"""Memory and garbage-collection pauses over four hours of a ``sim:`` session.

Four hours in virtual time (every frame of the simulated chair's 10 Hz status, every
heartbeat and state, the physics: what a real-time session does, without the waits),
twice: a hold (``chair.set``, what a Home Assistant automation might leave running) and
a four-hour profile with ramps and step changes. Memory is Python's own allocations
(tracemalloc), sampled every hour after a minute of set-up; every automatic collection
is timed (gc.callbacks), and a full collection is forced and timed at every hour. As the
CLI's ``run`` and ``set`` do, set-up is frozen out of the collector's walk once connected
(``massager_ctl.api.freeze_setup``); the figure without it is printed for reference.

    python bench/bench_memory.py            # 4 hours each
    python bench/bench_memory.py --quick    # 20 minutes each: CI smoke run

Goals: at most 1 MiB of growth over the four hours; no collection pause of 5 ms or more.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_virtual import thirty_minute_profile  # noqa: E402
from benchlib import emit_json, header, load  # noqa: E402

from massager_ctl.api import connect, freeze_setup  # noqa: E402
from massager_ctl.profile import compile_profile, parse_profile  # noqa: E402
from massager_ctl.session.clock import run_virtual  # noqa: E402
from massager_ctl.session.limits import SafetyLimits  # noqa: E402

GOAL_GROWTH_MIB = 1.0
GOAL_PAUSE_MS = 5.0
LIMITS = SafetyLimits(max_session_s=4 * 3600, heat_auto_off_s=4 * 3600)


def long_profile(hours: float):
    """The 30-minute benchmark profile, end to end, for ``hours``."""
    one = thirty_minute_profile()
    head, _, body = one.partition("[[segment]]")
    segments = "[[segment]]" + body.split("[[airbag]]")[0]
    rest = "[[airbag]]" + body.split("[[airbag]]")[1]
    text = head + segments * round(hours * 2) + rest
    return compile_profile(parse_profile(text, "long.toml"))


class Pauses:
    def __init__(self) -> None:
        self.ms: list[float] = []
        self._t = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.ms.append((time.perf_counter() - self._t) * 1000)


async def session(kind: str, hours: float, samples: list, pauses: Pauses) -> tuple[str, tuple[float, int]]:
    async with connect("sim:", limits=LIMITS) as chair:
        gc.collect()
        t = time.perf_counter()
        gc.collect()
        unfrozen = ((time.perf_counter() - t) * 1000, len(gc.get_objects()))
        freeze_setup()  # what the CLI's run and set do once connected
        loop = asyncio.get_running_loop()
        if kind == "hold":
            await chair.set(
                technique="knead",
                zones=["shoulders", "upper_back"],
                intensity=40,
                heat="low",
                airbags={"calves": 50},
                duration=hours * 3600,
            )
            done = None
        else:
            done = loop.create_task(chair.run(long_profile(hours)))
        await asyncio.sleep(60)  # set-up done, the session settled
        gc.collect()
        tracemalloc.start(1)
        base = tracemalloc.get_traced_memory()[0]
        gc.callbacks.append(pauses)
        step = 3600 if hours >= 1 else hours * 3600 / 4
        elapsed = 60.0
        while elapsed + step <= hours * 3600 + 1e-6:
            await asyncio.sleep(step - (60 if elapsed == 60.0 else 0))
            elapsed += step - (60 if elapsed == 60.0 else 0)
            gc.callbacks.remove(pauses)
            t = time.perf_counter()
            gc.collect()
            full_ms = (time.perf_counter() - t) * 1000
            gc.callbacks.append(pauses)
            grown = (tracemalloc.get_traced_memory()[0] - base) / 2**20
            samples.append((elapsed, grown, full_ms, len(gc.get_objects())))
        gc.callbacks.remove(pauses)
        tracemalloc.stop()
        report = await (done if done is not None else chair.wait())
        return (report.reason if report is not None else "?"), unfrozen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 minutes each (CI smoke run)")
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    hours = 1 / 3 if args.quick else args.hours
    header()
    print(f"before: {load()}")
    record: dict = {}
    ok = True
    for kind in ("hold", "profile"):
        samples: list = []
        pauses = Pauses()
        wall = time.perf_counter()
        reason, unfrozen = run_virtual(session(kind, hours, samples, pauses))
        gc.unfreeze()  # the next session starts as this one did
        wall = time.perf_counter() - wall
        growth = max(g for _, g, _, _ in samples)
        worst_auto = max(pauses.ms, default=0.0)
        worst_full = max(f for _, _, f, _ in samples)
        passed = growth <= GOAL_GROWTH_MIB and worst_auto < GOAL_PAUSE_MS and worst_full < GOAL_PAUSE_MS
        ok = ok and passed
        what = "a hold (chair.set)" if kind == "hold" else "a profile with ramps and steps"
        print(f"{what}, {hours:g} h in virtual time ({wall:.1f} s of wall time): {reason}")
        print(
            f"  before set-up was frozen: a full collection {unfrozen[0]:.2f} ms over {unfrozen[1]} "
            "tracked objects (reference)"
        )
        for at, grown, full_ms, objects in samples:
            print(
                f"  at {at / 3600:5.2f} h: {grown:+.3f} MiB since the first minute; a forced full "
                f"collection {full_ms:.2f} ms over {objects} tracked objects"
            )
        print(
            f"  automatic collections: {len(pauses.ms)}, longest {worst_auto:.2f} ms; growth at most "
            f"{growth:+.3f} MiB (goal <= {GOAL_GROWTH_MIB:g} MiB, pauses < {GOAL_PAUSE_MS:g} ms): "
            f"{'PASS' if passed else 'FAIL'}"
        )
        record[kind] = {
            "growth_mib": growth,
            "auto_collections": len(pauses.ms),
            "auto_max_ms": worst_auto,
            "full_max_ms": worst_full,
            "objects": samples[-1][3],
            "unfrozen_full_ms": unfrozen[0],
            "reason": reason,
            "passed": passed,
        }
    print(f"after: {load()}")
    print(f"goal: {'PASS' if ok else 'FAIL'}")
    emit_json(args.json, bench="memory", hours=hours, passed=ok, **record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
