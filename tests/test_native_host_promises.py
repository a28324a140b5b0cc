"""The native host keeps every promise of docs/protocol.md, against the reference simulator.

Each test here names the section it holds the host (or the simulator) to, and fails
without the behaviour it checks: heartbeats while a request waits (6.1, 8.3), the
deadman floor (8.3), 20 ms between all host frames (9), BUSY retried (3.5, 6.1), stray
NAKs and fault texts as faults (6.4, 8.4), STATUS liveness (8.2), and the settled
doc-code disagreements (version 0, refused SETs feeding the deadman, the deadman's
fault text, heater faults, the deadman on a stopped chair). Virtual time throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from massager_ctl.core.errors import DeviceError, DeviceFault, StopNotConfirmed
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.native.codec import (
    Ack,
    GetStatus,
    Heartbeat,
    Hello,
    Message,
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
from massager_ctl.devices.native.driver import HOST_MIN_DEADMAN_MS, STATUS_SILENCE_S, NativeDevice
from massager_ctl.devices.native.reference import REFERENCE_CAPABILITIES
from massager_ctl.devices.native.sim import SimulatedNativeChair
from massager_ctl.plan import Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import Session
from massager_ctl.session.writer import Writer
from massager_ctl.sim.faults import FaultInjector
from massager_ctl.sim.physics import ChairPhysics, PhysicsParams
from massager_ctl.transport.memory import MemoryLink

RUNNING = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
    intensity=6,
    speed=3,
    width=Width.MEDIUM,
    airbags=((Zone.ARMS, 3),),
    heat=Heat.LOW,
)
SLOWER = DeviceState(
    technique=Technique.KNEAD, zones=frozenset({Zone.SHOULDERS}), intensity=3, speed=1, heat=Heat.LOW
)
#: A heater that overshoots its cut-out (48 C) within a minute at "high".
HOT = PhysicsParams(heater_high_c=60.0, heater_tau_s=20.0)

Body = Callable[[NativeDevice, SimulatedNativeChair, MemoryLink], Awaitable[Any]]


def with_chair(
    body: Body,
    *,
    deadman_ms: int = 1500,
    faults: FaultInjector | None = None,
    physics: ChairPhysics | None = None,
) -> Any:
    async def main() -> Any:
        link = MemoryLink()
        chair = SimulatedNativeChair(link.device, physics, faults=faults)
        await chair.start()
        device = NativeDevice(link.host, name="sim", deadman_ms=deadman_ms)
        try:
            return await body(device, chair, link)
        finally:
            await chair.close()
            assert chair.errors == []

    return run_virtual(main())


def now() -> float:
    return asyncio.get_running_loop().time()


def host_frames(chair: SimulatedNativeChair, kind: type | None = None) -> list[tuple[float, Message]]:
    return [(t, m) for t, m in chair.received if kind is None or isinstance(m, kind)]


def raw_frame(kind: int, seq: int, body: bytes) -> bytes:
    inner = bytes((2 + len(body), kind, seq)) + body
    return b"\xa5" + stuff(inner + crc16(inner).to_bytes(2, "big"))


def drop_next(chair: SimulatedNativeChair, kind: type) -> list[Message]:
    """From now on the chair's next frame of ``kind`` is lost on its way (one only)."""
    dropped: list[Message] = []
    send = chair._send

    def lossy(msg: Message, at: float, *, status: bool = False) -> None:
        if isinstance(msg, kind) and not dropped:
            dropped.append(msg)
            return
        send(msg, at, status=status)

    chair._send = lossy  # type: ignore[method-assign, assignment]
    return dropped


def short_plan(seconds: float, heat: Heat | None = None) -> Plan:
    from massager_ctl.plan import HeatStep

    ms = int(seconds * 1000)
    roller = RollerStep(
        0,
        ms,
        "knead",
        "knead",
        Technique.KNEAD,
        frozenset({Zone.SHOULDERS}),
        Level.constant(40),
        Level.constant(50),
    )
    heats = (HeatStep(0, ms, "heat", "heat", level=heat),) if heat is not None else ()
    return Plan(name="short", roller=(roller,), heat=heats)


