"""Simulated Bluetooth LE: bleak backends that serve simulated devices, byte-exact.

Tests and ``--simulate-ble`` drive the REAL ``BleakScanner`` / ``BleakClient``
front ends (and ``bleak_retry_connector.establish_connection``) with
``backend=`` set to a class from a :class:`SimulatedRadio`:

* :class:`SimulatedScannerBackend` (a ``BaseBleakScanner``) advertises every
  peripheral of the radio that is powered, in range and has no central, with
  its real advertised name, service UUIDs and manufacturer data, every
  ``interval_s``;
* :class:`SimulatedClientBackend` (a ``BaseBleakClient``) connects to one,
  builds a ``BleakGATTServiceCollection`` from its GATT table (services,
  characteristics with properties, CCCD descriptors), and checks what a real
  stack checks: a write with response needs the ``write`` property, one
  without needs ``write-without-response`` and fits in MTU - 3 bytes,
  notifications need ``notify``/``indicate`` and a subscription.

Each :class:`SimulatedPeripheral` runs the model's simulator (the same
classes ``sim:`` uses) on a :class:`PeripheralTransport`: what the host
writes to a characteristic reaches the simulator's receiver; what the
simulator writes comes back as notifications (split at MTU - 3 bytes) on the
characteristic of the endpoint it names (as the model's layout names its notify
endpoints; ``"tx"``, a simulator's default, is the first notify one).
Both directions keep their order and take ``latency_s``; a write with
response returns after the round trip. :meth:`SimulatedPeripheral.cut` drops
the connection from the device side: the client's disconnect callback runs,
as bleak's BlueZ backend does (it also runs on a planned disconnect).

The radio itself can be absent or switched off (``present`` / ``powered``),
a peripheral out of range or refusing to pair, for the error paths.

The radio is machinery only: it names no family and knows no model. The seeded
peripherals (:func:`massager_ctl.connection.simulated_ble.default_devices`) are built
from each family's ``SIMULATED_BLE`` units and their models' ``BleLayout``, one layer
up, and handed to :class:`SimulatedRadio`.

Only asyncio timers are used, so all of this runs in virtual time.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)

from ..transport.base import Receiver, Transport
from ..transport.ble import MAX_ATT_VALUE, normalize_uuid

log = logging.getLogger(__name__)

CCCD = normalize_uuid("2902")
GAP_SERVICE = normalize_uuid("1800")
GATT_SERVICE = normalize_uuid("1801")
DEVICE_NAME = normalize_uuid("2a00")
SERVICE_CHANGED = normalize_uuid("2a05")

#: Marks BLEDevice.details of simulated devices. Without a "path" key,
#: bleak_retry_connector skips its BlueZ/D-Bus helpers.
SIMULATED_DETAILS_SOURCE = "massager-ctl simulated radio"


# --------------------------------------------------------------------------- GATT tables


@dataclass(frozen=True)
class SimCharacteristic:
    uuid: str
    properties: tuple[CharacteristicPropertyName, ...]
    endpoint: str = ""  # the name the simulator uses for it (writes to it / hears from it)
    value: bytes = b""  # what a read returns

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", normalize_uuid(self.uuid))

    @property
    def notifies(self) -> bool:
        return "notify" in self.properties or "indicate" in self.properties


@dataclass(frozen=True)
class SimService:
    uuid: str
    characteristics: tuple[SimCharacteristic, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", normalize_uuid(self.uuid))


@dataclass(frozen=True)
class Advertisement:
    name: str | None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()
    rssi: int = -60
    tx_power: int | None = None
    interval_s: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "service_uuids", tuple(normalize_uuid(u) for u in self.service_uuids))


@dataclass(frozen=True)
class SimDeviceSpec:
    """One simulated peripheral: where it is, what it advertises, its GATT table and
    which simulator plays its firmware."""

    address: str
    advertisement: Advertisement
    services: tuple[SimService, ...]
    simulator: str | Callable[..., Any]  # "module:Class" or a factory (transport, faults=, **options)
    options: tuple[tuple[str, Any], ...] = ()  # extra keyword arguments for the simulator
    mtu: int = 23
    latency_s: float = 0.0075  # one connection interval, each way
    connect_delay_s: float = 0.05
    refuse_pairing: bool = False
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", self.address.upper())
        if self.mtu < 23:
            raise ValueError("ATT MTU is at least 23")

    def make_simulator(self, transport: Transport, faults: Any = None) -> Any:
        factory = self.simulator
        if isinstance(factory, str):
            module, _, name = factory.partition(":")
            factory = getattr(importlib.import_module(module), name)
        return factory(transport, faults=faults, **dict(self.options))


def _standard_services(name: str | None) -> tuple[SimService, ...]:
    return (
        SimService(GAP_SERVICE, (SimCharacteristic(DEVICE_NAME, ("read",), value=(name or "").encode()),)),
        SimService(GATT_SERVICE, (SimCharacteristic(SERVICE_CHANGED, ("indicate",)),)),
    )


# --------------------------------------------------------------------------- the device side


class PeripheralTransport(Transport):
    """The simulator's end: host writes arrive here; writes become notifications."""

    host_side = False  # the host's frames are logged by its own transport

    def __init__(self, peripheral: SimulatedPeripheral) -> None:
        super().__init__()
        self.peripheral = peripheral
        self.link = peripheral  # duck-type of MemoryLink: faults call link.cut(reason)
        self._endpoint_receivers: dict[str, Receiver] = {}

    def set_endpoint_receiver(self, endpoint: str, receiver: Receiver | None) -> None:
        """Host writes to the characteristic of ``endpoint`` go here instead."""
        if receiver is None:
            self._endpoint_receivers.pop(endpoint, None)
        else:
            self._endpoint_receivers[endpoint] = receiver

    def _from_host(self, char: SimCharacteristic, data: bytes) -> None:
        receiver = self._endpoint_receivers.get(char.endpoint)
        if receiver is not None:
            receiver(bytes(data))
        else:
            self._deliver(data)

    async def open(self) -> None:
        pass

    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        """Notify ``data`` on the endpoint's characteristic (dropped with no subscriber,
        as a real peripheral's would be)."""
        self.peripheral.notify(endpoint, bytes(data))

    async def close(self) -> None:
        pass


