"""The simulated native chair, driven byte by byte from a raw host end (no driver)."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.core.errors import DeviceDisconnected
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.native.codec import (
    DEFAULT_DEADMAN_MS,
    START,
    Ack,
    Decoder,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    crc16,
    encode,
)
from massager_ctl.devices.native.reference import REFERENCE_CAPABILITIES, REFERENCE_MODEL
from massager_ctl.devices.native.sim import RECEIVED_KEPT, SENT_KEPT, SimulatedNativeChair
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.faults import FaultInjector, corrupt
from massager_ctl.sim.physics import ChairPhysics, zone_band
from massager_ctl.transport.memory import WRITES_KEPT, MemoryLink

RUNNING = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.LOWER_BACK}),
    intensity=4,
    speed=2,
    width=Width.WIDE,
    airbags=((Zone.SEAT, 3),),
    heat=Heat.LOW,
)


class Host:
    """The host's end of the link: raw frames in and out, with arrival times."""

    def __init__(self, link: MemoryLink) -> None:
        self.link = link
        self.transport = link.host
        self.decoder = Decoder()
        self.frames: list[tuple[float, object]] = []
        self.raw = bytearray()
        self.disconnects: list[str] = []
        self.transport.set_receiver(self._receive)
        self.transport.on_disconnect(self.disconnects.append)

    def _receive(self, data: bytes) -> None:
        self.raw += data
        t = asyncio.get_running_loop().time()
        self.frames.extend((t, m) for m in self.decoder.feed(data))

    async def send(self, msg) -> None:
        await self.transport.write(encode(msg))

    async def ask(self, msg, wait: float = 0.01) -> list:
        """Send ``msg``; return every non-periodic frame that came back within ``wait``."""
        mark = len(self.frames)
        await self.send(msg)
        await asyncio.sleep(wait)
        return [m for _, m in self.frames[mark:] if not _periodic(m, msg)]

    def of(self, kind) -> list:
        return [m for _, m in self.frames if isinstance(m, kind)]

    def times(self, kind) -> list[float]:
        return [t for t, m in self.frames if isinstance(m, kind)]


def _periodic(frame, request) -> bool:
    return isinstance(frame, StatusReport) and not (
        isinstance(request, GetStatus) and frame.seq == request.seq
    )


def scenario(body, *, physics=None, faults=None, status_interval_s=0.1, delay_s=0.0):
    """Run ``body(chair, host)`` in virtual time against a fresh chair."""

    async def main():
        link = MemoryLink(delay_s=delay_s)
        chair = SimulatedNativeChair(link.device, physics, status_interval_s=status_interval_s, faults=faults)
        host = Host(link)
        await chair.start()
        try:
            return await body(chair, host)
        finally:
            await chair.close()
            assert chair.errors == []

    return run_virtual(main())


async def hello(host: Host, deadman_ms: int = DEFAULT_DEADMAN_MS) -> Info:
    (info,) = await host.ask(Hello(seq=1, deadman_ms=deadman_ms))
    return info


async def keep_alive(host: Host, seconds: float, every: float = 0.5) -> None:
    """Wait ``seconds`` while sending heartbeats, as a live host does."""
    for k in range(round(seconds / every)):
        await asyncio.sleep(every)
        await host.send(Heartbeat(seq=k & 0xFF))


def stops(chair: SimulatedNativeChair) -> list[tuple[float, str]]:
    return [(e.t, e.detail) for e in chair.physics.trace if e.kind == "stop"]


# ---------------------------------------------------------------- request / reply


def test_hello_is_answered_with_info():
    async def body(chair, host):
        return await hello(host), await host.ask(Hello(seq=9, deadman_ms=800))

    info, (second,) = scenario(body)
    assert isinstance(info, Info) and info.seq == 1
    assert info.model == REFERENCE_MODEL == "sim-chair"
    assert info.capabilities == REFERENCE_CAPABILITIES
    assert info.deadman_ms == DEFAULT_DEADMAN_MS == 1500
    assert isinstance(second, Info) and second.seq == 9 and second.deadman_ms == 800


def test_hello_deadman_is_capped_by_the_chair():
    async def body(chair, host):
        return await hello(host, deadman_ms=60_000), chair.deadman_s

    info, deadman_s = scenario(body)
    assert info.deadman_ms == SimulatedNativeChair.MAX_DEADMAN_MS == 10_000
    assert deadman_s == 10.0


