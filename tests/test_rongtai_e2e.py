"""RongtaiDevice + RongtaiSim end to end, in virtual time, judged by the simulated board.

session -> governor -> mapping -> writer -> RongtaiDevice -> key frames over an in-memory
link -> RongtaiSim (the main board as its firmware behaves) -> ChairPhysics (the body).
Every test also checks the rule the firmware makes sacred: no key ever reaches the board
during its reset (``sim.keys_in_reset``).
"""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from massager_ctl.core.status import DEVICE_STOPPED, DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.rongtai.codec import RT8600S_KEYS
from massager_ctl.devices.rongtai.driver import RETURNING_HOME, RongtaiDevice
from massager_ctl.devices.rongtai.firmware import (
    STATE_OFF,
    STATE_RUN,
    STATE_SETTLE,
    STATE_WAIT_COMMAND,
    SUB_KNEAD,
    SUB_NONE,
    SUB_SOFT_KNOCK,
    Board,
    Timing,
)
from massager_ctl.devices.rongtai.sim import RongtaiRT6923Sim, RongtaiSim
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.sim.faults import FaultInjector
from massager_ctl.transport.memory import MemoryLink

T = RT8600S_KEYS
POWER, HEAT, KNEAD, KNOCK, TAP = 0x01, 0x27, 0x20, 0x21, 0x23
VENT_S = 10.0