@dataclass
class WriteRecord:
    t: float
    uuid: str
    data: bytes
    response: bool


class SimulatedPeripheral:
    """A simulated device on the air: advertising, GATT server, simulator."""

    def __init__(self, radio: SimulatedRadio, spec: SimDeviceSpec) -> None:
        self.radio = radio
        self.spec = spec
        self.in_range = True
        self.central: SimulatedClientBackend | None = None
        self.transport = PeripheralTransport(self)
        self.simulator: Any = None
        self.writes: list[WriteRecord] = []  # every host write that reached the device
        self.notifications: list[tuple[float, str, bytes]] = []  # every notification sent
        self.connections = 0
        self.cuts: list[str] = []
        self.mangle: Callable[[bytes], bytes] | None = None  # test hook on notifications
        self._starting: asyncio.Lock | None = None
        self._adverts = 0
        self._services = tuple(spec.services) + _standard_services(spec.advertisement.name)

    # -- identity -------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def name(self) -> str | None:
        return self.spec.advertisement.name

    @property
    def advertising(self) -> bool:
        return self.in_range and self.central is None and self.radio.usable

    def advertisement_data(self) -> AdvertisementData:
        adv = self.spec.advertisement
        self._adverts += 1
        wobble = (0, -2, 1, -1, 2, -3)[self._adverts % 6]  # deterministic RSSI noise
        return AdvertisementData(
            local_name=adv.name,
            manufacturer_data={k: bytes(v) for k, v in adv.manufacturer_data},
            service_data={},
            service_uuids=list(adv.service_uuids),
            tx_power=adv.tx_power,
            rssi=adv.rssi + wobble,
            platform_data=(SIMULATED_DETAILS_SOURCE,),
        )

    # -- the firmware -----------------------------------------------------------------

    async def power_on(self, faults: Any = None) -> Any:
        """Start the simulator (once); returns it."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.simulator is None:
                simulator = self.spec.make_simulator(self.transport, faults)
                await simulator.start()
                self.simulator = simulator
        return self.simulator

    async def power_off(self) -> None:
        if self.central is not None:
            self.cut("the device was switched off")
        simulator, self.simulator = self.simulator, None
        if simulator is not None:
            await simulator.close()

    # -- links ------------------------------------------------------------------------

    def cut(self, reason: str = "simulated link loss", *, out_of_range: bool = False) -> None:
        """Drop the connection from the device side (the central sees an unplanned
        disconnect). ``out_of_range`` also keeps it from being found again until
        :meth:`restore`."""
        self.cuts.append(reason)
        if out_of_range:
            self.in_range = False
        central = self.central
        if central is not None:
            central._device_dropped(reason)

    def restore(self) -> None:
        """Back in range: it advertises and accepts connections again."""
        self.in_range = True

    def _attach(self, client: SimulatedClientBackend) -> None:
        self.central = client
        self.connections += 1
        self.transport._link_back()

    def _detach(self, client: SimulatedClientBackend, reason: str) -> None:
        if self.central is client:
            self.central = None
            self.transport._lost_link(reason)

    def build_services(self) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        handle = 0
        wwr_size = self.spec.mtu - 3
        for sim_service in self._services:
            handle += 1
            service = BleakGATTService(sim_service, handle, sim_service.uuid)
            collection.add_service(service)
            for sim_char in sim_service.characteristics:
                handle += 2  # declaration + value
                char = BleakGATTCharacteristic(
                    sim_char, handle, sim_char.uuid, list(sim_char.properties), lambda: wwr_size, service
                )
                collection.add_characteristic(char)
                if sim_char.notifies:
                    handle += 1
                    collection.add_descriptor(BleakGATTDescriptor(None, handle, CCCD, char))
        return collection

    def _char_for_endpoint(self, endpoint: str) -> SimCharacteristic | None:
        notifying = [c for s in self.spec.services for c in s.characteristics if c.notifies]
        for c in notifying:
            if c.endpoint == endpoint:
                return c
        if endpoint == "tx" and notifying:
            return notifying[0]
        return None

    def notify(self, endpoint: str, data: bytes) -> None:
        """The simulator sends ``data`` on ``endpoint``'s characteristic."""
        char = self._char_for_endpoint(endpoint)
        if char is None:
            raise ValueError(f"simulated {self.name}: no notify characteristic for endpoint {endpoint!r}")
        if self.mangle is not None:
            data = self.mangle(data)
        central = self.central
        if central is None:
            return
        loop = asyncio.get_running_loop()
        self.notifications.append((loop.time(), char.uuid, bytes(data)))
        size = self.spec.mtu - 3
        for i in range(0, len(data), size):
            central._notification(char, bytes(data[i : i + size]))

    def _host_wrote(self, char: SimCharacteristic, data: bytes, response: bool) -> None:
        now = asyncio.get_running_loop().time()
        self.writes.append(WriteRecord(now, char.uuid, bytes(data), response))
        self.transport._from_host(char, bytes(data))


