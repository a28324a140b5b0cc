"""RongtaiDevice + RongtaiSim end to end, in virtual time, judged by the simulator's own state.

session -> governor -> mapping -> writer -> RongtaiDevice -> key frames over an in-memory
link -> RongtaiSim (the chair's state machine) -> ChairPhysics (the body).
"""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from massager_ctl.core.status import DEVICE_STOPPED, DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.rongtai.codec import RT8600S_KEYS, RunState, Scope
from massager_ctl.devices.rongtai.driver import RongtaiDevice
from massager_ctl.devices.rongtai.sim import RongtaiRT6923Sim, RongtaiSim
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.sim.faults import FaultInjector
from massager_ctl.transport.memory import MemoryLink

T = RT8600S_KEYS
POWER, HEAT = T.power, T.heat_toggle
VENT_S = 10.0

KNEAD_SHOULDERS = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS}),
    intensity=2,
    speed=4,
    width=Width.WIDE,
    airbags=((Zone.CALVES, 2),),
    heat=Heat.LOW,
)
TAP_BACK = DeviceState(
    technique=Technique.TAP,
    zones=frozenset({Zone.MID_BACK, Zone.LOWER_BACK}),
    intensity=3,
    speed=2,
)


def busy_plan(minutes: float = 2.0, heat: bool = True) -> Plan:
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
        heat=(HeatStep(0, ms, "warm", "heat 1", Heat.LOW),) if heat else (),
    )


def assert_chair_stopped(sim) -> None:
    physics = sim.physics
    assert physics.target.is_stopped, physics.target
    assert not physics.heat_on
    assert physics.stopped
    assert not sim.chair.powered and not sim.chair.heat
    assert not sim.chair.motors, sim.chair.motors


def with_device(
    body,
    *,
    faults: FaultInjector | None = None,
    model: str = "rongtai-rt8600s",
    sim_class=RongtaiSim,
    status_interval_s: float = 0.05,
    **device_options,
):
    """Run ``body(device, sim, link)`` against a connected device and a running simulator."""

    async def main():
        link = MemoryLink()
        sim = sim_class(link.device, faults=faults, model=model, status_interval_s=status_interval_s)
        await sim.start()
        device = RongtaiDevice(link.host, name=model, **device_options)
        try:
            await device.connect()
            return await body(device, sim, link)
        finally:
            await device.disconnect()
            await sim.close()

    return run_virtual(main())


def now() -> float:
    return asyncio.get_running_loop().time()


# ------------------------------------------------------------------ through the API


def test_profile_plays_and_the_chair_ends_stopped():
    async def main():
        limits = SafetyLimits(max_intensity=60)
        async with connect("sim:rongtai-rt8600s", limits=limits) as chair:
            sim = chair.simulator
            seen = []
            chair.on_status(seen.append)
            report = await chair.run(busy_plan())
            await asyncio.sleep(VENT_S)
            return sim, report, seen

    sim, report, seen = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed
    assert report.stop_status.stopped
    assert_chair_stopped(sim)
    # the chair really massaged: knead at the shoulders, calves squeezed, heat on
    commands = [e for e in sim.physics.trace if e.kind == "command"]
    assert any(e.snapshot["technique"] == "knead" for e in commands)
    assert any(e.snapshot["airbags"].get("calves") for e in commands)
    assert any(e.snapshot["heat"] == "low" for e in commands)
    # never above the cap: 60 % of 5 steps
    assert 1 <= sim.physics.max_intensity_seen <= 3
    # no key was dropped by a resetting chair, no frame failed its checksum
    assert sim.dropped_keys == 0 and sim.bad_frames == 0
    # the chair timer was set at the start, to the shortest that covers the session
    # (the session tells the device its length): a 2-minute plan gets the 10-minute timer
    timers = [e.detail for e in sim.physics.trace if e.kind == "timer"]
    assert timers and "10 min" in timers[0], timers
    # status events reached the listener, in the control layer's terms
    assert any(s.state.technique is Technique.KNEAD for s in seen)


def test_rt6923_plays_high_heat_through_its_level_keys():
    plan = Plan(name="hot", heat=(HeatStep(0, 30_000, "hot", "h", Heat.HIGH),))

    async def main():
        async with connect("sim:rongtai-rt6923") as chair:
            sim = chair.simulator
            assert isinstance(sim, RongtaiRT6923Sim)
            task = asyncio.create_task(chair.run(plan))
            await asyncio.sleep(10)
            level = sim.chair.heat_level
            report = await task
            return sim, level, report

    sim, level, report = run_virtual(main())
    assert level == 3 and 0x3E in sim.keys()
    assert report.stop_confirmed
    assert_chair_stopped(sim)


