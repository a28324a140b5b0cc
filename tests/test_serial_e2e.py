"""The whole path over a real serial line: profile -> session -> driver -> SerialTransport
(pyserial, read on the event loop) -> pty -> the model's simulator, judged by the
simulator's own state.

Real clock (a pty cannot run in virtual time), so every session here is a
few seconds long. The in-process tests serve the simulator on a pty in the
same event loop; the CLI tests run `massager-ctl simulate` and the commands
as separate processes, as a new user would.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("serial")

from massager_ctl.api import connect  # noqa: E402
from massager_ctl.cli.simulate_cmds import serve_on_pty  # noqa: E402
from massager_ctl.core.errors import DeviceDisconnected  # noqa: E402
from massager_ctl.core.vocabulary import Technique, Zone  # noqa: E402
from massager_ctl.devices.registry import MODELS  # noqa: E402
from massager_ctl.plan import Level, Plan, RollerStep  # noqa: E402

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only"),
    pytest.mark.slow,  # real ptys, real processes, the real clock
]

REPO = Path(__file__).resolve().parent.parent


def _available(model: str) -> bool:
    definition = MODELS.get(model)
    if definition is None or definition.simulator is None:
        return False
    try:
        definition.load("simulator")
        definition.load("driver")
    except (ImportError, AttributeError):
        return False
    return True


SERIAL_MODELS = [
    "sim-chair",
    "nlr-hf8",
    pytest.param(
        "rongtai-rt8600s",
        marks=pytest.mark.skipif(
            not _available("rongtai-rt8600s"), reason="the Rongtai driver/simulator is not there yet"
        ),
    ),
]


def short_plan(seconds: float = 3.0) -> Plan:
    half = int(seconds * 500)
    return Plan(
        name="short",
        roller=(
            RollerStep(
                0,
                half,
                "knead",
                "knead",
                Technique.KNEAD,
                frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
                Level(30, 50),
                Level.constant(50),
            ),
            RollerStep(
                half,
                half,
                "knock",
                "knock",
                Technique.KNOCK,
                frozenset({Zone.LOWER_BACK, Zone.SHOULDERS}),
                Level.constant(40),
                Level.constant(60),
            ),
        ),
    )


def run(coro, timeout: float = 20.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def motors_running(sim) -> bool:
    return bool(sim.physics.motors_on)


# ------------------------------------------------------------------ in-process


@pytest.mark.parametrize("model", SERIAL_MODELS)
def test_profile_over_serial_ends_with_the_device_stopped(model):
    definition = MODELS[model]

    async def main():
        port, sim = await serve_on_pty(definition)
        seen_running = False
        try:
            async with connect(f"serial:{port.path}?model={model}") as chair:
                assert chair.simulator is None  # a real serial device as far as the API knows
                task = asyncio.create_task(chair.run(short_plan()))
                while not task.done():
                    seen_running = seen_running or motors_running(sim)
                    await asyncio.sleep(0.05)
                report = await task
            await asyncio.sleep(0.2)  # let the last frames land
            return sim, report, seen_running
        finally:
            await sim.close()
            port.unplug()

    sim, report, seen_running = run(main())
    assert report.reason == "finished" and report.stop_confirmed, report
    assert seen_running, "the simulator never ran its motors"
    assert sim.physics.target.is_stopped and not sim.physics.motors_on
    assert not sim.physics.heat_on
    assert [e for e in sim.physics.trace if e.kind == "command"]


@pytest.mark.parametrize("model", SERIAL_MODELS)
def test_cable_pulled_mid_session_raises_device_disconnected(model):
    definition = MODELS[model]

    async def main():
        port, sim = await serve_on_pty(definition)
        try:
            async with connect(f"serial:{port.path}?model={model}") as chair:
                task = asyncio.create_task(chair.run(short_plan(seconds=6.0)))
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 4.0
                while not motors_running(sim) and loop.time() < deadline:
                    await asyncio.sleep(0.02)
                assert motors_running(sim)
                port.unplug()
                started = loop.time()
                with pytest.raises(DeviceDisconnected) as info:
                    await task
                return str(info.value), loop.time() - started
        finally:
            await sim.close()
            port.unplug()

    message, took = run(main())
    assert took < 1.0
    assert model in message and "went away" in message, message
    assert "\n" not in message


def test_wrong_model_on_the_line_is_one_clear_error():
    """An HF8 on the port, a native-protocol chair expected: a clear error, in time."""

    async def main():
        port, sim = await serve_on_pty(MODELS["nlr-hf8"])
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(Exception) as info:
                async with connect(f"serial:{port.path}?model=sim-chair"):
                    pass
            return info.value, loop.time() - started
        finally:
            await sim.close()
            port.unplug()

    error, took = run(main())
    assert took < 3.0
    assert "sim-chair" in str(error) and "\n" not in str(error)
    assert "no answer to HELLO" in str(error) or "does not speak" in str(error)


def test_bytes_that_never_form_a_frame_are_reported():
    """A device that only ever sends noise: the native driver says it is not its protocol."""
    from massager_ctl.transport.pty import PtyPort

    async def main():
        port = PtyPort()
        await port.device.open()

        def noise(_data):
            asyncio.get_running_loop().create_task(port.device.write(b"\x00garbage\xff" * 8))

        port.device.set_receiver(noise)
        try:
            with pytest.raises(Exception) as info:
                async with connect(f"serial:{port.path}?model=native"):
                    pass
            return str(info.value)
        finally:
            port.unplug()

    message = run(main())
    assert "no valid frame" in message and "does not speak the massager-ctl native" in message


def test_model_is_required_when_the_port_says_nothing():
    from massager_ctl.core.errors import UsageError
    from massager_ctl.transport.pty import PtyPort

    async def enter(uri):
        async with connect(uri):
            pass

    with PtyPort() as port:
        with pytest.raises(UsageError, match=r"\?model=NAME .*serial models: .*nlr-hf8"):
            run(enter(f"serial:{port.path}"))
        with pytest.raises(UsageError, match="unknown option"):
            run(enter(f"serial:{port.path}?modle=nlr-hf8"))
        with pytest.raises(UsageError, match="unknown device model"):
            run(enter(f"serial:{port.path}?model=nope"))
        not_serial = [m for m in MODELS.values() if not m.reachable_on_serial]
        for definition in not_serial[:1]:
            with pytest.raises(UsageError, match="is not reached over a serial port"):
                run(enter(f"serial:{port.path}?model={definition.name}"))


# ------------------------------------------------------------------ the CLI, as a new user


def _env(tmp_path, **extra) -> dict:
    return dict(os.environ, MASSAGER_CTL_CONFIG=str(tmp_path / "config.toml"), **extra)


def _cli(args, tmp_path, timeout=20, **extra):
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **extra),
        cwd=REPO,
        timeout=timeout,
    )


class Simulator:
    """`massager-ctl simulate MODEL` in a subprocess; .port is the path it printed."""

    def __init__(self, model: str, tmp_path: Path, **env) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "massager_ctl", "simulate", model],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(tmp_path, **env),
            cwd=REPO,
        )
        first = self.proc.stdout.readline()
        match = re.match(rf"simulating {re.escape(model)} on (\S+)", first)
        assert match, (first, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port = match.group(1)
        self.hint = self.proc.stdout.readline()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        finally:
            self.proc.kill()
        return err


SHORT_PROFILE = """\
format = 1
name = "Serial check"
description = "A three-second profile for the serial tests."
benefit = "relaxation"