def test_hello_with_another_version_is_refused_and_leaves_the_chair_not_ready():
    async def body(chair, host):
        refused = await host.ask(Hello(seq=3, version=2))
        after = await host.ask(SetState(seq=4, state=RUNNING))
        return refused, after

    refused, after = scenario(body)
    assert refused == [Nak(3, NakCode.UNSUPPORTED)]
    assert after == [Nak(4, NakCode.NOT_READY)]


def test_set_before_hello_is_not_ready_and_changes_nothing():
    async def body(chair, host):
        return await host.ask(SetState(seq=7, state=RUNNING)), chair.physics.target

    replies, target = scenario(body)
    assert replies == [Nak(7, NakCode.NOT_READY)]
    assert target.is_stopped


def test_set_is_acked_and_drives_the_physics():
    async def body(chair, host):
        await hello(host)
        replies = await host.ask(SetState(seq=42, state=RUNNING))
        await keep_alive(host, 15.0)
        (report,) = await host.ask(GetStatus(seq=43))
        return replies, report, chair.physics

    replies, report, physics = scenario(body)
    assert replies == [Ack(42)]
    assert physics.target == RUNNING
    assert report.seq == 43 and report.status.running
    assert report.status.state == RUNNING
    lo, hi = zone_band(Zone.LOWER_BACK)
    assert lo - 0.001 <= report.status.roller_position <= hi + 0.001  # travelled there
    assert dict(report.status.airbag_pressure)[Zone.SEAT] == pytest.approx(60.0, abs=0.1)
    assert 22.0 < report.status.heater_temp_c < 38.0  # warming, not there yet


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (
            DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SEAT}), intensity=11),
            NakCode.BAD_VALUE,
        ),
        (
            DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SEAT}), speed=9),
            NakCode.BAD_VALUE,
        ),
        (DeviceState(airbags=((Zone.FEET, 6),)), NakCode.BAD_VALUE),
        (DeviceState(technique=Technique.KNEAD, intensity=3), NakCode.BAD_VALUE),
        (
            DeviceState(technique=Technique.VIBRATE, zones=frozenset({Zone.SEAT}), intensity=3),
            NakCode.UNSUPPORTED,
        ),
        (
            DeviceState(technique=Technique.TAP, zones=frozenset({Zone.THIGHS}), intensity=3),
            NakCode.UNSUPPORTED,
        ),
        (DeviceState(airbags=((Zone.NECK, 1),)), NakCode.UNSUPPORTED),
    ],
)
def test_bad_set_values_are_nakked_and_not_applied(state, code):
    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=1, state=RUNNING))
        return await host.ask(SetState(seq=2, state=state)), chair.physics.target

    replies, target = scenario(body)
    assert replies == [Nak(2, code)]
    assert target == RUNNING  # the chair keeps doing what it did


def test_stop_is_acked_and_stops_even_before_hello():
    async def body(chair, host):
        early = await host.ask(Stop(seq=5))
        await hello(host)
        await host.ask(SetState(seq=6, state=RUNNING))
        await keep_alive(host, 2.0)
        sent = asyncio.get_running_loop().time()
        late = await host.ask(Stop(seq=7))
        return early, late, chair.physics.target, stops(chair), sent

    early, late, target, stopped, sent = scenario(body)
    assert early == [Ack(5)] and late == [Ack(7)]
    assert target.is_stopped
    assert stopped == [(0.0, "stop"), (sent, "stop")]  # on arrival, not later


def test_get_status_is_answered_before_hello_with_its_seq():
    async def body(chair, host):
        return await host.ask(GetStatus(seq=200))

    (report,) = scenario(body)
    assert isinstance(report, StatusReport) and report.seq == 200
    assert not report.status.running and report.status.roller_position == 0.0


def test_heartbeat_gets_no_reply():
    async def body(chair, host):
        await hello(host)
        return await host.ask(Heartbeat(seq=11), wait=0.05)

    assert scenario(body) == []


