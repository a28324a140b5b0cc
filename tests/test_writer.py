"""The writer task: serialised writes, minimum gap, latest wins, no identical repeats, keepalive."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fakes import RecordingDevice

from massager_ctl.core.errors import StopNotConfirmed
from massager_ctl.core.status import DeviceState, Status
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.writer import Writer


def level(n: int) -> DeviceState:
    return DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.NECK}), intensity=n, speed=1)


def test_flood_reaches_the_wire_at_the_gap_with_latest_value():
    """100 updates a second into a link that takes one write per 75 ms: the wire
    sees one write per gap, each the newest value, and the last value arrives."""

    async def main():
        dev = RecordingDevice(min_write_gap_s=0.075, apply_delay_s=0.01)
        w = Writer(dev)
        w.start()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        submitted = []
        for i in range(1, 301):
            await asyncio.sleep(0.01)
            w.submit(level(i))
            submitted.append((loop.time(), i))
            assert w.waiting <= 1
        await w.drain(1.0)
        await w.close()
        return dev, w, t0, submitted

    dev, w, t0, submitted = run_virtual(main())
    times = [t for t, _ in dev.applied]
    values = [s.intensity for _, s in dev.applied]
    assert values[-1] == 300
    assert values == sorted(values)  # never a stale value after a newer one
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.075 - 1e-9
    assert len(values) <= (times[-1] - t0) / 0.075 + 2
    assert w.stats.coalesced > 200
    assert w.stats.max_waiting == 1
    assert dev.max_in_flight == 1


def test_identical_repeat_not_sent_and_keepalive_when_idle():
    async def main():
        dev = RecordingDevice(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(3))
        await asyncio.sleep(0.1)
        w.submit(level(3))
        await asyncio.sleep(2.0)
        await w.close()
        return dev, w

    dev, w = run_virtual(main())
    assert [s.intensity for _, s in dev.applied] == [3]
    assert w.stats.identical == 1
    assert len(dev.keepalives) >= 3
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(dev.keepalives, dev.keepalives[1:], strict=False))


def test_stop_drops_waiting_state_and_resends_after():
    async def main():
        dev = RecordingDevice(min_write_gap_s=1.0)
        w = Writer(dev)
        w.start()
        w.submit(level(2))
        await asyncio.sleep(0.01)
        w.submit(level(9))  # waits for the gap
        status = await w.stop_device()
        await asyncio.sleep(2.0)
        return dev, status

    dev, status = run_virtual(main())
    assert status.stopped
    assert [s.intensity for _, s in dev.applied] == [2]  # 9 never reached the wire after the stop
    assert dev.stops


def test_write_failure_is_reported():
    async def main():
        dev = RecordingDevice()
        w = Writer(dev)
        w.start()
        dev.lost = True
        w.submit(level(1))
        return await asyncio.wait_for(w.failed(), 1.0)

    err = run_virtual(main())
    assert "gone" in str(err)


def test_stop_does_not_wait_behind_a_slow_write():
    """A write that takes seconds (a key-press chair walking its rollers) is cut
    short by a stop; the device hears the stop at once."""

    async def main():
        dev = RecordingDevice(apply_delay_s=5.0)
        w = Writer(dev)
        w.start()
        w.submit(level(4))
        await asyncio.sleep(1.0)
        assert dev.in_flight == 1
        status = await w.stop_device()
        stopped_at = dev.stops[-1]
        w.submit(level(5))  # the writer still works after the cut
        await asyncio.sleep(6.0)
        await w.close()
        return status, stopped_at, dev

    status, stopped_at, dev = run_virtual(main())
    assert status.stopped
    assert stopped_at == 1.0
    assert [s.intensity for _, s in dev.applied] == [5]


def test_going_back_to_the_written_state_during_a_write_is_written():
    """While a newer state is being written, a submit equal to the state written before
    it is not a repeat: it must reach the device after the write in flight."""

    async def main():
        dev = RecordingDevice(apply_delay_s=1.0)
        w = Writer(dev)
        w.start()
        w.submit(level(3))
        await asyncio.sleep(1.5)  # 3 written at 1.0
        w.submit(level(5))
        await asyncio.sleep(0.5)  # 5 in flight
        assert dev.in_flight == 1
        w.submit(level(3))
        await w.drain(5.0)
        await w.close()
        return dev

    dev = run_virtual(main())
    assert [s.intensity for _, s in dev.applied] == [3, 5, 3]
    assert dev.current.intensity == 3


def test_unchanged_submits_at_every_tick_write_nothing():
    """The session submits at every tick; an unchanged state is counted as identical
    and nothing more is written (submit() decides this itself when the writer is idle)."""

    async def main():
        dev = RecordingDevice()
        w = Writer(dev)
        w.start()
        w.submit(level(4))
        await asyncio.sleep(0.1)
        for _ in range(50):
            w.submit(level(4))
            await asyncio.sleep(0.1)
        await w.close()
        return dev, w

    dev, w = run_virtual(main())
    assert [s.intensity for _, s in dev.applied] == [4]
    assert w.stats.identical == 50 and w.stats.written == 1


def test_a_state_submitted_while_a_stop_is_on_its_way_is_written_after_it():
    """A stop makes the device's state the stop's at once: the state written before
    it, submitted again during the stop, is sent after the stop, not skipped."""

    class SlowStop(RecordingDevice):
        async def stop(self, timeout: float = 2.0):
            await asyncio.sleep(0.5)
            return await super().stop(timeout)

    async def main():
        dev = SlowStop()
        w = Writer(dev)
        w.start()
        w.submit(level(6))
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(w.stop_device())
        await asyncio.sleep(0.1)
        w.submit(level(6))
        await stopping
        await w.drain(2.0)
        await w.close()
        return dev

    dev = run_virtual(main())
    assert [s.intensity for _, s in dev.applied] == [6, 6]
    assert dev.applied[-1][0] >= dev.stops[-1]


class RefusedStop(RecordingDevice):
    """A device that refuses STOP (a NAK, a timeout: the driver raises) until told otherwise."""

    refuse = True

    async def stop(self, timeout: float = 2.0):
        if self.refuse:
            raise StopNotConfirmed("test device: STOP refused")
        return await super().stop(timeout)


class SilentStop(RecordingDevice):
    """A device that never answers STOP: the caller gives up (cancels) after a while."""

    async def stop(self, timeout: float = 2.0):
        await asyncio.sleep(3600)


def test_a_refused_stop_holds_keepalives_so_the_deadman_can_act(caplog):
    """After a stop that failed, nothing feeds the device's deadman: the device may
    still be running and its own protection must be able to stop it."""

    async def main():
        dev = RefusedStop(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(2.0)  # keepalives while the state is held
        with pytest.raises(StopNotConfirmed):
            await w.stop_device()
        failed_at = asyncio.get_running_loop().time()
        with pytest.raises(StopNotConfirmed):
            await w.stop_device()  # a second failure: still held, no second warning
        await asyncio.sleep(5.0)  # ten keepalive periods
        await w.close()
        return dev, failed_at

    with caplog.at_level(logging.WARNING, logger="massager_ctl.session.writer"):
        dev, failed_at = run_virtual(main())
    assert len(dev.keepalives) >= 3  # before the stop
    assert [t for t in dev.keepalives if t >= failed_at] == []
    held = [r for r in caplog.records if "keepalives held" in r.getMessage()]
    assert len(held) == 1 and held[0].levelno == logging.WARNING


def test_a_cancelled_stop_holds_keepalives_too():
    async def main():
        dev = SilentStop(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(w.stop_device(), 2.0)
        gave_up_at = asyncio.get_running_loop().time()
        await asyncio.sleep(5.0)
        await w.close()
        return dev, gave_up_at

    dev, gave_up_at = run_virtual(main())
    assert dev.keepalives  # before the stop
    assert [t for t in dev.keepalives if t >= gave_up_at] == []


def test_a_state_written_after_a_failed_stop_brings_keepalives_back():
    """A state the device takes shows the host is in control again: it is written
    (the user asked for it) and keepalives resume from it."""

    async def main():
        dev = RefusedStop(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        with pytest.raises(StopNotConfirmed):
            await w.stop_device()
        await asyncio.sleep(3.0)
        assert w.keepalive_held
        held_keepalives = len(dev.keepalives)
        w.submit(level(5))  # the same state as before the stop: still written
        await w.drain(1.0)
        written_at = dev.applied[-1][0]
        await asyncio.sleep(3.0)
        await w.close()
        return dev, w, held_keepalives, written_at

    dev, w, held_keepalives, written_at = run_virtual(main())
    assert [s.intensity for _, s in dev.applied] == [5, 5]
    assert not w.keepalive_held
    after = [t for t in dev.keepalives if t > written_at]
    assert len(dev.keepalives) == held_keepalives + len(after)
    assert len(after) >= 5
    assert after[0] == pytest.approx(written_at + 0.5)


def test_a_confirmed_stop_after_a_failed_one_brings_keepalives_back():
    async def main():
        dev = RefusedStop(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        with pytest.raises(StopNotConfirmed):
            await w.stop_device()
        await asyncio.sleep(2.0)
        assert not dev.keepalives
        dev.refuse = False
        await w.stop_device()
        stopped_at = dev.stops[-1]
        await asyncio.sleep(2.0)
        await w.close()
        return dev, stopped_at

    dev, stopped_at = run_virtual(main())
    assert dev.keepalives and dev.keepalives[0] == pytest.approx(stopped_at + 0.5)


def test_keepalives_go_on_after_a_confirmed_stop():
    """A stop the device confirms leaves the host in control: keepalives continue
    as before (the held keepalives are only for a stop that failed)."""

    async def main():
        dev = RecordingDevice(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        status = await w.stop_device()
        await asyncio.sleep(3.0)
        await w.close()
        return dev, w, status

    dev, w, status = run_virtual(main())
    assert status.stopped and not w.keepalive_held
    after = [t for t in dev.keepalives if t > dev.stops[-1]]
    assert len(after) >= 5
    assert all(b - a == pytest.approx(0.5) for a, b in zip(after, after[1:], strict=False))


# -- a due state goes before a due heartbeat ---------------------------------------------


def _heartbeat_race(expected_at: float, state_at: float, same_state: bool = False):
    """A state written at 0; the heartbeat falls due at 0.5; the session says it wakes at
    ``expected_at`` and submits at ``state_at``. Returns the device and the writer."""

    async def main():
        dev = RecordingDevice(keepalive_s=0.5, min_write_gap_s=0.02)
        w = Writer(dev)
        w.start()
        w.submit(level(1))
        await asyncio.sleep(0)
        w.expect(expected_at)
        await asyncio.sleep(state_at)
        w.submit(level(1 if same_state else 2))
        w.expect(state_at + 1.0)
        await asyncio.sleep(0.3)
        await w.close()
        return dev

    return run_virtual(main())


def test_a_state_due_with_the_heartbeat_is_written_first_and_no_heartbeat_goes():
    """The heartbeat and the next state fall due at the same instant (the session's
    boundary is exactly one keepalive period after the last write): the state goes out
    at its time, not a gap later behind a heartbeat, and it is the proof of life."""
    dev = _heartbeat_race(expected_at=0.5, state_at=0.5)
    assert [(t, s.intensity) for t, s in dev.applied] == [(0.0, 1), (0.5, 2)]
    assert [t for t in dev.keepalives if t < 0.8] == []


def test_a_heartbeat_due_within_a_gap_before_a_state_waits_for_it():
    """Written 10 ms before the state, the heartbeat would hold the state back for the
    rest of the 20 ms gap: it is put off, and the state goes out on time."""
    dev = _heartbeat_race(expected_at=0.51, state_at=0.51)
    assert [(round(t, 6), s.intensity) for t, s in dev.applied] == [(0.0, 1), (0.51, 2)]
    assert [t for t in dev.keepalives if t < 0.8] == []


def test_a_put_off_heartbeat_still_goes_when_the_state_is_unchanged():
    """The session woke but nothing changed: the heartbeat goes out just after, at most
    a gap (and a millisecond) late, far inside the deadman's three keepalive periods."""
    dev = _heartbeat_race(expected_at=0.51, state_at=0.51, same_state=True)
    assert [s.intensity for _, s in dev.applied] == [1]
    first = dev.keepalives[0]
    assert 0.51 <= first <= 0.5 + 0.02 + 0.001 + 1e-9


