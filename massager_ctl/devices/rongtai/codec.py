"""Rongtai / Infinity massage chairs: the host's wire codec (pure, no I/O, no asyncio).

Two kinds of frame travel on the link (docs/devices.md, "Rongtai"):

* **Key presses, host -> chair (5 bytes)**: ``F0, source, key, checksum, F1`` with
  ``checksum = (NOT (source + key)) AND 0x7F`` - a button of the chair's remote.
  Sources: dallanwagz/hass-infinity-chair ``custom_components/infinity_chair/protocol.py``;
  Bread-Yang/RongTai ``rongtai/Classes/Ble/RTCommand.h``; key names from
  wangqian2528/RT6923 ``Application/inc/ControlBox.h``.
* **Status, chair -> host**: 17 bytes on the RT8600S and the Infinity chairs
  (``F0, b1..b14, checksum, F1``), 18 on the RT6923 (``F0, b1..b15, 0, F1``: no
  checksum). Between the status frames the board sends short **info frames**
  (``F0 85`` + eight 7-bit bytes, with or without an ``F1``) when nothing changed,
  and the Bluetooth module may pass 1-byte frames: recognised and skipped.

The status is read the way the vendor's own app reads it (Bread-Yang/RongTai
``rongtai/Classes/Ble/RTBleConnector.m``, ``parseByteOfAddress1..14``), which is also
how the boards build it (wangqian2528/RT6911 ``main.c`` and wangqian2528/RT6923
``Application/src/main.c``, ``Main_BlueToothSend``), checked against 34 status frames
captured from an Infinity chair (dallanwagz/hass-infinity-chair ``tests/test_protocol.py``):

====  ====================================================================
byte  meaning
====  ====================================================================
b1    bit 6 powered (every state but off, the reset included); bits 3-5
      technique (1 knead, 2 knock, 3 knead-knock, 4 tap, 5 shiatsu, 6 rhythm,
      7 back rub); bits 0-2 model flags (3D, no leg extension, new names)
b2    bit 6 heat; bit 5 foot roller on; bits 2-4 speed 0-6; bits 0-1 the
      kneading heads' live width (1 narrow .. 3 wide, 0 unknown)
b3    bits 0-2 airbag strength; bits 3-5 seat vibration; bit 6 ionizer
b4,b5 b4 bits 5-6 scope (1 full, 2 partial, 3 point); remaining seconds
      ``(b4 & 0x1F) << 7 | b5``
b6    bits 0-4 airbag valves working (foot, calf, thigh, seat, arm); bits 5-6
      foot roller speed
b7    bits 0-3 run state (0 off, 1 resetting, 2 ready, 3 running, 4 memory,
      5 fault); bits 4-6 shoulder, back/waist and neck airbags working
b8    bits 0-4 roller height, 0 lowest (waist) .. 12 highest (neck); bits 5-6
      zero-gravity position marks
b9    body scan
b10   bits 0-1 backrest (1 up, 2 down); bits 2-3 leg rest (1 up, 2 down);
      bits 4-5 slide / zero-gravity actuator; bit 6 zero-gravity reached
b11   buzzer, music
b12   bits 0-1 preset timer (1 10 min, 2 20, 3 30); bits 2-5 airbag zones
      (legs, back/waist, arms/shoulders, buttocks); bit 6 full-body airbag
      program
b13   bits 2-5 program (1-6 auto programs, 7 manual, 8-10 network, 11 3D);
      bit 0 foot roller
b14   bits 0-2 3D strength (blinks value / 0 for 3 s after a change); bits 3-5
      3D program
b15   RT6923 only: stretch vigour (bits 0-2), kneading turn (bits 3-4), tapping
      off (bit 5) - no heat level
====  ====================================================================

The 17-byte checksum ``(NOT sum(b1..b14)) AND 0x7F`` is checked strictly: it holds on
33 of the 34 real captures (the 34th was mistyped, see tests/rongtai_captures.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from types import MappingProxyType
from typing import Any

FRAME_START = 0xF0
FRAME_END = 0xF1
COMMAND_LENGTH = 5

SOURCE_WIRED_REMOTE = 0x82
SOURCE_ANDROID_APP = 0x83  # also the Infinity app and the Home Assistant integration
SOURCE_IOS_APP = 0x84
#: Sources that switch the board into firmware programming / engineering modes
#: (wangqian2528/RT6923 ``Application/inc/ControlBox.h``: PROGARM_CTRL, ENGGER_CTRL).
FORBIDDEN_SOURCES = frozenset({0xA5, 0xBD})
DEFAULT_SOURCE = SOURCE_ANDROID_APP

STATUS_LENGTH_RT8600S = 17
STATUS_LENGTH_RT6923 = 18
STATUS_LENGTHS = (STATUS_LENGTH_RT8600S, STATUS_LENGTH_RT6923)

#: Info frames: ``F0 85`` and eight 7-bit bytes (the four network programs' ids), with an
#: ``F1`` on some firmware (11 bytes) and without on others (10 bytes).
INFO_MARK = 0x85
INFO_LENGTH = 10

#: Remaining time is 12 bits (5 + 7): at most this many seconds.
MAX_REMAINING_S = 0xFFF
#: Roller heights the boards report: 0 (waist) .. 12 (neck).
TOP_ROLLER_HEIGHT = 12
#: Preset timer field (b12 bits 0-1) -> seconds.
PRESET_TIMER_S = (0, 600, 1200, 1800)


class RongtaiError(ValueError):
    """A value that cannot be encoded, or a command frame that is not one."""


def checksum7(values: Iterable[int]) -> int:
    """``(NOT sum) AND 0x7F``: the command checksum and the 17-byte status checksum."""
    return (~sum(values)) & 0x7F


# ----------------------------------------------------------------- commands


def encode_key(key: int, source: int = DEFAULT_SOURCE) -> bytes:
    """The 5-byte frame pressing ``key`` as ``source``: ``F0 source key checksum F1``."""
    if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= 0x7F:
        raise RongtaiError(f"key code must be 0x00..0x7F, not {key!r}")
    if (
        not isinstance(source, int)
        or isinstance(source, bool)
        or not 0 <= source <= 0xFF
        or source in (FRAME_START, FRAME_END)
        or source in FORBIDDEN_SOURCES
    ):
        raise RongtaiError(
            f"source must be a byte other than F0/F1 and the programming sources A5/BD, not {source!r}"
        )
    return bytes((FRAME_START, source, key, checksum7((source, key)), FRAME_END))


@dataclass(frozen=True)
class KeyPress:
    """One command frame, read back (for traces and tests)."""

    source: int
    key: int


def decode_command(frame: bytes, *, check_checksum: bool = True) -> KeyPress:
    """Read exactly one 5-byte command frame; raises RongtaiError if it is not one."""
    frame = bytes(frame)
    if len(frame) != COMMAND_LENGTH or frame[0] != FRAME_START or frame[-1] != FRAME_END:
        raise RongtaiError(f"not a command frame: {frame.hex(' ')}")
    _, source, key, check, _ = frame
    if source in (FRAME_START, FRAME_END) or key > 0x7F or check > 0x7F:
        raise RongtaiError(f"malformed command frame: {frame.hex(' ')}")
    if check_checksum and check != checksum7((source, key)):
        raise RongtaiError(f"command checksum mismatch: {frame.hex(' ')}")
    return KeyPress(source, key)


# ------------------------------------------------------------------- keys

#: Auto programs: key 0x10 + i; the status reports i + 1 (b13 bits 2-5).
PROGRAM_NAMES: tuple[str, ...] = (
    "recovery",
    "stretch",
    "relax",
    "pain-relief",
    "upper-body",
    "lower-body",
)
#: The status's technique codes 1..7 (b1 bits 3-5), as the vendor app names them.
TECHNIQUE_CODES: tuple[str, ...] = (
    "knead",
    "knock",
    "knead-knock",
    "tap",
    "shiatsu",
    "rhythm",
    "back-rub",
)
#: Program codes (b13 bits 2-5) beyond the six auto programs.
PROGRAM_MANUAL = 7
PROGRAM_3D = 11
NETWORK_PROGRAMS = range(8, 11)


class Scope(IntEnum):
    """Where the rollers work (b4 bits 5-6)."""

    NONE = 0
    FULL = 1
    PARTIAL = 2
    POINT = 3


class RunState(IntEnum):
    """The board's state (b7 bits 0-3; the boards' CHAIR_STATE_* numbers)."""

    OFF = 0
    RESETTING = 1
    READY = 2
    RUNNING = 3
    MEMORY = 4
    FAULT = 5


class AirbagZone(IntFlag):
    """Airbag programs chosen (b12 bits 2-5)."""

    NONE = 0
    LEGS = 0x04
    BACK = 0x08
    ARMS = 0x10
    BUTTOCKS = 0x20


AIRBAG_ZONE_BITS = 0x3C
AIRBAG_AUTO_BIT = 0x40


class Motion(IntEnum):
    """One actuator's motion (b10): 0 still, 1 up, 2 down."""

    STILL = 0
    UP = 1
    DOWN = 2


