"""Pulsetto neck stimulator (Lite, Fit) codec: ASCII commands, pure, no I/O.

Facts (high confidence; see docs/devices.md):

* every command is ASCII text ending in ``"\\n"``;
* ``+`` and ``-`` are written with response, everything else without;
* intensity ``0``-``9``; side ``A`` left, ``C`` right, ``D`` both;
  ``Q`` battery, ``u`` charging, ``v``/``i`` version and identity,
  ``E``/``F``/``G`` LED level;
* start: ``+``, ``-``, then intensity 0 -> 5 -> 0 -> target, with waits of
  250-450 ms, then the side; stop: ``+``, ``-``, ``-``;
* battery reply like ``Batt:3.97``: 3.5 V is 0 %, 3.9 V is 100 %.

The waits are part of the sequences (:class:`Step` ``wait_s``); the driver
sleeps them. UNSURE: whether waits are needed after ``+`` and ``-`` too; we
wait the same there, which costs little.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

TERMINATOR = b"\n"
MAX_INTENSITY = 9
#: The wait between the steps of a start sequence (inside the documented 250-450 ms).
STEP_WAIT_S = 0.35
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


def start_sequence(level: int, side: Side, wait_s: float = STEP_WAIT_S) -> tuple[Step, ...]:
    """``+``, ``-``, 0, 5, 0, ``level``, side: each followed by ``wait_s`` but the last."""
    if level < 1:
        raise ValueError("a start sequence needs an intensity of at least 1")
    texts = ["+", "-", "0", "5", "0", intensity_command(level), side.code]
    return tuple(Step(t, wait_s if i < len(texts) - 1 else 0.0) for i, t in enumerate(texts))


def stop_sequence(wait_s: float = STEP_WAIT_S) -> tuple[Step, ...]:
    texts = ["+", "-", "-"]
    return tuple(Step(t, wait_s if i < len(texts) - 1 else 0.0) for i, t in enumerate(texts))


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