# --------------------------------------------------------------------------- the radio


class SimulatedRadio:
    """A set of simulated peripherals and the bleak backend classes that reach them.

    ``client_backend`` and ``scanner_backend`` are subclasses bound to this
    radio: pass them as ``backend=`` to BleakClient / BleakScanner (or to
    ``establish_connection``).
    """

    def __init__(
        self,
        devices: Iterable[SimDeviceSpec] = (),
        *,
        present: bool = True,
        powered: bool = True,
    ) -> None:
        self.present = present
        self.powered = powered
        self.peripherals: dict[str, SimulatedPeripheral] = {}
        for spec in devices:
            self.add(spec)
        self.client_backend: type[SimulatedClientBackend] = type(
            "SimulatedClient", (SimulatedClientBackend,), {"radio": self}
        )
        self.scanner_backend: type[SimulatedScannerBackend] = type(
            "SimulatedScanner", (SimulatedScannerBackend,), {"radio": self}
        )

    @property
    def usable(self) -> bool:
        return self.present and self.powered

    def check(self) -> None:
        if not self.present:
            raise BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            )
        if not self.powered:
            raise BleakBluetoothNotAvailableError(
                "Bluetooth adapter is not powered on.", BleakBluetoothNotAvailableReason.POWERED_OFF
            )

    def add(self, spec: SimDeviceSpec) -> SimulatedPeripheral:
        if spec.address in self.peripherals:
            raise ValueError(f"simulated address {spec.address} is used twice")
        peripheral = SimulatedPeripheral(self, spec)
        self.peripherals[spec.address] = peripheral
        return peripheral

    def peripheral(self, address: str) -> SimulatedPeripheral:
        try:
            return self.peripherals[address.upper()]
        except KeyError:
            raise KeyError(f"no simulated device at {address}") from None

    def by_name(self, name: str) -> SimulatedPeripheral:
        for p in self.peripherals.values():
            if p.name == name:
                return p
        raise KeyError(f"no simulated device named {name!r}")

    async def close(self) -> None:
        for peripheral in list(self.peripherals.values()):
            await peripheral.power_off()