@dataclass(frozen=True)
class KeyTable:
    """A model's remote-control key codes (all 7-bit)."""

    name: str
    status_length: int
    power: int = 0x01
    heat_toggle: int = 0x27
    programs: Mapping[str, int] = field(default_factory=dict)
    techniques: Mapping[str, int] = field(default_factory=dict)
    scopes: Mapping[Scope, int] = field(default_factory=dict)
    widths: tuple[int, ...] = ()  # keys for widths 1..3 (narrow, medium, wide)
    speeds: tuple[int, ...] = ()  # keys for speeds 1..6
    foot_roller: Mapping[str, int] = field(default_factory=dict)
    airbag_zones: Mapping[AirbagZone, int] = field(default_factory=dict)
    airbag_auto: int = 0x44
    airbag_strengths: tuple[int, ...] = ()  # keys for strengths 1..5
    airbag_off: int = 0x4A
    timers: Mapping[int, int] = field(default_factory=dict)  # seconds -> key
    #: 3D strength 1..5 (wangqian2528/RT6923 and RT6911: H10_KEY_3DSPEED_1..5).
    strengths_3d: tuple[int, ...] = ()
    #: Motors as (start key, stop key) (ControlBox.h: WALK, BACKPAD, LEGPAD ...).
    motors: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    zero_gravity: int = 0x70
    modes_3d: tuple[int, ...] = ()
    #: RT6923 heat levels 1..3 (H10_KEY_HEAT_MIN/MED/MAX); the status cannot show them.
    heat_levels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for attr in ("programs", "techniques", "scopes", "foot_roller", "airbag_zones", "timers", "motors"):
            object.__setattr__(self, attr, MappingProxyType(dict(getattr(self, attr))))

    def describe(self, key: int) -> str:
        """A person's name for ``key`` on this model (for logs and traces)."""
        return self._names().get(key, f"key 0x{key:02X}")

    def _names(self) -> dict[int, str]:
        names: dict[int, str] = {self.power: "power", self.heat_toggle: "heat"}
        for name, key in self.programs.items():
            names[key] = f"program {name}"
        for name, key in self.techniques.items():
            names[key] = name
        for scope, key in self.scopes.items():
            names[key] = f"scope {scope.name.lower()}"
        for i, key in enumerate(self.widths, 1):
            names[key] = f"width {i}"
        for i, key in enumerate(self.speeds, 1):
            names[key] = f"speed {i}"
        for name, key in self.foot_roller.items():
            names[key] = f"foot roller {name}"
        for zone, key in self.airbag_zones.items():
            names[key] = f"airbag {(zone.name or '').lower()}"
        names[self.airbag_auto] = "airbag full-body program"
        for i, key in enumerate(self.airbag_strengths, 1):
            names[key] = f"airbag strength {i}"
        names[self.airbag_off] = "airbags off"
        for seconds, key in self.timers.items():
            names[key] = f"timer {seconds // 60} min"
        for i, key in enumerate(self.strengths_3d, 1):
            names[key] = f"3D strength {i}"
        for name, (start, stop) in self.motors.items():
            names[start] = f"{name} start"
            names[stop] = f"{name} stop"
        names[self.zero_gravity] = "zero gravity"
        for i, key in enumerate(self.modes_3d, 1):
            names[key] = f"3D program {i}"
        for i, key in enumerate(self.heat_levels, 1):
            names[key] = f"heat level {i}"
        return names


