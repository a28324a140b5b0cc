"""Models speaking the massager-ctl native protocol v1 (docs/protocol.md)."""

from __future__ import annotations

from ...core.tolerance import EXACT
from ..model import ModelDefinition
from .reference import REFERENCE_CAPABILITIES

# STATUS carries the state the chair executes, ordered with the ACKs of its frames
# (docs/protocol.md): it is verified exactly against what was acknowledged.

MODELS = (
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
    ),
)

# --- DIY controllers over BLE UART bridges (added for Bluetooth LE) ------------------
# A DIY controller speaking the native protocol through a BLE UART module. It advertises
# a name starting with "MCTL" and/or manufacturer data 0xFFFF "MCTL" + protocol version
# (0xFFFF is the Bluetooth SIG's ID for tests and internal use); see docs/devices.md.

from ...transport.ble import NUS_RX, NUS_SERVICE, NUS_TX, BleLayout  # noqa: E402
from ..model import Recognise  # noqa: E402

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
