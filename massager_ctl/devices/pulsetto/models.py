"""Pulsetto neck stimulator (BLE, Nordic UART). Facts: jooray/pulse-libre-desktop
``docs/PULSETTO_PROTOCOL.md`` and ``main.py`` (an open re-implementation of the vendor app;
confidence high); docs/devices.md."""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.vocabulary import Technique, Zone
from ...transport.ble_layout import NUS_RX, NUS_SERVICE, NUS_TX, BleLayout
from ..model import ModelDefinition, OnLinkLoss, Recognise, SafetyFacts, StopConfirmation
from ..simulated_ble import SimulatedBleUnit

#: Electrical stimulation of the vagus nerve at the neck: one zone, one "technique"
#: (the nearest word is vibrate), intensity 0-9, no speed, no heat.
PULSETTO_CAPABILITIES = Capabilities(
    zones=frozenset({Zone.NECK}),
    techniques=frozenset({Technique.VIBRATE}),
    intensity_steps=9,
    speed_steps=0,
    extra={"sides": ("left", "right", "both")},
)

#: Host writes RX 6E400002 ("+" and "-" with response, the rest without: the driver
#: says which), the device notifies on TX 6E400003.
PULSETTO_BLE = BleLayout.uart(NUS_SERVICE, NUS_RX, NUS_TX, title="Nordic UART")

#: No timer in the device (only an empty battery stops it) and no report of its level:
#: a stop is sent, never confirmed.
PULSETTO_SAFETY = SafetyFacts(
    OnLinkLoss.KEEPS_RUNNING,
    StopConfirmation.NONE,
    link_loss="the Pulsetto has no timer of its own and may keep stimulating: "
    "press its button or take it off",
)

MODELS = (
    ModelDefinition(
        name="pulsetto",
        title="Pulsetto Lite / Fit neck stimulator (vagus nerve, 9 levels)",
        protocol="pulsetto",
        schemes=("sim", "ble"),
        driver="massager_ctl.devices.pulsetto.driver:PulsettoDevice",
        capabilities=PULSETTO_CAPABILITIES,
        simulator="massager_ctl.devices.pulsetto.sim:PulsettoSim",
        min_write_gap_s=0.1,
        keepalive="the intensity re-sent every 10 s while running (as the vendor app does)",
        # "Devices advertise with a BLE name starting with Pulsetto" (PULSETTO_PROTOCOL.md;
        # main.py matches name.startswith("Pulsetto")): PulsettoLite too, whatever services
        # the advertisement lists.
        recognise=Recognise(
            ble_names=("Pulsetto",), ble_name_prefixes=("Pulsetto",), ble_services=(NUS_SERVICE,)
        ),
        notes=(
            "Starts with a fixed sequence (+, -, 0, 5, 0, level, side, LED) with the vendor "
            "app's waits (250, 450, 450, 450, 250 ms), so the first command takes about 1.9 s; "
            "stops with +, -, - at once. LED: ble:...?led=E|F|G (default E, low). Neck only; "
            "profiles' techniques map to 'vibrate' where close (roll, tap), others are refused. "
            "Side: ble:...?side=left|right|both (default both). No timer in the device: "
            "massager-ctl ends the session. "
            "The device does not report its level: stop and status come from what was sent "
            "(the battery is read from the device)."
        ),
        ble=PULSETTO_BLE,
        safety=PULSETTO_SAFETY,
    ),
)

#: The unit the simulated radio offers (--simulate-ble); no manufacturer data is known.
SIMULATED_BLE = (SimulatedBleUnit("pulsetto", "F0:5E:1A:50:15:01", "Pulsetto Fit", rssi=-52),)
