"""Facts about Rongtai / Infinity chairs shared by the model definitions, the driver and
the simulator (kept apart from devices/rongtai/models.py, which the registry imports).

See shared/devices/rongtai.md and docs/devices.md.
"""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone

# ----------------------------------------------------------- link facts
#: Main board <-> Bluetooth module UART: 115200 8N1, checksum checked (same frames as BLE).
SERIAL_BAUD = 115200
SERIAL_LINE = "115200 8N1"
#: The wired remote's line (9600 baud; the firmware ignores the checksum there).
WIRED_REMOTE_BAUD = 9600

BLE_SERVICE = "0000fff0-0000-1000-8000-00805f9b34fb"
#: Commands: write WITHOUT response (the Home Assistant integration's choice).
BLE_WRITE_CHAR = "0000fff1-0000-1000-8000-00805f9b34fb"
BLE_WRITE_RESPONSE = False
#: The vendor iOS app writes here instead (kept for reference).
BLE_WRITE_CHAR_IOS_APP = "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"
#: Status notifications, about every 50 ms.
BLE_NOTIFY_CHAR = "0734594a-a8e7-4b1a-a6b1-cd5243059a57"

#: Endpoint names the driver writes to / the simulator notifies on.
ENDPOINT_COMMANDS = "tx"
ENDPOINT_STATUS = "status"

#: Key presses: the chair's firmware keeps ONE received key (a single-key buffer read by
#: its main loop), so a second frame arriving before the first is consumed replaces it.
#: 150 ms is three status periods: the press has been taken and shows in the next status.
MIN_WRITE_GAP_S = 0.15

PROGRAMS = ("recovery", "stretch", "relax", "pain-relief", "upper-body", "lower-body")

UNSURE_NOTE = (
    "Unsure (see docs/devices.md): the status checksum rule and every status byte beyond "
    "power/heat/run state/airbag zones/3D strength; 3D strength keys 0x58-0x5C (RT6923 "
    "firmware); airbag zone keys treated as toggles."
)
LINK_NOTE = (
    f"Serial: {SERIAL_LINE} (main board <-> BT module). BLE: service FFF0, write without "
    f"response to {BLE_WRITE_CHAR}, status notifications on {BLE_NOTIFY_CHAR}; one central "
    "at a time."
)
TIMER_NOTE = "No keep-alive: the chair's own 10/20/30-min timer ends a session if the host is lost."


def _capabilities(heat_levels: tuple[Heat, ...]) -> Capabilities:
    return Capabilities(
        zones=frozenset(BACK_ZONES),
        techniques=frozenset({Technique.KNEAD, Technique.KNOCK, Technique.SHIATSU, Technique.TAP}),
        intensity_steps=5,
        speed_steps=6,
        widths=frozenset(Width),
        airbag_zones=frozenset(
            {Zone.ARMS, Zone.SHOULDERS, Zone.LOWER_BACK, Zone.SEAT, Zone.CALVES, Zone.FEET}
        ),
        airbag_levels=5,
        heat_levels=heat_levels,
        recline_motors=("backrest", "leg_rest", "leg_extension"),
        programs=PROGRAMS,
        chair_timer_s=(600, 1200, 1800),
        extra={"key_table": "rt6923" if Heat.HIGH in heat_levels else "rt8600s"},
    )


#: RT8600S / Infinity: one heat toggle, reported as "low" (never hotter than asked).
RT8600S_CAPABILITIES = _capabilities((Heat.LOW,))
#: RT6923: heat level keys; low -> 0x3C, high -> 0x3E (medium 0x3D unused).
RT6923_CAPABILITIES = _capabilities((Heat.LOW, Heat.HIGH))

#: Model name -> key-table name (massager_ctl.devices.rongtai.codec.KEY_TABLES).
KEY_TABLE_OF: dict[str, str] = {
    "rongtai-rt8600s": "rt8600s",
    "infinity-evolution": "rt8600s",
    "rongtai-rt6923": "rt6923",
}
