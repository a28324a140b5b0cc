"""The whole control path against the simulated chair, judged by the chair's own state.

profile plan -> session -> governor -> mapping -> writer -> native driver ->
bytes over an in-memory link -> simulated chair (physics). Virtual time.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceDisconnected, DeviceError
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import VirtualClock, run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.sim.faults import FaultInjector

VENT_S = 10.0  # generous time for the simulated airbags to vent after a stop


def busy_plan(minutes: float = 2.0) -> Plan:
    """Rollers, airbags and heat all working for the whole plan."""
    ms = int(minutes * 60_000)
    return Plan(
        name="busy",
        roller=(
            RollerStep(
                0,
                ms,
                "knead",
                "segment 1",
                Technique.KNEAD,
                frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
                Level(20, 80),
                Level.constant(50),
            ),
        ),
        airbag=(
            AirbagStep(
                0, ms, "squeeze", "airbag 1", zones=frozenset({Zone.CALVES}), pressure=Level.constant(80)
            ),
        ),
        heat=(HeatStep(0, ms, "warm", "heat 1", Heat.HIGH),),
    )


def assert_chair_stopped(sim) -> None:
    """From the simulator's own state: motors off, heat off, airbags vented."""
    physics = sim.physics
    assert physics.target.is_stopped, physics.target
    assert not physics.heat_on
    assert physics.stopped, [(z, physics.airbag_pressure(z)) for z in Zone]


async def settle(seconds: float = VENT_S) -> None:
    await asyncio.sleep(seconds)


def test_finish_leaves_chair_stopped_and_caps_held():
    async def main():
        limits = SafetyLimits(max_intensity=50, max_airbag=60)
        async with connect("sim:", limits=limits) as chair:
            sim = chair.simulator
            report = await chair.run(busy_plan())
            await settle()
            return sim, report

    sim, report = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed
    assert_chair_stopped(sim)
    caps = sim.physics.capabilities if hasattr(sim.physics, "capabilities") else sim.capabilities
    # Never a command above the cap reached the chair (50 % of its steps, 60 % of airbag levels).
    assert sim.physics.max_intensity_seen <= caps.intensity_steps * 0.5
    commanded = [e for e in sim.physics.trace if e.kind == "command"]
    assert commanded, "the chair was never commanded"


def test_ctrl_c_cancel_leaves_chair_stopped():
    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan()))
            await asyncio.sleep(30)
            assert sim.physics.motors_on and sim.physics.heat_on
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await settle()
            return sim

    assert_chair_stopped(run_virtual(main()))


def test_exception_in_the_host_leaves_chair_stopped():
    def explode(progress):
        if progress.plan_ms > 20_000:
            raise RuntimeError("bug in a progress listener")

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            with pytest.raises(RuntimeError):
                await chair.run(busy_plan(), on_progress=explode)
            await settle()
            return sim

    assert_chair_stopped(run_virtual(main()))


def test_sigterm_leaves_chair_stopped():
    """SIGTERM during `run`: the CLI's driver cancels the session, which stops the chair."""
    from massager_ctl.cli.session_cmds import EXIT_TERMINATED, _drive

    seen = {}

    async def play():
        async with connect("sim:") as chair:
            seen["sim"] = chair.simulator
            loop = asyncio.get_running_loop()
            loop.call_later(30, os.kill, os.getpid(), signal.SIGTERM)
            return await chair.run(busy_plan())

    # If the CLI did not handle SIGTERM itself, this fallback would see it (and the test fails).
    previous = signal.signal(signal.SIGTERM, lambda *_: seen.setdefault("unhandled", True))
    try:
        with pytest.raises(SystemExit) as exit_info:
            _drive(VirtualClock(), play)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "unhandled" not in seen
    assert exit_info.value.code == EXIT_TERMINATED
    sim = seen["sim"]
    assert sim.physics.target.is_stopped and not sim.physics.heat_on
    stops = [e for e in sim.physics.trace if e.kind == "stop"]
    assert stops and 30 <= stops[-1].t < 31


def test_disconnect_mid_session_clear_message_and_chair_stops_itself():
    async def main():
        faults = FaultInjector()
        faults.at(40.0, "disconnect")
        async with connect("sim:", faults=faults) as chair:
            sim = chair.simulator
            with pytest.raises(DeviceDisconnected) as info:
                await chair.run(busy_plan())
            assert sim.physics.motors_on  # the host could not stop it...
            await settle(2.0)  # ...but the chair's deadman does, within 1.5 s
            return sim, str(info.value)

    sim, message = run_virtual(main())
    assert "lost the link to sim-chair at 40s" in message
    assert "deadman" in message
    assert sim.physics.target.is_stopped and not sim.physics.heat_on
    assert any(e.kind == "stop" and "deadman" in str(e.detail) for e in sim.physics.trace)