async def play(device: NativeDevice, plan: Plan) -> Session:
    """A session of ``plan`` on a connected device; returns it once it has ended (or raised)."""
    writer = Writer(device)
    session = Session(device, writer, SafetyGovernor(SafetyLimits()), plan)
    try:
        await session.run()
    finally:
        await writer.close()
    return session


# --- 6.1 / 8.3: heartbeats go on while a request waits -----------------------------


def test_one_ack_lost_with_a_400_ms_deadman_does_not_stop_the_chair():
    """The SET's ACK is lost: the host waits 500 ms to resend. With a 400 ms deadman the
    chair would stop in that wait (and the resent SET start it again at once) unless
    heartbeats go on while the request waits."""

    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        dropped = drop_next(chair, Ack)
        t0 = now()
        await device.apply(SLOWER)
        took = now() - t0
        beats = [t for t, _ in host_frames(chair, Heartbeat) if t > t0]
        stops = [e for e in chair.physics.trace if e.kind == "stop"]
        return device.deadman_ms, dropped, took, beats, stops, chair.deadman_trips, chair.physics.target

    deadman, dropped, took, beats, stops, trips, target = with_chair(body, deadman_ms=400)
    assert deadman == 400 and len(dropped) == 1
    assert 0.5 <= took < 0.6  # it did wait out the reply timeout and resend
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert len(beats) >= 3 and max(gaps) <= 0.4 / 3 + 1e-6  # a third of the deadman
    assert stops == [] and trips == 0
    assert target == SLOWER


def test_heartbeats_also_go_on_while_a_busy_device_is_waited_for():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        faults.nak(4, NakCode.BUSY)  # 0.1 + 0.2 + 0.4 + 0.8 s of waits
        await device.apply(SLOWER)
        return chair.deadman_trips, chair.physics.target

    assert with_chair(body, deadman_ms=400, faults=faults) == (0, SLOWER)


# --- 8.3: the host's deadman floor ---------------------------------------------------------


def test_the_host_asks_for_no_deadman_below_its_floor():
    link = MemoryLink()
    with pytest.raises(ValueError, match=str(HOST_MIN_DEADMAN_MS)):
        NativeDevice(link.host, deadman_ms=HOST_MIN_DEADMAN_MS - 1)
    NativeDevice(link.host, deadman_ms=HOST_MIN_DEADMAN_MS)


def test_a_device_whose_deadman_is_below_the_floor_is_refused_at_hello():
    class Brisk(SimulatedNativeChair):
        def _hello(self, msg: Hello, at: float) -> None:  # clamps every request to 200 ms
            super()._hello(Hello(msg.seq, msg.version, 200), at)

    async def main():
        link = MemoryLink()
        chair = Brisk(link.device)
        await chair.start()
        device = NativeDevice(link.host, name="brisk")
        try:
            with pytest.raises(DeviceError) as err:
                await device.connect()
            await asyncio.sleep(0.5)
            after = [m for _, m in chair.received if not isinstance(m, Hello)]
            return str(err.value), device.connected, after, link.host.opened
        finally:
            await chair.close()

    text, connected, after, opened = run_virtual(main())
    assert "200 ms" in text and "300 ms" in text and "\n" not in text
    assert not connected and not opened
    assert after == []  # nothing more was sent to it


# --- 9: at least 20 ms between every two host frames, measured at the chair -------------------


def test_every_host_frame_is_20_ms_after_the_one_before():
    """HELLO then SET at once, HEARTBEAT then STOP at once, SET then GET_STATUS at once:
    every pair arrives at the chair at least 20 ms apart."""

    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)  # HELLO -> SET
        await device.read_status()  # SET -> GET_STATUS
        await device.keepalive()
        await device.stop()  # HEARTBEAT -> STOP (-> GET_STATUS if asked)
        return [t for t, _ in host_frames(chair)], [type(m) for _, m in host_frames(chair)]

    times, kinds = with_chair(body)
    assert kinds[:5] == [Hello, SetState, GetStatus, Heartbeat, Stop]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.02 - 1e-9, gaps


