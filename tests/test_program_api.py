"""`Chair.run_program`: a chair's own built-in program, through the API and the governor.

In virtual time on the simulated Rongtai chair, judged by the simulator's own state
(its key log, its main board as the firmware behaves, its physics), never by what the
host believes. The person's keys are the board's own codes (firmware.py), not the
driver's key table.
"""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import connect, observe
from massager_ctl.core.errors import DeviceError, DeviceFault, SafetyError, UsageError
from massager_ctl.core.vocabulary import Heat
from massager_ctl.devices.rongtai.firmware import (
    KEY_CHAIR_AUTO,
    KEY_HEAT,
    KEY_POWER_SWITCH,
    KEY_WORK_TIME,
    MODE_AUTO,
    STATE_OFF,
    STATE_PROBLEM,
)
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.program import DEFAULT_PROGRAM_S, GRACE_S

CHAIR = "sim:rongtai-rt8600s"
#: Long enough for the airbags to vent after the chair stopped.
VENT_S = 10.0
#: "relax" is the chair's third auto program (the board's AUTO_2, key 0x12).
RELAX = KEY_CHAIR_AUTO.index(0x12)
#: The chair's own timer key for 30 min.
TIMER_30_MIN = next(key for key, seconds in KEY_WORK_TIME.items() if seconds == 1800)


def assert_chair_stopped(sim) -> None:
    """The board off (its reset done), the body still, no key ever during a reset."""
    physics = sim.physics
    assert physics.target.is_stopped, physics.target
    assert not physics.heat_on and not physics.motors_on
    assert sim.board.state == STATE_OFF and not sim.board.heat, sim.board.state
    assert physics.stopped
    assert sim.keys_in_reset == 0


def plays_relax(sim) -> bool:
    """The board runs the relax auto program."""
    board = sim.board
    return board.main_mode == MODE_AUTO and board.auto == RELAX


async def let_the_airbags_vent(sim) -> None:
    """Wait :data:`VENT_S`. The body goes on after the link closed: its airbags empty by
    themselves, so the physics is brought up to now (the board is judged separately)."""
    await asyncio.sleep(VENT_S)
    sim.physics.advance(asyncio.get_running_loop().time())


def host_presses(sim, key: int, after: float = 0.0) -> list[float]:
    """When the host's key frames with ``key`` reached the chair."""
    return [t for t, k in sim.received if k == key and t >= after]


def test_a_script_runs_a_program_until_the_chairs_own_timer():
    seen = []

    async def main():
        async with connect(CHAIR) as chair:
            assert "relax" in chair.programs
            report = await chair.run_program("relax", duration="10m", on_progress=seen.append)
            sim = chair.simulator
        await let_the_airbags_vent(sim)
        return report, sim

    report, sim = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed
    assert report.message == "ended by the chair's own timer"
    assert 600 <= report.elapsed_s <= 605 and report.length_s == 600
    trace = [(e.kind, e.detail) for e in sim.physics.trace]
    assert ("timer", "set 10 min") in trace and ("timer", "expired") in trace
    assert_chair_stopped(sim)
    # progress: the program by name, the chair's own timer counting down
    assert seen and all(p.program == "relax" for p in seen)
    assert seen[0].status.extra["program"] == "relax"
    assert seen[-1].remaining_s < 10 < seen[0].remaining_s <= 600


def test_default_length_is_the_chairs_default_for_programs():
    async def main():
        async with connect(CHAIR) as chair:
            return await chair.run_program("stretch")

    report = run_virtual(main())
    assert report.length_s == DEFAULT_PROGRAM_S == 1200
    assert report.reason == "finished" and 1200 <= report.elapsed_s <= 1205


def test_heat_is_switched_off_by_the_governor_at_the_configured_auto_off_time():
    """Heat the person switches on at the chair's remote mid-program counts against the
    governor's heat budget; at heat_auto_off the host switches it off, the program goes on."""
    warnings = []
    limits = SafetyLimits(heat_auto_off_s=120)

    async def main():
        async with connect(CHAIR, limits=limits) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m", on_warning=warnings.append))
            await asyncio.sleep(60)
            sim.press(KEY_HEAT)  # the person, at the chair's remote
            heat_on_at = asyncio.get_running_loop().time()
            assert sim.physics.heat_on
            await asyncio.sleep(119)
            assert sim.physics.heat_on, "switched off before its time"
            await asyncio.sleep(3)
            assert not sim.physics.heat_on, "heat still on past heat_auto_off"
            assert plays_relax(sim) and sim.physics.motors_on  # the program goes on
            report = await task
        return report, sim, heat_on_at

    report, sim, heat_on_at = run_virtual(main())
    offs = host_presses(sim, KEY_HEAT, after=heat_on_at)
    assert offs, "the host never switched the heat off"
    assert 120 <= offs[0] - heat_on_at <= 121.5  # the governor's deadline, plus one status frame
    assert any("heat auto-off" in w for w in warnings)
    assert report.warnings == warnings
    assert report.reason == "finished" and report.stop_confirmed


