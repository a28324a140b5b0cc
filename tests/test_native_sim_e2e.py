"""NativeDevice driving SimulatedNativeChair over a MemoryLink, in virtual time.

The two sides were written separately against docs/protocol.md; these tests
check they agree, including the deadman that protects the person in the chair.
"""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.core.errors import DeviceDisconnected, DeviceError, StopNotConfirmed
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.native.codec import Heartbeat, NakCode, SetState, Stop
from massager_ctl.devices.native.driver import NativeDevice
from massager_ctl.devices.native.reference import REFERENCE_CAPABILITIES, REFERENCE_MODEL
from massager_ctl.devices.native.sim import SimulatedNativeChair
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.faults import FaultInjector
from massager_ctl.transport.memory import MemoryLink

RUNNING = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
    intensity=6,
    speed=3,
    width=Width.MEDIUM,
    airbags=((Zone.ARMS, 3), (Zone.CALVES, 2)),
    heat=Heat.LOW,
)


def with_chair(body, *, faults: FaultInjector | None = None):
    """Run ``body(device, chair, link)`` with a started chair; always close the chair."""

    async def main():
        # No link delay: MemoryLink reorders same-instant writes when delay_s > 0.
        link = MemoryLink()
        chair = SimulatedNativeChair(link.device, faults=faults)
        await chair.start()
        device = NativeDevice(link.host, name="sim")
        try:
            return await body(device, chair, link)
        finally:
            await chair.close()
            assert chair.errors == []

    return run_virtual(main())


def now() -> float:
    return asyncio.get_running_loop().time()


async def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = now() + timeout
    while now() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


def test_connect_reads_the_chairs_capabilities():
    async def body(device, chair, link):
        await device.connect()
        return device.model, device.capabilities, device.deadman_ms, chair.ready

    model, caps, deadman, ready = with_chair(body)
    assert model == REFERENCE_MODEL
    assert caps == REFERENCE_CAPABILITIES
    assert deadman == 1500 and ready


def test_apply_is_reflected_in_status_and_physics():
    async def body(device, chair, link):
        seen = []
        device.events.status.append(seen.append)
        await device.connect()
        await device.apply(RUNNING)
        await asyncio.sleep(1.0)
        status = await device.read_status()
        return status, seen, chair.physics.target, chair.physics.heat_on

    status, seen, target, heat_on = with_chair(body)
    assert target == RUNNING
    assert status.state == RUNNING and status.running
    assert heat_on
    assert 8 <= len(seen) <= 12  # periodic STATUS every 100 ms over 1 s, plus the answer
    assert all(s.state == RUNNING for s in seen[-3:])


def test_stop_is_confirmed_and_the_chair_comes_to_rest():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        await asyncio.sleep(2.0)
        t0 = now()
        status = await device.stop()
        took = now() - t0
        at_rest = await wait_until(lambda: chair.physics.stopped, timeout=30.0)
        return status, took, at_rest, chair.physics.target

    status, took, at_rest, target = with_chair(body)
    assert status.stopped
    assert took < 0.3
    assert target.is_stopped
    assert at_rest  # motors off, heat off, airbags vented


def test_deadman_stops_the_chair_when_the_host_goes_silent():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        t_last = now()
        await asyncio.sleep(1.4)
        still_running = chair.physics.target == RUNNING and chair.deadman_trips == 0
        await asyncio.sleep(0.2)  # 1.6 s of silence
        tripped = chair.deadman_trips
        at_rest = await wait_until(lambda: chair.physics.stopped, timeout=30.0)
        trip = next(e for e in chair.physics.trace if "deadman" in str(e))
        return still_running, tripped, at_rest, trip.t - t_last, device.last_status

    still_running, tripped, at_rest, after, last = with_chair(body)
    assert still_running
    assert tripped == 1
    assert at_rest
    assert after == pytest.approx(1.5, abs=0.01)
    assert last is not None and last.stopped  # the host sees it in the periodic STATUS


def test_keepalive_every_half_second_keeps_the_chair_running():
    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        for _ in range(20):  # 10 s
            await asyncio.sleep(0.5)
            await device.keepalive()
        beats = sum(1 for _, m in chair.received if isinstance(m, Heartbeat))
        return chair.deadman_trips, chair.physics.target, beats, device.keepalive_s

    trips, target, beats, keepalive_s = with_chair(body)
    assert trips == 0
    assert target == RUNNING
    assert beats == 20
    assert keepalive_s == pytest.approx(0.5)


def test_lost_host_frames_are_resent():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.drop_incoming(1)
        t0 = now()
        await device.apply(RUNNING)
        return now() - t0, [m for _, m in chair.received if isinstance(m, SetState)]

    took, sets = with_chair(body, faults=faults)
    assert 0.5 <= took < 0.6
    assert [m.state for m in sets] == [RUNNING]  # the first copy never arrived


def test_corrupted_replies_are_skipped_and_the_request_resent():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.corrupt_outgoing(1)
        await device.apply(RUNNING)
        return device.decoder.bad_frames, [m for _, m in chair.received if isinstance(m, SetState)]

    bad, sets = with_chair(body, faults=faults)
    assert bad >= 1
    assert len(sets) == 2 and sets[0] == sets[1]


def test_a_refusal_from_the_chair_names_its_code():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        faults.nak(1, NakCode.UNSUPPORTED)  # (BUSY is retried: test_busy_twice_then_ack)
        with pytest.raises(DeviceError, match="UNSUPPORTED"):
            await device.apply(RUNNING)
        await device.apply(RUNNING)  # the next one goes through
        return chair.physics.target

    assert with_chair(body, faults=faults) == RUNNING


def test_a_cut_link_fails_the_host_fast_and_the_deadman_stops_the_chair():
    async def body(device, chair, link):
        reasons = []
        device.events.disconnect.append(reasons.append)
        await device.connect()
        await device.apply(RUNNING)
        link.cut("cable pulled")
        with pytest.raises(DeviceDisconnected):
            await device.apply(RUNNING)
        await asyncio.sleep(2.0)
        return reasons, chair.deadman_trips, chair.physics.target

    reasons, trips, target = with_chair(body)
    assert reasons == ["cable pulled"]
    assert trips == 1 and target.is_stopped


def test_stop_during_a_stalled_chair_is_not_confirmed_but_the_deadman_still_acts():
    faults = FaultInjector()

    async def body(device, chair, link):
        await device.connect()
        await device.apply(RUNNING)
        faults.stall()  # the chair hears nothing from now on
        with pytest.raises(StopNotConfirmed):
            await device.stop(timeout=2.0)
        stops_heard = [m for _, m in chair.received if isinstance(m, Stop)]
        return stops_heard, chair.deadman_trips, chair.physics.target

    stops_heard, trips, target = with_chair(body, faults=faults)
    assert stops_heard == []
    assert trips == 1 and target.is_stopped
