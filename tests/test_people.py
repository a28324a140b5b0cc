"""People sharing a chair: [people.NAME] caps (only ever tighter) and favourites, --person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import records, sim_final

from massager_ctl.cli.main import main
from massager_ctl.config import ConfigError, config_from_raw, load_config
from massager_ctl.core.vocabulary import Heat
from massager_ctl.history import HistoryStore

CONFIG = """\
# the family chair
[caps]
max_intensity = 60   # nobody above this
max_heat = "high"

[people.anna]
max_intensity = 30
max_heat = "low"
favourites = ["quick", "relaxation"]

[people.bob]
max_intensity = 95   # cannot loosen [caps]
max_session = "2h"   # nor the session cap
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(CONFIG)
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MASSAGER_CTL_SIM_TRACE", str(tmp_path / "trace.json"))
    monkeypatch.delenv("MASSAGER_CTL_PERSON", raising=False)
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_persons_caps_only_tighten(env):
    config = load_config(env / "config.toml")
    anna, bob = config.limits_for("anna"), config.limits_for("bob")
    assert (anna.max_intensity, anna.max_heat) == (30, Heat.LOW)
    assert bob.max_intensity == 60 and bob.max_session_s == config.limits.max_session_s
    assert config.limits_for(None) == config.limits
    assert config.person("anna").favourites == ("quick", "relaxation")


def test_an_unknown_person_is_one_line_with_a_guess(env):
    result = invoke("--person", "ana", "run", "quick", "--time-scale", "max")
    assert result.exit_code == 2
    assert "no person 'ana' in [people]; did you mean \"anna\"?" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "raw,problem",
    [
        ({"people": {"anna": {"max_intensty": 30}}}, 'did you mean "people.anna.max_intensity"?'),
        ({"people": {"anna": {"favourites": "quick"}}}, "is not a list of profile names"),
        ({"people": {"anna": {"max_intensity": 140}}}, "people.anna.max_intensity: 140 is above 100"),
        ({"people": {"anna": 3}}, "write each person as a table"),
    ],
)
def test_bad_people_tables_are_reported(raw, problem):
    with pytest.raises(ConfigError) as info:
        config_from_raw(raw, Path("/x/config.toml"))
    assert problem in str(info.value)


def test_a_person_plays_under_their_caps_and_the_history_says_who(env, monkeypatch):
    def commands():
        return " | ".join(
            e["detail"] for e in sim_final(env / "trace.json")["trace"] if e["kind"] == "command"
        )

    assert invoke("run", "quick", "--time-scale", "max", "--no-history").exit_code == 0
    assert "heat high" in commands()  # quick asks for high heat, and [caps] allows it
    monkeypatch.setenv("MASSAGER_CTL_PERSON", "anna")
    result = invoke("--json", "run", "quick", "--time-scale", "max")
    assert result.exit_code == 0
    start = records(result.stdout)[0]
    assert (
        start["person"] == "anna"
        and start["caps"]["max_intensity"] == 30
        and start["caps"]["max_heat"] == "low"
    )
    assert sim_final(env / "trace.json")["max_intensity_seen"] <= 3  # 30 % of 10 steps
    assert "heat high" not in commands() and "heat low" in commands()
    (record,) = HistoryStore(env / "data" / "history.sqlite3").recent()
    assert record.person == "anna"
    assert invoke("history", "list", "--person", "bob").stdout.startswith("no sessions")
    assert "anna" in invoke("history", "list", "--person", "anna").stdout


def test_favourites_are_marked_and_run_plays_the_first(env):
    listed = json.loads(invoke("--person", "anna", "--json", "profile", "list").stdout)
    assert {i["id"] for i in listed if i["favourite"]} == {"quick", "relaxation"}
    assert "* anna's favourites" in invoke("--person", "anna", "profile", "list").stdout
    result = invoke("--person", "anna", "--json", "run", "--time-scale", "max")
    assert result.exit_code == 0 and records(result.stdout)[0]["id"] == "quick"
    result = invoke("run", "--time-scale", "max")
    assert result.exit_code == 2 and "say which profile to play (no --person given" in result.stderr


def test_config_set_for_a_person_keeps_the_files_comments(env):
    assert invoke("config", "set", "people.carol.max_intensity", "45").exit_code == 0
    assert invoke("config", "set", "people.anna.favourites", "stress, posture").exit_code == 0
    text = (env / "config.toml").read_text()
    assert text.startswith("# the family chair\n")
    assert "max_intensity = 60   # nobody above this" in text
    assert 'max_session = "2h"   # nor the session cap' in text
    assert "[people.carol]\nmax_intensity = 45" in text
    config = load_config(env / "config.toml")
    assert config.person("anna").favourites == ("stress", "posture")
    assert config.limits_for("carol").max_intensity == 45
    assert invoke("config", "unset", "people.carol.max_intensity").exit_code == 0
    assert "[people.carol]" not in (env / "config.toml").read_text()  # the empty table goes too
