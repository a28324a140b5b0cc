"""A Rongtai chair as a user meets it, over both of its links, against the simulated board:

* over the simulated BLE radio (the real BleakClient front end, virtual time), through the
  scripting API;
* over a serial line (a pty, real time), with the CLI run as a separate process while this
  process serves the simulator and plays the person at the chair's own remote.

Status reads off / ready / running / resetting; ``set`` kneads and ends with the chair reset
and off; ``run quick`` plays; ``program relax --minutes 10`` runs relax; ``stop`` on a chair
someone started at its remote waits through the reset; a chair stopped at its remote
mid-session is not started again. No key ever reaches the board during a reset.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from massager_ctl.api import connect
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.rongtai.firmware import (
    MODE_AUTO,
    STATE_OFF,
    STATE_RUN,
    SUB_KNEAD,
    Timing,
)
from massager_ctl.session.clock import run_virtual

POWER, KNEAD, HEAT, AIR_LEG = 0x01, 0x20, 0x27, 0x40
REPO = Path(__file__).resolve().parent.parent


def settled_off(sim) -> bool:
    return sim.board.state == STATE_OFF and sim.physics.target.is_stopped and sim.keys_in_reset == 0


def keys_since(sim, t: float) -> list[int]:
    return [key for at, key in sim.received if at >= t]


# =============================================================== BLE, virtual time


def ble(body, name: str = "RT8600S"):
    async def main():
        async with connect(f"ble:{name}", simulate_ble=True) as chair:
            return await body(chair, chair.simulator)

    return run_virtual(main())


def test_ble_status_reads_off_ready_running_resetting():
    async def body(chair, sim):
        seen = [(await chair.status()).extra["run_state"]]
        for key in (POWER, KNEAD, POWER):
            sim.press(key)
            await asyncio.sleep(0.5)
            seen.append((await chair.status()).extra["run_state"])
        return seen, sim

    seen, sim = ble(body)
    assert seen == ["off", "ready", "running", "resetting (returning home)"]
    assert sim.keys() == []  # looking presses nothing, not even when closing


def test_ble_info_and_one_byte_notifications_first_are_not_a_wrong_device():
    from bleak.backends.device import BLEDevice

    from massager_ctl.connection.simulated_ble import default_devices
    from massager_ctl.devices.registry import MODELS
    from massager_ctl.sim.ble_backend import SimulatedRadio
    from massager_ctl.transport.ble import BleTransport

    definition = MODELS["rongtai-rt8600s"]

    async def main():
        radio = SimulatedRadio(default_devices())
        peripheral = radio.by_name("RT8600S")
        early = [bytes.fromhex("f085000100020000000000"), b"\x00", bytes.fromhex("f0850001000200000000")]
        # the first notifications the host hears are an 11-byte info frame, a 1-byte frame
        # and a 10-byte info frame
        peripheral.mangle = lambda frame: early.pop(0) if early and peripheral.central else frame
        await peripheral.power_on()
        transport = BleTransport(
            BLEDevice(peripheral.address, "RT8600S", {}),
            definition.ble,
            name="RT8600S",
            backend=radio.client_backend,
        )
        device = definition.load("driver")(transport, name=definition.name)
        try:
            await device.connect()
            status = await device.read_status()
            assert not early  # all three were heard before the status
            return status, device.decoder.info_frames, transport.bad_notifications
        finally:
            await device.disconnect()
            await radio.close()

    status, info, bad = run_virtual(main())
    assert status.extra["run_state"] == "off" and info >= 2 and bad == 0


def test_ble_set_kneads_the_shoulders_then_the_chair_resets_and_goes_off():
    async def body(chair, sim):
        await chair.set(technique="knead", zones=["shoulders"], intensity=40, duration=10)
        await asyncio.sleep(6)
        during = (sim.board.current_sub(), sim.board.axis_strength + 1, sim.physics.target.zones)
        report = await chair.wait()
        return during, report, sim

    (sub, strength, zones), report, sim = ble(body)
    assert sub == SUB_KNEAD and strength == 2 and zones == {Zone.SHOULDERS}
    assert report.reason == "finished" and report.stop_confirmed and settled_off(sim)


def test_ble_run_quick_plays_to_its_end():
    async def body(chair, sim):
        report = await chair.run("quick")
        await asyncio.sleep(10)
        return report, sim

    report, sim = ble(body, "EVOLUTION-1A2B3C")
    assert report.reason == "finished" and report.stop_confirmed, report
    techniques = {e.snapshot["technique"] for e in sim.physics.trace if e.kind == "command"}
    assert {"knead", "shiatsu"} <= techniques
    assert settled_off(sim)


def test_ble_program_relax_for_10_minutes_runs_until_the_chairs_timer():
    async def body(chair, sim):
        device = chair.device
        device.plan_session(600)
        status = await device.run_program("relax")
        running = (sim.board.main_mode, sim.board.auto)
        loop = asyncio.get_running_loop()
        t_start = loop.time()
        while (await device.read_status()).running:
            await asyncio.sleep(1)
        t_end = loop.time()
        stop = await chair.stop()
        return status, running, t_end - t_start, stop, keys_since(sim, t_end), sim

    status, (mode, auto), lasted, stop, late_keys, sim = ble(body)
    assert status.extra["program"] == "relax" and (mode, auto) == (MODE_AUTO, 2)
    assert 590 <= lasted <= 605  # the chair's own 10-minute timer ended it
    assert stop.stopped and late_keys == [] and settled_off(sim)


def test_ble_stop_of_a_chair_started_at_its_remote_waits_through_the_reset():
    async def body(chair, sim):
        for key in (POWER, KNEAD, HEAT, AIR_LEG):
            sim.press(key)
            await asyncio.sleep(0.3)
        phases = []
        chair.device.on_stop_progress = lambda phase, status: phases.append(phase)
        status = await chair.stop()
        return status, phases, sim

    status, phases, sim = ble(body)
    assert status.stopped and status.extra["run_state"] == "off"
    assert sim.keys() == [POWER] and phases and settled_off(sim)


def test_ble_a_chair_stopped_at_its_remote_mid_session_is_not_started_again():
    async def body(chair, sim):
        task = asyncio.create_task(chair.run("quick"))
        await asyncio.sleep(45)
        t_stop = asyncio.get_running_loop().time()
        sim.press(POWER)
        report = await task
        await asyncio.sleep(30)
        return report, keys_since(sim, t_stop), sim

    report, late_keys, sim = ble(body)
    assert report.reason == "device-stopped" and late_keys == [] and settled_off(sim)


# =============================================================== serial, a pty, real time


def serial_scenario(body, *, timing: Timing | None = None, timeout: float = 60.0):
    """Serve the simulated RT8600S on a pty; run ``body(cli, sim)`` where ``cli(*args)``
    starts `massager-ctl --device serial:PTY?model=rongtai-rt8600s ARGS` as a process."""
    pytest.importorskip("serial")
    from massager_ctl.cli.simulate_cmds import serve_on_pty
    from massager_ctl.devices.registry import MODELS

    async def main():
        port, sim = await serve_on_pty(MODELS["rongtai-rt8600s"])
        if timing is not None:
            sim.board.timing = timing
        device = f"serial:{port.path}?model=rongtai-rt8600s"

        async def cli(*args: str) -> asyncio.subprocess.Process:
            env = dict(os.environ, MASSAGER_CTL_CONFIG=str(REPO / "nonexistent-config.toml"))
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "massager_ctl",
                "--device",
                device,
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=REPO,
            )

        try:
            return await asyncio.wait_for(body(cli, sim), timeout)
        finally:
            await sim.close()
            port.unplug()

    return asyncio.run(main())


async def finished(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def until(predicate, limit_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not predicate():
        assert loop.time() < end, "timed out waiting"
        await asyncio.sleep(0.05)


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_status_reads_off_ready_running_resetting():
    async def body(cli, sim):
        lines = []
        for key in (None, POWER, KNEAD, POWER):
            if key is not None:
                sim.press(key)
                await asyncio.sleep(0.3)
            code, out, err = await finished(await cli("status"))
            assert code == 0, err
            lines.append(next(line for line in out.splitlines() if line.startswith("chair: ")))
        return lines, sim

    slow_reset = Timing(walk_steps_per_s=0.5)  # long enough to be seen resetting
    lines, sim = serial_scenario(body, timing=slow_reset)
    assert lines == ["chair: off", "chair: ready", "chair: running", "chair: resetting (returning home)"]
    assert sim.keys() == []


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_set_kneads_the_shoulders_and_ends_with_the_chair_reset_and_off():
    async def body(cli, sim):
        proc = await cli("set", "-t", "knead", "-z", "shoulders", "-i", "40", "--for", "10s")
        await until(
            lambda: sim.board.current_sub() == SUB_KNEAD and sim.physics.target.zones == {Zone.SHOULDERS}
        )
        await asyncio.sleep(3)
        during = (sim.board.axis_strength + 1, sim.physics.target.technique)
        code, out, err = await finished(proc)
        return code, err, during, sim

    code, err, (strength, technique), sim = serial_scenario(body)
    assert code == 0, err
    assert strength == 2 and technique is Technique.KNEAD
    assert "set: finished (10s); device stopped (confirmed)" in err, err
    assert settled_off(sim)


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_run_quick_plays_then_sigterm_stops_it():
    async def body(cli, sim):
        proc = await cli("run", "quick")
        await until(lambda: sim.physics.motors_on, 30)
        await asyncio.sleep(3)
        played = {e.snapshot["technique"] for e in sim.physics.trace if e.kind == "command"}
        proc.send_signal(signal.SIGTERM)
        code, out, err = await finished(proc)
        await asyncio.sleep(0.5)
        return code, err, played, sim

    code, err, played, sim = serial_scenario(body)
    assert code == 143, err
    assert played and settled_off(sim)


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_program_relax_runs_the_relax_program():
    async def body(cli, sim):
        proc = await cli("program", "relax", "--minutes", "10")
        await until(lambda: sim.board.main_mode == MODE_AUTO and sim.board.timer_running)
        await until(lambda: sim.board.preset_s == 600 and sim.board.remaining_s() > 590)
        running = (sim.board.auto, sim.board.state)
        proc.send_signal(signal.SIGTERM)  # Ctrl-C: stops it at once
        code, out, err = await finished(proc)
        await asyncio.sleep(0.5)
        return code, err, running, sim

    code, err, (auto, state), sim = serial_scenario(body)
    assert (auto, state) == (2, STATE_RUN)  # relax: the third auto program
    assert code == 143, err
    assert settled_off(sim)


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_stop_of_a_chair_started_at_its_remote_waits_through_the_reset():
    async def body(cli, sim):
        for key in (POWER, KNEAD, HEAT):
            sim.press(key)
            await asyncio.sleep(0.3)
        code, out, err = await finished(await cli("stop"))
        return code, out, err, sim

    code, out, err, sim = serial_scenario(body, timing=Timing(walk_steps_per_s=2.0))
    assert code == 0, err
    assert "stopped (confirmed by the device)" in out
    assert "returning home" in err
    assert sim.keys() == [POWER] and settled_off(sim)


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_serial_a_chair_stopped_at_its_remote_mid_session_is_not_started_again():
    async def body(cli, sim):
        proc = await cli("set", "-t", "knead", "-z", "shoulders", "-i", "40", "--for", "60s")
        await until(lambda: sim.physics.motors_on and sim.board.timer_running, 30)
        await asyncio.sleep(2)
        t_stop = asyncio.get_running_loop().time()
        sim.press(POWER)  # the person's stop
        code, out, err = await finished(proc)
        await asyncio.sleep(1)
        return code, err, keys_since(sim, t_stop), sim

    code, err, late_keys, sim = serial_scenario(body)
    assert late_keys == [], late_keys
    assert "stopped by itself" in err and "device stopped (confirmed)" in err, err
    assert code == 3, err  # the chair ended it (docs/cli.md, exit codes)
    assert settled_off(sim)
