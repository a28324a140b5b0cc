"""Rongtai codec: golden bytes both ways, checksums, resync, never raising."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.devices.rongtai.codec import (
    AUTO_WINDOW,
    RT6923_KEYS,
    RT8600S_KEYS,
    Actuator,
    AirbagZone,
    CommandDecoder,
    KeyPress,
    RongtaiError,
    RongtaiStatus,
    RunState,
    Scope,
    StatusDecoder,
    checksum7,
    decode_command,
    encode_key,
    encode_status,
)

# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    "key, frame",
    [
        (0x01, "f0 83 01 7b f1"),  # power (rongtai.md worked example)
        (0x20, "f0 83 20 5c f1"),  # knead (worked example)
        (0x27, "f0 83 27 55 f1"),  # heat (worked example)
        (0x52, "f0 83 52 2a f1"),  # timer 30 min
        (0x63, "f0 83 63 19 f1"),  # roller down stop
    ],
)
def test_key_frames_golden(key, frame):
    assert encode_key(key).hex(" ") == frame
    assert decode_command(bytes.fromhex(frame)) == KeyPress(0x83, key)


def test_other_sources_change_the_checksum():
    # wired remote 0x82: NOT(0x82 + 0x01) & 0x7F = 0x7C; iOS app 0x84: 0x7A
    assert encode_key(0x01, source=0x82).hex(" ") == "f0 82 01 7c f1"
    assert encode_key(0x01, source=0x84).hex(" ") == "f0 84 01 7a f1"


def test_checksum_rule():
    assert checksum7([0x83, 0x01]) == 0x7B
    assert checksum7([]) == 0x7F
    assert checksum7([0x7F, 0x7F, 0x7F]) == (~(3 * 0x7F)) & 0x7F


@pytest.mark.parametrize("key", [-1, 0x80, 0xF0, 1.0, True, "1"])
def test_bad_keys_refused(key):
    with pytest.raises(RongtaiError):
        encode_key(key)


@pytest.mark.parametrize("source", [0xF0, 0xF1, 0x100, -1])
def test_bad_sources_refused(source):
    with pytest.raises(RongtaiError):
        encode_key(0x01, source=source)


@pytest.mark.parametrize(
    "frame",
    ["f0 83 01 7a f1", "f0 83 01 7b f0", "f0 83 01 7b", "f0 83 81 7b f1", "f0 f1 01 7b f1"],
)
def test_bad_command_frames_refused(frame):
    with pytest.raises(RongtaiError):
        decode_command(bytes.fromhex(frame))


def test_wired_path_ignores_the_checksum():
    assert decode_command(bytes.fromhex("f0 82 01 00 f1"), check_checksum=False).key == 0x01


def test_command_decoder_resyncs_and_counts():
    d = CommandDecoder()
    good = encode_key(0x20)
    bad = bytes.fromhex("f0 83 20 5d f1")
    stream = b"\x00\x11" + good[:3] + good + bad + b"\xf1\xf1" + encode_key(0x01)
    out = d.feed(stream[:7]) + d.feed(stream[7:])
    assert [p.key for p in out] == [0x20, 0x01]
    assert d.bad_frames == 1
    assert d.dropped >= 2 + 3


def test_command_decoder_without_checksum_takes_the_bad_frame():
    d = CommandDecoder(check_checksum=False)
    assert [p.key for p in d.feed(bytes.fromhex("f0 82 20 00 f1"))] == [0x20]


# ------------------------------------------------------------------ key tables


def test_key_tables_per_model():
    # shared keys
    for table in (RT8600S_KEYS, RT6923_KEYS):
        assert table.power == 0x01 and table.heat_toggle == 0x27
        assert table.techniques["knead"] == 0x20 and table.techniques["rhythm"] == 0x26
        assert table.speeds == (0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33)
        assert table.timers == {600: 0x50, 1200: 0x51, 1800: 0x52}
        assert table.airbag_zones[AirbagZone.BUTTOCKS] == 0x43
        assert table.motors["backrest_down"] == (0x66, 0x67)
    # where they differ
    assert RT8600S_KEYS.status_length == 17 and RT6923_KEYS.status_length == 18
    assert not RT8600S_KEYS.heat_levels and RT8600S_KEYS.zero_gravity_presets == (0x3B, 0x3C, 0x3D)
    assert RT6923_KEYS.mode_3d == 0x3B and set(RT6923_KEYS.heat_levels.values()) == {0x3C, 0x3E}
    assert RT6923_KEYS.describe(0x3C) == "heat low"
    assert RT8600S_KEYS.describe(0x3C) == "zero-gravity preset 2"


def test_key_tables_have_no_duplicate_codes():
    for table in (RT8600S_KEYS, RT6923_KEYS):
        codes = [
            table.power,
            table.heat_toggle,
            *table.heat_levels.values(),
            *table.programs.values(),
            *table.techniques.values(),
            *table.scopes.values(),
            *table.widths,
            *table.speeds,
            *table.foot_roller.values(),
            *table.airbag_zones.values(),
            table.airbag_auto,
            *table.airbag_strengths,
            table.airbag_off,
            *table.timers.values(),
            *table.strengths_3d,
            *(k for pair in table.motors.values() for k in pair),
            table.zero_gravity,
            *table.zero_gravity_presets,
        ]
        codes = [c for c in codes if c is not None]
        assert len(codes) == len(set(codes)), table.name
        assert all(0 <= c <= 0x7F for c in codes)


# ------------------------------------------------------------------ status

#: A running chair: powered, knead, heat, speed 3, medium width, legs+arms airbags at 2,
#: full scope, 1199 s left, height 12, 3D strength 3. Hand-assembled from the byte map.
GOLDEN_17 = "f0 41 53 02 69 2f 00 03 0c 00 00 00 54 00 03 6b f1"
GOLDEN_STATUS = RongtaiStatus(
    powered=True,
    heat=True,
    run_state=RunState.RUNNING,
    technique="knead",
    speed=3,
    width=2,
    airbag_zones=AirbagZone.LEGS | AirbagZone.ARMS,
    airbag_strength=2,
    scope=Scope.FULL,
    remaining_s=1199,
    roller_height=12,
    rollers_active=True,
    intensity=3,
)


def test_status_golden_both_ways():
    frame = bytes.fromhex(GOLDEN_17)
    assert encode_status(GOLDEN_STATUS) == frame
    (decoded,) = StatusDecoder(checksum="strict").feed(frame)
    assert decoded == GOLDEN_STATUS and decoded.checked
    # the hardware-checked bits, read straight from the bytes
    assert frame[1] & 0x40 and frame[2] & 0x40 and frame[7] == 3
    assert frame[12] == 0x40 | 0x10 | 0x04 and frame[14] == 3
    # 1199 s = 9 * 128 + 47: high 5 bits in byte 4 (with scope 3 << 5), low 7 in byte 5
    assert frame[4] == (3 << 5) | 9 and frame[5] == 47


def test_idle_chair_frame():
    frame = encode_status(RongtaiStatus())
    assert frame.hex(" ") == "f0 " + "00 " * 14 + "7f f1"
    (s,) = StatusDecoder().feed(frame)
    assert not s.powered and s.run_state == RunState.IDLE and s.technique is None


def test_rt6923_frame_has_a_heat_level_byte():
    status = RongtaiStatus(powered=True, heat=True, run_state=RunState.READY, heat_level=3)
    frame = encode_status(status, length=18)
    assert len(frame) == 18 and frame[15] == 3
    (decoded,) = StatusDecoder(18, checksum="strict").feed(frame)
    assert decoded.heat_level == 3 and decoded.heat
    # a 17-byte decoder does not take 18-byte frames
    d17 = StatusDecoder(17)
    assert d17.feed(frame) == [] and d17.malformed >= 1


def test_every_field_round_trips():
    status = RongtaiStatus(
        powered=True,
        run_state=RunState.RESETTING,
        technique="rhythm",
        speed=6,
        width=3,
        airbag_zones=AirbagZone.BUTTOCKS | AirbagZone.BACK,
        airbag_strength=5,
        scope=Scope.POINT,
        remaining_s=4095,
        foot_roller=3,
        roller_height=31,
        body_scan=0x55,
        actuators=Actuator.BACKREST_DOWN | Actuator.LEG_REST,
        zero_gravity=True,
        reserved=0x12,
        program="lower-body",
        intensity=5,
    )
    (decoded,) = StatusDecoder(checksum="strict").feed(encode_status(status))
    assert decoded == status


def test_unknown_run_state_is_kept_raw():
    frame = bytearray(encode_status(RongtaiStatus()))
    frame[7] = 4
    frame[-2] = checksum7(frame[1:-2])
    (s,) = StatusDecoder(checksum="strict").feed(bytes(frame))
    assert s.run_state == 4 and s.state is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("speed", 7),
        ("airbag_strength", 6),
        ("remaining_s", 4096),
        ("roller_height", 32),
        ("intensity", 6),
        ("technique", "stroke"),
        ("program", "nap"),
    ],
)
def test_encoder_refuses_out_of_range(field, value):
    with pytest.raises(RongtaiError):
        encode_status(RongtaiStatus(**{field: value}))


def test_strict_checksum_skips_and_counts():
    good = bytes.fromhex(GOLDEN_17)
    bad = bytearray(good)
    bad[-2] ^= 0x01
    d = StatusDecoder(checksum="strict")
    assert d.feed(bytes(bad) + good) == [GOLDEN_STATUS]
    assert d.bad_checksum == 1 and d.frames == 1


def test_auto_checksum_falls_back_only_when_the_rule_never_matches():
    good = bytes.fromhex(GOLDEN_17)
    wrong = bytearray(good)
    wrong[-2] = (wrong[-2] + 1) & 0x7F  # a chair whose rule is not ours
    d = StatusDecoder(checksum="auto")
    assert d.feed(bytes(wrong) * (AUTO_WINDOW - 1)) == [] and not d.unverified
    # a whole window without one passing frame: the rule does not apply to this chair
    assert d.feed(bytes(wrong)) == [] and d.bad_checksum == AUTO_WINDOW and d.unverified
    got = d.feed(bytes(wrong) * 3)
    assert len(got) == 3 and not any(s.checked for s in got) and d.unverified
    # a frame that passes puts the decoder back to checking
    assert d.feed(good)[0].checked
    assert d.feed(bytes(wrong)) == [] and not d.unverified


def test_auto_checksum_keeps_skipping_a_rare_corrupt_frame():
    good = bytes.fromhex(GOLDEN_17)
    bad = bytearray(good)
    bad[-2] ^= 0x02
    d = StatusDecoder()  # auto is the default
    out = d.feed(good * 5 + bytes(bad) + good * 5)
    assert len(out) == 10 and d.bad_checksum == 1


def test_checksum_off_delivers_unchecked():
    bad = bytearray(bytes.fromhex(GOLDEN_17))
    bad[-2] ^= 0x01
    (s,) = StatusDecoder(checksum="off").feed(bytes(bad))
    assert not s.checked and s.powered


def test_bad_decoder_options_refused():
    with pytest.raises(ValueError):
        StatusDecoder(16)
    with pytest.raises(ValueError):
        StatusDecoder(checksum="sometimes")


def test_garbage_truncated_and_resync():
    good = bytes.fromhex(GOLDEN_17)
    d = StatusDecoder(checksum="strict")
    stream = (
        b"\x00\x13\x7f"  # line noise
        + good[:9]  # truncated frame, then a new one starts
        + good
        + b"\xf1\x99"  # stray end marker and a high byte
        + good[:5]
        + b"\x80"
        + good[6:]  # a high byte inside a frame
        + good
    )
    out = []
    for i in range(0, len(stream), 4):  # arrives in small pieces
        out += d.feed(stream[i : i + 4])
    assert out == [GOLDEN_STATUS, GOLDEN_STATUS]
    assert d.malformed >= 2 and d.dropped > 0


def test_frame_split_across_feeds_is_decoded_once_complete():
    good = bytes.fromhex(GOLDEN_17)
    d = StatusDecoder()
    assert d.feed(good[:16]) == []
    assert d.feed(good[16:]) == [GOLDEN_STATUS]


# ------------------------------------------------------------------ properties

statuses = st.builds(
    RongtaiStatus,
    powered=st.booleans(),
    heat=st.booleans(),
    run_state=st.sampled_from(list(RunState)),
    technique=st.sampled_from([None, "knead", "knock", "shiatsu", "tap", "knead-knock", "rhythm"]),
    speed=st.integers(0, 6),
    width=st.integers(0, 3),
    airbag_zones=st.sampled_from([AirbagZone(b) for b in range(0, 0x40, 4)]),
    airbag_strength=st.integers(0, 5),
    scope=st.sampled_from(list(Scope)),
    remaining_s=st.integers(0, 4095),
    roller_height=st.integers(0, 31),
    rollers_active=st.booleans(),
    intensity=st.integers(0, 5),
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_decoder_never_raises_on_random_bytes(data, chunk):
    for mode in ("auto", "strict", "off"):
        d = StatusDecoder(checksum=mode)
        for i in range(0, len(data), chunk):
            for s in d.feed(data[i : i + chunk]):
                assert isinstance(s, RongtaiStatus)
    c = CommandDecoder()
    for i in range(0, len(data), chunk):
        c.feed(data[i : i + chunk])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100), statuses, statuses)
def test_valid_frames_are_found_after_garbage(garbage, first, second):
    d = StatusDecoder(checksum="strict")
    d.feed(garbage)
    out = d.feed(encode_status(first) + encode_status(second))
    # the garbage may have left a partial frame that swallows the start of the first;
    # the decoder must recover by the second at the latest
    assert out[-1] == second
    assert out in ([first, second], [second])


@settings(max_examples=200, deadline=None)
@given(statuses)
def test_status_round_trip(status):
    (decoded,) = StatusDecoder(checksum="strict").feed(encode_status(status))
    assert decoded == status
