"""Bluetooth LE: GATT characteristics as named endpoints, on bleak.

:class:`BleLayout` is what a model's ``ModelDefinition.ble`` says about its
GATT table: the service, and one :class:`BleEndpoint` per characteristic the
driver uses (``"tx"``: the host writes; ``"rx"``: the device notifies; more
names where a device has more). It is plain data, resolved against the
services the device really offers when the link opens:

* a characteristic named by UUID must be there, with the property its role
  needs (write / write-without-response, or notify / indicate);
* an endpoint without a UUID is **probed**: among the layout's ``probe``
  characteristics, the write endpoint takes one that can be written (one that
  cannot also notify, if there is a choice) and the notify endpoint one that
  notifies (one that cannot also be written, if there is a choice). This is
  how FFE0 devices are handled, where some write FFE1 and notify FFE2, others
  the reverse, and HM-10 style modules do both on FFE1;
* ``alternatives`` are tried in order when the device lacks the layout's
  service (e.g. the same firmware on two radio modules).

:class:`BleTransport` is the :class:`~massager_ctl.transport.base.Transport`
over a bleak ``BleakClient``:

* it connects through ``bleak_retry_connector.establish_connection`` (retries
  with back-off for transient BlueZ failures) and passes ``backend=`` through,
  so the simulated backends of :mod:`massager_ctl.sim.ble_backend` stand in
  for a radio;
* ``write(data, endpoint=, response=)`` writes the endpoint's characteristic
  with or without response: the driver's ``response`` unless the layout
  forces one, then adjusted to what the characteristic's properties allow.
  A write without response longer than the link's maximum is split (only
  stream-like protocols send frames that long);
* notifications reach :meth:`set_receiver`'s receiver; a driver that must
  know which characteristic spoke registers :meth:`set_endpoint_receiver`
  for that endpoint (it then gets that endpoint's bytes instead);
* a notification whose size the layout rules out (``BleEndpoint.lengths``)
  is dropped and counted; if it comes before any good one on that endpoint
  the device is not what the model says, and the link is closed with a
  clear reason rather than left to time out;
* bleak's disconnect callback becomes :meth:`Transport._lost_link`, once,
  unless we were closing the link ourselves;
* every await has a timeout; :meth:`open` after a loss connects again
  (``establish_connection`` anew, on a device found again by
  ``device_finder`` if one was given), which is what ``--reconnect`` uses.

bleak is imported only inside the methods that talk to a radio, so model
definitions can name :class:`BleLayout` and the CLI starts without it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from .base import Receiver, Transport

if TYPE_CHECKING:  # bleak is imported where it is used (CLI start-up stays fast)
    from bleak.backends.characteristic import BleakGATTCharacteristic

T = TypeVar("T")

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- errors


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _chain(exc: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out and len(out) < 8:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def ble_error(exc: BaseException, name: str = "Bluetooth") -> DeviceError:
    """A one-line DeviceError a person can act on, for anything bleak (or the OS) raised.

    Looks through the chain of causes: bleak_retry_connector wraps the original
    error after its retries.
    """
    if isinstance(exc, DeviceError):
        return exc
    chain = _chain(exc)
    texts = " ".join(_one_line(str(e)) for e in chain).lower()
    kinds = {type(e).__name__ for e in chain}
    reasons = {getattr(getattr(e, "reason", None), "name", "") for e in chain}
    if any(isinstance(e, FileNotFoundError | ConnectionRefusedError | PermissionError) for e in chain):
        return DeviceError(
            "Bluetooth is not available on this computer (no BlueZ/D-Bus system bus: is there "
            "a Bluetooth adapter and is the bluetooth service running?); "
            "to try massager-ctl without a radio, use --simulate-ble"
        )
    if "POWERED_OFF" in reasons:
        return DeviceError("the Bluetooth adapter is switched off; turn it on (e.g. `bluetoothctl power on`)")
    if reasons & {"NO_BLUETOOTH", "NO_BLE_CENTRAL_ROLE"} or "no bluetooth adapter" in texts:
        return DeviceError(
            "no Bluetooth LE adapter found on this computer; plug one in, or use --simulate-ble"
        )
    if any(r.startswith("DENIED") for r in reasons):
        return DeviceError("permission to use Bluetooth was denied by the system or the user")
    if "authentication" in texts or "pairing" in texts or "insufficient_auth" in texts:
        return DeviceError(
            f"{name}: pairing was refused; put the device in pairing mode, remove any old "
            "pairing from the system's Bluetooth settings, and try again"
        )
    if kinds & {"BleakDeviceNotFoundError", "BleakNotFoundError"} or (
        "not found" in texts and "characteristic" not in texts
    ):
        return DeviceError(
            f"{name}: the device was not found (switched off, out of range, or connected to "
            "a phone or another computer?)"
        )
    if isinstance(exc, TimeoutError):
        return DeviceTimeout(f"{name}: Bluetooth did not answer in time")
    first = chain[-1]
    text = _one_line(str(first.args[0] if first.args else first)) or type(first).__name__
    return DeviceError(f"{name}: Bluetooth error: {text}")


def require_bleak() -> None:
    """Raise a one-line UsageError if the BLE packages are not installed."""
    import importlib.util

    missing = [m for m in ("bleak", "bleak_retry_connector") if importlib.util.find_spec(m) is None]
    if missing:
        from ..core.errors import UsageError

        names = " ".join(m.replace("_", "-") for m in missing)
        raise UsageError(f"Bluetooth LE needs the Python package(s) {names}: pip install {names}")


# --------------------------------------------------------------------------- transport


class BleTransport(Transport):
    """A :class:`Transport` over one BLE peripheral (see the module docstring).

    ``device`` is a bleak ``BLEDevice`` (from a scan); ``backend`` a bleak
    client backend class (None: the platform's radio); ``device_finder`` an
    optional coroutine function returning a fresh ``BLEDevice`` before a
    reconnect (addresses and adapter paths can change while a device is gone).
    """

    def __init__(
        self,
        device: Any,
        layout: BleLayout,
        *,
        name: str = "BLE device",
        backend: type | None = None,
        device_finder: Callable[[], Awaitable[Any]] | None = None,
        connect_timeout_s: float = 45.0,
        io_timeout_s: float = 5.0,
        max_attempts: int = 3,
    ) -> None:
        super().__init__()
        if connect_timeout_s <= 0 or io_timeout_s <= 0 or max_attempts < 1:
            raise ValueError("timeouts must be above 0 and max_attempts at least 1")
        self.device = device
        self.layout = layout
        self.name = name
        self.backend = backend
        self.device_finder = device_finder
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self.max_attempts = max_attempts
        self.resolved: ResolvedLayout | None = None
        self.opens = 0  # successful connections (2 and more: reconnected)
        self.writes = 0
        self.bad_notifications = 0
        self.notification_problem: str | None = None
        self._client: Any = None
        self._closing = False
        self._good_seen: set[str] = set()
        self._endpoint_receivers: dict[str, Receiver] = {}
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what drivers use -----------------------------------------------------------

    def set_endpoint_receiver(self, endpoint: str, receiver: Receiver | None) -> None:
        """Send notifications of ``endpoint`` to ``receiver`` instead of the general one.

        Only for drivers of devices with several notify characteristics; None
        gives the endpoint back to :meth:`set_receiver`'s receiver.
        """
        if receiver is None:
            self._endpoint_receivers.pop(endpoint, None)
        else:
            self._endpoint_receivers[endpoint] = receiver

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and not self._lost and bool(client.is_connected)

    @property
    def mtu_size(self) -> int | None:
        client = self._client
        return None if client is None else client.mtu_size

    async def open(self) -> None:
        """Connect (or connect again after a loss), resolve the layout, subscribe."""
        if self.connected:
            return
        from bleak import BleakClient
        from bleak_retry_connector import establish_connection

        await self._drop_client()
        if self.opens and self.device_finder is not None:
            try:
                found = await asyncio.wait_for(self.device_finder(), self.connect_timeout_s)
            except TimeoutError:
                found = None
            except Exception as exc:  # noqa: BLE001 - turned into one line
                raise ble_error(exc, self.name) from exc
            if found is None:
                raise DeviceError(f"{self.name}: not found again (switched off or out of range?)")
            self.device = found
        self._closing = False
        self._good_seen.clear()
        self.notification_problem = None
        kwargs: dict[str, Any] = {}
        if self.backend is not None:
            kwargs["backend"] = self.backend
        try:
            client = await asyncio.wait_for(
                establish_connection(
                    BleakClient,
                    self.device,
                    self.name,
                    disconnected_callback=self._on_bleak_disconnect,
                    max_attempts=self.max_attempts,
                    **kwargs,
                ),
                self.connect_timeout_s,
            )
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name}: no Bluetooth connection within {self.connect_timeout_s:g} s "
                "(out of range, or connected to a phone?)"
            ) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - bleak raises many kinds; one line out
            raise ble_error(exc, self.name) from exc
        self._client = client
        self._link_back()  # from here a drop is a loss again
        try:
            self.resolved = resolve_layout(self.layout, client.services)
            for ep in self.resolved.notifiers:
                await self._bounded(
                    client.start_notify(ep.characteristic, self._notification_handler(ep)),
                    f"subscribing to {short_uuid(ep.uuid)}",
                )
        except BaseException as exc:
            await self._drop_client()
            if isinstance(exc, DeviceError | asyncio.CancelledError):
                raise
            if isinstance(exc, Exception):
                raise ble_error(exc, self.name) from exc
            raise
        self.opens += 1
        log.info("%s: connected; %s", self.name, self.resolved.describe())

    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        client = self._client
        if self._lost:
            raise DeviceDisconnected(f"{self.name}: the Bluetooth link is lost")
        if client is None or self.resolved is None or not client.is_connected:
            raise DeviceDisconnected(f"{self.name}: not connected")
        target = self.resolved.writer(endpoint)
        with_response = target.write_mode(response)
        data = bytes(data)
        if with_response:
            size = MAX_ATT_VALUE
        else:
            size = max(1, int(target.characteristic.max_write_without_response_size))
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        async with self._write_lock:
            for chunk in chunks:
                try:
                    await self._bounded(
                        client.write_gatt_char(target.characteristic, chunk, response=with_response),
                        f"writing {endpoint}",
                    )
                except DeviceError:
                    raise  # a timeout, already one line
                except Exception as exc:  # noqa: BLE001
                    if self._lost or not client.is_connected:
                        raise DeviceDisconnected(
                            f"{self.name}: the Bluetooth link dropped during a write"
                        ) from exc
                    raise ble_error(exc, self.name) from exc
        self.writes += 1

    async def close(self) -> None:
        """Disconnect (a planned disconnect: not reported as a lost link)."""
        self._closing = True
        await self._drop_client()

    # -- internals --------------------------------------------------------------------

    async def _bounded(self, aw: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(aw, self.io_timeout_s)
        except TimeoutError:
            raise DeviceTimeout(f"{self.name}: {what} took longer than {self.io_timeout_s:g} s") from None

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        self.resolved = None
        if client is None:
            return
        try:
            await asyncio.wait_for(client.disconnect(), self.io_timeout_s)
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - closing: log only
            log.warning("%s: disconnecting failed: %s", self.name, _one_line(str(exc)) or exc)

    def _on_bleak_disconnect(self, client: Any) -> None:
        if client is not self._client or self._closing:
            return  # a client we already dropped, or our own close()
        log.info("%s: the Bluetooth link was lost", self.name)
        self._lost_link("Bluetooth link lost")

    def _notification_handler(self, ep: ResolvedEndpoint) -> Callable[[Any, bytearray], None]:
        name = ep.endpoint.name
        lengths = ep.endpoint.lengths

        def handle(_sender: Any, data: bytearray) -> None:
            if self._lost or self._closing:
                return
            if lengths and len(data) not in lengths:
                self.bad_notifications += 1
                expected = " or ".join(str(n) for n in lengths)
                problem = (
                    f"a notification of {len(data)} bytes on {short_uuid(ep.uuid)} ({name}), "
                    f"expected {expected} bytes"
                )
                if name not in self._good_seen:
                    self.notification_problem = problem
                    log.warning("%s: %s; wrong device or firmware", self.name, problem)
                    self._lost_link(f"{problem}: not the device or firmware this model expects")
                    task = asyncio.get_running_loop().create_task(self._drop_client())
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    log.debug("%s: dropped %s", self.name, problem)
                return
            self._good_seen.add(name)
            receiver = self._endpoint_receivers.get(name)
            if receiver is not None:
                if data:
                    receiver(bytes(data))
            else:
                self._deliver(bytes(data))

        return handle
