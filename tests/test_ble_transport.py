"""BleLayout resolution (pure) and BleTransport over the real bleak front end and
bleak_retry_connector, with the simulated backends. Virtual time throughout."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from bleak.backends.device import BLEDevice

from massager_ctl.core.errors import DeviceDisconnected, DeviceError
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.ble_backend import (
    Advertisement,
    SimCharacteristic,
    SimDeviceSpec,
    SimService,
    SimulatedRadio,
)
from massager_ctl.transport.ble import (
    NUS_RX,
    NUS_SERVICE,
    NUS_TX,
    BleEndpoint,
    BleLayout,
    BleTransport,
    normalize_uuid,
    resolve_layout,
)

FFE0, FFE1, FFE2 = (normalize_uuid(u) for u in ("ffe0", "ffe1", "ffe2"))


def gatt(*services):
    """Fake GATT services: (uuid, [(char uuid, properties), ...])."""
    return [
        SimpleNamespace(
            uuid=normalize_uuid(s),
            characteristics=[SimpleNamespace(uuid=normalize_uuid(u), properties=list(p)) for u, p in chars],
        )
        for s, chars in services
    ]


PROBED = BleLayout.probed("ffe0", ("ffe1", "ffe2"))


# --------------------------------------------------------------------------- layouts


def test_uuid_normalisation():
    assert normalize_uuid("FFE1") == "0000ffe1-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("0x2902") == "00002902-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("6E400001-B5A3-F393-E0A9-E50E24DCCA9E") == NUS_SERVICE


@pytest.mark.parametrize(
    "chars, tx, rx",
    [
        ([("ffe1", ["notify"]), ("ffe2", ["write", "write-without-response"])], FFE2, FFE1),  # Theragun
        ([("ffe1", ["write-without-response"]), ("ffe2", ["notify"])], FFE1, FFE2),  # the reverse
        ([("ffe1", ["read", "write-without-response", "notify"])], FFE1, FFE1),  # HM-10: one for both
        ([("ffe1", ["write", "notify"]), ("ffe2", ["write"])], FFE2, FFE1),  # prefer single-role
    ],
)
def test_probed_roles_come_from_properties(chars, tx, rx):
    resolved = resolve_layout(PROBED, gatt(("ffe0", chars)))
    assert resolved.endpoints["tx"].uuid == tx
    assert resolved.endpoints["rx"].uuid == rx


def test_probe_without_a_notifier_is_a_clear_error():
    with pytest.raises(DeviceError, match="none of the characteristics ffe1/ffe2 .* can notify"):
        resolve_layout(PROBED, gatt(("ffe0", [("ffe1", ["write"])])))


def test_missing_service_and_characteristic_name_what_the_device_offers():
    layout = BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX)
    with pytest.raises(DeviceError, match="no GATT service .*it offers: ffe0"):
        resolve_layout(layout, gatt(("ffe0", [("ffe1", ["notify"])])))
    with pytest.raises(DeviceError, match="characteristic .*6e400003.* is missing"):
        resolve_layout(layout, gatt((NUS_SERVICE, [(NUS_RX, ["write"])])))
    with pytest.raises(DeviceError, match="cannot write"):
        resolve_layout(layout, gatt((NUS_SERVICE, [(NUS_RX, ["read"]), (NUS_TX, ["notify"])])))


def test_alternative_layout_is_used_when_the_first_service_is_absent():
    layout = BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX, alternatives=(PROBED,))
    resolved = resolve_layout(layout, gatt(("ffe0", [("ffe1", ["write-without-response", "notify"])])))
    assert resolved.layout is PROBED and resolved.endpoints["tx"].uuid == FFE1


def test_write_mode_follows_driver_layout_and_properties():
    both = gatt(("ffe0", [("ffe1", ["notify"]), ("ffe2", ["write", "write-without-response"])]))
    tx = resolve_layout(PROBED, both).endpoints["tx"]
    assert tx.write_mode(True) is True and tx.write_mode(False) is False  # the driver decides
    only_wwr = gatt(("ffe0", [("ffe1", ["notify"]), ("ffe2", ["write-without-response"])]))
    assert resolve_layout(PROBED, only_wwr).endpoints["tx"].write_mode(True) is False
    only_w = gatt(("ffe0", [("ffe1", ["notify"]), ("ffe2", ["write"])]))
    assert resolve_layout(PROBED, only_w).endpoints["tx"].write_mode(False) is True
    forced = BleLayout(
        "ffe0", (BleEndpoint("tx", "ffe2", response=True), BleEndpoint("rx", "ffe1", notify=True))
    )
    assert resolve_layout(forced, both).endpoints["tx"].write_mode(False) is True


def test_layout_validation():
    with pytest.raises(ValueError, match="no write endpoint"):
        BleLayout("ffe0", (BleEndpoint("rx", "ffe1", notify=True),))
    with pytest.raises(ValueError, match="probe"):
        BleLayout("ffe0", (BleEndpoint("tx"),))
    with pytest.raises(ValueError, match="notify endpoints only"):
        BleEndpoint("tx", "ffe1", lengths=(5,))


# --------------------------------------------------------------------------- the transport

ADDRESS = "F0:5E:1A:00:00:99"


class Echo:
    """A tiny firmware: echoes every write back; ``bad`` makes the first reply 3 bytes."""

    def __init__(self, transport, *, faults=None, reply_len=None):
        self.transport = transport
        self.reply_len = reply_len
        self.heard: list[bytes] = []

    async def start(self):
        self.transport.set_receiver(self._on)

    async def close(self):
        pass

    def _on(self, data):
        self.heard.append(data)
        out = data if self.reply_len is None else data[: self.reply_len]
        asyncio.get_running_loop().create_task(self.transport.write(out))


def echo_spec(mtu=23, reply_len=None, refuse_pairing=False, wwr=True):
    rx_props = ("write-without-response", "write") if wwr else ("write",)
    return SimDeviceSpec(
        ADDRESS,
        Advertisement("ECHO", (NUS_SERVICE,)),
        (
            SimService(
                NUS_SERVICE,
                (SimCharacteristic(NUS_RX, rx_props), SimCharacteristic(NUS_TX, ("notify",))),
            ),
        ),
        Echo,
        options=(("reply_len", reply_len),),
        mtu=mtu,
        refuse_pairing=refuse_pairing,
    )


def make(radio, layout=None, **kwargs):
    layout = layout or BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX)
    device = BLEDevice(ADDRESS, "ECHO", {"source": "test"})
    return BleTransport(device, layout, name="ECHO", backend=radio.client_backend, **kwargs)


def test_round_trip_with_chunking_and_write_modes():
    async def main():
        radio = SimulatedRadio([echo_spec()])
        t = make(radio)
        got = []
        t.set_receiver(got.append)
        await t.open()
        frame = bytes(range(45))  # more than one write without response carries (20)
        await t.write(frame)
        await t.write(b"ping", response=True)
        await asyncio.sleep(0.2)
        p = radio.peripheral(ADDRESS)
        await t.close()
        await radio.close()
        return got, p.writes, t

    got, writes, t = run_virtual(main())
    assert [len(w.data) for w in writes] == [20, 20, 5, 4]
    assert [w.response for w in writes] == [False, False, False, True]
    assert b"".join(got) == bytes(range(45)) + b"ping"
    assert not t.lost and t.opens == 1


def test_endpoint_receiver_takes_that_endpoints_notifications():
    async def main():
        radio = SimulatedRadio([echo_spec()])
        t = make(radio)
        general, tagged = [], []
        t.set_receiver(general.append)
        t.set_endpoint_receiver("rx", tagged.append)
        await t.open()
        await t.write(b"abc")
        await asyncio.sleep(0.1)
        await t.close()
        await radio.close()
        return general, tagged

    general, tagged = run_virtual(main())
    assert general == [] and tagged == [b"abc"]


def test_link_loss_is_reported_once_and_open_reconnects():
    async def main():
        radio = SimulatedRadio([echo_spec()])
        t = make(radio)
        reasons, got = [], []
        t.on_disconnect(reasons.append)
        t.set_receiver(got.append)
        await t.open()
        p = radio.peripheral(ADDRESS)
        p.cut("walked away")
        p.cut("again")
        await asyncio.sleep(0.1)
        with pytest.raises(DeviceDisconnected):
            await t.write(b"x")
        lost = t.lost
        await t.open()  # establish_connection again
        await t.write(b"back")
        await asyncio.sleep(0.1)
        await t.close()
        await asyncio.sleep(0.1)
        await radio.close()
        return reasons, lost, t, got, p

    reasons, lost, t, got, p = run_virtual(main())
    assert reasons == ["Bluetooth link lost"] and lost
    assert not t.lost and t.opens == 2 and got == [b"back"] and p.connections == 2


def test_planned_close_is_not_a_lost_link():
    async def main():
        radio = SimulatedRadio([echo_spec()])
        t = make(radio)
        reasons = []
        t.on_disconnect(reasons.append)
        await t.open()
        await t.close()
        await asyncio.sleep(0.1)
        with pytest.raises(DeviceDisconnected, match="not connected"):
            await t.write(b"x")
        await radio.close()
        return reasons

    assert run_virtual(main()) == []


def test_notification_of_wrong_length_fails_fast_with_a_clear_reason():
    layout = BleLayout(
        "6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        (BleEndpoint("tx", NUS_RX), BleEndpoint("rx", NUS_TX, notify=True, lengths=(17, 18))),
    )

    async def main():
        radio = SimulatedRadio([echo_spec(reply_len=3)])
        t = make(radio, layout)
        reasons = []
        t.on_disconnect(reasons.append)
        await t.open()
        await t.write(b"0123456789abcdefg")
        await asyncio.sleep(0.2)
        await radio.close()
        return reasons, t

    reasons, t = run_virtual(main())
    assert len(reasons) == 1
    assert "notification of 3 bytes" in reasons[0] and "expected 17 or 18 bytes" in reasons[0]
    assert t.bad_notifications == 1 and not t.connected


@pytest.mark.parametrize(
    "radio_kwargs, spec_kwargs, address, pattern",
    [
        ({"powered": False}, {}, ADDRESS, "adapter is switched off"),
        ({"present": False}, {}, ADDRESS, "no Bluetooth LE adapter"),
        ({}, {}, "F0:5E:1A:00:00:01", "was not found"),
        ({}, {"refuse_pairing": True}, ADDRESS, "pairing was refused"),
    ],
)
def test_connection_failures_are_one_line_device_errors(radio_kwargs, spec_kwargs, address, pattern):
    async def main():
        radio = SimulatedRadio([echo_spec(**spec_kwargs)], **radio_kwargs)
        device = BLEDevice(address, "ECHO", {"source": "test"})
        t = BleTransport(
            device, BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX), name="ECHO", backend=radio.client_backend
        )
        try:
            await t.open()
        finally:
            await radio.close()

    with pytest.raises(DeviceError, match=pattern) as info:
        run_virtual(main())
    assert "\n" not in str(info.value)


def test_missing_characteristic_on_the_device_is_a_clear_error_and_disconnects():
    async def main():
        radio = SimulatedRadio([echo_spec()])
        t = make(radio, BleLayout.probed("ffe0", ("ffe1", "ffe2")))
        try:
            with pytest.raises(DeviceError, match="no GATT service ffe0"):
                await t.open()
            return radio.peripheral(ADDRESS).central
        finally:
            await radio.close()

    assert run_virtual(main()) is None  # the failed attempt left no connection behind


def test_write_without_response_on_a_write_only_characteristic_uses_response():
    async def main():
        radio = SimulatedRadio([echo_spec(wwr=False)])
        t = make(radio)
        await t.open()
        await t.write(b"abc", response=False)
        writes = radio.peripheral(ADDRESS).writes
        await t.close()
        await radio.close()
        return writes

    assert [(w.data, w.response) for w in run_virtual(main())] == [(b"abc", True)]