_COMMON: dict[str, Any] = dict(
    programs={name: 0x10 + i for i, name in enumerate(PROGRAM_NAMES)},
    techniques={
        "knead": 0x20,
        "knock": 0x21,
        "shiatsu": 0x22,
        "tap": 0x23,
        "knead-knock": 0x24,
        "rhythm": 0x26,
    },
    scopes={Scope.PARTIAL: 0x28, Scope.POINT: 0x29, Scope.FULL: 0x2A},
    widths=(0x2B, 0x2C, 0x2D),
    speeds=(0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33),
    foot_roller={"slow": 0x34, "medium": 0x35, "fast": 0x36, "off": 0x37},
    airbag_strengths=(0x45, 0x46, 0x47, 0x48, 0x49),
    timers={600: 0x50, 1200: 0x51, 1800: 0x52},
    strengths_3d=(0x58, 0x59, 0x5A, 0x5B, 0x5C),
    motors={
        "roller_up": (0x60, 0x61),
        "roller_down": (0x62, 0x63),
        "backrest_up": (0x64, 0x65),
        "backrest_down": (0x66, 0x67),
        "leg_rest_up": (0x68, 0x69),
        "leg_rest_down": (0x6A, 0x6B),
        "leg_extend": (0x6C, 0x6D),
        "leg_retract": (0x6E, 0x6F),
    },
    modes_3d=(0x39, 0x3A, 0x3B),
)

