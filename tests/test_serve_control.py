"""`serve`'s control socket: several clients on one chair, through the service's governor.

Real Unix sockets and the real service, in one loop on a sped-up clock (the simulated
chair keeps pace); clients are `massager_ctl.connect("service:...")`, as a script's.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest
from servekit import chair_off, running_service, until

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceError, UsageError
from massager_ctl.core.status import DeviceState
from massager_ctl.remote.paths import control_socket_path
from massager_ctl.session.clock import ScaledClock
from massager_ctl.session.limits import SafetyLimits

SCALE = 20.0


def run(coro):
    return ScaledClock(SCALE).run(coro)


def test_two_clients_one_chair_and_stop_from_the_other_wins(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path) as service:
            sim = service.devices["chair"].opened.simulator
            async with connect("service:chair") as player, connect("service:") as watcher:
                statuses = []
                watcher.on_status(statuses.append)
                segments = []
                play = asyncio.ensure_future(
                    player.run("quick", on_progress=lambda p: segments.append(p.segment))
                )
                await until(lambda: sim.physics.motors_on, what="the chair to start")
                await until(lambda: any(s.running for s in statuses), what="the watcher to see it run")
                stop_status = await watcher.stop()
                report = await play
                return report, stop_status, chair_off(sim), segments

    report, stop_status, stopped, segments = run(main())
    assert report.reason == "stopped" and report.stop_confirmed
    assert stop_status.stopped and stopped
    assert segments[0] == "warm-up"


def test_a_client_that_leaves_mid_session_leaves_no_chair_running(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            async with connect("service:chair") as chair:
                task = asyncio.ensure_future(chair.run("quick"))
                await until(lambda: sim.physics.motors_on, what="the chair to start")
                await chair.channel.close()  # the client is gone (killed, closed its terminal)
                with pytest.raises(DeviceError):
                    await task
            await until(lambda: served.job is None and sim.physics.stopped, what="the service to stop it")
            return served.last_end.reason

    assert run(main()) == "stopped"


def test_a_second_job_is_refused_and_a_stop_is_never_refused(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path) as service:
            sim = service.devices["chair"].opened.simulator
            async with connect("service:chair") as a, connect("service:chair") as b:
                await a.set(technique="knead", zones=["shoulders"], intensity=40)
                await until(lambda: sim.physics.motors_on, what="the hold to start")
                with pytest.raises(DeviceError, match="playing; stop it first"):
                    await b.run("quick")
                # two stops at once, from both: both confirmed, nothing left running
                s1, s2 = await asyncio.gather(a.stop(), b.stop())
                report = await a.wait()
                return s1.stopped, s2.stopped, chair_off(sim), report.reason

    assert run(main()) == (True, True, True, "stopped")


def test_the_intensity_cap_from_another_client_lowers_the_chair_at_once(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            async with connect("service:chair") as a, connect("service:chair") as b:
                await a.set(technique="knead", zones=["shoulders"], intensity=100, duration="10m")
                steps = served.capabilities.intensity_steps
                await until(lambda: sim.physics.target.intensity == steps, what="full intensity")
                assert await b.set_intensity_cap(20) == 20
                await until(lambda: sim.physics.target.intensity <= round(steps * 0.2), what="the cap")
                await b.stop()

    run(main())


def test_the_service_cap_is_the_panel_s_live_cap_and_lasts_into_the_next_job(tmp_path):
    """The service's cap is the governor's one live cap: on the 10-step reference chair a
    cap of 35 % never sends step 4 (the steps follow it, as for the panel's - key), the
    next job starts under it, and raising it goes back only to the configured cap."""

    async def main():
        limits = SafetyLimits(max_intensity=70, slew_per_s=50)
        async with running_service(tmp=tmp_path, limits=limits) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            log: list[tuple[float, DeviceState]] = []
            served.chair.writer.on_written.append(lambda at, state: log.append((at, state)))
            async with connect("service:chair") as chair:
                await chair.set(technique="knead", zones=["shoulders"], intensity=90, duration="10m")
                await until(lambda: sim.physics.target.intensity == 7, what="the configured cap's step")
                at = len(log)
                assert await chair.set_intensity_cap(35) == 35
                await until(lambda: sim.physics.target.intensity == 3, what="the lowered cap")
                await asyncio.sleep(2)
                lowered = [s.intensity for _, s in log[at:]]
                await chair.stop()
                at = len(log)
                await chair.set(technique="knead", zones=["shoulders"], intensity=90, duration="10s")
                await chair.wait()
                next_job = [s.intensity for _, s in log[at:]]
                at = len(log)
                await chair.set(technique="knead", zones=["shoulders"], intensity=90, duration="10m")
                assert await chair.set_intensity_cap(95) == 70
                await until(lambda: sim.physics.target.intensity == 7, what="the raised cap")
                raised = [s.intensity for _, s in log[at:]]
                await chair.stop()
            return lowered, next_job, raised

    lowered, next_job, raised = run(main())
    assert lowered and max(lowered) == 3  # 35 % of 10 steps: step 3, never 4
    assert next_job and max(next_job) == 3
    assert max(raised) == 7


def test_a_remote_chair_has_what_the_cli_uses_of_a_chair(tmp_path):
    """What `run`, `set`, `program` and `status --watch` use of a chair, on one a service
    owns: its capabilities (whole-back zones, the panel's steps), watch, and on_end."""
    from massager_ctl.api import stop
    from massager_ctl.core.target import STOPPED
    from massager_ctl.core.vocabulary import Technique, Zone
    from massager_ctl.session.runner import manual_plan

    async def main():
        async with running_service(tmp=tmp_path) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            async with connect("service:chair") as chair:
                caps = chair.capabilities
                statuses = []
                async for status in chair.watch(0.5):
                    statuses.append(status)
                    if len(statuses) == 3:
                        break
                ends = []
                held = STOPPED.with_(technique=Technique.KNEAD, zones={Zone.SHOULDERS}, intensity=40)
                report = await chair.run(manual_plan(held, 3000), on_end=ends.append)
                play = asyncio.ensure_future(chair.run(manual_plan(held, 600_000), on_end=ends.append))
                await until(lambda: sim.physics.motors_on, what="the chair to start")
                stopped = await stop("service:chair")  # `massager-ctl stop` from another terminal
                second = await play
            return caps, served.capabilities, statuses, report, ends, stopped, second, chair_off(sim)

    caps, served_caps, statuses, report, ends, stopped, second, off = run(main())
    assert caps == served_caps and caps.zones and caps.intensity_steps
    assert len(statuses) == 3 and all(s.known for s in statuses)
    assert report.reason == "finished" and second.reason == "stopped"
    assert ends == [report, second]
    assert stopped.stopped and stopped.confirmed and off


def test_the_service_caps_bind_a_remote_plan(tmp_path):
    """A plan sent by a client plays under the service's own caps, whatever it asks."""

    async def main():
        async with running_service(tmp=tmp_path, limits=SafetyLimits(max_intensity=30)) as service:
            sim = service.devices["chair"].opened.simulator
            async with connect("service:chair") as chair:
                await chair.set(technique="knead", zones=["shoulders"], intensity=100, duration="20s")
                report = await chair.wait()
            return report.reason, sim.physics.max_intensity_seen, service.devices["chair"].capabilities

    reason, seen, caps = run(main())
    assert reason == "finished"
    assert 0 < seen <= round(caps.intensity_steps * 0.3)


def test_bad_lines_get_one_line_errors_and_the_service_goes_on(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path):
            reader, writer = await asyncio.open_unix_connection(str(control_socket_path()))
            replies = []
            for line in (
                b"not json\n",
                b"[1, 2]\n",
                b'{"id": 1, "op": "launch"}\n',
                b'{"id": 2, "op": "run", "device": "chair", "profile": "../../etc/passwd"}\n',
                b'{"id": 3, "op": "run", "device": "chair", "plan": {"roller": [{"start_ms": -5}]}}\n',
                b'{"id": 4, "op": "cap", "device": "chair", "intensity": 1e999}\n',
                b'{"id": 5, "op": "set", "device": "chair", "state": {"intensity": "lots"}}\n',
                b'{"id": 6, "op": "status", "device": "sofa"}\n',
                b'{"id": 7, "op": "hello"}\n',
            ):
                writer.write(line)
                await writer.drain()
                replies.append(json.loads(await reader.readline()))
            writer.close()
            return replies

    replies = run(main())
    *bad, hello = replies
    assert all(r["ok"] is False and r["error"] and "\n" not in r["error"] for r in bad), bad
    assert "Traceback" not in json.dumps(bad)
    assert hello["ok"] and hello["result"]["devices"] == ["chair"]


def test_the_control_socket_is_the_users_alone(tmp_path):
    async def main():
        async with running_service(tmp=tmp_path):
            path = control_socket_path()
            mode = stat.S_IMODE(os.stat(path).st_mode)
            folder = stat.S_IMODE(os.stat(path.parent).st_mode)
            with pytest.raises(UsageError, match="already runs"):
                async with running_service(tmp=tmp_path):
                    pass
            return mode, folder

    mode, folder = run(main())
    assert mode == 0o600 and folder == 0o700
    assert not control_socket_path().exists()  # removed on the way out


def test_a_socket_left_by_a_killed_service_is_replaced(tmp_path):
    path = control_socket_path()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # a file nobody listens on

    async def main():
        async with running_service(tmp=tmp_path):
            async with connect("service:chair") as chair:
                return (await chair.status()).stopped

    assert run(main()) is True


def test_a_shared_runtime_folder_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("MASSAGER_CTL_RUNTIME_DIR", str(folder))

    async def main():
        async with running_service(tmp=tmp_path):
            pass

    with pytest.raises(UsageError, match="chmod 700"):
        run(main())


def test_no_service_is_one_clear_line(tmp_path):
    async def main():
        async with connect("service:chair"):
            pass

    with pytest.raises(UsageError, match="no massager-ctl service runs here"):
        run(main())


def test_the_service_keeps_the_link_up_between_jobs(tmp_path):
    """A cable pulled while nothing plays: the device is offline, then relinked by itself."""

    async def main():
        async with running_service(tmp=tmp_path) as service:
            served = service.devices["chair"]
            events = []
            served.listeners.append(lambda e: events.append(e) if e["event"] == "link" else None)
            served.opened.link.cut("cable pulled")
            await until(lambda: not served.linked, what="the link to drop")
            snapshot = served.snapshot()
            async with connect("service:chair") as chair:
                with pytest.raises(DeviceError, match="not connected"):
                    await chair.run("quick")
                served.opened.link.restore()
                await until(lambda: served.linked, what="the link to come back")
                await chair.set(technique="knead", zones=["shoulders"], intensity=30, duration="5s")
                report = await chair.wait()
            return snapshot["state"], [e["up"] for e in events], report.reason

    state, ups, reason = run(main())
    assert state == "offline"
    assert ups == [False, True]
    assert reason == "finished"
