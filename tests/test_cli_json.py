"""One JSON contract (docs/cli.md, "JSON output"): every line of every command's JSON
output parses, streams are records with a type and a time ending with `end`, and
--json and -v work before the command or after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from massager_ctl.cli.main import COMMANDS, _import_command, main

REPO = Path(__file__).resolve().parents[1]

#: command words -> (arguments, "stream" or "once"). Every command and subcommand is here:
#: test_every_command_is_covered fails when one is added without its JSON checked.
CASES: dict[str, tuple[list[str], str]] = {
    "config path": (["config", "path"], "once"),
    "config show": (["config", "show"], "once"),
    "config set": (["config", "set", "caps.max_intensity", "60"], "once"),
    "config unset": (["config", "unset", "caps.max_intensity"], "once"),
    "devices": (["devices"], "once"),
    "history list": (["history", "list"], "once"),
    "history show": (["history", "show", "1"], "once"),
    "history export": (["history", "export"], "stream"),
    "history prune": (["history", "prune", "--keep", "5"], "once"),
    "history path": (["history", "path"], "once"),
    "history plot": (["history", "plot", "1"], "once"),
    "profile list": (["profile", "list"], "once"),
    "profile check": (["profile", "check", "quick", "relaxation"], "once"),
    "profile show": (["profile", "show", "quick"], "once"),
    "profile plot": (["profile", "plot", "quick", "--device", "sim:rongtai-rt8600s"], "once"),
    "program": (
        ["--device", "sim:rongtai-rt6923", "program", "relax", "--minutes", "10", "--time-scale", "max"],
        "stream",
    ),
    "program --list": (["--device", "sim:rongtai-rt6923", "program", "--list"], "once"),
    "run": (["run", "quick", "--time-scale", "max"], "stream"),
    "run --dry-run": (["run", "quick", "--dry-run"], "stream"),
    "scan": (["--simulate-ble", "scan", "--timeout", "0.5"], "stream"),
    "set": (
        ["set", "-t", "knead", "-z", "shoulders", "-i", "30", "--for", "20s", "--time-scale", "max"],
        "stream",
    ),
    "status": (["status"], "once"),
    "status --watch": (["status", "--watch", "--count", "3"], "stream"),
    "stop": (["stop"], "once"),
}

#: Commands checked elsewhere in this file (they need a process of their own).
ELSEWHERE = {"simulate", "serve"}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MASSAGER_CTL_SIM_TRACE", raising=False)
    return tmp_path


def invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def parse_lines(stdout: str) -> list:
    assert stdout.endswith("\n") and stdout.strip(), repr(stdout[-200:])
    return [json.loads(line) for line in stdout.splitlines()]  # every line, one value each


def check_stream(lines: list) -> None:
    assert all(isinstance(r, dict) and isinstance(r["type"], str) for r in lines)
    assert all(isinstance(r["t"], int | float) and r["t"] >= 0 for r in lines)
    assert [r["type"] for r in lines].count("end") == 1 and lines[-1]["type"] == "end"


def _leaf_commands() -> set[str]:
    names = set()
    for name, target in COMMANDS.items():
        # not main.get_command: a command loaded into the group changes how --help lists it
        command = _import_command(target)
        if isinstance(command, click.Group):
            names |= {f"{name} {sub}" for sub in command.commands}
        else:
            names.add(name)
    return names


def test_every_command_is_covered():
    covered = {case.split(" --")[0] for case in CASES} | ELSEWHERE
    assert _leaf_commands() <= covered


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("where", ["before", "after"])
def test_every_line_of_every_commands_json_parses(env, case, where):
    args, kind = CASES[case]
    if case == "config unset":
        invoke(["config", "set", "caps.max_intensity", "60"])
    if case.startswith("history"):
        assert invoke(["run", "quick", "--time-scale", "max"]).exit_code == 0
    if case.endswith("plot"):
        args = [*args, "-o", str(env / "picture.svg")]
    result = invoke(["--json", *args] if where == "before" else [*args, "--json"])
    assert result.exit_code == 0, result.output
    lines = parse_lines(result.stdout)
    if kind == "stream":
        check_stream(lines)
    else:
        assert len(lines) == 1


def test_errors_are_one_record_before_or_after(env):
    for args in (["--json", "run", "no-such-profile"], ["run", "no-such-profile", "--json"]):
        result = invoke(args)
        assert result.exit_code == 2
        (record,) = parse_lines(result.stdout)
        assert record["type"] == "error" and record["exit_code"] == 2 and "no-such-profile" in record["error"]
    # an error in parsing the command's own options, with --json after it
    result = invoke(["profile", "show", "--width", "abc", "--json"])
    (record,) = parse_lines(result.stdout)
    assert record["type"] == "error" and record["exit_code"] == 2


def test_a_failed_stream_ends_with_an_error_record(env):
    (env / "config.toml").write_text('[caps]\nmax_session = "2m"\n')
    result = invoke(["run", "quick", "--time-scale", "max", "--json"])
    assert result.exit_code == 2
    lines = parse_lines(result.stdout)
    assert lines[-1]["type"] == "error" and "session cap" in lines[-1]["error"]


def test_verbose_after_the_command_logs(env):
    quiet = invoke(["status"])
    loud = invoke(["status", "-v"])
    assert "INFO" not in quiet.stderr
    assert "INFO" in loud.stderr and "sim-chair" in loud.stderr


@pytest.mark.slow
def test_simulate_json_is_a_stream_ending_on_sigterm(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", "simulate", "sim-chair", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ},
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "ready" and first["port"].startswith("/dev/")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [first, *parse_lines(out)]
    check_stream(lines)


@pytest.mark.slow
def test_serve_json_is_a_stream_ending_on_sigterm(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", "serve", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ},  # the test's own runtime folder (conftest): its own control socket
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "ready" and first["devices"] == {"chair": "sim:"}
        assert first["socket"].endswith("control.sock") and first["mqtt"] is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [first, *parse_lines(out)]
    check_stream(lines)
    assert proc.returncode == 0
