"""The read commands cli/fast.py answers without click print what the click commands print.

Each form runs twice in a fresh process: as typed (the fast path) and with ``--simulate-ble``
in front, which the fast path does not take (so click runs it) and which these commands
ignore. Output, errors and exit codes must be the same, byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from massager_ctl.cli import fast
from massager_ctl.cli.devices_text import DEVICES_JSON, DEVICES_TEXT, render

ROOT = Path(__file__).resolve().parent.parent

DEVICES_FORMS = [["devices"], ["devices", "--json"], ["--json", "devices"]]
PROFILE_LIST_FORMS = [["profile", "list"], ["profile", "list", "--json"], ["--json", "profile", "list"]]


def run_cli(*args: str, env: dict[str, str] | None = None, stdout: object = subprocess.PIPE):
    """`python -X importtime -m massager_ctl ARGS`: (exit code, stdout, stderr, modules imported)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", fast.COMPLETE_VAR)}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "massager_ctl", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=60,
    )
    modules, errors = set(), []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            if line.count("|") == 2:
                modules.add(line.rsplit("|", 1)[1].strip())
        else:
            errors.append(line + "\n")
    assert "massager_ctl" in modules, proc.stderr  # the parsing found the imports
    return proc.returncode, proc.stdout, "".join(errors), modules


def both_ways(args: list[str], env: dict[str, str] | None = None):
    """(fast path's result, click's result), each (exit code, stdout, stderr); and whether
    the fast path stayed clear of click and asyncio."""
    code, out, err, modules = run_cli(*args, env=env)
    click_code, click_out, click_err, click_modules = run_cli("--simulate-ble", *args, env=env)
    assert "click" in click_modules  # the comparison is with click's own command
    return (code, out, err), (click_code, click_out, click_err), modules


def same_but_time(fast_result, click_result):
    """Equal, but for the "t" of a JSON error record (seconds since the command started)."""
    import re

    def untimed(result):
        return tuple(re.sub(r'"t":[0-9.]+', '"t":T', x) if isinstance(x, str) else x for x in result)

    return untimed(fast_result) == untimed(click_result)


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in ("click", "asyncio")}


@pytest.mark.parametrize("args", DEVICES_FORMS, ids=" ".join)
def test_devices_fast_is_clicks(args):
    fast_result, click_result, modules = both_ways(args)
    assert fast_result == click_result
    assert fast_result[0] == 0 and fast_result[1]
    assert heavy(modules) == set()
    assert "massager_ctl.devices.registry" not in modules  # the text was rendered in advance


def test_stored_devices_texts_are_what_click_prints():
    assert (DEVICES_TEXT, DEVICES_JSON) == render(), "run `python -m massager_ctl.cli.devices_text`"
    models = json.loads(DEVICES_JSON)
    assert [m["id"] for m in models][:2] == ["sim-chair", "native"]


def test_devices_on_a_full_disk_says_so_like_click():
    with open("/dev/full", "w") as full:
        code, out, err, modules = run_cli("devices", stdout=full)
        click_code, _, click_err, _ = run_cli("--simulate-ble", "devices", stdout=full)
    assert (code, err) == (click_code, click_err) == (1, click_err)
    assert err.startswith("massager-ctl: cannot write the output: No space left on device\n")
    assert heavy(modules) == set()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["devices", "-v"],
        ["-v", "devices"],
        ["devices", "--json", "--json"],
        ["devices", "--help"],
        ["devices", "extra"],
        ["--device", "sim:", "devices"],
        ["profile"],
        ["profile", "show", "quick"],
        ["profile", "list", "-v"],
        ["profile", "list", "extra"],
        ["profile", "--json", "list"],
        ["--person", "ann", "profile", "list"],
        ["--config", "other.toml", "profile", "list"],
        ["list", "profile"],
        ["status"],
    ],
    ids=" ".join,
)
def test_other_forms_go_to_click(argv, monkeypatch):
    monkeypatch.delenv(fast.COMPLETE_VAR, raising=False)
    assert fast.run(argv) is None


def test_shell_completion_goes_to_click(monkeypatch):
    monkeypatch.setenv(fast.COMPLETE_VAR, "bash_complete")
    assert fast.run(["devices"]) is None
    code, out, _, modules = run_cli(
        env={fast.COMPLETE_VAR: "bash_complete", "COMP_WORDS": "massager-ctl dev", "COMP_CWORD": "1"}
    )
    assert code == 0
    assert "devices" in out
    assert "click" in modules


# -- profile list


@pytest.fixture
def folders(tmp_path):
    """A config naming a user profile folder with a good, a broken and a misnamed profile,
    and a person with a favourite; returns a function making the environment for a config text."""
    from massager_ctl.profile.library import shipped_dir

    shipped = shipped_dir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "quick.toml").write_text((shipped / "quick.toml").read_text())  # hides the shipped one
    (mine / "broken.toml").write_text("nonsense = 1\n")
    (mine / "bad name.toml").write_text("x")

    def env(config_text: str | None, **extra: str) -> dict[str, str]:
        path = tmp_path / "config.toml"
        if config_text is not None:
            path.write_text(config_text.replace("MINE", str(mine)))
        return {"MASSAGER_CTL_CONFIG": str(path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **extra}

    return env


GOOD_CONFIG = 'profiles_dir = "MINE"\n[people.ann]\nfavourites = ["relaxation", "quick"]\n'


@pytest.mark.parametrize("args", PROFILE_LIST_FORMS, ids=" ".join)
@pytest.mark.parametrize(
    "case",
    ["no config", "user folder", "favourites", "broken config", "unknown person", "missing folder"],
)
def test_profile_list_fast_is_clicks(folders, case, args):
    env = {
        "no config": lambda: folders(None),
        "user folder": lambda: folders(GOOD_CONFIG),
        "favourites": lambda: folders(GOOD_CONFIG, MASSAGER_CTL_PERSON="ann"),
        "broken config": lambda: folders('device = [\nprofiles_dir = "MINE"\n'),
        "unknown person": lambda: folders(GOOD_CONFIG, MASSAGER_CTL_PERSON="bob"),
        "missing folder": lambda: folders('profiles_dir = "MINE/nope"\n'),
    }[case]()
    fast_result, click_result, modules = both_ways(args, env)
    assert same_but_time(fast_result, click_result), (fast_result, click_result)
    assert heavy(modules) == set()
    code, out, err = fast_result
    if case in ("broken config", "unknown person"):
        assert code == 2
        if "--json" in args:
            assert json.loads(out)["type"] == "error" and err == ""
        else:
            assert out == "" and err.count("\n") == 1 and err.startswith("massager-ctl: ")
    else:
        assert code == 0 and err == ""
    if case == "user folder" and "--json" not in args:
        assert "broken" in out and "error: " in out and "(hidden by user)" in out


def test_profile_list_warns_of_a_config_others_can_change_like_click(folders):
    env = folders(GOOD_CONFIG)
    os.chmod(env["MASSAGER_CTL_CONFIG"], 0o666)
    fast_result, click_result, _ = both_ways(["profile", "list"], env)
    assert fast_result == click_result
    assert "massager-ctl: WARNING massager_ctl.config: " in fast_result[2]


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("args", [["devices"], ["profile", "list"]], ids=" ".join)
def test_an_output_that_is_not_utf8_goes_to_click(folders, args, encoding):
    """click writes an ASCII stdout its own way (it prints the "…" of a clipped line)."""
    env = folders(None, PYTHONIOENCODING=encoding)
    fast_result, click_result, modules = both_ways(args, env)
    assert fast_result == click_result
    assert "click" in modules
