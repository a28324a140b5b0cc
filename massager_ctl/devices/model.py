"""A device model as data: what it is called, how to recognise it, what it can do,
which driver speaks to it, what its transport needs, what keeps it safe, and (if
there is one) which simulator stands in for it.

Each family's ``models.py`` defines its models with these; :mod:`.registry` lists the
families. Drivers and simulators are named by import string and loaded only when a
device is opened, so reading the registry imports neither.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..core.capabilities import Capabilities
from ..core.tolerance import StatusTolerance


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
    #: How far its own status may read above what was sent before a session stops it as
    #: disobedient (session/verify.py); None: its status echoes what was sent, nothing to verify.
    status_tolerance: StatusTolerance | None = None

    def load(self, attr: str):
        module, _, name = getattr(self, attr).partition(":")
        return getattr(importlib.import_module(module), name)

    def static_capabilities(self) -> Capabilities | None:
        """What the model can do as far as it is known without connecting (None: the
        device reports its own at connect)."""
        return self.capabilities

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
