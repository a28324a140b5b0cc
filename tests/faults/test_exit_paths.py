"""One named test per way out of a session, each judged from the simulated chair's state.

If one of these fails, its name says which stop path broke:

=====================================  ===============================================
test                                   the stop path it guards
=====================================  ===============================================
test_exit_path_plan_finishes           Session.run's finally: the prepared stop at the end
test_exit_path_session_stop            Session.stop() from another task (a UI, `stop`)
test_exit_path_chair_stop              Chair.stop() in a script (ends a `set` hold)
test_exit_path_leaving_connect_block   Chair.close() when `async with connect()` exits
test_exit_path_session_cap             the governor's session-length cap
test_exit_path_exception_in_host       an exception in the host (a listener's bug)
test_exit_path_task_cancelled          cancellation (what Ctrl-C does to a script),
                                       and a second cancel during the stop
test_exit_path_sigint_cli              `massager-ctl run` + SIGINT: exit 130, stopped
test_exit_path_sigterm_cli             `massager-ctl run` + SIGTERM: exit 143, stopped
test_exit_path_signal_program_cli      `massager-ctl program` + SIGINT / SIGTERM: the same
test_exit_path_link_lost               the device's own deadman (host cannot reach it)
(test_host_signals.py::test_sigkill_of_the_host_the_device_stops_itself[sim-chair]:
 SIGKILL of the host process: the deadman, across processes, on a pty)
(test_host_signals.py::test_every_signal_*: SIGHUP, SIGQUIT, SIGUSR1/2, Ctrl-Z and a second
 signal during the stop, the cli/signals.py guard, across processes)
=====================================  ===============================================

The in-process ones run on sim-chair in virtual time; "stopped" means the simulator's
physics shows motors off, heat off and (VENT_S later) the airbags vented, and the stop
event comes within STOP_S of the moment the path was taken.
"""

from __future__ import annotations

import asyncio

import pytest
from bounds import LIMITS, SIGNAL_EXIT_S, VENT_S
from fault_kit import run_guarded, scenario_plan
from process_kit import SIGNALS, failures_of, program_signal_run, signal_runs

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceDisconnected
from massager_ctl.session.limits import SafetyLimits

#: From taking an exit path to the chair's own "stop" event (stop frame, ACK, one gap).
STOP_S = 0.5
#: The native deadman (the chair stops itself this long after the host's last frame).
DEADMAN_S = 1.5


def _stop_events(sim, after: float):
    return [e for e in sim.physics.trace if e.kind == "stop" and e.t >= after - 1e-9]


def assert_stopped_by_host(sim, at: float) -> None:
    """The chair's physics: a commanded stop within STOP_S of ``at``, then everything off."""
    stops = _stop_events(sim, at)
    assert stops, f"no stop reached the chair after t={at}: {sim.physics.trace[-3:]}"
    assert stops[0].detail == "stop", f"stopped by {stops[0].detail!r}, not by the host"
    assert stops[0].t - at <= STOP_S, f"stop came {stops[0].t - at:.3f} s after the exit"
    _assert_off_and_vented(sim)


def _assert_off_and_vented(sim) -> None:
    physics = sim.physics
    assert physics.target.is_stopped and not physics.heat_on and not physics.motors_on
    physics.advance(physics.now + VENT_S)  # let the airbags vent (the physics is analytic)
    assert physics.stopped, [(z, physics.airbag_pressure(z)) for z in physics._pressure]


def _plan(sim):
    return scenario_plan(sim.capabilities)


async def _running_for(chair, seconds: float, **run_kwargs) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(chair.run(_plan(chair.simulator), **run_kwargs))
    await asyncio.sleep(seconds)
    assert chair.simulator.physics.motors_on, "the chair should be running by now"
    return task


def test_exit_path_plan_finishes():
    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            loop = asyncio.get_running_loop()
            report = await chair.run(_plan(chair.simulator))
            return chair.simulator, report, loop.time()

    sim, report, ended = run_guarded(main())
    assert report.reason == "finished" and report.stop_confirmed
    plan_end = ended - (report.elapsed_s - report.plan_ms / 1000)  # the loop time of plan end
    assert_stopped_by_host(sim, plan_end - 0.1)


def test_exit_path_session_stop():
    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            task = await _running_for(chair, 5)
            at = asyncio.get_running_loop().time()
            chair.session.stop()
            report = await task
            return chair.simulator, report, at

    sim, report, at = run_guarded(main())
    assert report.reason == "stopped" and report.stop_confirmed
    assert_stopped_by_host(sim, at)


def test_exit_path_chair_stop():
    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            await chair.set(
                technique="knead", zones=["shoulders"], intensity=50, heat="high", airbags={"calves": 60}
            )
            await asyncio.sleep(5)
            assert chair.simulator.physics.motors_on
            at = asyncio.get_running_loop().time()
            status = await chair.stop()
            return chair.simulator, status, at

    sim, status, at = run_guarded(main())
    assert status.stopped
    assert_stopped_by_host(sim, at)


