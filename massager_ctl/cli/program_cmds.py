"""``massager-ctl program NAME``: run a chair's built-in auto program.

Thin over the scripting API: :meth:`massager_ctl.api.Chair.run_program` switches the
chair on, sets its own session timer, starts the program and watches it through the
safety governor (heat auto-off and heat cap, session cap) until the chair's timer
ends it; Ctrl-C (or SIGTERM) stops it at once. This module only checks what it can
before connecting, and prints.
"""

from __future__ import annotations

import click

from .context import CliContext, pass_cli
from .session_cmds import TimeScale, _clock, _drive, _uri

#: Shown in --help; the API's DEFAULT_PROGRAM_S (a test keeps the two equal).
DEFAULT_PROGRAM_MIN = 20
#: How often the remaining time is printed.
NOTE_EVERY_S = 60.0


def _static_caps(uri: str):
    """The model's capabilities without connecting, when the URI names the model."""
    from ..connection.uri import parse_uri
    from ..devices.registry import DEFAULT_SIM_MODEL, get_model

    parsed = parse_uri(uri)
    name = parsed.options.get("model")
    if parsed.scheme == "sim":
        name = parsed.target or DEFAULT_SIM_MODEL
    if not name:
        return None, None
    definition = get_model(name)
    return definition, definition.static_capabilities()


def _static_programs(uri: str, static=None) -> tuple[str, ...] | None:
    """The model's programs without connecting, when the URI names the model."""
    definition, caps = static or _static_caps(uri)
    if caps is None:
        return None
    if not hasattr(definition.load("driver"), "run_program"):
        return ()  # its driver cannot start programs
    return tuple(caps.programs)


def _no_programs(model: str):
    from ..core.errors import UsageError

    return UsageError(f"{model} has no built-in programs; play a profile with `massager-ctl run` instead")


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the device's built-in programs.")
@click.option(
    "--minutes",
    type=click.IntRange(1, 240),
    default=None,
    help=f"Program length; the chair's own timer ends it (default {DEFAULT_PROGRAM_MIN}).",
)
@click.option(
    "--time-scale", type=TimeScale(), default=None, help="Simulator only: X times faster, or 'max'."
)
@pass_cli
def program(cli: CliContext, name, list_, minutes, time_scale) -> None:
    """Run the chair's built-in auto program NAME (see --list) until its own timer ends it."""
    from ..core.errors import UsageError
    from ..session.governor import SafetyGovernor
    from ..session.program import DEFAULT_PROGRAM_S

    uri = _uri(cli)
    if list_:
        _list(cli, uri)
        return
    if not name:
        raise UsageError("say which program to run (massager-ctl program --list shows them)")
    limits = cli.config.limits
    length_s = DEFAULT_PROGRAM_S if minutes is None else minutes * 60
    definition, caps = _static_caps(uri)
    static = _static_programs(uri, (definition, caps))
    if static is not None and not static:
        raise _no_programs(uri)
    if static is not None and name not in static:
        raise UsageError(f"no program {name!r} on this device; it has: {', '.join(static)}")
    timers = sorted(caps.chair_timer_s) if caps is not None else ()
    if timers and length_s not in timers:
        raise UsageError(
            f"the chair's own timer offers {', '.join(str(t // 60) for t in timers)} min; "
            "choose one of them with --minutes"
        )
    # Refused before connecting (the API checks it again, by the same rule).
    SafetyGovernor(limits).check_length(length_s, f"program {name}")
    printer = _ProgramPrinter(quiet=cli.json)

    async def play():
        from ..api import connect

        async with connect(uri, limits=limits, simulate_ble=cli.simulate_ble) as chair:
            # The governor's notices (heat auto-off, the cap) reach stderr through its log,
            # as in `run`.
            return await chair.run_program(name, duration=length_s, on_progress=printer)

    report = _drive(_clock(uri, time_scale), play)
    if cli.json:
        cli.echo_json(report.to_dict())
    else:
        from .progress import stop_text

        click.echo(
            f"program {name}: {report.message} after {_mmss(report.elapsed_s)}; "
            f"{stop_text(report.stop_confirmed, report.stop_sent)}",
            err=True,
        )
    if not report.stop_confirmed:
        raise SystemExit(1)


class _ProgramPrinter:
    """A line when the program starts, then the time left every minute (stderr)."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self._next_note: float | None = None

    def __call__(self, p) -> None:
        if self.quiet:
            return
        if self._next_note is None:
            click.echo(
                f"program {p.program} running; the chair's timer ends it in {_mmss(p.length_s)} "
                "(Ctrl-C stops it now)",
                err=True,
            )
            self._next_note = NOTE_EVERY_S
        elif p.elapsed_s >= self._next_note:
            click.echo(f"program {p.program}: {_mmss(p.remaining_s)} left", err=True)
            self._next_note += NOTE_EVERY_S


def _list(cli: CliContext, uri: str) -> None:
    programs = _static_programs(uri)
    model = uri
    if programs is None:  # the URI does not name the model: ask the device

        async def ask():
            from ..api import observe

            async with observe(uri, simulate_ble=cli.simulate_ble) as chair:  # only looks
                return chair.model, chair.programs

        model, programs = _drive(_clock(uri, None), ask, controlling=False)
    if not programs:
        raise _no_programs(model)
    if cli.json:
        cli.echo_json(list(programs))
    else:
        for p in programs:
            click.echo(p)


def _mmss(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
