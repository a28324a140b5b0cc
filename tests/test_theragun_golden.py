"""Theragun golden bytes, checked on both sides of the link, each side on its own.

The frames come from the primary sources, not from our code:

* buttplugio/stpihkal issue 127 (the decompiled vendor app): ``requestVersion`` is the literal
  ``AA 20 20 00``; ``requestStatus`` puts 0x10, 0x00 at bytes 2-3 and their checksum at 1;
  ``setSpeed`` puts 01 03 rpm_hi rpm_lo 03 at bytes 2-6 (mode 1), or 01 03 only (any other
  mode); ``parseNotification`` reads a status at 0xBB, byte 2 = 0x10, running at 4, speed at
  13-14.
* buttplugio/docs.buttplug.io ``stpihkal/protocols/theragun/index.md``: the 4-byte form is the
  Wave rollers'; a version reply has 0x20 at byte 2 and ``major*100 + minor*10 + patch`` at
  12-13; 0-3616 rpm on the Pro and Elite, 0-3584 on the Prime.
* 1750 rpm -> ``AA E3 01 03 06 D6 03``: worked by hand from the checksum rule
  (01+03+06+D6+03 = 0x1E3, low byte E3).

The driver's encoder (``codec``) and the simulator's reader (``firmware``) are each held to
these bytes, never to each other.
"""

from __future__ import annotations

import pytest

from massager_ctl.devices.theragun import codec as host
from massager_ctl.devices.theragun import firmware as gun

H = bytes.fromhex

#: (what it is, the frame) - host to gun
SPEED_1750 = H("AA E3 01 03 06 D6 03")
SPEED_0 = H("AA 07 01 03 00 00 03")  # 01+03+00+00+03 = 07
SPEED_3616 = H("AA 35 01 03 0E 20 03")  # 01+03+0E+20+03 = 0x35
SPEED_3584 = H("AA 15 01 03 0E 00 03")  # 01+03+0E+00+03 = 0x15
VERSION_QUERY = H("AA 20 20 00")
STATUS_QUERY = H("AA 10 10 00")
WAVE_SPEED = H("AA 04 01 03")

#: gun to host: a status, running at 1750 rpm (10+01+06+D6 = 0xED)
STATUS_1750 = H("BB ED 10 00 01 00 00 00 00 00 00 00 00 06 D6")
#: stopped (only the kind byte: checksum 10)
STATUS_STOPPED = H("BB 10 10 00 00 00 00 00 00 00 00 00 00 00 00")
#: firmware 2.1.6 = 216 = 0x00D8 at bytes 12-13 (20+D8 = 0xF8)
VERSION_2_1_6 = H("BB F8 20 00 00 00 00 00 00 00 00 00 00 D8")
#: firmware 2.0.4 = 204 = 0x00CC (20+CC = 0xEC)
VERSION_2_0_4 = H("BB EC 20 00 00 00 00 00 00 00 00 00 00 CC")

SPEEDS = [(1750, SPEED_1750), (0, SPEED_0), (3616, SPEED_3616), (3584, SPEED_3584)]


# --------------------------------------------------------------------------- the driver's side


@pytest.mark.parametrize("rpm, frame", SPEEDS)
def test_driver_encodes_speed(rpm, frame):
    assert host.speed_frame(rpm) == frame


def test_driver_encodes_stop_version_and_status_queries():
    assert host.STOP_FRAME == SPEED_0
    assert host.VERSION_QUERY == VERSION_QUERY
    assert host.STATUS_QUERY == STATUS_QUERY


def test_driver_reads_the_guns_replies():
    running = host.decode_reply(STATUS_1750)
    assert running is not None and host.parse_status(running) == host.GunStatus(running=1, rpm=1750)
    stopped = host.decode_reply(STATUS_STOPPED)
    assert stopped is not None and host.parse_status(stopped) == host.GunStatus(running=0, rpm=0)
    assert host.parse_status(stopped).stopped
    for frame, version in ((VERSION_2_1_6, (2, 1, 6)), (VERSION_2_0_4, (2, 0, 4))):
        reply = host.decode_reply(frame)
        assert reply is not None and host.parse_version(reply) == version
        assert host.parse_status(reply) is None
    assert host.parse_version(host.decode_reply(STATUS_1750)) is None
    assert host.decode_reply(VERSION_2_1_6[:-1] + b"\xd9") is None  # checksum no longer adds up


def test_driver_knows_the_models_ranges_and_lowest_firmware():
    assert host.MAX_RPM == {"theragun-pro": 3616, "theragun-elite": 3616, "theragun-prime": 3584}
    assert host.MIN_FIRMWARE == {
        "theragun-pro": (2, 1, 6),
        "theragun-elite": (2, 1, 6),
        "theragun-prime": (2, 0, 4),
    }


# --------------------------------------------------------------------------- the gun's side


@pytest.mark.parametrize("rpm, frame", SPEEDS)
def test_gun_reads_speed(rpm, frame):
    assert gun.read_host_frame(frame) == gun.SetRpm(rpm)


def test_gun_reads_queries_and_the_wave_form():
    assert gun.read_host_frame(VERSION_QUERY) == gun.AskVersion()
    assert gun.read_host_frame(STATUS_QUERY) == gun.AskStatus()
    assert gun.read_host_frame(WAVE_SPEED) == gun.WaveSpeed()
    # the app sends its 7-byte array with the checksum of 01 03 only
    assert gun.read_host_frame(H("AA 04 01 03 00 00 00")) == gun.WaveSpeed()


@pytest.mark.parametrize(
    "frame",
    [
        H("AA E4 01 03 06 D6 03"),  # checksum off by one
        H("BB E3 01 03 06 D6 03"),  # a reply's head
        H("AA 20"),
        b"",
    ],
)
def test_gun_drops_what_is_not_a_frame(frame):
    assert isinstance(gun.read_host_frame(frame), gun.Garbled)


def test_gun_keeps_a_good_frame_it_does_not_know_apart():
    assert gun.read_host_frame(H("AA 31 30 01")) == gun.Unknown(H("30 01"))


def test_gun_builds_its_replies():
    assert gun.status_notification(True, 1750) == STATUS_1750
    assert gun.status_notification(False, 0) == STATUS_STOPPED
    assert gun.version_notification((2, 1, 6)) == VERSION_2_1_6
    assert gun.version_notification((2, 0, 4)) == VERSION_2_0_4
    with pytest.raises(ValueError):
        gun.version_notification((2, 10, 0))  # minor has one digit in the app's reading


def test_gun_knows_the_models_ranges_and_lowest_firmware():
    assert gun.TOP_RPM == {"theragun-pro": 3616, "theragun-elite": 3616, "theragun-prime": 3584}
    assert gun.LOWEST_FIRMWARE["theragun-prime"] == (2, 0, 4)
    assert gun.LOWEST_FIRMWARE["theragun-pro"] == gun.LOWEST_FIRMWARE["theragun-elite"] == (2, 1, 6)
