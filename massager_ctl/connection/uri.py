"""Device URIs: how a person names the device to use.

* ``sim:`` / ``sim:MODEL`` - a built-in simulated device (default ``sim-chair``)
* ``serial:PORT[?model=NAME]`` and ``ble:ADDRESS`` / ``ble:NAME`` - real
  devices, added by the serial and BLE driver work.
* ``service:NAME`` and ``mqtt://broker/NODE/DEVICE`` - a device a running
  ``massager-ctl serve`` owns (massager_ctl.remote; ``connect`` hands them there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ..core.errors import UsageError

SCHEMES = ("sim", "serial", "ble", "service", "mqtt", "mqtts")


@dataclass(frozen=True)
class DeviceURI:
    scheme: str
    target: str  # model for sim:, port for serial:, address or name for ble:
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text


def parse_uri(text: str) -> DeviceURI:
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in SCHEMES:
        raise UsageError(
            f"device {text!r} is not a device URI; use sim:, sim:MODEL, serial:PORT or ble:ADDRESS"
        )
    target, _, query = rest.partition("?")
    try:
        options = dict(parse_qsl(query, strict_parsing=True)) if query else {}
    except ValueError:
        raise UsageError(f"device {text!r}: options after '?' must look like key=value&key=value") from None
    return DeviceURI(scheme, target, options, text)