def test_heat_switched_on_again_after_auto_off_goes_off_again_at_once():
    limits = SafetyLimits(heat_auto_off_s=60)

    async def main():
        async with connect(CHAIR, limits=limits) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(10)
            sim.press(KEY_HEAT)  # the person, at the chair's remote
            await asyncio.sleep(70)
            assert not sim.physics.heat_on
            sim.press(KEY_HEAT)  # the person, at the chair's remote  # on again: off for good
            again = asyncio.get_running_loop().time()
            await asyncio.sleep(2)
            assert not sim.physics.heat_on
            chair.program.stop()
            await task
            return sim, again

    sim, again = run_virtual(main())
    assert host_presses(sim, KEY_HEAT, after=again)


def test_heat_above_the_heat_cap_is_switched_off_at_once():
    async def main():
        async with connect(CHAIR, limits=SafetyLimits(max_heat=Heat.OFF)) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(30)
            sim.press(KEY_HEAT)  # the person, at the chair's remote
            on_at = asyncio.get_running_loop().time()
            await asyncio.sleep(2)
            heat_now = sim.physics.heat_on
            chair.program.stop()
            await task
            return sim, on_at, heat_now

    sim, on_at, heat_now = run_virtual(main())
    assert not heat_now
    offs = host_presses(sim, KEY_HEAT, after=on_at)
    assert offs and offs[0] - on_at <= 1.5


def test_the_session_cap_stops_a_program():
    """Length = cap: the governor's cap comes before the chair's own timer ends it."""

    async def main():
        async with connect(CHAIR, limits=SafetyLimits(max_session_s=600)) as chair:
            report = await chair.run_program("relax", duration=600)
            sim = chair.simulator
            at = asyncio.get_running_loop().time()
        await let_the_airbags_vent(sim)
        return report, sim, at

    report, sim, at = run_virtual(main())
    assert report.reason == "cap" and "cap" in report.message and report.stop_confirmed
    assert 600 <= report.elapsed_s <= 601.5
    assert ("timer", "expired") not in [(e.kind, e.detail) for e in sim.physics.trace]
    assert_chair_stopped(sim)


def test_a_chair_still_running_after_its_timer_is_stopped_by_the_host():
    """The person set the chair's timer to 30 min at its remote: at 10 min plus the
    grace the host stops it."""

    async def main():
        async with connect(CHAIR) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(30)
            sim.press(TIMER_30_MIN)  # at the chair's remote
            report = await task
        await let_the_airbags_vent(sim)
        return report, sim

    report, sim = run_virtual(main())
    assert report.reason == "overran" and report.stop_confirmed
    assert 600 + GRACE_S <= report.elapsed_s <= 600 + GRACE_S + 2
    assert_chair_stopped(sim)


def test_a_program_ended_at_the_chair_is_reported_so():
    async def main():
        async with connect(CHAIR) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(90)
            sim.press(KEY_POWER_SWITCH)  # the person's stop
            report = await task
        await let_the_airbags_vent(sim)
        return report, sim

    report, sim = run_virtual(main())
    assert report.reason == "device-stopped" and report.message == "ended at the chair"
    assert 90 <= report.elapsed_s <= 92
    assert_chair_stopped(sim)


def test_the_persons_stop_while_the_host_switches_the_heat_off_ends_it_as_the_chair_did():
    """The governor's heat-off is on its way when the person stops the chair at its remote:
    the driver refuses to press on (the chair is resetting), and the program ends as the
    chair ended it, not as an error; no key reaches the board after the person's stop."""

    async def main():
        async with connect(CHAIR, limits=SafetyLimits(max_heat=Heat.OFF)) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(30)
            sim.press(KEY_HEAT)  # above the heat cap: the host will switch it off
            while not chair.device._lock.locked():  # the heat-off under way
                await asyncio.sleep(0.01)
            stop_at = asyncio.get_running_loop().time()
            sim.press(KEY_POWER_SWITCH)  # the person's stop
            report = await task
            keys_after = [k for t, k in sim.received if t >= stop_at]
        await let_the_airbags_vent(sim)
        return report, keys_after, sim

    report, keys_after, sim = run_virtual(main())
    assert report.reason == "device-stopped" and report.message == "ended at the chair", report
    assert keys_after == []
    assert report.stop_confirmed
    assert_chair_stopped(sim)


