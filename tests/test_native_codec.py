"""Native protocol v1 codec: golden bytes, resynchronisation, robustness, round trips.

The golden hex literals below are the protocol: if one of these tests fails
after a code change, the change broke every chair already built.
"""

from __future__ import annotations

import binascii
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.status import DeviceState, Status
from massager_ctl.core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from massager_ctl.devices.native.codec import (
    LEN_RANGE,
    MAX_FRAME,
    START,
    Ack,
    Decoder,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    MsgType,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    crc16,
    encode,
    stuff,
)
from massager_ctl.devices.native.examples import EXAMPLES, markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def frame(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def raw_frame(kind: int, seq: int, body: bytes) -> bytes:
    """An intact frame around any TYPE/BODY (to test what the decoder refuses)."""
    inner = bytes((2 + len(body), kind, seq)) + body
    return bytes((START,)) + stuff(inner + crc16(inner).to_bytes(2, "big"))


def decode_all(data: bytes) -> list:
    return Decoder().feed(data)


SET_STATE = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
    intensity=3,
    speed=2,
    width=Width.MEDIUM,
    airbags=((Zone.ARMS, 2),),
    heat=Heat.LOW,
)
SMALL_CAPS = Capabilities(
    zones=frozenset(BACK_ZONES) - {Zone.NECK},
    techniques=frozenset({Technique.KNEAD, Technique.SHIATSU, Technique.TAP, Technique.ROLL}),
    intensity_steps=5,
    speed_steps=3,
    widths=frozenset(Width),
    airbag_zones=frozenset({Zone.SHOULDERS, Zone.ARMS, Zone.CALVES}),
    airbag_levels=3,
    heat_levels=(Heat.LOW, Heat.HIGH),
    chair_timer_s=(600, 900, 1200),
)

# (message, exact frame) - written out by hand from the specification.
GOLDEN = [
    (Hello(0, 1, 1500), "A5 05 01 00 01 05 DC 25 74"),
    (Stop(4), "A5 02 03 04 B7 2B"),
    (Heartbeat(3), "A5 02 04 03 5E 5B"),
    (GetStatus(5), "A5 02 05 05 0D AC"),
    (Ack(1), "A5 02 82 01 CF 27"),
    (Ack(4), "A5 02 82 04 9F 82"),
    (Ack(165), "A5 02 82 A6 85 3A 49"),  # SEQ 0xA5 escaped
    (
        SetState(7, DeviceState(intensity=0xA6, speed=0xA5)),  # 0xA6 and 0xA5 escaped
        "A5 0A 02 07 00 00 00 A6 86 A6 85 00 00 00 08 C1",
    ),
    (Nak(2, NakCode.BAD_VALUE), "A5 03 83 02 03 2B 17"),
    (SetState(1, SET_STATE), "A5 0C 02 01 01 00 06 03 02 02 01 01 06 02 CB F7"),
    (SetState(255, DeviceState()), "A5 0A 02 FF 00 00 00 00 00 00 00 00 84 85"),
    (
        StatusReport(
            17,
            Status(
                running=True,
                state=SET_STATE,
                roller_position=0.25,
                airbag_pressure=((Zone.ARMS, 45.5),),
                heater_temp_c=38.5,
                remaining_s=540,
            ),
        ),
        "A5 18 84 11 01 01 00 06 03 02 02 01 01 06 02 00 FA 01 81 02 1C 01 06 01 C7 00 E0 1B",
    ),
    (
        StatusReport(18, Status(running=False, state=DeviceState(), fault="deadman")),
        "A5 1A 84 12 00 00 00 00 00 00 00 00 00 FF FF 7F FF FF FF 00 07 64 65 61 64 6D 61 6E 56 6D",
    ),
    (
        Info(0, 1, 1500, "MC-Sim 1", SMALL_CAPS),
        "A5 21 81 00 01 05 DC 00 3E 17 05 03 07 01 42 03 03 03 02 58 03 84 04 B0 08 4D 43 2D 53 69 "
        "6D 20 31 00 00 E1 78",
    ),
]


# --- CRC ---------------------------------------------------------------------


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1


