"""The massager-ctl native protocol, version 1: a pure codec (no I/O).

A frame on the wire (serial or BLE UART)::

    START  LEN  TYPE  SEQ  BODY...  CRC_HI  CRC_LO
    0xA5   n    1 B   1 B  n-2 B    CRC-16/CCITT-FALSE over LEN..BODY, big-endian

``LEN`` counts the bytes from TYPE to the end of BODY (so 2..255). After
START, the bytes 0xA5 and 0xA6 are escaped (0xA6 then the byte XOR 0x20), so
a raw 0xA5 on the wire is always the start of a frame. The full
specification, with code tables and worked examples, is docs/protocol.md;
this module is its reference implementation and the two are tested together.

:func:`encode` turns a message into one frame. :class:`Decoder` turns any
byte stream, fed in pieces of any size, back into messages: it resynchronises
after garbage (dropping one byte and rescanning after a bad CRC, an
impossible length or a frame cut short by a new START), skips frames it
cannot understand, never raises, and holds at most one incomplete frame.
"""

from __future__ import annotations

import math
import struct
from binascii import crc_hqx
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeGuard, TypeVar

from ...core.capabilities import Capabilities
from ...core.status import DeviceState, Status
from ...core.vocabulary import Heat, Technique, Width, Zone

# re-exported: the driver and the simulator take the deadman periods from the codec
from .deadman import DEFAULT_DEADMAN_MS as DEFAULT_DEADMAN_MS
from .deadman import MAX_DEADMAN_MS as MAX_DEADMAN_MS
from .deadman import MIN_DEADMAN_MS as MIN_DEADMAN_MS

PROTOCOL_VERSION = 1

START = 0xA5
#: Inside a frame, START and ESC are sent as ESC followed by the byte XOR ESC_XOR.
ESC = 0xA6
ESC_XOR = 0x20
MAX_LEN = 255
MAX_BODY = MAX_LEN - 2
#: Longest frame on the wire: START + every byte of LEN..CRC escaped.
MAX_FRAME = 1 + 2 * (1 + MAX_LEN + 2)

#: Limits on text fields (UTF-8 bytes).
MAX_MODEL_BYTES = 32
MAX_NAME_BYTES = 32
MAX_FAULT_BYTES = 64


class MsgType(IntEnum):
    """TYPE byte. Host -> device below 0x80, device -> host from 0x80."""

    HELLO = 0x01
    SET = 0x02
    STOP = 0x03
    HEARTBEAT = 0x04
    GET_STATUS = 0x05
    INFO = 0x81
    ACK = 0x82
    NAK = 0x83
    STATUS = 0x84


class NakCode(IntEnum):
    BAD_FRAME = 1  # CRC-valid frame whose body has the wrong size or shape
    UNKNOWN_TYPE = 2  # TYPE not known to the device
    BAD_VALUE = 3  # a field outside the protocol's tables or the device's declared ranges
    UNSUPPORTED = 4  # a valid value this device cannot do (technique, zone, version...)
    NOT_READY = 5  # SET before a successful HELLO/INFO
    BUSY = 6  # the device cannot take the command right now; retry later
    FAULT = 7  # the device is in a fault state and refuses to start anything


# --- code tables -------------------------------------------------------------

#: Zone code = bit number in a zone mask.
ZONE_CODES: dict[Zone, int] = {
    Zone.NECK: 0,
    Zone.SHOULDERS: 1,
    Zone.UPPER_BACK: 2,
    Zone.MID_BACK: 3,
    Zone.LOWER_BACK: 4,
    Zone.SEAT: 5,
    Zone.ARMS: 6,
    Zone.THIGHS: 7,
    Zone.CALVES: 8,
    Zone.FEET: 9,
}
#: Technique code; 0 = rollers still. In a technique mask, code c is bit c-1.
TECHNIQUE_CODES: dict[Technique, int] = {
    Technique.KNEAD: 1,
    Technique.SHIATSU: 2,
    Technique.TAP: 3,
    Technique.KNOCK: 4,
    Technique.ROLL: 5,
    Technique.VIBRATE: 6,
}
#: Width code; 0 = not given (device keeps its own). In a width mask, code c is bit c-1.
WIDTH_CODES: dict[Width, int] = {Width.NARROW: 1, Width.MEDIUM: 2, Width.WIDE: 3}
#: Heat code. In a heat mask, code c is bit c-1 (so OFF has no bit).
HEAT_CODES: dict[Heat, int] = {Heat.OFF: 0, Heat.LOW: 1, Heat.HIGH: 2}

_ZONE_BY_CODE = {v: k for k, v in ZONE_CODES.items()}
_TECHNIQUE_BY_CODE = {v: k for k, v in TECHNIQUE_CODES.items()}
_WIDTH_BY_CODE = {v: k for k, v in WIDTH_CODES.items()}
_HEAT_BY_CODE = {v: k for k, v in HEAT_CODES.items()}
_NAK_BY_CODE = {c.value: c for c in NakCode}

