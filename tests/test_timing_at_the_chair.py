"""Timing as the chair sees it: what the simulated chair decoded, and when, in virtual time.

The host-side figures (when the session woke) can look fine while the chair hears a step
late: these tests judge from the simulator's own log of host frames.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left

from massager_ctl.api import connect
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.native.codec import SetState
from massager_ctl.plan import Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits

TECHNIQUES = (Technique.KNEAD, Technique.TAP, Technique.ROLL, Technique.SHIATSU)


def one_second_steps(seconds: int) -> Plan:
    """A technique change every second: every boundary is a multiple of the 0.5 s keepalive
    period after the last write, so the heartbeat and the step fall due together."""
    roller = tuple(
        RollerStep(
            i * 1000,
            1000,
            f"s{i}",
            f"step {i + 1}",
            TECHNIQUES[i % 4],
            frozenset({Zone.SHOULDERS}),
            Level.constant(40),
            Level.constant(50),
        )
        for i in range(seconds)
    )
    return Plan(name="steps", roller=roller)


def test_every_step_reaches_the_chair_at_its_boundary_not_behind_a_heartbeat():
    async def main():
        async with connect("sim:") as chair:
            plan = one_second_steps(30)
            report = await chair.run(plan)
            return plan, report, list(chair.simulator.received)

    plan, report, received = run_virtual(main())
    assert report.reason == "finished" and report.started_at is not None
    sets = [t for t, m in received if isinstance(m, SetState)]
    late = []
    for b in plan.boundaries_ms():
        if not 0 < b < plan.duration_ms:
            continue
        due = report.started_at + b / 1000
        heard = sets[bisect_left(sets, due - 1e-9)]
        if heard - due > 1e-6:
            late.append((b, round((heard - due) * 1000, 3)))
    assert late == []  # before: every other step came 20 ms late, behind a heartbeat
    # While the plan plays the chair still hears the host often enough (a third of its
    # 1.5 s deadman, a heartbeat put off by at most a gap), and never two frames within
    # 20 ms (docs/protocol.md section 9; the HELLO just before the first SET is the
    # driver's to pace).
    end = report.started_at + plan.duration_ms / 1000
    first = next(i for i, (_, m) in enumerate(received) if isinstance(m, SetState))
    frames = [t for t, _ in received[first:] if t < end]
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    assert min(gaps) >= 0.02 - 1e-9
    assert max(gaps) <= 0.5 + 0.02 + 0.001 + 1e-9


def test_set_on_a_playing_hold_sends_no_stop_and_one_state():
    """Changing a hold goes straight to the new state: before, each ``set`` stopped the
    chair, waited for its stopped STATUS and started it again from nothing."""

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=40, speed=50)
            await asyncio.sleep(5)  # ramped up: nothing more to send but heartbeats
            before = len(sim.received)
            called = asyncio.get_running_loop().time()
            await chair.set(technique="tap")
            returned = asyncio.get_running_loop().time()
            after = list(sim.received)[before:]
            running = sim.physics.target
            await chair.stop(confirm=True)
            return called, returned, after, running

    called, returned, after, running = run_virtual(main())
    assert [type(m).__name__ for _, m in after] == ["SetState"]
    at, message = after[0]
    assert at == called  # on its way at once (virtual time: no gap was due)
    assert message.state.technique is Technique.TAP and message.state.zones == {Zone.SHOULDERS}
    assert running.technique is Technique.TAP and running.intensity == message.state.intensity > 0
    assert returned == called  # it returned on the ACK


def test_set_in_place_keeps_the_hold_one_session_under_the_governor():
    """The hold's cap counts from its first set: a set in place does not restart it (nor
    the heat auto-off), and a raise still climbs under the slew limit."""

    async def main():
        limits = SafetyLimits(max_session_s=60)
        async with connect("sim:", limits=limits) as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=20, heat="low")
            await asyncio.sleep(40)
            low = sim.physics.target.intensity
            await chair.set(intensity=100)  # a raise: slewed, not a jump
            # (Half a second on: the first regulate() after the set may grant less than a
            # step, when the hold's last tick was just before it.)
            await asyncio.sleep(0.5)
            first = sim.physics.target.intensity
            report = await chair.wait()
            return low, first, report, sim

    low, first, report, sim = run_virtual(main())
    steps = sim.physics.capabilities.intensity_steps
    assert low < first <= low + steps * 0.25 * 0.5 + 1  # 0.5 s of slew at 25 %/s, and rounding
    assert report.reason == "cap" and 59.9 <= report.elapsed_s <= 60.5
    assert sim.physics.target.is_stopped


def test_stop_sends_one_stop_and_returns_on_its_ack():
    """``chair.stop()`` during a hold: one STOP on the line (the hold's own final stop
    joins it), and the call returns on the ACK; the STATUS confirms afterwards."""

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=40, heat="low")
            await asyncio.sleep(5)
            before = len(sim.received)
            sent_before = sim.sent_count
            called = asyncio.get_running_loop().time()
            status = await chair.stop()
            returned = asyncio.get_running_loop().time()
            statuses_by_then = [m for _, m in list(sim.sent)[-(sim.sent_count - sent_before) :]]
            await asyncio.sleep(1)
            frames = [type(m).__name__ for _, m in list(sim.received)[before:]]
            return called, returned, status, statuses_by_then, frames, sim

    called, returned, status, by_then, frames, sim = run_virtual(main())
    assert frames.count("Stop") == 1 and "SetState" not in frames
    assert returned == called and status.stopped and status.extra.get("acknowledged")
    assert [type(m).__name__ for m in by_then] == ["Ack"]  # no STATUS waited for
    assert sim.physics.target.is_stopped and sim.deadman_trips == 0


def test_stop_with_confirm_waits_for_the_status():
    async def main():
        async with connect("sim:") as chair:
            await chair.set(technique="knead", zones=["shoulders"], intensity=40)
            await asyncio.sleep(2)
            called = asyncio.get_running_loop().time()
            status = await chair.stop(confirm=True)
            return asyncio.get_running_loop().time() - called, status

    took, status = run_virtual(main())
    assert status.stopped and "acknowledged" not in status.extra
    assert 0 < took <= 0.1 + 1e-9  # the next 10 Hz STATUS
