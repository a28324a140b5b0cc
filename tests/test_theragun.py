"""Theragun: golden bytes, the simulated gun, the driver (in memory and over simulated BLE)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from massager_ctl.api import connect
from massager_ctl.connection.ble_scan import recognise_ble
from massager_ctl.core.errors import DeviceDisconnected, StopNotConfirmed
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.registry import get_model
from massager_ctl.devices.theragun import codec as tg
from massager_ctl.devices.theragun.driver import TheragunDevice
from massager_ctl.devices.theragun.sim import TheragunSim, intensity_step
from massager_ctl.plan import Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.transport.memory import MemoryLink

H = bytes.fromhex


# --------------------------------------------------------------------------- codec


def test_speed_frame_worked_example_1750_rpm():
    assert tg.speed_frame(1750) == H("AA E3 01 03 06 D6 03")


@pytest.mark.parametrize(
    "rpm, frame",
    [
        (0, "AA 07 01 03 00 00 03"),
        (3616, "AA 35 01 03 0E 20 03"),
        (3584, "AA 15 01 03 0E 00 03"),
        (255, "AA 06 01 03 00 FF 03"),  # 1+3+0+255+3 = 262 -> low byte 0x06
    ],
)
def test_speed_frames(rpm, frame):
    assert tg.speed_frame(rpm) == H(frame)


def test_stop_and_version_query_bytes():
    assert tg.STOP_FRAME == H("AA 07 01 03 00 00 03")
    assert tg.VERSION_QUERY == H("AA 20 20 00")


@pytest.mark.parametrize("bad", [-1, 65536, 1.5, True, "100"])
def test_speed_frame_refuses_values_that_do_not_fit(bad):
    with pytest.raises(ValueError):
        tg.speed_frame(bad)


def test_decode_command_and_reply():
    assert tg.decode_command(H("AA E3 01 03 06 D6 03")) == tg.Command("speed", 1750, H("01 03 06 D6 03"))
    assert tg.decode_command(H("AA 20 20 00")).kind == "version"
    assert tg.decode_command(H("AA E4 01 03 06 D6 03")) is None  # checksum off by one
    assert tg.decode_command(H("BB E3 01 03 06 D6 03")) is None  # a reply, not a command
    assert tg.decode_command(b"") is None and tg.decode_command(H("AA")) is None
    assert tg.decode_reply(H("BB 27 20 01 04 02")) == tg.Reply(H("20 01 04 02"))
    assert tg.decode_reply(H("BB 28 20 01 04 02")) is None


def test_reply_decoder_counts_garbage_and_never_raises():
    d = tg.ReplyDecoder()
    out = []
    for chunk in (H("BB 27 20 01 04 02"), b"\x00\xff", b"", H("AA 20 20 00"), H("BB 00")):
        out += d.feed(chunk)
    assert out == [tg.Reply(H("20 01 04 02"))]
    assert d.frames == 1 and d.bad_frames == 4


def test_intensity_steps_map_evenly_onto_the_model_range():
    assert tg.rpm_for_step(100, 100, 3616) == 3616
    assert tg.rpm_for_step(50, 100, 3616) == 1808
    assert tg.rpm_for_step(1, 100, 3584) == 36
    assert tg.rpm_for_step(0, 100, 3616) == 0
    for step in range(0, 101):
        assert tg.step_for_rpm(tg.rpm_for_step(step, 100, 3584), 100, 3584) == step
    assert tg.step_for_rpm(1, 100, 3616) == 1  # never reports a speed as lower


# --------------------------------------------------------------------------- model definitions


def test_models_and_recognition():
    assert {n: tg.MAX_RPM[n] for n in ("theragun-pro", "theragun-elite", "theragun-prime")} == {
        "theragun-pro": 3616,
        "theragun-elite": 3616,
        "theragun-prime": 3584,
    }
    ffe0 = ["0000ffe0-0000-1000-8000-00805f9b34fb"]
    assert recognise_ble("Pro", ffe0).name == "theragun-pro"
    assert recognise_ble("Elite", ffe0).name == "theragun-elite"
    assert recognise_ble("Prime", []).name == "theragun-prime"
    assert recognise_ble("ProBook", ffe0) is None  # a name prefix is not enough
    assert recognise_ble("Pro", ["0000180f-0000-1000-8000-00805f9b34fb"]) is None  # other services
    caps = get_model("theragun-pro").capabilities
    assert caps.intensity_steps == 100 and Zone.LOWER_BACK in caps.zones


# --------------------------------------------------------------------------- simulator


def test_sim_ramps_answers_version_and_rejects_bad_frames():
    async def main():
        link = MemoryLink()
        sim = TheragunSim(link.device, model="theragun-prime", ramp_rpm_per_s=2000)
        await sim.start()
        replies = []
        link.host.set_receiver(replies.append)
        await link.host.write(tg.VERSION_QUERY)
        await link.host.write(tg.speed_frame(2000))
        await asyncio.sleep(0.5)
        half = sim.physics.rpm(asyncio.get_running_loop().time())
        await asyncio.sleep(1.0)
        full = sim.physics.rpm(asyncio.get_running_loop().time())
        await link.host.write(H("AA E4 01 03 06 D6 03"))  # bad checksum
        await link.host.write(tg.speed_frame(3600))  # above the Prime's 3584
        await asyncio.sleep(0.1)
        still = sim.physics.target_rpm
        await link.host.write(tg.STOP_FRAME)
        stopping = sim.physics.stopped
        await asyncio.sleep(1.1)
        await sim.close()
        return replies, half, full, still, stopping, sim

    replies, half, full, still, stopping, sim = run_virtual(main())
    assert [tg.decode_reply(r) is not None for r in replies] == [True]
    assert 900 <= half <= 1100 and full == 2000
    assert still == 2000 and len(sim.rejected) == 2
    assert not stopping  # told to stop, still spinning down
    assert sim.physics.stopped and sim.physics.max_rpm_seen == 2000
    assert sim.physics.max_intensity_seen == 56  # 2000 of 3584 rpm, rounded up to a step
    assert [e.kind for e in sim.physics.trace] == ["query", "command", "rejected", "rejected", "stop"]


def test_sims_reading_of_rpm_as_steps_is_the_inverse_of_the_drivers_mapping():
    """The simulator reads speed as steps with its own arithmetic; it must agree with the
    driver's even spread at every rpm, or a speed could be reported as a lower step."""
    for max_rpm in (3616, 3584):
        for rpm in range(0, max_rpm + 1):
            assert intensity_step(rpm, max_rpm) == tg.step_for_rpm(rpm, 100, max_rpm), (rpm, max_rpm)


