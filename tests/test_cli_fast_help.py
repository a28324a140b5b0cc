"""`massager-ctl --help` is printed from help_text.py, and `--version` alone, without importing
click (cli/entry.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.formatting import HelpFormatter

from massager_ctl.cli import entry
from massager_ctl.cli.help_text import HELP_TEXT, HELP_WIDTH, render
from massager_ctl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def click_help(width: int) -> str:
    """What click's own --help prints at formatter width `width`, rendered here."""
    ctx = main.make_context("massager-ctl", ["status"], terminal_width=width)  # args: not no_args_is_help
    return main.get_help(ctx) + "\n"


def run_cli(*args: str, columns: str | None = None, stdout=subprocess.PIPE):
    """`python -X importtime -m massager_ctl ARGS`: (exit code, stdout, modules imported)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", entry.COMPLETE_VAR)}
    if columns is not None:
        env["COLUMNS"] = columns
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "massager_ctl", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "massager_ctl" in modules, proc.stderr  # the parsing found the imports
    return proc.returncode, proc.stdout, modules


def imports_click(modules: set[str]) -> bool:
    return any(m == "click" or m.startswith("click.") for m in modules)


# (a) the stored text is what click renders


def test_stored_help_is_what_click_renders():
    assert HELP_TEXT == click_help(HELP_WIDTH), "run `python -m massager_ctl.cli.help_text`"
    assert render() == HELP_TEXT


def test_stored_help_lists_every_command_and_option():
    for word in ("-h, --help", "--version", "--device", "--simulate-ble", "profile", "simulate"):
        assert word in HELP_TEXT


def test_click_renders_another_text_at_another_width():
    """So the width check in entry.py matters (and the comparison above can fail)."""
    assert click_help(58) != HELP_TEXT


# the width entry.py computes is click's


@pytest.mark.parametrize(
    "columns", [None, "1", "40", "52", "53", "60", "79", "80", "81", "200", "0", "-5", "abc", " 100 ", ""]
)
def test_help_width_is_clicks(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert entry.help_width() == HelpFormatter().width


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [70, 100])
def test_terminal_width_decides(columns):
    """On a terminal (no COLUMNS), 100 columns gets the stored text, 70 goes to click."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # no \r before \n
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        code, _, modules = run_cli("--help", stdout=slave)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    out = b"".join(chunks).decode()
    assert code == 0
    assert imports_click(modules) is (columns < 80)
    assert out == click_help(min(columns, 80) - 2)


# (b) python -m massager_ctl --help does not import click


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_does_not_import_click(flag):
    code, out, modules = run_cli(flag)
    assert code == 0
    assert out == HELP_TEXT
    assert not imports_click(modules)
    assert "massager_ctl.cli.main" not in modules


def test_wide_columns_get_the_stored_text():
    code, out, modules = run_cli("--help", columns="200")
    assert (code, out, imports_click(modules)) == (0, HELP_TEXT, False)


def test_clicks_own_help_matches_the_stored_text():
    """The real click path, same width (stdout not a terminal), prints the same bytes."""
    code = "import sys; from massager_ctl.cli.main import main; main(['--help'], prog_name='massager-ctl')"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0
    assert proc.stdout == HELP_TEXT


# (c) a narrow width goes to click


def test_narrow_columns_fall_through_to_click():
    code, out, modules = run_cli("--help", columns="60")
    assert code == 0
    assert imports_click(modules)
    assert out == click_help(58)
    assert out != HELP_TEXT


def test_completion_falls_through_to_click():
    env = {**os.environ, entry.COMPLETE_VAR: "bash_source"}
    env.pop("COLUMNS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "massager_ctl", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "_MASSAGER_CTL_COMPLETE" in proc.stdout and proc.stdout != HELP_TEXT


# (d) everything else goes through click


def test_version_alone_is_printed_without_click_as_click_prints_it():
    from massager_ctl import __version__

    code, out, modules = run_cli("--version")
    assert code == 0
    assert out == f"massager-ctl, version {__version__}\n"
    assert not imports_click(modules)
    # with anything else on the line it goes through click's version option: same text
    code, through_click, modules = run_cli("--verbose", "--version")
    assert code == 0 and through_click == out and imports_click(modules)


def test_subcommand_help_goes_through_click():
    code, out, modules = run_cli("profile", "--help")
    assert code == 0
    assert out.startswith("Usage: massager-ctl profile ")
    assert imports_click(modules)


@pytest.mark.parametrize("args", [["--help", "--help"], ["--json", "--help"], ["--HELP"]])
def test_other_argument_lists_go_through_click(args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["massager-ctl", *args])
    called = []
    monkeypatch.setattr(main, "main", lambda **kw: called.append(kw))
    entry.main()
    assert called == [{"prog_name": "massager-ctl"}]
    assert capsys.readouterr().out == ""


def test_entry_points_use_entry_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["massager-ctl"] == "massager_ctl.cli.entry:main"
    assert "entry import main" in (ROOT / "massager_ctl" / "__main__.py").read_text()


def test_entry_imports_only_os_and_sys():
    source = (ROOT / "massager_ctl" / "cli" / "entry.py").read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert top_level == ["from __future__ import annotations", "import os", "import sys"]
