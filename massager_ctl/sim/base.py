"""The plumbing every simulator shares: lifecycle, the link, faults, sleeping on the loop clock.

A simulator subclasses :class:`SimulatedDevice` and keeps only its protocol in its own
module. The base gives it:

* ``start()``: takes the loop and its start time, calls :meth:`_starting` (build the body),
  binds the fault injector, installs the receiver and the link-loss handler, opens the
  transport if :attr:`opens_transport`, and starts the tasks :meth:`_loops` names;
* ``close()``: silences the receiver, cancels delayed frames and every task;
* two ways out: :meth:`_queue_frame` (an outgoing queue drained by :meth:`_writer`, delayed
  frames through loop handles; on a transport that never waits, a frame with nothing ahead
  of it is written at once) and :meth:`_send_soon` (one task a frame, for devices that
  only answer queries);
* :meth:`_sleep_until` / :meth:`_wake_up` (the loop clock, so virtual time works) and
  :meth:`_faults_loop` (run scheduled fault actions on time);
* :meth:`_cut_link` (the fault injector's "cut"), :meth:`_on_disconnect` (notes the loss in
  ``link_lost`` and ``link_events``, then :meth:`_link_lost` for the device's own reaction)
  and :meth:`_link_back` (the cable is back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from ..core.errors import DeviceDisconnected
from ..transport.base import Transport
from .faults import FaultInjector


class SimulatedDevice:
    #: The message of the RuntimeError a second start() raises.
    already_started = "simulated device already started"
    #: How the writer's log line names the device ("<name>: link gone (...)").
    log_name = "simulated device"
    #: The endpoint the writer writes to (None: the transport's default).
    write_endpoint: str | None = None
    #: Whether start() opens the transport (a pty the simulator owns).
    opens_transport = False
    #: Whether a cut also unplugs a pty's port (the transport has ``.port.unplug()``).
    unplug_port_on_cut = False

    def __init__(self, transport: Transport, faults: FaultInjector | None = None) -> None:
        self.transport = transport
        self.faults = faults if faults is not None else FaultInjector()
        self.link_lost = False
        self.link_events: list[tuple[float, str]] = []  # (time, reason) of each link loss
        self._log = logging.getLogger(type(self).__module__)
        self._start: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[bytes] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._pending: list[asyncio.TimerHandle] = []
        self._wake: asyncio.Future[None] | None = None
        self._writing = False  # the writer task is in a transport.write()

    # ------------------------------------------------------------ for subclasses

    def _starting(self, now: float) -> None:
        """Build or reset the body at ``now`` (start time), before anything can arrive."""

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        """The tasks to run while started: (coroutine, task name)."""
        return []

    def _on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def _link_lost(self, reason: str) -> None:
        """The device's own reaction to a lost link (after ``link_lost`` is set)."""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError(self.already_started)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._start = loop.time()
        self._starting(self._start)
        self._queue = asyncio.Queue()
        self.faults.bind(self._start, self._cut_link, self._wake_up)
        self.transport.set_receiver(self._on_bytes)
        self.transport.on_disconnect(self._on_disconnect)
        if self.opens_transport:
            await self.transport.open()
        self._tasks = [loop.create_task(coro, name=name) for coro, name in self._loops()]

    async def close(self) -> None:
        self.transport.set_receiver(_ignore)
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        tasks = [*self._tasks, *self._sending]
        self._tasks = []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, DeviceDisconnected):
                pass

    # ------------------------------------------------------------ time

    async def _sleep_until(self, deadline: float | None) -> None:
        """Sleep until ``deadline`` (loop time; None: until woken) or :meth:`_wake_up`."""
        loop = self._loop
        assert loop is not None  # set by start()
        fut: asyncio.Future[None] = loop.create_future()
        self._wake = fut
        handle = None if deadline is None else loop.call_at(deadline, _resolve, fut)
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            self._wake = None

    def _wake_up(self) -> None:
        if self._wake is not None:
            _resolve(self._wake)

    async def _faults_loop(self) -> None:
        """Run scheduled fault actions on time (for devices with no clock of their own)."""
        loop = self._loop
        assert loop is not None
        while True:
            self.faults.tick(loop.time())
            await self._sleep_until(self.faults.next_due())

    # ------------------------------------------------------------ outgoing

    def _queue_frame(self, frame: bytes, delay: float, now: float) -> None:
        """Hand ``frame`` to the writer now, or ``delay`` seconds after ``now``.

        Now, on a transport that never waits (in memory), with nothing queued or being
        written before it: written here, without a turn through the writer task (the
        same bytes in the same order, one loop iteration sooner)."""
        loop, queue = self._loop, self._queue
        assert loop is not None and queue is not None  # set by start()
        if delay > 0:
            self._pending = [h for h in self._pending if h.when() > now]
            self._pending.append(loop.call_later(delay, queue.put_nowait, frame))
        elif self._writing or self.link_lost or not queue.empty() or not self._write_now(frame):
            queue.put_nowait(frame)

    def _write_now(self, frame: bytes) -> bool:
        try:
            if self.write_endpoint is None:
                return self.transport.write_nowait(frame)
            return self.transport.write_nowait(frame, endpoint=self.write_endpoint)
        except (DeviceDisconnected, OSError) as exc:
            self._gone(exc)
            return True  # dealt with: the link is gone

    def _gone(self, exc: BaseException) -> None:
        self.link_lost = True
        self._log.info("%s: link gone (%s)", self.log_name, exc)

    async def _writer(self) -> None:
        assert self._queue is not None
        while True:
            frame = await self._queue.get()
            if self.link_lost:
                continue
            self._writing = True
            try:
                if self.write_endpoint is None:
                    await self.transport.write(frame)
                else:
                    await self.transport.write(frame, endpoint=self.write_endpoint)
            except (DeviceDisconnected, OSError) as exc:
                self._gone(exc)
            finally:
                self._writing = False

    def _send_soon(self, frame: bytes, delay: float) -> None:
        """Write ``frame`` in a task of its own, after ``delay`` seconds."""
        assert self._loop is not None  # set by start()
        task = self._loop.create_task(self._send_later(frame, delay))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_later(self, frame: bytes, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self.transport.write(frame)
        except DeviceDisconnected:
            self.link_lost = True

    # ------------------------------------------------------------ the link

    def _link_back(self) -> bool:
        """Clear ``link_lost`` if the transport works again; True if it did."""
        if self.link_lost and not self.transport.lost:
            self.link_lost = False
            return True
        return False

    def _cut_link(self, reason: str) -> None:
        link = getattr(self.transport, "link", None)
        if link is not None and hasattr(link, "cut"):
            link.cut(reason)
        else:
            port = getattr(self.transport, "port", None)
            if self.unplug_port_on_cut and port is not None and hasattr(port, "unplug"):
                port.unplug()
            self.transport._lost_link(reason)
        self.link_lost = True

    def _on_disconnect(self, reason: str) -> None:
        self.link_lost = True
        if self._loop is not None:
            self.link_events.append((self._loop.time(), reason))
        self._link_lost(reason)


def _ignore(data: bytes) -> None:
    pass


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
