"""The simulated BLE peripherals are built from the model definitions: each family's
SIMULATED_BLE units name a model, and the advertisement's service, the GATT table and
the firmware come from that model's BleLayout and simulator."""

from __future__ import annotations

import pytest

from massager_ctl.connection.simulated_ble import default_devices, gatt_for
from massager_ctl.devices.registry import MODELS, simulated_ble_units
from massager_ctl.devices.simulated_ble import GattCharacteristic
from massager_ctl.transport.ble import NUS_RX, NUS_SERVICE, NUS_TX, BleEndpoint, BleLayout, resolve_layout


def test_every_seeded_peripheral_is_its_models_layout_and_simulator():
    specs = default_devices()
    units = simulated_ble_units()
    assert [s.address for s in specs] == [u.address.upper() for u in units]
    for unit, spec in zip(units, specs, strict=True):
        model = MODELS[unit.model]
        assert spec.advertisement.name == unit.name
        assert spec.advertisement.service_uuids == (model.ble.service,)
        assert spec.simulator == model.simulator and dict(spec.options) == {"model": model.name}
        # what the driver's transport does on connect: the layout finds every endpoint
        resolved = resolve_layout(model.ble, spec.services)
        assert set(resolved.endpoints) == {e.name for e in model.ble.endpoints}


def test_a_fixed_layout_gives_one_characteristic_per_endpoint_with_what_its_writes_allow():
    layout = BleLayout(
        "fff0",
        (
            BleEndpoint("tx", "fff1", response=False),
            BleEndpoint("cfg", "fff3", response=True),
            BleEndpoint("any", "fff4"),
            BleEndpoint("status", "fff2", notify=True),
        ),
    )
    service = gatt_for(layout)
    table = {c.uuid[4:8]: (c.properties, c.endpoint) for c in service.characteristics}
    assert table == {
        "fff1": (("write-without-response",), "tx"),
        "fff3": (("write",), "cfg"),
        "fff4": (("write-without-response", "write"), "any"),
        "fff2": (("notify",), "status"),
    }
    nus = gatt_for(BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX))
    assert [(c.uuid, c.properties) for c in nus.characteristics] == [
        (NUS_RX, ("write-without-response", "write")),
        (NUS_TX, ("notify",)),
    ]


def test_a_probed_layout_needs_the_table_a_real_unit_offers_and_only_it_does():
    probed = BleLayout.probed("ffe0", ("ffe1", "ffe2"))
    with pytest.raises(ValueError, match="probed"):
        gatt_for(probed)
    hm10 = (GattCharacteristic("ffe1", ("read", "write-without-response", "notify")),)
    service = gatt_for(probed, hm10)
    assert [(c.uuid[4:8], c.properties) for c in service.characteristics] == [
        ("ffe1", ("read", "write-without-response", "notify"))
    ]
    with pytest.raises(ValueError, match="comes from the layout"):
        gatt_for(BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX), hm10)