KNEAD_SHOULDERS = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS}),
    intensity=2,
    speed=4,
    airbags=((Zone.CALVES, 2),),
    heat=Heat.LOW,
)
TAP_BACK = DeviceState(
    technique=Technique.TAP,
    zones=frozenset({Zone.MID_BACK, Zone.LOWER_BACK}),
    intensity=3,
    speed=2,
    width=Width.WIDE,
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


def assert_chair_off(sim) -> None:
    """Reset done, board off, body still, no key ever pressed during a reset."""
    assert sim.board.state == STATE_OFF, sim.board.state
    physics = sim.physics
    assert physics.target.is_stopped and not physics.heat_on and physics.stopped
    assert sim.keys_in_reset == 0


def with_device(
    body,
    *,
    faults: FaultInjector | None = None,
    model: str = "rongtai-rt8600s",
    sim_class=RongtaiSim,
    **options,
):
    """Run ``body(device, sim)`` against a connected device and a running simulator."""

    async def main():
        link = MemoryLink()
        sim = sim_class(link.device, faults=faults, model=model)
        await sim.start()
        device = RongtaiDevice(link.host, name=model, **options)
        try:
            await device.connect()
            return await body(device, sim)
        finally:
            await device.disconnect()
            await sim.close()

    return run_virtual(main())


def now() -> float:
    return asyncio.get_running_loop().time()


def host_keys_since(sim, t: float) -> list[int]:
    return [key for at, key in sim.received if at >= t]


# ------------------------------------------------------------------ sessions, as a user runs them


def test_profile_plays_and_ends_with_the_chair_reset_and_off():
    async def main():
        async with connect("sim:rongtai-rt8600s", limits=SafetyLimits(max_intensity=60)) as chair:
            sim = chair.simulator
            seen = []
            chair.on_status(seen.append)
            report = await chair.run(busy_plan())
            await asyncio.sleep(VENT_S)
            return sim, report, seen

    sim, report, seen = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed and report.stop_status.stopped
    assert_chair_off(sim)
    commands = [e for e in sim.physics.trace if e.kind == "command"]
    assert any(e.snapshot["technique"] == "knead" for e in commands)
    assert any(e.snapshot["airbags"].get("calves") for e in commands)
    assert any(e.snapshot["heat"] == "low" for e in commands)
    assert 1 <= sim.physics.max_intensity_seen <= 3  # 60 % of 5 steps
    # the chair's timer was set once it ran, to the shortest covering the 2-minute session
    assert [e.detail for e in sim.physics.trace if e.kind == "timer"][0] == "set 10 min"
    # the stop went through the board's reset (rollers home) and ended with it off
    resets = [e.detail for e in sim.board.events if e.kind == "reset"]
    assert resets[-2:] == ["returning home", "done: off"]
    assert any(s.extra["run_state"].startswith("resetting") for s in seen)


def test_set_knead_shoulders_at_40_percent_for_10s():
    """`set -t knead -z shoulders -i 40 --for 10s` through the scripting API."""

    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            await chair.set(technique="knead", zones=["shoulders"], intensity=40, duration=10)
            await asyncio.sleep(6)
            during = (sim.board.current_sub(), sim.board.axis_strength + 1, sim.physics.target)
            report = await chair.wait()
            return sim, during, report

    sim, (sub, strength, body), report = run_virtual(main())
    assert sub == SUB_KNEAD and strength == 2  # 40 % of 5 3D strengths
    assert body.technique is Technique.KNEAD and body.zones == {Zone.SHOULDERS}
    assert report.reason == "finished" and report.stop_confirmed
    assert_chair_off(sim)
    assert POWER in sim.keys()[-1:]  # the stop: power, once, last


def test_run_program_and_the_chairs_own_timer_ends_it():
    async def body(device, sim):
        device.plan_session(600)
        status = await device.run_program("relax")
        running = (sim.board.main_mode, sim.board.auto, sim.board.remaining_s())
        await asyncio.sleep(610)
        after = sim.board.state
        stop = await device.stop()  # the chair already ended it: nothing pressed
        return status, running, after, stop, sim

    status, (mode, index, remaining), after, stop, sim = with_device(body)
    assert status.extra["program"] == "relax" and status.running
    assert (mode, index) == (2, 2) and 590 <= remaining <= 600
    assert after == STATE_OFF and stop.stopped
    assert sim.keys() == [POWER, 0x12, 0x50]
    assert_chair_off(sim)


def test_status_reads_off_ready_running_and_resetting():
    async def body(device, sim):
        states = [(await device.read_status()).extra["run_state"]]
        sim.press(POWER)
        await asyncio.sleep(0.5)
        states.append((await device.read_status()).extra["run_state"])
        sim.press(KNEAD)
        await asyncio.sleep(0.5)
        running = await device.read_status()
        states.append(running.extra["run_state"])
        sim.press(POWER)
        await asyncio.sleep(0.3)
        resetting = await device.read_status()
        states.append(resetting.extra["run_state"])
        return states, running, resetting, sim

    states, running, resetting, sim = with_device(body)
    assert states == ["off", "ready", "running", "resetting (returning home)"]
    assert running.running and running.state.technique is Technique.KNEAD
    assert not resetting.running and resetting.stopped and resetting.extra["stop_on_its_way"]
    assert sim.keys() == []  # looking presses nothing


def test_status_of_a_chair_running_from_its_remote_presses_nothing_and_leaves_it_running():
    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            sim.press(POWER)
            await asyncio.sleep(0.2)
            sim.press(KNEAD)
            await asyncio.sleep(1)
            status = await chair.status()
        return status, sim

    status, sim = run_virtual(main())
    assert status.running and status.state.technique is Technique.KNEAD
    assert sim.keys() == [] and sim.board.state == STATE_RUN


def test_stop_of_a_chair_someone_started_at_its_remote_waits_through_the_reset():
    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            for key in (POWER, KNEAD, HEAT, 0x40):
                sim.press(key)
                await asyncio.sleep(0.3)
            phases = []
            chair.device.on_stop_progress = lambda phase, status: phases.append(
                (phase, status.extra["run_state"])
            )
            t0 = now()
            status = await chair.stop()
            return status, phases, now() - t0, sim

    status, phases, took, sim = run_virtual(main())
    assert status.stopped and status.extra["run_state"] == "off"
    assert sim.keys() == [POWER]  # power once; nothing during the reset
    assert phases and all(p == RETURNING_HOME for p, _ in phases)
    assert took > 0.5  # it waited for the board to finish, not just for the press
    assert_chair_off(sim)


def test_a_chair_stopped_at_its_remote_mid_session_is_not_started_again():
    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan(minutes=3)))
            await asyncio.sleep(40)
            assert sim.physics.motors_on
            t_stop = now()
            sim.press(POWER)  # the person in the chair presses stop on its remote
            report = await task
            await asyncio.sleep(30)
            return report, sim, t_stop

    report, sim, t_stop = run_virtual(main())
    assert report.reason == "device-stopped", report
    assert "stopped by itself" in report.message
    assert host_keys_since(sim, t_stop) == []  # not a key: no power, nothing in the reset
    assert_chair_off(sim)


