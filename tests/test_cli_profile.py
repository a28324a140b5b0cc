"""``massager-ctl profile list|check|show`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from massager_ctl.cli.main import main
from massager_ctl.cli.timeline import LABEL_WIDTH
from massager_ctl.config import ENV_VAR
from massager_ctl.profile import ProfileError, load_plan
from massager_ctl.profile.library import shipped_dir

GOOD = """
format = 1
name = "Test good"
description = "A test profile.\\nSecond line."
benefit = "stress"
author = "tests"

[limits]
max_intensity = 60

[[segment]]
name = "warm"
duration = "1m"
technique = "roll"
zones = ["upper_back"]
intensity = { from = 10, to = 30, curve = "ease-in-out" }

[[segment]]
name = "block"
repeat = 2
  [[segment.steps]]
  name = "knead"
  duration = "15s"
  technique = "knead"
  zones = ["shoulders"]
  intensity = 40

[[airbag]]
duration = "30s"
zones = ["calves"]
pressure = 30

[[heat]]
duration = "1m"
level = "low"
"""

BAD = """
format = 1
name = "Test bad"
description = "Broken on purpose."
benefit = "sleep"

[[segment]]
duration = "1m"
technique = "knead"
zones = ["sholders"]
intensity = 140
"""

SHIPPED = sorted(p.stem for p in shipped_dir().glob("*.toml"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated config whose profiles_dir is tmp_path/user."""
    user = tmp_path / "user"
    user.mkdir()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'profiles_dir = "{user}"\n')
    monkeypatch.setenv(ENV_VAR, str(cfg))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(*args):
    return CliRunner().invoke(main, list(args))


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as info:
        load_plan(path)
    return [str(p) for p in info.value.problems]


# -- check ---------------------------------------------------------------------


def test_check_good_file(env):
    write(env / "good.toml", GOOD)
    r = run("profile", "check", "good.toml")
    assert r.exit_code == 0, r.output
    assert r.stdout == "ok good.toml: Test good, 1m30s, 5 steps\n"


def test_check_bad_file_prints_every_problem_and_exits_2(env):
    bad = write(env / "bad.toml", BAD)
    expected = problems_of(bad)
    assert len(expected) >= 3  # benefit, zone, intensity
    r = run("profile", "check", "bad.toml")
    assert r.exit_code == 2
    assert r.stdout.splitlines() == expected
    assert any('"sleep"' in line for line in expected)
    assert any("sholders" in line for line in expected)
    assert any("140" in line for line in expected)
    assert "Traceback" not in r.output


def test_check_several_files_reports_each(env):
    write(env / "good.toml", GOOD)
    bad = write(env / "bad.toml", BAD)
    r = run("profile", "check", "good.toml", "bad.toml", "quick")
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    assert lines[0] == "ok good.toml: Test good, 1m30s, 5 steps"
    assert lines[1:-1] == problems_of(bad)
    assert lines[-1].startswith("ok quick.toml: ")


def test_check_syntax_error_is_a_problem_line_not_a_traceback(env):
    write(env / "syntax.toml", 'format = 1\nname = "x\n')
    r = run("profile", "check", "syntax.toml")
    assert r.exit_code == 2
    assert r.stdout.startswith("syntax.toml: line 2")
    assert "Traceback" not in r.output


def test_check_all_shipped_by_name(env):
    r = run("profile", "check", *SHIPPED)
    assert r.exit_code == 0, r.output
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == [f"ok {name}.toml" for name in SHIPPED]


def test_check_unknown_name_is_a_problem_for_that_file_only(env):
    write(env / "good.toml", GOOD)
    r = run("profile", "check", "quik", "good.toml")
    assert r.exit_code == 2
    first, second = r.stdout.splitlines()
    assert first.startswith('quik: no such file or profile name; did you mean "quick"?')
    assert "available: " in first and "relaxation" in first
    assert second.startswith("ok good.toml")
    r = run("--json", "profile", "check", "quik")
    (entry,) = json.loads(r.stdout)
    assert entry["ok"] is False and entry["path"] is None
    (problem,) = entry["problems"]
    assert problem["text"] == first
    assert problem["file"] == "quik" and problem["message"].startswith("no such file")


def test_check_json(env):
    write(env / "good.toml", GOOD)
    bad = write(env / "bad.toml", BAD)
    r = run("--json", "profile", "check", "good.toml", "bad.toml")
    assert r.exit_code == 2
    data = json.loads(r.stdout)
    assert [(d["ref"], d["id"], d["ok"]) for d in data] == [
        ("good.toml", "good", True),
        ("bad.toml", "bad", False),
    ]
    assert data[0]["problems"] == []
    assert data[0]["duration_ms"] == 90_000
    assert [p["text"] for p in data[1]["problems"]] == problems_of(bad)
    assert {"file", "where", "key", "message"} <= set(data[1]["problems"][0])
    r = run("--json", "profile", "check", "good.toml")
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0]["ok"] is True


def test_check_needs_a_file():
    r = run("profile", "check")
    assert r.exit_code == 2
    assert "Missing argument" in r.stderr


def test_user_profile_shadows_a_shipped_one(env):
    write(env / "user" / "quick.toml", GOOD)
    r = run("--json", "profile", "check", "quick")
    assert json.loads(r.stdout)[0]["path"] == str(env / "user" / "quick.toml")
    assert json.loads(r.stdout)[0]["name"] == "Test good"


# -- list ----------------------------------------------------------------------