# --------------------------------------------------------------------------- driver


def test_driver_over_memory_link():
    async def main():
        link = MemoryLink()
        sim = TheragunSim(link.device, model="theragun-pro")
        await sim.start()
        dev = TheragunDevice(link.host, name="theragun-pro")
        await dev.connect()
        await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.UPPER_BACK}), intensity=50))
        await asyncio.sleep(2)
        running = sim.physics.rpm(asyncio.get_running_loop().time())
        status = await dev.stop()
        await asyncio.sleep(2)
        await dev.disconnect()
        await sim.close()
        return dev, running, status, link.host.writes, sim

    dev, running, status, writes, sim = run_virtual(main())
    assert dev.firmware == "2.1.6" and dev.firmware_reply == H("20" + " 00" * 10 + " D8")
    assert running == 1808
    sent = [d for _, d in writes]
    assert sent[:3] == [tg.VERSION_QUERY, tg.speed_frame(1808), tg.STOP_FRAME]
    assert set(sent[3:]) == {tg.STATUS_QUERY}  # asked while it spun down (0.72 s from 1808 rpm)
    assert 3 <= len(sent[3:]) <= 5
    assert status.stopped and status.confirmed and status.extra["rpm"] == 0
    assert sim.physics.stopped


def test_driver_over_simulated_ble_writes_speed_with_response_and_query_without():
    async def main():
        async with connect("ble:Pro", simulate_ble=True) as chair:
            await chair.set(technique="tap", zones=["mid_back"], intensity=40, duration="3s")
            await chair.wait()
            p = chair._opened.link
            return [(w.uuid[4:8], w.data, w.response) for w in p.writes], chair.simulator

    writes, sim = run_virtual(main())
    assert writes[0] == ("ffe2", tg.VERSION_QUERY, False)
    assert all(u == "ffe2" and r is True for u, _, r in writes[1:])  # speeds and status requests
    speeds = [w for w in writes[1:] if tg.decode_command(w[1]).kind == "speed"]
    assert speeds[-1][1] == tg.STOP_FRAME
    assert writes[-1][1] == tg.STATUS_QUERY
    assert max(tg.decode_command(d).rpm for _, d, _ in speeds) <= round(3616 * 0.4) + 1
    assert sim.physics.target_rpm == 0


