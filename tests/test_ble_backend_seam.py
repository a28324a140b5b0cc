"""Fails loudly if bleak's backend seam moves (pinned: bleak 3.x, bleak-retry-connector 4.x).

The simulated radio (massager_ctl.sim.ble_backend) subclasses bleak's
BaseBleakClient / BaseBleakScanner and builds BleakGATT* objects itself; the
BLE transport relies on establish_connection passing ``backend=`` through.
If any of this changes, these tests say which part did.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import bleak
import bleak_retry_connector
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection

from massager_ctl.connection.simulated_ble import default_devices
from massager_ctl.sim.ble_backend import SimulatedRadio


def params(func) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(func).parameters.values()]


def test_pinned_major_versions():
    assert version("bleak").split(".")[0] == "3", version("bleak")
    assert version("bleak-retry-connector").split(".")[0] == "4", version("bleak-retry-connector")


def test_client_backend_abstract_methods():
    assert BaseBleakClient.__abstractmethods__ == {
        "mtu_size",
        "connect",
        "disconnect",
        "pair",
        "unpair",
        "is_connected",
        "read_gatt_char",
        "read_gatt_descriptor",
        "write_gatt_char",
        "write_gatt_descriptor",
        "start_notify",
        "stop_notify",
    }


def test_scanner_backend_abstract_methods():
    assert BaseBleakScanner.__abstractmethods__ == {"start", "stop"}


def test_client_backend_signatures():
    assert params(BaseBleakClient.__init__) == [
        ("self", "POSITIONAL_OR_KEYWORD"),
        ("address_or_ble_device", "POSITIONAL_OR_KEYWORD"),
        ("disconnected_callback", "KEYWORD_ONLY"),
        ("timeout", "KEYWORD_ONLY"),
        ("kwargs", "VAR_KEYWORD"),
    ]
    assert [n for n, _ in params(BaseBleakClient.connect)] == ["self", "pair", "kwargs"]
    assert [n for n, _ in params(BaseBleakClient.write_gatt_char)] == [
        "self",
        "characteristic",
        "data",
        "response",
    ]
    assert [n for n, _ in params(BaseBleakClient.start_notify)] == [
        "self",
        "characteristic",
        "callback",
        "kwargs",
    ]
    assert [n for n, _ in params(BaseBleakClient.stop_notify)] == ["self", "characteristic"]
    assert [n for n, _ in params(BaseBleakClient.read_gatt_char)] == [
        "self",
        "characteristic",
        "use_cached",
        "kwargs",
    ]


def test_scanner_backend_signatures():
    assert [n for n, _ in params(BaseBleakScanner.__init__)] == [
        "self",
        "detection_callback",
        "service_uuids",
    ]
    assert [n for n, _ in params(BaseBleakScanner.create_or_update_device)] == [
        "self",
        "key",
        "address",
        "name",
        "details",
        "adv",
    ]
    assert [n for n, _ in params(BaseBleakScanner.call_detection_callbacks)] == [
        "self",
        "device",
        "advertisement_data",
    ]
    assert AdvertisementData._fields == (
        "local_name",
        "manufacturer_data",
        "service_data",
        "service_uuids",
        "tx_power",
        "rssi",
        "platform_data",
    )


def test_gatt_object_constructors():
    assert [n for n, _ in params(BleakGATTService.__init__)] == ["self", "obj", "handle", "uuid"]
    assert [n for n, _ in params(BleakGATTCharacteristic.__init__)] == [
        "self",
        "obj",
        "handle",
        "uuid",
        "properties",
        "max_write_without_response_size",
        "service",
    ]
    assert [n for n, _ in params(BleakGATTDescriptor.__init__)] == [
        "self",
        "obj",
        "handle",
        "uuid",
        "characteristic",
    ]
    assert [n for n, _ in params(BleakGATTServiceCollection.__init__)] == ["self"]


def test_front_ends_take_a_backend_and_pass_kwargs():
    client = inspect.signature(bleak.BleakClient.__init__).parameters
    scanner = inspect.signature(bleak.BleakScanner.__init__).parameters
    assert "backend" in client and "kwargs" in client
    assert "backend" in scanner and "kwargs" in scanner
    retry = inspect.signature(bleak_retry_connector.establish_connection).parameters
    assert list(retry)[:5] == ["client_class", "device", "name", "disconnected_callback", "max_attempts"]
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in retry.values())


def test_simulated_backends_implement_the_whole_seam():
    radio = SimulatedRadio(default_devices())
    client = radio.client_backend("F0:5E:1A:7A:6E:01", disconnected_callback=None, timeout=5.0)
    assert not client.is_connected and client.mtu_size == 23
    scanner = radio.scanner_backend(None, None, "active", bluez={}, cb={})
    assert scanner.seen_devices == {}
    # Through the real front ends too (what the transport does).
    assert isinstance(
        bleak.BleakClient("F0:5E:1A:7A:6E:01", backend=radio.client_backend)._backend, radio.client_backend
    )
    assert bleak.BleakScanner(backend=radio.scanner_backend).backend_id == radio.scanner_backend.__name__


def test_bleak_is_imported_only_when_a_ble_device_is_used():
    import subprocess
    import sys

    code = (
        "import sys, massager_ctl.cli.main, massager_ctl.api, massager_ctl.devices.registry, "
        "massager_ctl.transport.ble; "
        "print([n for n in sys.modules if n.split('.')[0] in ('bleak', 'bleak_retry_connector')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
