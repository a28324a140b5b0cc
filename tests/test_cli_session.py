"""The device commands as a person types them: run, set, status, stop, devices."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import records, sim_final

from massager_ctl.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def test_run_quick_plays_to_the_end_and_the_chair_is_stopped(cli):
    result = cli("run", "quick", "--time-scale", "max")
    assert result.exit_code == 0, result.output + result.stderr
    assert "no device configured; using the built-in simulated chair" in result.stderr
    assert "Quick tour: finished (3m); device stopped (confirmed)" in result.stderr
    final = sim_final(cli.trace)
    assert final["target_stopped"] and not final["heat_on"] and not final["motors_on"]
    assert final["trace"][-1]["kind"] == "stop"
    # quick.toml caps itself at 50 %: never above half of the chair's 10 steps
    assert 0 < final["max_intensity_seen"] <= 5


@pytest.mark.parametrize("where", ["before", "after"])
def test_run_json_is_ndjson_ending_with_the_report(cli, where):
    args = ["run", "quick", "--time-scale", "max"]
    result = cli(*(["--json", *args] if where == "before" else [*args, "--json"]))
    assert result.exit_code == 0
    lines = records(result.stdout)  # every line parses
    assert all({"type", "t"} <= set(line) for line in lines)
    first, *middle, end = lines
    assert first["type"] == "start" and (first["id"], first["name"]) == ("quick", "Quick tour")
    assert first["model"] == "sim-chair" and first["caps"]["max_intensity"] == 50
    segments = [r for r in middle if r["type"] == "segment"]
    assert [s["name"] for s in segments][:2] == ["warm-up", "knead"]
    assert any(r["type"] == "state" and r["device"]["intensity"] > 0 for r in middle)
    ts = [r["t"] for r in lines]
    assert ts == sorted(ts)
    assert end["type"] == "end" and (end["id"], end["name"]) == ("quick", "Quick tour")
    assert end["reason"] == "finished" and end["stop_confirmed"] is True


def test_run_dry_run_prints_writes_without_a_device(cli):
    result = cli("run", "quick", "--dry-run")
    assert result.exit_code == 0
    assert "roll" in result.output and "stop" in result.output
    assert not cli.trace.exists()  # no simulator was involved


def test_dry_run_renders_for_the_chosen_device_in_percent_and_steps(cli):
    result = cli("--device", "sim:rongtai-rt8600s", "run", "quick", "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("00:00.0  ")  # mm:ss.s
    assert any("(step 2/5)" in line for line in lines)  # the Rongtai's 5 intensity steps
    assert "on rongtai-rt8600s" in result.stderr
    reference = cli("run", "quick", "--dry-run")
    assert "/10)" in reference.stdout  # the reference chair's 10 steps
    result = cli("--json", "--device", "sim:rongtai-rt8600s", "run", "quick", "--dry-run")
    start, *middle, end = records(result.stdout)
    assert start["type"] == "start" and start["model"] == "rongtai-rt8600s" and start["dry_run"]
    assert {r["type"] for r in middle} <= {"state", "stop", "warning"}
    assert end["type"] == "end" and end["reason"] == "finished" and end["id"] == "quick"


def test_set_without_zones_works_the_whole_back_and_says_so(cli):
    result = cli("set", "-t", "knead", "-i", "40", "--for", "10s", "--time-scale", "max")
    assert result.exit_code == 0, result.stderr
    assert "no --zones given: the rollers work the whole back sim-chair reaches" in result.stderr
    assert "neck, shoulders, upper_back, mid_back, lower_back, seat" in result.stderr
    commands = [e for e in sim_final(cli.trace)["trace"] if e["kind"] == "command"]
    assert commands and "knead" in str(commands)


def test_max_intensity_option_only_lowers(cli):
    result = cli("run", "quick", "--time-scale", "max", "--max-intensity", "20")
    assert result.exit_code == 0
    assert sim_final(cli.trace)["max_intensity_seen"] <= 2


def test_too_long_for_the_session_cap_is_refused(cli):
    assert cli("config", "set", "caps.max_session", "2m").exit_code == 0
    result = cli("run", "quick", "--time-scale", "max")
    assert result.exit_code == 2
    assert "above the 2m session cap" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_bad_profile_and_bad_options_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\nname = "x"\n')
    result = cli("run", str(bad))
    assert result.exit_code == 2 and "bad.toml" in result.stderr
    assert cli("run", "no-such-profile").exit_code == 2
    assert cli("run", "quick", "--time-scale", "0").exit_code == 2
    result = cli("--device", "bogus", "run", "quick")
    assert result.exit_code == 2 and "not a device URI" in result.stderr


def test_set_holds_then_stops(cli):
    result = cli(
        "set",
        "-t",
        "knead",
        "-z",
        "shoulders,upper_back",
        "-i",
        "40",
        "--heat",
        "low",
        "--airbag",
        "calves=30",
        "--for",
        "30s",
        "--time-scale",
        "max",
    )
    assert result.exit_code == 0, result.stderr
    final = sim_final(cli.trace)
    assert final["target_stopped"] and not final["heat_on"]
    kinds = [e["kind"] for e in final["trace"]]
    assert "command" in kinds and kinds[-1] == "stop"


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "nothing to set"),
        (("-t", "knead", "-z", "", "-i", "40", "--heat", "warm"), "'warm' is not one of"),
        (("-t", "knead", "-z", "elbow", "-i", "40"), "zone 'elbow' is not one of"),
        (("--airbag", "calves"), "write ZONE=LEVEL"),
        (("--heat", "low", "--for", "soon"), "--for"),
    ],
)
def test_set_bad_input(cli, args, message):
    result = cli("set", *args)
    assert result.exit_code == 2
    assert message in result.stderr + result.output


def test_status_stop_devices(cli):
    result = cli("--json", "status")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["running"] is False
    result = cli("stop")
    assert result.exit_code == 0 and "stopped (confirmed by the device)" in result.output
    result = cli("--json", "devices")
    models = {m["id"]: m for m in json.loads(result.stdout)}
    assert models["sim-chair"]["name"].startswith("massager-ctl reference")
    assert "knead" in models["sim-chair"]["capabilities"]["techniques"]
    assert cli("devices").exit_code == 0


def test_devices_shows_each_model_its_own_capabilities_and_safety_facts(cli):
    """A DIY native controller reports its capabilities at connect: `devices` must not show
    the reference chair's (it did, for every model with a simulator)."""
    models = {m["id"]: m for m in json.loads(cli("--json", "devices").stdout)}
    for name in ("native", "native-nus", "native-ffe0"):
        assert models[name]["capabilities"] == "reported by the device at connect", name
    assert isinstance(models["sim-chair"]["capabilities"], dict)
    assert models["sim-chair"]["safety"]["on_link_loss"] == "stops-by-deadman"
    assert models["nlr-hf8"]["safety"]["on_link_loss"] == "keeps-running"
    text = cli("devices").output
    block = text[text.index("native-nus ") :].split("\n", 3)
    assert block[1].strip() == "capabilities: reported by the device at connect"