#: RT8600S and Infinity chairs: one heat toggle, 17-byte status. The back/waist airbag
#: key 0x42 works on the Infinity (its captures show the zone); RT6911's firmware ignores it.
RT8600S_KEYS = KeyTable(
    name="rt8600s",
    status_length=STATUS_LENGTH_RT8600S,
    airbag_zones={
        AirbagZone.LEGS: 0x40,
        AirbagZone.ARMS: 0x41,
        AirbagZone.BACK: 0x42,
        AirbagZone.BUTTOCKS: 0x43,
    },
    **_COMMON,
)

#: RT6923: 18-byte status; heat levels 0x3C-0x3E; its firmware has no back/waist airbag key.
RT6923_KEYS = KeyTable(
    name="rt6923",
    status_length=STATUS_LENGTH_RT6923,
    airbag_zones={AirbagZone.LEGS: 0x40, AirbagZone.ARMS: 0x41, AirbagZone.BUTTOCKS: 0x43},
    heat_levels=(0x3C, 0x3D, 0x3E),
    **_COMMON,
)

KEY_TABLES: dict[str, KeyTable] = {"rt8600s": RT8600S_KEYS, "rt6923": RT6923_KEYS}


# ------------------------------------------------------------------- status


@dataclass(frozen=True)
class RongtaiStatus:
    """One status frame, field by field as the vendor app reads it (module docstring)."""

    powered: bool = False
    model_flags: int = 0
    technique: str | None = None  # a TECHNIQUE_CODES name; None: rollers still
    heat: bool = False
    foot_roller_on: bool = False
    speed: int = 0  # 0..6
    width: int = 0  # kneading heads' live width 0..3
    airbag_strength: int = 0  # 0..5
    vibration: int = 0
    ionizer: bool = False
    scope: Scope = Scope.NONE
    remaining_s: int = 0
    airbag_valves: int = 0  # b6 bits 0-4
    foot_roller_speed: int = 0
    run_state: int = RunState.OFF  # a RunState when known, the raw nibble otherwise
    airbags_working: int = 0  # b7 bits 4-6
    roller_height: int = 0  # 0 (waist) .. 12 (neck)
    zero_gravity_marks: int = 0  # b8 bits 5-6
    body_scan: int = 0
    backrest: Motion = Motion.STILL
    leg_rest: Motion = Motion.STILL
    slide: int = 0  # b10 bits 4-5
    zero_gravity: bool = False
    sound: int = 0  # b11
    preset_timer_s: int = 0  # 0, 600, 1200, 1800
    airbag_zones: AirbagZone = AirbagZone.NONE
    airbag_auto: bool = False
    program_code: int = 0  # b13 bits 2-5
    foot_roller_flag: bool = False  # b13 bit 0
    strength_3d: int = 0  # b14 bits 0-2 (0 in the dark half of a blink)
    program_3d: int = 0  # b14 bits 3-5
    extra_byte: int | None = None  # RT6923 b15
    raw: bytes = field(default=b"", compare=False)

    @property
    def state(self) -> RunState | None:
        try:
            return RunState(self.run_state)
        except ValueError:
            return None

    @property
    def off(self) -> bool:
        return self.run_state == RunState.OFF

    @property
    def resetting(self) -> bool:
        return self.run_state == RunState.RESETTING

    @property
    def ready(self) -> bool:
        return self.run_state == RunState.READY

    @property
    def running(self) -> bool:
        return self.run_state == RunState.RUNNING

    @property
    def fault(self) -> bool:
        return self.run_state == RunState.FAULT

    @property
    def takes_keys(self) -> bool:
        """Ready or running: the board acts on keys (in the reset any key powers it off)."""
        return self.run_state in (RunState.READY, RunState.RUNNING)

    @property
    def program(self) -> str | None:
        """The auto program running (None for manual, 3D, network or none)."""
        code = self.program_code
        return PROGRAM_NAMES[code - 1] if 1 <= code <= len(PROGRAM_NAMES) else None

    @property
    def manual(self) -> bool:
        return self.program_code == PROGRAM_MANUAL

    @property
    def airbags_on(self) -> bool:
        """An airbag program chosen (zones or the full-body program)."""
        return bool(self.airbag_zones) or self.airbag_auto

    @property
    def stop_on_its_way(self) -> bool:
        """Resetting with heat and airbags cleared: the board ended the session and its
        rollers and actuators are returning home before it switches off."""
        return self.resetting and not self.heat and not self.airbags_on and not self.airbag_strength

    @property
    def actuators_moving(self) -> bool:
        return self.backrest != Motion.STILL or self.leg_rest != Motion.STILL or bool(self.slide)


