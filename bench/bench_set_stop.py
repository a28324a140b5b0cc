"""`set` on a playing hold and `stop`, from the call to the chair: over a pty and over BLE.

A script (or Home Assistant) holds a state with ``chair.set(...)`` and changes it now and
then; it ends with ``chair.stop()``. This measures, in real time:

* ``set`` on a playing hold: from the call to the moment the chair decoded the SET that
  carries the change (here: a new technique; a change of intensity would climb under the
  slew limit), and when the call returned (the device's ACK). The hold is steady (its
  ramp done) and changes come every 100 to 200 ms (a slider being dragged), so neither a
  keepalive nor a ramp step is written just before one: a change that comes within one
  write gap of the previous frame waits for the rest of it (docs/benchmarks.md);
* ``stop`` during a hold: from the call to its return (on the chair's ACK: its outputs
  are off), to the moment the chair decoded the STOP, and how many STOP frames it got;

with the chair in this process on a pty, in another process on a pty (bench/chair_process.py;
the monotonic clock is one clock for both processes), and over simulated BLE (the
``native-nus`` model on the simulated radio, 7.5 ms each way: one connection interval).

    python bench/bench_set_stop.py            # 200 sets and 60 stops per link
    python bench/bench_set_stop.py --quick    # 20 and 6: CI smoke run

Goals (idle 2-core machine): over a pty, set p99 <= 5 ms call -> new state at the chair,
stop p99 <= 5 ms call -> return, one STOP each; over BLE, set p99 <= 2 connection intervals.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header, load, percentile, summary  # noqa: E402

from massager_ctl.api import connect  # noqa: E402
from massager_ctl.core.recent import RecentLog  # noqa: E402
from massager_ctl.devices.native.codec import SetState  # noqa: E402
from massager_ctl.session.clock import RealClock  # noqa: E402

GOAL_PTY_MS = 5.0
BLE_INTERVAL_MS = 7.5  # the simulated radio's latency, each way (sim/ble_backend.py)
GOAL_BLE_INTERVALS = 2
TECHNIQUES = ("knead", "tap")


class Frames:
    """When the chair decoded what: from the in-process simulator or the other process."""

    def __init__(self, sim=None, process=None) -> None:
        self.sim, self.process = sim, process
        if sim is not None:
            sim.received = RecentLog(10**6)

    def collect(self) -> list[tuple[float, str, str | None]]:
        if self.process is not None:
            return self.process.finish()
        out = []
        for t, m in self.sim.received:
            technique = m.state.technique.value if isinstance(m, SetState) and m.state.technique else None
            out.append((t, type(m).__name__, technique))
        return out


async def drive(uri: str, sets: int, stops: int, simulate_ble: bool = False, sim_on_pty: bool = False):
    """Returns (set calls, stop calls, the chair's frames); each call (t0, returned, what)."""
    loop = asyncio.get_running_loop()
    pty = process = None
    if sim_on_pty:
        from massager_ctl.cli.simulate_cmds import serve_on_pty
        from massager_ctl.devices.registry import MODELS

        pty, sim = await serve_on_pty(MODELS["sim-chair"])
        uri = f"serial:{pty.path}?model=sim-chair"
    elif uri.startswith("process:"):
        from chair_process import ChairProcess

        process = ChairProcess("sim-chair")
        uri = process.uri
    set_calls, stop_calls = [], []
    try:
        async with connect(uri, simulate_ble=simulate_ble) as chair:
            if sim_on_pty:
                frames = Frames(sim=sim)
            elif process is not None:
                frames = Frames(process=process)
            else:
                frames = Frames(sim=chair.simulator)
            rng = random.Random(14)
            await chair.set(technique="knead", zones=["shoulders"], intensity=40, speed=50)
            await asyncio.sleep(2.5)  # ramped up (25 %/s): the hold is steady
            await chair.set(technique="knead", speed=60)  # from here on, changes keep coming
            for i in range(sets):
                await asyncio.sleep(rng.uniform(0.1, 0.2))
                technique = TECHNIQUES[(i + 1) % 2]
                t0 = loop.time()
                await chair.set(technique=technique)
                set_calls.append((t0, loop.time(), technique))
            for _ in range(stops):
                await chair.set(technique="knead", zones=["shoulders"], intensity=40, speed=50)
                await asyncio.sleep(rng.uniform(0.25, 0.4))
                t0 = loop.time()
                status = await chair.stop()
                stop_calls.append((t0, loop.time(), "acknowledged" in status.extra))
                await asyncio.sleep(0.15)  # the confirmation comes; the next hold starts afresh
        found = frames.collect()
    finally:
        if sim_on_pty:
            await sim.close()
            pty.unplug()
        elif process is not None and process.proc.poll() is None:
            process.proc.kill()
    return set_calls, stop_calls, found


def judge(set_calls, stop_calls, frames):
    sets = [(t, tech) for t, kind, tech in frames if kind == "SetState"]
    stops = [t for t, kind, _ in frames if kind == "Stop"]
    at_chair, returned = [], []
    for t0, back, technique in set_calls:
        heard = next((t for t, tech in sets if t >= t0 - 1e-6 and tech == technique), None)
        if heard is not None:
            at_chair.append((heard - t0) * 1000)
        returned.append((back - t0) * 1000)
    stop_return, stop_chair, stop_frames = [], [], []
    for t0, back, _acked in stop_calls:
        stop_return.append((back - t0) * 1000)
        mine = [t for t in stops if t0 - 1e-6 <= t < t0 + 0.15]  # before the next hold starts
        stop_frames.append(len(mine))
        if mine:
            stop_chair.append((mine[0] - t0) * 1000)
    return {
        "set_chair": at_chair,
        "set_return": returned,
        "set_missed": len(set_calls) - len(at_chair),
        "stop_return": stop_return,
        "stop_chair": stop_chair,
        "stop_frames_max": max(stop_frames, default=0),
        "stop_acknowledged": sum(1 for *_, a in stop_calls if a),
        "stops": len(stop_calls),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 sets and 6 stops per link (CI smoke run)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    sets, stops = (20, 6) if args.quick else (200, 60)
    header()
    print(f"before: {load()}")
    links = {
        "pty, chair in this process": ("", False, True),
        "pty, chair in another process": ("process:", False, False),
        "BLE (simulated radio, native-nus)": ("ble:MCTL-NUS", True, False),
    }
    record: dict = {}
    ok = True
    for title, (uri, ble, on_pty) in links.items():
        calls = RealClock().run(drive(uri, sets, stops, simulate_ble=ble, sim_on_pty=on_pty))
        r = judge(*calls)
        key = "ble" if ble else ("pty" if on_pty else "pty_process")
        set_p99 = percentile(r["set_chair"], 0.99) if r["set_chair"] else float("inf")
        stop_p99 = percentile(r["stop_return"], 0.99)
        if ble:
            passed = set_p99 <= GOAL_BLE_INTERVALS * BLE_INTERVAL_MS and r["set_missed"] == 0
        else:
            passed = (
                set_p99 <= GOAL_PTY_MS
                and stop_p99 <= GOAL_PTY_MS
                and r["stop_frames_max"] == 1
                and r["set_missed"] == 0
            )
        ok = ok and passed
        print(f"{title}:")
        print(
            f"  set on a playing hold, call -> new state at the chair: {summary(r['set_chair'])} "
            f"({sets} sets)"
        )
        print(f"  set, call -> return (the device's ACK):                {summary(r['set_return'])}")
        print(
            f"  stop, call -> return (its ACK):                        {summary(r['stop_return'])} "
            f"({stops} stops)"
        )
        print(f"  stop, call -> STOP decoded at the chair:               {summary(r['stop_chair'])}")
        print(
            f"  STOP frames per stop: at most {r['stop_frames_max']}; returned on the ACK: "
            f"{r['stop_acknowledged']}/{r['stops']}; sets never seen at the chair: {r['set_missed']}"
        )
        if ble:
            print(
                f"  set p99 at the chair in connection intervals ({BLE_INTERVAL_MS:g} ms): "
                f"{set_p99 / BLE_INTERVAL_MS:.2f} (goal <= {GOAL_BLE_INTERVALS}): "
                f"{'PASS' if passed else 'FAIL'}"
            )
        else:
            print(
                f"  goal set p99 and stop p99 <= {GOAL_PTY_MS:g} ms, one STOP: {'PASS' if passed else 'FAIL'}"
            )
        record[key] = {
            "set_chair_p50_ms": percentile(r["set_chair"], 0.5) if r["set_chair"] else None,
            "set_chair_p99_ms": set_p99,
            "set_return_p99_ms": percentile(r["set_return"], 0.99),
            "stop_return_p50_ms": percentile(r["stop_return"], 0.5),
            "stop_return_p99_ms": stop_p99,
            "stop_chair_p99_ms": percentile(r["stop_chair"], 0.99) if r["stop_chair"] else None,
            "stop_frames_max": r["stop_frames_max"],
            "passed": passed,
        }
    print(f"after: {load()}")
    print(f"goal: {'PASS' if ok else 'FAIL'}")
    emit_json(args.json, bench="set_stop", sets=sets, stops=stops, passed=ok, **record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