def test_what_the_chair_keeps_does_not_grow_with_the_session():
    """An hour of STATUS at 10 Hz and heartbeats at 2 Hz (the simulator is the default
    device, and people run long sessions on it): the chair keeps only its last SENT_KEPT
    frames sent and RECEIVED_KEPT heard, with counts of all; the link's device end keeps
    no log and its host end the newest WRITES_KEPT writes, so memory stays flat."""

    async def body(chair, host):
        await hello(host)
        await keep_alive(host, 3600)
        return chair, host

    chair, host = scenario(body)
    statuses = len(host.of(StatusReport))
    assert statuses >= 3600 * 10 - 1  # the host heard every one of them
    assert chair.sent_count == statuses + 1  # and INFO
    assert len(chair.sent) == SENT_KEPT
    assert chair.sent[-1][1] == host.of(StatusReport)[-1]  # the newest frames are the ones kept
    assert host.link.device.writes == []
    assert host.link.host.writes.total >= chair.received.total > 7000  # all counted
    assert RECEIVED_KEPT <= len(chair.received) <= RECEIVED_KEPT * 5 // 4  # the newest kept
    assert chair.received[-1][1].seq in (7198 & 0xFF, 7199 & 0xFF)  # the newest are kept
    assert WRITES_KEPT <= len(host.link.host.writes) <= WRITES_KEPT * 5 // 4


def test_garbage_is_ignored_and_split_frames_still_work():
    async def body(chair, host):
        await hello(host)
        frame = encode(SetState(seq=33, state=RUNNING))
        mark = len(host.frames)
        await host.transport.write(b"\x00\xff" + bytes([START, 0x00]) + b"junk" + frame[:3])
        for b in frame[3:]:
            await host.transport.write(bytes([b]))
        await host.transport.write(bytes([START, 250, 0x02]) + b"\x01" * 20)  # impossible length
        await host.transport.write(encode(Stop(seq=34)))
        await asyncio.sleep(0.01)
        replies = [m for _, m in host.frames[mark:] if not isinstance(m, StatusReport)]
        return replies, chair.decoder.dropped

    replies, dropped = scenario(body)
    assert replies == [Ack(33), Ack(34)]
    assert dropped > 0


def test_intact_frames_it_cannot_understand_are_nakked():
    async def body(chair, host):
        await hello(host)
        inner = bytes([2, 0x10, 77])  # LEN, an unknown TYPE, SEQ
        unknown = bytes([START]) + inner + crc16(inner).to_bytes(2, "big")
        mark = len(host.frames)
        await host.transport.write(unknown)
        await asyncio.sleep(0.01)
        first = [m for _, m in host.frames[mark:] if isinstance(m, Nak)]
        wrong_way = await host.ask(Ack(seq=78))  # a device -> host type
        return first, wrong_way

    first, wrong_way = scenario(body)
    assert first == [Nak(77, NakCode.UNKNOWN_TYPE)]
    assert wrong_way == [Nak(78, NakCode.UNKNOWN_TYPE)]


# ------------------------------------------------------------------ status cadence


@pytest.mark.parametrize(("interval", "expected"), [(0.1, 100), (0.25, 40), (1.0, 10)])
def test_status_cadence_over_ten_seconds(interval, expected):
    async def body(chair, host):
        await asyncio.sleep(3.05)
        before = len(host.of(StatusReport))
        await host.send(Hello(seq=1))
        await asyncio.sleep(10.0)
        return before, host.times(StatusReport), host.of(StatusReport)

    before, times, reports = scenario(body, status_interval_s=interval)
    assert before == 0  # silent until HELLO
    assert len(times) == expected
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g == pytest.approx(interval) for g in gaps)
    assert [r.seq for r in reports] == [k % 256 for k in range(expected)]


def test_status_frames_follow_the_physics():
    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        await keep_alive(host, 20.0)
        return host.of(StatusReport)

    reports = scenario(body)
    positions = [r.status.roller_position for r in reports]
    assert positions[0] < 0.05 and max(positions) > zone_band(Zone.LOWER_BACK)[0]
    assert all(b >= a for a, b in zip(positions[:50], positions[1:50], strict=False))
    seat = [dict(r.status.airbag_pressure)[Zone.SEAT] for r in reports]
    assert seat[0] < 10 and seat[-1] == pytest.approx(60.0, abs=0.1)


# ------------------------------------------------------------------------ deadman