@given(st.binary(max_size=300))
def test_crc_agrees_with_the_standard_library(data):
    # binascii.crc_hqx is the same polynomial, unreflected; with init 0xFFFF it is CCITT-FALSE
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


def test_crc_of_nothing_is_the_initial_value():
    assert crc16(b"") == 0xFFFF


def test_crc_is_over_len_to_body_big_endian():
    f = frame("A5 05 01 00 01 05 DC 25 74")
    assert crc16(f[1:-2]) == 0x2574
    assert f[-2:] == b"\x25\x74"


# --- golden bytes --------------------------------------------------------------


@pytest.mark.parametrize("msg, hex_text", GOLDEN, ids=[type(m).__name__ for m, _ in GOLDEN])
def test_encode_gives_the_golden_bytes(msg, hex_text):
    assert encode(msg) == frame(hex_text)


@pytest.mark.parametrize("msg, hex_text", GOLDEN, ids=[type(m).__name__ for m, _ in GOLDEN])
def test_golden_bytes_decode_to_the_message(msg, hex_text):
    d = Decoder()
    assert d.feed(frame(hex_text)) == [msg]
    assert (d.dropped, d.bad_frames, d.buffered) == (0, 0, 0)


def test_frame_header_fields():
    f = encode(SetState(7, SET_STATE))
    assert f[0] == 0xA5
    assert f[1] == len(f) - 4  # LEN = TYPE..BODY (nothing needed escaping here)
    assert f[2] == MsgType.SET and f[3] == 7


def test_stuffing_escapes_start_and_esc_only():
    assert stuff(b"\x01\xa5\x02\xa6\x03") == b"\x01\xa6\x85\x02\xa6\x86\x03"
    assert stuff(bytes(range(0xA5))) == bytes(range(0xA5))


def test_state_block_keeps_airbag_order_and_zero_levels():
    state = DeviceState(airbags=((Zone.FEET, 0), (Zone.NECK, 4)))
    body = encode(SetState(0, state))[4:-2]
    assert body[7:] == bytes((2, 9, 0, 0, 4))
    assert decode_all(encode(SetState(0, state))) == [SetState(0, state)]


def test_zone_mask_bits_follow_the_zone_table():
    state = DeviceState(zones=frozenset({Zone.NECK, Zone.FEET}))
    assert encode(SetState(0, state))[5:7] == b"\x02\x01"


def test_status_unknown_readings_use_sentinels():
    msg = StatusReport(0, Status())
    body = encode(msg)[4:-2]
    assert body[9:15] == frame("FF FF 7F FF FF FF")
    assert decode_all(encode(msg)) == [msg]


def test_negative_heater_temperature_round_trips():
    msg = StatusReport(1, Status(heater_temp_c=-5.5))
    assert encode(msg)[4 + 11 : 4 + 13] == (-55).to_bytes(2, "big", signed=True)
    assert decode_all(encode(msg)) == [msg]


def test_measurements_are_quantised_and_stable():
    msg = StatusReport(
        2,
        Status(roller_position=0.12345, airbag_pressure=((Zone.SEAT, 12.345),), heater_temp_c=36.66),
    )
    (got,) = decode_all(encode(msg))
    assert got.status.roller_position == 0.123
    assert got.status.airbag_pressure == ((Zone.SEAT, 12.3),)
    assert got.status.heater_temp_c == 36.7
    assert encode(got) == encode(msg)


def test_long_fault_text_is_cut_on_a_character_boundary():
    msg = StatusReport(3, Status(fault="é" * 40))  # 80 bytes of UTF-8
    (got,) = decode_all(encode(msg))
    assert got.status.fault == "é" * 32
    assert len(got.status.fault.encode()) == 64


def test_info_carries_recline_motors_programs_and_timers():
    caps = Capabilities(
        zones=frozenset({Zone.MID_BACK}),
        techniques=frozenset({Technique.VIBRATE}),
        intensity_steps=255,
        heat_levels=(Heat.HIGH,),
        recline_motors=("backrest", "legrest"),
        programs=("relax",),
        chair_timer_s=(0, 65535),
    )
    msg = Info(9, 1, 60000, "", caps)
    assert decode_all(encode(msg)) == [msg]


