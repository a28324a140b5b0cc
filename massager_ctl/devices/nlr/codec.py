"""Next Level Racing HF8 haptic seat pad: the line protocol. Pure: no I/O, no asyncio.

Facts (buttplugio/docs.buttplug.io ``stpihkal/protocols/next-level-racing/index.md``;
the pad speaks ASCII lines over USB CDC,
115200 baud, 8 data bits, no parity, 1.5 stop bits, no handshake):

* ``M<motor><level>\\r`` sets one motor: motor is one digit 0-7, level a
  decimal 0-255 written without padding (``M3128\\r`` = motor 3, level 128).
  Because the motor is always one digit the two numbers never run together.
* ``P\\r`` queries the pad.

UNSURE (marked so wherever used):

* The reply to ``P``: ``E<scale>,A<audio>`` (the pad's overall intensity
  scale 0-255, audio mode 0/1) per the docs page and its source,
  docs.buttplug.io issue 36; not checked on hardware. It does **not** report
  motor levels. The line end of replies is given by no source (and buttplug,
  the one working client, never reads from the pad), so :class:`LineSplitter`
  accepts ``\\r``, ``\\n`` and ``\\r\\n``, and :meth:`LineSplitter.flush`
  lets the driver take a reply with no line end at all after a quiet time.
* Whether the pad answers ``M`` lines at all (we expect nothing) and what it
  does with a bad line (the simulator ignores it and counts it).
* Which motor sits where (see ``MOTOR_POSITIONS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MOTORS = 8
MAX_LEVEL = 255
TERMINATOR = b"\r"
#: Longest line either side sends; anything longer is garbage and is skipped.
MAX_LINE = 32

#: Motor -> where it sits: the docs page's layout, in the order buttplugio/buttplug's device config
#: (``device-config-v4/protocols/nextlevelracing.yml``) names its eight motors. UNSURE: not
#: checked on hardware.
#: Even motors are on the right, odd on the left, in rows from the thighs up.
MOTOR_POSITIONS: tuple[str, ...] = (
    "right thigh",
    "left thigh",
    "right buttock",
    "left buttock",
    "right back",
    "left back",
    "right shoulder",
    "left shoulder",
)


def _check_int(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is outside {low}..{high}")
    return value


def motor_command(motor: int, level: int) -> bytes:
    """``M<motor><level>\\r``. Raises ValueError for a motor outside 0-7 or a level outside 0-255."""
    _check_int(motor, 0, MOTORS - 1, "motor")
    _check_int(level, 0, MAX_LEVEL, "level")
    return b"M%d%d\r" % (motor, level)


QUERY = b"P\r"


def query_command() -> bytes:
    return QUERY


def all_off() -> tuple[bytes, ...]:
    """Every motor to 0: the pad's stop (there is no single stop command)."""
    return tuple(motor_command(m, 0) for m in range(MOTORS))


# ------------------------------------------------------------------ messages


@dataclass(frozen=True)
class SetMotor:
    """Host -> pad."""

    motor: int
    level: int


@dataclass(frozen=True)
class Query:
    """Host -> pad."""


@dataclass(frozen=True)
class PadInfo:
    """Pad -> host, the answer to ``P``. UNSURE format (see the module docstring)."""

    intensity_scale: int  # 0-255, the pad's overall scale
    audio_mode: bool  # the pad follows audio itself


@dataclass(frozen=True)
class BadLine:
    """A line that is not what it should be (kept for counting and messages)."""

    text: str
    reason: str


_MOTOR_RE = re.compile(rb"M([0-9])([0-9]{1,3})")
_INFO_RE = re.compile(rb"E([0-9]{1,3}),A([01])")


def _show(line: bytes) -> str:
    return line.decode("ascii", "backslashreplace")


def parse_command(line: bytes) -> SetMotor | Query | BadLine:
    """One line from the host, without its terminator (the pad's side). Never raises.

    The codec's round-trip check; the simulator reads with its own devices/nlr/firmware.py."""
    line = line.strip(b" \n")
    if line == b"P":
        return Query()
    m = _MOTOR_RE.fullmatch(line)
    if m is None:
        return BadLine(_show(line), "not M<motor><level> or P")
    motor, level = int(m.group(1)), int(m.group(2))
    if motor >= MOTORS:
        return BadLine(_show(line), f"motor {motor} is outside 0..{MOTORS - 1}")
    if level > MAX_LEVEL:
        return BadLine(_show(line), f"level {level} is outside 0..{MAX_LEVEL}")
    return SetMotor(motor, level)


def encode_info(info: PadInfo) -> bytes:
    """The pad's answer to ``P``, for the codec's round-trip check (the simulator builds its
    own in devices/nlr/firmware.py). UNSURE format; ends with ``\\r``."""
    _check_int(info.intensity_scale, 0, MAX_LEVEL, "intensity scale")
    return b"E%d,A%d\r" % (info.intensity_scale, 1 if info.audio_mode else 0)


def parse_reply(line: bytes) -> PadInfo | BadLine:
    """One line from the pad, without its terminator (the host's side). Never raises."""
    line = line.strip(b" ")
    m = _INFO_RE.fullmatch(line)
    if m is None:
        return BadLine(_show(line), "not an E<scale>,A<audio> reply")
    scale = int(m.group(1))
    if scale > MAX_LEVEL:
        return BadLine(_show(line), f"scale {scale} is outside 0..{MAX_LEVEL}")
    return PadInfo(scale, m.group(2) == b"1")


class LineSplitter:
    """Cuts a byte stream into lines. Incremental; never raises.

    ``terminators`` end a line (empty lines are skipped, so ``\\r\\n`` is one
    end). A line growing past ``max_line`` without an end is garbage: it is
    dropped (counted in :attr:`dropped`) up to the next terminator.
    """

    def __init__(self, terminators: bytes = b"\r\n", max_line: int = MAX_LINE) -> None:
        self.terminators = frozenset(terminators)
        self.max_line = max_line
        self.dropped = 0  # bytes thrown away as overlong lines
        self.lines = 0  # lines returned
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for byte in data:
            if byte in self.terminators:
                if self._skipping:
                    self._skipping = False
                elif self._buf:
                    out.append(bytes(self._buf))
                    self.lines += 1
                self._buf.clear()
                continue
            if self._skipping:
                self.dropped += 1
                continue
            self._buf.append(byte)
            if len(self._buf) > self.max_line:
                self.dropped += len(self._buf)
                self._buf.clear()
                self._skipping = True
        return out

    def flush(self) -> list[bytes]:
        """The line waiting for its end, taken as whole (a reply sent without a line end:
        the caller decides, after a quiet time, that nothing more is coming)."""
        if self._skipping or not self._buf:
            self._skipping = False
            self._buf.clear()
            return []
        line = bytes(self._buf)
        self._buf.clear()
        self.lines += 1
        return [line]

    @property
    def pending(self) -> int:
        """Bytes waiting for their line's end."""
        return len(self._buf)
