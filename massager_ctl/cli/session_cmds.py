"""Commands that drive a device: run, set, status, stop, devices.

Thin over the scripting API (massager_ctl.api): every command goes through
the same Chair, safety governor and writer as a Python script would.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

import click

from .context import CliContext, pass_cli
from .params import percent

if TYPE_CHECKING:
    from ..session.clock import _LoopClock

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.status import Status

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _uri(cli: CliContext) -> str:
    uri = cli.device_uri
    if uri is None:
        click.echo("massager-ctl: no device configured; using the built-in simulated chair (sim:)", err=True)
        uri = "sim:"
    return uri


#: The time scale's range. Below real time, every wait of the stop path (its 2 s
#: timeout, the device's status cadence) stretches in wall time: at 1e-6 a signal's stop
#: would take weeks. Above this, the scaled simulator cannot keep pace anyway.
MIN_TIME_SCALE = 1.0
MAX_TIME_SCALE = 10_000.0


class TimeScale(click.ParamType):
    """A speed-up factor from 1 to 10000, or "max": as fast as the computer goes (virtual time)."""

    name = "X|max"

    def convert(self, value, param, ctx):
        if value == "max":
            return value
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


class Duration(click.ParamType):
    """A length of time above 0 ("5m", "90s", "1h30m"), read by the one duration parser; in ms."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from ..core.durations import DurationError, parse_length

        try:
            return parse_length(str(value))
        except DurationError as exc:
            self.fail(str(exc), param, ctx)


def _clock(uri: str, time_scale: float | str | None):
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


def _limits(cli: CliContext, max_intensity: float | None):
    limits = cli.config.limits
    if max_intensity is not None:
        limits = limits.tightened(max_intensity=max_intensity)
    return limits


def _finish(cli: CliContext, report, name: str, printer) -> None:
    from .progress import summary

    printer.finish()
    if cli.json:
        data = report.to_dict()
        data["profile"] = name
        cli.echo_json(data)
    else:
        click.echo(summary(report, name), err=True)
    if not report.stop_sent or report.reason == "device-disobeyed":
        raise SystemExit(1)  # a device that did not do as it was told is a failure, stopped or not


@click.command()
@click.argument("profile")
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
@pass_cli
def run(cli: CliContext, profile, time_scale, max_intensity, dry_run, strict, reconnect) -> None:
    """Play PROFILE (a file, or a shipped or user profile name) on the device.

    Takes control of the device, and stops it however the run ends (its end, Ctrl-C,
    an error); `massager-ctl status` only looks.
    """
    from ..profile import load_plan
    from ..profile.library import resolve_profile
    from .progress import ProgressPrinter

    plan = load_plan(resolve_profile(profile, cli.config))
    limits = _limits(cli, max_intensity)
    if dry_run:
        _dry_run(cli, plan, limits, strict)
        return
    uri = _uri(cli)
    clock = _clock(uri, time_scale)
    printer = ProgressPrinter(json_lines=cli.json)

    async def play():
        from ..api import connect

        async with connect(uri, limits=limits, strict=strict, simulate_ble=cli.simulate_ble) as chair:
            return await chair.run(plan, on_progress=printer, on_warning=printer.warn, reconnect=reconnect)

    try:
        report = _drive(clock, play)
    finally:
        printer.finish()
    _finish(cli, report, plan.name, printer)


def _dry_run(cli: CliContext, plan, limits, strict: bool) -> None:
    """Play the plan in virtual time through the governor and mapping, printing each write."""
    import json

    from ..api import dry_run
    from ..core.durations import format_duration

    def write(t: float, state) -> None:
        if cli.json:
            click.echo(json.dumps({"t_ms": round(t * 1000), "state": _state_dict(state)}))
        else:
            click.echo(f"{format_duration(round(t * 1000)):>10}  {_state_text(state)}")

    def stop(t: float) -> None:
        if not cli.json:
            click.echo(f"{'':>10}  stop")

    report = dry_run(
        plan,
        limits=limits,
        strict=strict,
        on_write=write,
        on_stop=stop,
        on_warning=lambda m: click.echo(f"massager-ctl: warning: {m}", err=True),
    )
    if not cli.json:
        click.echo(f"dry run of {plan.name}: {format_duration(report.plan_ms)}, {report.reason}", err=True)


def _state_dict(state) -> dict:
    return {
        "technique": state.technique.value if state.technique else None,
        "zones": sorted(z.value for z in state.zones),
        "intensity": state.intensity,
        "speed": state.speed,
        "width": state.width.value if state.width else None,
        "airbags": {z.value: level for z, level in state.airbags},
        "heat": state.heat.value,
    }


