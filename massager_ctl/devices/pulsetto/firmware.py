"""A Pulsetto's side of the Nordic UART link: how the stimulator reads what the host writes,
and the text it notifies back. Pure (no I/O).

Written for the simulator from the primary sources, not from massager-ctl's codec or driver,
so that a test of the driver against the simulator tests it against the sources:

* jooray/pulse-libre-desktop ``docs/PULSETTO_PROTOCOL.md``: commands are ASCII text ended by a
  newline; the command table (``+`` ramp up, ``-`` ramp down or stop, ``0``-``9`` intensity,
  ``A``/``C``/``D`` left/right/both, ``Q`` battery, ``u`` charging, ``v`` firmware, ``i``
  identity, ``E``/``F``/``G`` LED low/medium/high, ``U`` reboot to the DFU bootloader); the
  replies: ``Batt:3.97``, ``u`` + 0x01 + ``1``/``0`` for charging or not, ``fw:1.1.22``, an
  identity such as ``Pulsetto_ST_02``.
* jooray/pulse-libre-desktop ``main.py``: 3.5 V is an empty battery, 3.9 V a full one (its
  constants, "from official APK").

What the sources leave open is the simulator's choice, marked SIM: a carriage return before
the newline is ignored, so is an empty line; a line longer than :data:`LONGEST_LINE` is
dropped; every reply ends with a newline (the reference app strips what it receives, so
either works).
"""

from __future__ import annotations

from dataclasses import dataclass

NEWLINE = 0x0A
#: SIM: a line this long without its newline is noise; it is dropped whole.
LONGEST_LINE = 32

#: The battery's range (main.py): the app shows 0 % at 3.5 V and 100 % at 3.9 V.
EMPTY_V = 3.5
FULL_V = 3.9

SIDES = {"A": "left", "C": "right", "D": "both"}
LEDS = {"E": "low", "F": "medium", "G": "high"}

#: SIM: what the simulated unit says of itself (the sources' examples).
FIRMWARE = "1.1.22"
IDENTITY = "Pulsetto_ST_02"


class HostLines:
    """The stimulator's receive buffer: bytes in, whole command lines out."""

    def __init__(self) -> None:
        self._pending = b""
        self.garbled = 0  # lines dropped: not ASCII, or too long

    def take(self, data: bytes) -> list[str]:
        """The lines ``data`` completes (without their newline), in order."""
        lines: list[str] = []
        self._pending += bytes(data)
        while (end := self._pending.find(NEWLINE)) >= 0:
            raw, self._pending = self._pending[:end], self._pending[end + 1 :]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw:
                continue  # SIM: an empty line is nothing to act on
            if raw.isascii() and len(raw) <= LONGEST_LINE:
                lines.append(raw.decode("ascii"))
            else:
                self.garbled += 1
        if len(self._pending) > LONGEST_LINE:
            self._pending = b""
            self.garbled += 1
        return lines


# --------------------------------------------------------------------------- host -> device


@dataclass(frozen=True)
class RampUp:
    pass


@dataclass(frozen=True)
class RampDown:
    pass


@dataclass(frozen=True)
class Level:
    level: int  # 0 pauses the output


@dataclass(frozen=True)
class ChooseSide:
    side: str  # left, right, both


@dataclass(frozen=True)
class ChooseLed:
    led: str  # the command letter: E, F or G


@dataclass(frozen=True)
class Ask:
    what: str  # battery, charging, firmware, identity


@dataclass(frozen=True)
class EnterDfu:
    pass


@dataclass(frozen=True)
class Unknown:
    text: str


Command = RampUp | RampDown | Level | ChooseSide | ChooseLed | Ask | EnterDfu | Unknown

_ASKS = {"Q": "battery", "u": "charging", "v": "firmware", "i": "identity"}


def read_command(line: str) -> Command:
    """What one line from the host tells the stimulator."""
    if line == "+":
        return RampUp()
    if line == "-":
        return RampDown()
    if len(line) == 1 and "0" <= line <= "9":
        return Level(ord(line) - ord("0"))
    if line in SIDES:
        return ChooseSide(SIDES[line])
    if line in LEDS:
        return ChooseLed(line)
    if line in _ASKS:
        return Ask(_ASKS[line])
    if line == "U":
        return EnterDfu()
    return Unknown(line)


# --------------------------------------------------------------------------- device -> host


def _line(text: bytes) -> bytes:
    return text + b"\n"


def battery_reply(volts: float) -> bytes:
    """``Batt:3.97``: the cell's voltage, two decimals."""
    return _line(b"Batt:%.2f" % volts)


def charging_reply(charging: bool) -> bytes:
    """``u``, the byte 0x01, then ``1`` (charging) or ``0``."""
    return _line(b"u\x01" + (b"1" if charging else b"0"))


def firmware_reply(version: str = FIRMWARE) -> bytes:
    return _line(b"fw:" + version.encode("ascii"))


def identity_reply(identity: str = IDENTITY) -> bytes:
    return _line(identity.encode("ascii"))
