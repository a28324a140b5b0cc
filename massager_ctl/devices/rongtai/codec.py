"""Rongtai / Infinity massage chairs: the wire codec (pure, no I/O, no asyncio).

Spec: shared/devices/rongtai.md. Two kinds of frame travel on the link:

* **Key presses, host -> chair (5 bytes)**: ``F0, source, key, checksum, F1`` with
  ``checksum = (NOT (source + key)) AND 0x7F``. The key is a button on the
  chair's remote; most keys are toggles (power, heat) or direct levels
  (speed 1-6, airbag strength 1-5). Confidence: high (four sources agree).
* **Status, chair -> host (17 bytes on RT8600S / Infinity, 18 on RT6923)**:
  ``F0``, body, checksum, ``F1``, about every 50 ms. Every byte between the
  markers is 7-bit (at most 0x7F), so ``F0``/``F1`` never occur inside.

Status byte map (index in the frame; ``F0`` is byte 0). "HW" = checked on a
real chair by the Home Assistant integration; every other field is
**UNSURE** (read from the RT6923 firmware, medium confidence) - the bit
positions inside bytes 1, 2, 4 and 10 are this project's best reading:

====  ======================================================================
byte  meaning
====  ======================================================================
1     bit 0x40 powered (HW); bits 0x07 roller technique code (UNSURE)
2     bit 0x40 heat on (HW); bits 0x07 speed 0-6, bits 0x18 width 0-3 (UNSURE)
3     airbag strength 0-5 (UNSURE)
4     bits 0x60 scope (1 partial, 2 point, 3 full); bits 0x1F remaining-time
      high 5 bits (UNSURE)
5     remaining-time low 7 bits: 12-bit seconds, 7 bits per byte (UNSURE)
6     foot roller 0 off, 1 slow, 2 medium, 3 fast (UNSURE)
7     run state: 0 idle, 1 resetting, 2 ready, 3 running, 5 fault (HW: 0 vs
      non-zero; the values are the firmware's)
8     roller height 0-31, 0 = top of the backrest (UNSURE, direction too)
9     body-scan result (raw, UNSURE)
10    actuators moving: 0x01 roller up, 0x02 roller down, 0x04 backrest up,
      0x08 backrest down, 0x10 leg rest, 0x20 leg extension; 0x40 zero
      gravity reached (UNSURE: layout is this project's guess)
11    reserved (kept raw)
12    airbag zones: 0x04 legs/feet, 0x08 back/waist, 0x10 arms/shoulders,
      0x20 buttocks (HW); 0x40 roller massage active (HW)
13    active auto program 0 none, 1-6 = keys 0x10-0x15 (UNSURE)
14    intensity / 3D strength 1-5 (HW)
15    RT6923 only: heat level 0 off, 1 low, 2 medium, 3 high (UNSURE)
-2    checksum (UNSURE, see below)
-1    F1
====  ======================================================================

**The status checksum is UNSURE.** The spec says it follows the command
rule over the body (``NOT sum(bytes 1..n-3) AND 0x7F``); the Home Assistant
integration, validated on hardware, never checks it. :class:`StatusDecoder`
therefore takes ``checksum=``:

* ``"strict"`` - a frame whose checksum fails is counted and skipped;
* ``"off"`` - never checked (structure still is: markers, length, 7-bit body);
* ``"auto"`` (default) - checked like strict, but if *none* of the last
  :data:`AUTO_WINDOW` well-formed frames passed, our reading of the rule is
  evidently wrong for this chair, and frames are delivered unchecked
  (``RongtaiStatus.checked`` is False, ``StatusDecoder.unverified`` True)
  until one passes again. A wrong rule then costs one second of status at
  connect, not the whole driver; a right rule keeps corrupt frames out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from types import MappingProxyType
from typing import Any

from ...core.vocabulary import Heat

FRAME_START = 0xF0
FRAME_END = 0xF1
COMMAND_LENGTH = 5

SOURCE_WIRED_REMOTE = 0x82
SOURCE_ANDROID_APP = 0x83  # also the Infinity app and the Home Assistant integration
SOURCE_IOS_APP = 0x84
SOURCE_COIN_UNIT = 0x85
DEFAULT_SOURCE = SOURCE_ANDROID_APP

STATUS_LENGTH_RT8600S = 17
STATUS_LENGTH_RT6923 = 18
STATUS_LENGTHS = (STATUS_LENGTH_RT8600S, STATUS_LENGTH_RT6923)

#: Remaining time is 12 bits (5 + 7): at most this many seconds.
MAX_REMAINING_S = 0xFFF
MAX_ROLLER_HEIGHT = 31
#: "auto" checksum mode: frames looked back on before concluding the rule does not apply.
AUTO_WINDOW = 20


class RongtaiError(ValueError):
    """A value that cannot be encoded, or a command frame that is not one."""


def checksum7(values: Iterable[int]) -> int:
    """``(NOT sum) AND 0x7F``: the command checksum (and our reading of the status one)."""
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
    ):
        raise RongtaiError(f"source must be a byte other than F0/F1, not {source!r}")
    return bytes((FRAME_START, source, key, checksum7((source, key)), FRAME_END))


@dataclass(frozen=True)
class KeyPress:
    """One decoded command frame."""

    source: int
    key: int


def decode_command(frame: bytes, *, check_checksum: bool = True) -> KeyPress:
    """Decode exactly one 5-byte command frame; raises RongtaiError if it is not one."""
    frame = bytes(frame)
    if len(frame) != COMMAND_LENGTH or frame[0] != FRAME_START or frame[-1] != FRAME_END:
        raise RongtaiError(f"not a command frame: {frame.hex(' ')}")
    _, source, key, check, _ = frame
    if source in (FRAME_START, FRAME_END) or key > 0x7F or check > 0x7F:
        raise RongtaiError(f"malformed command frame: {frame.hex(' ')}")
    if check_checksum and check != checksum7((source, key)):
        raise RongtaiError(f"command checksum mismatch: {frame.hex(' ')}")
    return KeyPress(source, key)


class CommandDecoder:
    """Streaming decoder of command frames (the chair's side). Never raises.

    ``check_checksum=False`` models the wired-remote path (9600 baud), whose
    firmware ignores the checksum.
    """

    def __init__(self, *, check_checksum: bool = True) -> None:
        self.check_checksum = check_checksum
        self.frames = 0
        self.bad_frames = 0  # well-framed but wrong checksum or bytes
        self.dropped = 0  # bytes discarded while resynchronising
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[KeyPress]:
        out: list[KeyPress] = []
        try:
            self._buf.extend(data)
            while True:
                start = self._buf.find(FRAME_START)
                if start < 0:
                    self.dropped += len(self._buf)
                    self._buf.clear()
                    break
                if start:
                    self.dropped += start
                    del self._buf[:start]
                restart = self._buf.find(FRAME_START, 1, COMMAND_LENGTH)
                if restart > 0:  # a new frame starts before this one could end
                    self.dropped += restart
                    del self._buf[:restart]
                    continue
                if len(self._buf) < COMMAND_LENGTH:
                    break
                frame = bytes(self._buf[:COMMAND_LENGTH])
                if frame[-1] != FRAME_END:
                    self.dropped += 1
                    del self._buf[:1]
                    continue
                del self._buf[:COMMAND_LENGTH]
                try:
                    out.append(decode_command(frame, check_checksum=self.check_checksum))
                    self.frames += 1
                except RongtaiError:
                    self.bad_frames += 1
        except Exception:  # noqa: BLE001 - the firmware must survive any bytes
            self._buf.clear()
        return out


# ------------------------------------------------------------------ values


class RunState(IntEnum):
    """Status byte 7 (firmware values; the HA integration checks only 0 vs non-zero)."""

    IDLE = 0
    RESETTING = 1
    READY = 2
    RUNNING = 3
    FAULT = 5


class Scope(IntEnum):
    """Where the rollers work: a section, one point, or the whole back (keys 0x28-0x2A)."""

    NONE = 0
    PARTIAL = 1
    POINT = 2
    FULL = 3


class AirbagZone(IntFlag):
    """Airbag zones, valued as their bits in status byte 12 (hardware-checked)."""

    NONE = 0
    LEGS = 0x04  # legs and feet
    BACK = 0x08  # back and waist
    ARMS = 0x10  # arms and shoulders
    BUTTOCKS = 0x20


AIRBAG_ZONE_BITS = 0x3C
ROLLERS_ACTIVE_BIT = 0x40  # status byte 12
POWERED_BIT = 0x40  # status byte 1
HEAT_BIT = 0x40  # status byte 2
ZERO_GRAVITY_BIT = 0x40  # status byte 10


class Actuator(IntFlag):
    """Status byte 10, bits 0x01-0x20: which actuator is moving (UNSURE layout)."""

    NONE = 0
    ROLLER_UP = 0x01
    ROLLER_DOWN = 0x02
    BACKREST_UP = 0x04
    BACKREST_DOWN = 0x08
    LEG_REST = 0x10
    LEG_EXTENSION = 0x20


#: Chair technique names, in the order of their status codes 1.. (UNSURE codes).
#: "knead-knock" and "rhythm" have no word in massager_ctl.core.vocabulary.
TECHNIQUE_CODES: tuple[str, ...] = ("knead", "knock", "shiatsu", "tap", "knead-knock", "rhythm")
#: Auto programs, in the order of their keys 0x10.. and status codes 1..
PROGRAM_NAMES: tuple[str, ...] = (
    "recovery",
    "stretch",
    "relax",
    "pain-relief",
    "upper-body",
    "lower-body",
)


# --------------------------------------------------------------- key tables


@dataclass(frozen=True, eq=False)
class KeyTable:
    """One model's key codes, as data. See rongtai.md; UNSURE entries say so."""

    name: str
    status_length: int
    power: int = 0x01
    heat_toggle: int = 0x27
    #: Direct heat-level keys (RT6923: 0x3C-0x3E). Empty: heat is one on/off toggle.
    heat_levels: Mapping[Heat, int] = field(default_factory=dict)
    programs: Mapping[str, int] = field(default_factory=dict)
    techniques: Mapping[str, int] = field(default_factory=dict)
    scopes: Mapping[Scope, int] = field(default_factory=dict)
    widths: tuple[int, ...] = ()  # keys for widths 1..3 (narrow, medium, wide)
    speeds: tuple[int, ...] = ()  # keys for speeds 1..6
    foot_roller: Mapping[str, int] = field(default_factory=dict)
    airbag_zones: Mapping[AirbagZone, int] = field(default_factory=dict)
    airbag_auto: int | None = 0x44
    airbag_strengths: tuple[int, ...] = ()  # keys for strengths 1..5
    airbag_off: int = 0x4A
    timers: Mapping[int, int] = field(default_factory=dict)  # seconds -> key
    #: 3D strength (intensity) 1..5. UNSURE: 0x58-0x5C are the RT6923 firmware's
    #: "3D" keys; the RT8600S / Infinity table in the spec lists none.
    strengths_3d: tuple[int, ...] = ()
    #: Motor moves: name -> (start key, stop key). Names from the RT6923 firmware.
    motors: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    zero_gravity: int | None = 0x70
    zero_gravity_presets: tuple[int, ...] = ()
    mode_3d: int | None = None

    def __post_init__(self) -> None:
        for attr in (
            "heat_levels",
            "programs",
            "techniques",
            "scopes",
            "foot_roller",
            "airbag_zones",
            "timers",
            "motors",
        ):
            object.__setattr__(self, attr, MappingProxyType(dict(getattr(self, attr))))

    @property
    def stop_keys(self) -> tuple[int, ...]:
        return tuple(stop for _, stop in self.motors.values())

    def describe(self, key: int) -> str:
        """A person's name for ``key`` on this model (for logs and traces)."""
        return self._names().get(key, f"key 0x{key:02X}")

    def _names(self) -> dict[int, str]:
        names: dict[int, str] = {self.power: "power", self.heat_toggle: "heat"}
        for level, key in self.heat_levels.items():
            names[key] = f"heat {level}"
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
            names[key] = f"airbag {(zone.name or '').lower()}"  # (a single flag always has a name)
        if self.airbag_auto is not None:
            names[self.airbag_auto] = "airbag full-body auto"
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
        if self.zero_gravity is not None:
            names[self.zero_gravity] = "zero gravity"
        for i, key in enumerate(self.zero_gravity_presets, 1):
            names[key] = f"zero-gravity preset {i}"
        if self.mode_3d is not None:
            names[self.mode_3d] = "3D mode"
        return names


_COMMON: dict[str, Any] = dict(  # the KeyTable fields both tables share
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
    airbag_zones={
        AirbagZone.LEGS: 0x40,
        AirbagZone.ARMS: 0x41,
        AirbagZone.BACK: 0x42,
        AirbagZone.BUTTOCKS: 0x43,
    },
    airbag_strengths=(0x45, 0x46, 0x47, 0x48, 0x49),
    timers={600: 0x50, 1200: 0x51, 1800: 0x52},
    strengths_3d=(0x58, 0x59, 0x5A, 0x5B, 0x5C),  # UNSURE (RT6923 firmware)
    # Start/stop pairs 0x60-0x6F; which pair moves what is from the RT6923 firmware.
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
)

#: RT8600S and Infinity EVOLUTION: one heat toggle; 0x3B-0x3D are Infinity zero-gravity presets.
RT8600S_KEYS = KeyTable(
    name="rt8600s",
    status_length=STATUS_LENGTH_RT8600S,
    zero_gravity_presets=(0x3B, 0x3C, 0x3D),
    **_COMMON,
)

#: RT6923: 0x3B is a 3D mode, 0x3C-0x3E heat levels (low/medium/high), 18-byte status.
RT6923_KEYS = KeyTable(
    name="rt6923",
    status_length=STATUS_LENGTH_RT6923,
    heat_levels={Heat.LOW: 0x3C, Heat.HIGH: 0x3E},
    mode_3d=0x3B,
    **_COMMON,
)
RT6923_HEAT_MEDIUM_KEY = 0x3D

KEY_TABLES: dict[str, KeyTable] = {"rt8600s": RT8600S_KEYS, "rt6923": RT6923_KEYS}


# ------------------------------------------------------------------- status


@dataclass(frozen=True)
class RongtaiStatus:
    """One decoded status frame. See the module docstring for what is UNSURE."""

    powered: bool = False
    heat: bool = False
    run_state: int = RunState.IDLE  # a RunState when known, the raw byte otherwise
    technique: str | None = None  # a TECHNIQUE_CODES name
    speed: int = 0  # 0..6
    width: int = 0  # 0..3 (narrow, medium, wide)
    airbag_zones: AirbagZone = AirbagZone.NONE
    airbag_strength: int = 0  # 0..5
    scope: Scope = Scope.NONE
    remaining_s: int = 0  # chair-side timer, 0..4095
    foot_roller: int = 0  # 0..3
    roller_height: int = 0  # 0..31
    body_scan: int = 0
    actuators: Actuator = Actuator.NONE
    zero_gravity: bool = False
    reserved: int = 0  # byte 11, raw
    rollers_active: bool = False
    program: str | None = None  # a PROGRAM_NAMES name
    intensity: int = 0  # 3D strength 0..5
    heat_level: int | None = None  # RT6923 only: 0..3
    checked: bool = True  # False when delivered without a checksum check ("auto"/"off")
    raw: bytes = field(default=b"", compare=False)

    @property
    def state(self) -> RunState | None:
        try:
            return RunState(self.run_state)
        except ValueError:
            return None

    @property
    def resetting(self) -> bool:
        return self.run_state == RunState.RESETTING

    @property
    def accepts_keys(self) -> bool:
        """Powered and past its reset: massage keys take effect."""
        return self.powered and self.run_state in (RunState.READY, RunState.RUNNING)


def _technique_code(name: str | None) -> int:
    if name is None:
        return 0
    try:
        return TECHNIQUE_CODES.index(name) + 1
    except ValueError:
        raise RongtaiError(f"unknown chair technique {name!r}") from None


def _program_code(name: str | None) -> int:
    if name is None:
        return 0
    try:
        return PROGRAM_NAMES.index(name) + 1
    except ValueError:
        raise RongtaiError(f"unknown chair program {name!r}") from None


def _check(what: str, value, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise RongtaiError(f"{what} must be {lo}..{hi}, not {value!r}")
    return value


def encode_status(status: RongtaiStatus, length: int = STATUS_LENGTH_RT8600S) -> bytes:
    """The status frame for ``status`` (the simulator's side). Raises RongtaiError."""
    if length not in STATUS_LENGTHS:
        raise RongtaiError(f"status frames are {STATUS_LENGTHS} bytes long, not {length!r}")
    speed = _check("speed", status.speed, 0, 6)
    width = _check("width", status.width, 0, 3)
    remaining = _check("remaining_s", status.remaining_s, 0, MAX_REMAINING_S)
    zones = int(status.airbag_zones)
    if zones & ~AIRBAG_ZONE_BITS:
        raise RongtaiError(f"airbag zone bits 0x{zones:02X} outside 0x{AIRBAG_ZONE_BITS:02X}")
    actuators = int(status.actuators)
    if not 0 <= actuators <= 0x3F:
        raise RongtaiError(f"actuator bits 0x{actuators:02X} outside 0x3F")
    body = [
        (POWERED_BIT if status.powered else 0) | _technique_code(status.technique),
        (HEAT_BIT if status.heat else 0) | (width << 3) | speed,
        _check("airbag_strength", status.airbag_strength, 0, 5),
        (int(Scope(status.scope)) << 5) | (remaining >> 7),
        remaining & 0x7F,
        _check("foot_roller", status.foot_roller, 0, 3),
        _check("run_state", int(status.run_state), 0, 0x7F),
        _check("roller_height", status.roller_height, 0, MAX_ROLLER_HEIGHT),
        _check("body_scan", status.body_scan, 0, 0x7F),
        actuators | (ZERO_GRAVITY_BIT if status.zero_gravity else 0),
        _check("reserved", status.reserved, 0, 0x7F),
        zones | (ROLLERS_ACTIVE_BIT if status.rollers_active else 0),
        _program_code(status.program),
        _check("intensity", status.intensity, 0, 5),
    ]
    if length == STATUS_LENGTH_RT6923:
        body.append(_check("heat_level", status.heat_level or 0, 0, 3))
    return bytes([FRAME_START, *body, checksum7(body), FRAME_END])


def decode_status_body(frame: bytes, *, checked: bool = True) -> RongtaiStatus:
    """Fields of a structurally valid frame (markers, length, 7-bit body already checked)."""
    b = frame
    technique = b[1] & 0x07
    program = b[13]
    remaining = ((b[4] & 0x1F) << 7) | (b[5] & 0x7F)
    try:
        run_state: int = RunState(b[7])
    except ValueError:
        run_state = b[7]
    return RongtaiStatus(
        powered=bool(b[1] & POWERED_BIT),
        heat=bool(b[2] & HEAT_BIT),
        run_state=run_state,
        technique=TECHNIQUE_CODES[technique - 1] if 1 <= technique <= len(TECHNIQUE_CODES) else None,
        speed=b[2] & 0x07,
        width=(b[2] >> 3) & 0x03,
        airbag_zones=AirbagZone(b[12] & AIRBAG_ZONE_BITS),
        airbag_strength=b[3],
        scope=Scope((b[4] >> 5) & 0x03),
        remaining_s=remaining,
        foot_roller=b[6],
        roller_height=b[8],
        body_scan=b[9],
        actuators=Actuator(b[10] & 0x3F),
        zero_gravity=bool(b[10] & ZERO_GRAVITY_BIT),
        reserved=b[11],
        rollers_active=bool(b[12] & ROLLERS_ACTIVE_BIT),
        program=PROGRAM_NAMES[program - 1] if 1 <= program <= len(PROGRAM_NAMES) else None,
        intensity=b[14],
        heat_level=b[15] if len(b) == STATUS_LENGTH_RT6923 else None,
        checked=checked,
        raw=bytes(b),
    )


CHECKSUM_MODES = ("auto", "strict", "off")


class StatusDecoder:
    """Streaming status decoder: bytes in, :class:`RongtaiStatus` out. Never raises.

    Resynchronises on the next ``F0`` after garbage, a truncated frame, a
    wrong end marker or a byte above 0x7F inside a frame. Counters:
    ``frames`` (delivered), ``bad_checksum`` (skipped for their checksum),
    ``malformed`` (frame starts abandoned), ``dropped`` (bytes discarded).
    """

    def __init__(self, length: int = STATUS_LENGTH_RT8600S, *, checksum: str = "auto") -> None:
        if length not in STATUS_LENGTHS:
            raise ValueError(f"status frames are {STATUS_LENGTHS} bytes long, not {length!r}")
        if checksum not in CHECKSUM_MODES:
            raise ValueError(f"checksum mode must be one of {CHECKSUM_MODES}, not {checksum!r}")
        self.length = length
        self.checksum = checksum
        self.frames = 0
        self.bad_checksum = 0
        self.malformed = 0
        self.dropped = 0
        self.unchecked = 0  # delivered without a passing checksum ("auto" fallback, "off")
        self._recent: deque[bool] = deque(maxlen=AUTO_WINDOW)  # checksum results, "auto"
        self._buf = bytearray()

    @property
    def unverified(self) -> bool:
        """True while "auto" delivers frames unchecked (the rule did not match lately)."""
        return self.checksum == "auto" and len(self._recent) == AUTO_WINDOW and not any(self._recent)

    def reset(self) -> None:
        self._buf.clear()

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
        n = self.length
        buf = self._buf
        while True:
            start = buf.find(FRAME_START)
            if start < 0:
                self.dropped += len(buf)
                buf.clear()
                return
            if start:
                self.dropped += start
                del buf[:start]
            # Inspect what has arrived of this frame: any byte that cannot be inside it
            # (a new F0, or any byte above 0x7F before the end position) abandons it.
            bad_at = None
            for i in range(1, min(len(buf), n - 1)):
                if buf[i] > 0x7F:
                    bad_at = i
                    break
            if bad_at is not None:
                self.malformed += 1
                skip = bad_at if buf[bad_at] == FRAME_START else bad_at + 1
                self.dropped += skip
                del buf[:skip]
                continue
            if len(buf) < n:
                return  # wait for the rest
            if buf[n - 1] != FRAME_END:
                self.malformed += 1
                self.dropped += 1
                del buf[:1]
                continue
            frame = bytes(buf[:n])
            del buf[:n]
            self._accept(frame, out)

    def _accept(self, frame: bytes, out: list[RongtaiStatus]) -> None:
        if self.checksum == "off":
            self.frames += 1
            self.unchecked += 1
            out.append(decode_status_body(frame, checked=False))
            return
        ok = frame[-2] == checksum7(frame[1:-2])
        if self.checksum == "auto":
            fallback = self.unverified
            self._recent.append(ok)
            if not ok and fallback:
                self.frames += 1
                self.unchecked += 1
                out.append(decode_status_body(frame, checked=False))
                return
        if not ok:
            self.bad_checksum += 1
            return
        self.frames += 1
        out.append(decode_status_body(frame, checked=True))