def test_ctrl_c_mid_session_stops_the_chair():
    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan()))
            await asyncio.sleep(30)
            assert sim.physics.motors_on and sim.physics.heat_on
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(VENT_S)
            return sim

    assert_chair_stopped(run_virtual(main()))


# ------------------------------------------------------------------ reconciliation


def test_reaches_a_target_from_a_chair_in_another_state():
    async def body(device, sim, link):
        # someone used the chair's own remote: knock, heat, narrow, speed 5, back airbags
        for key in (POWER, 0x21, HEAT, 0x2B, 0x32, 0x42, 0x49):
            sim.chair.press(key, now())
            await asyncio.sleep(1.2 if key == POWER else 0.2)
        await device.apply(KNEAD_SHOULDERS)
        status = await device.read_status()
        return status, sim

    status, sim = with_device(body)
    assert status.state.technique is Technique.KNEAD
    assert status.state.zones == {Zone.SHOULDERS}
    assert (status.state.intensity, status.state.speed, status.state.width) == (2, 4, Width.WIDE)
    assert dict(status.state.airbags) == {Zone.CALVES: 2, Zone.FEET: 2}
    assert status.state.heat is Heat.LOW
    target = sim.physics.target
    assert target.technique is Technique.KNEAD and target.zones == {Zone.SHOULDERS}
    # heat was already on: the toggle was never pressed by the host
    host_keys = [k for _, k, _ in sim.received]
    assert HEAT not in host_keys and POWER not in host_keys


def test_reaches_a_target_from_a_resetting_chair_without_dropped_keys():
    async def body(device, sim, link):
        sim.chair.press(POWER, now())  # the chair is resetting (power-on) as apply starts
        await device.apply(TAP_BACK)
        return await device.read_status(), sim

    status, sim = with_device(body)
    assert status.state.technique is Technique.TAP
    assert sim.chair.scope == Scope.PARTIAL
    assert sim.dropped_keys == 0
    assert POWER not in sim.keys()  # it was already powering on: not toggled off again


def test_apply_while_the_chair_parks_after_power_off():
    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        sim.chair.press(POWER, now())  # the person switches it off... and the plan goes on
        await asyncio.sleep(0.2)
        with pytest.raises(DeviceError, match="ended the session itself"):
            await device.apply(KNEAD_SHOULDERS)
        assert not sim.chair.powered  # not switched back on
        status = await device.stop()  # the session's stop: confirmed
        # after a stop, a new session may start the chair again (from its parking reset)
        await device.apply(TAP_BACK)
        return status, sim

    status, sim = with_device(body)
    assert status.stopped
    assert sim.chair.powered and sim.chair.technique == "tap"
    assert sim.dropped_keys == 0


def test_a_key_lost_on_the_link_is_pressed_again():
    faults = FaultInjector()

    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        before = len(sim.received)
        faults.drop_incoming(1)  # the next key never reaches the chair
        await device.apply(KNEAD_SHOULDERS)
        return sim, before

    sim, before = with_device(body, faults=faults)
    assert sim.chair.technique == "knead" and sim.chair.heat
    assert any("dropped incoming" in what for _, what in faults.log)
    assert sim.dropped_keys == 0


def test_a_key_the_chair_never_takes_fails_clearly():
    faults = FaultInjector()

    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        faults.drop_incoming()  # the chair hears nothing more, but still reports
        t0 = now()
        with pytest.raises(DeviceError, match="did not take") as info:
            await device.apply(KNEAD_SHOULDERS)
        return now() - t0, str(info.value)

    elapsed, message = with_device(body, faults=faults)
    assert elapsed < 5.0
    assert "key 0x" in message and "last status" in message


def test_corrupted_status_frames_are_skipped():
    faults = FaultInjector()

    async def body(device, sim, link):
        faults.corrupt_outgoing(n=None, for_s=0.5)
        await device.apply(TAP_BACK)
        return device, sim

    device, sim = with_device(body, faults=faults)
    assert device.decoder.malformed >= 1
    assert sim.chair.technique == "tap"


# ------------------------------------------------------------------ stop


def test_stop_is_confirmed_heat_first_then_power():
    async def body(device, sim, link):
        await device.apply(KNEAD_SHOULDERS)
        mark = len(device.keys_sent)
        t0 = now()
        status = await device.stop()
        elapsed = now() - t0
        await asyncio.sleep(VENT_S)
        return status, [k for _, k in device.keys_sent[mark:]], elapsed, sim

    status, keys, elapsed, sim = with_device(body)
    assert status.stopped and status.extra["confirmed"]
    assert keys == [HEAT, POWER]
    assert elapsed < 2.0
    assert_chair_stopped(sim)


def test_stop_of_a_stopped_chair_presses_nothing():
    async def body(device, sim, link):
        status = await device.stop()
        return status, device.keys_sent

    status, keys = with_device(body)
    assert status.stopped and keys == []


