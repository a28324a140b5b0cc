"""The shared plumbing: ReplyWaiters (devices/link.py) and SimulatedDevice (sim/base.py)."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.core.errors import DeviceDisconnected
from massager_ctl.devices.base import DeviceEvents
from massager_ctl.devices.link import LinkedDevice, ReplyWaiters
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.base import SimulatedDevice
from massager_ctl.transport.memory import MemoryLink


def test_resolve_first_answers_only_the_longest_waiting():
    async def scenario():
        waiters = ReplyWaiters()
        first, second = waiters.add(), waiters.add()
        waiters.resolve_first("reply")
        return first.done() and first.result(), second.done(), len(waiters)

    assert run_virtual(scenario()) == ("reply", False, 2)


def test_resolve_all_answers_everyone_and_forgets_them():
    async def scenario():
        waiters = ReplyWaiters()
        futures = [waiters.add(), waiters.add()]
        waiters.resolve_all(7)
        return [f.result() for f in futures], len(waiters)

    assert run_virtual(scenario()) == ([7, 7], 0)


def test_fail_all_raises_in_the_waiting_caller():
    async def scenario():
        waiters = ReplyWaiters()
        task = asyncio.get_running_loop().create_task(waiters.wait(5.0))
        await asyncio.sleep(0.1)
        waiters.fail_all(DeviceDisconnected("gone"))
        with pytest.raises(DeviceDisconnected, match="gone"):
            await task
        return len(waiters)

    assert run_virtual(scenario()) == 0


def test_wait_times_out_on_the_loop_clock_and_leaves_no_waiter():
    async def scenario():
        loop = asyncio.get_running_loop()
        waiters = ReplyWaiters()
        t0 = loop.time()
        with pytest.raises(TimeoutError):
            await waiters.wait(1.5)
        return round(loop.time() - t0, 6), len(waiters)

    assert run_virtual(scenario()) == (1.5, 0)


class _Looker(LinkedDevice):
    """A driver that can look only, then take control: counts its openings and identifications."""

    def __init__(self, transport, identify_fails=False):
        self.name, self.transport, self.events = "looker", transport, DeviceEvents()
        self.link_loss_note = "look at it"
        self._observing = False
        self.opened = self.identified = 0
        self.identify_fails = identify_fails
        self._attach_link(transport)

    def _on_bytes(self, data: bytes) -> None:
        pass

    async def _open(self) -> None:
        self.opened += 1
        await self._open_link(1.0)

    async def _identify(self) -> None:
        self.identified += 1
        if self.identify_fails:
            raise DeviceDisconnected("not the device")


def test_observe_then_connect_takes_over_the_same_link_once():
    async def scenario():
        dev = _Looker(MemoryLink().host)
        looked = (await dev._open_to_observe(), await dev._open_to_observe(), dev._observing)
        took = await dev._open_to_drive(dev._identify, 1.0)
        again = await dev._open_to_drive(dev._identify, 1.0)
        return looked, took, again, dev.opened, dev.identified, dev._observing, dev.connected

    assert run_virtual(scenario()) == ((True, False, True), True, False, 1, 1, False, True)


def test_a_failed_identification_closes_the_link_and_says_why():
    async def scenario():
        link = MemoryLink()
        dev = _Looker(link.host, identify_fails=True)
        with pytest.raises(DeviceDisconnected, match="not the device"):
            await dev._open_to_drive(dev._identify, 1.0)
        return dev.connected, link.host.opened

    assert run_virtual(scenario()) == (False, False)


class _Echo(SimulatedDevice):
    already_started = "echo already started"
    log_name = "simulated echo"

    def __init__(self, transport, faults=None):
        super().__init__(transport, faults)
        self.woken_at: list[float] = []

    def _loops(self):
        return [(self._writer(), "echo-writer"), (self._sleeper(), "echo-sleeper")]

    async def _sleeper(self):
        while True:
            await self._sleep_until(None)
            self.woken_at.append(self._loop.time())

    def _on_bytes(self, data: bytes) -> None:
        now = self._loop.time()
        self._link_back()
        self._queue_frame(data.upper(), 0.5 if data.startswith(b"late") else 0.0, now)
        self._wake_up()


def test_simulated_device_lifecycle_queue_wake_and_link_loss():
    async def scenario():
        link = MemoryLink()
        sim = _Echo(link.device)
        heard: list[bytes] = []
        link.host.set_receiver(heard.append)
        await link.host.open()
        await sim.start()
        with pytest.raises(RuntimeError, match="echo already started"):
            await sim.start()
        await link.host.write(b"hi")
        await asyncio.sleep(0.1)
        await link.host.write(b"late one")  # answered 0.5 s later, through a loop handle
        await asyncio.sleep(0.1)
        early = list(heard)
        await asyncio.sleep(1.0)
        link.cut("pulled")
        lost = sim.link_lost, [reason for _, reason in sim.link_events]
        await sim.close()
        return early, heard, len(sim.woken_at), lost, sim._tasks

    early, heard, wakes, lost, tasks = run_virtual(scenario())
    assert early == [b"HI"]
    assert heard == [b"HI", b"LATE ONE"]
    assert wakes == 2  # one wake-up per frame that arrived
    assert lost == (True, ["pulled"])
    assert tasks == []


def test_frames_written_at_once_never_overtake_one_being_written():
    """A transport that can take bytes at once (write_nowait) but also has slow writes:
    a frame sent while the writer task is inside a slow write waits its turn."""
    from massager_ctl.transport.base import Transport

    class SlowThenQuick(Transport):
        def __init__(self):
            super().__init__()
            self.wire: list[bytes] = []
            self.calls = 0

        async def open(self):
            pass

        async def close(self):
            pass

        async def write(self, data, *, endpoint="tx", response=False):
            await asyncio.sleep(0.5)
            self.wire.append(bytes(data))

        def write_nowait(self, data, *, endpoint="tx"):
            self.calls += 1
            if self.calls == 1:
                return False  # the first frame takes the slow road
            self.wire.append(bytes(data))
            return True

    class Sim(SimulatedDevice):
        def _on_bytes(self, data):
            pass

        def _loops(self):
            return [(self._writer(), "writer")]

    async def scenario():
        transport = SlowThenQuick()
        sim = Sim(transport)
        await sim.start()
        now = asyncio.get_running_loop().time()
        sim._queue_frame(b"first", 0.0, now)
        await asyncio.sleep(0.1)  # the writer is inside the slow write of "first"
        sim._queue_frame(b"second", 0.0, now)
        await asyncio.sleep(1.5)
        sim._queue_frame(b"third", 0.0, now)  # idle writer, empty queue: written at once
        wire_at_once = list(transport.wire)
        await sim.close()
        return wire_at_once

    assert run_virtual(scenario()) == [b"first", b"second", b"third"]