def test_a_chair_stopped_at_its_remote_while_a_state_is_on_its_way():
    """The person's stop lands while apply is still pressing keys (a ramp): nothing more is
    pressed, the session ends device-stopped."""

    async def main():
        async with connect("sim:rongtai-rt8600s") as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(busy_plan(minutes=3)))
            await asyncio.sleep(10)  # the first state is in place; the ramp goes on
            while not chair.device._lock.locked():  # wait for an apply under way
                await asyncio.sleep(0.05)
            t_stop = now()
            sim.press(POWER)
            report = await task
            await asyncio.sleep(VENT_S)
            return report, sim, t_stop

    report, sim, t_stop = run_virtual(main())
    assert report.reason == "device-stopped", report
    assert POWER not in host_keys_since(sim, t_stop)
    assert_chair_off(sim)


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

    assert_chair_off(run_virtual(main()))


def test_rt6923_plays_a_session():
    async def main():
        async with connect("sim:rongtai-rt6923") as chair:
            sim = chair.simulator
            assert isinstance(sim, RongtaiRT6923Sim)
            report = await chair.run(busy_plan(minutes=1))
            await asyncio.sleep(VENT_S)
            return sim, report

    sim, report = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed
    assert all(len(frame) == 18 for _, frame in sim.sent)
    assert_chair_off(sim)


# ------------------------------------------------------------------ reconciliation


def test_reaches_a_target_from_a_chair_in_another_state():
    async def body(device, sim):
        for key in (POWER, KNOCK, HEAT, 0x2B, 0x32, 0x42, 0x49):  # the chair's own remote
            sim.press(key)
            await asyncio.sleep(0.3)
        await device.apply(KNEAD_SHOULDERS)
        return await device.read_status(), sim

    status, sim = with_device(body)
    assert status.state.technique is Technique.KNEAD and status.state.zones == {Zone.SHOULDERS}
    assert (status.state.intensity, status.state.speed) == (2, 4)
    assert dict(status.state.airbags) == {Zone.CALVES: 2, Zone.FEET: 2}
    assert status.state.heat is Heat.LOW
    assert HEAT not in sim.keys() and POWER not in sim.keys()  # already on: never toggled


def test_tap_at_the_lower_back_walks_the_roller_and_takes_width():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        return await device.read_status(), sim

    status, sim = with_device(body)
    assert status.state.technique is Technique.TAP and status.state.width is Width.WIDE
    assert sim.board.sub == SUB_SOFT_KNOCK and sim.board.width_key == 3
    assert status.state.zones & {Zone.MID_BACK, Zone.LOWER_BACK}
    assert 0x62 in sim.keys() and 0x63 in sim.keys()  # walked down, then its stop key


def test_apply_waits_out_a_reset_without_a_key_then_powers_on():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.2)
        sim.press(KNEAD)
        await asyncio.sleep(0.5)
        sim.press(POWER)  # resetting as apply starts (not our session's chair yet)
        await device.apply(TAP_BACK)
        return sim

    sim = with_device(body)
    assert sim.keys_in_reset == 0
    assert sim.keys()[0] == POWER and sim.board.current_sub() == SUB_SOFT_KNOCK


def test_after_the_person_stopped_it_apply_presses_nothing_until_a_stop():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        t_stop = now()
        sim.press(POWER)  # the person switches it off...
        await asyncio.sleep(0.5)
        await device.apply(KNEAD_SHOULDERS)  # ...and the plan goes on: nothing pressed
        pressed = host_keys_since(sim, t_stop)
        ended = device.chair_ended
        await asyncio.sleep(10)
        status = await device.stop()  # the session's stop: presses nothing, confirms
        await device.apply(TAP_BACK)  # a new session may start it again
        return pressed, ended, status, sim

    pressed, ended, status, sim = with_device(body)
    assert pressed == [] and ended == "it was switched off at the chair"
    assert status.stopped
    assert sim.board.state == STATE_RUN and sim.board.sub == SUB_SOFT_KNOCK
    assert sim.keys_in_reset == 0


