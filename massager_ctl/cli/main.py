"""The ``massager-ctl`` command: global options, lazy subcommands, one-line errors.

Subcommands are registered in :data:`COMMANDS` as ``"module:attribute"`` strings;
a module is imported only when its command runs (or ``--help`` lists it), so the
start-up stays fast. Keep module-level imports here (and at the top of command
modules) to the bare minimum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from .logs import LOGGER_NAME, setup_logging

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.shell_completion import CompletionItem

    from .context import CliContext

    Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]

#: name -> "module:attribute" of a click command. Add new commands here.
COMMANDS: dict[str, str] = {
    "profile": "massager_ctl.cli.profile_cmds:profile",
    "config": "massager_ctl.cli.config_cmds:config",
    "run": "massager_ctl.cli.session_cmds:run",
    "set": "massager_ctl.cli.session_cmds:set_",
    "status": "massager_ctl.cli.session_cmds:status",
    "stop": "massager_ctl.cli.session_cmds:stop",
    "devices": "massager_ctl.cli.session_cmds:devices",
    "history": "massager_ctl.cli.history_cmds:history",
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
    "history": "Past sessions: what ran, on which device, for whom, how it ended.",
    "profile": "List, check, show and plot session profiles.",
    "program": "Run the chair's built-in auto program NAME (see --list) until its own timer ends it.",
    "run": "Play PROFILE (a file, or a shipped or user profile name) on the device.",
    "scan": "List serial ports and Bluetooth devices, marking the models they match.",
    "serve": "Own the configured devices and serve them to other terminals, scripts and MQTT.",
    "set": "Hold a state by hand, through the safety governor, then stop.",
    "simulate": "Serve MODEL's simulator on a pseudo-terminal until Ctrl-C; prints its port.",
    "status": "Read the device's status without changing it.",
    "stop": "Stop the device: rollers, airbags and heat off, confirmed by the device.",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use.

    It also turns errors into one line on stderr (or JSON on stdout with --json)
    and the right exit code, see :func:`report_error`.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but a command not loaded yet is listed from SHORT_HELP (shortened
        as click shortens a loaded command's help, so the listing does not depend on
        which commands an earlier call happened to load)."""
        rows = []
        for name in self.list_commands(ctx):
            limit = formatter.width - 6 - len(name)
            if name not in self.commands and name in SHORT_HELP:
                # click's own shortening, so a row reads the same loaded or not
                stand_in = click.Command(name, help=SHORT_HELP[name])
                rows.append((name, stand_in.get_short_help_str(limit)))
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
        command = add_shared_options(_import_command(target))
        self.commands[cmd_name] = command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # guess among all commands, loaded or not
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Kept so that an error found while parsing a subcommand's own options (before
        # its --json could be read) still comes out as JSON when --json was typed.
        ctx.meta[RAW_ARGS] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise  # click handles these (a closed pipe, e.g. `| head`, exits quietly)
        except click.ClickException as exc:
            if not _wants_json(ctx):
                raise  # click prints usage errors itself (exit 2)
            _cli_of(ctx).json = True
            code = report_error(ctx, exc, exc.format_message(), exc.exit_code)
        except Exception as exc:  # the one place that turns errors into lines
            from ..core.errors import MassagerError

            broken = output_broken(exc)
            if broken is not None:  # stdout is a full disk, a closed file...: say so on stderr
                code = report_error(ctx, exc, f"cannot write the output: {broken}", 1, to_stderr=True)
            elif isinstance(exc, MassagerError):
                code = report_error(ctx, exc, str(exc), exc.exit_code)
            else:
                code = report_error(ctx, exc, f"unexpected error: {_describe(exc)}", 1)
        ctx.exit(code)


def output_broken(exc: BaseException | None = None) -> str | None:
    """Why standard output cannot be written (a full disk, an I/O error, a closed file),
    or None. ``exc`` is the error that raised the question: only an OSError can be one."""
    import sys

    if exc is not None and not isinstance(exc, OSError):
        return None
    stream = sys.stdout
    if stream is None:
        return "there is no standard output"
    try:
        stream.flush()
    except OSError as err:
        silence_output()
        return err.strerror or str(err)
    except ValueError:  # closed
        return "standard output is closed"
    if isinstance(exc, OSError) and getattr(exc, "filename", None) is None and exc.errno in _OUTPUT_ERRNOS:
        silence_output()  # the write failed, the buffer was dropped: it is the output
        return exc.strerror or str(exc)
    return None


#: errno values a failed write to standard output brings (no file name in the error).
_OUTPUT_ERRNOS = {28, 5, 27, 122}  # ENOSPC, EIO, EFBIG, EDQUOT


