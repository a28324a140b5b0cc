"""A model's Bluetooth LE GATT layout, as plain data, and its resolution against a device.

:class:`BleLayout` is what a model's ``ModelDefinition.ble`` says about its GATT table;
:func:`resolve_layout` matches it to the services a device offers when the link opens
(the rules are in :mod:`massager_ctl.transport.ble`, which re-exports all of this).
Model definitions import this module, not :mod:`.ble`: listing the models must not load
asyncio, let alone bleak (the CLI's read commands start fast).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import DeviceError

if TYPE_CHECKING:  # bleak is imported where it is used (CLI start-up stays fast)
    from bleak.backends.characteristic import BleakGATTCharacteristic

_BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"
_HEX = re.compile(r"^[0-9a-fA-F]+$")

#: The Nordic UART Service: the host writes RX, the device notifies on TX.
NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

#: Largest value one ATT write request may carry.
MAX_ATT_VALUE = 512

WRITE_PROPS = ("write", "write-without-response")
NOTIFY_PROPS = ("notify", "indicate")


def normalize_uuid(uuid: str) -> str:
    """A UUID as bleak spells it: 128-bit, lower case (16/32-bit ones expanded)."""
    text = str(uuid).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if _HEX.match(text) and len(text) in (4, 8):
        return text.rjust(8, "0") + _BASE_UUID_TAIL
    return text


def short_uuid(uuid: str) -> str:
    """``0000ffe1-0000-1000-8000-00805f9b34fb`` -> ``ffe1``; others unchanged."""
    u = normalize_uuid(uuid)
    if u.endswith(_BASE_UUID_TAIL) and u.startswith("0000"):
        return u[4:8]
    return u


@dataclass(frozen=True)
class BleEndpoint:
    """One characteristic a driver uses, by the name it writes to or listens on."""

    name: str
    uuid: str | None = None  # None: probed among BleLayout.probe
    notify: bool = False  # True: the device notifies on it; False: the host writes it
    response: bool | None = None  # writes: force with (True) / without (False) response
    lengths: tuple[int, ...] = ()  # notifications: the only sizes that make sense

    def __post_init__(self) -> None:
        if self.uuid is not None:
            object.__setattr__(self, "uuid", normalize_uuid(self.uuid))
        if self.notify and self.response is not None:
            raise ValueError(f"endpoint {self.name}: a notify endpoint has no write mode")
        if self.lengths and not self.notify:
            raise ValueError(f"endpoint {self.name}: lengths apply to notify endpoints only")


@dataclass(frozen=True)
class BleLayout:
    """A model's GATT layout: a service and its endpoints (see the module docstring)."""

    service: str
    endpoints: tuple[BleEndpoint, ...]
    probe: tuple[str, ...] = ()  # characteristics whose roles come from their properties
    alternatives: tuple[BleLayout, ...] = ()
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", normalize_uuid(self.service))
        object.__setattr__(self, "probe", tuple(normalize_uuid(u) for u in self.probe))
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"BLE layout {self.title or self.service}: endpoint names repeat")
        if not any(not e.notify for e in self.endpoints):
            raise ValueError(f"BLE layout {self.title or self.service}: no write endpoint")
        if any(e.uuid is None for e in self.endpoints) and not self.probe:
            raise ValueError(
                f"BLE layout {self.title or self.service}: an endpoint without a UUID "
                "needs probe characteristics"
            )

    @classmethod
    def uart(
        cls,
        service: str,
        write: str,
        notify: str,
        *,
        response: bool | None = None,
        lengths: tuple[int, ...] = (),
        title: str = "",
        alternatives: tuple[BleLayout, ...] = (),
    ) -> BleLayout:
        """The common shape: endpoint ``tx`` written by the host, ``rx`` notified."""
        return cls(
            service,
            (
                BleEndpoint("tx", write, response=response),
                BleEndpoint("rx", notify, notify=True, lengths=lengths),
            ),
            title=title,
            alternatives=alternatives,
        )

    @classmethod
    def probed(cls, service: str, candidates: tuple[str, ...], *, title: str = "") -> BleLayout:
        """``tx``/``rx`` on ``candidates``, roles decided by their properties."""
        return cls(
            service,
            (BleEndpoint("tx"), BleEndpoint("rx", notify=True)),
            probe=candidates,
            title=title,
        )

    @property
    def services(self) -> tuple[str, ...]:
        """This layout's service and its alternatives', in the order they are tried."""
        out = [self.service]
        for alt in self.alternatives:
            out.extend(s for s in alt.services if s not in out)
        return tuple(out)

    def describe(self) -> str:
        parts = []
        for e in self.endpoints:
            where = (
                short_uuid(e.uuid)
                if e.uuid
                else "probed among " + "/".join(short_uuid(u) for u in self.probe)
            )
            if e.notify:
                parts.append(f"{e.name} <- {where} (notify)")
            else:
                mode = {True: "with response", False: "without response", None: "as the driver says"}
                parts.append(f"{e.name} -> {where} (write {mode[e.response]})")
        text = f"service {short_uuid(self.service)}: " + ", ".join(parts)
        if self.alternatives:
            text += "; else " + "; else ".join(a.describe() for a in self.alternatives)
        return text