# --- encoder refuses what the protocol cannot carry -----------------------------


@pytest.mark.parametrize(
    "msg",
    [
        Ack(256),
        Ack(-1),
        Hello(0, 0, 1500),
        Hello(0, 1, 99),
        Hello(0, 1, 60001),
        SetState(0, DeviceState(intensity=256)),
        SetState(0, DeviceState(speed=-1)),
        SetState(0, DeviceState(airbags=((Zone.ARMS, 1), (Zone.ARMS, 2)))),
        SetState(0, DeviceState(airbags=((Zone.ARMS, 300),))),
        SetState(0, DeviceState(technique="massage")),  # type: ignore[arg-type]
        SetState(0, DeviceState(zones=frozenset({"elbow"}))),  # type: ignore[arg-type]
        StatusReport(0, Status(roller_position=1.5)),
        StatusReport(0, Status(heater_temp_c=float("nan"))),
        StatusReport(0, Status(heater_temp_c=float("inf"))),
        StatusReport(0, Status(airbag_pressure=((Zone.ARMS, -1.0),))),
        StatusReport(0, Status(remaining_s=65535)),
        StatusReport(0, Status(fault="")),
        Info(0, 1, 1500, "x" * 33, Capabilities()),
        Info(0, 1, 1500, "m", Capabilities(heat_levels=(Heat.HIGH, Heat.LOW))),
        Info(0, 1, 1500, "m", Capabilities(heat_levels=(Heat.OFF,))),
        Info(0, 1, 1500, "m", Capabilities(programs=tuple(f"program-{i:02}" for i in range(30)))),
    ],
)
def test_encode_refuses_values_outside_the_protocol(msg):
    with pytest.raises(ValueError):
        encode(msg)


def test_encode_refuses_non_messages():
    with pytest.raises(TypeError):
        encode("hello")  # type: ignore[arg-type]


# --- decoder: garbage, truncation, corruption, splits ------------------------------

STREAM_MSGS = [m for m, _ in GOLDEN]
STREAM = b"".join(encode(m) for m in STREAM_MSGS)


def test_garbage_before_between_and_after_frames():
    a, b, c = encode(Hello(1)), encode(SetState(2, SET_STATE)), encode(Stop(3))
    noise = b"\x00\xff\xa5\x01\xa5\xa5\x02\x82hello\r\n"
    d = Decoder()
    got = d.feed(noise + a + noise + b + noise + c + noise)
    assert got == [Hello(1), SetState(2, SET_STATE), Stop(3)]
    # each noise run: "A5 01" (LEN < 2), "A5 A5" (cut short by a new START) and
    # "A5 02 82 h e l" (bad CRC) are false starts; every noise byte is dropped
    assert d.bad_frames == 4 * 3
    assert d.dropped == 4 * len(noise)
    assert d.buffered == 0


def test_trailing_partial_candidate_is_held_not_dropped():
    d = Decoder()
    assert d.feed(b"\x00\x00" + encode(Ack(1)) + b"\xa5\x02") == [Ack(1)]
    assert d.buffered == 2 and d.dropped == 2


def test_truncated_frame_is_held_until_complete():
    f = encode(SetState(9, SET_STATE))
    d = Decoder()
    assert d.feed(f[:5]) == []
    assert d.buffered == 5
    assert d.feed(f[5:-1]) == []
    assert d.feed(f[-1:]) == [SetState(9, SET_STATE)]
    assert (d.dropped, d.bad_frames, d.buffered) == (0, 0, 0)


def test_truncated_frame_then_a_whole_one_resynchronises():
    # The doc's example: a cut-off ACK, then a complete ACK seq 4.
    d = Decoder()
    assert d.feed(frame("A5 02 82")) == []
    assert d.feed(frame("A5 02 82 04 9F 82")) == [Ack(4)]
    assert d.dropped == 3 and d.bad_frames == 1


def test_a_frame_cut_inside_a_longer_one_is_found():
    short = encode(Stop(5))
    long = encode(StatusReport(1, Status(fault="overheat")))
    stream = long[:10] + short + long
    assert decode_all(stream) == [Stop(5), StatusReport(1, Status(fault="overheat"))]


