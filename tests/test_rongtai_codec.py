"""Rongtai codec: key frames, and status read as the vendor's parser reads it - checked on
34 frames captured from a real chair (tests/rongtai_captures.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rongtai_captures import BY_NAME, CAPTURES, SOURCE

from massager_ctl.devices.rongtai.codec import (
    RT6923_KEYS,
    RT8600S_KEYS,
    AirbagZone,
    KeyPress,
    Motion,
    RongtaiError,
    RunState,
    Scope,
    StatusDecoder,
    checksum7,
    decode_command,
    decode_status,
    encode_key,
)

# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    "key, frame",
    [
        (0x01, "f0 83 01 7b f1"),  # power (hass-infinity-chair tests/test_protocol.py)
        (0x22, "f0 83 22 5a f1"),  # shiatsu (same source)
        (0x70, "f0 83 70 0c f1"),  # zero gravity (same source)
        (0x20, "f0 83 20 5c f1"),  # knead
        (0x52, "f0 83 52 2a f1"),  # timer 30 min
    ],
)
def test_key_frames_golden(key, frame):
    assert encode_key(key).hex(" ") == frame
    assert decode_command(bytes.fromhex(frame)) == KeyPress(0x83, key)


def test_other_sources_change_the_checksum():
    assert encode_key(0x01, source=0x82).hex(" ") == "f0 82 01 7c f1"
    assert encode_key(0x01, source=0x84).hex(" ") == "f0 84 01 7a f1"


@pytest.mark.parametrize("source", [0xA5, 0xBD])
def test_programming_and_engineering_sources_are_never_sent(source):
    # RT6923 ControlBox.h: PROGARM_CTRL 0xA5 and ENGGER_CTRL 0xBD switch the board's mode.
    with pytest.raises(RongtaiError, match="programming"):
        encode_key(0x01, source=source)


def test_checksum_rule():
    assert checksum7([0x83, 0x01]) == 0x7B
    assert checksum7([]) == 0x7F


@pytest.mark.parametrize("key", [-1, 0x80, 0xF0, 1.0, True, "1"])
def test_bad_keys_refused(key):
    with pytest.raises(RongtaiError):
        encode_key(key)


@pytest.mark.parametrize(
    "frame",
    ["f0 83 01 7a f1", "f0 83 01 7b f0", "f0 83 01 7b", "f0 83 81 7b f1", "f0 f1 01 7b f1"],
)
def test_bad_command_frames_refused(frame):
    with pytest.raises(RongtaiError):
        decode_command(bytes.fromhex(frame))


def test_key_tables_per_model():
    assert RT8600S_KEYS.status_length == 17 and RT6923_KEYS.status_length == 18
    assert RT8600S_KEYS.techniques["shiatsu"] == 0x22 and RT8600S_KEYS.techniques["tap"] == 0x23
    assert RT8600S_KEYS.strengths_3d == (0x58, 0x59, 0x5A, 0x5B, 0x5C)
    assert RT8600S_KEYS.airbag_zones[AirbagZone.BACK] == 0x42
    assert AirbagZone.BACK not in RT6923_KEYS.airbag_zones  # its firmware has no such key
    assert RT6923_KEYS.heat_levels == (0x3C, 0x3D, 0x3E) and not RT8600S_KEYS.heat_levels
    assert RT8600S_KEYS.describe(0x65) == "backrest_up stop"


def test_key_tables_have_no_duplicate_codes():
    for table in (RT8600S_KEYS, RT6923_KEYS):
        names = table._names()
        codes = [table.power, table.heat_toggle, *table.programs.values(), *table.techniques.values()]
        codes += [*table.scopes.values(), *table.widths, *table.speeds, *table.foot_roller.values()]
        codes += [*table.airbag_zones.values(), table.airbag_auto, *table.airbag_strengths, table.airbag_off]
        codes += [*table.timers.values(), *table.strengths_3d, table.zero_gravity, *table.modes_3d]
        codes += [k for pair in table.motors.values() for k in pair] + list(table.heat_levels)
        assert len(codes) == len(set(codes)), table.name
        assert all(0 < c <= 0x7F for c in codes) and len(names) == len(codes)


# ------------------------------------------------------- the real captures


def test_there_are_34_captured_status_frames():
    assert len(CAPTURES) == 34 and len({c.hex for c in CAPTURES}) == 34
    assert all(len(c.frame) == 17 for c in CAPTURES)
    assert "hass-infinity-chair" in SOURCE


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_capture_decodes_to_its_meaning(capture):
    status = decode_status(capture.frame)
    for attr, want in capture.meaning.items():
        assert getattr(status, attr) == want, (capture.name, attr, getattr(status, attr), want)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_the_streaming_decoder_takes_every_capture_whose_checksum_holds(capture):
    decoder = StatusDecoder()
    out = decoder.feed(capture.frame)
    if capture.checksum_ok:
        assert len(out) == 1 and decoder.bad_checksum == 0
        for attr, want in capture.meaning.items():
            assert getattr(out[0], attr) == want
    else:
        assert out == [] and decoder.bad_checksum == 1


def test_the_checksum_holds_on_33_of_34_captures_and_the_34th_is_off_by_one():
    bad = [c for c in CAPTURES if c.frame[-2] != checksum7(c.frame[1:-2])]
    assert [c.name for c in bad] == ["narrow"]
    frame = bad[0].frame
    assert (checksum7(frame[1:-2]) - frame[-2]) & 0x7F == 1  # one body byte, one higher


def test_old_reading_every_infinity_frame_knead_knock_is_gone():
    """b1 bits 0-2 are model flags (0x05 on the Infinity), not the technique: the old
    decoder read "knead-knock" (code 5... of b1 & 7) in every frame."""
    for capture in CAPTURES:
        status = decode_status(capture.frame)
        assert status.model_flags == 0x05
        if "technique" in capture.meaning:
            assert status.technique == capture.meaning["technique"]
    techniques = {decode_status(c.frame).technique for c in CAPTURES}
    assert {"knead", "knock", "knead-knock", "tap", "shiatsu", None} <= techniques
    assert decode_status(BY_NAME["idle"].frame).technique is None


def test_old_reading_state_35_is_gone():
    """b7's low nibble is the run state, its high bits airbags working: 0x23 is running."""
    status = decode_status(BY_NAME["airbag back"].frame)
    assert status.run_state == RunState.RUNNING and status.running
    assert status.airbags_working == 0x02  # bit 5: back/waist airbag working


