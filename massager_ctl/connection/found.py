"""What `massager-ctl scan` reports: one row per device found on any transport."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Found:
    transport: str  # "serial" | "ble"
    uri: str  # what to pass to --device, e.g. "serial:/dev/ttyUSB0?model=nlr-hf8" or "ble:AA:BB:..."
    name: str  # advertised name or port description
    address: str  # BLE address or port path
    model: str | None = None  # the known model it matches, if any
    rssi: int | None = None  # BLE only
    details: dict[str, Any] = field(default_factory=dict)  # VID:PID, serial number, services ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