def test_deadman_fires_after_host_silence():
    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        last = asyncio.get_running_loop().time() - 0.01
        await asyncio.sleep(1.4)
        before = chair.physics.target
        await asyncio.sleep(0.2)
        return last, before, chair.physics.target, stops(chair), chair.deadman_trips

    last, before, after, stopped, trips = scenario(body)
    assert before == RUNNING
    assert after.is_stopped
    assert stopped == [(pytest.approx(last + 1.5), "deadman")]
    assert trips == 1


def test_heartbeats_every_half_second_keep_it_running_and_it_rearms():
    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        await keep_alive(host, 30.0)
        quiet = list(stops(chair))
        running = chair.physics.target
        last = asyncio.get_running_loop().time()
        await asyncio.sleep(5.0)  # silence: one trip, not one per check
        first_trip = list(stops(chair))
        await host.ask(SetState(seq=3, state=RUNNING))  # the host is back
        back = asyncio.get_running_loop().time() - 0.01
        await asyncio.sleep(2.0)
        return quiet, running, last, first_trip, back, stops(chair)

    quiet, running, last, first_trip, back, final = scenario(body)
    assert quiet == [] and running == RUNNING
    assert first_trip == [(pytest.approx(last + 1.5), "deadman")]
    assert final[1:] == [(pytest.approx(back + 1.5), "deadman")]


def test_deadman_uses_the_negotiated_period():
    async def body(chair, host):
        await hello(host, deadman_ms=400)
        await host.ask(SetState(seq=2, state=RUNNING))
        t0 = asyncio.get_running_loop().time() - 0.01
        await asyncio.sleep(1.0)
        return t0, stops(chair)

    t0, stopped = scenario(body)
    assert stopped == [(pytest.approx(t0 + 0.4), "deadman")]


def test_no_deadman_before_hello():
    async def body(chair, host):
        await asyncio.sleep(10.0)
        return stops(chair)

    assert scenario(body) == []


def test_a_cut_link_stops_the_chair_through_its_deadman():
    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        last = asyncio.get_running_loop().time() - 0.01
        await asyncio.sleep(0.5)
        host.link.cut("unplugged")
        await asyncio.sleep(0.5)
        still = chair.physics.target  # no magic: it has not noticed yet
        await asyncio.sleep(1.0)
        return last, still, stops(chair), host.disconnects

    last, still, stopped, disconnects = scenario(body)
    assert still == RUNNING
    assert stopped == [(pytest.approx(last + 1.5), "deadman")]
    assert disconnects == ["unplugged"]


# -------------------------------------------------------------------------- faults


def test_drop_incoming_next_n_frames():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.drop_incoming(2)
        lost = [await host.ask(SetState(seq=s, state=RUNNING)) for s in (10, 11)]
        target = chair.physics.target
        kept = await host.ask(SetState(seq=12, state=RUNNING))
        return lost, target, kept

    lost, target, kept = scenario(body, faults=faults)
    assert lost == [[], []] and target.is_stopped
    assert kept == [Ack(12)]
    assert [what for _, what in faults.log] == ["dropped incoming SET seq=10"] + [
        "dropped incoming SET seq=11"
    ]


def test_drop_incoming_for_a_period_starves_the_deadman():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        t0 = asyncio.get_running_loop().time()
        faults.drop_incoming(for_s=2.0)
        for k in range(8):  # heartbeats keep coming, but none arrives
            await asyncio.sleep(0.5)
            await host.send(Heartbeat(seq=k))
        after = await host.ask(GetStatus(seq=99))
        return t0, stops(chair), after

    t0, stopped, after = scenario(body, faults=faults)
    assert stopped == [(pytest.approx(t0 - 0.01 + 1.5), "deadman")]
    assert [type(m) for m in after] == [StatusReport]  # answered again after the period


def test_drop_outgoing_loses_the_reply_but_not_the_command():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.drop_outgoing(1)
        lost = await host.ask(SetState(seq=20, state=RUNNING))
        target = chair.physics.target
        kept = await host.ask(Stop(seq=21))
        return lost, target, kept

    lost, target, kept = scenario(body, faults=faults, status_interval_s=10.0)
    assert lost == [] and target == RUNNING
    assert kept == [Ack(21)]


