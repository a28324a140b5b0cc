"""34 status frames captured from a real Infinity EVOLUTION chair, with their meaning.

Source: dallanwagz/hass-infinity-chair, ``tests/test_protocol.py`` (the Home Assistant
integration's tests; "Status frames below are real captures from hardware"). The bytes
are copied as captured; each meaning is what that source asserts about the frame, in
this project's field names (massager_ctl.devices.rongtai.codec.RongtaiStatus and its
properties). Frames the source uses in several tests appear once, with all their
meanings.

One capture disagrees with the firmware's checksum rule: ``narrow`` ends ``5d f1``, and
``(NOT sum(b1..b14)) AND 0x7F`` gives 0x5e for its body. The boards compute that
checksum (wangqian2528/RT6911 ``main.c`` Main_BlueToothSend) and the other 33 captures
agree, so one byte of this frame was most likely mistyped when it was written down (a
body byte one higher than shown - b5, the seconds counter, is the likeliest). A strict
decoder skips it; its body still reads as the source says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE = "dallanwagz/hass-infinity-chair tests/test_protocol.py"

OFF, RESETTING, READY, RUNNING = 0, 1, 2, 3


@dataclass(frozen=True)
class Capture:
    name: str
    hex: str
    meaning: dict[str, Any] = field(default_factory=dict)
    checksum_ok: bool = True

    @property
    def frame(self) -> bytes:
        return bytes.fromhex(self.hex.replace(" ", ""))


CAPTURES: tuple[Capture, ...] = (
    Capture(
        "idle",
        "f0 05 03 00 09 30 00 00 2b 00 00 00 03 00 05 0b f1",
        {"powered": False, "run_state": OFF, "running": False, "program": None},
    ),
    Capture(
        "ready",
        "f0 45 03 00 00 00 00 02 2b 00 00 00 03 00 05 02 f1",
        {"powered": True, "run_state": READY, "running": False},
    ),
    Capture(
        "running, session start",
        "f0 45 27 02 44 57 00 03 2b 00 20 00 41 15 03 4f f1",
        {"powered": True, "run_state": RUNNING, "running": True, "remaining_s": 599},
    ),
    Capture(
        "resetting",
        "f0 6d 05 00 40 00 00 01 28 00 00 00 01 1c 05 02 f1",
        {"run_state": RESETTING, "resetting": True},
    ),
    Capture("3D strength 1", "f0 4d 0b 00 26 54 00 03 26 00 00 00 03 1c 01 64 f1", {"strength_3d": 1}),
    Capture("3D strength 5", "f0 4d 0a 00 26 30 00 03 20 00 00 00 03 1c 05 0b f1", {"strength_3d": 5}),
    Capture(
        "program recovery",
        "f0 4d 29 02 2d 6f 10 03 2b 00 09 00 43 05 03 59 f1",
        {"program": "recovery", "program_code": 1},
    ),
    Capture(
        "program lower body",
        "f0 4d 25 02 4d 70 10 03 21 00 00 00 43 19 01 3d f1",
        {"program": "lower-body", "program_code": 6},
    ),
    Capture(
        "airbag strength 1", "f0 4d 09 01 26 44 00 03 29 00 00 00 23 1c 01 52 f1", {"airbag_strength": 1}
    ),
    Capture(
        "airbag strength 5", "f0 4d 0b 05 26 18 04 03 28 00 00 00 23 1c 01 75 f1", {"airbag_strength": 5}
    ),
    Capture("airbags off", "f0 4d 0a 00 25 5a 00 03 26 00 00 00 03 1c 01 60 f1", {"airbag_strength": 0}),
    Capture(
        "ionizer on",
        "f0 55 35 42 48 4a 63 03 20 00 00 00 43 19 01 3e f1",
        {"ionizer": True, "airbag_strength": 2},
    ),
    Capture("ionizer off", "f0 55 29 02 48 6d 03 23 22 00 00 00 43 19 01 25 f1", {"ionizer": False}),
    Capture("heat on", "f0 45 78 02 2d 76 73 03 28 40 09 00 43 1d 01 55 f1", {"heat": True}),
    Capture("heat off", "f0 45 38 02 2d 72 70 03 29 40 09 00 43 1d 01 1b f1", {"heat": False}),
    Capture("airbag arms", "f0 4d 09 02 23 33 00 03 25 00 00 00 13 1c 05 75 f1", {"airbag_zones": 0x10}),
    # b7 = 0x23: running (low nibble 3) with the back/waist airbag working (bit 5).
    Capture(
        "airbag back",
        "f0 4d 0a 02 23 05 00 23 22 00 00 00 0b 1c 05 0d f1",
        {"airbag_zones": 0x08, "run_state": RUNNING},
    ),
    Capture("airbag legs", "f0 4d 0a 02 22 54 01 03 21 00 00 00 07 1c 05 63 f1", {"airbag_zones": 0x04}),
    Capture("airbag buttocks", "f0 4d 09 02 22 2b 04 03 23 00 00 00 23 1c 05 6c f1", {"airbag_zones": 0x20}),
    Capture("knead", "f0 4d 0d 00 63 64 00 03 21 00 00 00 03 1c 03 18 f1", {"technique": "knead"}),
    Capture("knock", "f0 55 0d 00 61 70 00 03 21 00 00 00 03 1c 03 06 f1", {"technique": "knock"}),
    Capture(
        "knead-knock", "f0 5d 09 00 2d 12 00 03 25 00 00 00 03 1c 03 10 f1", {"technique": "knead-knock"}
    ),
    Capture(
        "tap, speed 6, foot roller off",
        "f0 65 1a 00 2c 6f 00 03 25 00 00 00 03 1c 03 1b f1",
        {"technique": "tap", "speed": 6, "width": 2, "foot_roller_speed": 0},
    ),
    Capture("shiatsu", "f0 6d 0a 00 2d 58 00 03 23 00 00 00 03 1c 03 3b f1", {"technique": "shiatsu"}),
    Capture("3D program", "f0 45 26 02 24 0d 10 03 28 00 00 00 43 2d 0d 29 f1", {"program_code": 11}),
    Capture(
        "narrow",
        "f0 65 0d 00 2b 3b 00 03 24 00 00 00 03 1c 03 5d f1",
        {"speed": 3, "width": 1},
        checksum_ok=False,
    ),
    Capture("wide", "f0 65 0f 00 2a 6e 00 03 26 00 00 00 03 1c 03 28 f1", {"width": 3}),
    Capture("foot roller 3", "f0 65 2d 00 28 24 60 03 26 00 00 00 03 1d 03 75 f1", {"foot_roller_speed": 3}),
    Capture("scope full", "f0 65 0d 00 26 29 00 03 28 00 00 00 03 1c 03 71 f1", {"scope": 1}),
    Capture("scope partial", "f0 65 0d 00 46 09 00 03 20 00 00 00 03 1c 03 79 f1", {"scope": 2}),
    Capture(
        "scope point, zero gravity off",
        "f0 65 0d 00 65 5a 00 03 21 00 00 00 03 1c 03 08 f1",
        {"scope": 3, "zero_gravity": False},
    ),
    Capture("zero gravity on", "f0 65 0d 00 65 0a 00 03 21 00 40 00 03 1c 03 18 f1", {"zero_gravity": True}),
    Capture(
        "roller at the neck", "f0 4d 06 00 62 68 00 03 2c 00 00 00 01 1c 05 11 f1", {"roller_height": 12}
    ),
    Capture(
        "roller at the waist", "f0 4d 19 00 61 29 00 03 20 00 00 00 01 1c 03 4c f1", {"roller_height": 0}
    ),
)

BY_NAME = {c.name: c for c in CAPTURES}
