"""``massager-ctl program NAME``: run a chair's built-in auto program.

Thin over the scripting API: :meth:`massager_ctl.api.Chair.run_program` switches the
chair on, sets its own session timer, starts the program and watches it through the
safety governor (heat auto-off and heat cap, session cap) until the chair's timer
ends it; Ctrl-C (or SIGTERM) stops it at once. This module only checks what it can
before connecting, and prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from . import completion
from .context import CliContext, pass_cli
from .session_cmds import TimeScale, _clock, _drive, _uri, history_recorder

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ..core.capabilities import Capabilities
    from ..core.errors import UsageError
    from ..devices.model import ModelDefinition
    from ..session.program import ProgramProgress, ProgramReport

    #: A model and its capabilities, known without connecting (None, None: not known).
    Static = tuple[ModelDefinition | None, Capabilities | None]

#: Shown in --help; the API's DEFAULT_PROGRAM_S (a test keeps the two equal).
DEFAULT_PROGRAM_MIN = 20
#: How often the remaining time is printed.
NOTE_EVERY_S = 60.0


def _static_caps(uri: str) -> Static:
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


def _static_programs(uri: str, static: Static | None = None) -> tuple[str, ...] | None:
    """The model's programs without connecting, when the URI names the model."""
    definition, caps = static or _static_caps(uri)
    if definition is None or caps is None:  # both or neither
        return None
    if not hasattr(definition.load("driver"), "run_program"):
        return ()  # its driver cannot start programs
    return tuple(caps.programs)


def _timer_minutes(ctx: click.Context | None) -> list[int] | None:
    """The lengths (min) the chosen device's own timer takes, when its URI names the model."""
    from ..core.errors import MassagerError

    cli = completion._cli(ctx)
    try:
        uri = cli.device_uri or "sim:"
        _definition, caps = _static_caps(uri)
    except MassagerError:
        return None
    if caps is None or not caps.chair_timer_s:
        return None
    return sorted(t // 60 for t in caps.chair_timer_s)


class Minutes(click.ParamType):  # type: ignore[type-arg]  # generic in new click only; no runtime subscript
    """A program length in whole minutes, one the chosen chair's own timer takes."""

    name = "MIN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            minutes = value
        else:
            try:
                minutes = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a whole number of minutes", param, ctx)
        offered = _timer_minutes(ctx)
        if offered and minutes not in offered:
            self.fail(
                f"{minutes}: the chair's own timer takes {', '.join(map(str, offered))} min", param, ctx
            )
        if not offered and not 1 <= minutes <= 240:
            self.fail(f"{minutes} is not between 1 and 240", param, ctx)
        return minutes

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(str(m)) for m in _timer_minutes(ctx) or () if str(m).startswith(incomplete)]


def _no_programs(model: str) -> UsageError:
    from ..core.errors import UsageError

    return UsageError(f"{model} has no built-in programs; play a profile with `massager-ctl run` instead")


@click.command()
@click.argument("name", required=False, shell_complete=completion.programs)
@click.option("--list", "list_", is_flag=True, help="List the device's built-in programs.")
@click.option(
    "--minutes",
    type=Minutes(),
    default=None,
    help=f"Program length, one the chair's own timer takes (Rongtai: 10, 20, 30); it ends the program "
    f"(default {DEFAULT_PROGRAM_MIN}).",
)
@click.option(
    "--time-scale", type=TimeScale(), default=None, help="Simulator only: X times faster, or 'max'."
)
@click.option("--no-history", is_flag=True, help="Keep no record of this session in the history.")
@pass_cli
def program(
    cli: CliContext,
    name: str | None,
    list_: bool,
    minutes: int | None,
    time_scale: float | str | None,
    no_history: bool,
) -> None:
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
    limits = cli.limits  # the config's caps, tightened by the person's
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
    printer = _ProgramPrinter(cli)
    recorder = history_recorder(cli, not no_history, printer.warn)

    async def play() -> ProgramReport:
        from ..api import Chair, connect

        async with connect(uri, limits=limits, simulate_ble=cli.simulate_ble) as chair:
            info = {"program": name, "device": uri, "model": chair.model, "length_s": length_s}
            if recorder is not None:
                info["history_id"] = recorder.begin(
                    kind="program",
                    plan=None,
                    device=uri,
                    model=chair.model,
                    limits=limits,
                    capabilities=chair.capabilities,
                    writer=chair.writer if isinstance(chair, Chair) else None,  # a service writes there
                    profile_id=name,
                    profile_name=f"program {name}",
                    planned_ms=int(length_s * 1000),
                )
            if cli.json:
                cli.record("start", info, t=0.0)

            def on_end(report: ProgramReport) -> None:
                if recorder is not None:
                    recorder.end(report)
                printer.end(report)

            # The governor's notices (heat auto-off, the cap) reach stderr through its log,
            # as in `run`.
            return await chair.run_program(
                name, duration=length_s, on_progress=printer, on_warning=printer.warn, on_end=on_end
            )

    report = _drive(_clock(uri, time_scale), play)
    if not cli.json:
        from .progress import stop_text

        click.echo(
            f"program {name}: {report.message} after {_mmss(report.elapsed_s)}; "
            f"{stop_text(report.stop_confirmed, report.stop_sent)}",
            err=True,
        )
    if not report.stop_confirmed:
        raise SystemExit(1)


class _ProgramPrinter:
    """A line when the program starts, then the time left every minute (stderr); with
    --json a ``progress`` record every minute, ``warning`` records and the ``end`` record."""

    def __init__(self, cli: CliContext) -> None:
        self.cli = cli
        self._next_note: float | None = None
        self._elapsed = 0.0

    def __call__(self, p: ProgramProgress) -> None:
        self._elapsed = p.elapsed_s
        if self._next_note is not None and p.elapsed_s < self._next_note:
            return
        if self.cli.json:
            data = {
                "program": p.program,
                "elapsed_s": round(p.elapsed_s, 3),
                "remaining_s": round(p.remaining_s, 3),
            }
            self.cli.record("progress", data, t=p.elapsed_s)
        elif self._next_note is None:
            click.echo(
                f"program {p.program} running; the chair's timer ends it in {_mmss(p.length_s)} "
                "(Ctrl-C stops it now)",
                err=True,
            )
        else:
            click.echo(f"program {p.program}: {_mmss(p.remaining_s)} left", err=True)
        self._next_note = NOTE_EVERY_S if self._next_note is None else self._next_note + NOTE_EVERY_S

    def warn(self, message: str) -> None:
        if self.cli.json:
            self.cli.record("warning", {"message": message}, t=self._elapsed)
        else:
            click.echo(f"massager-ctl: warning: {message}", err=True)

    def end(self, report: ProgramReport) -> None:
        if self.cli.json:
            self.cli.record("end", report.to_dict(), t=report.elapsed_s)


def _list(cli: CliContext, uri: str) -> None:
    programs = _static_programs(uri)
    model = uri
    if programs is None:  # the URI does not name the model: ask the device

        async def ask() -> tuple[str, tuple[str, ...]]:
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
