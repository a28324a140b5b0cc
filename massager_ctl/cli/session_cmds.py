"""Commands that drive a device: run, set, status, stop, devices.

Thin over the scripting API (massager_ctl.api): every command goes through
the same Chair, safety governor and writer as a Python script would.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import completion
from .context import CliContext, pass_cli
from .params import percent

if TYPE_CHECKING:
    from ..session.clock import _LoopClock

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..api import AnyChair
    from ..core.capabilities import Capabilities
    from ..core.status import DeviceState, Status
    from ..core.vocabulary import Zone
    from ..history import SessionRecorder
    from ..plan import Plan
    from ..session.limits import SafetyLimits
    from ..session.runner import SessionReport
    from .panel import LivePanel
    from .progress import ProgressPrinter
    from .stream import JsonSessionStream

EXIT_INTERRUPTED = 130
#: The chair stopped by itself mid-session (its own button or timer, or its deadman) and
#: the session ended there: not what was asked, though nothing failed (docs/cli.md).
EXIT_DEVICE_STOPPED = 3
EXIT_TERMINATED = 143


def _uri(cli: CliContext) -> str:
    uri = cli.device_uri
    served = _served(uri)
    if served is not None:
        return served
    if uri is None:
        click.echo("massager-ctl: no device configured; using the built-in simulated chair (sim:)", err=True)
        uri = "sim:"
    return uri


#: The time scale's range. Below real time, every wait of the stop path (its 2 s
#: timeout, the device's status cadence) stretches in wall time: at 1e-6 a signal's stop
#: would take weeks. Above this, the scaled simulator cannot keep pace anyway.
MIN_TIME_SCALE = 1.0
MAX_TIME_SCALE = 10_000.0


def _served(uri: str | None) -> str | None:
    """``service:NAME`` when a local `massager-ctl serve` owns this device (it holds the
    link; this command then goes through it), else None."""
    from ..remote.connect import is_remote, served_name

    if is_remote(uri):
        return None
    name = served_name(uri)
    if name is None:
        return None
    click.echo(f"massager-ctl: {name} is served by `massager-ctl serve`; going through it", err=True)
    return f"service:{name}"


class TimeScale(click.ParamType):  # type: ignore[type-arg]  # generic in new click only; no runtime subscript
    """A speed-up factor from 1 to 10000, or "max": as fast as the computer goes (virtual time)."""

    name = "X|max"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | str:
        if value == "max":
            return "max"
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{str(value)[:40]!r} is not a number or 'max'", param, ctx)
        if not MIN_TIME_SCALE <= number <= MAX_TIME_SCALE:  # (NaN fails this too)
            self.fail(
                f"{str(value)[:40]!r} must be at least {MIN_TIME_SCALE:g} (real time) and at most "
                f"{MAX_TIME_SCALE:g} (or 'max')",
                param,
                ctx,
            )
        return number


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic in new click only; no runtime subscript
    """A length of time above 0 ("5m", "90s", "1h30m"), read by the one duration parser; in ms."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from ..core.durations import DurationError, parse_length

        try:
            return parse_length(str(value))
        except DurationError as exc:
            self.fail(str(exc), param, ctx)


def _clock(uri: str, time_scale: float | str | None) -> _LoopClock:
    from ..core.errors import UsageError
    from ..session.clock import RealClock, ScaledClock, VirtualClock

    if time_scale is None or time_scale == 1:
        return RealClock()
    if not uri.startswith("sim:"):
        raise UsageError(
            "--time-scale works only with a simulated device (sim:); a real chair cannot speed up"
        )
    return VirtualClock() if time_scale == "max" else ScaledClock(float(time_scale))


