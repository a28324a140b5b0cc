"""``massager-ctl simulate MODEL``: a simulated device on a pseudo-terminal.

The model's simulator speaks its real bytes on the master side of a pty; the
slave's path is printed, and any host opens it like a USB serial port::

    $ massager-ctl simulate nlr-hf8
    simulating nlr-hf8 on /dev/pts/5
    connect with: massager-ctl --device 'serial:/dev/pts/5?model=nlr-hf8' status
    $ massager-ctl --device 'serial:/dev/pts/5?model=nlr-hf8' run quick     # elsewhere

It runs until Ctrl-C (or SIGTERM), then closes the port; hosts still on it
see the cable pulled. POSIX only (ptys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import click

from . import completion
from .context import CliContext, pass_cli

if TYPE_CHECKING:  # imported where used: the CLI starts fast
    from ..core.status import Status
    from ..devices.model import ModelDefinition
    from ..sim.base import SimulatedDevice
    from ..sim.faults import FaultInjector
    from ..transport.base import Transport
    from ..transport.pty import PtyPort


def pty_models() -> list[ModelDefinition]:
    """Models whose simulator can be served on a pty (serial devices and the native protocol)."""
    from ..devices.registry import MODELS

    return [m for m in MODELS.values() if m.simulator and m.reachable_on_serial]


def build_simulator(
    definition: ModelDefinition, transport: Transport, faults: FaultInjector | None = None
) -> SimulatedDevice:
    """The model's simulator on ``transport`` (told its model name when it takes one)."""
    import inspect

    cls = definition.load("simulator")
    kwargs: dict[str, Any] = {"faults": faults}
    try:
        if "model" in inspect.signature(cls).parameters:
            kwargs["model"] = definition.name
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        pass
    simulator: SimulatedDevice = cls(transport, **kwargs)
    return simulator


async def serve_on_pty(
    definition: ModelDefinition,
    *,
    faults: FaultInjector | None = None,
    announce: Callable[[PtyPort], None] | None = None,
) -> tuple[PtyPort, SimulatedDevice]:
    """Start ``definition``'s simulator on a new pty; returns (port, simulator)."""
    from ..transport.pty import PtyPort

    port = PtyPort()
    try:
        await port.device.open()
        simulator = build_simulator(definition, port.device, faults)
        await simulator.start()
    except BaseException:
        port.unplug()
        raise
    if announce is not None:
        announce(port)
    return port, simulator


@click.command()
@click.argument("model", shell_complete=completion.models)
@click.option(
    "--link",
    "link_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Also make a symlink at PATH to the port (a name that stays the same).",
)
@click.option(
    "--show",
    is_flag=True,
    help="Show the simulated device's state live (in place on a terminal; a line per change otherwise).",
)
@pass_cli
def simulate(cli: CliContext, model: str, link_path: str | None, show: bool) -> None:
    """Serve MODEL's simulator on a pseudo-terminal until Ctrl-C; prints its port."""
    import asyncio
    import os

    from ..core.errors import UsageError
    from ..devices.registry import get_model
    from .signals import guard

    if not hasattr(os, "openpty"):
        raise UsageError("simulate needs pseudo-terminals (Linux, macOS, BSD)")
    definition = get_model(model)
    if definition not in pty_models():
        names = ", ".join(m.name for m in pty_models())
        why = "has no simulator" if definition.simulator is None else "is not a serial device"
        hint = ""
        if definition.simulator and "ble" in definition.schemes:
            hint = " (Bluetooth models: use --simulate-ble, or --device sim:MODEL)"
        raise UsageError(f"model {definition.name} {why}{hint}; simulate one of: {names}")

    def announce(port: PtyPort) -> None:
        uri = f"serial:{port.path}?model={definition.name}"
        if cli.json:
            cli.record("ready", {"model": definition.name, "port": port.path, "uri": uri, "link": link_path})
            return
        click.echo(f"simulating {definition.name} on {port.path}")
        if link_path:
            click.echo(f"also reachable as {link_path}")
        click.echo(f"connect with: massager-ctl --device '{uri}' status")
        click.echo("Ctrl-C to stop", err=True)

    async def serve() -> None:
        done = asyncio.Event()
        # Ctrl-C, SIGTERM, SIGHUP and every other ending signal end the serving (its
        # finally closes the port and writes the trace); Ctrl-Z suspends it as usual.
        with signals.routing(done.set, pause_ends=False):
            port, simulator = await serve_on_pty(definition)
            try:
                if link_path:
                    _make_link(port.path, link_path)
                announce(port)
                watcher = asyncio.get_running_loop().create_task(_show(cli, simulator)) if show else None
                try:
                    await done.wait()
                finally:
                    if watcher is not None:
                        watcher.cancel()
            finally:
                await _shutdown(simulator, port, link_path)

    with guard() as signals:
        asyncio.run(serve())
    if cli.json:
        cli.record("end", {"model": definition.name})
    click.echo("massager-ctl: simulator stopped", err=True)


#: How often --show looks at the simulated device.
SHOW_EVERY_S = 0.25


async def _show(cli: CliContext, simulator: SimulatedDevice) -> None:
    """Print the simulated device's state as its physics has it, whenever it changes."""
    import asyncio

    from .session_cmds import _status_text
    from .watch import StatusWatchPrinter

    physics = getattr(simulator, "physics", None)
    if physics is None:
        click.echo("massager-ctl: this simulator has no state to show", err=True)
        return
    printer = StatusWatchPrinter(cli, _status_text, stream=None)
    loop = asyncio.get_running_loop()
    while True:
        printer(_sim_status(physics, loop.time()))
        await asyncio.sleep(SHOW_EVERY_S)


def _sim_status(physics: Any, now: float) -> Status:
    """The simulated device's state: its physics' own status where it has one, else what
    every simulator's physics offers (its target state, motors and heat on)."""
    from ..core.status import DeviceState, Status

    if hasattr(physics, "status"):
        return cast(Status, physics.status(now))
    target = getattr(physics, "target", None)
    state = target if isinstance(target, DeviceState) else DeviceState()
    return Status(running=bool(physics.motors_on or physics.heat_on), state=state)


def _make_link(target: str, link_path: str) -> None:
    import os

    from ..core.errors import UsageError

    try:
        if os.path.lexists(link_path):
            if not os.path.islink(link_path):
                raise UsageError(f"--link {link_path}: a file that is not a symlink is in the way")
            os.unlink(link_path)
        os.symlink(target, link_path)
    except OSError as exc:  # a missing or read-only folder
        raise UsageError(f"--link {link_path}: cannot make the link: {exc.strerror or exc}") from None


async def _shutdown(simulator: SimulatedDevice, port: PtyPort, link_path: str | None) -> None:
    import os

    from ..connection.open import SIM_TRACE_ENV, write_sim_trace

    try:
        await simulator.close()
    finally:
        port.unplug()
        if link_path and os.path.islink(link_path):
            os.unlink(link_path)
        trace_path = os.environ.get(SIM_TRACE_ENV)
        if trace_path:
            write_sim_trace(simulator, trace_path)
        physics = getattr(simulator, "physics", None)
        if physics is not None:
            state = "stopped" if physics.target.is_stopped else "NOT stopped (still running)"
            click.echo(
                f"massager-ctl: simulated {getattr(simulator, 'model', '')} final state: {state}", err=True
            )