# --- 3.5 / 6.1: BUSY is retried for HELLO and SET, with a bounded backoff ---------------------


def test_busy_twice_then_info_connects():
    faults = FaultInjector()
    faults.nak(2, NakCode.BUSY)  # a chair still in its power-on self test

    async def body(device, chair, link):
        t0 = now()
        await device.connect()
        return now() - t0, [m for _, m in host_frames(chair, Hello)], device.connected

    took, hellos, connected = with_chair(body, faults=faults)
    assert connected
    assert len(hellos) == 3 and len({m.seq for m in hellos}) == 1  # the same HELLO, resent
    assert 0.3 <= took < 0.4  # 0.1 s, then 0.2 s of backoff


def test_busy_twice_then_ack():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.nak(2, NakCode.BUSY)
        t0 = now()
        await device.apply(RUNNING)
        return now() - t0, [m for _, m in host_frames(chair, SetState)], chair.physics.target

    took, sets, target = with_chair(body, faults=faults)
    assert target == RUNNING
    assert len(sets) == 3 and len({m.seq for m in sets}) == 1
    assert 0.3 <= took < 0.4


def test_a_device_that_stays_busy_is_given_up_on():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.nak(1000, NakCode.BUSY)
        t0 = now()
        with pytest.raises(DeviceError) as err:
            await device.apply(RUNNING)
        return now() - t0, str(err.value)

    took, text = with_chair(body, faults=faults)
    assert "stayed busy" in text and "BUSY" in text
    assert 1.5 <= took <= 2.5  # bounded: about 2 s


def test_a_stop_cuts_a_busy_wait_short():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.nak(3, NakCode.BUSY)
        apply = asyncio.ensure_future(device.apply(RUNNING))
        await asyncio.sleep(0.15)  # in the backoff
        t0 = now()
        status = await device.stop()
        with pytest.raises(DeviceError, match="STOP"):
            await apply
        return now() - t0, status.stopped

    took, stopped = with_chair(body, faults=faults)
    assert stopped and took < 0.6


# --- 6.4 / 8.4: stray NAKs and fault texts reach the session ------------------------------


def test_a_stray_nak_ends_the_session_as_a_fault():
    async def body(device, chair, link):
        faults: list[str] = []
        device.events.fault.append(faults.append)
        await device.connect()

        async def refuse_later() -> None:
            await asyncio.sleep(2.0)
            chair._send(Nak(77, NakCode.FAULT), now())

        asyncio.get_running_loop().create_task(refuse_later())
        with pytest.raises(DeviceFault) as err:
            await play(device, short_plan(10.0))
        return faults, str(err.value), chair.physics.target

    faults, text, target = with_chair(body)
    assert len(faults) == 1 and "77" in faults[0] and "FAULT" in faults[0]
    assert "NAK FAULT" in text and "told to stop" in text and "\n" not in text
    assert target.is_stopped


def test_a_late_answer_to_a_resent_request_is_not_a_fault():
    async def body(device, chair, link):
        faults: list[str] = []
        device.events.fault.append(faults.append)
        await device.connect()
        await device.apply(RUNNING)
        seq = next(m.seq for _, m in reversed(chair.received) if isinstance(m, SetState))
        chair._send(Nak(seq, NakCode.BUSY), now())  # a twin answer to an answered SET
        await asyncio.sleep(0.1)
        return faults

    assert with_chair(body) == []


def test_a_heater_fault_during_a_session_ends_it_with_the_fault_text():
    async def body(device, chair, link):
        await device.connect()
        t0 = now()
        with pytest.raises(DeviceFault) as err:
            await play(device, short_plan(600.0, heat=Heat.HIGH))
        return now() - t0, str(err.value), chair.physics.target, chair.fault

    took, text, target, fault = with_chair(body, physics=ChairPhysics(REFERENCE_CAPABILITIES, HOT))
    assert "heater over temperature" in text and "told to stop" in text
    assert took < 60  # at the fault, not at the end of the plan
    assert target.is_stopped and fault == "heater over temperature"