def _drive(clock: _LoopClock, coro_factory: Callable[[], Awaitable[T]], *, controlling: bool = True) -> T:
    """Run a device coroutine under the process's signal guard (:mod:`.signals`).

    The first ending signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, ...) or Ctrl-Z
    cancels it; its ``finally`` blocks stop the device and wait for the confirmation;
    then the command exits 128 + n (Ctrl-Z: it suspends first, and exits after ``fg``).
    Later signals change nothing. ``controlling`` False: a command that only looks, and
    says the device was left as it was."""
    import asyncio  # here, not at the top: devices and the other read commands never load it

    from .signals import Signalled, guard

    with guard() as signals:

        async def main() -> T:
            task = asyncio.current_task()
            assert task is not None
            with signals.routing(task.cancel):
                return await coro_factory()

        try:
            result = clock.run(main())
        except asyncio.CancelledError:
            if signals.received is None:
                raise
            signals.finish(controlling=controlling)
        except KeyboardInterrupt:  # SIGINT without the guard (not the main thread)
            signals.received = signals.received or signal.SIGINT
            signals.finish(controlling=controlling)
        except Signalled as exc:  # a signal just before or after the session: nothing runs
            signals.received = signals.received or exc.signum
            signals.finish(controlling=controlling)
        if signals.received is not None:  # it came as the session was ending by itself
            signals.finish(controlling=controlling)
        return result


def _limits(cli: CliContext, max_intensity: float | None) -> SafetyLimits:
    limits = cli.limits  # the config's caps, tightened by the person's
    if max_intensity is not None:
        limits = limits.tightened(max_intensity=max_intensity)
    return limits


def _finish(report: SessionReport) -> None:
    """Exit 1 when the stop could not even be sent, or the device did not do as it was
    told (stopped or not, that is a failure); the summary or end record said which."""
    if not report.stop_sent or report.reason == "device-disobeyed":
        raise SystemExit(1)
    if report.reason == "device-stopped":
        raise SystemExit(EXIT_DEVICE_STOPPED)


def _session_output(
    cli: CliContext, *, id: str | None, name: str, keys: bool
) -> JsonSessionStream | LivePanel | ProgressPrinter:
    """What shows the session: JSON records with --json, the live panel on a terminal,
    else a plain line per change."""
    import sys

    if cli.json:
        from .stream import JsonSessionStream

        return JsonSessionStream(cli, id=id, name=name)
    if sys.stderr.isatty():
        from .panel import LivePanel

        return LivePanel(name=name, id=id, keys=keys)
    from .progress import ProgressPrinter

    return ProgressPrinter(name=name)


def limits_dict(limits: SafetyLimits) -> dict[str, Any]:
    return {
        "max_intensity": limits.max_intensity,
        "max_speed": limits.max_speed,
        "max_airbag": limits.max_airbag,
        "max_heat": limits.max_heat.value,
        "slew_per_s": limits.slew_per_s,
        "max_session_s": limits.max_session_s,
        "heat_auto_off_s": limits.heat_auto_off_s,
    }


def history_recorder(cli: CliContext, wanted: bool, warn: Callable[[str], None]) -> SessionRecorder | None:
    """A recorder for this session, or None (--no-history, or history.enabled = false)."""
    if not wanted or not cli.config.history_enabled:
        return None
    from ..history import SessionRecorder

    return SessionRecorder(person=cli.person, keep=cli.config.history_keep, warn=warn)


