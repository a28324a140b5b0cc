"""-v tells what was connected and each state sent; -vv every frame, both ways, in hex with a time."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from massager_ctl.cli.main import main


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("MASSAGER_CTL_SIM_TRACE", raising=False)


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


SET = ("set", "-t", "knead", "-z", "shoulders", "-i", "40", "--for", "3s", "--time-scale", "max")


def test_nothing_is_logged_without_v():
    result = invoke(*SET)
    assert result.exit_code == 0
    assert "INFO" not in result.stderr and "DEBUG" not in result.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_v_logs_the_connection_and_each_state_sent(where):
    result = invoke("-v", *SET) if where == "before" else invoke(*SET, "-v")
    assert result.exit_code == 0
    (connected,) = [line for line in result.stderr.splitlines() if "connected to" in line]
    assert "sim-chair" in connected and "protocol v1" in connected
    assert "intensity steps 10" in connected and "writes at most every 20 ms" in connected
    assert "deadman 1500 ms" in connected
    sent = [line for line in result.stderr.splitlines() if ": sent " in line]
    assert any("knead shoulders intensity" in line for line in sent)
    assert "DEBUG" not in result.stderr  # frames only at -vv


def test_vv_logs_every_frame_both_ways_once_with_a_time():
    result = invoke("-vv", *SET)
    assert result.exit_code == 0
    frames = [line for line in result.stderr.splitlines() if "massager_ctl.frames" in line]
    pattern = re.compile(
        r"\d\d:\d\d:\d\d\.\d{3} DEBUG massager_ctl\.frames: t=[\d.]+ \w+ (tx|rx) ([0-9a-f]{2}( |$))+"
    )
    assert frames and all(pattern.search(line) for line in frames)
    tx = [line for line in frames if " tx " in line]
    rx = [line for line in frames if " rx " in line]
    assert tx and rx
    hello = [line for line in tx if line.endswith("a5 05 01 00 01 05 dc 25 74")]
    assert len(hello) == 1  # the host's HELLO, logged once (not by the simulator's end too)
