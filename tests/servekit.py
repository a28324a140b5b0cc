"""Helpers for the `serve` tests: a service in this loop, a throwaway Mosquitto broker,
and `massager-ctl` child processes with a private config and runtime folder."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from massager_ctl.config import Config
from massager_ctl.remote.paths import control_socket_path
from massager_ctl.service.app import Service
from massager_ctl.service.settings import MqttSettings, ServeSettings
from massager_ctl.session.limits import SafetyLimits

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def running_service(
    devices: dict[str, str] | None = None,
    *,
    tmp: Path,
    limits: SafetyLimits | None = None,
    mqtt_port: int | None = None,
    mqtt: MqttSettings | None = None,
    node: str = "test-node",
    time_scale: float = 1.0,
    socket_path: Path | None = None,
) -> AsyncIterator[Service]:
    """A Service in the running loop with its control socket; stopped on the way out."""
    settings = ServeSettings(
        devices=devices or {"chair": "sim:"},
        node_id=node,
        mqtt=mqtt or (None if mqtt_port is None else MqttSettings("127.0.0.1", mqtt_port, False)),
    )
    # the user's own profiles folder is none of a test's business
    config = dataclasses.replace(Config.defaults(tmp / "config.toml"), profiles_dir=tmp / "profiles")
    service = Service(
        settings,
        config,
        socket_path=socket_path or control_socket_path(),
        limits=limits,
        time_scale=time_scale,
    )
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(service.run(stop))
    ready = asyncio.ensure_future(service.ready.wait())
    await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        await task  # raises what failed
    for served in service.devices.values():
        await until(lambda served=served: served.linked, what=f"{served.name} to link")
    try:
        yield service
    finally:
        stop.set()
        await task


async def until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` REAL seconds (a
    bound for a loaded machine, whatever the service's clock speed; never a wait)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def chair_off(sim) -> bool:
    """The simulated chair was told to stop and obeyed: motors and heat off (its airbags
    then empty by themselves, over a few seconds)."""
    return sim.physics.target.is_stopped and not sim.physics.motors_on and not sim.physics.heat_on


# -- Mosquitto ------------------------------------------------------------------------------


class Broker:
    """A Mosquitto broker on a free loopback port, with its own config; kill() / start()."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.folder / "mosquitto.log", "ab")
        self.proc = subprocess.Popen(
            [mosquitto() or "mosquitto", "-c", str(self.conf)], stdout=log, stderr=log
        )
        log.close()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def mosquitto() -> str | None:
    """The broker's program (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("mosquitto")
    if found is None and os.access("/usr/sbin/mosquitto", os.X_OK):
        found = "/usr/sbin/mosquitto"
    return found


@pytest.fixture
def broker(tmp_path):
    if mosquitto() is None:
        pytest.skip("needs Debian's mosquitto package (apt-get install mosquitto; .ci/run installs it)")
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.kill()


# -- child processes ---------------------------------------------------------------------------


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASSAGER_CTL_")}
    env["MASSAGER_CTL_CONFIG"] = str(tmp / "config.toml")
    env["MASSAGER_CTL_RUNTIME_DIR"] = os.environ["MASSAGER_CTL_RUNTIME_DIR"]
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def spawn(tmp: Path, *args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """`massager-ctl ARGS` as a child process (stdout and stderr piped, text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(tmp),
        cwd=ROOT,
        **kwargs,
    )
