"""The ``massager-ctl`` command: global options, lazy subcommands, one-line errors.

Subcommands are registered in :data:`COMMANDS` as ``"module:attribute"`` strings;
a module is imported only when its command runs (or ``--help`` lists it), so the
start-up stays fast. Keep module-level imports here (and at the top of command
modules) to the bare minimum.
"""

from __future__ import annotations

import textwrap

import click

from .. import __version__

#: name -> "module:attribute" of a click command. Add new commands here.
COMMANDS: dict[str, str] = {
    "profile": "massager_ctl.cli.profile_cmds:profile",
    "config": "massager_ctl.cli.config_cmds:config",
    "run": "massager_ctl.cli.session_cmds:run",
    "set": "massager_ctl.cli.session_cmds:set_",
    "status": "massager_ctl.cli.session_cmds:status",
    "stop": "massager_ctl.cli.session_cmds:stop",
    "devices": "massager_ctl.cli.session_cmds:devices",
    "program": "massager_ctl.cli.program_cmds:program",
    "scan": "massager_ctl.cli.scan_cmds:scan",
    "simulate": "massager_ctl.cli.simulate_cmds:simulate",
    "serve": "massager_ctl.cli.serve_cmds:serve",
}

#: What `massager-ctl --help` lists for each command, so listing them imports none of
#: their modules (start-up stays fast). A test keeps these equal to the commands' own help.
SHORT_HELP: dict[str, str] = {
    "config": "Show and change the user config (device and safety caps).",
    "devices": "List the supported device models and what they can do.",
    "profile": "List, check and show session profiles.",
    "program": "Run the chair's built-in auto program NAME (see --list) until its own timer ends it.",
    "run": "Play PROFILE (a file, or a shipped or user profile name) on the device.",
    "scan": "List serial ports and Bluetooth devices, marking the models they match.",
    "serve": "Own the configured devices and serve them to other terminals, scripts and MQTT.",
    "set": "Hold a state by hand, through the safety governor, then stop.",
    "simulate": "Serve MODEL's simulator on a pseudo-terminal until Ctrl-C; prints its port.",
    "status": "Read the device's status.",
    "stop": "Stop the device: rollers, airbags and heat off, confirmed by the device.",
}

LOGGER_NAME = "massager_ctl"


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use.

    It also turns errors into one line on stderr (or JSON on stdout with --json)
    and the right exit code, see :func:`report_error`.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but a command not loaded yet is listed from SHORT_HELP."""
        rows = []
        for name in self.list_commands(ctx):
            limit = formatter.width - 6 - len(name)
            if name not in self.commands and name in SHORT_HELP:
                rows.append((name, textwrap.shorten(SHORT_HELP[name], max(limit, 20), placeholder="...")))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return None
        command = _import_command(target)
        self.commands[cmd_name] = command
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise  # click handles these (a closed pipe, e.g. `| head`, exits quietly)
        except click.ClickException as exc:
            if not _cli_of(ctx).json:
                raise  # click prints usage errors itself (exit 2)
            code = report_error(ctx, exc, exc.format_message(), exc.exit_code)
        except Exception as exc:  # the one place that turns errors into lines
            from ..core.errors import MassagerError

            if isinstance(exc, MassagerError):
                code = report_error(ctx, exc, str(exc), exc.exit_code)
            else:
                code = report_error(ctx, exc, f"unexpected error: {_describe(exc)}", 1)
        ctx.exit(code)


def _import_command(target: str) -> click.Command:
    import importlib

    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    command = getattr(module, attr)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _cli_of(ctx: click.Context):
    from .context import CliContext

    obj = ctx.find_object(CliContext)
    return obj if obj is not None else CliContext()


def report_error(ctx: click.Context, exc: BaseException, message: str, exit_code: int) -> int:
    """Print an error the way the CLI always does; returns the exit code.

    Human mode: every line of the message as ``massager-ctl: <line>`` on stderr, then a
    hint about -v (not for exit code 2, bad input: its message says what to fix).
    JSON mode: ``{"error": ..., "exit_code": N}`` on stdout (plus ``"problems"`` when
    the error carries Problem objects, i.e. a ProfileError).
    -v logs the chain of causes, -vv the traceback (stderr).
    """
    import logging

    cli = _cli_of(ctx)
    log = logging.getLogger(LOGGER_NAME + ".cli")
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        log.info("caused by %s", _describe(cause))
        cause = cause.__cause__ or cause.__context__
    log.debug("traceback of the error:", exc_info=exc)

    if cli.json:
        data: dict = {"error": message, "exit_code": exit_code}
        problems = getattr(exc, "problems", None) or []
        if problems and all(hasattr(p, "to_dict") for p in problems):
            data["problems"] = [p.to_dict() for p in problems]
        cli.echo_json(data)
        return exit_code
    for line in message.splitlines() or [""]:
        click.echo(f"massager-ctl: {line}", err=True)
    if exit_code != 2:  # 2 is bad input (usage, profile, config, caps): its message says it all
        if cli.verbosity == 0:
            click.echo("massager-ctl: rerun with -v for details", err=True)
        elif cli.verbosity == 1:
            click.echo("massager-ctl: rerun with -vv for the traceback", err=True)
    return exit_code


def setup_logging(verbosity: int) -> None:
    """-v: info, -vv: debug, to stderr (the stream in use at the time of each record)."""
    import logging
    import sys

    class _StderrHandler(logging.StreamHandler):
        @property
        def stream(self):  # follow sys.stderr (e.g. when a test runner swaps it)
            return sys.stderr

        @stream.setter
        def stream(self, value):
            pass

    logger = logging.getLogger(LOGGER_NAME)
    handler = next((h for h in logger.handlers if getattr(h, "_massager_cli", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._massager_cli = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("massager-ctl: %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logger.setLevel(level)
    handler.setLevel(level)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--device", metavar="URI", help="Device to use (default: the config's device).")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Config file (default: $MASSAGER_CTL_CONFIG or the per-user config.toml).",
)
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.option(
    "--simulate-ble",
    is_flag=True,
    help="Use simulated Bluetooth devices (no radio needed) for scan and ble: URIs.",
)
@click.option("-v", "--verbose", count=True, help="More logging on stderr: -v info, -vv debug.")
@click.version_option(__version__, "--version", prog_name="massager-ctl")
@click.pass_context
def main(ctx: click.Context, device, config_path, json_output, simulate_ble, verbose) -> None:
    """Play session profiles on massage chairs, through one safety governor."""
    from pathlib import Path

    from .context import CliContext

    ctx.obj = CliContext(
        device=device,
        config_path=Path(config_path) if config_path else None,
        json=json_output,
        verbosity=verbose,
        simulate_ble=simulate_ble,
    )
    setup_logging(verbose)


if __name__ == "__main__":  # pragma: no cover
    main()