def test_stop_after_link_loss_is_honest():
    async def main():
        link = MemoryLink()
        sim = TheragunSim(link.device)
        await sim.start()
        dev = TheragunDevice(link.host, name="theragun-pro")
        lost = []
        dev.events.disconnect.append(lost.append)
        await dev.connect()
        await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.NECK}), intensity=20))
        link.cut("walked off")
        with pytest.raises(DeviceDisconnected):
            await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.NECK}), intensity=30))
        with pytest.raises(StopNotConfirmed, match="may keep running"):
            await dev.stop()
        await sim.close()
        return lost, sim

    lost, sim = run_virtual(main())
    assert lost == ["walked off"]
    assert sim.physics.motors_on  # the simulated gun keeps going: the worst case


def test_driver_reads_the_firmware_version_and_warns_of_one_older_than_the_protocol(caplog):
    async def main(firmware):
        link = MemoryLink()
        sim = TheragunSim(link.device, model="theragun-prime", firmware=firmware)
        await sim.start()
        dev = TheragunDevice(link.host, name="theragun-prime")
        await dev.connect()
        await dev.disconnect()
        await sim.close()
        return dev.firmware

    with caplog.at_level(logging.WARNING):
        assert run_virtual(main((2, 0, 4))) == "2.0.4"
    assert "older" not in caplog.text
    with caplog.at_level(logging.WARNING):
        assert run_virtual(main((1, 9, 8))) == "1.9.8"
    assert "firmware 1.9.8 is older than 2.0.4" in caplog.text


def test_a_stray_status_reply_is_not_taken_for_the_version():
    async def main():
        link = MemoryLink()
        dev = TheragunDevice(link.host, name="theragun-pro", reply_timeout_s=0.2)

        def gun(data: bytes) -> None:  # answers the version query with a status reply only
            if data == tg.VERSION_QUERY:
                link.device.write_nowait(tg.frame(tg.REPLY, H("10 00 00") + bytes(10)))

        link.device.set_receiver(gun)
        await dev.connect()
        return dev.firmware_reply, dev.firmware

    assert run_virtual(main()) == (None, None)


def test_sim_scheme_plays_a_profile():
    step = RollerStep(
        0, 20_000, "tap", "s", Technique.TAP, frozenset({Zone.UPPER_BACK}), Level(10, 60), Level.constant(50)
    )
    plan = Plan(name="gun", roller=(step,))

    async def main():
        async with connect("sim:theragun-pro") as chair:
            report = await chair.run(plan)
            await asyncio.sleep(3)
            return report, chair.simulator

    report, sim = run_virtual(main())
    assert report.reason == "finished" and report.stop_sent
    assert report.stop_confirmed  # its status reply showed it stopped
    assert sim.physics.stopped and 0 < sim.physics.max_intensity_seen <= 60