def test_the_first_state_refused_when_the_person_stops_the_chair_while_it_starts():
    async def body(device, sim):
        async def person():
            await asyncio.sleep(0.5)
            sim.press(POWER)  # the host just switched it on; the person switches it off

        helper = asyncio.create_task(person())
        with pytest.raises(DeviceError, match="ended the session itself"):
            await device.apply(KNEAD_SHOULDERS)
        await helper
        return sim

    sim = with_device(body)
    assert sim.keys_in_reset == 0 and sim.board.state in (STATE_SETTLE, STATE_OFF)


def test_a_key_lost_on_the_link_is_pressed_again():
    faults = FaultInjector()

    async def body(device, sim):
        await device.apply(TAP_BACK)
        faults.drop_incoming(1)  # the next key never reaches the chair
        await device.apply(KNEAD_SHOULDERS)
        return sim

    sim = with_device(body, faults=faults)
    assert sim.board.sub == SUB_KNEAD and sim.board.heat
    assert any("dropped incoming" in what for _, what in faults.log)


def test_a_key_the_chair_never_takes_fails_clearly():
    faults = FaultInjector()

    async def body(device, sim):
        await device.apply(TAP_BACK)
        faults.drop_incoming()  # the chair hears nothing more, but still reports
        with pytest.raises(DeviceError) as info:
            await device.apply(KNEAD_SHOULDERS)
        return str(info.value), sim

    message, sim = with_device(body, faults=faults)
    assert "did not take 'knead'" in message and "4 presses" in message
    assert sim.board.sub == SUB_SOFT_KNOCK  # the toggle was not pressed twice into "off"


def test_a_chair_answering_knock_with_another_technique_code_is_not_pressed_again():
    class SwappedCodes(Board):  # RT6911's builder: knock shows as 4, tap as 2
        def body(self) -> list[int]:
            body = super().body()
            code = (body[0] >> 3) & 7
            swap = {2: 4, 4: 2}.get(code, code)
            body[0] = (body[0] & ~0x38) | (swap << 3)
            return body

    async def body(device, sim):
        sim.board = SwappedCodes(sim.board.model)
        sim.board.t = now()
        knock = DeviceState(technique=Technique.KNOCK, zones=frozenset({Zone.NECK}), intensity=2, speed=2)
        with pytest.raises(DeviceError, match="reports tap"):
            await device.apply(knock)
        return sim

    sim = with_device(body)
    assert sim.keys().count(KNOCK) == 1 and sim.board.sub != SUB_NONE  # still kneading... knocking


def test_corrupted_status_frames_are_skipped():
    faults = FaultInjector()

    async def body(device, sim):
        faults.corrupt_outgoing(n=None, for_s=1.0)
        await device.apply(TAP_BACK)
        return device.decoder.bad_checksum + device.decoder.malformed, sim

    bad, sim = with_device(body, faults=faults)
    assert bad >= 1 and sim.board.sub == SUB_SOFT_KNOCK


# ------------------------------------------------------------------ stop


def test_stop_of_an_off_chair_presses_nothing():
    async def body(device, sim):
        status = await device.stop()
        return status, sim

    status, sim = with_device(body)
    assert status.stopped and sim.keys() == []


def test_stop_during_a_reset_presses_nothing_and_waits_for_off():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        sim.press(POWER)
        await asyncio.sleep(0.3)
        t = now()
        status = await device.stop()
        return status, host_keys_since(sim, t), sim

    status, keys, sim = with_device(body)
    assert status.stopped and keys == [] and sim.board.state == STATE_OFF
    assert sim.keys_in_reset == 0


def test_stop_of_a_ready_chair_powers_it_off_through_its_reset():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        return await device.stop(), sim

    status, sim = with_device(body)
    assert status.stopped and sim.keys() == [POWER] and sim.board.state == STATE_OFF


