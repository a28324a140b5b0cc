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
