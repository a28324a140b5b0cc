"""Facts about Rongtai / Infinity chairs shared by the model definitions and the driver
(kept apart from devices/rongtai/models.py, which the registry imports).

Sources (docs/devices.md, "Rongtai"): the main-board firmware wangqian2528/RT6923
(``Application/src/main.c``, ``Application/src/BlueTooth.c``) and wangqian2528/RT6911
(``main.c``: ``Main_BlueToothSend``, ``main_200ms_int``); the vendor app Bread-Yang/RongTai
(``rongtai/Classes/Ble/RTBleConnector.m``); the Home Assistant integration
dallanwagz/hass-infinity-chair (``custom_components/infinity_chair/protocol.py``).
"""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.vocabulary import Heat, Technique, Width, Zone

# ----------------------------------------------------------- link facts
#: Main board <-> Bluetooth module UART: 115200 8N1 (RT6923 ``BlueTooth.c``).
SERIAL_BAUD = 115200
SERIAL_LINE = "115200 8N1"
#: The wired remote's line (its own frames every 50 ms; not used by massager-ctl).
WIRED_REMOTE_BAUD = 9600

BLE_SERVICE = "0000fff0-0000-1000-8000-00805f9b34fb"
#: Commands: write WITHOUT response (the Home Assistant integration's choice).
BLE_WRITE_CHAR = "0000fff1-0000-1000-8000-00805f9b34fb"
BLE_WRITE_RESPONSE = False
#: The vendor iOS app writes here instead (kept for reference).
BLE_WRITE_CHAR_IOS_APP = "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"
#: Status notifications: a status frame every 200 ms, an info frame instead when nothing
#: changed (RT6911 ``main_200ms_int`` and ``Main_BlueToothSend``).
BLE_NOTIFY_CHAR = "0734594a-a8e7-4b1a-a6b1-cd5243059a57"

#: Endpoint names the driver writes to / the simulator notifies on.
ENDPOINT_COMMANDS = "tx"
ENDPOINT_STATUS = "status"

#: The board sends one frame every 200 ms: a changed status, or an info frame when the
#: status did not change (then the next frame is a status again): an unchanged status
#: arrives every 400 ms.
STATUS_PERIOD_S = 0.2

#: Key presses: the board keeps ONE received key (a single-key buffer its main loop reads,
#: RT6923 ``BlueTooth.c``), so keys are spaced; 150 ms leaves the main loop ample time.
MIN_WRITE_GAP_S = 0.15

#: The board's own guard on its reset (RT6923 ``Main_Settle``: two minutes), and the
#: longest massager-ctl waits for a reset to end, with margin for the Infinity's firmware,
#: whose reset time is not public.
BOARD_RESET_GUARD_S = 120.0
RESET_TIMEOUT_S = 150.0
#: The board leaves "ready" for off by itself after a minute without a key
#: (RT6923 ``Main_WaitCommand``: C_TIMER_TEMP, 600 x 100 ms).
READY_IDLE_S = 60.0

PROGRAMS = ("recovery", "stretch", "relax", "pain-relief", "upper-body", "lower-body")

#: Techniques whose width the board sets (RT6923 ``Main_Work``: width keys only for
#: knock, shiatsu and tap) and whose speed it sets (speed keys not during shiatsu).
WIDTH_TECHNIQUES = frozenset({Technique.KNOCK, Technique.SHIATSU, Technique.TAP})
SPEED_TECHNIQUES = frozenset({Technique.KNEAD, Technique.KNOCK, Technique.TAP})

UNSURE_NOTE = (
    "Unsure (see docs/devices.md): the Infinity's own firmware (how long its reset lasts, "
    "whether it sends info frames); which technique code a knock shows on RT6911 firmware."
)
LINK_NOTE = (
    f"Serial: {SERIAL_LINE} (main board <-> BT module). BLE: service FFF0, write without "
    f"response to {BLE_WRITE_CHAR}, status notifications on {BLE_NOTIFY_CHAR}; one central "
    "at a time."
)
TIMER_NOTE = "No keep-alive: the chair's own 10/20/30-min timer ends a session if the host is lost."

#: Back zones the rollers reach: the roller travels from the waist (height 0) to the
#: neck (height 12) (Bread-Yang/RongTai ``RTBleConnector.m`` parseByteOfAddress8;
#: dallanwagz/hass-infinity-chair ``protocol.py``: 0x20 waist .. 0x2c neck).
ROLLER_ZONES = frozenset({Zone.NECK, Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK, Zone.LOWER_BACK})


def _capabilities(*, back_airbag: bool, key_table: str) -> Capabilities:
    airbags = {Zone.ARMS, Zone.SHOULDERS, Zone.SEAT, Zone.CALVES, Zone.FEET}
    if back_airbag:
        airbags.add(Zone.LOWER_BACK)
    return Capabilities(
        zones=ROLLER_ZONES,
        techniques=frozenset({Technique.KNEAD, Technique.KNOCK, Technique.SHIATSU, Technique.TAP}),
        intensity_steps=5,
        speed_steps=6,
        widths=frozenset(Width),
        airbag_zones=frozenset(airbags),
        airbag_levels=5,
        heat_levels=(Heat.LOW,),
        recline_motors=("backrest", "leg_rest", "leg_extension"),
        programs=PROGRAMS,
        chair_timer_s=(600, 1200, 1800),
        width_techniques=WIDTH_TECHNIQUES,
        speed_techniques=SPEED_TECHNIQUES,
        extra={"key_table": key_table},
    )


#: RT8600S / Infinity: one heat toggle, reported as "low" (never hotter than asked).
RT8600S_CAPABILITIES = _capabilities(back_airbag=True, key_table="rt8600s")
#: RT6923: its heat levels are keys the status cannot confirm, so massager-ctl uses the
#: toggle only; its firmware has no back/waist airbag key.
RT6923_CAPABILITIES = _capabilities(back_airbag=False, key_table="rt6923")

#: Model name -> key-table name (massager_ctl.devices.rongtai.codec.KEY_TABLES).
KEY_TABLE_OF: dict[str, str] = {
    "rongtai-rt8600s": "rt8600s",
    "infinity-evolution": "rt8600s",
    "rongtai-rt6923": "rt6923",
}
