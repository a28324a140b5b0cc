"""Opening a device by URI: ``sim:``, ``serial:`` and ``ble:``.

:func:`open_device` builds (does not connect) the driver a URI names, on its
transport, with whatever must be closed with it (a simulator, a link). The
openers for each scheme live beside this module; the control layer above only
sees an :class:`OpenedDevice`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UsageError
from ..devices.base import Device
from ..devices.model import ModelDefinition
from ..devices.registry import DEFAULT_SIM_MODEL, MODELS, get_model
from .uri import DeviceURI, parse_uri


@dataclass
class OpenedDevice:
    """A device and whatever must be closed with it (a simulator, a link)."""

    device: Device
    definition: ModelDefinition
    simulator: Any = None
    closers: list[Callable[[], Any]] = field(default_factory=list)
    link: Any = None  # the in-memory link of a simulated device (tests pull its cable)

    async def close(self) -> None:
        for closer in reversed(self.closers):
            result = closer()
            if asyncio.iscoroutine(result):
                await result


#: Set to a file path to have a simulated device write its final state and trace there
#: when it closes (lets tests judge a CLI run from the simulator's own state).
SIM_TRACE_ENV = "MASSAGER_CTL_SIM_TRACE"


def write_sim_trace(simulator: Any, path: str) -> None:
    """Write the simulator's final state and trace to ``path`` (a test aid: a path that
    cannot be written is a warning, never a failure of the session it records)."""
    try:
        _write_sim_trace(simulator, path)
    except OSError as exc:
        import logging

        logging.getLogger(__name__).warning(
            "could not write the simulator trace to %s ($%s): %s", path, SIM_TRACE_ENV, exc.strerror or exc
        )


def _write_sim_trace(simulator: Any, path: str) -> None:
    import json

    physics = simulator.physics
    data = {
        "model": simulator.model if hasattr(simulator, "model") else None,
        "target_stopped": physics.target.is_stopped,
        "motors_on": physics.motors_on,
        "heat_on": physics.heat_on,
        "max_intensity_seen": physics.max_intensity_seen,
        "deadman_trips": getattr(simulator, "deadman_trips", None),
        "trace": [{"t": e.t, "kind": e.kind, "detail": e.detail} for e in physics.trace],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


#: URI scheme -> "module:function" opening it: async (DeviceURI, faults) -> OpenedDevice.
#: Transports add their scheme here; the control layer does not change.
OPENERS: dict[str, str] = {
    "sim": "massager_ctl.connection.open:open_simulated",
    "serial": "massager_ctl.connection.serial:open_serial",
    "ble": "massager_ctl.connection.ble:open_ble",
}


async def open_device(
    uri: str | None = None, *, faults: Any = None, simulate_ble: bool = False
) -> OpenedDevice:
    """Build (not connect) the device a URI names. ``None`` means the built-in simulator.

    ``faults`` reaches a simulator (a FaultInjector); ``simulate_ble`` makes ``ble:``
    URIs use the simulated bleak backends instead of a radio.
    """
    import importlib

    parsed = parse_uri(uri or "sim:")
    target = OPENERS.get(parsed.scheme)
    if target is None:
        raise UsageError(
            f"{parsed.scheme}: devices are not supported by this version yet; use sim: (the simulated chair)"
        )
    module, _, name = target.partition(":")
    try:
        opener: Callable[..., Awaitable[OpenedDevice]] = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if not exc.name or not exc.name.startswith("massager_ctl"):
            raise UsageError(
                f"{parsed.scheme}: devices need the Python package {exc.name!r}; install it with pip"
            ) from None
        raise UsageError(f"{parsed.scheme}: devices are not supported by this version yet") from None
    return await opener(parsed, faults=faults, simulate_ble=simulate_ble)


def model_named_by(device: str | None) -> ModelDefinition | None:
    """The model a device URI (or a bare model name) names, without opening anything.

    ``None`` (no device) and ``sim:`` are the reference chair; ``sim:MODEL`` and
    ``serial:PORT?model=NAME`` name theirs; a URI that does not (``ble:ADDRESS``,
    ``serial:PORT`` of unknown USB id) gives None: only connecting would tell."""
    if not device:
        return get_model(DEFAULT_SIM_MODEL)
    if ":" not in device:
        return get_model(device)
    parsed = parse_uri(device)
    if parsed.scheme == "sim":
        return get_model(parsed.target or DEFAULT_SIM_MODEL)
    name = parsed.options.get("model")
    return get_model(name) if name else None


async def open_simulated(parsed: DeviceURI, *, faults: Any = None, **_options: Any) -> OpenedDevice:
    """``sim:`` / ``sim:MODEL``: the model's simulator on an in-memory link, in this process."""
    definition = get_model(parsed.target or DEFAULT_SIM_MODEL)
    if definition.simulator is None or "sim" not in definition.schemes:
        simulated = ", ".join(n for n, m in MODELS.items() if m.simulator and "sim" in m.schemes)
        raise UsageError(f"model {definition.name} has no simulator; simulated models: {simulated}")
    from ..transport.memory import MemoryLink

    link = MemoryLink()
    simulator = definition.load("simulator")(link.device, faults=faults, model=definition.name)
    await simulator.start()
    device = definition.load("driver")(
        link.host, min_write_gap_s=definition.min_write_gap_s, name=definition.name
    )
    opened = OpenedDevice(device, definition, simulator, [simulator.close])
    opened.link = link
    trace_path = os.environ.get(SIM_TRACE_ENV)
    if trace_path:
        opened.closers.insert(0, lambda: write_sim_trace(simulator, trace_path))
    return opened
