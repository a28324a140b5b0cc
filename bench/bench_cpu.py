"""CPU used by the host while a real-time session plays.

The host (session, governor, mapping, writer, native driver, serial transport) runs in
this process; the simulated chair runs in another one (``massager-ctl simulate
sim-chair`` on a pty), as a real chair has its own processor. The shipped profile
``quick`` plays in real time for ``--seconds``; the CPU time of this process (every
thread: the event loop, and the transport's write executor when a write has to wait)
over the wall time is the figure.
For reference it also plays the same with the simulator in-process (``sim:``), where
the simulator's 10 Hz status encoding and physics are counted too.

    python bench/bench_cpu.py            # 60 s each
    python bench/bench_cpu.py --quick    # 5 s each: CI smoke run

Goal: the host alone uses at most 1 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header  # noqa: E402

from massager_ctl.api import connect  # noqa: E402
from massager_ctl.profile import load_plan  # noqa: E402
from massager_ctl.session.clock import RealClock  # noqa: E402

GOAL_PERCENT = 1.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def play(uri: str, seconds: float) -> tuple[float, float, str]:
    plan = load_plan(os.path.join(ROOT, "profiles", "quick.toml"))
    async with connect(uri) as chair:
        loop = asyncio.get_running_loop()
        task = loop.create_task(chair.run(plan))
        await asyncio.sleep(0.5)  # connected and playing; measure from here
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        chair.session.stop()
        report = await task
    return cpu, wall, report.reason


def host_only(seconds: float) -> tuple[float, float, str]:
    sim = subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", "--json", "simulate", "sim-chair"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = json.loads(sim.stdout.readline())["port"]
        return RealClock().run(play(f"serial:{port}?model=sim-chair", seconds))
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s each (CI smoke run)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds
    cpu, wall, reason = host_only(seconds)
    host = 100 * cpu / wall
    cpu_in, wall_in, _ = RealClock().run(play("sim:", seconds))
    both = 100 * cpu_in / wall_in
    header()
    print(
        f"host only (simulated chair in another process, over a pty), profile quick, "
        f"{wall:.1f} s of real time: CPU {cpu:.3f} s = {host:.2f} % of one core "
        f"(goal <= {GOAL_PERCENT:g} %: {'PASS' if host <= GOAL_PERCENT else 'FAIL'}); {reason}"
    )
    print(
        f"host + simulator in one process (sim:): CPU {cpu_in:.3f} s of {wall_in:.1f} s = "
        f"{both:.2f} % of one core"
    )
    emit_json(
        args.json,
        bench="cpu",
        host_percent=host,
        inprocess_percent=both,
        seconds=seconds,
        goal_percent=GOAL_PERCENT,
        passed=host <= GOAL_PERCENT,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