def _play(
    cli: CliContext,
    uri: str,
    clock: _LoopClock,
    make_plan: Callable[[AnyChair], Plan],
    limits: SafetyLimits,
    *,
    strict: bool,
    id: str | None,
    name: str,
    reconnect: bool = False,
    kind: str = "run",
    profile_hash: str | None = None,
    history: bool = True,
) -> SessionReport:
    """Connect, play the plan ``make_plan(chair)`` gives, show it, take keys from the
    terminal (space, n, -, +, q, Esc) and record it in the history; returns the report.

    Through a service (``service:``, ``mqtt://``) the session plays there: no keys here
    (the service's other clients steer it), and the history records no written steps (its
    peak is unknown, not 0)."""
    from ..remote.connect import is_remote
    from .keys import KeyReader

    keys = KeyReader.available() and not is_remote(uri)
    out = _session_output(cli, id=id, name=name, keys=keys)
    recorder = history_recorder(cli, history, out.warn)

    async def play() -> SessionReport:
        from ..api import Chair, connect, freeze_setup

        async with connect(uri, limits=limits, strict=strict, simulate_ble=cli.simulate_ble) as chair:
            local = chair if isinstance(chair, Chair) else None
            plan = make_plan(chair)
            in_force = limits.tightened(
                max_intensity=plan.limits.max_intensity,
                max_length_s=None if plan.limits.max_length_ms is None else plan.limits.max_length_ms / 1000,
            )
            info = {
                "device": uri,
                "model": chair.model,
                "duration_ms": plan.duration_ms,
                "segments": len(plan.roller),
                "caps": limits_dict(in_force),
                "person": cli.person,
            }
            history_id = None
            if recorder is not None:
                history_id = recorder.begin(
                    kind=kind,
                    plan=plan,
                    device=uri,
                    model=chair.model,
                    limits=in_force,
                    capabilities=chair.capabilities,
                    writer=local.writer if local is not None else None,
                    profile_id=id,
                    profile_hash=profile_hash,
                )
                info["history_id"] = history_id
            out.start(info, chair.capabilities)

            def on_end(report: SessionReport) -> None:  # in the path that stopped the device, once it is done
                if recorder is not None:
                    recorder.end(report)  # first: the record is kept even if the output fails
                out.end(report, {"history_id": history_id} if history_id is not None else None)

            chair.on_status(out.on_status)
            reader = None
            if keys and local is not None:
                from .keys import SessionKeys

                reader = KeyReader(SessionKeys(local, out))
                if not reader.start():  # a terminal that cannot give keys: play without them
                    reader = None
            freeze_setup()  # what was set up lives as long as the session: out of the GC's walk
            try:
                return await chair.run(
                    plan, on_progress=out, on_warning=out.warn, reconnect=reconnect, on_end=on_end
                )
            finally:
                if reader is not None:
                    reader.close()  # the terminal as it was, however the session ended

    try:
        return _drive(clock, play)
    finally:
        out.finish()


@click.command()
@click.argument("profile", required=False, shell_complete=completion.profiles)
@click.option(
    "--time-scale",
    type=TimeScale(),
    default=None,
    help="Play X (1 to 10000) times faster than real time, or 'max' (simulator only).",
)
@click.option(
    "--max-intensity",
    type=percent(),
    default=None,
    metavar="PCT",
    help="Cap intensity for this run (only lowers the configured cap).",
)
@click.option(
    "--dry-run", is_flag=True, help="Play in virtual time against no device; print what would be sent."
)
@click.option(
    "--strict", is_flag=True, help="Refuse zones or techniques the device lacks instead of dropping them."
)
@click.option(
    "--reconnect",
    is_flag=True,
    help="If the link drops, retry (bounded backoff) and resume from zero intensity.",
)
@click.option("--no-history", is_flag=True, help="Keep no record of this session in the history.")
@pass_cli
def run(
    cli: CliContext,
    profile: str | None,
    time_scale: float | str | None,
    max_intensity: float | None,
    dry_run: bool,
    strict: bool,
    reconnect: bool,
    no_history: bool,
) -> None:
    """Play PROFILE (a file, or a shipped or user profile name) on the device.

    Takes control of the device, and stops it however the run ends (its end, Ctrl-C,
    an error); `massager-ctl status` only looks. Without PROFILE, the first favourite
    of the person (--person) is played."""
    from ..core.errors import UsageError
    from ..profile import load_plan
    from ..profile.library import resolve_profile

    if profile is None:
        person = cli.person
        favourites = cli.config.person(person).favourites if person else ()
        if not favourites:
            who = f"{person} has no favourites" if person else "no --person given"
            raise UsageError(f"say which profile to play ({who}; `massager-ctl profile list` shows them)")
        profile = favourites[0]

    path = resolve_profile(profile, cli.config)
    plan = load_plan(path)
    limits = _limits(cli, max_intensity)
    if dry_run:
        _dry_run(cli, plan, limits, strict, id=path.stem)
        return
    uri = _uri(cli)
    clock = _clock(uri, time_scale)
    from ..history.recorder import file_hash

    report = _play(
        cli,
        uri,
        clock,
        lambda chair: plan,
        limits,
        strict=strict,
        id=path.stem,
        name=plan.name,
        reconnect=reconnect,
        profile_hash=file_hash(path),
        history=not no_history,
    )
    _finish(report)