def test_host_goes_silent_deadman_stops_chair():
    """The host hangs (nothing reaches the chair): the chair stops itself in 1.5 s."""

    async def main():
        faults = FaultInjector()
        async with connect("sim:", faults=faults) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan()))
            await asyncio.sleep(20)
            faults.drop_incoming()  # from now on the chair hears nothing
            silent_at = asyncio.get_running_loop().time()
            await asyncio.sleep(1.6)
            stopped_by_deadman = sim.physics.target.is_stopped
            trips = sim.deadman_trips
            with pytest.raises(DeviceError):
                await task  # the host notices: no ACKs, stop not confirmed
            return stopped_by_deadman, trips, silent_at, sim

    stopped, trips, silent_at, sim = run_virtual(main())
    assert stopped and trips == 1
    stop = next(e for e in sim.physics.trace if e.kind == "stop" and "deadman" in str(e.detail))
    # Heard last at most one keepalive (0.5 s) before the silence began; deadman 1.5 s after that.
    assert silent_at + 1.0 - 1e-6 <= stop.t <= silent_at + 1.5 + 1e-6


def test_keepalive_holds_a_quiet_session():
    """A constant state needs no writes, yet the chair does not trip its deadman."""

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=30, duration="1m")
            await chair.wait()
            return sim

    sim = run_virtual(main())
    assert sim.deadman_trips == 0
    assert sim.physics.target.is_stopped


def test_scripting_set_then_stop():
    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            await chair.set(technique="tap", zones=["lower_back"], intensity=100, heat="low")
            await asyncio.sleep(1.0)
            early = sim.physics.target.intensity
            await asyncio.sleep(10)
            full = sim.physics.target.intensity
            await chair.set(intensity=20)  # changes only intensity, keeps the rest
            await asyncio.sleep(1)
            changed = sim.physics.target
            status = await chair.stop()
            return early, full, changed, status, sim

    early, full, changed, status, sim = run_virtual(main())
    assert early <= 3  # the governor's slew: 25 %/s of 10 steps
    assert full == 10
    assert changed.intensity == 2 and changed.technique is Technique.TAP and changed.heat is Heat.LOW
    assert status.stopped and sim.physics.target.is_stopped


def test_reconnect_resumes_with_a_ramp_from_zero():
    """Cable pulled at 40 s and back at 43 s: the session reconnects, intensity climbs
    again from zero under the slew limit, and the profile still ends stopped."""

    async def main():
        async with connect("sim:", limits=SafetyLimits(slew_per_s=10)) as chair:
            sim = chair.simulator
            link = chair._opened.link
            loop = asyncio.get_running_loop()
            loop.call_later(40, link.cut, "cable pulled")
            loop.call_later(43, link.restore)
            warnings = []
            report = await chair.run(busy_plan(), reconnect=True, on_warning=warnings.append)
            await settle()
            return sim, report, warnings

    sim, report, warnings = run_virtual(main())
    assert report.reason == "finished" and report.reconnects == 1 and report.stop_confirmed
    assert any("reconnected after" in w for w in warnings)
    commands = [e for e in sim.physics.trace if e.kind == "command"]
    after = [e for e in commands if e.t > 43]
    before = [e for e in commands if e.t < 40]
    assert before and after
    # The first roller command after the gap is a low intensity, not the pre-loss level.
    first_after = after[0].snapshot["intensity"]
    assert first_after <= 1 < before[-1].snapshot["intensity"]
    assert_chair_stopped(sim)
    # The outage did not count as massage time: the plan was played in full.
    assert report.plan_ms == busy_plan().duration_ms


