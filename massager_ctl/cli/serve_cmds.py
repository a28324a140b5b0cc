"""``massager-ctl serve``: own the devices, serve them to terminals, scripts and MQTT.

Thin over :mod:`massager_ctl.service`: reads the ``[serve]`` table of the config and
the options, then runs the service until SIGTERM or Ctrl-C, which stop every device
(confirmed where it can be) before the process exits.
"""

from __future__ import annotations

import click

from .context import CliContext, pass_cli


@click.command()
@click.argument("devices", nargs=-1, metavar="[NAME=URI]...")
@click.option(
    "--mqtt",
    metavar="URL",
    help="MQTT broker, mqtt[s]://host[:port]: bridge and Home Assistant discovery "
    "(credentials: MASSAGER_CTL_MQTT_USERNAME / _PASSWORD).",
)
@click.option("--node-id", metavar="ID", help="This host's id on the broker (default: the host name).")
@click.option(
    "--mqtt-ca-file", metavar="FILE", help="CA certificate of an mqtts:// broker (default: the system's)."
)
@click.option("--discovery-prefix", metavar="TOPIC", help="Home Assistant's discovery prefix.")
@click.option(
    "--time-scale",
    type=click.FloatRange(0, 10_000, min_open=True),
    default=None,
    metavar="X",
    help="Simulators only: X times faster than real time.",
)
@pass_cli
def serve(
    cli: CliContext,
    devices: tuple[str, ...],
    mqtt: str | None,
    node_id: str | None,
    mqtt_ca_file: str | None,
    discovery_prefix: str | None,
    time_scale: float | None,
) -> None:
    """Own the configured devices and serve them to other terminals, scripts and MQTT."""
    import asyncio
    import signal

    from ..config import read_raw
    from ..core.errors import UsageError
    from ..remote.paths import control_socket_path
    from ..service.app import Service
    from ..service.settings import load_settings
    from .logs import setup_logging
    from .session_cmds import _clock

    config = cli.config
    if not devices and cli.device:
        devices = (f"chair={cli.device}",)
    raw = read_raw(config.path) or {}
    settings = load_settings(
        raw.get("serve"),
        config_device=config.device,
        device_args=tuple(devices),
        mqtt=mqtt,
        node_id=node_id,
        ca_file=mqtt_ca_file,
        discovery_prefix=discovery_prefix,
    )
    if time_scale is not None and time_scale != 1:
        if not all(uri.startswith("sim:") for uri in settings.devices.values()):
            raise UsageError("--time-scale works only when every device is simulated (sim:)")
    clock = _clock("sim:", time_scale)
    socket_path = control_socket_path()
    setup_logging(max(cli.verbosity, 1))
    scale = 1.0 if time_scale is None else float(time_scale)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
                pass
        service = Service(
            settings, config, socket_path=socket_path, simulate_ble=cli.simulate_ble, time_scale=scale
        )
        announced = loop.create_task(announce(service)) if cli.json else None
        try:
            await service.run(stop)
        finally:
            if announced is not None:
                announced.cancel()
        if cli.json:
            cli.record("end", {"devices": list(settings.devices)})

    async def announce(service: Service) -> None:
        """With --json: a stream, like `simulate`'s: "ready" once serving, "end" when stopped."""
        await service.ready.wait()
        cli.record(
            "ready",
            {
                "devices": dict(settings.devices),
                "socket": str(socket_path),
                "node": settings.node_id,
                "mqtt": settings.mqtt.url if settings.mqtt is not None else None,
            },
        )

    try:
        clock.run(main())
    except KeyboardInterrupt:  # pragma: no cover - the handler above takes SIGINT
        raise SystemExit(130) from None