def _dry_run(cli: CliContext, plan: Plan, limits: SafetyLimits, strict: bool, *, id: str) -> None:
    """Play the plan in virtual time through the governor and the chosen model's mapping,
    printing each write (mm:ss.s, the state in % and in the device's steps)."""
    from ..api import dry_run
    from ..connection.open import model_named_by
    from .progress import format_clock
    from .stream import device_state_dict

    device = cli.device_uri
    definition = model_named_by(device)
    caps = definition.static_capabilities() if definition is not None else None
    model = definition.name if definition is not None else device
    if cli.json:
        cli.record(
            "start",
            {
                "id": id,
                "name": plan.name,
                "device": device,
                "model": model,
                "duration_ms": plan.duration_ms,
                "caps": limits_dict(limits),
                "dry_run": True,
            },
            t=0.0,
        )

    def write(t: float, state: DeviceState) -> None:
        if cli.json:
            cli.record("state", {"device": device_state_dict(state, caps)}, t=t)
        else:
            click.echo(f"{format_clock(t)}  {_state_text(state, caps)}")

    def stop(t: float) -> None:
        if cli.json:
            cli.record("stop", {}, t=t)
        else:
            click.echo(f"{format_clock(t)}  stop")

    def warn(message: str) -> None:
        if cli.json:
            cli.record("warning", {"message": message}, t=0.0)
        else:
            click.echo(f"massager-ctl: warning: {message}", err=True)

    report = dry_run(
        plan, limits=limits, strict=strict, on_write=write, on_stop=stop, on_warning=warn, device=device
    )
    if cli.json:
        cli.record(
            "end", {"id": id, "name": plan.name, "dry_run": True, **report.to_dict()}, t=report.elapsed_s
        )
    else:
        click.echo(
            f"dry run of {plan.name} on {model}: {format_clock(report.plan_ms / 1000)}, {report.reason}",
            err=True,
        )


def _state_text(state: DeviceState, caps: Capabilities | None = None) -> str:
    """A device state for people: intensity in % (when the model's steps are known) and steps."""
    if state.is_stopped:
        return "all off"

    def level(value: int, steps: int | None) -> str:
        if steps:
            return f"{100 * value / steps:.0f}% (step {value}/{steps})"
        return f"step {value}"

    parts: list[str] = []
    if state.technique:
        from ..core.target import zone_order

        zones = ",".join(z.value for z in sorted(state.zones, key=zone_order))
        intensity = level(state.intensity, caps.intensity_steps if caps else None)
        text = f"{state.technique} {zones} intensity {intensity}"
        text += f" speed {level(state.speed, caps.speed_steps if caps else None)}"
        if state.width:
            text += f" {state.width.value}"
        parts.append(text)
    if state.airbags:
        steps = caps.airbag_levels if caps else None
        parts.append("airbags " + " ".join(f"{z}={level(lvl, steps)}" for z, lvl in state.airbags))
    if state.heat.value != "off":
        parts.append(f"heat {state.heat}")
    return "; ".join(parts)


def _parse_airbags(values: tuple[str, ...]) -> dict[str, float]:
    from ..core.errors import UsageError

    out: dict[str, float] = {}
    for item in values:
        zone, sep, level = item.partition("=")
        if not sep:
            raise UsageError(f"--airbag {item!r}: write ZONE=LEVEL, e.g. --airbag calves=40")
        try:
            out[zone.strip()] = float(level)
        except ValueError:
            raise UsageError(f"--airbag {item!r}: {level!r} is not a number") from None
    return out