def test_a_reset_longer_than_the_bound_is_not_confirmed():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        sim.board.timing = Timing(walk_steps_per_s=0.02)  # a very slow return home
        with pytest.raises(StopNotConfirmed, match="returning home .* did not switch off within 5 s"):
            await device.stop()
        return sim

    sim = with_device(body, reset_timeout_s=5.0)
    assert sim.board.state == STATE_SETTLE and sim.keys_in_reset == 0


def test_stop_when_the_chair_hears_nothing_is_not_confirmed():
    faults = FaultInjector()

    async def body(device, sim):
        await device.apply(TAP_BACK)
        faults.drop_incoming()
        with pytest.raises(StopNotConfirmed, match="did not start its reset"):
            await device.stop(timeout=3.0)
        return sim

    sim = with_device(body, faults=faults)
    assert sim.board.state == STATE_RUN  # really not stopped: the error was right


# ------------------------------------------------------------------ stop from a fresh process; looking


def _fresh_process(monkeypatch, *keys: int) -> dict:
    """Make the API's open_device hand over a simulated chair the person has just worked
    at its own remote (``keys``, 0.3 s apart), as ``massager-ctl stop`` or ``status``
    in a new process meets it. Returns a dict that receives the simulator."""
    from massager_ctl import api

    seen: dict = {}
    real_open = api.open_device

    async def open_device(uri=None, **kwargs):
        opened = await real_open(uri, **kwargs)
        seen["sim"] = sim = opened.simulator
        sim.board.timing = Timing(knead_park_s=3.0)  # a reset that lasts a few seconds
        for key in keys:
            sim.press(key)
            await asyncio.sleep(0.3)
        seen["t"] = now()
        return opened

    monkeypatch.setattr(api, "open_device", open_device)
    return seen


@pytest.mark.parametrize(
    "keys,pressed,returns_home",
    [
        ((), [], False),  # off: power would switch it on
        ((POWER,), [POWER], True),  # ready
        ((POWER, KNEAD, HEAT), [POWER], True),  # running, started at its remote
        ((POWER, KNEAD, HEAT, POWER), [], True),  # resetting: a key would cut the return home short
    ],
    ids=["off", "ready", "running", "resetting"],
)
def test_stop_from_a_fresh_process_reads_the_chair_before_it_presses_power(
    keys, pressed, returns_home, monkeypatch
):
    import massager_ctl

    seen = _fresh_process(monkeypatch, *keys)
    phases = []

    async def main():
        status = await massager_ctl.stop(
            "sim:rongtai-rt8600s", on_progress=lambda phase, _status: phases.append(phase)
        )
        return status, seen["sim"].keys()

    status, keys_heard = run_virtual(main())
    assert keys_heard == pressed
    assert status.stopped and status.confirmed and status.extra["run_state"] == "off"
    assert (RETURNING_HOME in phases) == returns_home  # a reset is waited through, not cut short
    assert seen["sim"].board.state == STATE_OFF and seen["sim"].keys_in_reset == 0


def test_looking_at_a_chair_running_its_own_program_presses_nothing(monkeypatch):
    """`status` (observe) on a chair started at its remote: it reads the program, refuses
    every key on that connection, and leaves the chair running when it closes."""
    import massager_ctl

    seen = _fresh_process(monkeypatch, POWER, 0x12)  # power, relax

    async def main():
        statuses = []
        async with massager_ctl.observe("sim:rongtai-rt8600s") as chair:
            async for status in chair.watch(0.5):
                statuses.append(status)
                if len(statuses) >= 20:
                    break
            for call in (chair.device.apply(TAP_BACK), chair.device.run_program("relax")):
                with pytest.raises(DeviceError, match="observe only"):
                    await call
            with pytest.raises(StopNotConfirmed, match="observe only"):
                await chair.device.stop()
        await asyncio.sleep(5)
        return statuses, seen["sim"]

    statuses, sim = run_virtual(main())
    assert all(s.running and s.extra["program"] == "relax" for s in statuses)
    assert sim.keys() == []  # not one key frame reached the board
    assert sim.board.state == STATE_RUN and sim.physics.motors_on


def test_stopped_target_powers_the_chair_off_once():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        t = now()
        await device.apply(DEVICE_STOPPED)
        keys = host_keys_since(sim, t)
        await asyncio.sleep(10)
        return keys, sim

    keys, sim = with_device(body)
    assert keys == [POWER] and sim.board.state == STATE_OFF


