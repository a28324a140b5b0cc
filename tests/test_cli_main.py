"""The CLI framework: global options, lazy commands, how errors come out."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner

from massager_ctl import __version__
from massager_ctl.cli import main as main_module
from massager_ctl.cli.context import CliContext
from massager_ctl.cli.main import COMMANDS, main

COMMANDS_MODULE = textwrap.dedent(
    '''
    import click
    from massager_ctl.cli.context import pass_cli
    from massager_ctl.core.errors import DeviceError, SafetyError, UsageError

    SEEN = []

    @click.command()
    @pass_cli
    def echo_ctx(cli):
        """Show the context."""
        SEEN.append(cli)
        click.echo(f"{cli.device}|{cli.config_path}|{cli.json}|{cli.verbosity}")

    @click.command()
    @click.argument("kind")
    def fail(kind):
        """Fail in the way asked for."""
        if kind == "device":
            try:
                raise OSError("port gone")
            except OSError as exc:
                raise DeviceError("the chair stopped answering") from exc
        if kind == "safety":
            raise SafetyError("session of 5h is above the 30m cap")
        if kind == "usage":
            raise UsageError("first line\\nsecond line")
        if kind == "bug":
            raise ValueError("boom")
        if kind == "flood":
            for i in range(1_000_000):
                click.echo(f"line {i}")
            return
        raise click.BadParameter("no such kind", param_hint="KIND")
    '''
)


@pytest.fixture
def extra_commands(tmp_path, monkeypatch):
    """Register two lazy test commands in the real group, in a module not yet imported."""
    (tmp_path / "fake_cmds_mod.py").write_text(COMMANDS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_cmds_mod", raising=False)
    monkeypatch.setattr(main, "commands", dict(main.commands))
    monkeypatch.setattr(
        main,
        "lazy_commands",
        {**main.lazy_commands, "echo-ctx": "fake_cmds_mod:echo_ctx", "fail": "fake_cmds_mod:fail"},
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    yield
    sys.modules.pop("fake_cmds_mod", None)


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_version():
    r = run("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"massager-ctl, version {__version__}"


def test_help_lists_the_registered_commands():
    r = run("--help")
    assert r.exit_code == 0
    for name in COMMANDS:
        assert name in r.stdout
    for option in ("--device", "--config", "--json", "--verbose", "--version"):
        assert option in r.stdout


def test_commands_mapping_points_at_click_commands():
    for name in COMMANDS:
        assert isinstance(main.get_command(click.Context(main), name), click.Command)


def test_importing_main_imports_no_command_module():
    code = (
        "import sys, massager_ctl.cli.main\n"
        "heavy = [m for m in ('massager_ctl.cli.profile_cmds', 'massager_ctl.cli.config_cmds',"
        " 'massager_ctl.config', 'massager_ctl.plan', 'massager_ctl.profile', 'tomllib')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_command_is_imported_only_when_used(extra_commands):
    assert "fake_cmds_mod" not in sys.modules
    r = run("config", "path")
    assert r.exit_code == 0
    assert "fake_cmds_mod" not in sys.modules
    r = run("echo-ctx")
    assert r.exit_code == 0
    assert "fake_cmds_mod" in sys.modules


def test_help_imports_lazy_commands_to_list_them(extra_commands):
    r = run("--help")
    assert "echo-ctx" in r.stdout and "Show the context." in r.stdout
    assert "fail" in r.stdout


def test_global_options_reach_the_context(extra_commands, tmp_path):
    r = run("--device", "sim:", "--config", str(tmp_path / "c.toml"), "--json", "-vv", "echo-ctx")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"sim:|{tmp_path / 'c.toml'}|True|2"
    r = run("echo-ctx")
    assert r.stdout.strip() == "None|None|False|0"


def test_context_config_is_lazy_and_device_falls_back_to_config(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('device = "from-config:"\n')
    cli = CliContext(config_path=p)
    assert cli._config is None
    assert cli.device_uri == "from-config:"
    assert cli.config.path == p
    assert CliContext(device="opt:", config_path=tmp_path / "broken").device_uri == "opt:"


def test_massager_error_is_one_line_with_its_exit_code(extra_commands):
    r = run("fail", "device")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "massager-ctl: the chair stopped answering",
        "massager-ctl: rerun with -v for details",
    ]
    assert r.stdout == ""
    r = run("fail", "safety")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == ["massager-ctl: session of 5h is above the 30m cap"]


def test_bad_input_errors_are_each_line_prefixed_and_get_no_hint(extra_commands):
    r = run("fail", "usage")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == ["massager-ctl: first line", "massager-ctl: second line"]


def test_verbose_shows_causes_and_very_verbose_the_traceback(extra_commands):
    r = run("-v", "fail", "device")
    assert r.exit_code == 1
    assert "caused by OSError: port gone" in r.stderr
    assert "Traceback" not in r.stderr
    assert "rerun with -vv for the traceback" in r.stderr
    r = run("-vv", "fail", "device")
    assert "Traceback" in r.stderr
    assert "DeviceError: the chair stopped answering" in r.stderr
    assert "rerun with" not in r.stderr


def test_unexpected_error_is_one_line_exit_1_without_traceback(extra_commands):
    r = run("fail", "bug")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "massager-ctl: unexpected error: ValueError: boom",
        "massager-ctl: rerun with -v for details",
    ]
    assert "Traceback" not in r.output
    r = run("-vv", "fail", "bug")
    assert r.exit_code == 1
    assert "Traceback" in r.stderr


def test_json_errors_go_to_stdout(extra_commands):
    r = run("--json", "fail", "device")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data.pop("t") >= 0
    assert data == {"type": "error", "error": "the chair stopped answering", "exit_code": 1}
    assert r.stderr == ""
    r = run("--json", "fail", "bug")
    data = json.loads(r.stdout)
    assert (data["type"], data["error"], data["exit_code"]) == (
        "error",
        "unexpected error: ValueError: boom",
        1,
    )


def test_usage_errors_are_clicks_exit_2(extra_commands):
    r = run("--no-such-option")
    assert r.exit_code == 2
    assert "No such option" in r.stderr
    r = run("nosuchcommand")
    assert r.exit_code == 2
    r = run("fail")  # missing argument
    assert r.exit_code == 2
    assert "Missing argument" in r.stderr
    r = run("fail", "other")  # BadParameter raised by the command
    assert r.exit_code == 2
    assert "no such kind" in r.stderr


def test_usage_errors_in_json_mode_are_json(extra_commands):
    r = run("--json", "fail")
    assert r.exit_code == 2
    data = json.loads(r.stdout)
    assert data["exit_code"] == 2 and "KIND" in data["error"]


def test_logging_levels_follow_verbosity(extra_commands):
    import logging

    logger = logging.getLogger(main_module.LOGGER_NAME)
    run("echo-ctx")
    assert logger.level == logging.WARNING
    run("-v", "echo-ctx")
    assert logger.level == logging.INFO
    run("-vvv", "echo-ctx")
    assert logger.level == logging.DEBUG
    handlers = [h for h in logger.handlers if getattr(h, "_massager_cli", False)]
    assert len(handlers) == 1  # not one more per invocation


def test_closed_pipe_exits_quietly(tmp_path):
    (tmp_path / "fake_cmds_mod.py").write_text(COMMANDS_MODULE)
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from massager_ctl.cli.main import main\n"
        "main.lazy_commands['fail'] = 'fake_cmds_mod:fail'\n"
        "main(['fail', 'flood'], prog_name='massager-ctl')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # like `massager-ctl ... | head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode == 1
    assert stderr == ""


def test_short_help_table_matches_each_commands_own_help():
    """--help lists commands from SHORT_HELP without importing them; it must say what
    each command itself says."""
    from massager_ctl.cli.main import SHORT_HELP

    assert set(SHORT_HELP) == set(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert SHORT_HELP[name] == command.get_short_help_str(10_000), name


def test_help_lists_commands_without_importing_them():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from massager_ctl.cli.main import main\n"
        "out = CliRunner().invoke(main, ['--help']).output\n"
        "assert 'simulate' in out and 'Hold a state by hand' in out, out\n"
        "print(sorted(m for m in sys.modules if m.startswith('massager_ctl.cli.') "
        "and m.endswith('_cmds')), 'asyncio' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False"
