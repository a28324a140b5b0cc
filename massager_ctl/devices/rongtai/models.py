"""Rongtai / Infinity massage chairs (docs/devices.md, "Rongtai / Infinity chairs", and its sources).

The ``serial`` and ``ble`` fields are left None here: the transport modules
fill in their own settings classes. The facts they need are the constants
re-exported below from :mod:`massager_ctl.devices.rongtai.facts` (and each
model's ``notes``): SERIAL_BAUD, BLE_SERVICE, BLE_WRITE_CHAR (write without
response), BLE_NOTIFY_CHAR, endpoint names "tx" and "status".
"""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.tolerance import StatusTolerance
from ...transport.ble_layout import BleEndpoint, BleLayout
from ...transport.serial_settings import SerialSettings
from ..model import ModelDefinition, OnLinkLoss, Recognise, SafetyFacts, StopConfirmation
from ..simulated_ble import SimulatedBleUnit
from .facts import (  # noqa: F401 - re-exported for the transport modules
    BLE_NOTIFY_CHAR,
    BLE_SERVICE,
    BLE_WRITE_CHAR,
    BLE_WRITE_CHAR_IOS_APP,
    BLE_WRITE_RESPONSE,
    ENDPOINT_COMMANDS,
    ENDPOINT_STATUS,
    KEY_TABLE_OF,
    LINK_NOTE,
    MIN_WRITE_GAP_S,
    PROGRAMS,
    RT6923_CAPABILITIES,
    RT8600S_CAPABILITIES,
    SERIAL_BAUD,
    SERIAL_LINE,
    TIMER_NOTE,
    UNSURE_NOTE,
    WIRED_REMOTE_BAUD,
)

_DRIVER = "massager_ctl.devices.rongtai.driver:RongtaiDevice"

#: Key-press chairs with no deadman: the driver sets the chair's own session timer at the
#: start, and that ends a session the host has lost. A stop is confirmed from the status
#: frames the chair sends every 200 ms on its Bluetooth path (wangqian2528/RT6911 `main.c`,
#: `main_200ms_int`; info frames between when nothing changed): on its way once the chair
#: resets with heat and airbags cleared, done at off. A recline move runs to its end stop.
RONGTAI_SAFETY = SafetyFacts(
    OnLinkLoss.STOPS_AT_CHAIR_TIMER,
    StopConfirmation.STATUS,
    chair_timer_s=RT8600S_CAPABILITIES.chair_timer_s,
    status_every_s=0.2,
    link_loss="a recline move in progress runs to its end stop",
)

#: Trust, but verify (docs/safety.md): the status reports the 3D strength, the airbag
#: groups and strength and the heat the chair runs, so it is held exactly to what the
#: driver had acknowledged (its closed loop presses until the status shows each level;
#: b14's 3 s blink of 0 after a change reads as the strength last shown). While the driver
#: is still making a state the chair may run above the caps for a moment: a technique key
#: starts the rollers at the 3D strength the board remembers (kept through power-off;
#: wangqian2528/RT6923 ``Application/src/main.c``, nKeyAxisStrength), and the strength key
#: follows a key gap and a status frame (0.2-0.4 s) later; 2 s leaves room for one retry.
#: (While the driver makes a state - ``Device.making`` - the status is held to the caps
#: only: a rest shows the state before it until its keys take.) The board cannot say who
#: pressed a key, so a level raised at its own remote is judged like one the firmware
#: raised by itself.
RONGTAI_TOLERANCE = StatusTolerance(
    making_s=2.0,
    note=(
        "a level raised at the chair's own remote counts too: massager-ctl cannot tell the "
        "remote from the chair's firmware; change levels in massager-ctl during a session"
    ),
)