def test_corrupted_crc_is_skipped_and_the_next_frame_found():
    bad = bytearray(encode(SetState(1, SET_STATE)))
    bad[-1] ^= 0x01
    d = Decoder()
    assert d.feed(bytes(bad) + encode(Stop(2))) == [Stop(2)]
    assert d.bad_frames == 1
    assert d.dropped == len(bad)


def test_corrupted_body_byte_is_skipped():
    bad = bytearray(encode(SetState(1, SET_STATE)))
    bad[6] ^= 0x40
    assert decode_all(bytes(bad) + encode(Ack(1))) == [Ack(1)]


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_split_at_every_byte_position(cut):
    d = Decoder()
    got = d.feed(STREAM[:cut]) + d.feed(STREAM[cut:])
    assert got == STREAM_MSGS


def test_byte_by_byte_feeding():
    d = Decoder()
    got = []
    for i in range(len(STREAM)):
        got += d.feed(STREAM[i : i + 1])
        assert d.buffered < MAX_FRAME
    assert got == STREAM_MSGS


def test_frame_cut_short_by_a_new_start_resyncs_at_once():
    d = Decoder()
    assert d.feed(frame("A5 0C 02 01 01") + encode(Ack(1))) == [Ack(1)]
    assert d.bad_frames == 1 and d.dropped == 5 and d.buffered == 0


def test_frame_cut_inside_an_escape_resyncs():
    assert decode_all(frame("A5 02 82 A6") + encode(Ack(2))) == [Ack(2)]


def test_bad_escape_drops_the_frame():
    good = encode(Ack(165))
    bad = good.replace(b"\xa6\x85", b"\xa6\x00")
    d = Decoder()
    assert d.feed(bad + encode(Ack(3))) == [Ack(3)]
    assert d.bad_frames == 1


def test_unescaped_esc_value_inside_a_frame_is_bad():
    # an ESC followed by 0x86 is 0xA6; but 0xA6 0xA6 is not a valid escape
    d = Decoder()
    assert d.feed(frame("A5 02 82 A6 A6 86 00 00") + encode(Ack(4))) == [Ack(4)]


def test_empty_feed_and_non_bytes_never_raise():
    d = Decoder()
    assert d.feed(b"") == []
    assert d.feed(None) == []  # type: ignore[arg-type]
    assert d.feed(memoryview(encode(Ack(3)))) == [Ack(3)]


@pytest.mark.parametrize("length", [0, 1])
def test_length_below_two_is_impossible(length):
    d = Decoder()
    assert d.feed(bytes((START, length)) + encode(Ack(1))) == [Ack(1)]
    assert d.bad_frames == 1


def test_length_outside_the_types_range_resyncs_without_waiting():
    # ACK with LEN 200 would need 200 more bytes; the type's range rejects it at once.
    d = Decoder()
    assert d.feed(frame("A5 C8 82 01") + encode(Ack(2))) == [Ack(2)]
    assert d.buffered == 0


def test_buffer_stays_bounded_under_endless_start_markers():
    d = Decoder()
    for _ in range(100):
        assert d.feed(b"\xa5\xff\x7e" + b"\xa5" * 50) == []
        assert d.buffered < MAX_FRAME


# --- decoder: intact frames it cannot use ---------------------------------------


def test_unknown_type_is_skipped_whole_and_reported():
    hidden = encode(Stop(1))  # a frame's bytes inside a body are escaped: they must not surface
    d = Decoder()
    assert d.feed(raw_frame(0x42, 7, hidden) + encode(Ack(8))) == [Ack(8)]
    assert d.bad_frames == 1 and d.dropped == 0
    (rej,) = d.take_rejected()
    assert (rej.type, rej.seq, rej.code) == (0x42, 7, NakCode.UNKNOWN_TYPE)
    assert d.take_rejected() == []


BAD_STATE = bytes.fromhex("01 0006 03 02 02 01 00")


