"""Clocks: where a session gets its time from.

Everything in massager-ctl that waits (the session's deadlines, the writer's
gap, the simulator's physics and status cadence, the deadman) uses the
running asyncio loop's clock: ``loop.time()`` and ``asyncio.sleep``. A clock
is therefore an event loop with a particular notion of time:

* :class:`RealClock` - the ordinary loop on the monotonic clock;
* :class:`VirtualClock` - when every task is waiting, time jumps straight to
  the next deadline, so a 30-minute session plays in milliseconds with the
  exact same schedule (tests and ``--dry-run``);
* :class:`ScaledClock` - real time multiplied by a factor (``--time-scale``
  on the simulator: the chair's physics and the session speed up together);
  it keeps every deadline in order on its own time, so a computer that cannot
  keep pace makes the run slower, never wrong.

Run a coroutine on one with ``clock.run(coro)``.
"""

from __future__ import annotations

import asyncio
import selectors
import sys
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")

#: A virtual loop polls its real descriptors every this many turns (see VirtualClock._select).
POLL_EVERY = 16


_Ready = list[tuple[selectors.SelectorKey, int]]


class _TimeSource(Protocol):
    """A clock that keeps its own time: VirtualClock and ScaledClock."""

    def now(self) -> float: ...

    def _select(self, inner: selectors.BaseSelector, timeout: float | None) -> _Ready: ...


class _TimeSelector(selectors.BaseSelector):
    """Wraps the real selector; decides what a blocking wait means for time."""

    def __init__(self, clock: _TimeSource) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> _Ready:
        return self._clock._select(self._inner, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()


class _LoopClock:
    name = "clock"

    def new_loop(self) -> asyncio.AbstractEventLoop:
        raise NotImplementedError

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on a fresh loop with this clock.

        Ctrl-C cancels the main task (so its ``finally`` blocks stop the
        device) and then re-raises KeyboardInterrupt, like ``asyncio.run``.
        """
        with asyncio.Runner(loop_factory=self.new_loop) as runner:
            return runner.run(coro)


class _FineSelector(selectors.BaseSelector):
    """Waits to the microsecond: ``select()``, where epoll and poll take whole milliseconds
    and round a timeout up (every timer of an ordinary loop fires 0-1 ms late: a step
    boundary by 0.7 ms on average, measured in bench/bench_realtime.py). A session has a
    handful of descriptors; once one is beyond ``select()``'s reach (FD_SETSIZE, 1024 on
    Linux) every registration moves to the platform's default selector for good."""

    LIMIT = 1000  # below FD_SETSIZE, with room to spare

    def __init__(self) -> None:
        self._inner: selectors.BaseSelector = selectors.SelectSelector()
        self._fine = True

    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        if self._fine and _fd(fileobj) >= self.LIMIT:
            coarse = selectors.DefaultSelector()
            for key in list(self._inner.get_map().values()):
                coarse.register(key.fileobj, key.events, key.data)
            self._inner.close()
            self._inner, self._fine = coarse, False
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> _Ready:
        return self._inner.select(timeout)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()


def _fd(fileobj: FileDescriptorLike) -> int:
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


class RealClock(_LoopClock):
    """The monotonic clock, with timers that fire on time (see :class:`_FineSelector`)."""

    name = "real"

    def new_loop(self) -> asyncio.AbstractEventLoop:
        if sys.platform == "win32":  # pragma: no cover - the proactor loop
            return asyncio.new_event_loop()
        return asyncio.SelectorEventLoop(_FineSelector())


class _ClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: _TimeSource) -> None:
        self._mc_clock = clock
        super().__init__(selector=_TimeSelector(clock))

    def time(self) -> float:
        return self._mc_clock.now()


class VirtualClock(_LoopClock):
    """Time that only moves when every task is waiting for it.

    Real file descriptors still work (they are polled without blocking, every
    POLL_EVERY turns of the loop), but a wait on I/O with no timer pending
    would wait forever, and time may jump several timers ahead before a
    descriptor is heard; so tests using this clock (and ``--time-scale max``,
    which takes only ``sim:``) talk to in-memory transports.
    """

    name = "virtual"

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._turns = 0

    def now(self) -> float:
        return self._now

    def new_loop(self) -> asyncio.AbstractEventLoop:
        return _ClockLoop(self)

    def _select(self, inner: selectors.BaseSelector, timeout: float | None) -> _Ready:
        if timeout is not None:
            # A turn with callbacks ready (timeout 0) or a jump to the next timer. Polling
            # the real descriptors on every turn was a system call per callback and per
            # jump (a sixth of a virtual session's time). A virtual loop's one descriptor
            # is its self-pipe, where signals arrive (a thread's call_soon_threadsafe is
            # queued without it): every POLL_EVERY-th turn is soon enough, and never
            # starves it.
            self._turns += 1
            if self._turns < POLL_EVERY:
                if timeout > 0:
                    self._now += timeout
                return []
        self._turns = 0
        ready = inner.select(0)
        if ready:
            return ready
        if timeout is None:  # nothing scheduled: only I/O or a signal can wake us
            return inner.select(None)
        if timeout > 0:
            self._now += timeout
        return []


