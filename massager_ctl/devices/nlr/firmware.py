"""The HF8 pad's side of its USB serial line: how the pad reads what the host writes, and the
line it answers a state query with. Pure (no I/O).

Written for the simulator from the primary sources, not from massager-ctl's codec or driver,
so that a test of the driver against the simulator tests it against the sources:

* buttplugio/docs.buttplug.io ``stpihkal/protocols/next-level-racing/index.md``: a USB CDC
  serial device (115200 baud, 8 data bits, no parity, 1.5 stop bits, no handshake) whose
  commands end with a carriage return. ``M``, the motor (0-7), the intensity (0-255) sets one
  motor; ``P`` asks for the pad's state and is answered with ``E``, the intensity scale
  (0-255), ``,A`` and the audio mode (0 off, 1 on). The motors, 0 to 7: right thigh, left
  thigh, right buttock, left buttock, right back, left back, right shoulder, left shoulder.
* buttplugio/docs.buttplug.io issue 36 (the page's source): the same commands and layout, and
  the vendor app's port settings, among them its line end (``NewLine``), a carriage return.
* buttplugio/buttplug ``buttplug/src/server/device/protocol/nextlevelracing.rs``: the one open
  client writes the motor and the level as plain decimal numbers straight after the ``M``
  (no padding, no separator), then a carriage return; it never reads from the pad.
* buttplugio/buttplug ``buttplug/buttplug-device-config/device-config-v4/protocols/nextlevelracing.yml``:
  eight vibration outputs with steps 0-255, named in the page's order.

What the sources leave open is the simulator's choice, marked SIM:

* the answer to ``P`` ends with a carriage return (the only line end the sources name; none
  says what the pad puts after its answer);
* line feeds and spaces around a command are ignored (a terminal program sends CR LF), and so
  is an empty line;
* the level has at most three digits; a command that is neither form, a motor above 7 or a
  level above 255 is refused whole: nothing is clamped, the motor keeps its level, and
  nothing is answered (what the real pad does with such a line is not known);
* an ``M`` command is not answered (no source shows an answer);
* a line that runs past :data:`LONGEST_LINE` without its carriage return is noise: it is
  dropped up to the next carriage return.
"""

from __future__ import annotations

from dataclasses import dataclass

CR = 0x0D
#: SIM: a line longer than this is noise (a motor command is at most 5 characters).
LONGEST_LINE = 32

#: The motors, by number (the docs page and the device config): (side, part of the body).
LAYOUT: tuple[tuple[str, str], ...] = (
    ("right", "thigh"),
    ("left", "thigh"),
    ("right", "buttock"),
    ("left", "buttock"),
    ("right", "back"),
    ("left", "back"),
    ("right", "shoulder"),
    ("left", "shoulder"),
)
MOTORS = len(LAYOUT)
TOP_LEVEL = 255
TOP_SCALE = 255

#: Why a line is refused (the simulator counts them; the real pad's reaction is unknown).
NOT_A_COMMAND = "not M<motor><level> or P"


class HostLines:
    """The pad's receive buffer: bytes in, the command lines they complete out (without the
    carriage return). Never raises."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._noise = False  # inside a line that ran too long: drop up to its end
        self.garbled = 0  # lines dropped as too long

    def take(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        self._pending += data
        while (end := self._pending.find(CR)) >= 0:
            raw = bytes(self._pending[:end])
            del self._pending[: end + 1]
            if self._noise:
                self._noise = False
            elif len(raw) > LONGEST_LINE:
                self.garbled += 1
            elif raw:
                lines.append(raw)
        if len(self._pending) > LONGEST_LINE:
            if not self._noise:
                self.garbled += 1
            self._noise = True
            self._pending.clear()
        return lines


# --------------------------------------------------------------------------- host -> pad


@dataclass(frozen=True)
class SetLevel:
    """``M<motor><level>``: run one motor at a level (0: still)."""

    motor: int
    level: int


@dataclass(frozen=True)
class AskState:
    """``P``: the pad answers with its intensity scale and audio mode."""


@dataclass(frozen=True)
class Refused:
    """A line the pad does not act on: what it said (printable) and why."""

    text: str
    why: str


Command = SetLevel | AskState | Refused


def read_command(line: bytes) -> Command:
    """What one line from the host (without its carriage return) tells the pad."""
    body = line.strip(b" \n")
    if body == b"P":
        return AskState()
    text = body.decode("ascii", "backslashreplace")
    digits = body[1:]
    if body[:1] != b"M" or not 2 <= len(digits) <= 4 or not digits.isdigit():
        return Refused(text, NOT_A_COMMAND)
    motor, level = digits[0] - ord("0"), int(digits[1:])
    if motor >= MOTORS:
        return Refused(text, f"motor {motor} is outside 0..{MOTORS - 1}")
    if level > TOP_LEVEL:
        return Refused(text, f"level {level} is outside 0..{TOP_LEVEL}")
    return SetLevel(motor, level)


# --------------------------------------------------------------------------- pad -> host


def state_answer(scale: int, audio_mode: bool) -> bytes:
    """The answer to ``P``: ``E<scale>,A<0|1>`` and (SIM) a carriage return."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= TOP_SCALE:
        raise ValueError(f"intensity scale {scale!r} is outside 0..{TOP_SCALE}")
    return f"E{scale},A{int(bool(audio_mode))}\r".encode("ascii")