def test_list_shows_shipped_and_user_profiles(env):
    write(env / "user" / "mine.toml", GOOD)
    r = run("profile", "list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "BENEFIT", "LENGTH", "SOURCE", "DESCRIPTION"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"mine", *SHIPPED}
    assert by_name["mine"].split()[:4] == ["mine", "stress", "1m30s", "user"]
    assert "A test profile." in by_name["mine"]
    assert "Second line" not in by_name["mine"]
    assert by_name["quick"].split()[2:4] == ["3m", "shipped"]


def test_list_shows_a_broken_user_profile_with_its_error(env):
    bad = write(env / "user" / "broken.toml", BAD)
    r = run("profile", "list")
    assert r.exit_code == 0
    line = next(x for x in r.stdout.splitlines() if x.startswith("broken"))
    first = problems_of(bad)[0]
    assert "error: " + first[:20] in line
    assert "Traceback" not in r.output


def test_list_json(env):
    bad = write(env / "user" / "broken.toml", BAD)
    write(env / "user" / "quick.toml", GOOD)
    r = run("--json", "profile", "list")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    names = [(d["id"], d["source"]) for d in data]
    assert names[:2] == [("broken", "user"), ("quick", "user")]
    assert sorted(n for n, s in names if s == "shipped") == SHIPPED
    broken = data[0]
    assert broken["ok"] is False
    assert [p["text"] for p in broken["problems"]] == problems_of(bad)
    shipped_quick = next(d for d in data if d["id"] == "quick" and d["source"] == "shipped")
    assert shipped_quick["name"] == "Quick tour"  # "id": what you type; "name": the title
    assert shipped_quick["shadowed"] is True
    assert shipped_quick["ok"] is True
    assert shipped_quick["duration_ms"] == 180_000
    assert shipped_quick["benefit"] in {
        "back-pain",
        "flexibility",
        "stress",
        "posture",
        "circulation",
        "relaxation",
    }


def test_list_with_a_broken_config_is_a_config_error(env, monkeypatch):
    (env / "config.toml").write_text("[caps]\nmax_intensity = 140\n")
    r = run("profile", "list")
    assert r.exit_code == 2
    assert r.stderr == f"massager-ctl: {env / 'config.toml'}: caps.max_intensity: 140 is above 100\n"


# -- show ----------------------------------------------------------------------


def test_show_summary_timeline_and_segments(env):
    write(env / "good.toml", GOOD)
    r = run("profile", "show", "good.toml", "--width", "60")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Test good")
    text = r.stdout
    assert "benefit      stress" in text
    assert "author       tests" in text
    assert "length       1m30s  (5 steps)" in text
    assert "limits       max intensity 60 %" in text
    assert "description  A test profile. Second line." in text
    rows = {line[:LABEL_WIDTH].strip(): line for line in lines if line[:1] != " "}
    for label in ("time", "roller", "technique", "airbag", "heat"):
        assert label in rows
        assert len(rows[label]) <= 60
    assert set(rows["technique"][LABEL_WIDTH:].strip()) == {"R", "K"}
    seg = lines.index("segments")
    assert lines[seg + 2].split() == ["0s", "1m", "warm", "roll", "upper_back", "10→30", "ease-in-out"]
    assert lines[seg + 3].split() == ["1m", "15s", "knead", "knead", "shoulders", "40"]
    assert "↻ the step above 1 more time, until 1m30s" in lines[seg + 4]


def test_show_uses_the_terminal_width(env, monkeypatch):
    write(env / "good.toml", GOOD)
    monkeypatch.setenv("COLUMNS", "50")
    r = run("profile", "show", "good.toml")
    heat_row = next(line for line in r.stdout.splitlines() if line.startswith("heat "))
    assert len(heat_row) == 50
    monkeypatch.setenv("COLUMNS", "20")  # too narrow: 40 at least
    r = run("profile", "show", "good.toml")
    heat_row = next(line for line in r.stdout.splitlines() if line.startswith("heat "))
    assert len(heat_row) == 40


def test_show_by_name(env):
    r = run("profile", "show", "quick")
    assert r.exit_code == 0
    assert str(shipped_dir() / "quick.toml") in r.stdout.splitlines()[0]


def test_show_json(env):
    write(env / "good.toml", GOOD)
    r = run("--json", "profile", "show", "good.toml")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    plan = load_plan(env / "good.toml")
    assert data["name"] == "Test good"
    assert data["benefit"] == "stress"
    assert data["duration_ms"] == 90_000
    assert data["limits"] == {"max_intensity": 60, "max_length_ms": None, "max_length": None}
    assert [len(data["tracks"][k]) for k in ("roller", "airbag", "heat")] == [3, 1, 1]
    warm = data["tracks"]["roller"][0]
    assert warm["start_ms"] == 0 and warm["duration_ms"] == 60_000
    assert warm["technique"] == "roll" and warm["zones"] == ["upper_back"]
    assert warm["intensity"] == {"from": 10, "to": 30, "curve": "ease-in-out"}
    assert data["tracks"]["roller"][2]["start_ms"] == plan.roller[2].start_ms == 75_000
    assert data["tracks"]["airbag"][0]["pressure"] == 30
    assert data["tracks"]["heat"][0]["level"] == "low"


def test_show_bad_file_lists_every_problem_on_stderr(env):
    bad = write(env / "bad.toml", BAD)
    r = run("profile", "show", "bad.toml")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"massager-ctl: {p}" for p in problems_of(bad)]
    assert r.stdout == ""
    r = run("--json", "profile", "show", "bad.toml")
    assert r.exit_code == 2
    data = json.loads(r.stdout)
    assert data["exit_code"] == 2
    assert [p["text"] for p in data["problems"]] == problems_of(bad)


def test_show_unknown_name(env):
    r = run("profile", "show", "nope")
    assert r.exit_code == 2
    assert r.stderr.startswith("massager-ctl: nope: no such file or profile name")
