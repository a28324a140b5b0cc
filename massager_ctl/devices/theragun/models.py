"""Theragun massage guns (BLE). Facts: buttplugio/docs.buttplug.io
``stpihkal/protocols/theragun/index.md`` and buttplugio/stpihkal issue 127; docs/devices.md.

Confidence medium (decompiled vendor app; replies only partly decoded). Wave
rollers (WaveSolo, WaveDuo) and "fr01" are left out: the Waves take fixed rpm
steps nobody has listed, and what "fr01" is is not known.
"""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.vocabulary import BACK_ZONES, Technique
from ...transport.ble_layout import BleLayout
from ..model import ModelDefinition, OnLinkLoss, Recognise, SafetyFacts, StopConfirmation
from ..simulated_ble import GattCharacteristic, SimulatedBleUnit

FFE0 = "ffe0"

#: A gun is held by hand: it reaches every zone the person holds it to, and has one
#: motion (percussion), offered as tap, knock and vibrate. Intensity is its speed:
#: 100 steps spread evenly over the model's rpm range. There is no separate speed.
GUN_CAPABILITIES = Capabilities(
    zones=frozenset(BACK_ZONES),
    techniques=frozenset({Technique.TAP, Technique.KNOCK, Technique.VIBRATE}),
    intensity_steps=100,
    speed_steps=0,
    extra={"held_by_hand": True},
)

#: Service FFE0; the host writes FFE2, the gun notifies on FFE1 (the reverse of HM-10
#: modules). Roles are probed from the characteristics' properties, not assumed.
#: Writes follow the driver: speed with response, the version query without.
THERAGUN_BLE = BleLayout.probed(FFE0, ("ffe2", "ffe1"), title="Theragun FFE0")
#: The characteristics a gun's FFE0 service exposes (what the probe above finds).
THERAGUN_GATT = (
    GattCharacteristic("ffe1", ("notify",)),
    GattCharacteristic("ffe2", ("write-without-response", "write")),
)

#: Whether a gun stops by itself when the link drops is not known: the worst case is
#: assumed. Its replies are not decoded, so a stop is sent, never confirmed.
GUN_SAFETY = SafetyFacts(
    OnLinkLoss.KEEPS_RUNNING,
    # The status request's reply shows the gun stopped (buttplugio/stpihkal issue 127;
    # offsets from a decompiled app, unsure): a gun that does not answer is "not confirmed".
    StopConfirmation.STATUS,
    link_loss="the gun may keep running at its last speed (it is not known to stop by itself): "
    "switch it off with its button",
)

_NOTES = (
    "Medium confidence (decompiled vendor app). Intensity is motor speed: step n of 100 is "
    "n % of {rpm} rpm. Held by hand: zones are wherever the person holds it, techniques are "
    "all percussion; speed is ignored. Stop and status ask the gun's status request "
    "(AA 10 10 00; its reply's offsets are unsure): a reply showing it stopped confirms a "
    "stop; without one, what was sent is reported, not confirmed. Unknown whether the gun "
    "stops by itself when the link drops."
)


def _gun(name: str, advertised: str, rpm: int) -> ModelDefinition:
    return ModelDefinition(
        name=name,
        title=f"Theragun {advertised} massage gun (0-{rpm} rpm)",
        protocol="theragun",
        schemes=("sim", "ble"),
        driver="massager_ctl.devices.theragun.driver:TheragunDevice",
        capabilities=GUN_CAPABILITIES,
        simulator="massager_ctl.devices.theragun.sim:TheragunSim",
        min_write_gap_s=0.1,
        keepalive="none (speed is a set value; the gun needs no keep-alive as far as is known)",
        recognise=Recognise(ble_names=(advertised,), ble_services=(FFE0,)),
        notes=_NOTES.format(rpm=rpm),
        ble=THERAGUN_BLE,
        safety=GUN_SAFETY,
    )


MODELS = (
    _gun("theragun-pro", "Pro", 3616),
    _gun("theragun-elite", "Elite", 3616),
    _gun("theragun-prime", "Prime", 3584),
)

#: The gun the simulated radio offers (--simulate-ble); the manufacturer data of real
#: guns is not known, so it advertises none.
SIMULATED_BLE = (SimulatedBleUnit("theragun-pro", "F0:5E:1A:7A:6E:01", "Pro", rssi=-58, gatt=THERAGUN_GATT),)
