"""A Theragun's side of the FFE0 link: how the gun reads what the host writes, and what it
notifies back. Pure (no I/O).

Written for the simulator from the primary sources, not from massager-ctl's codec or driver,
so that a test of the driver against the simulator tests it against the sources:

* buttplugio/stpihkal issue 127 ("Document Theragun protocol"): the vendor app, decompiled -
  its checksum, its speed, version and status requests, and how it reads a notification
  (head ``0xBB``, checksum over everything after it, a status when byte 2 is ``0x10``:
  running at byte 4, the speed at 13-14; the text stops there).
* buttplugio/docs.buttplug.io ``stpihkal/protocols/theragun/index.md``: the models, their
  lowest firmware and rpm ranges; the 4-byte speed form the app uses for the Wave rollers;
  the version reply (byte 2 ``0x20``, a number at 12-13 read as ``major*100 + minor*10 +
  patch``).

What the sources leave open is the simulator's choice, marked SIM: what the gun does with a
frame it cannot use (it is dropped here, unanswered), the bytes of a reply the app does not
read (zeros), a speed above the model's range (refused).
"""

from __future__ import annotations

from dataclasses import dataclass

#: First byte of what the app writes, and of what the gun notifies.
FROM_HOST = 0xAA
FROM_GUN = 0xBB

#: Byte 2 of a reply (the first byte its checksum covers): what kind of reply it is.
OP_STATUS = 0x10
OP_VERSION = 0x20

#: The Gen 4 guns (the docs' device table): top speed in rpm, lowest firmware.
TOP_RPM = {"theragun-pro": 3616, "theragun-elite": 3616, "theragun-prime": 3584}
LOWEST_FIRMWARE = {"theragun-pro": (2, 1, 6), "theragun-elite": (2, 1, 6), "theragun-prime": (2, 0, 4)}

#: Where the app reads a reply's fields (whole-frame offsets).
AT_KIND = 2
AT_RUNNING = 4
AT_SPEED = 13  # and 14: high byte first
AT_VERSION = 12  # and 13: high byte first


def sum8(data: bytes) -> int:
    """The app's checksum: the bytes added up, kept to their low eight bits."""
    total = 0
    for b in data:
        total = (total + b) & 0xFF
    return total


# --------------------------------------------------------------------------- host -> gun


@dataclass(frozen=True)
class SetRpm:
    """The app's speed frame for a Gen 4 gun: spin at ``rpm`` (0: the motor stops)."""

    rpm: int


@dataclass(frozen=True)
class WaveSpeed:
    """The app's 4-byte speed frame (``AA 04 01 03``), used for the Wave rollers: no rpm."""


@dataclass(frozen=True)
class AskVersion:
    pass


@dataclass(frozen=True)
class AskStatus:
    pass


@dataclass(frozen=True)
class Unknown:
    """A frame with a good head and checksum that the sources do not describe."""

    payload: bytes


@dataclass(frozen=True)
class Garbled:
    """Not a frame the gun takes: wrong head, too short, or a checksum that does not add up."""

    why: str


HostFrame = SetRpm | WaveSpeed | AskVersion | AskStatus | Unknown | Garbled


def read_host_frame(data: bytes) -> HostFrame:
    """What the gun makes of one write from the host."""
    frame = bytes(data)
    if len(frame) < 3:
        return Garbled(f"{len(frame)} bytes is too short")
    if frame[0] != FROM_HOST:
        return Garbled(f"head {frame[0]:#04x}, not {FROM_HOST:#04x}")
    payload = frame[2:]
    if sum8(payload) != frame[1]:
        return Garbled(f"checksum {frame[1]:#04x}, the bytes add up to {sum8(payload):#04x}")
    match tuple(payload):
        case (0x01, 0x03, hi, lo, 0x03):  # setSpeed, mode 1: rpm high byte first, then 03
            return SetRpm(hi << 8 | lo)
        case (0x01, 0x03) | (0x01, 0x03, 0x00, 0x00, 0x00):
            # setSpeed, any other mode: the checksum covers 01 03 only; the app still
            # sends its 7-byte array (zeros after), the docs page 4 bytes
            return WaveSpeed()
        case (0x20, 0x00):  # requestVersion
            return AskVersion()
        case (0x10, 0x00):  # requestStatus
            return AskStatus()
        case _:
            return Unknown(payload)


# --------------------------------------------------------------------------- gun -> host


def notification(payload: bytes) -> bytes:
    """A frame from the gun: ``BB``, the checksum of ``payload``, then ``payload``."""
    return bytes((FROM_GUN, sum8(payload))) + payload


def status_notification(running: bool, rpm: int) -> bytes:
    """The reply to the status request: 15 bytes, so that the app finds the kind at 2, running
    at 4 and the speed at 13-14. Bytes 3 and 5-12 are not read by the app: zeros (SIM)."""
    frame = bytearray(15)
    frame[AT_KIND] = OP_STATUS
    frame[AT_RUNNING] = 1 if running else 0
    frame[AT_SPEED : AT_SPEED + 2] = max(0, min(rpm, 0xFFFF)).to_bytes(2, "big")
    return notification(bytes(frame[2:]))


def version_number(version: tuple[int, int, int]) -> int:
    """``(2, 1, 6)`` as the app reads it back: 216 (one digit each for minor and patch)."""
    major, minor, patch = version
    if not (0 <= minor <= 9 and 0 <= patch <= 9 and 0 <= major * 100 + minor * 10 + patch <= 0xFFFF):
        raise ValueError(f"version {version} does not fit the reply")
    return major * 100 + minor * 10 + patch


def version_notification(version: tuple[int, int, int]) -> bytes:
    """The reply to the version query: 14 bytes, the kind at 2 and the number at 12-13.
    Bytes 3-11 are not read by the app: zeros (SIM)."""
    frame = bytearray(14)
    frame[AT_KIND] = OP_VERSION
    frame[AT_VERSION : AT_VERSION + 2] = version_number(version).to_bytes(2, "big")
    return notification(bytes(frame[2:]))