def test_a_heartbeat_well_before_the_next_state_is_not_put_off():
    """Only a heartbeat that would make the state wait is moved."""
    dev = _heartbeat_race(expected_at=0.6, state_at=0.6)
    assert dev.keepalives[0] == pytest.approx(0.5)
    assert [(round(t, 6), s.intensity) for t, s in dev.applied] == [(0.0, 1), (0.6, 2)]


# -- one stop on the line, returned on its acknowledgement --------------------------------


class AckThenConfirm(RecordingDevice):
    """Acknowledges a stop at once (its outputs are off) and confirms it 0.1 s later."""

    async def stop(self, timeout: float = 2.0):
        self.stops.append(asyncio.get_running_loop().time())
        self.current = DeviceState()
        self.events.emit_stop_acknowledged()
        await asyncio.sleep(0.1)
        return Status(running=False, state=DeviceState())


def test_a_stop_on_its_way_is_joined_not_sent_again():
    async def main():
        dev = AckThenConfirm()
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        first = asyncio.create_task(w.stop_device())
        await asyncio.sleep(0.05)
        second = await w.stop_device()
        await first
        later = await w.stop_device()  # the first is over: a new stop goes out
        await w.close()
        return dev, second, later

    dev, second, later = run_virtual(main())
    assert dev.stops == [1.0, 1.1]
    assert second.stopped and later.stopped


