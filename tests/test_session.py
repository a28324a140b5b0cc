"""The session runner against a recording device: schedule, controls and every exit path."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import pytest
from fakes import FULL_CAPS, RecordingDevice

from massager_ctl.core.errors import DeviceDisconnected, SafetyError
from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Curve, Heat, Technique, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import Session, manual_plan
from massager_ctl.session.writer import Writer


def two_step_plan(minutes: float = 1.0) -> Plan:
    half = int(minutes * 30_000)
    return Plan(
        name="t",
        roller=(
            RollerStep(
                0,
                half,
                "a",
                "segment 1",
                Technique.KNEAD,
                frozenset({Zone.NECK}),
                Level.constant(40),
                Level.constant(50),
            ),
            RollerStep(
                half,
                half,
                "b",
                "segment 2",
                Technique.TAP,
                frozenset({Zone.SEAT}),
                Level(40, 0),
                Level.constant(50),
            ),
        ),
        heat=(HeatStep(0, half, "warm", "heat 1", Heat.LOW),),
    )


def make(plan, dev=None, limits=None, **kw):
    dev = dev or RecordingDevice()
    return dev, Session(dev, Writer(dev), SafetyGovernor(limits or SafetyLimits()), plan, **kw)


def test_plays_to_the_end_and_stops():
    async def main():
        dev, s = make(two_step_plan())
        report = await s.run()
        return dev, report

    dev, report = run_virtual(main())
    assert report.reason == "finished"
    assert report.stop_confirmed
    assert dev.stops and dev.current.is_stopped
    techniques = [st.technique for _, st in dev.applied if st.technique]
    assert techniques[0] is Technique.KNEAD and Technique.TAP in techniques
    # heat was on during the first half only
    heat_times = [t for t, st in dev.applied if st.heat is Heat.LOW]
    assert heat_times and max(heat_times) < 30.0
    assert max(report.boundary_errors_s) < 1e-6  # virtual clock: exact


def test_deadlines_do_not_drift_over_thirty_minutes():
    async def main():
        dev, s = make(two_step_plan(minutes=30), tick_s=0.1)
        return await s.run()

    report = run_virtual(main())
    assert report.reason == "finished"
    assert report.elapsed_s == pytest.approx(1800.0, abs=0.11)


@pytest.mark.parametrize("how", ["cancel", "exception"])
def test_every_exit_path_stops_the_device(how):
    async def main():
        dev, s = make(two_step_plan())
        task = asyncio.create_task(s.run())
        await asyncio.sleep(10)
        assert not dev.current.is_stopped
        if how == "cancel":
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:

            def boom(_p):
                raise RuntimeError("bug in a progress listener")

            s.on_progress = boom
            with pytest.raises(RuntimeError):
                await task
        return dev, s.report

    dev, report = run_virtual(main())
    assert dev.current.is_stopped and dev.stops
    assert report.stop_confirmed


def test_disconnect_ends_with_clear_message():
    async def main():
        dev, s = make(two_step_plan())
        task = asyncio.create_task(s.run())
        await asyncio.sleep(5)
        dev.lose_link("cable pulled")
        with pytest.raises(DeviceDisconnected) as info:
            await task
        return info.value, s.report

    err, report = run_virtual(main())
    assert "lost the link to recording at 5s (cable pulled)" in str(err)
    assert report.reason == "disconnected" and not report.stop_confirmed


def test_pause_resume_skip_and_stop():
    async def main():
        dev, s = make(two_step_plan())
        task = asyncio.create_task(s.run())
        await asyncio.sleep(5)
        s.pause()
        await asyncio.sleep(20)
        paused_state = dev.current
        plan_pos = s.plan_ms(asyncio.get_running_loop().time())
        s.resume()
        await asyncio.sleep(1)
        s.skip()
        await asyncio.sleep(0.5)
        skipped_to = s.plan_ms(asyncio.get_running_loop().time())
        now_tech = dev.current.technique
        s.stop()
        report = await task
        return paused_state, plan_pos, skipped_to, now_tech, report, dev

    paused_state, plan_pos, skipped_to, now_tech, report, dev = run_virtual(main())
    assert paused_state.technique is None and paused_state.heat is Heat.LOW  # rollers rest, heat stays
    assert plan_pos == 5000
    assert 30_000 <= skipped_to < 31_000 and now_tech is Technique.TAP
    assert report.reason == "stopped" and dev.current.is_stopped


def test_too_long_refused_before_anything_moves():
    async def main():
        dev, s = make(two_step_plan(minutes=40))
        with pytest.raises(SafetyError):
            await s.run()
        return dev

    dev = run_virtual(main())
    assert dev.applied == []


def test_session_stopped_at_cap_even_if_plan_allowed():
    async def main():
        hold = STOPPED.with_(technique=Technique.ROLL, zones={Zone.MID_BACK}, intensity=30)
        plan = manual_plan(hold, 600_000)
        dev, s = make(plan, limits=SafetyLimits(max_session_s=600))
        task = asyncio.create_task(s.run())
        await asyncio.sleep(100)
        s.pause()  # pauses count towards the session length
        return dev, await task

    dev, report = run_virtual(main())
    assert report.reason == "cap" and dev.current.is_stopped
    assert report.elapsed_s == pytest.approx(600, abs=0.2)


def test_manual_plan_goes_through_governor_slew():
    async def main():
        plan = manual_plan(STOPPED.with_(technique=Technique.KNEAD, zones={Zone.NECK}, intensity=100), 10_000)
        dev, s = make(plan)
        await s.run()
        return dev

    dev = run_virtual(main())
    firsts = [(t, st.intensity) for t, st in dev.applied if st.technique]
    assert firsts[0][1] <= 3
    assert all(i <= 25 * t + 3 for t, i in firsts)


def test_heat_auto_off_acts_on_time_even_when_nothing_else_changes():
    """A long constant segment wakes the session rarely; heat auto-off must still
    switch the heater off at its deadline, not at the next boundary."""

    async def main():
        plan = manual_plan(STOPPED.with_(heat=Heat.HIGH), 25 * 60_000)
        dev, s = make(plan, limits=SafetyLimits(heat_auto_off_s=120))
        await s.run()
        return dev

    dev = run_virtual(main())
    off = [t for t, st in dev.applied if st.heat is Heat.OFF]
    on = [t for t, st in dev.applied if st.heat is Heat.HIGH]
    assert on and off
    assert 120.0 <= off[0] <= 120.0 + 0.11


def _ramp_plan() -> Plan:
    return Plan(
        name="t",
        roller=(
            RollerStep(
                0,
                60_000,
                "flat",
                "segment 1",
                Technique.KNEAD,
                frozenset({Zone.NECK}),
                Level.constant(40),
                Level.constant(50),
            ),
            RollerStep(
                60_000,
                30_000,
                "ramp",
                "segment 2",
                Technique.KNEAD,
                frozenset({Zone.NECK}),
                Level(40, 80, Curve.EASE_IN_OUT),
                Level(50, 20),
            ),
            RollerStep(
                90_000,
                20_000,
                "fall",
                "segment 3",
                Technique.TAP,
                frozenset({Zone.SEAT}),
                Level(80, 10, Curve.EASE_IN),
                Level.constant(30),
            ),
            RollerStep(
                110_000,
                4_000,
                "steep",
                "segment 4",
                Technique.TAP,
                frozenset({Zone.SEAT}),
                Level(10, 90),
                Level.constant(30),
            ),
        ),
        airbag=(
            AirbagStep(
                30_000,
                50_000,
                "fill",
                "airbag 1",
                frozenset({Zone.CALVES, Zone.FEET}),
                Level(10, 90, Curve.EASE_OUT),
            ),
        ),
    )


class _EveryTick(Session):
    """The session as it was: a ramp wakes it at every tick_s."""

    def _next_change(self, now, state, target, mapper, horizon):
        k = math.floor((now - self._t0) / self.tick_s + 1e-9) + 1
        return min(horizon, self._t0 + k * self.tick_s)


@pytest.mark.parametrize("steps", [100, 10, 3])
def test_a_ramp_writes_what_ticking_every_tick_writes_with_far_fewer_wakeups(steps):
    """Looking ahead along a ramp (bisection to the tick where the device state changes)
    writes the same states at the same instants as waking at every tick does: fine and
    coarse intensity steps, ease curves, rising and falling, airbags, and a ramp steeper
    than the slew limit."""
    caps = replace(FULL_CAPS, intensity_steps=steps, speed_steps=steps, airbag_levels=steps)

    def play(cls):
        async def main():
            dev = RecordingDevice(caps)
            wakes = []
            s = cls(
                dev,
                Writer(dev),
                SafetyGovernor(SafetyLimits()),
                _ramp_plan(),
                on_progress=lambda p: wakes.append(p.plan_ms),
            )
            report = await s.run()
            return dev.applied, wakes, report.reason

        return run_virtual(main())

    applied, wakes, reason = play(Session)
    reference, every_tick, reference_reason = play(_EveryTick)
    assert reason == reference_reason == "finished"
    assert applied == reference
    ramp_wakes = [t for t in wakes if 60_000 <= t < 110_000]
    ramp_ticks = [t for t in every_tick if 60_000 <= t < 110_000]
    assert len(ramp_ticks) >= 490  # ten a second
    assert len(ramp_wakes) <= len(ramp_ticks) // 2


def test_constant_segments_wake_rarely():
    async def main():
        ticks = []
        dev, s = make(_ramp_plan(), on_progress=lambda p: ticks.append(p.plan_ms))
        await s.run()
        return ticks

    ticks = run_virtual(main())
    flat = [t for t in ticks if 10_000 <= t < 30_000]
    assert len(flat) <= 21  # about one per second once the slew has caught up


def test_write_failure_from_a_lost_link_gets_the_lost_link_message():
    """The link can fail on a write before the disconnect event arrives: the person
    still gets the session's lost-link message with the device's note."""

    async def main():
        dev, s = make(two_step_plan())
        task = asyncio.create_task(s.run())
        # Half-way between two of the session's 1 s idle ticks: at a tick, the session's
        # own submit (the plan's unchanged state) could replace this one, which then
        # would never be written.
        await asyncio.sleep(5.5)
        dev.lost = True  # writes fail from now on; no disconnect event is sent
        s.writer.submit(s.writer.last_written.__class__(intensity=99))
        with pytest.raises(DeviceDisconnected) as info:
            await task
        return str(info.value)

    message = run_virtual(main())
    assert message.startswith("lost the link to recording at 5s500ms (gone)")
    assert "test device: state unknown" in message


@pytest.mark.parametrize("t0", [0.09, 0.1, 1.1])
def test_boundaries_are_reached_whatever_the_start_time(t0):
    """(t0 + d) - t0 is not always d in floating point (t0 = 0.09, d = 2 s gives
    1.9999999999999998): a session must still pass every boundary instead of waking
    at it forever."""

    def step(i):
        return RollerStep(
            i * 1000,
            1000,
            f"s{i}",
            f"segment {i + 1}",
            Technique.KNEAD,
            frozenset({Zone.NECK}),
            Level.constant(30),
            Level.constant(50),
        )

    plan = Plan(name="short steps", roller=tuple(step(i) for i in range(6)))

    async def main():
        await asyncio.sleep(t0)  # an awkward start time (a BLE connect leaves such values)
        wakes = []

        def count(p):
            wakes.append(p.plan_ms)
            if len(wakes) > 10_000:
                raise RuntimeError("the session is spinning at a boundary")

        dev, s = make(plan, on_progress=count)
        return await s.run()

    assert run_virtual(main()).reason == "finished"