# --------------------------------------------------------------------------- bleak backends


class SimulatedClientBackend(BaseBleakClient):
    """bleak client backend talking to a :class:`SimulatedPeripheral` of ``radio``."""

    radio: ClassVar[SimulatedRadio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout, **kwargs
        )
        if self.radio is None:
            raise BleakError("SimulatedClientBackend must be used through SimulatedRadio.client_backend")
        self._peripheral: SimulatedPeripheral | None = None
        self._connected = False
        self._subscriptions: dict[int, tuple[SimCharacteristic, NotifyCallback]] = {}
        self._descriptor_values: dict[int, bytes] = {}
        self._to_device: deque[tuple[SimCharacteristic, bytes, bool, asyncio.Future[None] | None]] = deque()
        self._to_host: deque[tuple[NotifyCallback, bytes]] = deque()

    # -- identity ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        p = self._peripheral
        return (p.name if p is not None else None) or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._peripheral.spec.mtu if self._peripheral is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connected

    # -- connecting ---------------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        radio = self.radio
        assert radio is not None
        radio.check()
        peripheral = radio.peripherals.get(self.address.upper())
        if peripheral is None or not peripheral.in_range or peripheral.central is not None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        await asyncio.sleep(peripheral.spec.connect_delay_s)
        if not peripheral.in_range or peripheral.central is not None or not radio.usable:
            raise BleakError(f"{self.address}: le-connection-abort-by-local")
        if peripheral.spec.refuse_pairing:
            raise BleakError("[org.bluez.Error.AuthenticationFailed] Authentication Failed")
        await peripheral.power_on()
        self._peripheral = peripheral
        self.services = peripheral.build_services()
        self._connected = True
        peripheral._attach(self)

    async def disconnect(self) -> None:
        if not self._connected:
            return
        await asyncio.sleep(0)
        self._end("the central disconnected")

    def _device_dropped(self, reason: str) -> None:
        if self._connected:
            self._end(reason)

    def _end(self, reason: str) -> None:
        self._connected = False
        self._subscriptions.clear()
        peripheral = self._peripheral
        for _, _, _, fut in self._to_device:
            if fut is not None and not fut.done():
                fut.set_exception(BleakError("Not connected"))
        self._to_device.clear()
        self._to_host.clear()
        self.services = None
        if peripheral is not None:
            peripheral._detach(self, reason)
        callback = self._disconnected_callback
        if callback is not None:
            asyncio.get_running_loop().call_soon(callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        assert self.radio is not None  # checked in __init__
        peripheral = self._peripheral or self.radio.peripherals.get(self.address.upper())
        if peripheral is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        if peripheral.spec.refuse_pairing:
            raise BleakError("[org.bluez.Error.AuthenticationFailed] Authentication Failed")

    async def unpair(self) -> None:
        if self._connected:
            self._end("unpaired")

    # -- GATT -----------------------------------------------------------------------------

    def _require(self) -> SimulatedPeripheral:
        if not self._connected or self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peripheral = self._require()
        sim_char: SimCharacteristic = characteristic.obj
        if "read" not in sim_char.properties:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.READ_NOT_PERMITTED)
        await asyncio.sleep(2 * peripheral.spec.latency_s)
        self._require()
        return bytearray(sim_char.value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peripheral = self._require()
        await asyncio.sleep(2 * peripheral.spec.latency_s)
        self._require()
        return bytearray(self._descriptor_values.get(descriptor.handle, b"\x00\x00"))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peripheral = self._require()
        sim_char: SimCharacteristic = characteristic.obj
        data = bytes(data)
        if response:
            if "write" not in sim_char.properties:
                raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED)
            if len(data) > MAX_ATT_VALUE:
                raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.INVALID_ATTRIBUTE_VALUE_LENGTH)
        else:
            if "write-without-response" not in sim_char.properties:
                raise BleakError(f"characteristic {sim_char.uuid} does not support write without response")
            if len(data) > peripheral.spec.mtu - 3:
                raise BleakError(
                    f"{len(data)} bytes is more than a write without response can carry "
                    f"({peripheral.spec.mtu - 3})"
                )
        loop = asyncio.get_running_loop()
        fut = loop.create_future() if response else None
        self._to_device.append((sim_char, data, response, fut))
        loop.call_later(peripheral.spec.latency_s, self._arrive_at_device)
        if fut is None:
            await asyncio.sleep(0)
            return
        await fut  # the device got it; now the write response travels back
        await asyncio.sleep(peripheral.spec.latency_s)
        self._require()

    def _arrive_at_device(self) -> None:
        if not self._to_device:
            return  # the link went down in between
        sim_char, data, response, fut = self._to_device.popleft()
        peripheral = self._peripheral
        if peripheral is not None and self._connected:
            peripheral._host_wrote(sim_char, data, response)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peripheral = self._require()
        await asyncio.sleep(2 * peripheral.spec.latency_s)
        self._require()
        self._descriptor_values[descriptor.handle] = bytes(data)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peripheral = self._require()
        sim_char: SimCharacteristic = characteristic.obj
        if not sim_char.notifies:
            raise BleakError(f"characteristic {sim_char.uuid} does not support notifications or indications")
        await asyncio.sleep(2 * peripheral.spec.latency_s)  # the CCCD write
        self._require()
        self._subscriptions[characteristic.handle] = (sim_char, callback)
        cccd = characteristic.get_descriptor(CCCD)
        if cccd is not None:
            self._descriptor_values[cccd.handle] = b"\x01\x00"

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peripheral = self._require()
        await asyncio.sleep(2 * peripheral.spec.latency_s)
        self._subscriptions.pop(characteristic.handle, None)
        cccd = characteristic.get_descriptor(CCCD)
        if cccd is not None:
            self._descriptor_values[cccd.handle] = b"\x00\x00"

    def _notification(self, sim_char: SimCharacteristic, data: bytes) -> None:
        for sub_char, callback in self._subscriptions.values():
            if sub_char is sim_char:
                self._to_host.append((callback, data))
                loop = asyncio.get_running_loop()
                assert self._peripheral is not None  # a subscription exists only while attached
                loop.call_later(self._peripheral.spec.latency_s, self._arrive_at_host)

    def _arrive_at_host(self) -> None:
        if not self._to_host or not self._connected:
            return
        callback, data = self._to_host.popleft()
        callback(bytearray(data))