def test_a_fault_the_chair_reports_ends_the_program_as_a_fault():
    """The board goes to its fault state mid-program: a fault, not "ended at the chair";
    nothing is pressed on a faulted chair (power would take it to ready)."""
    heard = []

    async def main():
        async with connect(CHAIR) as chair:
            sim = chair.simulator
            chair.on_fault(heard.append)
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(30)
            fault_at = asyncio.get_running_loop().time()
            sim.trip_fault()
            with pytest.raises(DeviceFault, match="reports a fault"):
                await task
            keys_after = [k for t, k in sim.received if t >= fault_at]
            await asyncio.sleep(VENT_S)
            return keys_after, sim

    keys_after, sim = run_virtual(main())
    assert heard and keys_after == []
    assert sim.board.state == STATE_PROBLEM and sim.physics.stopped


# -- every way out leaves the chair stopped ---------------------------------------------


def test_chair_stop_from_another_task_ends_the_program():
    async def main():
        async with connect(CHAIR) as chair:
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(60)
            assert chair.simulator.physics.motors_on
            status = await chair.stop()
            report = await task
            sim = chair.simulator
            await let_the_airbags_vent(sim)
            return status, report, sim

    status, report, sim = run_virtual(main())
    assert status.stopped and report.reason == "stopped"
    assert_chair_stopped(sim)


def test_ctrl_c_during_a_program_stops_the_chair_even_when_pressed_twice():
    async def main():
        async with connect(CHAIR) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run_program("relax", duration="20m"))
            await asyncio.sleep(60)
            assert plays_relax(sim) and sim.physics.motors_on
            task.cancel()
            await asyncio.sleep(0.005)  # the stop is on its way...
            task.cancel()  # ...and a second Ctrl-C must not abort it
            with pytest.raises(asyncio.CancelledError):
                await task
            stopped_while_connected = sim.board.state == STATE_OFF
        await let_the_airbags_vent(sim)
        return sim, stopped_while_connected

    sim, stopped_while_connected = run_virtual(main())
    assert stopped_while_connected  # by the program's own finally, not only by close()
    assert_chair_stopped(sim)


def test_an_exception_in_the_host_during_a_program_stops_the_chair():
    def explode(progress):
        if progress.elapsed_s > 30:
            raise RuntimeError("bug in a progress listener")

    async def main():
        async with connect(CHAIR) as chair:
            sim = chair.simulator
            with pytest.raises(RuntimeError):
                await chair.run_program("relax", duration="10m", on_progress=explode)
            stopped_while_connected = sim.board.state == STATE_OFF
        await let_the_airbags_vent(sim)
        return sim, stopped_while_connected

    sim, stopped_while_connected = run_virtual(main())
    assert stopped_while_connected
    assert_chair_stopped(sim)


def test_leaving_the_connect_block_with_a_program_running_stops_the_chair():
    seen = {}

    async def main():
        async with connect(CHAIR) as chair:
            seen["sim"] = chair.simulator
            seen["task"] = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(60)
            assert chair.simulator.physics.motors_on
        await let_the_airbags_vent(seen["sim"])
        return await seen["task"]

    report = run_virtual(main())
    assert report.reason == "stopped"
    assert_chair_stopped(seen["sim"])


# -- refused before anything is sent ---------------------------------------------------


@pytest.mark.parametrize(
    "uri,name,kwargs,error,message",
    [
        ("sim:", "relax", {}, UsageError, "has no built-in programs"),
        (CHAIR, "nap", {}, UsageError, "it has: recovery"),
        (CHAIR, "relax", {"duration": "15m"}, UsageError, "offers 10, 20, 30 min"),
        (CHAIR, "relax", {"duration": "soon"}, UsageError, "duration"),
        (CHAIR, "relax", {"duration": 0}, UsageError, "duration"),
        (CHAIR, "relax", {"duration": "30m"}, SafetyError, "above the 20m session cap"),
    ],
)
def test_refused_requests_send_nothing(uri, name, kwargs, error, message):
    async def main():
        async with connect(uri, limits=SafetyLimits(max_session_s=1200)) as chair:
            sent_before = len(getattr(chair.simulator, "received", ()))
            with pytest.raises(error, match=message):
                await chair.run_program(name, **kwargs)
            return sent_before, len(getattr(chair.simulator, "received", ()))

    before, after = run_virtual(main())
    assert before == after  # nothing reached the chair


def test_an_observing_chair_refuses_a_program_and_presses_nothing():
    async def main():
        async with observe(CHAIR) as chair:
            with pytest.raises(UsageError, match="observe only"):
                await chair.run_program("relax", duration="10m")
            return chair.simulator.keys()

    assert run_virtual(main()) == []


def test_a_second_program_or_session_is_refused_while_one_plays():
    async def main():
        async with connect(CHAIR) as chair:
            task = asyncio.create_task(chair.run_program("relax", duration="10m"))
            await asyncio.sleep(5)
            with pytest.raises(DeviceError, match="already playing"):
                await chair.run_program("stretch", duration="10m")
            assert plays_relax(chair.simulator)
            await chair.stop()
            return await task

    assert run_virtual(main()).reason == "stopped"