@pytest.mark.parametrize(
    "kind, body, code",
    [
        (MsgType.SET, BAD_STATE[:-1] + b"\x01", NakCode.BAD_FRAME),  # 1 airbag promised, none sent
        (MsgType.SET, BAD_STATE + b"\x00\x00", NakCode.BAD_FRAME),  # 2 stray bytes
        (MsgType.SET, b"\x07" + BAD_STATE[1:], NakCode.BAD_VALUE),  # technique 7
        (MsgType.SET, BAD_STATE[:1] + b"\x04\x00" + BAD_STATE[3:], NakCode.BAD_VALUE),  # bit 10
        (MsgType.SET, BAD_STATE[:5] + b"\x04" + BAD_STATE[6:], NakCode.BAD_VALUE),  # width 4
        (MsgType.SET, BAD_STATE[:6] + b"\x03" + BAD_STATE[7:], NakCode.BAD_VALUE),  # heat 3
        (MsgType.SET, BAD_STATE[:-1] + b"\x01\x0c\x01", NakCode.BAD_VALUE),  # airbag zone 12
        (MsgType.SET, BAD_STATE[:-1] + b"\x02\x06\x01\x06\x02", NakCode.BAD_VALUE),  # twice
        (MsgType.HELLO, b"\x01\x00\x00", NakCode.BAD_VALUE),  # deadman 0
        (MsgType.NAK, b"\x00", NakCode.BAD_VALUE),
        (MsgType.NAK, b"\x08", NakCode.BAD_VALUE),
        (MsgType.STATUS, b"\x00" + b"\x07" + BAD_STATE[1:] + bytes(7) + b"\x00", NakCode.BAD_VALUE),
        (MsgType.STATUS, b"\x00" + BAD_STATE + bytes(6) + b"\x02\x06\x00\x01\x00", NakCode.BAD_FRAME),
    ],
)
def test_malformed_bodies_are_counted_not_raised(kind, body, code):
    lo, hi = LEN_RANGE[kind]
    assert lo <= len(body) + 2 <= hi, "test frame must pass the length check"
    d = Decoder()
    assert d.feed(raw_frame(kind, 3, body) + encode(Ack(4))) == [Ack(4)]
    assert d.bad_frames == 1
    (rej,) = d.take_rejected()
    assert (rej.seq, rej.code) == (3, code)


# --- what the host tolerates (docs/protocol.md sections 5.2 and 5.7) -------------------------


def test_hello_with_version_0_decodes_for_the_device_to_refuse():
    """Version 0 is a version the device does not speak: NAK UNSUPPORTED (section 8.1), which
    the device can only send if the codec hands it the HELLO rather than refusing the frame."""
    d = Decoder()
    assert d.feed(raw_frame(MsgType.HELLO, 3, b"\x00\x05\xdc")) == [Hello(3, 0, 1500)]
    assert d.take_rejected() == []


def _info_body(**masks: int) -> bytes:
    body = bytearray(encode(Info(0, 1, 1500, "ab", Capabilities()))[4:-2])
    for name, (at, size) in {
        "zones": (3, 2),
        "techniques": (5, 1),
        "widths": (8, 1),
        "airbags": (9, 2),
    }.items():
        if name in masks:
            body[at : at + size] = masks[name].to_bytes(size, "big")
    if "heat" in masks:
        body[12] = masks["heat"]
    return bytes(body)


def test_info_bits_this_version_does_not_know_are_ignored():
    """A newer device may offer more: unknown mask bits are not a reason to drop INFO (the
    user would see "no answer to HELLO" from a chair that answered)."""
    body = _info_body(zones=0xFC01, techniques=0xC1, widths=0xF9, airbags=0x8402, heat=0xFD)
    (info,) = Decoder().feed(raw_frame(MsgType.INFO, 0, body))
    caps = info.capabilities
    assert caps.zones == {Zone.NECK}
    assert caps.techniques == {Technique.KNEAD}
    assert caps.widths == {Width.NARROW}
    assert caps.airbag_zones == {Zone.SHOULDERS}
    assert caps.heat_levels == (Heat.LOW,)