# ------------------------------------------------------------------ the chair's own timer


def test_the_chairs_timer_ends_the_session_when_the_host_goes_silent():
    faults = FaultInjector()

    async def body(device, sim):
        device.plan_session(300)
        await device.apply(KNEAD_SHOULDERS)
        faults.drop_incoming()  # the host goes silent: the chair hears nothing more
        await asyncio.sleep(620)
        return sim

    sim = with_device(body, faults=faults)
    assert sim.board.state == STATE_OFF  # the 10-minute timer set at the start ended it
    assert any(e.kind == "timer" and e.detail == "expired" for e in sim.board.events)
    assert_chair_off(sim)


def test_the_timer_is_renewed_while_the_host_is_alive():
    async def body(device, sim):
        device.plan_session(600)
        await device.apply(TAP_BACK)
        for _ in range(40):  # 800 s: the writer would call keepalive every 20 s
            await asyncio.sleep(20)
            await device.keepalive()
        return sim

    sim = with_device(body)
    assert sim.board.state == STATE_RUN and sim.board.sub == SUB_SOFT_KNOCK
    assert sim.keys().count(0x50) >= 2


# ------------------------------------------------------------------ the link


def test_dropped_status_stream_is_a_clear_error_not_a_hang():
    faults = FaultInjector()

    async def body(device, sim):
        await device.apply(TAP_BACK)
        faults.stop_status()
        with pytest.raises(DeviceTimeout, match="status stream stopped"):
            await device.read_status(timeout=5.0)
        return sim

    with_device(body, faults=faults)


def test_info_frames_at_connect_are_not_a_wrong_device():
    async def body(device, sim):
        await asyncio.sleep(2)
        return device.decoder.info_frames, device.decoder.malformed, sim.info_frames

    info, malformed, sent = with_device(body)
    assert info >= 3 and malformed == 0 and sent == info


def test_connect_to_a_silent_line_fails_clearly():
    async def main():
        link = MemoryLink()
        device = RongtaiDevice(link.host, open_timeout_s=2.0)
        with pytest.raises(DeviceTimeout, match="no status frame"):
            await device.connect()

    run_virtual(main())


def test_connect_with_the_wrong_model_names_the_problem():
    async def main():
        link = MemoryLink()
        sim = RongtaiRT6923Sim(link.device)
        await sim.start()
        device = RongtaiDevice(link.host, name="rongtai-rt8600s", open_timeout_s=2.0)
        try:
            with pytest.raises(DeviceTimeout, match="18-byte"):
                await device.connect()
        finally:
            await sim.close()

    run_virtual(main())


def test_link_cut_fails_pending_waits_at_once():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        wait = asyncio.create_task(device.read_status(timeout=30))
        await asyncio.sleep(0.01)
        sim.transport.link.cut("test cut")
        with pytest.raises(DeviceDisconnected):
            await wait
        return sim

    with_device(body)


# ------------------------------------------------------------------ programs, motors, faults


def test_unknown_program_refused():
    async def body(device, sim):
        with pytest.raises(ValueError, match="no program"):
            await device.run_program("nap")

    with_device(body)


def test_move_sends_its_stop_key_and_b10_is_read_for_the_rest():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        status = await device.move("backrest_down", 4.0)
        return status, sim

    status, sim = with_device(body)
    assert sim.keys() == [0x66, 0x67]
    assert 0.15 < sim.board.positions["backrest"] < 0.3 and not sim.board.motors
    assert status.extra["backrest"] == "still"


def test_no_motor_stop_key_once_the_person_stopped_the_chair_mid_move():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        move = asyncio.create_task(device.move("backrest_down", 6.0))
        await asyncio.sleep(2.0)
        sim.press(POWER)  # the person stops it: the board resets, returning the backrest
        await move
        await asyncio.sleep(20)
        return sim

    sim = with_device(body)
    assert sim.keys() == [0x66]  # the stop key would have switched the resetting board off
    assert sim.keys_in_reset == 0 and sim.board.positions["backrest"] == 0.0


