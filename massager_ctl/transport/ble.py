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

bleak is imported only inside the methods that talk to a radio, and the layout lives
in :mod:`.ble_layout` (plain data, re-exported here), so model definitions can name
:class:`BleLayout` and the CLI starts without bleak or asyncio.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..core.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from .base import Receiver, Transport

# The layout is plain data in .ble_layout (models import it without asyncio); re-exported.
from .ble_layout import MAX_ATT_VALUE as MAX_ATT_VALUE
from .ble_layout import NOTIFY_PROPS as NOTIFY_PROPS
from .ble_layout import NUS_RX as NUS_RX
from .ble_layout import NUS_SERVICE as NUS_SERVICE
from .ble_layout import NUS_TX as NUS_TX
from .ble_layout import WRITE_PROPS as WRITE_PROPS
from .ble_layout import BleEndpoint as BleEndpoint
from .ble_layout import BleLayout as BleLayout
from .ble_layout import ResolvedEndpoint as ResolvedEndpoint
from .ble_layout import ResolvedLayout as ResolvedLayout
from .ble_layout import normalize_uuid as normalize_uuid
from .ble_layout import resolve_layout as resolve_layout
from .ble_layout import short_uuid as short_uuid

T = TypeVar("T")

log = logging.getLogger(__name__)


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