@click.command("set")
@click.option(
    "--technique",
    "-t",
    type=completion.GuessingChoice(["knead", "shiatsu", "tap", "knock", "roll", "vibrate", "none"]),
)
@click.option(
    "--zones",
    "-z",
    metavar="ZONE[,ZONE]",
    help="Zones for the rollers, comma separated (default: the whole back the device reaches).",
    shell_complete=completion.zone_list,
)
@click.option("--intensity", "-i", type=percent(), metavar="PCT")
@click.option("--speed", "-s", type=percent(), metavar="PCT")
@click.option("--width", "-w", type=completion.GuessingChoice(["narrow", "medium", "wide"]))
@click.option("--heat", type=completion.GuessingChoice(["off", "low", "high"]))
@click.option(
    "--airbag",
    "airbags",
    multiple=True,
    metavar="ZONE=PCT",
    help="Airbag pressure; repeatable.",
    shell_complete=completion.airbag,
)
@click.option(
    "--for",
    "duration",
    type=Duration(),
    metavar="DURATION",
    help='How long to hold it, e.g. "5m" (default: until Ctrl-C or the session cap).',
)
@click.option(
    "--time-scale",
    type=TimeScale(),
    default=None,
    help="Simulator only: X (1 to 10000) times faster, or 'max'.",
)
@click.option("--strict", is_flag=True, help="Refuse zones or techniques the device lacks.")
@click.option("--no-history", is_flag=True, help="Keep no record of this session in the history.")
@pass_cli
def set_(
    cli: CliContext,
    technique: str | None,
    zones: str | None,
    intensity: float | None,
    speed: float | None,
    width: str | None,
    heat: str | None,
    airbags: tuple[str, ...],
    duration: int | None,
    time_scale: float | str | None,
    strict: bool,
    no_history: bool,
) -> None:
    """Hold a state by hand, through the safety governor, then stop.

    Takes control of the device, and stops it however the command ends. Without --zones,
    a technique works the whole back the device reaches (said at the start).
    """
    from ..api import build_state
    from ..core.errors import UsageError
    from ..core.target import zone_order
    from ..core.vocabulary import BACK_ZONES
    from ..session.runner import manual_plan

    zone_list = [z.strip() for z in zones.split(",") if z.strip()] if zones else None
    whole_back = technique not in (None, "none") and not zone_list
    words: dict[str, Any] = dict(
        technique=technique,
        zones=[z.value for z in BACK_ZONES] if whole_back else zone_list,
        intensity=intensity,
        speed=speed,
        width=width,
        heat=heat,
        airbags=_parse_airbags(airbags) if airbags else None,
    )
    state = build_state(**words)  # checked before connecting
    if state.is_stopped:
        raise UsageError("nothing to set: give a technique with intensity, heat or an airbag")
    limits = _limits(cli, None)
    length_ms = duration if duration is not None else int(limits.max_session_s * 1000)
    uri = _uri(cli)
    clock = _clock(uri, time_scale)

    def make_plan(chair: AnyChair) -> Plan:
        held = state
        if whole_back:
            held = state.with_(zones=whole_back_zones(chair.capabilities))
            names = ", ".join(z.value for z in sorted(held.zones, key=zone_order))
            note = f"no --zones given: the rollers work the whole back {chair.model} reaches ({names})"
            if cli.json:
                cli.record("note", {"message": note})
            else:
                click.echo(f"massager-ctl: {note}", err=True)
        return replace(manual_plan(held, length_ms), name="set")

    report = _play(
        cli,
        uri,
        clock,
        make_plan,
        limits,
        strict=strict,
        id=None,
        name="set",
        kind="set",
        history=not no_history,
    )
    _finish(report)