def silence_output() -> None:
    """Point standard output at /dev/null: nothing more can reach it, and the interpreter's
    last flush must not fail again on the way out."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


RAW_ARGS = "massager_ctl.raw_args"


def _wants_json(ctx: click.Context) -> bool:
    if _cli_of(ctx).json:
        return True
    args = ctx.meta.get(RAW_ARGS, [])
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _cli_of(ctx).json = True


def _add_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        cli = _cli_of(ctx)
        cli.verbosity += value
        setup_logging(cli.verbosity)


def add_shared_options(command: click.Command) -> click.Command:
    """Give ``command`` (and every command of a group, at any depth) ``--json`` and
    ``-v``, so that both work after the command as well as before it:
    ``massager-ctl profile list --json`` is ``massager-ctl --json profile list``."""
    names = {opt for p in command.params for opt in getattr(p, "opts", [])}
    if "--json" not in names:
        command.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                is_eager=True,  # set before the other parameters are checked: their errors are JSON too
                callback=_set_json,
                help="Machine-readable JSON output (also accepted before the command).",
            )
        )
    if "-v" not in names and "--verbose" not in names:
        command.params.append(
            click.Option(
                ["-v", "--verbose"],
                count=True,
                expose_value=False,
                is_eager=True,
                callback=_add_verbosity,
                help="More logging on stderr: -v info, -vv debug (also accepted before the command).",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_shared_options(sub)
    return command


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


def _cli_of(ctx: click.Context) -> CliContext:
    from .context import CliContext

    obj = ctx.find_object(CliContext)
    if obj is None:  # a command run outside the group: keep one context for the whole run
        obj = ctx.ensure_object(CliContext)
    return obj


def report_error(
    ctx: click.Context, exc: BaseException, message: str, exit_code: int, *, to_stderr: bool = False
) -> int:
    """Print an error the way the CLI always does; returns the exit code.

    Human mode: every line of the message as ``massager-ctl: <line>`` on stderr, then a
    hint about -v (not for exit code 2, bad input: its message says what to fix).
    JSON mode: one record on stdout, ``{"type": "error", "t": ..., "error": ...,
    "exit_code": N}`` (plus ``"problems"`` when the error carries Problem objects, i.e.
    a ProfileError); in a stream it is the last line.
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

    if cli.json and not to_stderr:
        data: dict[str, Any] = {"error": message, "exit_code": exit_code}
        problems = getattr(exc, "problems", None) or []
        if problems and all(hasattr(p, "to_dict") for p in problems):
            data["problems"] = [p.to_dict() for p in problems]
        try:
            cli.record("error", data)
            return exit_code
        except OSError as err:  # stdout broken too: the error goes to stderr after all
            silence_output()
            message += f" (and the output cannot be written: {err.strerror or err})"
    for line in message.splitlines() or [""]:
        click.echo(f"massager-ctl: {line}", err=True)
    if exit_code != 2:  # 2 is bad input (usage, profile, config, caps): its message says it all
        if cli.verbosity == 0:
            click.echo("massager-ctl: rerun with -v for details", err=True)
        elif cli.verbosity == 1:
            click.echo("massager-ctl: rerun with -vv for the traceback", err=True)
    return exit_code


def _complete(name: str) -> Completer:
    """Completion by :mod:`.completion`'s function ``name``, imported only on a TAB."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from . import completion

        function: Completer = getattr(completion, name)
        return function(ctx, param, incomplete)

    return complete


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--device",
    metavar="URI",
    help="Device to use (default: the config's device).",
    shell_complete=_complete("devices"),
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Config file (default: $MASSAGER_CTL_CONFIG or the per-user config.toml).",
)
@click.option(
    "--person",
    metavar="NAME",
    help="Who sits in the chair: caps and favourites from [people.NAME] (default: $MASSAGER_CTL_PERSON).",
    shell_complete=_complete("people"),
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
def main(
    ctx: click.Context,
    device: str | None,
    config_path: str | None,
    person: str | None,
    json_output: bool,
    simulate_ble: bool,
    verbose: int,
) -> None:
    """Play session profiles on massage chairs, through one safety governor."""
    from pathlib import Path

    from .context import CliContext

    ctx.obj = CliContext(
        device=device,
        config_path=Path(config_path) if config_path else None,
        json=json_output,
        verbosity=verbose,
        simulate_ble=simulate_ble,
        person_option=person,
    )
    setup_logging(verbose)


if __name__ == "__main__":  # pragma: no cover
    main()
