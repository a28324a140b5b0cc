"""Next Level Racing HF8: golden bytes, line splitting, patterns, driver and simulator.

The driver and simulator run over an in-memory link in virtual time; the
serial path is covered by tests/test_serial_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massager_ctl.api import connect
from massager_ctl.core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.nlr.codec import (
    BadLine,
    LineSplitter,
    PadInfo,
    Query,
    SetMotor,
    all_off,
    encode_info,
    motor_command,
    parse_command,
    parse_reply,
    query_command,
)
from massager_ctl.devices.nlr.driver import NlrDevice
from massager_ctl.devices.nlr.patterns import (
    NLR_CAPABILITIES,
    OFF,
    ROWS,
    active_rows,
    levels_at,
    period_s,
)
from massager_ctl.devices.nlr.sim import NlrSim
from massager_ctl.plan import Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.sim.faults import FaultInjector
from massager_ctl.transport.memory import MemoryLink

RIGHT = (0, 2, 4, 6)
LEFT = (1, 3, 5, 7)

# ------------------------------------------------------------------ codec: golden bytes


@pytest.mark.parametrize(
    "motor, level, hexed",
    [
        (3, 128, "4d 33 31 32 38 0d"),  # M3128\r
        (0, 0, "4d 30 30 0d"),  # M00\r
        (7, 255, "4d 37 32 35 35 0d"),  # M7255\r
        (5, 9, "4d 35 39 0d"),  # M59\r: no padding
    ],
)
def test_motor_command_golden_bytes(motor, level, hexed):
    assert motor_command(motor, level) == bytes.fromhex(hexed)


def test_query_and_all_off_golden_bytes():
    assert query_command() == bytes.fromhex("50 0d")
    assert b"".join(all_off()) == bytes.fromhex(
        "4d 30 30 0d 4d 31 30 0d 4d 32 30 0d 4d 33 30 0d 4d 34 30 0d 4d 35 30 0d 4d 36 30 0d 4d 37 30 0d"
    )


@pytest.mark.parametrize("motor, level", [(8, 0), (-1, 0), (0, 256), (0, -1), (True, 3), (1, 2.0)])
def test_motor_command_refuses_out_of_range(motor, level):
    with pytest.raises(ValueError):
        motor_command(motor, level)


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"M3128", SetMotor(3, 128)),
        (b"M00", SetMotor(0, 0)),
        (b"M7255", SetMotor(7, 255)),
        (b"\nM12", SetMotor(1, 2)),  # the \n of a \r\n from a terminal program
        (b"P", Query()),
    ],
)
def test_parse_command_accepts(line, expected):
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    "line, why",
    [
        (b"M8100", "motor 8 is outside 0..7"),
        (b"M3256", "level 256 is outside 0..255"),
        (b"M3", "not M<motor><level> or P"),
        (b"M31234", "not M<motor><level> or P"),
        (b"m3128", "not M<motor><level> or P"),
        (b"\xa5\x01\xff", "not M<motor><level> or P"),
        (b"PP", "not M<motor><level> or P"),
    ],
)
def test_parse_command_rejects(line, why):
    result = parse_command(line)
    assert isinstance(result, BadLine) and result.reason == why


def test_replies_golden_and_parsed():
    assert encode_info(PadInfo(255, False)) == bytes.fromhex("45 32 35 35 2c 41 30 0d")  # E255,A0\r
    assert parse_reply(b"E255,A0") == PadInfo(255, False)
    assert parse_reply(b"E12,A1") == PadInfo(12, True)
    assert isinstance(parse_reply(b"E300,A0"), BadLine)
    assert isinstance(parse_reply(b"E1,A2"), BadLine)
    assert isinstance(parse_reply(b"OK"), BadLine)


@given(st.binary(max_size=200))
def test_parsers_never_raise(data):
    splitter = LineSplitter()
    for line in splitter.feed(data):
        parse_reply(line)
        parse_command(line)


def test_line_splitter_one_byte_at_a_time_and_resync():
    stream = b"E255,A0\r\nE1,A1\r" + b"x" * 100 + b"\rE7,A0\n"
    splitter = LineSplitter()
    lines = []
    for byte in stream:
        lines += splitter.feed(bytes([byte]))
    assert lines == [b"E255,A0", b"E1,A1", b"E7,A0"]  # \r\n is one end; the overlong line dropped
    assert splitter.dropped == 100 and splitter.pending == 0


@given(st.lists(st.binary(max_size=30), max_size=20))
def test_line_splitter_chunking_does_not_matter(chunks):
    data = b"".join(chunks)
    whole = LineSplitter().feed(data)
    split = LineSplitter()
    pieces = []
    for chunk in chunks:
        pieces += split.feed(chunk)
    assert pieces == whole


# ------------------------------------------------------------------ patterns


def state(technique, zones, intensity=200, speed=5):
    return DeviceState(technique=technique, zones=frozenset(zones), intensity=intensity, speed=speed)


ALL_ZONES = (Zone.THIGHS, Zone.SEAT, Zone.LOWER_BACK, Zone.SHOULDERS)


def samples(s, seconds=None, dt=0.01):
    seconds = seconds if seconds is not None else 2 * period_s(s.speed)
    return [(i * dt, levels_at(s, i * dt)) for i in range(int(seconds / dt))]


def test_vibrate_is_steady_on_the_selected_zones_only():
    s = state(Technique.VIBRATE, [Zone.SEAT, Zone.SHOULDERS], intensity=90)
    for _, levels in samples(s):
        assert levels == (0, 0, 90, 90, 0, 0, 90, 90)


def test_back_zones_share_the_one_back_pair():
    for zone in (Zone.LOWER_BACK, Zone.MID_BACK, Zone.UPPER_BACK):
        assert levels_at(state(Technique.VIBRATE, [zone], 50), 0.0) == (0, 0, 0, 0, 50, 50, 0, 0)


def test_stopped_states_are_all_off():
    assert levels_at(DeviceState(), 1.0) == OFF
    assert levels_at(state(Technique.KNEAD, ALL_ZONES, intensity=0), 1.0) == OFF
    assert levels_at(state(Technique.KNEAD, [Zone.CALVES]), 1.0) == OFF


def test_roll_is_a_wave_travelling_up_the_rows():
    s = state(Technique.ROLL, ALL_ZONES, speed=5)
    period = period_s(5)
    peaks = []
    for row, (_, (right, left)) in enumerate(ROWS):
        series = samples(s, seconds=period, dt=period / 200)
        t_peak = max(series, key=lambda item: item[1][right])[0]
        assert all(lv[right] == lv[left] for _, lv in series)  # rows move as a pair
        peaks.append((t_peak, row))
    assert [row for _, row in sorted(peaks)] == [0, 1, 2, 3]  # thighs, seat, back, shoulders
    # Never the whole pad at full at once: it is a wave, not a pulse.
    assert all(sum(lv) < 4 * 200 for _, lv in samples(s))


def test_knead_cross_fades_right_and_left():
    s = state(Technique.KNEAD, [Zone.SHOULDERS], intensity=200)
    series = samples(s)
    assert all(lv[6] + lv[7] == pytest.approx(2 * 0.65 * 200, abs=2) for _, lv in series)
    assert max(lv[6] for _, lv in series) == 200 and min(lv[6] for _, lv in series) == 60
    assert all(lv[:6] == (0,) * 6 for _, lv in series)


def test_shiatsu_presses_alternating_pairs_never_both():
    s = state(Technique.SHIATSU, [Zone.SEAT, Zone.LOWER_BACK], intensity=150)
    series = samples(s)
    right_on = [all(lv[m] == 150 for m in (2, 4)) for _, lv in series]
    left_on = [all(lv[m] == 150 for m in (3, 5)) for _, lv in series]
    assert any(right_on) and any(left_on)
    assert not any(r and left for r, left in zip(right_on, left_on, strict=True))


def test_tap_pulses_together_and_knock_alternates_sides():
    tap = samples(state(Technique.TAP, [Zone.SEAT], intensity=100))
    assert all(lv[2] == lv[3] for _, lv in tap)
    assert {lv[2] for _, lv in tap} == {0, 100}
    knock = samples(state(Technique.KNOCK, [Zone.SEAT], intensity=100))
    assert {lv[2] for _, lv in knock} == {0, 100} and {lv[3] for _, lv in knock} == {0, 100}
    assert not any(lv[2] and lv[3] for _, lv in knock)


def test_faster_speed_means_a_shorter_period():
    periods = [period_s(s) for s in range(1, 11)]
    assert periods == sorted(periods, reverse=True)
    assert periods[0] == pytest.approx(2.4) and periods[-1] == pytest.approx(0.8)


@given(
    technique=st.sampled_from(list(Technique)),
    zones=st.sets(st.sampled_from(list(Zone)), max_size=6),
    intensity=st.integers(0, 255),
    speed=st.integers(0, 10),
    t=st.floats(0, 3600, allow_nan=False),
)
def test_no_motor_ever_above_the_intensity_or_outside_its_zones(technique, zones, intensity, speed, t):
    s = DeviceState(technique=technique, zones=frozenset(zones), intensity=intensity, speed=speed)
    levels = levels_at(s, t)
    assert len(levels) == 8 and all(0 <= lv <= intensity for lv in levels)
    allowed = {m for r in active_rows(frozenset(zones)) for m in ROWS[r][1]}
    assert all(lv == 0 for m, lv in enumerate(levels) if m not in allowed)


# ------------------------------------------------------------------ simulator


async def started_sim(**kwargs):
    link = MemoryLink()
    sim = NlrSim(link.device, **kwargs)
    await sim.start()
    return link, sim


def test_sim_keeps_levels_answers_p_and_rejects_out_of_range():
    async def main():
        link, sim = await started_sim(intensity_scale=200, audio_mode=True)
        replies = bytearray()
        link.host.set_receiver(replies.extend)
        await link.host.write(b"M3128\rM8100\rM2256\rhello\rP\r")
        await asyncio.sleep(0.01)
        await sim.close()
        return sim, bytes(replies)

    sim, replies = run_virtual(main())
    assert sim.physics.levels == [0, 0, 0, 128, 0, 0, 0, 0]
    assert [why for _, _, why in sim.rejected] == [
        "motor 8 is outside 0..7",
        "level 256 is outside 0..255",
        "not M<motor><level> or P",
    ]
    assert replies == b"E200,A1\r"
    assert sim.physics.motors_on and not sim.physics.stopped
    assert sim.physics.target.zones == frozenset({Zone.SEAT})
    assert sim.physics.max_intensity_seen == 128


# ------------------------------------------------------------------ driver over the simulator


async def driver_and_sim(faults=None, **device_kwargs):
    link, sim = await started_sim(faults=faults)
    device = NlrDevice(link.host, **device_kwargs)
    return link, sim, device


def test_connect_identifies_and_clears_every_motor():
    async def main():
        link, sim, device = await driver_and_sim()
        await link.device.write(b"")  # nothing
        sim.physics.levels[4] = 99  # left running by someone before us
        await device.connect()
        await sim.close()
        return link, sim, device

    link, sim, device = run_virtual(main())
    assert device.info == PadInfo(255, False)
    assert [data for _, data in link.host.writes] == [b"P\r", b"".join(all_off())]
    assert sim.physics.levels == [0] * 8


def test_apply_writes_only_changed_motors_in_one_write():
    async def main():
        link, sim, device = await driver_and_sim()
        await device.connect()
        before = len(link.host.writes)
        await device.apply(state(Technique.VIBRATE, [Zone.SEAT], intensity=80))
        await device.apply(state(Technique.VIBRATE, [Zone.SEAT, Zone.THIGHS], intensity=80))
        await asyncio.sleep(0.01)
        await sim.close()
        return link.host.writes[before:], sim

    writes, sim = run_virtual(main())
    assert [data for _, data in writes] == [b"M280\rM380\r", b"M080\rM180\r"]
    assert sim.physics.levels == [80, 80, 80, 80, 0, 0, 0, 0]


def test_pattern_runs_on_the_loop_clock_and_stop_confirms():
    async def main():
        link, sim, device = await driver_and_sim()
        await device.connect()
        await device.apply(state(Technique.ROLL, ALL_ZONES, intensity=120, speed=10))
        await asyncio.sleep(2.0)
        mid = list(sim.physics.history)
        status = await device.stop()
        await asyncio.sleep(0.5)  # nothing may follow the stop
        await sim.close()
        return mid, sim, status, device

    mid, sim, status, device = run_virtual(main())
    # The wave reached every row bottom to top, more than once in 2 s at 0.8 s a period.
    # Sampled every 50 ms, each row's crest comes within 84 % of full.
    first_high = {}
    for t, motor, level in mid:
        if level >= 0.8 * 120 and motor not in first_high:
            first_high[motor] = t
    assert set(first_high) == set(range(8))
    assert first_high[0] < first_high[2] < first_high[4] < first_high[6]
    assert max(level for _, _, level in mid) <= 120
    assert sim.physics.stopped and sim.physics.levels == [0] * 8
    last = sim.physics.trace[-1]
    assert last.kind == "stop"
    assert all(t <= last.t for t, _, _ in sim.physics.history)
    assert status.stopped and status.extra["confirmed"] is True
    assert 96 <= sim.physics.max_intensity_seen <= 120


def test_stop_without_an_answer_is_unconfirmed_and_says_so(caplog):
    async def main():
        faults = FaultInjector()
        link, sim, device = await driver_and_sim(faults=faults)
        await device.connect()
        await device.apply(state(Technique.VIBRATE, [Zone.SEAT], intensity=60))
        faults.drop_outgoing()  # the pad hears but its answers are lost
        status = await device.stop(timeout=1.0)
        await sim.close()
        return sim, status

    with caplog.at_level(logging.WARNING):
        sim, status = run_virtual(main())
    assert sim.physics.stopped  # the zeros arrived
    assert status.extra["confirmed"] is False
    assert "unconfirmed" in caplog.text


def test_stop_after_the_link_is_lost_raises():
    async def main():
        link, sim, device = await driver_and_sim()
        await device.connect()
        await device.apply(state(Technique.KNEAD, [Zone.SEAT], intensity=60))
        link.cut("cable pulled")
        with pytest.raises(StopNotConfirmed, match="link lost .cable pulled.*no deadman"):
            await device.stop()
        with pytest.raises(DeviceDisconnected):
            await device.apply(state(Technique.VIBRATE, [Zone.SEAT], intensity=60))
        await sim.close()

    run_virtual(main())


def test_connect_to_a_silent_port_times_out():
    async def main():
        link = MemoryLink()
        device = NlrDevice(link.host)
        with pytest.raises(DeviceTimeout, match="no answer to P after 3 tries"):
            await device.connect()

    run_virtual(main())


def test_connect_takes_over_an_observed_port_and_a_failed_connect_closes_it():
    async def main():
        link, sim, device = await driver_and_sim()
        sim.physics.levels[2] = 80  # left running by someone before us
        await device.observe()
        watched = list(link.host.writes)
        await device.connect()  # the same port: P, then the eight zeros
        after = [data for _, data in link.host.writes]
        await sim.close()

        silent = MemoryLink()
        other = NlrDevice(silent.host)
        with pytest.raises(DeviceTimeout):
            await other.connect()
        return watched, after, sim.physics.levels, device.connected, other.connected, silent.host.opened

    watched, after, levels, connected, other_connected, other_open = run_virtual(main())
    assert watched == [] and after == [b"P\r", b"".join(all_off())]
    assert levels == [0] * 8 and connected
    assert not other_connected and not other_open


def test_connect_to_another_protocol_says_so():
    async def main():
        link = MemoryLink()
        device = NlrDevice(link.host)

        def chatter(_data):  # answers every query with binary frames of another chair
            asyncio.get_running_loop().create_task(link.device.write(b"\xf0\x83\x01\x7b\xf1" * 4))

        link.device.set_receiver(chatter)
        with pytest.raises(DeviceError, match="does not speak the HF8 protocol"):
            await device.connect()

    run_virtual(main())


def test_apply_refuses_what_the_pad_cannot_do():
    async def main():
        link, sim, device = await driver_and_sim()
        await device.connect()
        with pytest.raises(DeviceError, match="no motors for calves"):
            await device.apply(state(Technique.VIBRATE, [Zone.CALVES]))
        with pytest.raises(DeviceError, match="intensity 300"):
            await device.apply(state(Technique.VIBRATE, [Zone.SEAT], intensity=300))
        await sim.close()

    run_virtual(main())


# ------------------------------------------------------------------ whole path, sim:


def test_profile_on_sim_nlr_ends_stopped_and_capped():
    ms = 60_000
    plan = Plan(
        name="pad",
        roller=(
            RollerStep(
                0,
                ms // 2,
                "roll",
                "seg 1",
                Technique.ROLL,
                frozenset({Zone.SEAT, Zone.LOWER_BACK, Zone.SHOULDERS}),
                Level(20, 90),
                Level.constant(60),
            ),
            RollerStep(
                ms // 2,
                ms // 2,
                "knock",
                "seg 2",
                Technique.KNOCK,
                frozenset({Zone.THIGHS, Zone.CALVES}),
                Level.constant(80),
                Level.constant(40),
            ),
        ),
    )

    async def main():
        async with connect("sim:nlr-hf8", limits=SafetyLimits(max_intensity=50)) as chair:
            report = await chair.run(plan)
            return chair.simulator, report

    sim, report = run_virtual(main())
    assert report.reason == "finished" and report.stop_confirmed
    assert sim.physics.stopped
    assert sim.physics.max_intensity_seen <= NLR_CAPABILITIES.intensity_steps * 0.5
    moved = {motor for _, motor, level in sim.physics.history if level}
    assert moved == set(range(8))  # every row worked; calves were dropped with a warning
    assert any("calves" in w for w in report.warnings)


def test_a_reply_to_p_without_a_line_end_is_taken_after_a_quiet_time():
    """No source gives the reply's line end (buttplug, the one working client, never reads
    from the pad): a pad that answers "E200,A1" and nothing more is still identified."""

    async def main():
        link = MemoryLink()

        def pad(data: bytes) -> None:
            if b"P\r" in data:
                asyncio.get_running_loop().create_task(link.device.write(b"E200,A1"))

        link.device.set_receiver(pad)
        dev = NlrDevice(link.host)
        t0 = asyncio.get_running_loop().time()
        await dev.connect()
        took = asyncio.get_running_loop().time() - t0
        status = await dev.stop()
        return took, dev.info, status

    took, info, status = run_virtual(main())
    assert info == PadInfo(200, True)
    assert took < 0.2  # the quiet time (50 ms), not the reply timeout
    assert status.confirmed and status.stopped


def test_line_splitter_flush_takes_the_unfinished_line():
    s = LineSplitter()
    assert s.feed(b"E12,A0") == [] and s.pending == 6
    assert s.flush() == [b"E12,A0"] and s.pending == 0
    assert s.flush() == []