def test_stop_during_a_power_on_reset_waits_and_then_powers_off():
    async def body(device, sim, link):
        sim.chair.press(POWER, now())
        await asyncio.sleep(0.1)
        status = await device.stop(timeout=3.0)
        return status, sim

    status, sim = with_device(body)
    assert status.stopped and sim.dropped_keys == 0
    assert not sim.chair.powered


def test_stop_when_the_chair_hears_nothing_is_not_confirmed():
    faults = FaultInjector()

    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        faults.drop_incoming()
        with pytest.raises(StopNotConfirmed):
            await device.stop(timeout=2.0)
        return sim

    sim = with_device(body, faults=faults)
    assert sim.chair.powered  # really not stopped: the error was right


# ------------------------------------------------------------------ the chair's own timer


def test_chair_timer_ends_the_session_when_the_host_goes_silent():
    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim, link = chair.simulator, chair._opened.link
            chair.device.plan_session(5 * 60)  # 5 min: the 10-min timer covers it
            task = asyncio.create_task(chair.run(busy_plan(8.0)))
            await asyncio.sleep(60)
            assert sim.physics.motors_on
            link.cut("host crashed")  # the host is gone; nothing reaches the chair now
            with pytest.raises(DeviceDisconnected) as info:
                await task
            running_after_cut = sim.physics.motors_on
            await asyncio.sleep(10 * 60 + VENT_S)
            return sim, str(info.value), running_after_cut

    sim, message, running_after_cut = run_virtual(main())
    assert running_after_cut  # the host could not stop it...
    assert "own session timer (10 min" in message
    assert_chair_stopped(sim)  # ...the chair's timer did
    expired = [e for e in sim.physics.trace if e.kind == "timer" and e.detail == "expired"]
    assert len(expired) == 1 and 600 <= expired[0].t <= 605
    assert any(e.kind == "stop" and e.detail == "timer" for e in sim.physics.trace)


def test_the_timer_is_renewed_while_the_host_is_alive():
    """A session longer than 30 min (the cap raised): the writer's keepalive renews the
    chair timer before it runs out, so the chair does not end the session itself."""

    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        assert device.keepalive_s == 20.0
        for _ in range(int(35 * 60 / device.keepalive_s)):  # what the writer does when idle
            await asyncio.sleep(device.keepalive_s)
            await device.keepalive()
        return sim

    sim = with_device(body, status_interval_s=0.25)
    timers = [e for e in sim.physics.trace if e.kind == "timer"]
    assert not any(e.detail == "expired" for e in timers)
    assert sum(1 for e in timers if e.detail == "set 30 min") >= 2
    assert sim.chair.technique == "tap" and sim.chair.powered


# ------------------------------------------------------------------ status stream


def test_dropped_status_stream_is_a_clear_error_not_a_hang():
    faults = FaultInjector()

    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        faults.stop_status()
        t0 = now()
        with pytest.raises(DeviceTimeout, match="status stream stopped"):
            await device.apply(KNEAD_SHOULDERS)
        t_apply = now() - t0
        with pytest.raises(DeviceTimeout):
            await device.read_status(timeout=1.0)
        with pytest.raises(DeviceTimeout):
            await device.keepalive()
        with pytest.raises(StopNotConfirmed):
            await device.stop()
        return t_apply

    assert with_device(body, faults=faults) <= 1.5


def test_connect_to_a_silent_line_fails_clearly():
    async def main():
        link = MemoryLink()
        device = RongtaiDevice(link.host, name="rongtai-rt8600s", open_timeout_s=2.0)
        with pytest.raises(DeviceTimeout, match="no status frame"):
            await device.connect()

    run_virtual(main())


def test_connect_with_the_wrong_model_names_the_problem():
    async def main():
        link = MemoryLink()
        sim = RongtaiRT6923Sim(link.device)  # sends 18-byte frames
        await sim.start()
        device = RongtaiDevice(link.host, name="rongtai-rt8600s", open_timeout_s=2.0)
        try:
            with pytest.raises(DeviceError, match="RT6923 sends 18-byte"):
                await device.connect()
        finally:
            await sim.close()

    run_virtual(main())


def test_link_cut_fails_pending_waits_at_once():
    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        asyncio.get_running_loop().call_later(0.3, link.cut, "radio gone")
        with pytest.raises(DeviceDisconnected):
            await device.apply(KNEAD_SHOULDERS)
        with pytest.raises(StopNotConfirmed, match="own session timer"):
            await device.stop()
        return device.connected

    assert with_device(body) is False


# ------------------------------------------------------------------ programs and motors


