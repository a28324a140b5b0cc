"""Device models as data: one entry per model.

A model is added by adding an entry here (and its codec/driver module): the
control layer never changes. Each entry says what the model is called, how to
recognise it, what it can do, which driver speaks to it, what its transport
needs, and (if there is one) which simulator stands in for it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from .capabilities import Capabilities


@dataclass(frozen=True)
class Recognise:
    """How discovery tells this model apart (used by `scan` once transports land)."""

    ble_names: tuple[str, ...] = ()  # advertised-name prefixes
    ble_services: tuple[str, ...] = ()
    #: (Bluetooth SIG company ID, prefix of its manufacturer data) pairs
    ble_manufacturer: tuple[tuple[int, bytes], ...] = ()
    usb_ids: tuple[tuple[int, int], ...] = ()  # (VID, PID)
    port_descriptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelDefinition:
    name: str
    title: str
    protocol: str
    schemes: tuple[str, ...]  # URI schemes that reach it: sim, serial, ble
    driver: str  # "module:Class", called (transport, min_write_gap_s=..., name=...)
    capabilities: Capabilities | None = None  # None: the device reports its own at connect
    simulator: str | None = None  # "module:Class", called (transport, faults=...)
    min_write_gap_s: float = 0.02
    keepalive: str = ""
    recognise: Recognise = field(default_factory=Recognise)
    notes: str = ""
    serial: Any = None  # transport.serial.SerialSettings: line settings for serial: URIs
    ble: Any = None  # transport.ble.BleLayout: service, characteristics, write response

    def load(self, attr: str):
        module, _, name = getattr(self, attr).partition(":")
        return getattr(importlib.import_module(module), name)

    def static_capabilities(self) -> Capabilities | None:
        if self.capabilities is not None:
            return self.capabilities
        if self.simulator is not None:
            # A simulated model reports its capabilities at HELLO; they come from here.
            from ..sim.reference import REFERENCE_CAPABILITIES

            return REFERENCE_CAPABILITIES
        return None

    def to_dict(self) -> dict:
        caps = self.static_capabilities()
        return {
            "name": self.name,
            "title": self.title,
            "protocol": self.protocol,
            "schemes": list(self.schemes),
            "min_write_gap_ms": round(self.min_write_gap_s * 1000),
            "keepalive": self.keepalive,
            "capabilities": caps.to_dict() if caps else "reported by the device at connect",
            "notes": self.notes,
        }


#: One module per device family; each defines ``MODELS``, a tuple of ModelDefinition.
#: Adding a family = adding its module here. Nothing else in the control layer changes.
MODEL_MODULES: tuple[str, ...] = (
    "massager_ctl.device.models.native",
    "massager_ctl.device.models.rongtai",
    "massager_ctl.device.models.nlr",
    "massager_ctl.device.models.theragun",
    "massager_ctl.device.models.pulsetto",
)


def _load_models() -> dict[str, ModelDefinition]:
    models: dict[str, ModelDefinition] = {}
    for module_name in MODEL_MODULES:
        for definition in importlib.import_module(module_name).MODELS:
            if definition.name in models:
                raise RuntimeError(f"device model {definition.name!r} is defined twice")
            models[definition.name] = definition
    return models


MODELS: dict[str, ModelDefinition] = _load_models()

DEFAULT_SIM_MODEL = "sim-chair"


def get_model(name: str) -> ModelDefinition:
    from ..errors import UsageError

    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown device model {name!r}; known models: {', '.join(MODELS)}") from None