def test_drop_outgoing_for_a_period_silences_status():
    faults = FaultInjector()
    faults.at(2.0, "drop_outgoing", for_s=1.0)

    async def body(chair, host):
        await hello(host)
        await asyncio.sleep(4.0)
        return host.times(StatusReport)

    times = scenario(body, faults=faults)
    assert not [t for t in times if 2.0 <= t < 3.0]
    assert len([t for t in times if 1.0 <= t < 2.0]) == 10
    assert len([t for t in times if 3.0 <= t < 4.0]) == 10


def test_corrupt_outgoing_fails_the_crc_at_the_host():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.corrupt_outgoing(1)
        raw_before, bad_before = len(host.raw), host.decoder.bad_frames
        lost = await host.ask(SetState(seq=30, state=RUNNING))
        raw_after, bad_after = len(host.raw), host.decoder.bad_frames
        kept = await host.ask(Stop(seq=31))
        return lost, raw_after - raw_before, bad_after - bad_before, kept

    lost, arrived, bad, kept = scenario(body, faults=faults, status_interval_s=10.0)
    assert lost == []  # the ACK did not decode ...
    assert arrived == len(encode(Ack(30)))  # ... though its bytes arrived
    assert bad >= 1
    assert kept == [Ack(31)]


def test_corrupt_keeps_length_and_breaks_the_frame():
    frame = encode(Ack(5))
    bad = corrupt(frame)
    assert len(bad) == len(frame) and bad != frame
    decoder = Decoder()
    assert decoder.feed(bad) == [] and decoder.bad_frames >= 1


def test_delay_outgoing_makes_replies_late():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.delay_outgoing(0.3, n=1)
        t0 = asyncio.get_running_loop().time()
        early = await host.ask(SetState(seq=40, state=RUNNING), wait=0.2)
        await asyncio.sleep(0.2)
        late = [t for t, m in host.frames if m == Ack(40)]
        prompt = await host.ask(Stop(seq=41))
        return t0, early, late, prompt

    t0, early, late, prompt = scenario(body, faults=faults, status_interval_s=10.0)
    assert early == []
    assert late == [pytest.approx(t0 + 0.3)]
    assert prompt == [Ack(41)]


def test_stall_answers_nothing_until_it_ends_and_the_deadman_still_works():
    faults = FaultInjector()
    faults.at(2.0, "stall", for_s=3.0)

    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        t0 = asyncio.get_running_loop().time()
        await keep_alive(host, 2.4)  # the heartbeat at t0 + 2.0 falls into the stall
        during = await host.ask(GetStatus(seq=50), wait=0.1)
        await keep_alive(host, 3.0)  # from 5.0 on they are heard again
        after = await host.ask(GetStatus(seq=52))
        return host.times(StatusReport), during, after, stops(chair), chair.physics.target, t0

    times, during, after, stopped, target, t0 = scenario(body, faults=faults)
    assert not [t for t in times if 2.0 <= t < 5.0]
    assert min(t for t in times if t >= 2.0) == pytest.approx(5.0)  # back on the next tick
    assert during == []
    assert [type(m) for m in after] == [StatusReport]
    # last heartbeat heard at t0 + 1.5; the stalled chair hears nothing, so its deadman stops it
    assert stopped == [(pytest.approx(t0 + 1.5 + 1.5), "deadman")]
    assert target.is_stopped


def test_stall_until_resumed():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.stall()
        during = await host.ask(GetStatus(seq=60), wait=1.0)
        faults.resume()
        after = await host.ask(GetStatus(seq=61))
        return during, after

    during, after = scenario(body, faults=faults)
    assert during == []
    assert [(type(m), m.seq) for m in after] == [(StatusReport, 61)]


def test_stop_status_silences_only_status_frames():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        faults.stop_status()
        mark = len(host.of(StatusReport))
        ack = await host.ask(SetState(seq=70, state=RUNNING))
        asked = await host.ask(GetStatus(seq=71))
        await asyncio.sleep(2.0)
        muted = len(host.of(StatusReport)) - mark
        faults.resume_status()
        await asyncio.sleep(1.0)
        return ack, asked, muted, len(host.of(StatusReport)) - mark

    ack, asked, muted, resumed = scenario(body, faults=faults)
    assert ack == [Ack(70)]
    assert asked == [] and muted == 0
    assert resumed == 10