def test_run_program_then_the_chair_timer_ends_it():
    async def body(device, sim, link):
        device.plan_session(10 * 60)
        status = await device.run_program("stretch")
        assert status.extra["program"] == "stretch"
        await asyncio.sleep(10 * 60 + 5)
        return sim

    sim = with_device(body)
    assert [k for k in sim.keys()] == [POWER, 0x50, 0x11]
    assert_chair_stopped(sim)


def test_unknown_program_refused():
    async def body(device, sim, link):
        with pytest.raises(ValueError, match="no program"):
            await device.run_program("nap")

    with_device(body)


def test_move_always_sends_its_stop_key():
    async def body(device, sim, link):
        await device.move("backrest_down", 3.0)
        recline = sim.chair.positions["backrest"]
        # a move cancelled half-way still sends its stop key
        task = asyncio.create_task(device.move("leg_rest_up", 10.0))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)
        # a move longer than the maximum is cut to it
        t0 = now()
        await device.move("leg_extend", 1000)
        return recline, sim, now() - t0

    recline, sim, long_move = with_device(body, max_move_s=5.0)
    assert 0.2 <= recline <= 0.3  # 3 s of a 12 s travel
    keys = sim.keys()
    assert keys.index(0x66) < keys.index(0x67)  # backrest down start, stop
    assert keys.index(0x68) < keys.index(0x69)  # leg rest up start, stop (after the cancel)
    assert keys.index(0x6C) < keys.index(0x6D)
    assert not sim.chair.motors
    assert long_move < 6.0


def test_zero_gravity_reaches_its_pose_and_sends_stop_keys():
    async def body(device, sim, link):
        status = await device.zero_gravity()
        return status, sim

    status, sim = with_device(body)
    assert status.extra["zero_gravity"]
    keys = sim.keys()
    assert keys[0] == 0x70 and {0x65, 0x67, 0x69, 0x6B} <= set(keys[1:])
    assert sim.chair.positions["backrest"] == pytest.approx(0.6)


def test_fault_reported_by_the_chair_is_refused():
    async def body(device, sim, link):
        await device.apply(TAP_BACK)
        faults_seen = []
        device.events.fault.append(faults_seen.append)
        sim.trip_fault()
        with pytest.raises(DeviceError, match="fault"):
            await device.apply(KNEAD_SHOULDERS)
        status = await device.stop()
        return faults_seen, status

    faults_seen, status = with_device(body)
    assert faults_seen and "fault" in faults_seen[0]
    assert status.stopped


def test_stopped_target_powers_the_chair_off():
    async def body(device, sim, link):
        await device.apply(KNEAD_SHOULDERS)
        await device.apply(DEVICE_STOPPED)
        await asyncio.sleep(VENT_S)
        return sim

    assert_chair_stopped(with_device(body))


def test_run_state_mapping_in_status():
    async def body(device, sim, link):
        off = await device.read_status()
        await device.apply(TAP_BACK)
        on = await device.read_status()
        return off, on

    off, on = with_device(body)
    assert off.stopped and off.extra["run_state"] == "idle"
    assert on.running and on.extra["run_state"] == RunState.RUNNING.name.lower()
    assert on.remaining_s is not None and 1790 <= on.remaining_s <= 1800


def test_cancelled_apply_mid_walk_still_stops_the_roller():
    async def body(device, sim, link):
        task = asyncio.create_task(
            device.apply(
                DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SEAT}), intensity=1, speed=1)
            )
        )
        for _ in range(200):  # until the roller walk has started
            await asyncio.sleep(0.05)
            if "roller_down" in sim.chair.motors:
                break
        assert "roller_down" in sim.chair.motors
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)
        return sim

    sim = with_device(body)
    assert not sim.chair.motors
    keys = sim.keys()
    assert keys[-1] == 0x63  # roller down stop, the last thing sent


def test_zero_gravity_cut_short_is_halted_by_its_stop_keys():
    async def body(device, sim, link):
        status = await device.zero_gravity(timeout=2.0)
        await asyncio.sleep(1.0)
        return status, sim

    status, sim = with_device(body)
    assert not status.extra["zero_gravity"]
    assert not sim.chair.zero_gravity_moving and not sim.chair.motors
    assert 0.1 < sim.chair.positions["backrest"] < 0.3  # about 2 s of a 12 s travel


def test_connect_again_after_a_lost_link():
    async def main():
        link = MemoryLink()
        sim = RongtaiSim(link.device)
        await sim.start()
        device = RongtaiDevice(link.host)
        await device.connect()
        await device.apply(TAP_BACK)
        device.transport._lost_link("radio blip")  # the host end saw the link drop
        assert not device.connected
        await device.connect()  # the in-memory link itself is still up: reopen works
        await device.apply(KNEAD_SHOULDERS)
        status = await device.stop()
        await device.disconnect()
        await sim.close()
        return status, sim

    status, sim = run_virtual(main())
    assert status.stopped and not sim.chair.powered