def test_exit_path_leaving_connect_block():
    """A script that leaves ``async with connect()`` with a hold still running."""
    seen = {}

    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            seen["sim"] = chair.simulator
            await chair.set(technique="tap", zones=["upper_back"], intensity=40, heat="low")
            await asyncio.sleep(5)
            assert chair.simulator.physics.motors_on
            seen["at"] = asyncio.get_running_loop().time()
        # leaving the block: Chair.close() must stop the chair before disconnecting

    run_guarded(main())
    assert_stopped_by_host(seen["sim"], seen["at"])


def test_exit_path_session_cap():
    """A paused session still reaches the session-length cap, and is stopped there."""
    limits = SafetyLimits(max_intensity=LIMITS.max_intensity, max_session_s=30)

    async def main():
        async with connect("sim:", limits=limits) as chair:
            task = await _running_for(chair, 5)
            chair.session.pause()  # heat stays on while paused; the cap keeps counting
            report = await task
            return chair.simulator, report

    sim, report = run_guarded(main())
    assert report.reason == "cap" and report.stop_confirmed
    assert_stopped_by_host(sim, 30.0 - 0.1)


def test_exit_path_exception_in_host():
    def explode(progress):
        if progress.plan_ms > 5_000:
            raise RuntimeError("bug in a progress listener")

    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            with pytest.raises(RuntimeError):
                await chair.run(_plan(chair.simulator), on_progress=explode)
            return chair.simulator

    sim = run_guarded(main())
    assert_stopped_by_host(sim, 5.0)


def test_exit_path_task_cancelled():
    """Cancel the session (Ctrl-C in a script), and cancel again while it stops."""

    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            task = await _running_for(chair, 5)
            at = asyncio.get_running_loop().time()
            task.cancel()
            await asyncio.sleep(0.005)  # the stop is on its way...
            task.cancel()  # ...and an impatient second Ctrl-C must not abort it
            with pytest.raises(asyncio.CancelledError):
                await task
            return chair.simulator, at

    sim, at = run_guarded(main())
    assert_stopped_by_host(sim, at)


def test_exit_path_link_lost():
    """The host cannot stop what it cannot reach: the chair's deadman must."""

    async def main():
        async with connect("sim:", limits=LIMITS) as chair:
            task = await _running_for(chair, 5)
            at = asyncio.get_running_loop().time()
            chair._opened.link.cut("exit path test: cable pulled")
            with pytest.raises(DeviceDisconnected):
                await task
            await asyncio.sleep(DEADMAN_S + 0.1)
            return chair.simulator, at

    sim, at = run_guarded(main())
    stops = _stop_events(sim, at)
    assert stops and stops[0].detail == "deadman", sim.physics.trace[-3:]
    assert stops[0].t - at <= DEADMAN_S + 1e-6
    _assert_off_and_vented(sim)


def _cli_signal(signame, tmp_path):
    results = asyncio.run(signal_runs("sim-chair", [("ramp", signame)], tmp_path))
    failures = failures_of("sim-chair", results)
    assert not failures, failures
    assert results[0]["took"] <= SIGNAL_EXIT_S


@pytest.mark.slow  # a real `massager-ctl run` process
def test_exit_path_sigint_cli(tmp_path):
    """Ctrl-C at `massager-ctl run`: asyncio cancels the session, its finally stops the chair."""
    _cli_signal("SIGINT", tmp_path)


@pytest.mark.slow  # a real `massager-ctl run` process
def test_exit_path_sigterm_cli(tmp_path):
    """SIGTERM at `massager-ctl run`: the CLI's handler cancels the session the same way
    (without it, SIGTERM would kill the process with the chair still running)."""
    _cli_signal("SIGTERM", tmp_path)


@pytest.mark.parametrize("signame", list(SIGNALS))
def test_exit_path_signal_program_cli(signame, tmp_path):
    """Ctrl-C or SIGTERM at `massager-ctl program`: the chair's own program is stopped by
    Chair.run_program's finally, as a profile session is by Session.run's."""
    result = asyncio.run(program_signal_run("rongtai-rt8600s", "relax", signame, tmp_path))
    _, code = SIGNALS[signame]
    assert result["code"] == code, result["stderr"]
    assert result["took"] <= SIGNAL_EXIT_S
    trace = result["trace"]
    assert trace is not None, "no simulator trace: the process died without stopping the chair"
    assert trace["target_stopped"] and not trace["motors_on"] and not trace["heat_on"], trace
    events = trace["trace"]
    seen = [(e["kind"], e["detail"]) for e in events]
    assert ("key", "auto program 3") in seen  # relax, the board's third auto program, was under way
    stops = [e for e in events if e["kind"] == "stop"]
    powers = [e for e in events if e["kind"] == "key" and e["detail"] == "power"]
    # stopped by the host's power key within seconds (the board's reset), not by the
    # chair's 10-min timer; the reset ran to its end before the process left
    assert stops and stops[-1]["detail"] == "returning home", events[-4:]
    assert powers and powers[-1]["t"] <= stops[-1]["t"] < 60, events[-4:]
    assert ("timer", "expired") not in seen
    assert seen[-1] == ("reset", "done: off"), events[-4:]
    assert not [d for _, d in seen if "during the reset" in d]  # no key cut the reset short