def _status_body(
    *, flags: int = 1, roller: bytes = b"\x01\xf4", pressures: bytes = b"", fault: bytes = b""
) -> bytes:
    count = len(pressures) // 3
    return (
        bytes((flags,))
        + BAD_STATE
        + roller
        + b"\x01\x7b\xff\xff"
        + bytes((count,))
        + pressures
        + bytes((len(fault),))
        + fault
    )


@pytest.mark.parametrize(
    "body, check",
    [
        (_status_body(flags=0x83), lambda s: s.running is True),  # reserved flag bits ignored
        (_status_body(roller=b"\x03\xe9"), lambda s: s.roller_position is None),  # 1001: unknown
        (  # a pressure for zone 12: that reading left out, the other kept
            _status_body(pressures=b"\x0c\x00\x10\x06\x01\xc7"),
            lambda s: s.airbag_pressure == ((Zone.ARMS, 45.5),),
        ),
        (  # the same zone twice: the first kept
            _status_body(pressures=b"\x06\x01\xc7\x06\x00\x01"),
            lambda s: s.airbag_pressure == ((Zone.ARMS, 45.5),),
        ),
        (_status_body(fault=b"hot\xff"), lambda s: s.fault == "hot\ufffd"),  # not UTF-8: shown anyway
    ],
)
def test_one_bad_reading_does_not_drop_the_status(body, check):
    (report,) = Decoder().feed(raw_frame(MsgType.STATUS, 9, body))
    assert isinstance(report, StatusReport)
    assert report.status.state.technique is Technique.KNEAD and report.status.heater_temp_c == 37.9
    assert check(report.status)


def test_info_with_invalid_utf8_model_is_refused():
    good = encode(Info(0, 1, 1500, "ab", Capabilities()))
    body = bytearray(good[4:-2])
    at = body.index(b"ab")
    body[at : at + 2] = b"\xff\xfe"
    d = Decoder()
    assert d.feed(raw_frame(MsgType.INFO, 0, bytes(body))) == []
    assert d.take_rejected()[0].code == NakCode.BAD_VALUE


# --- properties ------------------------------------------------------------------

zones = st.frozensets(st.sampled_from(list(Zone)))
u8 = st.integers(0, 255)
seqs = u8


@st.composite
def device_states(draw):
    bag_zones = draw(st.lists(st.sampled_from(list(Zone)), unique=True))
    return DeviceState(
        technique=draw(st.none() | st.sampled_from(list(Technique))),
        zones=draw(zones),
        intensity=draw(u8),
        speed=draw(u8),
        width=draw(st.none() | st.sampled_from(list(Width))),
        airbags=tuple((z, draw(u8)) for z in bag_zones),
        heat=draw(st.sampled_from(list(Heat))),
    )


@st.composite
def statuses(draw):
    bag_zones = draw(st.lists(st.sampled_from(list(Zone)), unique=True))
    return Status(
        running=draw(st.booleans()),
        state=draw(device_states()),
        roller_position=draw(st.none() | st.integers(0, 1000).map(lambda k: k / 1000)),
        airbag_pressure=tuple((z, draw(st.integers(0, 0xFFFF)) / 10) for z in bag_zones),
        heater_temp_c=draw(st.none() | st.integers(-0x8000, 0x7FFE).map(lambda k: k / 10)),
        remaining_s=draw(st.none() | st.integers(0, 0xFFFE)),
        fault=draw(st.none() | st.text(min_size=1, max_size=16)),
    )


names = st.text(max_size=8)


@st.composite
def capabilities(draw):
    return Capabilities(
        zones=draw(zones),
        techniques=draw(st.frozensets(st.sampled_from(list(Technique)))),
        intensity_steps=draw(u8),
        speed_steps=draw(u8),
        widths=draw(st.frozensets(st.sampled_from(list(Width)))),
        airbag_zones=draw(zones),
        airbag_levels=draw(u8),
        heat_levels=draw(st.sampled_from([(), (Heat.LOW,), (Heat.HIGH,), (Heat.LOW, Heat.HIGH)])),
        recline_motors=tuple(draw(st.lists(names, max_size=2))),
        programs=tuple(draw(st.lists(names, max_size=2))),
        chair_timer_s=tuple(draw(st.lists(st.integers(0, 0xFFFF), max_size=8))),
    )


