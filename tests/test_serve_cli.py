"""`massager-ctl serve` on the command line: fast help, one-line errors, service: URIs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from servekit import running_service, until

from massager_ctl.api import connect
from massager_ctl.session.clock import ScaledClock

ROOT = Path(__file__).resolve().parent.parent


PROBE = """
import sys
sys.argv = ["massager-ctl", "serve", "--help"]
from massager_ctl.cli.main import main
try:
    main(prog_name="massager-ctl")
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_serve_help_imports_neither_the_mqtt_client_nor_asyncio():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60)
    modules = set(proc.stderr.split())
    assert "Usage: massager-ctl serve" in proc.stdout
    assert "massager_ctl.cli.serve_cmds" in modules
    assert not any(m.split(".")[0] in ("aiomqtt", "paho", "asyncio") for m in modules)
    assert not any(m.startswith("massager_ctl.service") for m in modules)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "my chair=sim:"], "device name 'my chair'"),
        (["serve", "--mqtt", "http://broker"], "mqtt://host"),
        (["serve", "--node-id", "a.b"], "node id 'a.b'"),
        (["serve", "chair=serial:/dev/null", "--time-scale", "10"], "every device is simulated"),
        (["--device", "service:chair", "status"], "no massager-ctl service runs here"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_a_profile_sent_from_here_is_tightened_to_this_sides_caps(tmp_path):
    """`run --max-intensity 20` through a service: the service plays it at 20 at most."""
    from massager_ctl.session.limits import SafetyLimits

    async def main():
        async with running_service(tmp=tmp_path) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            async with connect("service:chair", limits=SafetyLimits(max_intensity=20)) as chair:
                task = asyncio.ensure_future(chair.run("quick"))
                await until(lambda: served.job is not None and served.job.progress, what="playing")
                await asyncio.sleep(60)  # into the 45 % knead
                await chair.stop()
                await task
            return sim.physics.max_intensity_seen, served.capabilities.intensity_steps

    seen, steps = ScaledClock(20).run(main())
    assert 0 < seen <= round(steps * 0.2)


def test_a_chairs_own_program_through_the_service(tmp_path):
    async def main():
        async with running_service({"recliner": "sim:rongtai-rt8600s"}, tmp=tmp_path) as service:
            sim = service.devices["recliner"].opened.simulator
            async with connect("service:recliner") as chair:
                assert chair.programs
                ticks = []
                task = asyncio.ensure_future(chair.run_program(chair.programs[0], on_progress=ticks.append))
                await until(lambda: ticks, what="the program to run")
                status = await chair.stop()
                report = await task
            return report, status, sim

    report, status, sim = ScaledClock(20).run(main())
    assert report.reason == "stopped" and status.stopped
    assert report.program


def test_the_cli_goes_through_a_service_only_when_it_owns_the_device(tmp_path):
    from massager_ctl.remote.connect import served_name

    assert served_name("sim:") is None  # no service

    async def main():
        async with running_service({"chair": "sim:", "desk": "sim:rongtai-rt8600s"}, tmp=tmp_path):
            return (
                await asyncio.to_thread(served_name, "sim:"),
                await asyncio.to_thread(served_name, "sim:rongtai-rt8600s"),
                await asyncio.to_thread(served_name, "serial:/dev/ttyUSB9"),
                await asyncio.to_thread(served_name, None),  # two devices: say which
            )

    assert ScaledClock(1).run(main()) == ("chair", "desk", None, None)
    assert os.environ["MASSAGER_CTL_RUNTIME_DIR"]  # every test has its own (conftest)