def test_reconnect_brings_airbags_and_heat_back_slowly_too():
    """Not only intensity: after the gap the airbags rise again from zero at the slew rate,
    and heat stays low until a full ramp would have ended (busy_plan: 80 %, heat high)."""

    async def main():
        async with connect("sim:", limits=SafetyLimits(slew_per_s=10)) as chair:
            sim = chair.simulator
            link = chair._opened.link
            loop = asyncio.get_running_loop()
            loop.call_later(40, link.cut, "cable pulled")
            loop.call_later(43, link.restore)
            report = await chair.run(busy_plan(), reconnect=True)
            return sim, report

    sim, report = run_virtual(main())
    assert report.reason == "finished" and report.reconnects == 1
    levels = sim.physics.capabilities.airbag_levels
    commands = [e for e in sim.physics.trace if e.kind == "command"]
    before = [e for e in commands if e.t < 40]
    assert (
        before[-1].snapshot["heat"] == "high" and before[-1].snapshot["airbags"]["calves"] == levels * 8 // 10
    )
    after = [e for e in commands if e.t > 43]
    back = after[0].t
    assert after[0].snapshot["heat"] == "low"
    assert after[0].snapshot["airbags"].get("calves", 0) <= 1
    # 10 %/s: 80 % pressure again after 8 s, heat high again after 10 s, not at once
    early = [e for e in after if e.t < back + 5]
    assert all(e.snapshot["airbags"].get("calves", 0) < levels * 8 // 10 for e in early)
    assert all(e.snapshot["heat"] != "high" for e in early)
    assert any(e.snapshot["heat"] == "high" for e in after if e.t > back + 11)


def test_a_chair_that_comes_back_stopped_is_not_taken_for_one_that_stopped_by_itself():
    """The cable is out long enough for the chair's deadman to stop it; when it is back,
    its INFO is slow, so STATUS frames (stopped, as the deadman left it) arrive while the
    host still reconnects. That is the chair reconnecting expects: the session resumes
    from zero and plays to the end, instead of ending as 'device-stopped'."""

    async def main():
        faults = FaultInjector()
        async with connect("sim:", faults=faults, limits=SafetyLimits(slew_per_s=10)) as chair:
            sim = chair.simulator
            link = chair._opened.link
            loop = asyncio.get_running_loop()

            def plug_back_in():
                assert sim.physics.target.is_stopped  # the deadman did trip
                faults.delay_outgoing(0.25, n=1)  # the INFO answering the next HELLO
                link.restore()

            loop.call_later(40, link.cut, "cable pulled")
            loop.call_later(43, plug_back_in)
            report = await chair.run(busy_plan(), reconnect=True)
            await settle()
            return sim, report

    sim, report = run_virtual(main())
    assert report.reason == "finished", report.message
    assert report.reconnects == 1 and report.plan_ms == busy_plan().duration_ms
    assert any("delayed outgoing INFO" in note for _t, note in sim.faults.log)
    assert_chair_stopped(sim)


def test_reconnect_gives_up_after_bounded_attempts():
    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            asyncio.get_running_loop().call_later(10, chair._opened.link.cut, "cable pulled")
            with pytest.raises(DeviceDisconnected, match="gave up reconnecting after 6 attempts"):
                await chair.run(busy_plan(), reconnect=True)
            return sim, asyncio.get_running_loop().time()

    sim, t = run_virtual(main())
    assert t < 10 + 60  # bounded: 0.5+1+2+4+8+8 s of backoff plus the connect attempts
    assert sim.physics.target.is_stopped  # the chair's deadman did its part


def test_chair_that_stops_by_itself_is_not_started_again():
    """The person presses stop on the chair's own remote mid-session: the session ends
    (reason device-stopped) instead of sending the next step of the ramp, which would
    start the chair again behind their back."""

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan()))
            # Between two steps of the ramp (a write in the same instant as the press
            # would start the chair again before any status could show the stop).
            await asyncio.sleep(35)
            assert not sim.physics.target.is_stopped
            pressed_at = asyncio.get_running_loop().time()
            sim.physics.stop(pressed_at, reason="remote")
            report = await asyncio.wait_for(task, 5.0)
            await settle()
            return sim, report, pressed_at

    sim, report, pressed_at = run_virtual(main())
    assert report.reason == "device-stopped"
    assert "stopped by itself at 35s" in report.message
    assert report.stop_confirmed
    later = [e for e in sim.physics.trace if e.t > pressed_at and e.kind == "command"]
    assert later == []  # nothing started it again
    assert_chair_stopped(sim)


