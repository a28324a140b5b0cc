"""Models speaking the massager-ctl native protocol v1 (docs/protocol.md)."""

from __future__ import annotations

from ...core.tolerance import EXACT
from ..model import ModelDefinition, OnLinkLoss, SafetyFacts, StopConfirmation
from .deadman import DEFAULT_DEADMAN_MS
from .reference import REFERENCE_CAPABILITIES

#: Every device speaking the native protocol (docs/protocol.md, sections 7.2 and 8): it
#: stops itself when no valid frame came for the deadman period agreed at HELLO (the
#: host asks 1.5 s and sends a heartbeat every third of it), ACKs a STOP and shows the
#: stopped state in its next STATUS, which it sends every 100 ms by default.
NATIVE_SAFETY = SafetyFacts(
    OnLinkLoss.STOPS_BY_DEADMAN,
    StopConfirmation.ACK_AND_STATUS,
    deadman_s=DEFAULT_DEADMAN_MS / 1000,
    status_every_s=0.1,
)

# STATUS carries the state the chair executes, ordered with the ACKs of its frames
# (docs/protocol.md): it is verified exactly against what was acknowledged.

MODELS: tuple[ModelDefinition, ...] = (
    ModelDefinition(
        name="sim-chair",
        title="massager-ctl reference chair (simulated)",
        protocol="native",
        schemes=("sim",),
        driver="massager_ctl.devices.native.driver:NativeDevice",
        # It reports these at HELLO too; known here so `devices` can show them.
        capabilities=REFERENCE_CAPABILITIES,
        simulator="massager_ctl.devices.native.sim:SimulatedNativeChair",
        min_write_gap_s=0.02,
        keepalive="native HEARTBEAT at a third of the 1.5 s deadman",
        status_tolerance=EXACT,
        notes="Speaks the native protocol v1 over an in-memory link; physics take time.",
        safety=NATIVE_SAFETY,
    ),
    ModelDefinition(
        name="native",
        title="Any device speaking the massager-ctl native protocol v1 (DIY controllers)",
        protocol="native",
        schemes=("serial", "ble"),
        driver="massager_ctl.devices.native.driver:NativeDevice",
        min_write_gap_s=0.02,
        keepalive="native HEARTBEAT at a third of the negotiated deadman",
        status_tolerance=EXACT,
        notes="Capabilities are reported by the device in its INFO reply.",
        safety=NATIVE_SAFETY,
    ),
)

# --- DIY controllers over BLE UART bridges (added for Bluetooth LE) ------------------
# A DIY controller speaking the native protocol through a BLE UART module. It advertises
# a name starting with "MCTL" and/or manufacturer data 0xFFFF "MCTL" + protocol version
# (0xFFFF is the Bluetooth SIG's ID for tests and internal use); see docs/devices.md.

from ...transport.ble_layout import NUS_RX, NUS_SERVICE, NUS_TX, BleLayout  # noqa: E402
from ..model import Recognise  # noqa: E402
from ..simulated_ble import GattCharacteristic, SimulatedBleUnit  # noqa: E402

_DIY_MANUFACTURER = ((0xFFFF, b"MCTL"),)
_DIY_NOTES = (
    "A DIY controller speaking the native protocol v1 over a BLE UART module; it reports its "
    "capabilities in INFO and stops itself through its deadman if the link drops. Frames are "
    "split to fit the link (the protocol is a byte stream)."
)


def _diy(name: str, title: str, service: str, ble: BleLayout, notes: str) -> ModelDefinition:
    """A DIY controller on a BLE UART module advertising ``service``."""
    return ModelDefinition(
        name=name,
        title=title,
        protocol="native",
        schemes=("ble",),
        driver="massager_ctl.devices.native.driver:NativeDevice",
        simulator="massager_ctl.devices.native.sim:SimulatedNativeChair",
        min_write_gap_s=0.075,
        keepalive="native HEARTBEAT at a third of the negotiated deadman",
        status_tolerance=EXACT,
        recognise=Recognise(ble_names=("MCTL",), ble_services=(service,), ble_manufacturer=_DIY_MANUFACTURER),
        notes=notes,
        ble=ble,
        safety=NATIVE_SAFETY,
    )


MODELS = MODELS + (
    _diy(
        "native-nus",
        "DIY controller, native protocol v1 over BLE (Nordic UART Service)",
        NUS_SERVICE,
        BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX, title="Nordic UART"),
        _DIY_NOTES,
    ),
    _diy(
        "native-ffe0",
        "DIY controller, native protocol v1 over BLE (FFE0 UART module, e.g. HM-10)",
        "ffe0",
        # HM-10 modules write and notify on FFE1; others split the roles over FFE1/FFE2
        # either way round: probe.
        BleLayout.probed("ffe0", ("ffe1", "ffe2"), title="FFE0 UART"),
        _DIY_NOTES + " Write and notify roles of FFE1/FFE2 are probed from their properties.",
    ),
)

#: What the simulated DIY controllers advertise (--simulate-ble): the "MCTL" name and
#: manufacturer data 0xFFFF "MCTL" + protocol version 1.
_DIY_ADVERTISED = ((0xFFFF, b"MCTL\x01"),)
#: An HM-10 style module: one FFE1 characteristic, written and notifying.
HM10_GATT = (GattCharacteristic("ffe1", ("read", "write-without-response", "notify")),)

SIMULATED_BLE = (
    SimulatedBleUnit(
        "native-nus", "F0:5E:1A:DC:00:01", "MCTL-NUS", rssi=-70, manufacturer_data=_DIY_ADVERTISED
    ),
    SimulatedBleUnit(
        "native-ffe0",
        "F0:5E:1A:DC:00:02",
        "MCTL-FFE0",
        rssi=-73,
        manufacturer_data=_DIY_ADVERTISED,
        gatt=HM10_GATT,
    ),
)