def test_the_deadman_text_is_not_a_fault_the_session_names_it():
    async def body(device, chair, link):
        faults: list[str] = []
        device.events.fault.append(faults.append)
        await device.connect()
        session_task = asyncio.ensure_future(play(device, short_plan(20.0)))
        await asyncio.sleep(3.0)
        chair.faults.drop_incoming(for_s=2.0)  # the host's frames stop reaching the chair
        session = await session_task
        return faults, session.report.reason, session.report.message

    faults, reason, message = with_chair(body, faults=FaultInjector())
    assert faults == []
    assert reason == "device-stopped" and "its deadman expired" in message


# --- 8.2: a chair that stops sending STATUS is lost ----------------------------------------------


def test_a_device_that_reboots_mid_session_ends_it_with_a_clear_error():
    async def body(device, chair, link):
        await device.connect()

        async def power_cut() -> None:
            await asyncio.sleep(5.0)
            chair.reboot()

        asyncio.get_running_loop().create_task(power_cut())
        noticed: list[float] = []
        device.events.fault.append(lambda _text: noticed.append(now()))
        t0 = now()
        with pytest.raises(DeviceFault) as err:
            await play(device, short_plan(30.0))
        return noticed[0] - t0, now() - t0, str(err.value)

    noticed, ended, text = with_chair(body)
    assert "no STATUS" in text and "restarted" in text
    # its last STATUS at most 0.1 s before the cut; 1.5 s of silence; 0.1 s to confirm it
    assert 5.0 + STATUS_SILENCE_S - 0.1 <= noticed <= 5.0 + STATUS_SILENCE_S + 0.1 + 1e-6
    assert ended < 30.0  # the session ended there, not at the end of its plan


def test_a_host_that_stalled_itself_does_not_blame_the_chair():
    """A liveness check that comes late (this host's own loop stalled, as on a loaded
    machine) gives the chair a whole window again instead of calling it lost; a chair
    still silent after that window is lost."""
    faults = FaultInjector()

    async def body(device, chair, link):
        reported: list[tuple[float, str]] = []
        device.events.fault.append(lambda text: reported.append((now(), text)))
        await device.connect()
        faults.stop_status()  # the chair goes quiet
        device._stop_liveness()  # ... and this host stalls past the check
        await asyncio.sleep(STATUS_SILENCE_S + 0.5)
        late_at = now()
        device._check_liveness()  # the stalled check, run late
        await asyncio.sleep(1.0)
        before = list(reported)
        await asyncio.sleep(1.0)
        return late_at, before, reported

    late_at, before, reported = with_chair(body, faults=faults)
    assert before == []
    assert len(reported) == 1 and reported[0][0] == pytest.approx(late_at + STATUS_SILENCE_S + 0.1)


def test_status_liveness_is_not_armed_when_only_observing():
    async def body(device, chair, link):
        faults: list[str] = []
        device.events.fault.append(faults.append)
        await device.observe()
        await asyncio.sleep(5.0)
        return faults

    assert with_chair(body) == []


# --- the simulator agrees with the page ----------------------------------------------------------


def test_hello_version_0_is_answered_unsupported():
    async def body(device, chair, link):
        replies: list[bytes] = []
        link.host.set_receiver(replies.append)
        await link.host.write(raw_frame(MsgType.HELLO, 9, b"\x00\x05\xdc"))
        await asyncio.sleep(0.05)
        return b"".join(replies), chair.ready

    data, ready = with_chair(body)
    assert data == encode(Nak(9, NakCode.UNSUPPORTED)) and not ready


def test_refused_sets_feed_the_deadman():
    """Section 8.3: a SET refused with BAD_VALUE (technique code 9) still feeds it."""

    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        bad = raw_frame(MsgType.SET, 200, b"\x09\x00\x06\x03\x02\x02\x01\x00")
        for _ in range(8):  # 4 s of nothing but refused SETs, every 0.4 s
            await asyncio.sleep(0.4)
            await link.host.write(bad)
        return chair.deadman_trips, chair.physics.target

    assert with_chair(body) == (0, RUNNING)


