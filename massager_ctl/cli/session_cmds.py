"""Commands that drive a device: run, set, status, stop, devices.

Thin over the scripting API (massager_ctl.api): every command goes through
the same Chair, safety governor and writer as a Python script would.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace

import click

from .context import CliContext, pass_cli

EXIT_INTERRUPTED = 130
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


class TimeScale(click.ParamType):
    """A speed-up factor above 0, or "max": as fast as the computer goes (virtual time)."""

    name = "X|max"

    def convert(self, value, param, ctx):
        if isinstance(value, float) or value == "max":
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number or 'max'", param, ctx)
        if not 0 < number <= 10_000:
            self.fail(f"{value!r} must be above 0 and at most 10000 (or 'max')", param, ctx)
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
    return VirtualClock() if time_scale == "max" else ScaledClock(time_scale)


class _Terminated(Exception):
    pass


def _drive(clock, coro_factory):
    """Run a device coroutine: SIGTERM and Ctrl-C cancel it (its finally stops the
    device), then the CLI exits 143 / 130."""
    terminated = False

    async def main():
        nonlocal terminated
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_term():
            nonlocal terminated
            terminated = True
            task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_term)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass
        try:
            return await coro_factory()
        finally:
            try:
                loop.remove_signal_handler(signal.SIGTERM)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass

    try:
        return clock.run(main())
    except KeyboardInterrupt:
        click.echo("massager-ctl: interrupted; the device was told to stop", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except asyncio.CancelledError:
        if terminated:
            click.echo("massager-ctl: terminated; the device was told to stop", err=True)
            raise SystemExit(EXIT_TERMINATED) from None
        raise


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
    if not report.stop_sent:
        raise SystemExit(1)


@click.command()
@click.argument("profile")
@click.option(
    "--time-scale",
    type=TimeScale(),
    default=None,
    help="Play X times faster than real time, or 'max' (simulator only).",
)
@click.option(
    "--max-intensity",
    type=click.FloatRange(0, 100),
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
    """Play PROFILE (a file, or a shipped or user profile name) on the device."""
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
@click.option("--intensity", "-i", type=click.FloatRange(0, 100), metavar="PCT")
@click.option("--speed", "-s", type=click.FloatRange(0, 100), metavar="PCT")
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
    "--time-scale", type=TimeScale(), default=None, help="Simulator only: X times faster, or 'max'."
)
@click.option("--strict", is_flag=True, help="Refuse zones or techniques the device lacks.")
@pass_cli
def set_(
    cli: CliContext, technique, zones, intensity, speed, width, heat, airbags, duration, time_scale, strict
) -> None:
    """Hold a state by hand, through the safety governor, then stop."""
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
    d = status.to_dict()
    lines = [f"running: {'yes' if status.running else 'no'}" + ("" if not status.stopped else " (stopped)")]
    if d["technique"]:
        lines.append(
            f"rollers: {d['technique']} on {', '.join(d['zones'])}, intensity step "
            f"{d['intensity']}, speed step {d['speed']}, width {d['width']}"
        )
    else:
        lines.append("rollers: off")
    if status.roller_position is not None:
        lines.append(f"roller position: {status.roller_position:.2f} (0 neck .. 1 seat)")
    bags = ", ".join(f"{z} {p:.0f}%" for z, p in d["airbag_pressure"].items()) or "vented"
    lines.append(f"airbags: {bags}")
    temp = f", {status.heater_temp_c:.1f} °C" if status.heater_temp_c is not None else ""
    lines.append(f"heat: {d['heat']}{temp}")
    if status.remaining_s is not None:
        lines.append(f"chair timer: {status.remaining_s} s left")
    if status.fault:
        lines.append(f"FAULT: {status.fault}")
    return "\n".join(lines)


@click.command()
@click.option("--watch", is_flag=True, help="Keep printing status updates until Ctrl-C.")
@click.option("--count", type=click.IntRange(1), default=None, help="With --watch: stop after N updates.")
@pass_cli
def status(cli: CliContext, watch, count) -> None:
    """Read the device's status."""
    import json

    uri = _uri(cli)

    async def read():
        from ..api import connect

        async with connect(uri, simulate_ble=cli.simulate_ble) as chair:
            first = await chair.status()
            if not watch:
                return first
            seen = asyncio.Queue()
            chair.on_status(seen.put_nowait)
            n = 0
            while count is None or n < count:
                st = await asyncio.wait_for(seen.get(), 5.0)
                n += 1
                if cli.json:
                    click.echo(json.dumps(st.to_dict()))
                else:
                    click.echo(_status_text(st).replace("\n", "; "))
            return None

    result = _drive(_clock(uri, None), read)
    if result is not None:
        if cli.json:
            cli.echo_json(result.to_dict())
        else:
            click.echo(_status_text(result))


@click.command()
@pass_cli
def stop(cli: CliContext) -> None:
    """Stop the device: rollers, airbags and heat off, confirmed by the device."""
    uri = _uri(cli)

    async def do_stop():
        from ..api import connect

        async with connect(uri, simulate_ble=cli.simulate_ble) as chair:
            return await chair.stop()

    result = _drive(_clock(uri, None), do_stop)
    can_report = result.extra.get("confirmed", True) is not False
    confirmed = result.stopped and can_report
    if cli.json:
        cli.echo_json({"stopped": result.stopped, "confirmed": confirmed, "status": result.to_dict()})
    elif confirmed:
        click.echo("stopped (confirmed by the device)")
    elif not can_report:
        click.echo("stop sent (this device cannot report whether it stopped)")
    else:
        click.echo("stop NOT confirmed: the device still reports itself running")
    if can_report and not result.stopped:
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