[[segment]]
name = "knead"
duration = "1500ms"
technique = "knead"
zones = ["shoulders", "upper_back"]
intensity = 40
speed = 50

[[segment]]
name = "knock"
duration = "1500ms"
technique = "knock"
zones = ["lower_back"]
intensity = 35
speed = 60
"""


def test_new_user_simulates_then_runs_status_sets_and_stops(tmp_path):
    profile = tmp_path / "serial-check.toml"
    profile.write_text(SHORT_PROFILE)
    trace = tmp_path / "trace.json"
    sim = Simulator("sim-chair", tmp_path, MASSAGER_CTL_SIM_TRACE=str(trace))
    try:
        assert "connect with: massager-ctl --device" in sim.hint
        device = ["--device", f"serial:{sim.port}?model=sim-chair"]
        result = _cli([*device, "run", str(profile)], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "device stopped (confirmed)" in result.stderr
        result = _cli([*device, "status"], tmp_path)
        assert result.returncode == 0 and "running: no" in result.stdout, result.stderr
        result = _cli([*device, "set", "-t", "knead", "-z", "shoulders", "-i", "30", "--for", "1s"], tmp_path)
        assert result.returncode == 0, result.stderr
        result = _cli([*device, "stop"], tmp_path)
        assert result.returncode == 0 and "stopped (confirmed by the device)" in result.stdout
    finally:
        err = sim.stop()
    assert "final state: stopped" in err, err
    final = json.loads(trace.read_text())
    assert final["target_stopped"] and not final["motors_on"] and not final["heat_on"]
    assert any(e["kind"] == "command" for e in final["trace"])


def test_cable_pulled_during_a_cli_run_exits_1_with_a_clear_message(tmp_path):
    profile = tmp_path / "serial-check.toml"
    profile.write_text(SHORT_PROFILE)
    sim = Simulator("nlr-hf8", tmp_path)
    try:
        run_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "massager_ctl",
                "--device",
                f"serial:{sim.port}?model=nlr-hf8",
                "run",
                str(profile),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(tmp_path),
            cwd=REPO,
        )
        first = run_proc.stderr.readline()  # the first progress line: the session is playing
        assert '"knead"' in first, first
        time.sleep(0.5)
        sim.stop()  # the simulator closes its pty: the cable is pulled
        _, err = run_proc.communicate(timeout=10)
    finally:
        sim.stop()
    assert run_proc.returncode == 1, err
    # "lost the link to nlr-hf8 at ... (serial port ... went away: ...); <link loss note>"
    assert "nlr-hf8" in err and "went away" in err, err
    assert "Traceback" not in err


def test_scan_lists_serial_ports_and_says_why_ble_is_missing(tmp_path):
    result = _cli(["scan", "--all", "--timeout", "0.5", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    *devices, end = lines
    assert end["type"] == "end" and end["count"] == len(devices)
    assert all(d["type"] == "device" and d["transport"] in ("serial", "ble") for d in devices)
    if "ble" in end["unavailable"]:
        assert end["unavailable"]["ble"]
    assert importlib.import_module("massager_ctl.connection.serial_scan")


def test_driver_connects_again_on_the_same_path_after_a_loss(tmp_path):
    """What --reconnect needs: after the port vanished and came back (same by-id name),
    the driver's connect() reopens the transport and redoes the handshake."""
    from massager_ctl.connection.open import open_device

    link = tmp_path / "usb-massager-chair-if00"
    definition = MODELS["sim-chair"]

    async def main():
        port1, sim1 = await serve_on_pty(definition)
        os.symlink(port1.path, link)
        opened = await open_device(f"serial:{link}?model=sim-chair")
        device, transport = opened.device, opened.link
        try:
            await device.connect()
            port1.unplug()
            await sim1.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0
            while device.connected and loop.time() < deadline:
                await asyncio.sleep(0.01)
            assert not device.connected and transport.lost
            port2, sim2 = await serve_on_pty(definition)  # plugged back in
            try:
                os.unlink(link)
                os.symlink(port2.path, link)
                await device.connect()
                assert device.connected and not transport.lost and transport.opens == 2
                status = await device.stop()
                assert status.stopped
            finally:
                await device.disconnect()
                await sim2.close()
                port2.unplug()
        finally:
            await opened.close()
            port1.unplug()

    run(main())