UNKNOWN_U16 = 0xFFFF  # "no reading" for roller position and remaining time
UNKNOWN_TEMP = 0x7FFF  # "no reading" for the heater temperature (signed field)

STATE_FIXED = 8  # technique, zones(2), intensity, speed, width, heat, airbag count
INFO_FIXED = 13

#: The fixed part of a state block (STATE_FIXED bytes).
_STATE_HEAD = struct.Struct(">BHBBBBB")
#: A status's readings: roller u16, heater temperature i16, remaining u16, pressure count u8.
_READINGS = struct.Struct(">HhHB")
#: One airbag pressure: zone code, tenths of a percent.
_ZONE_U16 = struct.Struct(">BH")


# --- messages ----------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """Host -> device: start a session, propose a deadman period."""

    seq: int
    version: int = PROTOCOL_VERSION
    deadman_ms: int = DEFAULT_DEADMAN_MS


@dataclass(frozen=True)
class Info:
    """Device -> host, answers HELLO (same seq): what the device is and can do."""

    seq: int
    version: int
    deadman_ms: int
    model: str
    capabilities: Capabilities


@dataclass(frozen=True)
class SetState:
    """Host -> device: the complete target state (absolute, idempotent)."""

    seq: int
    state: DeviceState


@dataclass(frozen=True)
class Stop:
    seq: int


@dataclass(frozen=True)
class Heartbeat:
    seq: int


@dataclass(frozen=True)
class GetStatus:
    seq: int


@dataclass(frozen=True)
class Ack:
    """Device -> host: the request with this seq was carried out."""

    seq: int


@dataclass(frozen=True)
class Nak:
    """Device -> host: the request with this seq was refused."""

    seq: int
    code: NakCode


@dataclass(frozen=True)
class StatusReport:
    """Device -> host: periodic (device's own seq) or answering GET_STATUS (its seq)."""

    seq: int
    status: Status


Message = Hello | Info | SetState | Stop | Heartbeat | GetStatus | Ack | Nak | StatusReport

_TYPE_OF: dict[type, MsgType] = {
    Hello: MsgType.HELLO,
    SetState: MsgType.SET,
    Stop: MsgType.STOP,
    Heartbeat: MsgType.HEARTBEAT,
    GetStatus: MsgType.GET_STATUS,
    Info: MsgType.INFO,
    Ack: MsgType.ACK,
    Nak: MsgType.NAK,
    StatusReport: MsgType.STATUS,
}

#: Allowed LEN per known TYPE; anything else is an impossible length (resync).
LEN_RANGE: dict[int, tuple[int, int]] = {
    MsgType.HELLO: (5, 5),
    MsgType.SET: (2 + STATE_FIXED, 2 + STATE_FIXED + 2 * len(Zone)),
    MsgType.STOP: (2, 2),
    MsgType.HEARTBEAT: (2, 2),
    MsgType.GET_STATUS: (2, 2),
    MsgType.INFO: (2 + INFO_FIXED + 4, MAX_LEN),
    MsgType.ACK: (2, 2),
    MsgType.NAK: (3, 3),
    # flags, state, roller u16, temp i16, remaining u16, pressure count, fault length
    MsgType.STATUS: (
        2 + 1 + STATE_FIXED + 6 + 1 + 1,
        2 + 1 + STATE_FIXED + 2 * len(Zone) + 6 + 1 + 3 * len(Zone) + 1 + MAX_FAULT_BYTES,
    ),
}