def _ble_layout(status_length: int) -> BleLayout:
    """The FFF0 layout every Rongtai model uses; only the status frame's length differs."""
    return BleLayout(
        BLE_SERVICE,
        (
            BleEndpoint(ENDPOINT_COMMANDS, BLE_WRITE_CHAR, response=BLE_WRITE_RESPONSE),
            # Besides its status the chair notifies info frames (10-12 bytes) and 1-byte
            # frames (Bread-Yang/RongTai rongtai/Classes/Ble/RTBleConnector.m,
            # didUpdateValue; wangqian2528/RT6911 main.c, Main_BlueToothSend): not signs
            # of a wrong device.
            BleEndpoint(
                ENDPOINT_STATUS, BLE_NOTIFY_CHAR, notify=True, lengths=(1, 10, 11, 12, status_length)
            ),
        ),
        title="Rongtai FFF0",
    )


def _model(
    name: str,
    title: str,
    *,
    simulator: str,
    capabilities: Capabilities,
    status_length: int,
    recognise: Recognise,
    notes: str,
) -> ModelDefinition:
    """A Rongtai chair: what differs between models is named, the rest is the family's."""
    return ModelDefinition(
        name=name,
        title=title,
        protocol="rongtai",
        schemes=("sim", "serial", "ble"),
        driver=_DRIVER,
        capabilities=capabilities,
        simulator=simulator,
        min_write_gap_s=MIN_WRITE_GAP_S,
        keepalive=TIMER_NOTE,
        serial=SerialSettings(baudrate=SERIAL_BAUD),  # 8N1, no flow control
        ble=_ble_layout(status_length),
        recognise=recognise,
        notes=notes,
        safety=RONGTAI_SAFETY,
        status_tolerance=RONGTAI_TOLERANCE,
    )


MODELS = (
    _model(
        "rongtai-rt8600s",
        "Rongtai RT8600S massage chair",
        capabilities=RT8600S_CAPABILITIES,
        simulator="massager_ctl.devices.rongtai.sim:RongtaiSim",
        status_length=17,
        recognise=Recognise(ble_names=("RT8600S",), ble_services=(BLE_SERVICE,)),
        notes=(
            "Key presses, reconciled against status frames every 200 ms; a stop waits "
            f"through the chair's reset (at most 150 s). {LINK_NOTE} {UNSURE_NOTE}"
        ),
    ),
    _model(
        "infinity-evolution",
        "Infinity EVOLUTION massage chair (made by Rongtai)",
        capabilities=RT8600S_CAPABILITIES,
        simulator="massager_ctl.devices.rongtai.sim:InfinityEvolutionSim",
        status_length=17,
        recognise=Recognise(ble_names=("EVOLUTION-",), ble_services=(BLE_SERVICE,)),
        notes=(f"Same keys and 17-byte status as the RT8600S. {LINK_NOTE} {UNSURE_NOTE}"),
    ),
    _model(
        "rongtai-rt6923",
        "Rongtai RT6923 massage chair",
        capabilities=RT6923_CAPABILITIES,
        simulator="massager_ctl.devices.rongtai.sim:RongtaiRT6923Sim",
        status_length=18,
        # No advertised name is known; FFF0 alone is shared with other vendors (Foreo),
        # so scan does not claim devices for this model: name it in the URI (?model=).
        recognise=Recognise(),
        notes=(
            "18-byte status without checksum and without a heat level (its heat level keys "
            "0x3C-0x3E are not used: the status cannot confirm them). Its advertised BLE name "
            f"is not known. {LINK_NOTE} {UNSURE_NOTE}"
        ),
    ),
)

#: The chairs the simulated radio offers (--simulate-ble). Their layout is the family's
#: FFF0 one; the iOS app's 8b00ace7 characteristic is left out (which service holds it
#: is not known). No manufacturer data is known.
SIMULATED_BLE = (
    SimulatedBleUnit("rongtai-rt8600s", "F0:5E:1A:86:00:01", "RT8600S", rssi=-66),
    SimulatedBleUnit("infinity-evolution", "F0:5E:1A:1A:2B:3C", "EVOLUTION-1A2B3C", rssi=-66),
)
