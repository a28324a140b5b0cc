"""Every codec's decoders, fed 100 000 damaged frames each: nothing escapes, and they resync.

A seeded generator (hypothesis would be far slower at this volume) takes valid frames
made by each codec's own encoder and damages them: bits flipped, bytes replaced,
inserted, deleted, the frame cut short or headless, slices repeated, two frames spliced,
or just random bytes rich in the protocols' marker bytes. Each damaged frame is fed in
random pieces; then a valid frame follows (after the codec's separator: a line end for
line protocols, nothing for framed ones) and must come out exactly, as the last thing
decoded. Every decoder in massager_ctl/protocol is listed in CODECS; a protocol module
with no entry fails test_every_protocol_module_is_fuzzed.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from massager_ctl.devices.registry import FAMILIES

FRAMES_PER_CODEC = 100_000
POOL = 256  # valid frames per codec, reused as bases and as resync probes


@dataclass(frozen=True)
class Codec:
    name: str
    module: str  # the family: massager_ctl.devices.<module>.codec
    decoder: Callable[[], Any]
    feed: Callable[[Any, bytes], list]  # bytes -> decoded items; must never raise
    frame: Callable[[random.Random], bytes]  # one valid frame, made by the codec's encoder
    separator: bytes = b""  # what ends a damaged frame before the next (line protocols)
    chunked: bool = True  # False: every write is one frame (a BLE notification)
    check_bounded: Callable[[Any], bool] | None = None  # the decoder's buffer stays bounded


# ------------------------------------------------------------------------ native


def _native_frame(rng: random.Random) -> bytes:
    from massager_ctl.core.status import DeviceState, Status
    from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
    from massager_ctl.devices.native import codec as n
    from massager_ctl.devices.native.examples import EXAMPLE_CAPS

    zones = list(Zone)
    seq = rng.randrange(256)

    def state() -> DeviceState:
        bags = rng.sample(zones, rng.randrange(4))
        return DeviceState(
            technique=rng.choice([None, *Technique]),
            zones=frozenset(rng.sample(zones, rng.randrange(4))),
            intensity=rng.randrange(256),
            speed=rng.randrange(256),
            width=rng.choice([None, *Width]),
            heat=rng.choice(list(Heat)),
            airbags=tuple((z, rng.randrange(256)) for z in bags),
        )

    kind = rng.randrange(9)
    if kind == 0:
        msg = n.Hello(seq, 1, rng.randint(n.MIN_DEADMAN_MS, n.MAX_DEADMAN_MS))
    elif kind == 1:
        msg = n.Info(seq, 1, rng.randint(n.MIN_DEADMAN_MS, n.MAX_DEADMAN_MS), "fuzz chair", EXAMPLE_CAPS)
    elif kind in (2, 3):
        msg = n.SetState(seq, state())
    elif kind in (4, 5):
        fault = rng.choice([None, "overheat", "motor jam ∆"])
        msg = n.StatusReport(
            seq,
            Status(
                running=rng.random() < 0.5,
                state=state(),
                roller_position=rng.choice([None, rng.randrange(1001) / 1000]),
                airbag_pressure=tuple(
                    (z, rng.randrange(1001) / 10) for z in rng.sample(zones, rng.randrange(5))
                ),
                heater_temp_c=rng.choice([None, rng.randrange(-400, 900) / 10]),
                remaining_s=rng.choice([None, rng.randrange(3600)]),
                fault=fault,
            ),
        )
    elif kind == 6:
        msg = n.Nak(seq, rng.choice(list(n.NakCode)))
    else:
        msg = rng.choice([n.Ack, n.Stop, n.Heartbeat, n.GetStatus])(seq)
    return n.encode(msg)


def _native_decoder():
    from massager_ctl.devices.native.codec import Decoder

    return Decoder()


def _native_bounded(decoder) -> bool:
    from massager_ctl.devices.native.codec import MAX_FRAME

    return decoder.buffered < MAX_FRAME


# ----------------------------------------------------------------------- rongtai


def _rongtai_key_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.rongtai import codec as r

    source = rng.choice([r.SOURCE_WIRED_REMOTE, r.SOURCE_ANDROID_APP, r.SOURCE_IOS_APP])
    return r.encode_key(rng.randrange(0x80), source)


def _rongtai_status_frame(length: int) -> Callable[[random.Random], bytes]:
    """Any 7-bit body in a well-formed frame (the host builds no status; the simulated
    board's builder makes only the bodies its states lead to)."""

    def make(rng: random.Random) -> bytes:
        body = [rng.randrange(0x80) for _ in range(length - 3)]
        check = (~sum(body)) & 0x7F if length == 17 else 0
        return bytes([0xF0, *body, check, 0xF1])

    return make


def _rongtai_status_decoder(length: int):
    def make():
        from massager_ctl.devices.rongtai.codec import StatusDecoder

        return StatusDecoder(length)

    return make


def _rongtai_key_receiver():
    from massager_ctl.devices.rongtai.firmware import KeyReceiver

    return KeyReceiver()


# --------------------------------------------------------------------------- nlr


def _nlr_command_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.nlr import codec as nlr

    if rng.random() < 0.1:
        return nlr.query_command()
    return nlr.motor_command(rng.randrange(nlr.MOTORS), rng.randrange(nlr.MAX_LEVEL + 1))


def _nlr_reply_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.nlr import codec as nlr

    return nlr.encode_info(nlr.PadInfo(rng.randrange(nlr.MAX_LEVEL + 1), rng.random() < 0.5))


def _nlr_decoder(terminators: bytes):
    def make():
        from massager_ctl.devices.nlr.codec import LineSplitter

        return LineSplitter(terminators=terminators)

    return make


def _nlr_feed(parse_name: str):
    def feed(splitter, data: bytes) -> list:
        from massager_ctl.devices.nlr import codec as nlr

        parse = getattr(nlr, parse_name)
        return [parse(line) for line in splitter.feed(data)]

    return feed


# ---------------------------------------------------------------------- theragun


def _theragun_command_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.theragun import codec as t

    if rng.random() < 0.1:
        return t.VERSION_QUERY
    return t.speed_frame(rng.randrange(t.MAX_RPM_FIELD + 1))


def _theragun_reply_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.theragun import codec as t

    return t.reply_frame(bytes(rng.randrange(256) for _ in range(rng.randint(1, 12))))


class _TheragunCommands:
    """The gun's side: each write is one frame, checked by decode_command."""

    def feed(self, data: bytes) -> list:
        from massager_ctl.devices.theragun.codec import decode_command

        command = decode_command(data)
        return [] if command is None else [command]


def _theragun_reply_decoder():
    from massager_ctl.devices.theragun.codec import ReplyDecoder

    return ReplyDecoder()


# ---------------------------------------------------------------------- pulsetto


def _pulsetto_frame(rng: random.Random) -> bytes:
    from massager_ctl.devices.pulsetto import codec as p

    if rng.random() < 0.3:
        return f"Batt:{rng.randrange(300, 450) / 100:.2f}\n".encode()
    return p.encode(rng.choice(["+", "-", "Q", "u", "v", "i", "A", "C", "D", "E", "F", "G", *"0123456789"]))


def _pulsetto_decoder():
    from massager_ctl.devices.pulsetto.codec import LineDecoder

    return LineDecoder()


def _feed(decoder, data: bytes) -> list:
    return decoder.feed(data)


CODECS: tuple[Codec, ...] = (
    Codec("native", "native", _native_decoder, _feed, _native_frame, check_bounded=_native_bounded),
    Codec("rongtai keys (board side)", "rongtai", _rongtai_key_receiver, _feed, _rongtai_key_frame),
    Codec(
        "rongtai status 17 B",
        "rongtai",
        _rongtai_status_decoder(17),
        _feed,
        _rongtai_status_frame(17),
    ),
    Codec(
        "rongtai status 18 B",
        "rongtai",
        _rongtai_status_decoder(18),
        _feed,
        _rongtai_status_frame(18),
    ),
    Codec(
        "nlr commands (pad side)",
        "nlr",
        _nlr_decoder(b"\r"),
        _nlr_feed("parse_command"),
        _nlr_command_frame,
        separator=b"\r",
    ),
    Codec(
        "nlr replies (host side)",
        "nlr",
        _nlr_decoder(b"\r\n"),
        _nlr_feed("parse_reply"),
        _nlr_reply_frame,
        separator=b"\r",
    ),
    Codec(
        "theragun commands (gun side)",
        "theragun",
        _TheragunCommands,
        _feed,
        _theragun_command_frame,
        chunked=False,
    ),
    Codec(
        "theragun replies (host side)",
        "theragun",
        _theragun_reply_decoder,
        _feed,
        _theragun_reply_frame,
        chunked=False,
    ),
    Codec(
        "pulsetto lines (both sides)", "pulsetto", _pulsetto_decoder, _feed, _pulsetto_frame, separator=b"\n"
    ),
)

# Marker bytes of every protocol: damage made of them is the hardest to resync from.
MARKERS = b"\xa5\xa6\xf0\xf1\xaa\xbb\r\n\x00\xffMPEA,+-0123456789Batt:"


def damage(frame: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One damaged frame (seeded, so every failure can be replayed)."""
    f = bytearray(frame)
    kind = rng.randrange(11)
    if kind == 0 and f:  # flip 1-3 bits
        for _ in range(rng.randint(1, 3)):
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
    elif kind == 1 and f:  # replace bytes, often with a marker
        for _ in range(rng.randint(1, 3)):
            f[rng.randrange(len(f))] = rng.choice(MARKERS) if rng.random() < 0.5 else rng.randrange(256)
    elif kind == 2:  # insert bytes
        for _ in range(rng.randint(1, 5)):
            f.insert(
                rng.randrange(len(f) + 1), rng.choice(MARKERS) if rng.random() < 0.5 else rng.randrange(256)
            )
    elif kind == 3 and f:  # delete bytes
        for _ in range(rng.randint(1, min(5, len(f)))):
            del f[rng.randrange(len(f))]
    elif kind == 4:  # cut short
        f = f[: rng.randrange(len(f) + 1)]
    elif kind == 5:  # headless
        f = f[rng.randrange(len(f) + 1) :]
    elif kind == 6 and f:  # a slice repeated
        i = rng.randrange(len(f))
        j = rng.randrange(i, len(f) + 1)
        f[j:j] = f[i:j]
    elif kind == 7:  # two frames spliced
        other = rng.choice(pool)
        f = f[: rng.randrange(len(f) + 1)] + other[rng.randrange(len(other) + 1) :]
    elif kind == 8:  # random bytes, marker-rich
        f = bytearray(
            rng.choice(MARKERS) if rng.random() < 0.4 else rng.randrange(256)
            for _ in range(rng.randint(1, 80))
        )
    elif kind == 9:  # a frame with junk inside and around it
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        f = bytearray(junk) + f + junk
    else:  # a long run of one marker byte (a stuck line)
        f = bytearray([rng.choice(MARKERS)] * rng.randint(1, 600))
    return bytes(f)


def pieces(data: bytes, rng: random.Random, chunked: bool) -> list[bytes]:
    if not chunked or len(data) < 2 or rng.random() < 0.5:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 4))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.slow  # 100 000 damaged frames per codec
@pytest.mark.parametrize("codec", CODECS, ids=[c.name for c in CODECS])
def test_damaged_frames_never_raise_and_the_next_valid_frame_comes_through(codec):
    rng = random.Random(f"fuzz/{codec.name}")
    pool = [codec.frame(rng) for _ in range(POOL)]
    expected = {}
    for frame in pool:  # what each valid frame decodes to on its own
        got = codec.feed(codec.decoder(), frame + codec.separator)
        assert len(got) == 1, f"{codec.name}: a valid frame {frame!r} decoded to {got!r}"
        expected[frame] = got[0]
    decoder = codec.decoder()
    for i in range(FRAMES_PER_CODEC):
        bad = damage(rng.choice(pool), rng, pool)
        for piece in pieces(bad, rng, codec.chunked):
            codec.feed(decoder, piece)  # anything may come out; nothing may escape
        good = rng.choice(pool)
        probe = codec.separator + good + codec.separator
        got = [item for piece in pieces(probe, rng, codec.chunked) for item in codec.feed(decoder, piece)]
        assert got and got[-1] == expected[good], (
            f"{codec.name}: frame {i}: after {bad.hex(' ')} the valid frame {good.hex(' ')} gave {got!r}"
        )
        if codec.check_bounded is not None:
            assert codec.check_bounded(decoder), f"{codec.name}: buffer grew after {bad!r}"


def test_every_protocol_module_is_fuzzed():
    """A new family's codec must get an entry in CODECS."""
    codecs = {
        m
        for m in FAMILIES
        if any(
            callable(getattr(importlib.import_module(f"massager_ctl.devices.{m}.codec"), a, None))
            for a in ("encode", "encode_key", "motor_command", "speed_frame")
        )
    }
    missing = codecs - {c.module for c in CODECS}
    assert not missing, f"protocol modules with no fuzz entry in CODECS: {sorted(missing)}"


def test_the_crc_is_ccitt_false_bit_by_bit():
    """crc16 (now binascii.crc_hqx in C) against a bitwise CRC-16/CCITT-FALSE."""
    from massager_ctl.devices.native.codec import crc16

    def reference(data: bytes) -> int:
        crc = 0xFFFF
        for byte in data:
            crc ^= byte << 8
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        return crc

    rng = random.Random("crc")
    assert crc16(b"123456789") == reference(b"123456789") == 0x29B1
    for n in range(0, 300, 7):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc16(data) == reference(data)
        assert crc16(bytearray(data)) == crc16(memoryview(data)) == reference(data)
