"""``massager-ctl program NAME``: run a chair's own built-in auto program.

The chair plays the program by itself; massager-ctl switches it on, sets the
chair's own session timer, starts the program and watches the status. The
session-length rules are the governor's: the length (one of the chair's timer
lengths, default 20 min, the chair's default for auto programs) must fit the
configured session cap. The program ends at the chair's own timer; if the
chair is still running a little after that, massager-ctl stops it. Ctrl-C
(or SIGTERM) stops it at once. Heat the program switches on is switched off
after the configured heat auto-off time, as in profile sessions.
"""

from __future__ import annotations

import asyncio

import click

from .context import CliContext, pass_cli
from .session_cmds import TimeScale, _clock, _drive, _uri

#: The chair's default session length for auto programs.
DEFAULT_PROGRAM_MIN = 20
#: How long past its timer the chair may still run before massager-ctl stops it.
GRACE_S = 15.0
POLL_S = 1.0


def _static_programs(uri: str) -> tuple[str, ...] | None:
    """The model's programs without connecting, when the URI names the model."""
    from ..connection.uri import parse_uri
    from ..devices.registry import DEFAULT_SIM_MODEL, get_model

    parsed = parse_uri(uri)
    name = parsed.options.get("model")
    if parsed.scheme == "sim":
        name = parsed.target or DEFAULT_SIM_MODEL
    if not name:
        return None
    definition = get_model(name)
    caps = definition.static_capabilities()
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

    uri = _uri(cli)
    if list_:
        _list(cli, uri)
        return
    if not name:
        raise UsageError("say which program to run (massager-ctl program --list shows them)")
    limits = cli.config.limits
    length_min = minutes or DEFAULT_PROGRAM_MIN
    static = _static_programs(uri)
    if static is not None and not static:
        raise _no_programs(uri)
    if static is not None and name not in static:
        raise UsageError(f"no program {name!r} on this device; it has: {', '.join(static)}")

    from ..session.governor import SafetyGovernor

    SafetyGovernor(limits).check_length(length_min * 60, f"program {name}")
    clock = _clock(uri, time_scale)

    async def play():
        from ..api import connect

        async with connect(uri, limits=limits, simulate_ble=cli.simulate_ble) as chair:
            return await _run_program(cli, chair, name, length_min * 60, limits)

    result = _drive(clock, play)
    if cli.json:
        cli.echo_json(result)
    else:
        done = "device stopped (confirmed)" if result["stop_confirmed"] else "stop NOT confirmed"
        click.echo(f"program {name}: {result['reason']} after {_mmss(result['elapsed_s'])}; {done}", err=True)
    if not result["stop_confirmed"]:
        raise SystemExit(1)


def _list(cli: CliContext, uri: str) -> None:
    programs = _static_programs(uri)
    model = uri
    if programs is None:  # the URI does not name the model: ask the device

        async def ask():
            from ..api import connect

            async with connect(uri, simulate_ble=cli.simulate_ble) as chair:
                return chair.model, tuple(chair.device.capabilities.programs)

        model, programs = _drive(_clock(uri, None), ask)
    if not programs:
        raise _no_programs(model)
    if cli.json:
        cli.echo_json(list(programs))
    else:
        for p in programs:
            click.echo(p)


async def _run_program(cli: CliContext, chair, name: str, length_s: float, limits) -> dict:
    from ..core.errors import DeviceError, UsageError

    device = chair.device
    programs = tuple(device.capabilities.programs)
    if not programs or not hasattr(device, "run_program"):
        raise _no_programs(device.model)
    if name not in programs:
        raise UsageError(f"no program {name!r} on {device.model}; it has: {', '.join(programs)}")
    timers = sorted(device.capabilities.chair_timer_s)
    if timers and length_s not in timers:
        raise UsageError(
            f"{device.model}'s own timer offers {', '.join(str(t // 60) for t in timers)} min; "
            "choose one of them with --minutes"
        )
    plan_session = getattr(device, "plan_session", None)
    if plan_session is not None:
        plan_session(length_s)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await device.run_program(name)
    if not cli.json:
        click.echo(
            f"program {name} running; the chair's timer ends it in {_mmss(length_s)} (Ctrl-C stops it now)",
            err=True,
        )
    reason = "length reached: stopped by massager-ctl"
    heat_since: float | None = None
    heat_off = getattr(device, "heat_off", None)
    next_note = start + 60.0
    while True:
        status = await device.read_status(timeout=2.0)
        now = loop.time()
        if not status.running:
            near_end = now - start >= length_s - 5.0
            reason = "ended by the chair's own timer" if near_end else "ended at the chair"
            break
        if now - start >= length_s + GRACE_S:
            break
        if status.state.heat.value != "off":
            heat_since = now if heat_since is None else heat_since
            if heat_off is not None and now - heat_since >= limits.heat_auto_off_s:
                await heat_off()
                heat_since = None
        else:
            heat_since = None
        if not cli.json and now >= next_note:
            left = status.remaining_s if status.remaining_s is not None else length_s - (now - start)
            click.echo(f"program {name}: {_mmss(max(0, left))} left", err=True)
            next_note += 60.0
        await asyncio.sleep(POLL_S)
    try:
        stop_status = await chair.stop()
        confirmed = stop_status.stopped
    except DeviceError as exc:
        click.echo(f"massager-ctl: {exc}", err=True)
        confirmed = False
    return {
        "program": name,
        "reason": reason,
        "elapsed_s": round(loop.time() - start, 3),
        "length_s": length_s,
        "stop_confirmed": confirmed,
    }


def _mmss(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