def whole_back_zones(caps: Capabilities) -> frozenset[Zone]:
    """The back zones a device's rollers reach (all its zones if it names no back zone)."""
    from ..core.errors import UsageError
    from ..core.vocabulary import BACK_ZONES

    back = frozenset(z for z in BACK_ZONES if z in caps.zones)
    if back:
        return back
    if caps.zones:
        return frozenset(caps.zones)
    raise UsageError("this device names no zones its rollers reach; give --zones")


def _status_text(status: Status) -> str:
    """The status as lines of text. What was not read says "unknown", never "stopped"; a
    status built from what this host sent says so."""
    d = status.to_dict()
    lines: list[str] = []
    if not status.known:
        why = status.extra.get("why") or "the device does not report it, and this host sent it nothing"
        lines.append(f"running: unknown ({why})")
    else:
        running = f"running: {'yes' if status.running else 'no'}" + (" (stopped)" if status.stopped else "")
        if not status.confirmed:
            running += " - as sent by this host, not confirmed by the device"
        lines.append(running)
        if "run_state" in status.extra:  # a chair that reports its own state: off, ready, ...
            lines.append(f"chair: {status.extra['run_state']}")
        if d["technique"]:
            lines.append(
                f"rollers: {d['technique']} on {', '.join(d['zones'])}, intensity step "
                f"{d['intensity']}, speed step {d['speed']}, width {d['width']}"
            )
        else:
            lines.append("rollers: off")
    if status.roller_position is not None:
        lines.append(f"roller position: {status.roller_position:.2f} (0 neck .. 1 seat)")
    if status.known or status.airbag_pressure:
        bags = ", ".join(f"{z} {p:.0f}%" for z, p in d["airbag_pressure"].items())
        if not bags and d["airbags"]:  # no pressure readings, only the levels it works at
            bags = ", ".join(f"{z} level {level}" for z, level in d["airbags"].items())
        lines.append(f"airbags: {bags or 'vented'}")
    if status.known:
        temp = f", {status.heater_temp_c:.1f} °C" if status.heater_temp_c is not None else ""
        lines.append(f"heat: {d['heat']}{temp}")
    if status.remaining_s is not None:
        lines.append(f"chair timer: {status.remaining_s} s left")
    for key, label in (("battery_pct", "battery"), ("rpm", "speed")):
        if key in status.extra:
            unit = " %" if key == "battery_pct" else " rpm"
            lines.append(f"{label}: {status.extra[key]}{unit}")
    if status.fault:
        lines.append(f"FAULT: {status.fault}")
    return "\n".join(lines)


def _fault_of(status: Status) -> str | None:
    """The device's fault, if it reports one (its "deadman" text says why it stopped)."""
    return status.fault if status.fault and status.fault != "deadman" else None


@click.command()
@click.option(
    "--watch", is_flag=True, help="Keep showing the status until Ctrl-C: redrawn in place, or only changes."
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 60),
    default=0.5,
    show_default=True,
    metavar="S",
    help="With --watch: seconds between two reads.",
)
@click.option("--count", type=click.IntRange(1), default=None, help="With --watch: stop after N updates.")
@pass_cli
def status(cli: CliContext, watch: bool, interval: float, count: int | None) -> None:
    """Read the device's status without changing it.

    Only looks: it sends queries that change nothing (the native protocol's
    GET_STATUS, and no HELLO, so no deadman is armed; the HF8's P; the
    Pulsetto's Q; the Theragun's status request), never a command, and never
    stops the device on exit: a program started at the chair's own remote
    keeps running. Devices that do not report what they run (HF8, Pulsetto,
    a Theragun that does not answer) show it as unknown. Exit 1 if the device
    reports a fault.
    """
    from .watch import StatusWatchPrinter

    uri = _uri(cli)
    faults: list[str] = []
    show = StatusWatchPrinter(cli, _status_text)

    async def read() -> Status | None:
        from ..api import observe

        async with observe(uri, simulate_ble=cli.simulate_ble) as chair:
            if not watch:
                return await chair.status()
            n = 0
            try:
                async for st in chair.watch(interval):
                    n += 1
                    fault = _fault_of(st)
                    if fault and fault not in faults:
                        faults.append(fault)
                    show(st)
                    if count is not None and n >= count:
                        break
            finally:
                show.end()
            return None

    result = _drive(_clock(uri, None), read, controlling=False)
    if result is not None:
        if cli.json:
            cli.echo_json(result.to_dict())
        else:
            click.echo(_status_text(result))
        fault = _fault_of(result)
        if fault:
            faults.append(fault)
    if faults:
        click.echo(f"massager-ctl: the device reports a fault: {'; '.join(faults)}", err=True)
        raise SystemExit(1)