@pytest.mark.parametrize("before_ms", [1, 50, 99])
def test_a_stop_pressed_just_before_a_write_is_not_overridden(before_ms):
    """The person presses stop on the chair's remote a moment before the plan's next
    write (a segment boundary at 30 s), and the link takes 20 ms each way (BLE-like),
    so the chair's STATUS showing it stopped is still on its way when that SET is. The
    SET starts the chair again, but the session knows the STATUS came from before its
    SET was acknowledged: it ends (device-stopped) and stops the chair at once, instead
    of playing the rest of the profile."""
    knead = dict(zones=frozenset({Zone.SHOULDERS}), intensity=Level.constant(40), speed=Level.constant(50))
    plan = Plan(
        name="two techniques",
        roller=(
            RollerStep(0, 30_000, "knead", "segment 1", Technique.KNEAD, **knead),
            RollerStep(30_000, 90_000, "tap", "segment 2", Technique.TAP, **knead),
        ),
    )

    async def main():
        async with connect("sim:") as chair:
            sim = chair.simulator
            chair._opened.link.delay_s = 0.02
            loop = asyncio.get_running_loop()
            pressed_at = 30.0 - before_ms / 1000
            loop.call_at(pressed_at, lambda: sim.physics.stop(loop.time(), reason="remote"))
            report = await chair.run(plan)
            await settle()
            return sim, report, pressed_at

    sim, report, pressed_at = run_virtual(main())
    assert report.reason == "device-stopped", report.message
    assert report.stop_confirmed
    events = [(e.t, e.kind) for e in sim.physics.trace if e.t >= pressed_at and e.kind in ("command", "stop")]
    # The press, the SET that crossed it (the race this test is about), then the
    # session's stop, promptly; no command after that (then only the Chair's closing stop).
    (t_press, press), (t_crossing, crossing), (t_stop, stop), *rest = events
    assert (t_press, press, crossing, stop) == (pressed_at, "stop", "command", "stop")
    assert t_stop - t_crossing < 0.1  # the chair ran again for a moment only
    assert "command" not in [kind for _t, kind in rest]
    assert_chair_stopped(sim)


def test_a_rest_segment_is_not_taken_for_a_chair_that_stopped_by_itself():
    """The plan itself stops everything for a while (a rest): the device's stopped
    status is what it was told, and the session plays on."""
    knead = dict(
        technique=Technique.KNEAD,
        zones=frozenset({Zone.NECK}),
        intensity=Level.constant(40),
        speed=Level.constant(50),
    )
    plan = Plan(
        name="rest",
        roller=(
            RollerStep(0, 20_000, "a", "segment 1", **knead),
            RollerStep(20_000, 20_000, "rest", "segment 2"),
            RollerStep(40_000, 20_000, "b", "segment 3", **knead),
        ),
    )

    async def main():
        async with connect("sim:") as chair:
            report = await chair.run(plan)
            return chair.simulator, report

    sim, report = run_virtual(main())
    assert report.reason == "finished", report.message
    runs = [e.t for e in sim.physics.trace if e.kind == "command" and "knead" in str(e.detail)]
    assert any(t >= 40.0 for t in runs)  # the third segment played


def test_after_a_refused_stop_status_requests_do_not_keep_the_chair_alive():
    """A script catches the error of a refused STOP, keeps its Chair open and asks for the
    status again and again. Each request would be a frame, and frames feed the deadman:
    the requests are refused instead, so the chair's deadman stops it."""

    async def main():
        faults = FaultInjector()
        async with connect("sim:", faults=faults) as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=40)
            await asyncio.sleep(5)
            assert not sim.physics.target.is_stopped
            faults.nak(10_000)  # from now on the chair refuses every request
            with pytest.raises(DeviceError):
                await chair.stop()
            failed_at = asyncio.get_running_loop().time()
            refused = 0
            for _ in range(8):
                with pytest.raises(DeviceError) as info:
                    await chair.status()
                refused += "not asking for status" in str(info.value)
                await asyncio.sleep(0.5)
            faults.clear()
            return sim, refused, failed_at

    sim, refused, failed_at = run_virtual(main())
    assert refused == 8
    assert sim.deadman_trips >= 1
    deadman = [e for e in sim.physics.trace if e.kind == "stop" and e.detail == "deadman"]
    assert deadman and deadman[0].t <= failed_at + 1.5 + 1e-6


def test_closing_after_only_looking_stops_nothing_a_device_that_cannot_tell_is_stopped():
    """Leaving ``connect()`` stops the device only if this host commanded it (a key-press
    chair's stop is its power key: ``status`` must not switch a running chair off)."""
    from fakes import RecordingDevice

    from massager_ctl.api import Chair
    from massager_ctl.connection.open import OpenedDevice
    from massager_ctl.session.limits import SafetyLimits as Limits

    async def close_after_status(commanded: bool) -> list[float]:
        device = RecordingDevice()
        device.commanded = commanded
        chair = Chair(OpenedDevice(device, None), Limits())  # type: ignore[arg-type]
        await chair.status()
        await chair.close()
        return device.stops

    assert run_virtual(close_after_status(False)) == []
    assert len(run_virtual(close_after_status(True))) == 1
