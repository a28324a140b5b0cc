"""A serial line's settings, as plain data (baud rate, data bits, parity, stop bits, flow
control, line ending).

Model definitions import this module, not :mod:`.serial` (which re-exports it): listing
the models must not load asyncio, threads or pyserial (the CLI's read commands start fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARITIES = {"N": "none", "E": "even", "O": "odd", "M": "mark", "S": "space"}
STOPBITS = (1, 1.5, 2)
BYTESIZES = (5, 6, 7, 8)
#: Baud rates beyond this are refused as typos (fast USB-UARTs reach a few Mbaud).
MAX_BAUDRATE = 12_000_000


@dataclass(frozen=True)
class SerialSettings:
    """A serial line's settings, all of them (not just the baud rate)."""

    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"  # N, E, O, M, S
    stopbits: float = 1  # 1, 1.5 or 2
    xonxoff: bool = False  # software flow control
    rtscts: bool = False  # hardware flow control
    #: How the device's text lines end (None for binary framing). The codec adds it to
    #: every command; the transport passes bytes through unchanged. Kept here so docs,
    #: `scan` and people with a terminal program see the whole line setup in one place.
    line_terminator: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.baudrate, bool) or not isinstance(self.baudrate, int):
            raise ValueError(f"baud rate must be a whole number, not {self.baudrate!r}")
        if not 50 <= self.baudrate <= MAX_BAUDRATE:
            raise ValueError(f"baud rate {self.baudrate} is outside 50..{MAX_BAUDRATE}")
        if self.bytesize not in BYTESIZES:
            raise ValueError(f"data bits must be one of 5, 6, 7, 8, not {self.bytesize!r}")
        if self.parity not in PARITIES:
            raise ValueError(f"parity must be one of {', '.join(PARITIES)}, not {self.parity!r}")
        if self.stopbits not in STOPBITS:
            raise ValueError(f"stop bits must be 1, 1.5 or 2, not {self.stopbits!r}")

    @property
    def bits_per_byte(self) -> float:
        """Bits on the wire per byte: start bit, data bits, parity bit, stop bits."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    def wire_time_s(self, nbytes: int) -> float:
        """How long ``nbytes`` take on the wire at this baud rate (no gaps)."""
        return nbytes * self.bits_per_byte / self.baudrate

    def describe(self) -> str:
        """Like ``115200 8N1.5, no flow control, lines end with \\r``."""
        stop = f"{self.stopbits:g}"
        flow = [name for name, on in (("RTS/CTS", self.rtscts), ("XON/XOFF", self.xonxoff)) if on]
        text = f"{self.baudrate} {self.bytesize}{self.parity}{stop}, "
        text += f"{' + '.join(flow)} flow control" if flow else "no flow control"
        if self.line_terminator:
            text += f", lines end with {self.line_terminator.decode('ascii', 'replace')!r}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "xonxoff": self.xonxoff,
            "rtscts": self.rtscts,
            "line_terminator": self.line_terminator.decode("ascii", "replace")
            if self.line_terminator
            else None,
        }

    def pyserial_kwargs(self) -> dict[str, Any]:
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "xonxoff": self.xonxoff,
            "rtscts": self.rtscts,
        }


#: The native protocol's line (docs/protocol.md): 115200 8N1, no flow control.
NATIVE_SERIAL = SerialSettings()
