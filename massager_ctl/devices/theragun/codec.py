"""Theragun (Pro, Elite, Prime) BLE codec: pure bytes, no I/O.

Facts (medium confidence: from the decompiled vendor app, replies only partly
decoded; see docs/devices.md):

* host -> gun frames: ``AA, checksum, body...``; the checksum is the low byte
  of the sum of the body (every byte after the checksum);
* speed: body ``01 03 rpm_hi rpm_lo 03`` (7-byte frame); 0 rpm stops the motor.
  1750 rpm -> ``AA E3 01 03 06 D6 03``;
* firmware version query: ``AA 20 20 00`` (body ``20 00``), written without
  response;
* gun -> host replies: ``BB, checksum, body...`` with the same checksum rule.
  UNSURE: what the body means beyond its first byte is not known.

Over BLE every notification is one reply, so :class:`ReplyDecoder` takes each
chunk it is fed as one frame candidate; anything that is not a valid reply is
counted and dropped (never raised).
"""

from __future__ import annotations

from dataclasses import dataclass

COMMAND = 0xAA
REPLY = 0xBB
SPEED_BODY_HEAD = bytes((0x01, 0x03))
SPEED_BODY_TAIL = 0x03
VERSION_BODY = bytes((0x20, 0x00))
MAX_RPM_FIELD = 0xFFFF


def checksum(body: bytes) -> int:
    """Low byte of the sum of ``body`` (the bytes after the checksum)."""
    return sum(body) & 0xFF


def frame(head: int, body: bytes) -> bytes:
    return bytes((head, checksum(body))) + bytes(body)


def speed_frame(rpm: int) -> bytes:
    """The 7-byte speed command for ``rpm`` (0 stops the motor)."""
    if isinstance(rpm, bool) or not isinstance(rpm, int):
        raise ValueError(f"rpm must be a whole number, not {rpm!r}")
    if not 0 <= rpm <= MAX_RPM_FIELD:
        raise ValueError(f"rpm {rpm} does not fit the speed frame (0..{MAX_RPM_FIELD})")
    return frame(COMMAND, SPEED_BODY_HEAD + rpm.to_bytes(2, "big") + bytes((SPEED_BODY_TAIL,)))


STOP_FRAME = speed_frame(0)
VERSION_QUERY = frame(COMMAND, VERSION_BODY)  # AA 20 20 00


@dataclass(frozen=True)
class Command:
    """A host frame as the gun reads it: a speed, the version query, or unknown."""

    kind: str  # "speed" | "version" | "other"
    rpm: int | None = None
    body: bytes = b""


def decode_command(data: bytes) -> Command | None:
    """A host -> gun frame, or None if it is not a valid one (bad head or checksum)."""
    data = bytes(data)
    if len(data) < 3 or data[0] != COMMAND or checksum(data[2:]) != data[1]:
        return None
    body = data[2:]
    if len(body) == 5 and body[:2] == SPEED_BODY_HEAD and body[4] == SPEED_BODY_TAIL:
        return Command("speed", int.from_bytes(body[2:4], "big"), body)
    if body == VERSION_BODY:
        return Command("version", None, body)
    return Command("other", None, body)


@dataclass(frozen=True)
class Reply:
    body: bytes

    @property
    def kind(self) -> int | None:
        return self.body[0] if self.body else None


def reply_frame(body: bytes) -> bytes:
    return frame(REPLY, body)


def decode_reply(data: bytes) -> Reply | None:
    data = bytes(data)
    if len(data) < 3 or data[0] != REPLY or checksum(data[2:]) != data[1]:
        return None
    return Reply(data[2:])


class ReplyDecoder:
    """Each fed chunk is one reply candidate (one BLE notification)."""

    def __init__(self) -> None:
        self.frames = 0
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Reply]:
        reply = decode_reply(data)
        if reply is None:
            self.bad_frames += 1
            return []
        self.frames += 1
        return [reply]


#: Highest speed per model, in rpm (0 stops). Wave rollers use fixed rpm steps and
#: are not supported (their steps are not known).
MAX_RPM: dict[str, int] = {
    "theragun-pro": 3616,
    "theragun-elite": 3616,
    "theragun-prime": 3584,
}


def rpm_for_step(step: int, steps: int, max_rpm: int) -> int:
    """Intensity step ``step`` of ``steps`` as rpm: an even share of the model's range."""
    if steps <= 0 or step <= 0:
        return 0
    if step > steps:
        raise ValueError(f"intensity step {step} is above {steps}")
    return round(max_rpm * step / steps)


def step_for_rpm(rpm: int, steps: int, max_rpm: int) -> int:
    """The lowest step whose rpm is at least ``rpm`` (never reports a speed as lower)."""
    if rpm <= 0 or steps <= 0:
        return 0
    for step in range(1, steps + 1):
        if rpm_for_step(step, steps, max_rpm) >= rpm:
            return step
    return steps
