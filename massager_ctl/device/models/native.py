"""Models speaking the massager-ctl native protocol v1 (docs/protocol.md)."""

from __future__ import annotations

from ..registry import ModelDefinition

MODELS = (
    ModelDefinition(
        name="sim-chair",
        title="massager-ctl reference chair (simulated)",
        protocol="native",
        schemes=("sim",),
        driver="massager_ctl.device.native:NativeDevice",
        simulator="massager_ctl.sim.native_chair:SimulatedNativeChair",
        min_write_gap_s=0.02,
        keepalive="native HEARTBEAT at a third of the 1.5 s deadman",
        notes="Speaks the native protocol v1 over an in-memory link; physics take time.",
    ),
    ModelDefinition(
        name="native",
        title="Any device speaking the massager-ctl native protocol v1 (DIY controllers)",
        protocol="native",
        schemes=("serial", "ble"),
        driver="massager_ctl.device.native:NativeDevice",
        min_write_gap_s=0.02,
        keepalive="native HEARTBEAT at a third of the negotiated deadman",
        notes="Capabilities are reported by the device in its INFO reply.",
    ),
)