def _motion(bits: int) -> Motion:
    return Motion(bits) if bits in (0, 1, 2) else Motion.STILL


def decode_status(frame: bytes) -> RongtaiStatus:
    """Fields of one structurally valid status frame (markers, length, 7-bit body)."""
    b = frame
    technique = (b[1] >> 3) & 0x07
    run_state = b[7] & 0x0F
    try:
        state: int = RunState(run_state)
    except ValueError:
        state = run_state
    return RongtaiStatus(
        powered=bool(b[1] & 0x40),
        model_flags=b[1] & 0x07,
        technique=TECHNIQUE_CODES[technique - 1] if technique else None,
        heat=bool(b[2] & 0x40),
        foot_roller_on=bool(b[2] & 0x20),
        speed=(b[2] >> 2) & 0x07,
        width=b[2] & 0x03,
        airbag_strength=b[3] & 0x07,
        vibration=(b[3] >> 3) & 0x07,
        ionizer=bool(b[3] & 0x40),
        scope=Scope((b[4] >> 5) & 0x03),
        remaining_s=((b[4] & 0x1F) << 7) | (b[5] & 0x7F),
        airbag_valves=b[6] & 0x1F,
        foot_roller_speed=(b[6] >> 5) & 0x03,
        run_state=state,
        airbags_working=(b[7] >> 4) & 0x07,
        roller_height=b[8] & 0x1F,
        zero_gravity_marks=(b[8] >> 5) & 0x03,
        body_scan=b[9],
        backrest=_motion(b[10] & 0x03),
        leg_rest=_motion((b[10] >> 2) & 0x03),
        slide=(b[10] >> 4) & 0x03,
        zero_gravity=bool(b[10] & 0x40),
        sound=b[11],
        preset_timer_s=PRESET_TIMER_S[b[12] & 0x03],
        airbag_zones=AirbagZone(b[12] & AIRBAG_ZONE_BITS),
        airbag_auto=bool(b[12] & AIRBAG_AUTO_BIT),
        program_code=(b[13] >> 2) & 0x0F,
        foot_roller_flag=bool(b[13] & 0x01),
        strength_3d=b[14] & 0x07,
        program_3d=(b[14] >> 3) & 0x07,
        extra_byte=b[15] if len(b) == STATUS_LENGTH_RT6923 else None,
        raw=bytes(b),
    )