def test_old_reading_speed_and_width_swapped_is_gone():
    status = decode_status(BY_NAME["tap, speed 6, foot roller off"].frame)  # b2 = 0x1a
    assert (status.speed, status.width) == (6, 2)


def test_old_reading_scope_order_is_gone():
    assert decode_status(BY_NAME["scope full"].frame).scope == Scope.FULL
    assert decode_status(BY_NAME["scope partial"].frame).scope == Scope.PARTIAL
    assert decode_status(BY_NAME["scope point, zero gravity off"].frame).scope == Scope.POINT


def test_old_reading_full_body_airbag_as_rollers_active_is_gone():
    # b12 bit 6 is the full-body airbag program; a manual technique has it clear.
    assert decode_status(BY_NAME["program recovery"].frame).airbag_auto
    knead = decode_status(BY_NAME["knead"].frame)
    assert not knead.airbag_auto and knead.running and knead.technique == "knead"


def test_program_and_3d_strength_are_bit_fields():
    recovery = decode_status(BY_NAME["program recovery"].frame)  # b13 = 0x05
    assert recovery.program == "recovery" and recovery.foot_roller_flag
    three_d = decode_status(BY_NAME["3D program"].frame)  # b13 = 0x2d, b14 = 0x0d
    assert three_d.program_code == 11 and three_d.program is None
    assert (three_d.strength_3d, three_d.program_3d) == (5, 1)
    manual = decode_status(BY_NAME["knead"].frame)
    assert manual.manual and manual.program is None


def test_roller_height_runs_from_the_waist_up_to_the_neck():
    assert decode_status(BY_NAME["roller at the waist"].frame).roller_height == 0
    assert decode_status(BY_NAME["roller at the neck"].frame).roller_height == 12
    assert decode_status(BY_NAME["roller at the neck"].frame).zero_gravity_marks == 1  # b8 bit 5