class SimulatedScannerBackend(BaseBleakScanner):
    """bleak scanner backend hearing the advertisements of ``radio``'s peripherals."""

    radio: ClassVar[SimulatedRadio | None] = None

    def __init__(
        self,
        detection_callback: Any = None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if self.radio is None:
            raise BleakError("SimulatedScannerBackend must be used through SimulatedRadio.scanner_backend")
        self.scanning_mode = scanning_mode
        self._handles: dict[str, asyncio.TimerHandle] = {}

    async def start(self) -> None:
        radio = self.radio
        assert radio is not None
        radio.check()
        self.seen_devices = {}
        loop = asyncio.get_running_loop()
        for i, peripheral in enumerate(radio.peripherals.values()):
            # Staggered first adverts, as devices are not in step with the scan.
            first = min(peripheral.spec.advertisement.interval_s, 0.01 * (i + 1))
            self._handles[peripheral.address] = loop.call_later(first, self._advertise, peripheral)

    async def stop(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _advertise(self, peripheral: SimulatedPeripheral) -> None:
        loop = asyncio.get_running_loop()
        self._handles[peripheral.address] = loop.call_later(
            peripheral.spec.advertisement.interval_s, self._advertise, peripheral
        )
        if not peripheral.advertising:
            return
        adv = peripheral.advertisement_data()
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(
            peripheral.address,
            peripheral.address,
            adv.local_name,
            {"source": SIMULATED_DETAILS_SOURCE},
            adv,
        )
        self.call_detection_callbacks(device, adv)


# --------------------------------------------------------------------------- the seeded devices