def _returning_home(cli: CliContext) -> Callable[[str, Status], None]:
    """Say once that the chair is returning home, then how far, every few seconds."""
    said: list[float] = []

    def progress(phase: str, status: Status) -> None:
        import time

        now = time.monotonic()
        if cli.json or (said and now - said[-1] < 5.0):
            return
        where = status.extra.get("roller_height")
        more = f" (rollers at {where} of 12)" if said and where is not None else ""
        click.echo(f"{phase} …{more}" if not said else f"still {phase}{more}", err=True)
        said.append(now)

    return progress


@click.command()
@pass_cli
def stop(cli: CliContext) -> None:
    """Stop the device: rollers, airbags and heat off, confirmed by the device.

    The stop goes out as soon as the link is open, before anything waits on
    what the device says; confirmation comes after. Exit 1 if a device that
    reports its state does not confirm it.
    """
    uri = _uri(cli)

    async def do_stop() -> Status:
        from ..api import stop as stop_device

        return await stop_device(uri, simulate_ble=cli.simulate_ble, on_progress=_returning_home(cli))

    result = _drive(_clock(uri, None), do_stop)
    confirmed = result.confirmed and result.stopped
    if cli.json:
        from ..core.status import UNKNOWN

        cli.echo_json(
            {
                "stop_sent": True,
                "stopped": result.stopped if result.confirmed else UNKNOWN,
                "confirmed": confirmed,
                "status": result.to_dict(),
            }
        )
    elif confirmed:
        click.echo("stopped (confirmed by the device)")
    elif not result.confirmed:
        click.echo("stop sent (this device cannot report whether it stopped)")
    else:
        click.echo("stop NOT confirmed: the device still reports itself running")
    if result.confirmed and not result.stopped:
        raise SystemExit(1)


@click.command()
@pass_cli
def devices(cli: CliContext) -> None:
    """List the supported device models and what they can do."""
    from ..devices.registry import MODELS

    if cli.json:  # one naming scheme: "id" is what you type (the model), "name" its title
        models = []
        for m in MODELS.values():
            d = m.to_dict()
            models.append({"id": d.pop("name"), "name": d.pop("title"), **d})
        cli.echo_json(models)
        return
    for m in MODELS.values():
        d = m.to_dict()
        click.echo(f"{m.name}  ({', '.join(s + ':' for s in m.schemes)})  {m.title}")
        caps = d["capabilities"]
        if isinstance(caps, dict):
            click.echo(f"    zones: {', '.join(caps['zones'])}")
            click.echo(
                f"    techniques: {', '.join(caps['techniques'])}; intensity steps "
                f"{caps['intensity_steps']}, speed steps {caps['speed_steps']}"
            )
            click.echo(
                f"    airbags: {', '.join(caps['airbag_zones']) or 'none'} "
                f"({caps['airbag_levels']} levels); heat: {', '.join(caps['heat_levels']) or 'none'}"
            )
        else:
            click.echo(f"    capabilities: {caps}")
        click.echo(f"    writes at most every {d['min_write_gap_ms']} ms; keepalive: {m.keepalive or 'none'}")
        confirmed = m.safety.stop_confirmed_by.value
        click.echo(f"    if the link is lost: {m.safety.link_loss_note()}; stop confirmed by: {confirmed}")