def test_a_resetting_chair_is_powered_with_heat_airbags_and_timer_cleared():
    status = decode_status(BY_NAME["resetting"].frame)
    assert status.powered and status.resetting and not status.takes_keys
    assert status.stop_on_its_way and status.remaining_s == 0
    # The Infinity still shows the technique during its reset; it is not massaging.
    assert status.technique == "shiatsu"


def test_timer_preset_and_remaining():
    start = decode_status(BY_NAME["running, session start"].frame)
    assert start.remaining_s == 599 and start.preset_timer_s == 600
    assert decode_status(BY_NAME["idle"].frame).preset_timer_s == 1800


def test_b10_bits_name_the_moving_actuators():
    frame = bytearray(BY_NAME["knead"].frame)
    for b10, back, leg in (
        (0x01, Motion.UP, Motion.STILL),
        (0x02, Motion.DOWN, Motion.STILL),
        (0x04, Motion.STILL, Motion.UP),
        (0x08, Motion.STILL, Motion.DOWN),
    ):
        frame[10] = b10
        frame[15] = checksum7(frame[1:15])
        status = decode_status(bytes(frame))
        assert (status.backrest, status.leg_rest) == (back, leg)
        assert status.actuators_moving


# ------------------------------------------------------- info frames, lengths, streams


INFO_10 = bytes.fromhex("f0 85 00 01 00 02 00 00 00 00".replace(" ", ""))
INFO_11 = INFO_10 + b"\xf1"


@pytest.mark.parametrize("info", [INFO_10, INFO_11], ids=["10 bytes", "11 bytes"])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_info_frames_are_skipped_not_malformed(info, chunk):
    frames = [c.frame for c in CAPTURES if c.checksum_ok][:3]
    stream = info + frames[0] + info + info + frames[1] + info + frames[2]
    decoder = StatusDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        out += decoder.feed(stream[i : i + chunk])
    assert [s.raw for s in out] == frames
    assert decoder.info_frames == 4 and decoder.malformed == 0 and decoder.dropped == 0


def test_info_frame_first_then_status_one_notification_each():
    # Over BLE each notification is one frame; an info frame may come first.
    decoder = StatusDecoder()
    assert decoder.feed(INFO_10) == []
    assert decoder.feed(b"\x00") == []  # a 1-byte frame
    out = decoder.feed(BY_NAME["ready"].frame)
    assert len(out) == 1 and out[0].ready and decoder.info_frames == 1


def test_rt6923_frame_has_no_checksum_and_no_heat_level():
    body = list(BY_NAME["heat on"].frame[1:15]) + [0x20]
    frame = bytes([0xF0, *body, 0x00, 0xF1])
    decoder = StatusDecoder(18)
    (status,) = decoder.feed(frame)
    assert status.heat and status.extra_byte == 0x20 and decoder.bad_checksum == 0
    assert not hasattr(status, "heat_level")


def test_garbage_truncated_and_resync():
    good = BY_NAME["ready"].frame
    decoder = StatusDecoder()
    out = decoder.feed(b"\x01\x02" + good[:9] + good + b"\xff" + good)
    assert len(out) == 2 and decoder.malformed >= 1 and decoder.dropped >= 2


def test_a_corrupt_status_frame_is_skipped_and_counted():
    frame = bytearray(BY_NAME["knead"].frame)
    frame[5] ^= 0x01
    decoder = StatusDecoder()
    assert decoder.feed(bytes(frame)) == [] and decoder.bad_checksum == 1


def test_bad_decoder_length_refused():
    with pytest.raises(ValueError):
        StatusDecoder(16)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_decoder_never_raises_on_random_bytes(data, chunk):
    decoder = StatusDecoder()
    for i in range(0, len(data), chunk):
        for status in decoder.feed(data[i : i + chunk]):
            assert 0 <= status.roller_height <= 31


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40), st.sampled_from([c for c in CAPTURES if c.checksum_ok]))
def test_valid_frames_are_found_after_garbage(garbage, capture):
    decoder = StatusDecoder()
    out = decoder.feed(garbage + capture.frame + capture.frame)
    assert [s.raw for s in out][-1:] == [capture.frame]