def status_checksum_ok(frame: bytes) -> bool:
    """True for an 18-byte frame (it carries none) or a 17-byte one whose checksum holds."""
    if len(frame) == STATUS_LENGTH_RT6923:
        return True
    return frame[-2] == checksum7(frame[1:-2])


class StatusDecoder:
    """Streaming status reader: bytes in, :class:`RongtaiStatus` out. Never raises.

    Skips info frames (``info_frames``) and stray bytes (``dropped``); abandons a frame
    start on a byte that cannot be inside it (``malformed``) and resynchronises on the
    next ``F0``; skips a 17-byte frame whose checksum fails (``bad_checksum``).
    """

    def __init__(self, length: int = STATUS_LENGTH_RT8600S) -> None:
        if length not in STATUS_LENGTHS:
            raise ValueError(f"status frames are {STATUS_LENGTHS} bytes long, not {length!r}")
        self.length = length
        self.frames = 0
        self.info_frames = 0
        self.bad_checksum = 0
        self.malformed = 0
        self.dropped = 0
        self._after_info = False  # an info frame without F1 just ended: an F1 may follow
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()
        self._after_info = False

    def feed(self, data: bytes) -> list[RongtaiStatus]:
        out: list[RongtaiStatus] = []
        try:
            self._buf.extend(data)
            self._drain(out)
        except Exception:  # noqa: BLE001 - bytes from a device must never raise
            self.dropped += len(self._buf)
            self._buf.clear()
        return out

    def _drain(self, out: list[RongtaiStatus]) -> None:
        buf = self._buf
        while buf:
            if self._after_info and buf[0] == FRAME_END:
                del buf[:1]  # the F1 of an 11-byte info frame
            self._after_info = False
            start = buf.find(FRAME_START)
            if start < 0:
                self.dropped += len(buf)
                buf.clear()
                return
            if start:
                self.dropped += start
                del buf[:start]
            if len(buf) < 2:
                return
            if buf[1] == INFO_MARK:
                if not self._take_info():
                    return
                continue
            if not self._take_status(out):
                return

    def _take_info(self) -> bool:
        """Skip one info frame at the start of the buffer; False: wait for more bytes."""
        buf = self._buf
        for i in range(2, min(len(buf), INFO_LENGTH + 2)):
            if buf[i] == FRAME_END:
                del buf[: i + 1]
                self.info_frames += 1
                return True
            if buf[i] > 0x7F:  # the next frame began early: this one ended
                del buf[:i]
                self.info_frames += 1
                return True
        if len(buf) >= INFO_LENGTH:
            del buf[:INFO_LENGTH]
            self.info_frames += 1
            self._after_info = True
            return True
        return False

    def _take_status(self, out: list[RongtaiStatus]) -> bool:
        """Take one status frame from the start of the buffer; False: wait for more."""
        buf = self._buf
        n = self.length
        for i in range(1, min(len(buf), n - 1)):
            if buf[i] > 0x7F:  # cannot be inside a status frame
                self.malformed += 1
                skip = i if buf[i] == FRAME_START else i + 1
                self.dropped += skip
                del buf[:skip]
                return True
        if len(buf) < n:
            return False
        if buf[n - 1] != FRAME_END:
            self.malformed += 1
            self.dropped += 1
            del buf[:1]
            return True
        frame = bytes(buf[:n])
        del buf[:n]
        if not status_checksum_ok(frame):
            self.bad_checksum += 1
            return True
        self.frames += 1
        out.append(decode_status(frame))
        return True
