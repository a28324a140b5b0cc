"""Pulsetto golden bytes, checked on both sides of the link, each side on its own.

The bytes come from the primary sources, not from our code:

* jooray/pulse-libre-desktop ``docs/PULSETTO_PROTOCOL.md``: commands are ASCII ended by
  ``\\n``; ``+`` and ``-`` are written with response, all else without; the start sequence
  (``+``, ``-``, 250 ms, ``0``, 450 ms, ``5``, 450 ms, ``0``, 450 ms, the level, 250 ms, the
  side, the LED) and the stop (``+``, ``-``, ``-``); sides ``A`` left, ``C`` right, ``D``
  both; replies ``Batt:3.97``, ``u\\x011`` / ``u\\x010`` (charging or not), ``fw:1.1.22``,
  ``Pulsetto_ST_02``, and a status notification of three lines ``mode:0``, ``BR:100``,
  ``Batt:3.97``.
* jooray/pulse-libre-desktop ``main.py``: 3.5 V is 0 %, 3.9 V is 100 %.

The driver's encoder and reader (``codec``) and the simulator's reader and replies
(``firmware``) are each held to these bytes, never to each other.
"""

from __future__ import annotations

import pytest

from massager_ctl.devices.pulsetto import codec as host
from massager_ctl.devices.pulsetto import firmware as unit

#: A session at level 6 on both sides with the LED low, as PULSETTO_PROTOCOL.md lists it.
START_6_BOTH_LOW = b"+\n-\n0\n5\n0\n6\nD\nE\n"
START_WAITS = [0.0, 0.25, 0.45, 0.45, 0.45, 0.25, 0.0, 0.0]
STOP = b"+\n-\n-\n"
STATUS_NOTIFICATION = b"mode:0\nBR:100\nBatt:3.97"


# --------------------------------------------------------------------------- the driver's side


def test_driver_encodes_the_start_and_stop_sequences():
    start = host.start_sequence(6, host.Side.BOTH, led="E")
    assert b"".join(step.data for step in start) == START_6_BOTH_LOW
    assert [step.wait_s for step in start] == START_WAITS
    assert [step.response for step in start] == [True, True] + [False] * 6
    stop = host.stop_sequence()
    assert b"".join(step.data for step in stop) == STOP
    assert all(step.response for step in stop)


@pytest.mark.parametrize(
    "text, data",
    [("Q", b"Q\n"), ("u", b"u\n"), ("v", b"v\n"), ("A", b"A\n"), ("C", b"C\n"), ("9", b"9\n")],
)
def test_driver_encodes_commands(text, data):
    assert host.encode(text) == data
    assert not host.needs_response(text)


def test_driver_reads_the_battery_from_a_status_notification_without_its_newline():
    decoder = host.LineDecoder()
    lines = decoder.feed(STATUS_NOTIFICATION) + decoder.flush()
    assert lines == ["mode:0", "BR:100", "Batt:3.97"]
    assert [host.parse_battery(line) for line in lines] == [None, None, pytest.approx(3.97)]


@pytest.mark.parametrize("volts, pct", [(3.5, 0), (3.9, 100), (3.7, 50), (3.97, 100), (3.4, 0)])
def test_driver_reads_battery_percent(volts, pct):
    assert host.battery_percent(volts) == pct


def test_driver_reads_the_charging_reply_without_tripping_on_its_control_byte():
    decoder = host.LineDecoder()
    assert decoder.feed(b"u\x011\n") == ["u1"] and decoder.dropped == 1


# --------------------------------------------------------------------------- the unit's side


def test_unit_reads_the_start_and_stop_sequences():
    lines = unit.HostLines()
    start = lines.take(START_6_BOTH_LOW)
    assert [unit.read_command(line) for line in start] == [
        unit.RampUp(),
        unit.RampDown(),
        unit.Level(0),
        unit.Level(5),
        unit.Level(0),
        unit.Level(6),
        unit.ChooseSide("both"),
        unit.ChooseLed("E"),
    ]
    assert [unit.read_command(line) for line in lines.take(STOP)] == [
        unit.RampUp(),
        unit.RampDown(),
        unit.RampDown(),
    ]


@pytest.mark.parametrize(
    "text, command",
    [
        ("A", unit.ChooseSide("left")),
        ("C", unit.ChooseSide("right")),
        ("D", unit.ChooseSide("both")),
        ("G", unit.ChooseLed("G")),
        ("Q", unit.Ask("battery")),
        ("u", unit.Ask("charging")),
        ("v", unit.Ask("firmware")),
        ("i", unit.Ask("identity")),
        ("U", unit.EnterDfu()),
        ("9", unit.Level(9)),
        ("10", unit.Unknown("10")),
        ("B", unit.Unknown("B")),
    ],
)
def test_unit_reads_commands(text, command):
    assert unit.read_command(text) == command


def test_unit_waits_for_the_newline_and_drops_noise():
    lines = unit.HostLines()
    assert lines.take(b"Q") == [] and lines.take(b"\r\n") == ["Q"]
    assert lines.take(b"\xff\n5\n") == ["5"] and lines.garbled == 1
    assert lines.take(b"x" * 40) == [] and lines.garbled == 2  # no newline in sight: dropped
    assert lines.take(b"\n+\n") == ["+"]  # an empty line is nothing


def test_unit_builds_its_replies():
    assert unit.battery_reply(3.97) == b"Batt:3.97\n"
    assert unit.charging_reply(True) == b"u\x011\n"
    assert unit.charging_reply(False) == b"u\x010\n"
    assert unit.firmware_reply() == b"fw:1.1.22\n"
    assert unit.identity_reply() == b"Pulsetto_ST_02\n"
    assert (unit.EMPTY_V, unit.FULL_V) == (3.5, 3.9)