def test_zero_gravity_reaches_its_pose():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        status = await device.zero_gravity()
        return status, sim

    status, sim = with_device(body)
    assert status.extra["zero_gravity"] and sim.board.positions["backrest"] == pytest.approx(0.6)
    assert sim.keys() == [0x70]  # nothing moving any more: no stop keys needed


def test_zero_gravity_cut_short_is_halted_by_the_stop_keys_b10_names():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        await device.zero_gravity(timeout=2.0)
        await asyncio.sleep(1.0)
        return sim

    sim = with_device(body)
    assert sim.keys()[0] == 0x70 and 0x67 in sim.keys()  # backrest going down: its stop key
    assert not sim.board.motors and 0.05 < sim.board.positions["backrest"] < 0.2


def test_fault_reported_by_the_chair_is_refused_and_stop_presses_nothing():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        sim.trip_fault()
        await asyncio.sleep(0.5)
        with pytest.raises(DeviceError, match="fault"):
            await device.apply(KNEAD_SHOULDERS)
        t = now()
        status = await device.stop()
        return status, host_keys_since(sim, t)

    status, keys = with_device(body)
    assert keys == [] and status.fault and not status.running


def test_connect_again_after_a_lost_link():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        device.transport._lost_link("radio blip")  # the host end saw the link drop
        assert not device.connected
        await device.connect()  # the in-memory link itself is still up: reopen works
        await device.apply(KNEAD_SHOULDERS)
        return await device.stop(), sim

    status, sim = with_device(body)
    assert status.stopped and sim.board.state == STATE_OFF


def test_chair_in_ready_for_a_minute_goes_off_by_itself():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(61)
        return sim

    sim = with_device(body)
    assert sim.board.state == STATE_OFF and sim.keys() == []
    assert STATE_WAIT_COMMAND != STATE_OFF


def test_the_person_using_the_chair_between_sessions_does_not_block_the_next_one():
    async def body(device, sim):
        await device.apply(TAP_BACK)
        await device.stop()
        sim.press(POWER)  # after our session: the person uses the chair...
        await asyncio.sleep(0.5)
        sim.press(KNEAD)
        await asyncio.sleep(0.5)
        sim.press(POWER)  # ...and switches it off again
        await asyncio.sleep(5)
        ended = device.chair_ended
        await device.apply(KNEAD_SHOULDERS)  # the next session starts it
        return ended, sim

    ended, sim = with_device(body)
    assert ended is None and sim.board.current_sub() == SUB_KNEAD and sim.keys_in_reset == 0


def test_the_person_stopping_the_chair_while_a_program_starts_is_respected():
    async def body(device, sim):
        async def person():
            await asyncio.sleep(0.5)
            sim.press(POWER)

        helper = asyncio.create_task(person())
        with pytest.raises(DeviceError, match="ended the session itself"):
            await device.run_program("relax")
        await helper
        await asyncio.sleep(5)
        return sim

    sim = with_device(body)
    assert sim.board.state == STATE_OFF and sim.keys() == [POWER] and sim.keys_in_reset == 0


def test_a_roller_that_does_not_walk_is_not_walked_until_the_apply_times_out():
    async def body(device, sim):
        sim.board.timing.walk_steps_per_s = 0.01  # it barely moves
        loop_start = now()
        await device.apply(
            DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.LOWER_BACK}), intensity=2)
        )
        return now() - loop_start, sim

    took, sim = with_device(body, max_walk_s=3.0)
    assert took < 15 and sim.keys().count(0x62) == 2  # two walks, then the point where it is
    assert sim.board.locate == 3


def test_no_motor_key_for_a_resetting_chair():
    async def body(device, sim):
        sim.press(POWER)
        await asyncio.sleep(0.3)
        sim.press(0x66)  # the person reclines it...
        await asyncio.sleep(3)
        sim.press(0x67)
        sim.press(POWER)  # ...and stops it: it is returning home
        await asyncio.sleep(0.5)
        for call in (device.move("backrest_up", 2.0), device.zero_gravity()):
            with pytest.raises(DeviceError, match="resetting"):
                await call
        return sim

    sim = with_device(body)
    assert sim.keys() == [] and sim.keys_in_reset == 0
