"""The live panel and its keys, through a real pseudo-terminal: keys typed, screen read back.

Safety first: + never raises the cap above the configured one, and every way out (q, Esc,
Ctrl-C) stops the device and says whether the stop was confirmed.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
from click.testing import CliRunner
from terminal import Terminal

from massager_ctl.cli.keys import decode
from massager_ctl.cli.main import main

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


@pytest.fixture
def env(tmp_path):
    return {
        "MASSAGER_CTL_CONFIG": str(tmp_path / "config.toml"),
        "MASSAGER_CTL_DATA": str(tmp_path / "data"),
        "MASSAGER_CTL_SIM_TRACE": str(tmp_path / "trace.json"),
    }


def final(env) -> dict:
    with open(env["MASSAGER_CTL_SIM_TRACE"], encoding="utf-8") as fh:
        return json.load(fh)


def term(args, env):
    return Terminal(args, env=env)


def line_of(screen: str, label: str) -> str:
    found = [line for line in screen.splitlines() if re.match(rf"│ {label}\b", line)]
    assert found, screen
    return found[-1]


def test_keys_decode():
    assert decode(b" ") == ["pause"] and decode(b"n") == ["skip"]
    assert decode(b"-+") == ["down", "up"] and decode(b"q") == ["stop"]
    assert decode(b"\x1b") == ["stop"]  # Esc alone
    assert decode(b"\x1b[A") == []  # an arrow key is not Esc
    assert decode(b"x") == []


@pytest.mark.slow
def test_the_panel_shows_the_session_and_obeys_every_key(env):
    t = term(["run", "quick", "--time-scale", "2"], env)
    try:
        screen = t.wait_for("segment  1/7  warm-up")
        assert "Quick tour (quick)" in screen and "sim-chair" in screen
        screen = t.wait_for("rollers  roll on upper_back, mid_back, lower_back, intensity")
        assert re.search(r"intensity \d+% \(step \d+/10\), speed \d/5, wide", screen)
        assert "3:00" in line_of(screen, "time") and "left" in line_of(screen, "time")
        assert "heater" in line_of(screen, "heat") and "°C" in screen  # what the chair reports
        assert "space pause" in screen
        t.type(" ")
        t.wait_for("PAUSED")
        screen = t.wait_for("rollers  off")  # paused: the rollers rest
        assert "PAUSED" in screen
        t.type(" ")
        screen = t.wait_for("last key: resumed")
        assert "PAUSED" not in screen
        t.type("n")
        t.wait_for("segment  2/7  knead")
        t.type("-")
        screen = t.wait_for("cap      40% (turned down from 50%)")
        t.type("+")
        screen = t.wait_for("last key: cap 50% (the configured cap)")
        t.type("+")  # already at the configured cap: stays there
        time.sleep(0.5)
        assert "cap      50%" in t.text() and "60%" not in line_of(t.text(), "cap")
        t.type("q")
        assert t.wait_exit() == 0
        screen = t.text()
    finally:
        t.close()
    assert re.search(r"Quick tour: stopped at 0\d:\d\d\.\d of the plan; device stopped \(confirmed\)", screen)
    assert "keys" not in screen  # the last drawing has no key help
    result = final(env)
    assert result["target_stopped"] and not result["motors_on"] and not result["heat_on"]


@pytest.mark.slow
def test_plus_never_raises_intensity_above_the_configured_cap(env):
    with open(env["MASSAGER_CTL_CONFIG"], "w", encoding="utf-8") as fh:
        fh.write("[caps]\nmax_intensity = 30\nslew_per_s = 100\n")
    t = term(["set", "-t", "knead", "-z", "shoulders", "-i", "90", "--for", "5m", "--time-scale", "2"], env)
    try:
        t.wait_for("intensity 30% (step 3/10)")
        for _ in range(6):
            t.type("+")
            time.sleep(0.1)
        screen = t.wait_for("last key: cap 30% (the configured cap)")
        time.sleep(1.5)  # 3 s of session at 2x: time for any rise to show
        screen = t.text()
        assert "intensity 30% (step 3/10)" in screen and "cap      30%" in screen
        t.type("-")
        t.wait_for("intensity 20% (step 2/10)")
        t.type("+")
        t.wait_for("intensity 30% (step 3/10)")
        t.type("q")
        assert t.wait_exit() == 0
    finally:
        t.close()
    result = final(env)
    assert result["max_intensity_seen"] == 3  # 30 % of 10 steps, never more
    assert result["target_stopped"] and not result["motors_on"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "key,code,said",
    [("q", 0, "stopped at"), ("\x1b", 0, "stopped at"), ("\x03", 130, "interrupted at")],
    ids=["q", "Esc", "Ctrl-C"],
)
def test_every_way_out_stops_the_device(env, key, code, said):
    t = term(
        [
            "set",
            "-t",
            "knead",
            "-z",
            "shoulders",
            "-i",
            "60",
            "--heat",
            "low",
            "--for",
            "5m",
            "--time-scale",
            "2",
        ],
        env,
    )
    try:
        t.wait_for("rollers  knead on shoulders")
        time.sleep(0.5)
        t.type(key)
        assert t.wait_exit() == code
        screen = t.text()
    finally:
        t.close()
    assert re.search(rf"set: {said} 0\d:\d\d\.\d of the plan; device stopped \(confirmed\)", screen), screen
    result = final(env)
    assert result["target_stopped"] and not result["motors_on"] and not result["heat_on"]
    assert result["trace"][-1]["kind"] == "stop"


@pytest.mark.slow
def test_the_terminal_is_given_back_as_it_was(env):
    t = term(["set", "--heat", "low", "--for", "5m", "--time-scale", "2"], env)
    try:
        t.wait_for("heat     low")
        t.type("q")
        assert t.wait_exit() == 0
    finally:
        t.close()
    # cbreak and NOFLSH are undone on the way out: the panel's own check is in keys.KeyReader.close;
    # here, the process is gone and the screen ends with the summary, the cursor shown again.
    assert b"\x1b[?25h" in t.raw


# -- status --watch: in place on a terminal, only changes otherwise ---------------------


@pytest.mark.slow
def test_status_watch_redraws_in_place_on_a_terminal(env):
    t = term(["status", "--watch", "--count", "12"], env)
    try:
        assert t.wait_exit() == 0
        screen = t.text()
    finally:
        t.close()
    assert screen.count("running: no (stopped)") == 1  # one status, redrawn, not twelve
    assert "roller position" in screen and "heat: off" in screen


def test_status_watch_prints_only_changes_when_not_a_terminal(env, monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(main, ["status", "--watch", "--count", "10"], catch_exceptions=False)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1  # ten identical statuses, one line
    result = CliRunner().invoke(
        main, ["--json", "status", "--watch", "--count", "10"], catch_exceptions=False
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in lines] == ["status", "end"] and lines[-1]["updates"] == 10


def test_plain_lines_say_what_the_device_does_when_not_a_terminal(env, monkeypatch):
    """Not a terminal: a line per change of what the device is told, in % and steps."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(main, ["--device", "sim:theragun-pro", "run", "quick", "--time-scale", "max"])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == len(set(lines))  # each line a change
    assert not any(re.search(r" roll \d|heat", line) for line in lines)  # the gun has neither
    assert any(re.search(r"vibrate \d+% \(\d+/\d+\)", line) for line in lines)


def test_the_key_reader_reads_keys_and_gives_the_terminal_back():
    import asyncio
    import termios

    from massager_ctl.cli.keys import KeyReader

    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        actions: list[str] = []

        async def main():
            reader = KeyReader(actions.append, fd=slave)
            assert reader.start()
            during = termios.tcgetattr(slave)
            os.write(master, b" n-+q")
            for _ in range(100):
                if len(actions) == 5:
                    break
                await asyncio.sleep(0.01)
            reader.close()
            return during

        during = asyncio.run(main())
        assert actions == ["pause", "skip", "down", "up", "stop"]
        assert not during[3] & termios.ICANON and not during[3] & termios.ECHO  # keys without Enter
        assert during[3] & termios.ISIG and during[3] & termios.NOFLSH  # Ctrl-C still SIGINT
        assert termios.tcgetattr(slave) == before  # given back as it was
    finally:
        os.close(master)
        os.close(slave)