# --------------------------------------------------------------------------- resolving


@dataclass
class ResolvedEndpoint:
    endpoint: BleEndpoint
    characteristic: BleakGATTCharacteristic  # (or, in tests, anything with uuid/properties)

    @property
    def uuid(self) -> str:
        return self.characteristic.uuid

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(self.characteristic.properties)

    def write_mode(self, requested: bool) -> bool:
        """With response or not: the layout's choice, else the driver's, as the
        characteristic allows."""
        want = self.endpoint.response if self.endpoint.response is not None else requested
        props = self.properties
        if want and "write" not in props:
            return False  # only write-without-response is offered (checked at resolve)
        if not want and "write-without-response" not in props:
            return True
        return want


@dataclass
class ResolvedLayout:
    layout: BleLayout  # the layout (or alternative) that matched
    endpoints: dict[str, ResolvedEndpoint] = field(default_factory=dict)

    def writer(self, name: str) -> ResolvedEndpoint:
        ep = self.endpoints.get(name)
        if ep is None or ep.endpoint.notify:
            have = ", ".join(n for n, e in self.endpoints.items() if not e.endpoint.notify)
            raise DeviceError(f"no BLE write endpoint {name!r} in this model's layout (has: {have})")
        return ep

    @property
    def notifiers(self) -> list[ResolvedEndpoint]:
        return [e for e in self.endpoints.values() if e.endpoint.notify]

    def describe(self) -> str:
        parts = []
        for name, e in self.endpoints.items():
            arrow = "<-" if e.endpoint.notify else "->"
            parts.append(f"{name} {arrow} {short_uuid(e.uuid)} ({', '.join(e.properties)})")
        return f"service {short_uuid(self.layout.service)}: " + ", ".join(parts)


def _find_service(services: Any, uuid: str) -> Any | None:
    for service in services:
        if normalize_uuid(service.uuid) == uuid:
            return service
    return None


def _offered(services: Any) -> str:
    names = []
    for service in services:
        chars = ", ".join(f"{short_uuid(c.uuid)}[{'/'.join(c.properties)}]" for c in service.characteristics)
        names.append(f"{short_uuid(service.uuid)} ({chars})")
    return "; ".join(names) or "none"


def resolve_layout(layout: BleLayout, services: Any) -> ResolvedLayout:
    """Match ``layout`` (or the first alternative whose service is there) to the
    device's GATT ``services`` (bleak's BleakGATTServiceCollection or alike).

    Raises DeviceError naming what is missing and what the device offers.
    """
    candidates = (layout, *layout.alternatives)
    for option in candidates:
        service = _find_service(services, option.service)
        if service is not None:
            return _resolve_in(option, service, services)
    wanted = " or ".join(short_uuid(o.service) for o in candidates)
    raise DeviceError(
        f"the device has no GATT service {wanted}: not the model it was taken for? "
        f"(it offers: {_offered(services)})"
    )


def _resolve_in(layout: BleLayout, service: Any, services: Any) -> ResolvedLayout:
    chars = list(service.characteristics)
    by_uuid: dict[str, Any] = {}
    for c in chars:
        by_uuid.setdefault(normalize_uuid(c.uuid), c)
    probe = [by_uuid[u] for u in layout.probe if u in by_uuid]
    resolved = ResolvedLayout(layout)
    for ep in layout.endpoints:
        needed = NOTIFY_PROPS if ep.notify else WRITE_PROPS
        role = "notify" if ep.notify else "write"
        if ep.uuid is not None:
            char = by_uuid.get(ep.uuid)
            if char is None:
                raise DeviceError(
                    f"characteristic {short_uuid(ep.uuid)} (endpoint {ep.name}) is missing from "
                    f"service {short_uuid(layout.service)} (it offers: {_offered([service])})"
                )
            if not any(p in char.properties for p in needed):
                raise DeviceError(
                    f"characteristic {short_uuid(ep.uuid)} (endpoint {ep.name}) cannot {role} "
                    f"(its properties: {', '.join(char.properties) or 'none'})"
                )
        else:
            other = WRITE_PROPS if ep.notify else NOTIFY_PROPS
            able = [c for c in probe if any(p in c.properties for p in needed)]
            single = [c for c in able if not any(p in c.properties for p in other)]
            if not able:
                raise DeviceError(
                    f"none of the characteristics "
                    f"{'/'.join(short_uuid(u) for u in layout.probe)} in service "
                    f"{short_uuid(layout.service)} can {role} (endpoint {ep.name}; "
                    f"it offers: {_offered([service])})"
                )
            char = (single or able)[0]
        resolved.endpoints[ep.name] = ResolvedEndpoint(ep, char)
    return resolved
