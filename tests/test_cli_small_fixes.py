"""The smaller fixes of issue 15: completion, guesses, program lengths, the cap warning of
profile check, config show as TOML, simulate --show."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from massager_ctl.cli.main import main
from massager_ctl.config import config_from_raw, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MASSAGER_CTL_SIM_TRACE", raising=False)
    monkeypatch.delenv("MASSAGER_CTL_PERSON", raising=False)
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def complete(*words: str) -> list[tuple[str, str]]:
    """What TAB offers after ``words`` (the last one is being typed)."""
    *args, incomplete = words
    items = ShellComplete(main, {}, "massager-ctl", "_MASSAGER_CTL_COMPLETE").get_completions(
        args, incomplete
    )
    return [(i.type, i.value) for i in items]


# -- completion ------------------------------------------------------------------------


def test_profile_arguments_complete_names_and_files(env):
    (env / "config.toml").write_text(f'profiles_dir = "{env / "mine"}"\n')
    (env / "mine").mkdir()
    (env / "mine" / "quiet-evening.toml").write_text("")
    offered = complete("run", "q")
    assert ("plain", "quick") in offered and ("plain", "quiet-evening") in offered
    assert ("file", "q") in offered  # a path works too: the shell completes files
    assert ("plain", "relaxation") in complete("profile", "show", "rel")
    assert ("plain", "back-pain") in complete("profile", "check", "quick", "ba")


def test_values_complete_from_the_vocabulary_and_the_registry(env):
    assert [v for _, v in complete("set", "-z", "shoulders,up")] == ["shoulders,upper_back"]
    assert ("plain", "calves=") in complete("set", "--airbag", "ca")
    assert ("plain", "knead") in complete("set", "-t", "kn")
    assert ("plain", "rongtai-rt8600s") in complete("simulate", "ron")
    assert ("plain", "sim:theragun-pro") in complete("--device", "sim:thera")
    assert [v for _, v in complete("--device", "sim:rongtai-rt6923", "program", "re")] == [
        "recovery",
        "relax",
    ]
    assert [
        v for _, v in complete("--device", "sim:rongtai-rt6923", "program", "relax", "--minutes", "")
    ] == [
        "10",
        "20",
        "30",
    ]


def test_people_complete_from_the_config(env):
    (env / "config.toml").write_text("[people.anna]\n[people.andre]\nmax_intensity = 40\n")
    assert [v for _, v in complete("--person", "an")] == ["andre", "anna"]


# -- guesses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,guess",
    [
        (["stauts"], "Did you mean 'status'?"),
        (["set", "-t", "kned", "-i", "30"], "did you mean 'knead'?"),
        (["set", "-t", "knead", "-z", "shoulder", "-i", "30"], 'did you mean "shoulders"?'),
        (["set", "--airbag", "calfs=30"], 'did you mean "calves"?'),
        (["set", "--heat", "hgh"], "did you mean 'high'?"),
        (["run", "quik"], 'did you mean "quick"?'),
        (["config", "set", "caps.max_intensty", "40"], 'did you mean "caps.max_intensity"?'),
    ],
)
def test_a_mistyped_word_gets_a_guess(env, args, guess):
    result = invoke(*args)
    assert result.exit_code == 2
    assert guess in result.stderr


# -- program lengths, the cap warning --------------------------------------------------------


def test_program_minutes_are_what_the_chair_takes(env):
    result = invoke("--device", "sim:rongtai-rt8600s", "program", "relax", "--minutes", "25")
    assert result.exit_code == 2 and "the chair's own timer takes 10, 20, 30 min" in result.stderr
    assert "10, 20, 30" in invoke("program", "--help").stdout


def test_profile_check_warns_about_the_session_cap(env):
    (env / "config.toml").write_text('[caps]\nmax_session = "15m"\n')
    result = invoke("profile", "check", "quick", "back-pain")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok quick.toml") and lines[1].startswith("ok back-pain.toml")
    assert lines[2].startswith("warning: back-pain.toml lasts 16m50s, above the 15m session cap")
    assert "`run` refuses it" in lines[2] and len(lines) == 3
    data = json.loads(invoke("--json", "profile", "check", "quick", "back-pain").stdout)
    assert data[0]["warnings"] == [] and "session cap" in data[1]["warnings"][0]
    assert invoke("run", "back-pain", "--time-scale", "max").exit_code == 2  # the warning was right


# -- config show is a config file ------------------------------------------------------------


def test_config_show_is_valid_toml_with_unset_keys_commented_out(env):
    result = invoke("config", "show")
    assert '# device = ""  # not set' in result.stdout
    parsed = tomllib.loads(result.stdout)
    assert "device" not in parsed and parsed["caps"]["max_intensity"] == 100
    (env / "config.toml").write_text(
        'device = "sim:"\n[caps]\nmax_heat = "low"\n'
        '[people.anna]\nmax_intensity = 30\nfavourites = ["quick"]\n'
    )
    shown = invoke("config", "show").stdout
    again = config_from_raw(tomllib.loads(shown), env / "config.toml")
    original = load_config(env / "config.toml")
    assert again.limits == original.limits and again.device == "sim:"
    assert again.people == original.people


def test_config_show_shows_the_serve_table_with_the_password_hidden(env):
    (env / "config.toml").write_text(
        '[serve]\nnode_id = "den"\nmqtt = "mqtt://anna:s3cret@broker.lan:1883"\n'
        '[serve.devices]\nchair = "sim:"\n'
    )
    shown = invoke("config", "show").stdout
    assert "s3cret" not in shown
    parsed = tomllib.loads(shown)
    assert parsed["serve"] == {
        "node_id": "den",
        "mqtt": "mqtt://anna:***@broker.lan:1883",
        "devices": {"chair": "sim:"},
    }
    data = json.loads(invoke("--json", "config", "show").stdout)
    assert data["serve"]["mqtt"] == "mqtt://anna:***@broker.lan:1883"


# -- simulate --show -------------------------------------------------------------------------


@pytest.mark.slow
def test_simulate_show_prints_the_simulated_state_as_it_changes(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", "--json", "simulate", "sim-chair", "--show"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ},
    )
    try:
        ready = json.loads(proc.stdout.readline())
        result = invoke(
            "--device",
            ready["uri"],
            "set",
            "-t",
            "knead",
            "-z",
            "shoulders",
            "-i",
            "40",
            "--for",
            "2s",
            "--no-history",
        )
        assert result.exit_code == 0, result.stderr
        time.sleep(1.5)  # --show looks every 0.25 s: time to see the chair stopped
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in out.splitlines()]
    states = [r for r in records if r["type"] == "status"]
    assert any(s["technique"] == "knead" and s["intensity"] > 0 for s in states)
    assert states[-1]["stopped"] is True  # stopped at the end of the set
    assert records[-1]["type"] == "end"
    assert all(a != b for a, b in zip(states, states[1:], strict=False))  # only changes
