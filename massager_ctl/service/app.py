"""The service: its devices, the control socket and the MQTT bridge, started and
stopped together.

:meth:`Service.run` opens every device (their links come up in the background and
are kept up), opens the control socket, starts the MQTT bridge when a broker is
given, and serves until ``stop_event`` is set (SIGTERM or SIGINT in the CLI). On the
way out every device is stopped first (confirmed where it can be), then the bridge
says the node is offline, then the socket goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..core.errors import UsageError
from ..plan import Plan
from ..session.limits import SafetyLimits
from .control import ControlServer
from .dispatch import Dispatcher
from .served import ServedDevice
from .settings import ServeSettings

if TYPE_CHECKING:  # imported when a broker is given: aiomqtt is an extra
    from .mqtt_bridge import MqttBridge

log = logging.getLogger(__name__)


def profile_library(config: Config) -> tuple[Callable[[str], Plan], Callable[[], list[str]]]:
    """Profiles by name from the user's folder and the shipped ones (never by path)."""
    from ..profile import load_plan
    from ..profile.library import list_profiles, resolve_profile

    def resolve(name: str) -> Plan:
        if "/" in name or name.startswith("."):
            raise UsageError(f"profile {name!r}: give a profile name, not a path")
        return load_plan(resolve_profile(name, config))

    def names() -> list[str]:
        return [e.name for e in list_profiles(config) if not e.shadowed]

    return resolve, names


class Service:
    def __init__(
        self,
        settings: ServeSettings,
        config: Config,
        *,
        socket_path: Path,
        limits: SafetyLimits | None = None,
        simulate_ble: bool = False,
        time_scale: float = 1.0,
    ) -> None:
        self.settings = settings
        self.config = config
        self.socket_path = socket_path
        resolve, names = profile_library(config)
        self.devices: dict[str, ServedDevice] = {
            name: ServedDevice(
                name,
                uri,
                limits or config.limits,
                simulate_ble=simulate_ble,
                resolve_profile=resolve,
                profile_names=names,
            )
            for name, uri in settings.devices.items()
        }
        self.dispatcher = Dispatcher(self.devices, settings.node_id)
        self.control = ControlServer(self.dispatcher, self.devices, socket_path)
        self.bridge: MqttBridge | None = None
        self.time_scale = time_scale
        self.ready = asyncio.Event()

    async def run(self, stop_event: asyncio.Event) -> None:
        bridge_task: asyncio.Task[None] | None = None
        try:
            for served in self.devices.values():
                await served.start()
            await self.control.start()
            if self.settings.mqtt is not None:
                from .mqtt_bridge import MqttBridge

                bridge = MqttBridge(self.settings, self.devices, self.dispatcher, time_scale=self.time_scale)
                self.bridge = bridge
                await bridge.check_node_free()
                bridge_task = asyncio.get_running_loop().create_task(bridge.run(), name="mqtt")
            names = ", ".join(f"{n} ({d.uri})" for n, d in self.devices.items())
            log.warning("serving %s; control socket %s", names, self.socket_path)
            self.ready.set()
            stopping = asyncio.get_running_loop().create_task(stop_event.wait())
            waits: list[asyncio.Task[Any]] = [stopping] if bridge_task is None else [stopping, bridge_task]
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            failure = bridge_task.exception() if bridge_task is not None and bridge_task in done else None
            if failure is not None:
                raise failure
            for w in waits:
                if not w.done():
                    w.cancel()
        finally:
            await self.shutdown(bridge_task)

    async def shutdown(self, bridge_task: asyncio.Task[None] | None) -> None:
        """Stop every device first (together), then go offline, then close the socket."""
        results = await asyncio.gather(
            *(asyncio.shield(d.close()) for d in self.devices.values()), return_exceptions=True
        )
        for served, result in zip(self.devices.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.error("%s: closing: %s", served.name, result)
        if self.bridge is not None:
            await self.bridge.close()
        if bridge_task is not None and not bridge_task.done():
            bridge_task.cancel()
            try:
                await bridge_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        await self.control.close()
        log.warning("service stopped; every device was told to stop")