class ScaledClock(_LoopClock):
    """Real time sped up ``scale`` times (the simulator keeps pace), and never late.

    Time moves like :class:`VirtualClock`'s, from one deadline to the next, and the
    loop waits (in real time) until each deadline is due at ``scale`` times real time.
    When the computer cannot keep up (a high scale, a busy machine, a pause of the
    process), the deadlines are still met in order, exactly, on this clock: the run
    takes longer than asked instead of falling behind itself. So everything that
    counts time (the chair's deadman and its status cadence, the host's heartbeats and
    reply timeouts) plays the same at every scale; only the wall time differs. Real
    file descriptors and signals are heard while it waits; time then moves on as far
    as real time went (never past the next deadline).
    """

    name = "scaled"

    #: Behind schedule by more than this (seconds of real time), the clock stops trying
    #: to catch up: it paces itself from where it is.
    RESYNC_S = 0.05

    def __init__(self, scale: float) -> None:
        if not scale > 0:
            raise ValueError("time scale must be above 0")
        self.scale = scale
        self._now = 0.0
        self._anchor_real = time.monotonic()  # real time at which this clock read _anchor
        self._anchor = 0.0
        self._turns = 0

    def now(self) -> float:
        return self._now

    def new_loop(self) -> asyncio.AbstractEventLoop:
        return _ClockLoop(self)

    def _paced(self, real: float) -> float:
        return self._anchor + (real - self._anchor_real) * self.scale

    def _select(self, inner: selectors.BaseSelector, timeout: float | None) -> _Ready:
        if timeout is not None and timeout <= 0:
            # A turn with callbacks ready: poll the descriptors every POLL_EVERY turns
            # only (as VirtualClock does); time does not move while work is waiting.
            self._turns += 1
            if self._turns < POLL_EVERY:
                return []
            self._turns = 0
            return inner.select(0)
        self._turns = 0
        target = None if timeout is None else self._now + timeout
        if target is None:
            ready = inner.select(None)
        else:
            wait = self._anchor_real + (target - self._anchor) / self.scale - time.monotonic()
            ready = inner.select(max(0.0, wait))
        real = time.monotonic()
        paced = self._paced(real)
        if not ready and target is not None:
            self._now = target  # the deadline, exactly (early or late in real time)
        else:  # woken by a descriptor or a signal: as far as real time went
            self._now = max(self._now, paced if target is None else min(paced, target))
        if paced - self._now > self.RESYNC_S * self.scale:
            self._anchor_real, self._anchor = real, self._now  # behind: pace from here
        return ready


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in virtual time. The helper tests use."""
    return VirtualClock().run(coro)


def now() -> float:
    """Seconds on the running loop's clock."""
    return asyncio.get_running_loop().time()


class Alarm:
    """Wake one waiter when poked (:meth:`set`) or at a deadline, whichever comes first.

    What ``asyncio.wait_for(event.wait(), timeout)`` does, without the task that
    ``wait_for`` creates for every wait: the session and the writer wait on one of
    these at every tick, so it is on the hot path of every session (and of every
    ``--dry-run``, where virtual time makes ticks nearly free otherwise).
    A poke is remembered until :meth:`clear`, like :class:`asyncio.Event`.
    """

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[bool] | None = None

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait_until(self, deadline: float | None) -> bool:
        """Wait until poked (True) or until ``deadline`` on the loop's clock (False).

        ``None`` waits for a poke only. A deadline already past still yields to
        the loop once, as a timed-out wait does.
        """
        if self._set:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        handle = None if deadline is None else loop.call_at(deadline, _time_up, waiter)
        try:
            return await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def sleep_until(deadline: float) -> None:
    """Sleep until an absolute deadline on the loop's clock (no drift)."""
    loop = asyncio.get_running_loop()
    delay = deadline - loop.time()
    if delay > 0:
        fut: asyncio.Future[None] = loop.create_future()
        handle = loop.call_at(deadline, _wake, fut)
        try:
            await fut
        finally:
            handle.cancel()
    else:
        await asyncio.sleep(0)