def test_until_ack_returns_on_the_acknowledgement_and_the_confirmation_follows():
    async def main():
        dev = AckThenConfirm()
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        acked = await w.stop_device(until_ack=True)
        acked_at = asyncio.get_running_loop().time()
        confirmed = await w.stop_device()  # joins the confirmation on its way
        return dev, acked, acked_at, confirmed, asyncio.get_running_loop().time()

    dev, acked, acked_at, confirmed, confirmed_at = run_virtual(main())
    assert dev.stops == [1.0]
    assert acked_at == 1.0 and acked.stopped and acked.extra["acknowledged"]
    assert confirmed_at == pytest.approx(1.1) and "acknowledged" not in confirmed.extra


def test_until_ack_on_a_device_that_does_not_acknowledge_returns_the_confirmation():
    async def main():
        dev = RecordingDevice()
        w = Writer(dev)
        w.start()
        status = await w.stop_device(until_ack=True)
        await w.close()
        return dev, status

    dev, status = run_virtual(main())
    assert dev.stops and status.stopped and "acknowledged" not in status.extra


def test_a_stop_joined_by_another_is_not_abandoned_when_one_caller_gives_up():
    async def main():
        dev = SilentStop(keepalive_s=0.5)
        w = Writer(dev)
        w.start()
        w.submit(level(5))
        await asyncio.sleep(1.0)
        patient = asyncio.create_task(w.stop_device())
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(w.stop_device(), 1.0)
        still_on = not patient.done()
        patient.cancel()
        with pytest.raises(asyncio.CancelledError):
            await patient
        await w.close()
        return still_on, w

    still_on, w = run_virtual(main())
    assert still_on and w.keepalive_held