deadmans = st.integers(100, 60000)
messages = st.one_of(
    st.builds(Hello, seqs, st.integers(1, 255), deadmans),
    st.builds(Info, seqs, st.integers(1, 255), deadmans, names, capabilities()),
    st.builds(SetState, seqs, device_states()),
    st.builds(Stop, seqs),
    st.builds(Heartbeat, seqs),
    st.builds(GetStatus, seqs),
    st.builds(Ack, seqs),
    st.builds(Nak, seqs, st.sampled_from(list(NakCode))),
    st.builds(StatusReport, seqs, statuses()),
)


@given(messages)
def test_decode_is_the_inverse_of_encode(msg):
    data = encode(msg)
    assert len(data) <= MAX_FRAME
    assert START not in data[1:]  # a raw START only ever opens a frame
    d = Decoder()
    assert d.feed(data) == [msg]
    assert (d.dropped, d.bad_frames, d.buffered) == (0, 0, 0)


def _truncate(data: bytes, at: int) -> bytes:
    return data[: at % len(data)]


def _corrupt(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at % len(out)] ^= 0x5A
    return bytes(out)


garbage = st.one_of(
    st.binary(max_size=30),
    st.lists(st.sampled_from([0xA5, 0x00, 0x02, 0x05, 0x82, 0xFF]), max_size=12).map(bytes),
    st.tuples(messages, st.integers(1, 300)).map(lambda t: _truncate(encode(t[0]), t[1])),
    st.tuples(messages, st.integers(0, 300)).map(lambda t: _corrupt(encode(t[0]), t[1])),
)


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(
    st.lists(st.tuples(garbage, messages), max_size=6),
    garbage,
    st.lists(st.integers(1, 40), max_size=20),
)
def test_garbage_interleaved_with_frames_yields_exactly_the_frames(pairs, tail, chunk_sizes):
    # The garbage must not itself contain a frame. A raw START cannot occur inside a
    # frame, so a garbage candidate never reaches into the frame after it: each piece
    # of garbage can be judged on its own.
    assume(all(Decoder().feed(noise) == [] for noise, _ in pairs))
    assume(Decoder().feed(tail) == [])
    stream = b"".join(noise + encode(msg) for noise, msg in pairs) + tail
    d = Decoder()
    got, pos = [], 0
    for size in chunk_sizes:
        got += d.feed(stream[pos : pos + size])
        pos += size
    got += d.feed(stream[pos:])
    assert got == [msg for _, msg in pairs]
    assert d.buffered < MAX_FRAME


@given(st.lists(st.binary(max_size=80), max_size=30))
def test_decoder_never_raises_and_stays_bounded(chunks):
    d = Decoder()
    for chunk in chunks:
        for msg in d.feed(chunk):
            encode(msg)  # anything it returns is a valid message
        assert d.buffered < MAX_FRAME


@given(st.lists(messages, min_size=1, max_size=5), st.data())
def test_any_split_gives_the_same_messages(msgs, data):
    stream = b"".join(encode(m) for m in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    d = Decoder()
    got, prev = [], 0
    for cut in cuts + [len(stream)]:
        got += d.feed(stream[prev:cut])
        prev = cut
    assert got == msgs


# --- the document cannot drift from the codec ------------------------------------------

HEX_LINE = re.compile(r"^((?:[0-9A-F]{2} )*[0-9A-F]{2})(?: {2,}.*)?$")


def _doc_blocks(kind: str) -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"<!-- {kind}: (\w+) -->\s*```text\n(.*?)```", re.S)
    return {name: body.strip().splitlines() for name, body in pattern.findall(text)}


def _hex_of(lines: list[str]) -> bytes:
    out = b""
    for line in lines:
        m = HEX_LINE.match(line)
        assert m, f"not a hex line: {line!r}"
        out += bytes.fromhex(m.group(1))
    return out


def test_doc_shows_every_example_and_nothing_else():
    assert set(_doc_blocks("frame")) == set(EXAMPLES)
    assert set(_doc_blocks("fields")) == set(EXAMPLES)