def _run_cli_subprocess(args, env_extra, tmp_path):
    env = dict(os.environ, MASSAGER_CTL_CONFIG=str(tmp_path / "config.toml"), **env_extra)
    return subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_real_process_interrupted_stops_the_chair(tmp_path, sig, code):
    """A real `massager-ctl run`, interrupted: the chair is stopped before it exits."""
    trace = tmp_path / "trace.json"
    proc = _run_cli_subprocess(
        ["run", "quick", "--time-scale", "5"], {"MASSAGER_CTL_SIM_TRACE": str(trace)}, tmp_path
    )
    try:
        first = proc.stderr.readline()  # the default-device note
        assert "simulated chair" in first
        progress = proc.stderr.readline()  # the first segment's progress line
        assert "warm-up" in progress
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "the device was told to stop" in err
    final = json.loads(trace.read_text())
    assert final["target_stopped"] and not final["motors_on"] and not final["heat_on"]
    assert final["trace"][-1]["kind"] == "stop"


def test_cli_start_up_does_not_import_heavy_modules():
    code = (
        "import sys, massager_ctl.cli.main as m; "
        "heavy = [n for n in ('asyncio', 'bleak', 'serial', 'massager_ctl.api', 'tomli_w') "
        "if n in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    for name in ("run", "set", "status", "stop", "devices", "profile", "config"):
        assert name in result.output


def test_a_session_the_chair_ended_by_itself_exits_3():
    """Not a failure (the chair was stopped and confirmed it), not done either: a script
    polling the exit code must be able to tell (docs/cli.md, exit codes). A stop that
    could not be sent, or a device that disobeyed, is a failure: 1."""
    from massager_ctl.cli.session_cmds import EXIT_DEVICE_STOPPED, _finish
    from massager_ctl.session.runner import SessionReport

    def code(**report: Any) -> object:
        try:
            _finish(SessionReport(**report))
        except SystemExit as done:
            return done.code
        return 0

    assert code(reason="device-stopped", stop_sent=True, stop_confirmed=True) == EXIT_DEVICE_STOPPED == 3
    assert code(reason="device-stopped", stop_sent=False) == 1
    assert code(reason="device-disobeyed", stop_sent=True, stop_confirmed=True) == 1
    assert code(reason="finished", stop_sent=True, stop_confirmed=True) == 0


def test_run_takes_its_set_up_out_of_the_collectors_walk(cli):
    """After connecting, the CLI freezes what set-up built (massager_ctl.api.freeze_setup):
    full collections in a long session then walk only what the session makes."""
    import gc

    gc.unfreeze()
    result = cli("run", "quick", "--time-scale", "max")
    assert result.exit_code == 0
    assert gc.get_freeze_count() > 1000  # modules, the device, its simulator, the session


def test_a_heater_fault_during_run_is_one_line_and_exit_1(cli, monkeypatch):
    """The chair's heater overshoots its cut-out during quick's "warmer" minute: the chair
    stops and reports it; `run` says so in one line and exits 1 (not "stopped by itself")."""
    from massager_ctl.devices.native import sim as native_sim
    from massager_ctl.sim.physics import ChairPhysics, PhysicsParams

    hot = PhysicsParams(heater_high_c=60.0, heater_tau_s=20.0)
    monkeypatch.setattr(native_sim, "ChairPhysics", lambda caps: ChairPhysics(caps, hot))
    result = cli("run", "quick", "--time-scale", "max")
    assert result.exit_code == 1, result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("massager-ctl: ")]
    fault = [line for line in errors if "heater over temperature" in line]
    assert len(fault) == 1 and "told to stop" in fault[0]
    assert "stopped by itself" not in result.stderr and "Traceback" not in result.stderr
    final = sim_final(cli.trace)
    assert final["target_stopped"] and not final["heat_on"] and not final["motors_on"]


@pytest.mark.parametrize("fault, code", [("roller stalled", 1), ("deadman", 0), (None, 0)])
def test_status_shows_a_fault_and_exits_1_for_it(cli, monkeypatch, fault, code):
    """A fault the chair reports is one line and exit 1; "deadman" says why it stopped (0)."""
    from massager_ctl.devices.native.sim import SimulatedNativeChair

    monkeypatch.setattr(SimulatedNativeChair, "fault", property(lambda self: fault))
    result = cli("status")
    assert result.exit_code == code, result.output + result.stderr
    if fault:
        assert f"FAULT: {fault}" in result.stdout
    assert ("reports a fault: roller stalled" in result.stderr) == (code == 1)
