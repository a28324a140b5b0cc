"""Pulsetto: golden bytes, the simulated stimulator's state machine, the driver."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import connect
from massager_ctl.connection.ble_scan import recognise_ble
from massager_ctl.core.errors import UsageError
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.pulsetto import codec as pz
from massager_ctl.devices.pulsetto.driver import PulsettoDevice
from massager_ctl.devices.pulsetto.sim import PulsettoSim
from massager_ctl.session.clock import run_virtual
from massager_ctl.transport.memory import MemoryLink

NECK = frozenset({Zone.NECK})


def vib(level: int) -> DeviceState:
    return DeviceState(Technique.VIBRATE, NECK, intensity=level)


# --------------------------------------------------------------------------- codec


def test_commands_are_ascii_lines():
    assert pz.encode("+") == b"+\n"
    assert pz.encode(pz.intensity_command(7)) == b"7\n"
    assert pz.encode(pz.BATTERY_QUERY) == b"Q\n"
    assert [pz.Side(s).code for s in ("left", "right", "both")] == ["A", "C", "D"]
    for bad in ("", "a\nb", "é"):
        with pytest.raises(ValueError):
            pz.encode(bad)
    for bad in (-1, 10, 2.0, True):
        with pytest.raises(ValueError):
            pz.intensity_command(bad)


def test_only_plus_and_minus_are_written_with_response():
    assert pz.needs_response("+") and pz.needs_response("-")
    assert not any(pz.needs_response(t) for t in ("0", "9", "A", "D", "Q", "u", "v", "E"))


def test_start_and_stop_sequences():
    """jooray/pulse-libre-desktop main.py start_device / stop_device: +, -, wait 250 ms,
    0, wait 450, 5, wait 450, 0, wait 450, level, wait 250, side, LED; stop + - - at once."""
    start = pz.start_sequence(6, pz.Side.LEFT)
    assert b"".join(s.data for s in start) == b"+\n-\n0\n5\n0\n6\nA\nE\n"
    assert [s.response for s in start] == [True, True, False, False, False, False, False, False]
    assert [s.wait_s for s in start] == [0.0, 0.25, 0.45, 0.45, 0.45, 0.25, 0.0, 0.0]
    assert pz.start_sequence(3, pz.Side.BOTH, led="G")[-1].text == "G"
    stop = pz.stop_sequence()
    assert b"".join(s.data for s in stop) == b"+\n-\n-\n"
    assert [s.response for s in stop] == [True, True, True]
    assert [s.wait_s for s in stop] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        pz.start_sequence(0, pz.Side.BOTH)
    with pytest.raises(ValueError):
        pz.start_sequence(3, pz.Side.BOTH, led="X")


@pytest.mark.parametrize(
    "line, volts, pct",
    [
        ("Batt:3.97", 3.97, 100),
        ("Batt:3.70", 3.7, 50),
        ("Batt:3.5", 3.5, 0),
        ("Batt: 3.60", 3.6, 25),
        ("Batt:3.20", 3.2, 0),
    ],
)
def test_battery(line, volts, pct):
    assert pz.parse_battery(line) == pytest.approx(volts)
    assert pz.battery_percent(volts) == pct


def test_battery_parse_refuses_other_lines():
    assert pz.parse_battery("Batt:") is None and pz.parse_battery("Bat:3.9") is None
    assert pz.parse_battery("Batt:3.9x") is None


def test_line_decoder_resyncs_and_flushes():
    d = pz.LineDecoder()
    assert d.feed(b"Batt:3.") == [] and d.pending
    assert d.feed(b"97\r\n\x00\xffok\n") == ["Batt:3.97", "ok"]
    assert d.dropped == 2
    assert d.feed(b"x" * 100 + b"\nnext\n") == ["next"]  # an overlong line is dropped whole
    assert d.feed(b"Batt:3.80") == [] and d.flush() == ["Batt:3.80"] and not d.pending


def test_recognition():
    """Any name starting with "Pulsetto" (PULSETTO_PROTOCOL.md; main.py's startswith), and
    whatever services the advertisement lists: it has room for few, and NUS may not be one."""
    nus = ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"]
    battery = ["0000180f-0000-1000-8000-00805f9b34fb"]
    assert recognise_ble("Pulsetto Fit", nus).name == "pulsetto"
    assert recognise_ble("Pulsetto", []).name == "pulsetto"
    assert recognise_ble("PulsettoLite", nus).name == "pulsetto"
    assert recognise_ble("PulsettoLite", []).name == "pulsetto"
    assert recognise_ble("Pulsetto Fit", battery).name == "pulsetto"
    assert recognise_ble("PulsettoLite", battery + nus).name == "pulsetto"
    assert recognise_ble("PulsUp", nus) is None  # its firmware-update mode: not for us
    assert recognise_ble("Pulse", nus) is None


# --------------------------------------------------------------------------- simulator


async def _send(link, *texts, gap=0.35):
    for t in texts:
        await link.host.write(pz.encode(t))
        await asyncio.sleep(gap)


def test_sim_ignores_intensity_before_the_start_sequence_and_follows_it():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        await _send(link, "7")
        before = sim.physics.stimulating
        await _send(link, "+", "-", "0", "5", "0", "4", "C")
        started = (sim.physics.intensity, sim.physics.side)
        await _send(link, "6")
        changed = sim.physics.intensity
        await _send(link, "+", "-", "-")
        await sim.close()
        return before, started, changed, sim

    before, started, changed, sim = run_virtual(main())
    assert not before and started == (4, "right") and changed == 6
    assert sim.physics.stopped and sim.physics.max_intensity_seen == 6
    kinds = [e.kind for e in sim.physics.trace]
    assert kinds[0] == "ignored" and kinds[-1] == "stop"


def test_sim_start_sequence_too_fast_is_broken():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        await _send(link, "+", "-", "0", "5", "0", "4", gap=0.05)
        fast = sim.physics.stimulating
        await sim.close()
        return fast, sim

    fast, sim = run_virtual(main())
    assert not fast and any("too fast" in e.detail for e in sim.physics.trace)


def test_sim_answers_battery_which_drains_while_stimulating_and_has_no_timer():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        lines = []
        link.host.set_receiver(lines.append)
        await _send(link, "Q")
        await _send(link, "+", "-", "0", "5", "0", "9", "D")
        await asyncio.sleep(3600)  # an hour: no device-side timer stops it
        on = sim.physics.stimulating
        await _send(link, "Q")
        await sim.close()
        return lines, on

    lines, on = run_virtual(main())
    first, later = (pz.parse_battery(x.decode().strip()) for x in lines)
    assert first == pytest.approx(3.97) and on
    assert first - later == pytest.approx(0.02 + 9 * 0.03, abs=0.01)


def test_sim_answers_queries_as_the_protocol_document_shows():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        got = []
        link.host.set_receiver(got.append)
        await _send(link, "u", "v", "i", "X")
        await sim.close()
        return got, sim

    got, sim = run_virtual(main())
    assert got == [b"u\x010\n", b"fw:1.1.22\n", b"Pulsetto_ST_02\n"]  # X: unknown, unanswered
    assert sim.physics.trace[-1].kind == "rejected"


def test_sim_rebooted_into_its_bootloader_stops_and_goes_deaf():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        got = []
        link.host.set_receiver(got.append)
        await _send(link, "+", "-", "0", "5", "0", "6", "D")
        on = sim.physics.stimulating
        await _send(link, "U", "Q", "+", "-", "0", "5", "0", "6")
        await sim.close()
        return on, got, sim

    on, got, sim = run_virtual(main())
    assert on and sim.physics.stopped and sim.in_dfu and got == []
    assert sim.physics.max_intensity_seen == 6


def test_sim_stops_when_the_battery_is_empty():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device, volts=3.52)
        await sim.start()
        await _send(link, "+", "-", "0", "5", "0", "9", "D")
        on = sim.physics.stimulating
        await asyncio.sleep(3600)
        await sim.close()
        return on, sim

    on, sim = run_virtual(main())
    assert on and sim.physics.stopped and sim.physics.trace[-1].detail == "battery empty"


# --------------------------------------------------------------------------- driver


def test_driver_plays_the_start_sequence_with_waits_then_digits_then_stop():
    async def main():
        link = MemoryLink()
        sim = PulsettoSim(link.device)
        await sim.start()
        dev = PulsettoDevice(link.host, side="left")
        await dev.connect()
        t0 = asyncio.get_running_loop().time()
        await dev.apply(vib(5))
        took = asyncio.get_running_loop().time() - t0
        on = (sim.physics.intensity, sim.physics.side)
        await dev.apply(vib(3))
        await dev.apply(DeviceState())  # intensity 0: stimulation off, session open
        idle = sim.physics.stimulating
        status = await dev.read_status()
        stop = await dev.stop()
        await asyncio.sleep(0.1)
        await dev.disconnect()
        await sim.close()
        return took, on, idle, status, stop, link.host.writes, sim

    took, on, idle, status, stop, writes, sim = run_virtual(main())
    sent = b"".join(d for _, d in writes)
    assert sent == b"Q\n+\n-\n0\n5\n0\n5\nA\nE\n3\n0\nQ\n+\n-\n-\n"
    assert took == pytest.approx(0.25 + 3 * 0.45 + 0.25, abs=0.05)
    assert on == (5, "left") and not idle
    assert status.extra["battery_pct"] == 100 and status.extra["session_open"]
    assert stop.stopped and stop.extra["confirmed"] is False and not stop.extra["session_open"]
    assert sim.physics.stopped and not sim.physics.running


def test_driver_refreshes_the_intensity_every_10_s_while_holding():
    async def main():
        async with connect("sim:pulsetto") as chair:
            await chair.set(technique="vibrate", zones=["neck"], intensity=60, duration="45s")
            await chair.wait()
            return chair.simulator

    sim = run_virtual(main())
    digits = [t for t, line in sim.received if line.isdigit()]
    assert sim.physics.stopped
    # 0 5 0 for the start, then the ramp; once the level holds, one refresh every 10 s.
    held = [t for t, line in sim.received if line == "5"][2:]
    gaps = [b - a for a, b in zip(held, held[1:], strict=False)]
    assert len(held) >= 3 and all(9.9 <= g <= 10.2 for g in gaps), (digits, held)


def test_driver_over_ble_writes_plus_minus_with_response():
    async def main():
        async with connect("ble:Pulsetto Fit?side=right", simulate_ble=True) as chair:
            await chair.set(technique="vibrate", zones=["neck"], intensity=30, duration="5s")
            await chair.wait()
            return chair._opened.link.writes, chair.simulator

    writes, sim = run_virtual(main())
    for w in writes:
        assert w.uuid.startswith("6e400002")
        assert w.response == (w.data in (b"+\n", b"-\n")), w
    assert b"C\n" in [w.data for w in writes]
    assert [w.data for w in writes][-3:] == [b"+\n", b"-\n", b"-\n"]
    assert sim.physics.stopped and sim.physics.side == "right"


def test_bad_side_option_is_a_usage_error():
    with pytest.raises(UsageError, match="left, right or both"):
        PulsettoDevice(MemoryLink().host, side="middle")