def test_the_deadman_shows_its_text_until_the_next_set():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        link.host.set_receiver(lambda data: None)  # the host stops listening and talking
        await asyncio.sleep(2.0)
        tripped = chair.fault, chair.deadman_trips
        seen = [m.status.fault for _, m in chair.sent if isinstance(m, StatusReport)][-1]
        device.decoder.feed(b"")
        await link.host.write(encode(SetState(99, SLOWER)))
        await asyncio.sleep(0.05)
        return tripped, seen, chair.fault

    (fault, trips), seen, after = with_chair(body)
    assert (fault, trips, seen) == ("deadman", 1, "deadman")
    assert after is None


def test_the_deadman_expiring_on_a_stopped_chair_changes_nothing():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        await device.stop()
        await asyncio.sleep(3.0)  # the host says nothing more
        return chair.deadman_trips, chair.fault, [e.detail for e in chair.physics.trace if e.kind == "stop"]

    trips, fault, stops = with_chair(body)
    assert trips == 0 and fault is None and "deadman" not in stops


def test_a_heater_fault_refuses_set_with_nak_fault_and_still_obeys_stop():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(replace(RUNNING, heat=Heat.HIGH))
        for _ in range(150):  # a minute of heartbeats: it heats up past its cut-out
            await asyncio.sleep(0.4)
            await device.keepalive()
        stopped_by_fault = chair.physics.target.is_stopped  # everything, not just the heater
        with pytest.raises(DeviceError) as err:
            await device.apply(RUNNING)
        status = await device.stop()
        return stopped_by_fault, chair.fault, str(err.value), status

    stopped_by_fault, fault, text, status = with_chair(
        body, physics=ChairPhysics(REFERENCE_CAPABILITIES, HOT)
    )
    assert stopped_by_fault and fault == "heater over temperature"
    assert "NAK FAULT" in text and "heater over temperature" in text
    assert status.stopped and status.fault == "heater over temperature"


# --- 7.2: a bare STOP first ------------------------------------------------------------------------


def test_open_and_stop_sends_a_bare_stop_and_confirms_it_without_hello():
    async def body(device, chair, link):
        chair.remote(RUNNING)  # started at the chair's own remote
        t0 = now()
        status = await device.open_and_stop()
        return now() - t0, [type(m) for _, m in host_frames(chair)], status, chair.physics.target

    took, kinds, status, target = with_chair(body)
    assert kinds[0] is Stop and Hello not in kinds
    assert status.stopped and status.confirmed and target.is_stopped
    assert took < 0.1


def test_open_and_stop_to_a_chair_that_never_answers_still_sends_the_stop_at_once():
    faults = FaultInjector()
    faults.drop_outgoing()  # the chair hears, but nothing it says arrives

    async def body(device, chair, link):
        chair.remote(RUNNING)
        t0 = now()
        with pytest.raises(StopNotConfirmed):
            await device.open_and_stop()
        first = host_frames(chair)[0]
        return first[0] - t0, first[1], chair.physics.target

    at, first, target = with_chair(body, faults=faults)
    assert isinstance(first, Stop) and at <= 0.1
    assert target.is_stopped


def test_a_script_hears_the_fault_and_gets_a_device_fault(monkeypatch):
    """The API: chair.on_fault hears it, chair.run raises DeviceFault, the chair ends stopped."""
    from massager_ctl import api
    from massager_ctl.devices.native import sim as native_sim

    monkeypatch.setattr(native_sim, "ChairPhysics", lambda caps: ChairPhysics(caps, HOT))

    async def main():
        heard: list[str] = []
        async with api.connect("sim:") as chair:
            chair.on_fault(heard.append)
            with pytest.raises(DeviceFault, match="heater over temperature"):
                await chair.run(short_plan(600.0, heat=Heat.HIGH))
            sim = chair.simulator
        return heard, sim.physics.target

    heard, target = run_virtual(main())
    assert heard == ["sim-chair: heater over temperature"]
    assert target.is_stopped
