"""Theragun (Pro, Elite, Prime) BLE codec: pure bytes, no I/O.

Facts (medium confidence: from the decompiled vendor app, replies only partly
decoded). Sources: buttplugio/docs.buttplug.io ``stpihkal/protocols/theragun/index.md``
(names) and buttplugio/stpihkal issue 127 (the decompiled frames); docs/devices.md.

* host -> gun frames: ``AA, checksum, body...``; the checksum is the low byte
  of the sum of the body (every byte after the checksum);
* speed: body ``01 03 rpm_hi rpm_lo 03`` (7-byte frame); 0 rpm stops the motor.
  1750 rpm -> ``AA E3 01 03 06 D6 03``;
* firmware version query: ``AA 20 20 00`` (body ``20 00``), written without
  response; its reply's first body byte is ``0x20`` and the version sits at frame
  offsets 12-13 (big-endian) as ``major*100 + minor*10 + patch``
  (``stpihkal/protocols/theragun/index.md``, which also lists the lowest firmware per
  model: 2.1.6 for the Pro and Elite, 2.0.4 for the Prime);
* status request: ``AA 10 10 00`` (body ``10 00``), written with response;
* the app's other speed form (``AA 04 01 03``, no rpm) is for the Wave rollers, which
  are not supported: never sent;
* gun -> host replies: ``BB, checksum, body...`` with the same checksum rule.
  A reply whose first body byte is ``0x10`` is a status: running at frame
  offset 4, speed (rpm, big-endian) at offsets 13-14. UNSURE: the issue's
  decompiled text is cut off right there and no client reads it, so nothing
  has checked these offsets on a gun; the driver uses them only to confirm a
  stop it has sent, and tolerates a gun that does not answer.

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
STATUS_BODY = bytes((0x10, 0x00))
#: A status reply's first body byte, and where its fields sit in the whole frame (UNSURE).
STATUS_KIND = 0x10
STATUS_RUNNING_AT = 4
STATUS_SPEED_AT = 13
#: A version reply's first body byte, and where its number sits in the whole frame.
VERSION_KIND = 0x20
VERSION_AT = 12
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
STATUS_QUERY = frame(COMMAND, STATUS_BODY)  # AA 10 10 00


@dataclass(frozen=True)
class Command:
    """A host frame as the gun reads it: a speed, the version query, or unknown."""

    kind: str  # "speed" | "version" | "status" | "other"
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
    if body == STATUS_BODY:
        return Command("status", None, body)
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


@dataclass(frozen=True)
class GunStatus:
    """A status reply, read at the decompiled app's offsets (UNSURE: never checked on a gun)."""

    running: int  # the byte at offset 4: 0 stopped
    rpm: int  # offsets 13-14

    @property
    def stopped(self) -> bool:
        return self.running == 0 and self.rpm == 0


def parse_status(reply: Reply) -> GunStatus | None:
    """The status in ``reply``, or None if it is not a status reply long enough to hold one."""
    body = reply.body
    running_at, speed_at = STATUS_RUNNING_AT - 2, STATUS_SPEED_AT - 2  # offsets in the body
    if reply.kind != STATUS_KIND or len(body) < speed_at + 2:
        return None
    return GunStatus(body[running_at], int.from_bytes(body[speed_at : speed_at + 2], "big"))


def parse_version(reply: Reply) -> tuple[int, int, int] | None:
    """The firmware version in a version reply (``(2, 1, 6)``), or None if it is not one."""
    body, at = reply.body, VERSION_AT - 2
    if reply.kind != VERSION_KIND or len(body) < at + 2:
        return None
    number = int.from_bytes(body[at : at + 2], "big")
    return number // 100, number % 100 // 10, number % 10


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


#: The lowest firmware each model is known to speak this protocol on.
MIN_FIRMWARE: dict[str, tuple[int, int, int]] = {
    "theragun-pro": (2, 1, 6),
    "theragun-elite": (2, 1, 6),
    "theragun-prime": (2, 0, 4),
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
