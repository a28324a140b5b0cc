"""Pulsetto neck stimulator (Lite, Fit) codec: ASCII commands, pure, no I/O.

Facts (high confidence; sources: jooray/pulse-libre-desktop ``docs/PULSETTO_PROTOCOL.md``
and its ``main.py``, a re-implementation of the vendor app; see docs/devices.md):

* every command is ASCII text ending in ``"\\n"``;
* ``+`` and ``-`` are written with response, everything else without;
* intensity ``0``-``9``; side ``A`` left, ``C`` right, ``D`` both;
  ``Q`` battery, ``u`` charging, ``v``/``i`` version and identity,
  ``E``/``F``/``G`` LED level (low, medium, high);
* start: ``+``, ``-``, wait 250 ms, ``0``, wait 450, ``5``, wait 450, ``0``,
  wait 450, the target level, wait 250, the side, then an LED command;
* stop: ``+``, ``-``, ``-``, all with response, no waits;
* battery reply like ``Batt:3.97``: 3.5 V is 0 %, 3.9 V is 100 %.

The waits are part of the sequences (:class:`Step` ``wait_s``: the wait after that
step); the driver sleeps them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

TERMINATOR = b"\n"
MAX_INTENSITY = 9
#: The wait after each step of the start sequence: +, -, 0, 5, 0, level, side, LED.
START_WAITS_S = (0.0, 0.25, 0.45, 0.45, 0.45, 0.25, 0.0, 0.0)
#: The LED command that ends a start sequence: E low (the least distracting), F, G.
LED_LEVELS = ("E", "F", "G")
DEFAULT_LED = "E"
BATTERY_EMPTY_V = 3.5
BATTERY_FULL_V = 3.9
WITH_RESPONSE = frozenset({"+", "-"})
#: Longest reply line kept while waiting for its end (garbage beyond is dropped).
MAX_LINE = 64


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"

    @property
    def code(self) -> str:
        return {"left": "A", "right": "C", "both": "D"}[self.value]

    @classmethod
    def from_code(cls, code: str) -> Side | None:
        return {"A": cls.LEFT, "C": cls.RIGHT, "D": cls.BOTH}.get(code)


@dataclass(frozen=True)
class Step:
    """One command of a sequence: its bytes, write mode, and the wait after it."""

    text: str
    wait_s: float = 0.0

    @property
    def data(self) -> bytes:
        return encode(self.text)

    @property
    def response(self) -> bool:
        return needs_response(self.text)


def encode(text: str) -> bytes:
    if not text or "\n" in text or not text.isascii():
        raise ValueError(f"not a Pulsetto command: {text!r}")
    return text.encode("ascii") + TERMINATOR


def needs_response(text: str) -> bool:
    """``+`` and ``-`` are written with response; all others without."""
    return text in WITH_RESPONSE


def intensity_command(level: int) -> str:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= MAX_INTENSITY:
        raise ValueError(f"Pulsetto intensity must be 0..{MAX_INTENSITY}, not {level!r}")
    return str(level)


BATTERY_QUERY = "Q"
CHARGING_QUERY = "u"
VERSION_QUERY = "v"


def start_sequence(level: int, side: Side, led: str = DEFAULT_LED) -> tuple[Step, ...]:
    """``+``, ``-``, 0, 5, 0, ``level``, side, LED, with the vendor app's waits
    (:data:`START_WAITS_S`: 0, 250, 450, 450, 450, 250 ms, then none)."""
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError("a start sequence needs an intensity of at least 1")
    if led not in LED_LEVELS:
        raise ValueError(f"LED level {led!r}: use one of {', '.join(LED_LEVELS)}")
    texts = ["+", "-", "0", "5", "0", intensity_command(level), side.code, led]
    return tuple(Step(t, w) for t, w in zip(texts, START_WAITS_S, strict=True))


def stop_sequence() -> tuple[Step, ...]:
    """``+``, ``-``, ``-``: each with response, no waits (the vendor app's endSession)."""
    return tuple(Step(t) for t in ("+", "-", "-"))


_BATTERY = re.compile(r"^Batt:\s*(\d+(?:\.\d+)?)\s*$")


def parse_battery(line: str) -> float | None:
    """Volts from a ``Batt:3.97`` line, or None if the line is not one."""
    m = _BATTERY.match(line.strip())
    return float(m.group(1)) if m else None


def battery_percent(volts: float) -> int:
    """3.5 V -> 0 %, 3.9 V -> 100 %, linear in between, clamped."""
    share = (volts - BATTERY_EMPTY_V) / (BATTERY_FULL_V - BATTERY_EMPTY_V)
    return round(100 * min(1.0, max(0.0, share)))


class LineDecoder:
    """Reply text split into lines (``\\n`` or ``\\r``). Never raises.

    Bytes that are not printable ASCII are dropped (counted); a line longer
    than :data:`MAX_LINE` is dropped whole. :meth:`flush` returns an unfinished
    line (a reply sent without its newline).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self.dropped = 0
        self.lines = 0

    def feed(self, data: bytes) -> list[str]:
        out: list[str] = []
        for b in bytes(data):
            if b in (0x0A, 0x0D):
                out.extend(self._end_line())
            elif 0x20 <= b < 0x7F:
                if len(self._buf) >= MAX_LINE:
                    self._overflow = True
                    self.dropped += 1
                else:
                    self._buf.append(b)
            else:
                self.dropped += 1
        return out

    def flush(self) -> list[str]:
        return self._end_line()

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def _end_line(self) -> list[str]:
        line, self._buf = self._buf.decode("ascii"), bytearray()
        overflow, self._overflow = self._overflow, False
        if overflow:
            self.dropped += len(line)
            return []
        line = line.strip()
        if not line:
            return []
        self.lines += 1
        return [line]