# --------------------------------------------------------------------------- status request


def test_status_request_golden_bytes_and_reply_offsets():
    assert tg.STATUS_QUERY == H("AA 10 10 00")
    assert tg.decode_command(tg.STATUS_QUERY).kind == "status"
    # BB, checksum, 10 00, running 01 at offset 4, zeros, 06 D6 (1750 rpm) at offsets 13-14
    body = H("10 00 01 00 00 00 00 00 00 00 00 06 D6")
    reply = tg.decode_reply(tg.frame(tg.REPLY, body))
    assert reply is not None and tg.parse_status(reply) == tg.GunStatus(running=1, rpm=1750)
    assert tg.parse_status(tg.Reply(H("20 01 04 02"))) is None  # a version reply
    assert tg.parse_status(tg.Reply(H("10 00 01"))) is None  # too short to hold the speed


def _gun(**sim_kwargs):
    async def main(body):
        link = MemoryLink()
        sim = TheragunSim(link.device, model="theragun-pro", **sim_kwargs)
        await sim.start()
        dev = TheragunDevice(link.host, name="theragun-pro")
        try:
            return await body(dev, sim, link)
        finally:
            await sim.close()

    return lambda body: run_virtual(main(body))


def test_a_stop_is_confirmed_by_the_guns_status_once_it_has_spun_down():
    async def body(dev, sim, link):
        await dev.connect()
        await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.UPPER_BACK}), intensity=100))
        await asyncio.sleep(2)
        t0 = asyncio.get_running_loop().time()
        status = await dev.stop()
        return asyncio.get_running_loop().time() - t0, status, sim.physics.stopped

    took, status, stopped = _gun()(body)
    assert status.stopped and status.confirmed and stopped
    assert 3616 / 2500 <= took <= 3616 / 2500 + 0.3  # it asked until the gun had spun down


def test_a_gun_that_does_not_answer_still_gets_its_stop_reported_unconfirmed():
    async def body(dev, sim, link):
        await dev.connect()
        await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.UPPER_BACK}), intensity=50))
        status = await dev.stop()
        await asyncio.sleep(2)
        return status, sim.physics.stopped

    status, stopped = _gun(answers_status=False)(body)
    assert status.stopped and not status.confirmed and stopped
    assert "did not answer" in status.extra["note"]


def test_a_gun_whose_status_still_shows_it_running_is_not_confirmed(caplog):
    async def body(dev, sim, link):
        await dev.connect()
        await dev.apply(DeviceState(Technique.TAP, frozenset({Zone.UPPER_BACK}), intensity=100))
        await asyncio.sleep(2)
        return await dev.stop(timeout=0.5)  # shorter than its spin-down

    with caplog.at_level(logging.WARNING):
        status = _gun()(body)
    assert not status.confirmed and "still showed it running" in status.extra["note"]
    assert "check the gun" in caplog.text


def test_status_of_a_gun_this_process_told_nothing_is_read_or_unknown():
    async def body(dev, sim, link):
        sim.physics.set_speed(2000, asyncio.get_running_loop().time(), "its own button")
        await asyncio.sleep(1)
        await dev.observe()
        read = await dev.read_status()
        sim.answers_status = False
        unknown = await dev.read_status()
        return read, unknown, sim.physics.target_rpm, [d for _, d in link.host.writes]

    read, unknown, rpm, writes = _gun()(body)
    assert read.running is True and read.confirmed and read.extra["rpm"] == 2000
    assert unknown.running is None and not unknown.confirmed
    assert unknown.to_dict()["running"] == "unknown" and unknown.to_dict()["stopped"] == "unknown"
    assert rpm == 2000 and writes == [tg.STATUS_QUERY, tg.STATUS_QUERY]  # queries only
