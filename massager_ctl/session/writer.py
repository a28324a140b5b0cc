"""The per-device writer task: the only thing that writes states to a device.

* Writes are serialised: one at a time, never interleaved.
* A minimum gap between writes (per model: slow BLE links need ~75 ms).
* Latest value wins: when states arrive faster than the gap, only the newest
  waiting one is written; stale ones are dropped, never queued.
* An identical repeat of the last written state is not sent.
* Keepalive: when nothing was written for ``keepalive_s``, the device's
  keepalive is called (the native protocol's deadman heartbeat).
* A due state goes before a due heartbeat: a state is itself proof of life, and
  a heartbeat written just before it would make it wait the minimum gap. The
  session says when it next wakes (:meth:`Writer.expect`); a heartbeat that
  falls due within one gap before that is put off until just after it (at most
  one gap plus :data:`EXPECT_GRACE_S` late, against a deadman of three
  keepalive periods), and a heartbeat whose time came together with a state is
  dropped for the state.
* After a stop that failed (refused, timed out, raised, cancelled) keepalives
  are held: the device may still be running, and heartbeats would feed the
  deadman that can stop it. The next successful write (a state, or a stop the
  device confirms) shows the host is in control again and resumes them.

A write that fails is kept in :attr:`error` and ends the task; the session
watches :meth:`failed`. Every state written is told to :attr:`Writer.on_written`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import DeviceError
from ..core.status import DEVICE_STOPPED, DeviceState, Status
from ..core.target import zone_order
from ..devices.base import Device
from .clock import Alarm, sleep_until

log = logging.getLogger(__name__)

#: A heartbeat put off for a state expected at time t waits until t + this: the session,
#: woken at t, submits first (its timer is earlier), so the heartbeat is not needed.
EXPECT_GRACE_S = 0.001


def describe_state(state: DeviceState) -> str:
    """A device state in its steps, for the log (``-v``)."""
    if state.is_stopped:
        return "all off"
    parts = []
    if state.technique is not None and state.intensity:
        zones = ",".join(z.value for z in sorted(state.zones, key=zone_order))
        width = f" {state.width.value}" if state.width else ""
        parts.append(
            f"{state.technique.value} {zones} intensity {state.intensity} speed {state.speed}{width}"
        )
    if state.airbags:
        parts.append("airbags " + " ".join(f"{z.value}={level}" for z, level in state.airbags))
    if state.heat.value != "off":
        parts.append(f"heat {state.heat.value}")
    return "; ".join(parts) or "all off"


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    coalesced: int = 0  # replaced by a newer state before they were written
    identical: int = 0  # skipped: same as the last written state
    keepalives: int = 0
    max_waiting: int = 0  # never above 1: latest wins


class Writer:
    def __init__(
        self, device: Device, *, min_gap_s: float | None = None, keepalive_s: float | None = None
    ) -> None:
        self.device = device
        self.min_gap_s = device.min_write_gap_s if min_gap_s is None else min_gap_s
        self._keepalive_given = keepalive_s
        self.keepalive_s = device.keepalive_s if keepalive_s is None else keepalive_s
        self.stats = WriterStats()
        self.error: BaseException | None = None
        self.last_written: DeviceState | None = None
        #: Called with (loop time, state) for every state written. The writer keeps no log
        #: of its own (one per chair is more for the garbage collector to walk): whoever
        #: needs the states (a session's history, a test) listens for them.
        self.on_written: list[Callable[[float, DeviceState], None]] = []
        self._pending: DeviceState | None = None
        self._wake = Alarm()
        self._lock = asyncio.Lock()
        self._last_write_at = float("-inf")
        self._expected: float | None = None  # when the session next wakes (may submit)
        self._keepalive_due: float | None = None  # what the idle wait waits for, if anything
        self.keepalive_held = False  # a stop failed: no keepalive until the next good write
        self._task: asyncio.Task[None] | None = None
        self._applying: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[Status] | None = None  # the stop on its way, if any
        self._stop_waiters = 0
        self._failed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="writer")

    async def restart(self) -> None:
        """Start afresh after the device came back: forget errors and what was written.

        A hold on keepalives after a failed stop stays: only a successful write lifts it."""
        await self.close()
        if self._keepalive_given is None:  # the device may keep another deadman after reconnecting
            self.keepalive_s = self.device.keepalive_s
        self.error = None
        self._failed.clear()
        self._pending = None
        self.last_written = None
        self._last_write_at = float("-inf")
        self._idle.set()
        self.start()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    # -- the queue of one -------------------------------------------------------

    def submit(self, state: DeviceState) -> None:
        """Ask for ``state`` to be written; replaces any state still waiting."""
        if self.error is not None:
            return
        self.stats.submitted += 1
        if self.settled and state == self.last_written:
            # The task holds nothing (no state waiting, none taken to be written) and
            # this is what the device already has: what the task would conclude,
            # without waking it (the session submits at every tick, mostly unchanged).
            self.stats.identical += 1
            return
        if self._pending is not None:
            self.stats.coalesced += 1
        self._pending = state
        self.stats.max_waiting = max(self.stats.max_waiting, 1)
        self._idle.clear()
        self._wake.set()

    def expect(self, at: float | None) -> None:
        """The session next wakes at ``at`` (loop time; None: not known) and may submit
        a state then. A heartbeat due within one gap before ``at`` is put off until
        just after it, so that the state is not kept waiting the gap behind it."""
        if at == self._expected:
            return
        self._expected = at
        waiting = self._keepalive_due
        if waiting is not None and self.keepalive_s:
            if self._heartbeat_time(self._last_write_at + self.keepalive_s) != waiting:
                self._wake.set()  # the idle wait plans again with this

    def _heartbeat_time(self, due: float) -> float:
        """When to send a heartbeat due at ``due``, given the state expected next."""
        at = self._expected
        if at is not None and due <= at < due + self.min_gap_s:
            return at + EXPECT_GRACE_S
        return due

    @property
    def _stop_on_its_way(self) -> bool:
        return self._stopping is not None and not self._stopping.done()

    @property
    def settled(self) -> bool:
        """Nothing waits and nothing is being written: :attr:`last_written` is what the
        device was last told, and it has acknowledged it (as far as it can)."""
        return self._idle.is_set()

    @property
    def waiting(self) -> int:
        return 0 if self._pending is None else 1

    async def failed(self) -> BaseException:
        await self._failed.wait()
        assert self.error is not None
        return self.error

    async def drain(self, timeout: float) -> None:
        """Wait until every submitted state is written (or skipped)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._pending is None:
                    self._idle.set()
                    self._wake.clear()
                    due = None
                    keepalive_s = self.keepalive_s
                    if keepalive_s and not self.keepalive_held:
                        due = self._heartbeat_time(self._last_write_at + keepalive_s)
                    self._keepalive_due = due
                    try:
                        woken = await self._wake.wait_until(due)
                    finally:
                        self._keepalive_due = None
                    if not woken and due is not None and keepalive_s:
                        if self._pending is not None:
                            continue  # a state came due with the heartbeat: it goes instead
                        async with self._lock:
                            if self.keepalive_held or self._stop_on_its_way:
                                continue  # a stop failed, or is going out: no heartbeat first
                            if self._last_write_at + keepalive_s > loop.time() + 1e-6:
                                continue  # a stop went out while this waited for the lock
                            await self.device.keepalive()
                        self.stats.keepalives += 1
                        self._last_write_at = loop.time()
                    continue
                await sleep_until(self._last_write_at + self.min_gap_s)
                state, self._pending = self._pending, None
                if state is None:
                    continue
                if state == self.last_written:
                    self.stats.identical += 1
                    continue
                async with self._lock:
                    self._applying = loop.create_task(self.device.apply(state), name="apply")
                    try:
                        await self._applying
                    except asyncio.CancelledError:
                        me = asyncio.current_task()  # the writer's task (never None here)
                        if me is not None and me.cancelling():
                            raise  # the writer itself is being closed
                        continue  # stop_device() cut this write short: the stop comes next
                    finally:
                        self._applying = None
                self.last_written = state
                self._last_write_at = loop.time()
                self.keepalive_held = False  # the device took a state: the host is in control
                self.stats.written += 1
                for listener in self.on_written:
                    listener(self._last_write_at, state)
                if log.isEnabledFor(logging.INFO):
                    log.info("%s: sent %s", self.device.model, describe_state(state))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported through failed()
            log.debug("writer stopped by %r", exc)
            self.error = exc if isinstance(exc, DeviceError) else DeviceError(str(exc) or repr(exc))
            self._failed.set()
            self._idle.set()

    # -- stop ---------------------------------------------------------------------

    async def stop_device(self, timeout: float = 2.0, *, until_ack: bool = False) -> Status:
        """Stop the device now: drop whatever waits, cut short an in-flight write,
        then send the device's prepared stop and return its confirmation.

        A stop already on its way is joined, not sent again: ``chair.stop()`` ending a
        hold and that hold's own final stop are one STOP on the line.

        ``until_ack``: return as soon as the device acknowledges the stop (a device that
        says so: :attr:`DeviceEvents.stop_acknowledged`; the native protocol's ACK,
        sent once its outputs are off), with a status built from that answer
        (``extra["acknowledged"]``); its status confirms it afterwards, in the
        background, and a later ``stop_device`` joins that. Devices that do not
        announce an acknowledgement return on the confirmation, as without it.

        If the stop fails (raises, or is cancelled by every caller waiting on it),
        keepalives are held until a later write succeeds, so that a device with a
        deadman stops by itself."""
        loop = asyncio.get_running_loop()
        task = self._stopping
        if task is None or task.done():
            self._pending = None
            self.last_written = None  # from now on, the device's state is the stop's
            applying = self._applying
            if applying is not None and not applying.done():
                # A write can take seconds on some devices (a key-press chair walking its
                # rollers, a resend after a lost ACK): the stop does not wait behind it.
                applying.cancel()
            task = self._stopping = loop.create_task(self._stop(timeout), name="stop-device")
            task.add_done_callback(_retrieve)
        acked: asyncio.Future[None] = loop.create_future()
        listener = functools.partial(_resolve, acked)
        if until_ack:
            self.device.events.stop_acknowledged.append(listener)
        self._stop_waiters += 1
        try:
            if not until_ack:
                return await asyncio.shield(task)
            await asyncio.wait((task, acked), return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            task.add_done_callback(self._report_unconfirmed)
            return Status(running=False, state=DEVICE_STOPPED, extra={"acknowledged": True})
        except asyncio.CancelledError:
            if self._stop_waiters == 1 and not task.done():
                task.cancel()  # nobody else waits for it: the stop is abandoned, as asked
            raise
        finally:
            self._stop_waiters -= 1
            if until_ack:
                self.device.events.stop_acknowledged.remove(listener)

    def _report_unconfirmed(self, task: asyncio.Task[Status]) -> None:
        """A stop returned on its acknowledgement whose confirmation then failed: said
        loudly (keepalives are held already, so a deadman can act)."""
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: the stop was acknowledged but not confirmed: %s", self.device.model, task.exception()
            )

    async def _stop(self, timeout: float) -> Status:
        async with self._lock:
            try:
                status = await self.device.stop(timeout=timeout)
            except BaseException as exc:
                self._hold_keepalives(exc)
                raise
        if self.keepalive_held:  # the device confirmed a stop: the host is in control again
            self.keepalive_held = False
            self._wake.set()
        self.last_written = None  # after a stop, the next state must be sent again
        self._last_write_at = asyncio.get_running_loop().time()
        return status

    def _hold_keepalives(self, exc: BaseException) -> None:
        if not self.keepalive_held and self.keepalive_s:
            log.warning(
                "%s: stop failed (%s); keepalives held until the next successful write, "
                "so that the device's own deadman can stop it",
                self.device.model,
                str(exc) or type(exc).__name__,
            )
        self.keepalive_held = True
        self._wake.set()  # the task re-plans its wait without the keepalive deadline


async def stop_through_cancels(writer: Writer, timeout: float) -> asyncio.Task[Status]:
    """The writer's stop, run to its end even when the caller is cancelled meanwhile (a
    second Ctrl-C must not cut a stop short). Returns the finished task: its result, its
    exception, or cancelled; the caller's own cancel is for the caller to re-raise."""
    stop = asyncio.get_running_loop().create_task(writer.stop_device(timeout=timeout), name="stop")
    while not stop.done():
        try:
            await asyncio.shield(stop)
        except asyncio.CancelledError:
            continue  # finish the stop first
        except Exception:  # noqa: BLE001 - the caller inspects the task
            break
    return stop


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _retrieve(task: asyncio.Task[Status]) -> None:
    """A stop's outcome is read by whoever waits on it; one nobody waited for to the end
    (returned on the acknowledgement) must not warn that it was never retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("stop ended with %r", task.exception())