def _state_text(state) -> str:
    if state.is_stopped:
        return "all off"
    parts = []
    if state.technique:
        zones = ",".join(sorted(z.value for z in state.zones))
        parts.append(
            f"{state.technique} {zones} intensity {state.intensity} speed {state.speed}"
            f" {state.width.value if state.width else ''}".rstrip()
        )
    if state.airbags:
        parts.append("airbags " + " ".join(f"{z}={lvl}" for z, lvl in state.airbags))
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
    "--technique", "-t", type=click.Choice(["knead", "shiatsu", "tap", "knock", "roll", "vibrate", "none"])
)
@click.option("--zones", "-z", metavar="ZONE[,ZONE]", help="Zones for the rollers, comma separated.")
@click.option("--intensity", "-i", type=percent(), metavar="PCT")
@click.option("--speed", "-s", type=percent(), metavar="PCT")
@click.option("--width", "-w", type=click.Choice(["narrow", "medium", "wide"]))
@click.option("--heat", type=click.Choice(["off", "low", "high"]))
@click.option("--airbag", "airbags", multiple=True, metavar="ZONE=PCT", help="Airbag pressure; repeatable.")
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
@pass_cli
def set_(
    cli: CliContext, technique, zones, intensity, speed, width, heat, airbags, duration, time_scale, strict
) -> None:
    """Hold a state by hand, through the safety governor, then stop.

    Takes control of the device, and stops it however the command ends.
    """
    from ..api import build_state
    from ..core.errors import UsageError
    from ..session.runner import manual_plan
    from .progress import ProgressPrinter

    state = build_state(
        technique=technique,
        zones=[z.strip() for z in zones.split(",") if z.strip()] if zones else None,
        intensity=intensity,
        speed=speed,
        width=width,
        heat=heat,
        airbags=_parse_airbags(airbags) if airbags else None,
    )
    if state.is_stopped:
        raise UsageError("nothing to set: give a technique with zones and intensity, heat or an airbag")
    limits = _limits(cli, None)
    length_ms = duration if duration is not None else int(limits.max_session_s * 1000)
    plan = replace(manual_plan(state, length_ms), name="set")
    uri = _uri(cli)
    clock = _clock(uri, time_scale)
    printer = ProgressPrinter(json_lines=cli.json)

    async def hold():
        from ..api import connect

        async with connect(uri, limits=limits, strict=strict, simulate_ble=cli.simulate_ble) as chair:
            return await chair.run(plan, on_progress=printer, on_warning=printer.warn)

    try:
        report = _drive(clock, hold)
    finally:
        printer.finish()
    _finish(cli, report, "set", printer)


def _status_text(status) -> str:
    """The status as lines of text. What was not read says "unknown", never "stopped"; a
    status built from what this host sent says so."""
    d = status.to_dict()
    lines = []
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


def _fault_of(status) -> str | None:
    """The device's fault, if it reports one (its "deadman" text says why it stopped)."""
    return status.fault if status.fault and status.fault != "deadman" else None


@click.command()
@click.option("--watch", is_flag=True, help="Keep printing the status until Ctrl-C.")
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
def status(cli: CliContext, watch, interval, count) -> None:
    """Read the device's status without changing it.

    Only looks: it sends queries that change nothing (the native protocol's
    GET_STATUS, and no HELLO, so no deadman is armed; the HF8's P; the
    Pulsetto's Q; the Theragun's status request), never a command, and never
    stops the device on exit: a program started at the chair's own remote
    keeps running. Devices that do not report what they run (HF8, Pulsetto,
    a Theragun that does not answer) show it as unknown. Exit 1 if the device
    reports a fault.
    """
    import json

    uri = _uri(cli)
    faults: list[str] = []

    async def read():
        from ..api import observe

        async with observe(uri, simulate_ble=cli.simulate_ble) as chair:
            if not watch:
                return await chair.status()
            n = 0
            async for st in chair.watch(interval):
                n += 1
                fault = _fault_of(st)
                if fault and fault not in faults:
                    faults.append(fault)
                if cli.json:
                    click.echo(json.dumps(st.to_dict()))
                else:
                    click.echo(_status_text(st).replace("\n", "; "))
                if count is not None and n >= count:
                    break
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

    async def do_stop():
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

    if cli.json:
        cli.echo_json([m.to_dict() for m in MODELS.values()])
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