# --- CRC ---------------------------------------------------------------------


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR.

    ``binascii.crc_hqx`` is this polynomial, unreflected, with no final XOR: seeded
    with 0xFFFF it computes CCITT-FALSE, in C (the codec's hottest function).
    """
    return crc_hqx(data, 0xFFFF)


# --- encoding ----------------------------------------------------------------


def _u8(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must be an integer 0..255, got {value!r}")
    return bytes((value,))


def _u16(value: int, what: str, hi: int = 0xFFFF) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise ValueError(f"{what} must be an integer 0..{hi}, got {value!r}")
    return value.to_bytes(2, "big")


def _quantise(value: float, scale: int, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return round(number * scale)


def _text(value: str, limit: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {value!r}")
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise ValueError(f"{what} is {len(raw)} bytes of UTF-8; at most {limit} allowed")
    return bytes((len(raw),)) + raw


_ZONE_MASK_BYTES: dict[frozenset[Zone], bytes] = {}  # frozenset of zones -> its 2-byte mask

K = TypeVar("K")
V = TypeVar("V")


def _zone_mask(zones: Iterable[Zone], what: str) -> bytes:
    if type(zones) is frozenset:
        cached = _ZONE_MASK_BYTES.get(zones)
        if cached is not None:
            return cached
    mask = 0
    for zone in zones:
        if zone not in ZONE_CODES:
            raise ValueError(f"{what}: {zone!r} is not a zone")
        mask |= 1 << ZONE_CODES[zone]
    out = mask.to_bytes(2, "big")
    if type(zones) is frozenset and len(_ZONE_MASK_BYTES) < 4096:
        _ZONE_MASK_BYTES[zones] = out
    return out


def _code_mask(items: Iterable[K], table: Mapping[K, int], what: str) -> bytes:
    mask = 0
    for item in items:
        if item not in table or table[item] == 0:
            raise ValueError(f"{what}: {item!r} cannot be listed here")
        mask |= 1 << (table[item] - 1)
    return bytes((mask,))


def _is_byte(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= 0xFF


#: The last state encoded and its bytes. A chair reports the state it runs in every
#: STATUS (the same object until the next command), so this saves re-encoding it ten
#: times a second. Keyed by identity (states are immutable); one tuple, replaced whole,
#: so that a reader in another thread never pairs one state with another's bytes.
_last_state: tuple[DeviceState | None, bytes] = (None, b"")


def _encode_state(state: DeviceState) -> bytes:
    global _last_state
    last = _last_state
    if state is last[0]:
        return last[1]
    out = _encode_state_afresh(state)
    airbags = state.airbags
    if (
        type(airbags) is tuple and all(type(e) is tuple for e in airbags) and (type(state.zones) is frozenset)
    ):  # nothing mutable inside: the bytes stay right for as long as the object lives
        _last_state = (state, out)
    return out


def _encode_state_afresh(state: DeviceState) -> bytes:
    if not isinstance(state, DeviceState):
        raise ValueError(f"state must be a DeviceState, got {type(state).__name__}")
    if state.technique is not None and state.technique not in TECHNIQUE_CODES:
        raise ValueError(f"technique {state.technique!r} is not a technique")
    if state.width is not None and state.width not in WIDTH_CODES:
        raise ValueError(f"width {state.width!r} is not a width")
    if state.heat not in HEAT_CODES:
        raise ValueError(f"heat {state.heat!r} is not a heat level")
    airbags = tuple(state.airbags)
    seen: set[Zone] = set()
    pairs = bytearray()
    for entry in airbags:
        try:
            zone, level = entry
        except (TypeError, ValueError):
            raise ValueError(f"airbag entry {entry!r} is not a (zone, level) pair") from None
        if zone not in ZONE_CODES:
            raise ValueError(f"airbag zone {zone!r} is not a zone")
        if zone in seen:
            raise ValueError(f"airbag zone {zone.value} is listed twice")
        seen.add(zone)
        if not _is_byte(level):
            _u8(level, f"airbag level for {zone.value}")  # raises unless an int subclass
        pairs += bytes((ZONE_CODES[zone], level))
    zones = _zone_mask(state.zones, "zones")
    intensity, speed = state.intensity, state.speed
    if not _is_byte(intensity):
        _u8(intensity, "intensity")
    if not _is_byte(speed):
        _u8(speed, "speed")
    return (
        bytes((TECHNIQUE_CODES[state.technique] if state.technique else 0,))
        + zones
        + bytes(
            (
                intensity,
                speed,
                WIDTH_CODES[state.width] if state.width else 0,
                HEAT_CODES[state.heat],
                len(airbags),
            )
        )
        + pairs
    )


#: The last airbag pressures encoded: (pressures, bytes, count). Once the airbags have
#: filled, a chair reports the same pressures frame after frame (the simulator hands
#: over the same tuple). Keyed by identity, replaced whole, like ``_last_state``.
_last_pressures: tuple[object, bytes, int] = (None, b"", 0)


def _encode_pressures(airbag_pressure: Iterable[tuple[Zone, float]]) -> tuple[bytes, int]:
    global _last_pressures
    last = _last_pressures
    if airbag_pressure is last[0]:
        return last[1], last[2]
    pressures = bytearray()
    seen: set[Zone] = set()
    for entry in airbag_pressure:
        try:
            zone, value = entry
        except (TypeError, ValueError):
            raise ValueError(f"airbag pressure {entry!r} is not a (zone, %) pair") from None
        if zone not in ZONE_CODES:
            raise ValueError(f"airbag pressure zone {zone!r} is not a zone")
        if zone in seen:
            raise ValueError(f"airbag pressure for {zone.value} is listed twice")
        seen.add(zone)
        if type(value) is float and value - value == 0.0:  # finite float: the usual case
            tenths = round(value * 10)
        else:
            tenths = _quantise(value, 10, f"airbag pressure for {zone.value}")
        if not 0 <= tenths <= 0xFFFF:
            _u16(tenths, f"airbag pressure (0.1 %) for {zone.value}")  # raises, with the message
        pressures += _ZONE_U16.pack(ZONE_CODES[zone], tenths)
    out = bytes(pressures)
    if type(airbag_pressure) is tuple and all(type(e) is tuple for e in airbag_pressure):
        _last_pressures = (airbag_pressure, out, len(seen))  # nothing mutable inside
    return out, len(seen)


def _encode_status(status: Status) -> bytes:
    if not isinstance(status, Status):
        raise ValueError(f"status must be a Status, got {type(status).__name__}")
    flags = 0x01 if status.running else 0x00
    position = status.roller_position
    if position is None:
        roller = UNKNOWN_U16
    else:
        if type(position) is float and position - position == 0.0:  # finite float: usual
            roller = round(position * 1000)
        else:
            roller = _quantise(position, 1000, "roller position")
        if not 0 <= roller <= 1000:
            raise ValueError(f"roller position must be 0.0..1.0, got {status.roller_position!r}")
    celsius = status.heater_temp_c
    if celsius is None:
        temp = UNKNOWN_TEMP
    else:
        if type(celsius) is float and celsius - celsius == 0.0:
            temp = round(celsius * 10)
        else:
            temp = _quantise(celsius, 10, "heater temperature")
        if not -0x8000 <= temp < UNKNOWN_TEMP:
            raise ValueError(f"heater temperature {status.heater_temp_c!r} is out of range")
    if status.remaining_s is None:
        remaining = UNKNOWN_U16
    else:
        remaining = status.remaining_s
        _u16(remaining, "remaining seconds", UNKNOWN_U16 - 1)
    pressures, count = _encode_pressures(status.airbag_pressure)
    if status.fault is None:
        fault = b"\x00"
    else:
        if not isinstance(status.fault, str) or not status.fault:
            raise ValueError("fault must be None or non-empty text")
        raw = status.fault.encode("utf-8")[:MAX_FAULT_BYTES]
        raw = raw.decode("utf-8", errors="ignore").encode("utf-8")  # cut on a character edge
        fault = bytes((len(raw),)) + raw
    return (
        bytes((flags,))
        + _encode_state(status.state)
        + _READINGS.pack(roller, temp, remaining, count)
        + pressures
        + fault
    )


def _encode_info(msg: Info) -> bytes:
    caps = msg.capabilities
    if not isinstance(caps, Capabilities):
        raise ValueError(f"capabilities must be Capabilities, got {type(caps).__name__}")
    heat = tuple(caps.heat_levels)
    if Heat.OFF in heat or list(heat) != sorted(set(heat), key=lambda h: HEAT_CODES.get(h, 99)):
        raise ValueError(f"heat levels must be non-off levels, lowest first, each once; got {heat!r}")
    timers = b"".join(_u16(s, "chair timer seconds") for s in caps.chair_timer_s)
    if len(caps.chair_timer_s) > 0xFF:
        raise ValueError("too many chair timer lengths")
    names = b""
    for label, items in (("recline motor", caps.recline_motors), ("program", caps.programs)):
        if len(items) > 0xFF:
            raise ValueError(f"too many {label}s")
        names += bytes((len(items),)) + b"".join(_text(n, MAX_NAME_BYTES, f"{label} name") for n in items)
    body = (
        _u8(msg.version, "version")
        + _deadman(msg.deadman_ms)
        + _zone_mask(caps.zones, "zones")
        + _code_mask(caps.techniques, TECHNIQUE_CODES, "techniques")
        + _u8(caps.intensity_steps, "intensity steps")
        + _u8(caps.speed_steps, "speed steps")
        + _code_mask(caps.widths, WIDTH_CODES, "widths")
        + _zone_mask(caps.airbag_zones, "airbag zones")
        + _u8(caps.airbag_levels, "airbag levels")
        + _code_mask(heat, HEAT_CODES, "heat levels")
        + bytes((len(caps.chair_timer_s),))
        + timers
        + _text(msg.model, MAX_MODEL_BYTES, "model")
        + names
    )
    return body


def _deadman(ms: int) -> bytes:
    ok = isinstance(ms, int) and not isinstance(ms, bool)
    if not ok or not MIN_DEADMAN_MS <= ms <= MAX_DEADMAN_MS:
        raise ValueError(f"deadman period must be {MIN_DEADMAN_MS}..{MAX_DEADMAN_MS} ms, got {ms!r}")
    return ms.to_bytes(2, "big")


def _version(version: int) -> bytes:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 0xFF:
        raise ValueError(f"version must be 1..255, got {version!r}")
    return bytes((version,))


def encode_body(msg: Message) -> tuple[int, bytes]:
    """(TYPE, BODY) of a message; raises ValueError for a value the protocol cannot carry."""
    kind = _TYPE_OF.get(type(msg))
    if kind is None:
        raise TypeError(f"not a native protocol message: {msg!r}")
    if isinstance(msg, StatusReport):  # first: a chair sends ten a second
        body = _encode_status(msg.status)
    elif isinstance(msg, Hello):
        body = _version(msg.version) + _deadman(msg.deadman_ms)
    elif isinstance(msg, Info):
        _version(msg.version)
        body = _encode_info(msg)
    elif isinstance(msg, SetState):
        body = _encode_state(msg.state)
    elif isinstance(msg, Nak):
        try:
            body = bytes((NakCode(msg.code),))
        except ValueError:
            raise ValueError(f"unknown NAK code {msg.code!r}") from None
    else:
        body = b""
    if len(body) > MAX_BODY:
        raise ValueError(f"{kind.name} body is {len(body)} bytes; a frame holds at most {MAX_BODY}")
    return int(kind), body


def stuff(data: bytes) -> bytes:
    """Escape START and ESC so that neither appears inside a frame."""
    return data.replace(b"\xa6", b"\xa6\x86").replace(b"\xa5", b"\xa6\x85")


def encode(msg: Message) -> bytes:
    """One complete frame for ``msg``, as sent on the wire."""
    kind, body = encode_body(msg)
    inner = bytes((2 + len(body), kind)) + _u8(msg.seq, "seq") + body
    return bytes((START,)) + stuff(inner + crc16(inner).to_bytes(2, "big"))


# --- decoding ----------------------------------------------------------------


class _Bad(ValueError):
    """A CRC-valid frame the codec refuses; carries the NAK code a device would send."""

    def __init__(self, code: NakCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Reader:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise _Bad(NakCode.BAD_FRAME, "body too short")
        out = self.body[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def i16(self) -> int:
        return int.from_bytes(self.take(2), "big", signed=True)

    def text(self, limit: int, what: str) -> str:
        n = self.u8()
        if n > limit:
            raise _Bad(NakCode.BAD_VALUE, f"{what} longer than {limit} bytes")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(NakCode.BAD_VALUE, f"{what} is not UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self.body):
            raise _Bad(NakCode.BAD_FRAME, "body too long")


_ZONES_BY_MASK: dict[int, frozenset[Zone]] = {}  # filled as masks are seen (at most 1024)


def _zones_from_mask(mask: int, what: str) -> frozenset[Zone]:
    zones = _ZONES_BY_MASK.get(mask)
    if zones is None:
        if mask >> len(ZONE_CODES):
            raise _Bad(NakCode.BAD_VALUE, f"{what}: unknown zone bit in 0x{mask:04X}")
        zones = frozenset(z for z, c in ZONE_CODES.items() if mask & (1 << c))
        _ZONES_BY_MASK[mask] = zones
    return zones


def _codes_from_mask(mask: int, by_code: Mapping[int, V], what: str) -> list[V]:
    """The codes a capability mask (INFO) lists. Bits this version does not know are
    ignored (docs/protocol.md section 5.2): a newer device may offer more."""
    return [by_code[c] for c in sorted(by_code) if c and mask & (1 << (c - 1))]


#: The bits of a zone mask that name zones (section 3.1).
_ZONE_BITS = (1 << len(ZONE_CODES)) - 1


def _lookup(table: Mapping[int, V], code: int, what: str) -> V:
    if code not in table:
        raise _Bad(NakCode.BAD_VALUE, f"unknown {what} code {code}")
    return table[code]


def _read_zone(r: _Reader, seen: set[Zone], what: str) -> Zone:
    zone = _lookup(_ZONE_BY_CODE, r.u8(), what)
    if zone in seen:
        raise _Bad(NakCode.BAD_VALUE, f"{what} {zone.value} listed twice")
    seen.add(zone)
    return zone


#: State blocks already decoded, by their bytes: a chair repeats the state it runs in
#: every STATUS. Only blocks that decoded without error go in; bounded.
_STATES_BY_BYTES: dict[bytes, DeviceState] = {}
_MAX_CACHED = 256


def _read_state(r: _Reader) -> DeviceState:
    body, pos = r.body, r.pos
    if pos + STATE_FIXED > len(body):  # short: read field by field, to fail where it ends
        return _read_state_slowly(r)
    end = pos + STATE_FIXED + 2 * body[pos + STATE_FIXED - 1]
    key = body[pos:end] if end <= len(body) else None
    if key is not None:
        state = _STATES_BY_BYTES.get(key)
        if state is not None:
            r.pos = end
            return state
    state = _read_state_afresh(r, body, pos)
    if key is not None:
        if len(_STATES_BY_BYTES) >= _MAX_CACHED:
            _STATES_BY_BYTES.clear()  # (simplest bound: start again)
        _STATES_BY_BYTES[key] = state
    return state


def _read_state_afresh(r: _Reader, body: bytes, pos: int) -> DeviceState:
    technique_code, zone_mask, intensity, speed, width_code, heat_code, count = _STATE_HEAD.unpack_from(
        body, pos
    )
    r.pos = pos + STATE_FIXED
    # The checks in the order the fields come (as _read_state_slowly makes them).
    technique = None if technique_code == 0 else _lookup(_TECHNIQUE_BY_CODE, technique_code, "technique")
    zones = _zones_from_mask(zone_mask, "zones")
    width = None if width_code == 0 else _lookup(_WIDTH_BY_CODE, width_code, "width")
    heat = _lookup(_HEAT_BY_CODE, heat_code, "heat")
    return DeviceState(
        technique=technique,
        zones=zones,
        intensity=intensity,
        speed=speed,
        width=width,
        airbags=_read_airbags(r, count),
        heat=heat,
    )


def _read_state_slowly(r: _Reader) -> DeviceState:
    technique_code = r.u8()
    technique = None if technique_code == 0 else _lookup(_TECHNIQUE_BY_CODE, technique_code, "technique")
    zones = _zones_from_mask(r.u16(), "zones")
    intensity = r.u8()
    speed = r.u8()
    width_code = r.u8()
    width = None if width_code == 0 else _lookup(_WIDTH_BY_CODE, width_code, "width")
    heat = _lookup(_HEAT_BY_CODE, r.u8(), "heat")
    return DeviceState(
        technique=technique,
        zones=zones,
        intensity=intensity,
        speed=speed,
        width=width,
        airbags=_read_airbags(r, r.u8()),
        heat=heat,
    )


def _read_airbags(r: _Reader, count: int) -> tuple[tuple[Zone, int], ...]:
    if count > len(ZONE_CODES):
        raise _Bad(NakCode.BAD_VALUE, f"{count} airbag entries; at most {len(ZONE_CODES)}")
    seen: set[Zone] = set()
    airbags = []
    body, pos = r.body, r.pos
    if pos + 2 * count <= len(body):  # all here: no short read can interrupt the checks
        for k in range(pos, pos + 2 * count, 2):
            zone = _lookup(_ZONE_BY_CODE, body[k], "airbag zone")
            if zone in seen:
                raise _Bad(NakCode.BAD_VALUE, f"airbag zone {zone.value} listed twice")
            seen.add(zone)
            airbags.append((zone, body[k + 1]))
        r.pos = pos + 2 * count
    else:
        for _ in range(count):
            zone = _read_zone(r, seen, "airbag zone")
            airbags.append((zone, r.u8()))
    return tuple(airbags)


#: Airbag pressure lists already decoded, by their bytes (steady once bags have filled).
_PRESSURES_BY_BYTES: dict[bytes, tuple[tuple[Zone, float], ...]] = {}


def _read_status(r: _Reader) -> Status:
    """STATUS as the host reads it (section 5.7). A frame is used whole even when a part
    of it cannot be: reserved flag bits are ignored, a reading outside its range is taken
    as unknown (a roller position above 1000) or left out (a pressure for a zone code that
    is not in the table, or for a zone already given), and a fault text that is not UTF-8
    is shown with replacement characters. Only the running flag and the state block must
    be right."""
    flags = r.u8()
    state = _read_state(r)
    body, pos = r.body, r.pos
    if pos + _READINGS.size <= len(body):
        roller_raw, temp_raw, remaining_raw, count = _READINGS.unpack_from(body, pos)
        r.pos = pos + _READINGS.size
    else:  # short: read field by field, to fail where it ends
        roller_raw = r.u16()
        temp_raw = r.i16()
        remaining_raw = r.u16()
        count = r.u8()
    if roller_raw > 1000:  # 0xFFFF says unknown; anything else above 1000 is not a reading
        roller_raw = UNKNOWN_U16
    if count > len(ZONE_CODES):
        raise _Bad(NakCode.BAD_FRAME, f"{count} airbag pressures; at most {len(ZONE_CODES)}")
    pos = r.pos
    end = pos + 3 * count
    if end > len(body):
        raise _Bad(NakCode.BAD_FRAME, "body too short")
    key = body[pos:end]
    pressures = _PRESSURES_BY_BYTES.get(key)
    if pressures is None:
        seen: set[Zone] = set()
        found: list[tuple[Zone, float]] = []
        for k in range(pos, end, 3):
            zone = _ZONE_BY_CODE.get(body[k])
            if zone is None or zone in seen:
                continue  # one reading that cannot be used; the rest of the frame can
            seen.add(zone)
            found.append((zone, (body[k + 1] << 8 | body[k + 2]) / 10))
        pressures = tuple(found)
        if len(_PRESSURES_BY_BYTES) >= _MAX_CACHED:
            _PRESSURES_BY_BYTES.clear()
        _PRESSURES_BY_BYTES[key] = pressures
    # The fault text: its length byte, then the text (r.u8() and r.take(), inline).
    if end >= len(body):
        raise _Bad(NakCode.BAD_FRAME, "body too short")
    stop = end + 1 + body[end]
    if stop > len(body):
        raise _Bad(NakCode.BAD_FRAME, "body too short")
    fault = body[end + 1 : stop].decode("utf-8", errors="replace") if stop > end + 1 else None
    r.pos = stop
    return Status(  # positional, in Status's field order: a tenth cheaper than by keyword
        bool(flags & 0x01),  # running
        state,
        None if roller_raw == UNKNOWN_U16 else roller_raw / 1000,  # roller_position
        pressures,  # airbag_pressure
        None if temp_raw == UNKNOWN_TEMP else temp_raw / 10,  # heater_temp_c
        None if remaining_raw == UNKNOWN_U16 else remaining_raw,  # remaining_s
        fault,
    )


def _read_deadman(r: _Reader) -> int:
    ms = r.u16()
    if not MIN_DEADMAN_MS <= ms <= MAX_DEADMAN_MS:
        raise _Bad(NakCode.BAD_VALUE, f"deadman period {ms} ms out of range")
    return ms


def _read_version(r: _Reader) -> int:
    # Any value is a version number; one the device does not speak (0 included) is
    # answered NAK UNSUPPORTED by the device (section 8.1), not BAD_VALUE by the codec.
    return r.u8()


def _read_info(r: _Reader, seq: int) -> Info:
    """INFO as the host reads it: bits it does not know in a mask are ignored (5.2)."""
    version = _read_version(r)
    deadman = _read_deadman(r)
    zones = _zones_from_mask(r.u16() & _ZONE_BITS, "zones")
    techniques = _codes_from_mask(r.u8(), _TECHNIQUE_BY_CODE, "techniques")
    intensity_steps = r.u8()
    speed_steps = r.u8()
    widths = _codes_from_mask(r.u8(), _WIDTH_BY_CODE, "widths")
    airbag_zones = _zones_from_mask(r.u16() & _ZONE_BITS, "airbag zones")
    airbag_levels = r.u8()
    heat = _codes_from_mask(r.u8(), _HEAT_BY_CODE, "heat levels")
    timers = tuple(r.u16() for _ in range(r.u8()))
    model = r.text(MAX_MODEL_BYTES, "model")
    recline = tuple(r.text(MAX_NAME_BYTES, "recline motor name") for _ in range(r.u8()))
    programs = tuple(r.text(MAX_NAME_BYTES, "program name") for _ in range(r.u8()))
    caps = Capabilities(
        zones=zones,
        techniques=frozenset(techniques),
        intensity_steps=intensity_steps,
        speed_steps=speed_steps,
        widths=frozenset(widths),
        airbag_zones=airbag_zones,
        airbag_levels=airbag_levels,
        heat_levels=tuple(heat),
        recline_motors=recline,
        programs=programs,
        chair_timer_s=timers,
    )
    return Info(seq=seq, version=version, deadman_ms=deadman, model=model, capabilities=caps)


_STATUS = int(MsgType.STATUS)  # a plain int: compared once per frame


def decode_body(kind: int, seq: int, body: bytes) -> Message:
    """Parse one frame's TYPE, SEQ and BODY. Raises ValueError (with ``.code``) if refused."""
    r = _Reader(body if type(body) is bytes else bytes(body))
    msg: Message
    if kind == _STATUS:  # first: a chair sends ten a second
        msg = StatusReport(seq=seq, status=_read_status(r))
    elif kind == MsgType.HELLO:
        msg = Hello(seq=seq, version=_read_version(r), deadman_ms=_read_deadman(r))
    elif kind == MsgType.SET:
        msg = SetState(seq=seq, state=_read_state(r))
    elif kind == MsgType.STOP:
        msg = Stop(seq=seq)
    elif kind == MsgType.HEARTBEAT:
        msg = Heartbeat(seq=seq)
    elif kind == MsgType.GET_STATUS:
        msg = GetStatus(seq=seq)
    elif kind == MsgType.INFO:
        msg = _read_info(r, seq)
    elif kind == MsgType.ACK:
        msg = Ack(seq=seq)
    elif kind == MsgType.NAK:
        msg = Nak(seq=seq, code=_lookup(_NAK_BY_CODE, r.u8(), "NAK"))
    else:
        raise _Bad(NakCode.UNKNOWN_TYPE, f"unknown type 0x{kind:02X}")
    r.end()
    return msg


@dataclass(frozen=True)
class Rejected:
    """A frame that arrived intact (CRC good) but could not be understood.

    A device answers it with ``Nak(seq, code)``.
    """

    type: int
    seq: int
    code: NakCode
    reason: str


_PENDING = None  # more bytes are needed to decide
_START_BYTE = bytes((START,))


def _unstuff(buf: bytes | bytearray, i: int, n: int) -> tuple[bytes, int] | str | None:
    """Read the candidate frame whose START is ``buf[i]``.

    Returns (LEN..CRC unstuffed, index after the frame) for an intact frame, a
    reason string if no frame can start at ``i``, or None if ``buf[:n]`` ends
    before that can be told.
    """
    # Fast path, the usual case: the whole frame is here and nothing in it is escaped
    # (no START or ESC after the START). The byte-by-byte loop below would read the
    # same bytes and make the same checks in the same order.
    if i + 1 < n:
        length = buf[i + 1]
        if length < 2:
            return "LEN below 2"
        end = i + length + 4  # START, LEN, TYPE..BODY (``length`` bytes), CRC (2)
        if end <= n and buf.find(START, i + 1, end) < 0 and buf.find(ESC, i + 1, end) < 0:
            lo, hi = LEN_RANGE.get(buf[i + 2], (2, MAX_LEN))
            if not lo <= length <= hi:
                return "impossible LEN for TYPE"
            inner = bytes(buf[i + 1 : end])
            if crc_hqx(inner[:-2], 0xFFFF) != (inner[-2] << 8 | inner[-1]):
                return "bad CRC"
            return inner, end
    out = bytearray()
    need = 3  # LEN, TYPE, then (once LEN is known) everything up to the CRC
    j = i + 1
    while len(out) < need:
        if j >= n:
            return _PENDING
        b = buf[j]
        if b == START:
            return "cut short by a new START"
        if b == ESC:
            if j + 1 >= n:
                return _PENDING
            b = buf[j + 1] ^ ESC_XOR
            if b not in (START, ESC):
                return "bad escape"
            j += 2
        else:
            j += 1
        out.append(b)
        if len(out) == 1 and b < 2:
            return "LEN below 2"
        if len(out) == 2:
            lo, hi = LEN_RANGE.get(b, (2, MAX_LEN))
            if not lo <= out[0] <= hi:
                return "impossible LEN for TYPE"
            need = 1 + out[0] + 2
    if crc16(out[:-2]) != (out[-2] << 8 | out[-1]):
        return "bad CRC"
    return bytes(out), j


class Decoder:
    """Incremental frame decoder: any split of a byte stream gives the same messages.

    It never raises, and holds at most one incomplete frame (< MAX_FRAME bytes).
    """

    #: Rejections kept for :meth:`take_rejected` (older ones are forgotten).
    MAX_REJECTED = 64

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0  # bytes discarded while resynchronising
        self.bad_frames = 0  # bad CRC / impossible length / unknown type / undecodable body
        self.frames = 0  # messages decoded
        self._rejected: list[Rejected] = []

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (always < MAX_FRAME)."""
        return len(self._buf)

    def take_rejected(self) -> list[Rejected]:
        """Intact frames refused since the last call (for a device to NAK)."""
        out, self._rejected = self._rejected, []
        return out

    def _reject(self, kind: int, seq: int, code: NakCode, reason: str) -> None:
        self.bad_frames += 1
        if len(self._rejected) < self.MAX_REJECTED:
            self._rejected.append(Rejected(kind, seq, code, reason))

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message completed by them, in order. Never raises."""
        if not self._buf and type(data) is bytes and data[:1] == _START_BYTE:
            # The usual case on a link that delivers whole frames (ten STATUS a second):
            # nothing held, and ``data`` is one intact frame that decodes. Read in place,
            # without going through the buffer; anything else takes the general path
            # below, which reads it again and does the accounting.
            found = _unstuff(data, 0, len(data))
            if type(found) is tuple and found[1] == len(data):
                inner = found[0]
                try:
                    msg = decode_body(inner[1], inner[2], inner[3:-2])
                except Exception:  # noqa: BLE001 - refused: the general path records it
                    pass
                else:
                    self.frames += 1
                    return [msg]
        try:
            self._buf += data
        except Exception:  # not bytes-like: nothing to decode
            return []
        buf = self._buf
        out: list[Message] = []
        i = 0
        n = len(buf)
        while i < n:
            start = buf.find(START, i)
            if start < 0:
                self.dropped += n - i
                i = n
                break
            self.dropped += start - i
            i = start
            found = _unstuff(buf, i, n)
            if found is _PENDING:
                break
            if isinstance(found, str):  # not a frame: drop this START only and rescan
                self.bad_frames += 1
                self.dropped += 1
                i += 1
                continue
            inner, i = found
            kind, seq, body = inner[1], inner[2], inner[3:-2]
            try:
                msg = decode_body(kind, seq, body)
            except _Bad as bad:
                self._reject(kind, seq, bad.code, bad.reason)
                continue
            except Exception as exc:  # belt and braces: never raise on input
                self._reject(kind, seq, NakCode.BAD_FRAME, f"undecodable body: {exc}")
                continue
            self.frames += 1
            out.append(msg)
        del buf[:i]
        if len(buf) >= MAX_FRAME:  # cannot happen by construction; keep the bound anyway
            self.dropped += len(buf)
            buf.clear()
        return out


def describe(msg: Message) -> str:
    """One line for logs and the CLI's --verbose."""
    name = _TYPE_OF[type(msg)].name
    if isinstance(msg, Nak):
        return f"{name} seq={msg.seq} code={msg.code.name}"
    if isinstance(msg, Hello):
        return f"{name} seq={msg.seq} v{msg.version} deadman={msg.deadman_ms}ms"
    if isinstance(msg, Info):
        return f"{name} seq={msg.seq} v{msg.version} model={msg.model!r} deadman={msg.deadman_ms}ms"
    return f"{name} seq={msg.seq}"