def test_doc_examples_cover_the_required_messages():
    kinds = {type(msg) for _, msg in EXAMPLES.values()}
    assert {Hello, Info, SetState, Stop, Ack, Nak, StatusReport} <= kinds


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_doc_frame_hex_is_what_encode_gives(name):
    _, msg = EXAMPLES[name]
    lines = _doc_blocks("frame")[name]
    assert len(lines) == 1
    assert _hex_of(lines) == encode(msg)
    assert decode_all(_hex_of(lines)) == [msg]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_doc_field_breakdown_adds_up_to_the_frame(name):
    _, msg = EXAMPLES[name]
    assert _hex_of(_doc_blocks("fields")[name]) == encode(msg)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_doc_example_text_is_the_generated_snippet(name):
    """The notes too, not only the bytes: example 10.2 once named the zones of 00 3F
    without the neck (code 0, bit 0)."""
    assert markdown(name) in DOC.read_text(encoding="utf-8")


def test_doc_resync_example_decodes_to_one_ack():
    (lines,) = _doc_blocks("stream").values()
    assert decode_all(_hex_of(lines)) == [Ack(4)]


def test_doc_states_the_crc_check_value():
    text = DOC.read_text(encoding="utf-8")
    assert "`123456789`" in text and "`0x29B1`" in text
    assert crc16(b"123456789") == 0x29B1


# --- the repeat caches (a chair sends the same state and pressures ten times a second)


def _status(pressures, state=SET_STATE) -> StatusReport:
    return StatusReport(
        1,
        Status(running=True, state=state, roller_position=0.5, airbag_pressure=pressures, heater_temp_c=30.0),
    )


def test_a_repeated_state_block_decodes_to_the_same_state_and_bad_bytes_still_fail():
    good = encode(_status(((Zone.CALVES, 40.0),)))
    d = Decoder()
    first, second = d.feed(good + good)
    assert first == second == decode_all(good)[0]
    assert second.status.state is first.status.state  # decoded once
    # The same state block with an unknown technique code: refused, cache or not.
    inner = bytearray(good[1:-2])  # LEN..BODY (nothing here needs escaping)
    assert good.count(START) == 1 and 0xA6 not in good
    inner[4] = 0x7F  # TYPE, SEQ, flags, then the technique code
    bad = raw_frame(inner[1], inner[2], bytes(inner[3:]))
    assert d.feed(bad) == []
    (rej,) = d.take_rejected()
    assert rej.code == NakCode.BAD_VALUE and "technique" in rej.reason


def test_repeat_caches_stay_bounded():
    d = Decoder()
    for n in range(600):
        state = DeviceState(
            technique=Technique.KNEAD, zones=frozenset({Zone.NECK}), intensity=n % 200, speed=n // 200
        )
        (msg,) = d.feed(encode(_status(((Zone.FEET, n / 10),), state)))
        assert msg.status.state == state and msg.status.airbag_pressure == ((Zone.FEET, n / 10),)
    from massager_ctl.devices.native import codec as native

    assert len(native._STATES_BY_BYTES) <= native._MAX_CACHED
    assert len(native._PRESSURES_BY_BYTES) <= native._MAX_CACHED


def test_the_encoder_never_reuses_bytes_for_a_list_changed_since():
    """The repeat caches are keyed by identity, so they must not hold on to anything
    that can change in place: a list inside a state or a pressure report."""
    pressures = ((Zone.CALVES, 10.0),)
    bags = [[Zone.CALVES, 1]]
    state = DeviceState(
        technique=Technique.KNEAD, zones=frozenset({Zone.NECK}), intensity=3, speed=2, airbags=tuple(bags)
    )  # a tuple of lists
    first = encode(_status(pressures, state))
    bags[0][1] = 4
    again = encode(_status(pressures, state))
    assert again != first
    assert decode_all(again)[0].status.state.airbags == ((Zone.CALVES, 4),)
    listed = ([Zone.FEET, 20.0],)
    one = encode(_status(listed))
    listed[0][1] = 30.0
    assert decode_all(encode(_status(listed)))[0].status.airbag_pressure == ((Zone.FEET, 30.0),)
    assert one != encode(_status(listed))