def test_session_with_reconnect_resumes_from_zero_when_the_port_returns(tmp_path):
    """The cable is pulled mid-session and plugged back in (same by-id name): with
    reconnect the session waits for the port, resumes with intensity ramping up
    from zero, plays to the end, and the chair that came back ends stopped."""
    link = tmp_path / "usb-massager-chair-if00"
    definition = MODELS["sim-chair"]

    def plan(seconds: float = 5.0) -> Plan:
        return Plan(
            name="steady",
            roller=(
                RollerStep(
                    0,
                    int(seconds * 1000),
                    "knead",
                    "segment 1",
                    Technique.KNEAD,
                    frozenset({Zone.SHOULDERS}),
                    Level.constant(60),
                    Level.constant(50),
                ),
            ),
        )

    async def main():
        port1, sim1 = await serve_on_pty(definition)
        os.symlink(port1.path, link)
        second = {}
        try:
            async with connect(f"serial:{link}?model=sim-chair") as chair:
                task = asyncio.create_task(chair.run(plan(), reconnect=True))
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 4.0
                while sim1.physics.target.intensity < 6 and loop.time() < deadline:
                    await asyncio.sleep(0.02)
                before = sim1.physics.target.intensity
                port1.unplug()  # the cable is pulled at full intensity
                os.unlink(link)  # its by-id link goes with it (the freed pts number may not)
                await sim1.close()
                await asyncio.sleep(0.3)
                port2, sim2 = await serve_on_pty(definition)  # ... and plugged back in
                second.update(port=port2, sim=sim2)
                os.symlink(port2.path, link)
                report = await task
            await asyncio.sleep(0.2)
            return before, report, sim2
        finally:
            port1.unplug()
            if second:
                await second["sim"].close()
                second["port"].unplug()

    before, report, sim2 = run(main(), timeout=30)
    assert before == 6  # 60 % of the chair's 10 steps before the cable was pulled
    assert report.reason == "finished" and report.reconnects == 1 and report.stop_confirmed
    commanded = [e.snapshot["intensity"] for e in sim2.physics.trace if e.kind == "command"]
    assert commanded and commanded[0] <= 1  # the chair that came back started low ...
    assert max(commanded) == 6  # ... and the slew limit brought it back up
    assert sim2.physics.target.is_stopped