def test_disconnect_cuts_the_link_for_both_ends():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        t_set = asyncio.get_running_loop().time() - 0.01
        faults.disconnect()
        try:
            await host.send(Heartbeat(seq=3))
            write_error = None
        except DeviceDisconnected as exc:
            write_error = exc
        count = len(host.frames)
        await asyncio.sleep(3.0)
        return t_set, write_error, host.disconnects, len(host.frames) - count, stops(chair)

    t_set, write_error, disconnects, later, stopped = scenario(body, faults=faults)
    assert isinstance(write_error, DeviceDisconnected)
    assert disconnects == ["fault injection: link cut"]
    assert later == 0
    assert stopped == [(pytest.approx(t_set + 1.5), "deadman")]


def test_nak_next_requests_with_a_code():
    faults = FaultInjector()

    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=1, state=RUNNING))
        faults.nak(2, NakCode.BUSY)
        refused = [await host.ask(Stop(seq=80)), await host.ask(GetStatus(seq=81))]
        still = chair.physics.target
        accepted = await host.ask(Stop(seq=82))
        return refused, still, accepted, chair.physics.target

    refused, still, accepted, target = scenario(body, faults=faults, status_interval_s=10.0)
    assert refused == [[Nak(80, NakCode.BUSY)], [Nak(81, NakCode.BUSY)]]
    assert still == RUNNING  # a refused STOP did not stop
    assert accepted == [Ack(82)] and target.is_stopped


def test_nak_with_another_code_on_hello():
    faults = FaultInjector()
    faults.nak(1, NakCode.FAULT)

    async def body(chair, host):
        first = await host.ask(Hello(seq=1))
        second = await host.ask(Hello(seq=2))
        return first, second, chair.ready

    first, second, ready = scenario(body, faults=faults)
    assert first == [Nak(1, NakCode.FAULT)]
    assert [type(m) for m in second] == [Info] and ready


def test_scheduled_faults_run_at_their_times():
    faults = FaultInjector()
    seen: list[float] = []
    faults.at(1.0, lambda f: seen.append(asyncio.get_running_loop().time()))
    faults.at(6.0, "disconnect", reason="scheduled cut")
    faults.at(2.0, "stop_status")
    faults.at(3.0, "resume_status")

    async def body(chair, host):
        await hello(host)
        await asyncio.sleep(8.0)
        return host.times(StatusReport), host.disconnects, seen

    times, disconnects, seen = scenario(body, faults=faults)
    assert seen == [pytest.approx(1.0)]
    assert not [t for t in times if 2.0 <= t < 3.0]
    assert len([t for t in times if 3.0 <= t < 4.0]) == 10
    assert max(times) < 6.0
    assert disconnects == ["scheduled cut"]


def test_fault_script_is_checked():
    faults = FaultInjector()
    with pytest.raises(ValueError, match="unknown fault action"):
        faults.at(1.0, "explode")
    with pytest.raises(ValueError, match="frame count"):
        faults.drop_incoming(0)
    with pytest.raises(ValueError, match="period"):
        faults.stall(for_s=-1)
    with pytest.raises(ValueError, match="delay"):
        faults.delay_outgoing(0)
    with pytest.raises(RuntimeError, match="not attached"):
        faults.disconnect()


# ----------------------------------------------------------------------- lifecycle


def test_close_ends_the_chair_loop():
    async def body(chair, host):
        await hello(host)
        await chair.close()
        count = len(host.frames)
        await asyncio.sleep(2.0)
        return len(host.frames) - count, chair._tasks

    later, tasks = scenario(body)
    assert later == 0 and tasks == []


def test_a_given_physics_is_used_and_timer_stops_it():
    physics = ChairPhysics(REFERENCE_CAPABILITIES)

    async def body(chair, host):
        await hello(host)
        await host.ask(SetState(seq=2, state=RUNNING))
        t_set = asyncio.get_running_loop().time()
        physics.set_timer(600, t_set)
        await keep_alive(host, 650.0)  # keep the deadman fed past the timer
        return host.of(StatusReport)[-1].status, stops(chair), t_set

    last, stopped, t_set = scenario(body, physics=physics)
    assert not last.running and last.remaining_s is None
    assert stopped == [(pytest.approx(t_set + 600), "timer")]
