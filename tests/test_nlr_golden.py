"""NLR HF8 golden bytes, checked on both sides of the line, each side on its own.

The bytes come from the primary sources, not from our code:

* buttplugio/docs.buttplug.io ``stpihkal/protocols/next-level-racing/index.md`` (and its
  source, docs.buttplug.io issue 36): ``M<motor><intensity>\\r`` with motor 0-7 and intensity
  0-255; ``P\\r`` asks for the state, answered ``E<scale>,A<audio>`` (scale 0-255, audio 0/1);
  motors 0-7 are right thigh, left thigh, right buttock, left buttock, right back, left back,
  right shoulder, left shoulder.
* buttplugio/buttplug ``buttplug/src/server/device/protocol/nextlevelracing.rs``: the numbers
  are written as plain decimals straight after the ``M``, then ``\\r``.

The driver's encoder and reader (``codec``, ``patterns``) and the simulated pad's reader and
answer (``firmware``) are each held to these bytes, never to each other.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massager_ctl.core.vocabulary import Zone
from massager_ctl.devices.nlr import codec as host
from massager_ctl.devices.nlr import firmware as pad
from massager_ctl.devices.nlr.patterns import ROWS

#: (motor, level, the line): the docs page's form, numbers as nextlevelracing.rs writes them.
MOTOR_LINES = [
    (3, 128, b"M3128\r"),
    (0, 0, b"M00\r"),
    (7, 255, b"M7255\r"),
    (5, 9, b"M59\r"),
    (2, 10, b"M210\r"),
]
QUERY = b"P\r"
ALL_OFF = b"M00\rM10\rM20\rM30\rM40\rM50\rM60\rM70\r"
#: The docs page's motor layout, by motor number.
LAYOUT = (
    "right thigh",
    "left thigh",
    "right buttock",
    "left buttock",
    "right back",
    "left back",
    "right shoulder",
    "left shoulder",
)


# --------------------------------------------------------------------------- the driver's side


@pytest.mark.parametrize("motor, level, line", MOTOR_LINES)
def test_driver_encodes_motor_lines(motor, level, line):
    assert host.motor_command(motor, level) == line


def test_driver_encodes_the_query_and_the_stop():
    assert host.query_command() == QUERY
    assert b"".join(host.all_off()) == ALL_OFF


@pytest.mark.parametrize(
    "line, scale, audio",
    [(b"E255,A0", 255, False), (b"E0,A1", 0, True), (b"E128,A0", 128, False)],
)
def test_driver_reads_the_state_answer(line, scale, audio):
    assert host.parse_reply(line) == host.PadInfo(scale, audio)


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"])
def test_driver_takes_the_answer_with_any_line_end_or_none(end):
    """No source gives the answer's line end: every common one ends it, and none at all is
    taken after a quiet time (flush)."""
    splitter = host.LineSplitter()
    assert splitter.feed(b"E200,A1" + end) == [b"E200,A1"]
    splitter = host.LineSplitter()
    assert splitter.feed(b"E200,A1") == [] and splitter.flush() == [b"E200,A1"]


@pytest.mark.parametrize("line", [b"E256,A0", b"E1,A2", b"E,A0", b"A0,E1"])
def test_driver_refuses_what_the_page_does_not_allow(line):
    assert isinstance(host.parse_reply(line), host.BadLine)


def test_driver_places_motors_as_the_page_lays_them_out():
    assert host.MOTOR_POSITIONS == LAYOUT
    parts = {Zone.THIGHS: "thigh", Zone.SEAT: "buttock", Zone.LOWER_BACK: "back", Zone.SHOULDERS: "shoulder"}
    for zones, (right, left) in ROWS:
        (part,) = {parts[z] for z in zones if z in parts}
        assert (LAYOUT[right], LAYOUT[left]) == (f"right {part}", f"left {part}")


# --------------------------------------------------------------------------- the pad's side


def test_pad_reads_motor_lines_and_the_query():
    lines = pad.HostLines()
    data = b"".join(line for _, _, line in MOTOR_LINES) + QUERY
    assert [pad.read_command(line) for line in lines.take(data)] == [
        *(pad.SetLevel(motor, level) for motor, level, _ in MOTOR_LINES),
        pad.AskState(),
    ]


def test_pad_reads_the_stop_as_eight_zeros():
    lines = pad.HostLines()
    assert [pad.read_command(line) for line in lines.take(ALL_OFF)] == [pad.SetLevel(m, 0) for m in range(8)]


def test_pad_waits_for_the_carriage_return():
    lines = pad.HostLines()
    assert lines.take(b"M31") == [] and lines.take(b"28") == [] and lines.take(b"\r") == [b"M3128"]


@pytest.mark.parametrize(
    "line, why",
    [
        (b"M8100", "motor 8 is outside 0..7"),
        (b"M9255", "motor 9 is outside 0..7"),
        (b"M3256", "level 256 is outside 0..255"),
        (b"M3", pad.NOT_A_COMMAND),
        (b"M31234", pad.NOT_A_COMMAND),
        (b"m3128", pad.NOT_A_COMMAND),
        (b"M-10", pad.NOT_A_COMMAND),
        (b"M3 12", pad.NOT_A_COMMAND),
        (b"PP", pad.NOT_A_COMMAND),
        (b"\xa5\x01\xff", pad.NOT_A_COMMAND),
    ],
)
def test_pad_refuses_out_of_range_and_unknown_lines(line, why):
    command = pad.read_command(line)
    assert isinstance(command, pad.Refused) and command.why == why


def test_pad_ignores_the_line_feed_of_a_terminal_program():
    lines = pad.HostLines()
    assert [pad.read_command(line) for line in lines.take(b"M3128\r\nP\r\n")] == [
        pad.SetLevel(3, 128),
        pad.AskState(),
    ]


def test_pad_drops_an_overlong_line_and_resyncs():
    lines = pad.HostLines()
    assert lines.take(b"x" * 40) == [] and lines.garbled == 1
    assert lines.take(b"yyy\rM12\r") == [b"M12"]  # the rest of the noise went with it
    assert lines.take(b"z" * 33 + b"\rP\r") == [b"P"] and lines.garbled == 2


def test_pad_answers_the_query():
    assert pad.state_answer(255, False) == b"E255,A0\r"
    assert pad.state_answer(0, True) == b"E0,A1\r"
    with pytest.raises(ValueError):
        pad.state_answer(256, False)


def test_pad_layout_is_the_pages():
    assert [f"{side} {part}" for side, part in pad.LAYOUT] == list(LAYOUT)
    assert (pad.MOTORS, pad.TOP_LEVEL, pad.TOP_SCALE) == (8, 255, 255)


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_pad_reader_never_raises_and_chunking_does_not_matter(chunks):
    at_once = pad.HostLines()
    whole = at_once.take(b"".join(chunks))
    lines = pad.HostLines()
    pieces = [line for chunk in chunks for line in lines.take(chunk)]
    assert pieces == whole and lines.garbled == at_once.garbled
    for line in pieces:
        pad.read_command(line)
    assert all(0 < len(line) <= pad.LONGEST_LINE and b"\r" not in line for line in pieces)
