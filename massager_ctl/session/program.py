"""A chair's own built-in program, watched through the safety governor.

The chair plays the program by itself: the host switches it on, sets the chair's
own session timer, starts the program and then only watches the status. What the
governor enforces on a plan it enforces here by judging what the chair reports
(:meth:`SafetyGovernor.watch`): heat the program (or the person, at the chair's
remote) switches on counts against the same heat auto-off budget and heat cap, and
is switched off when the governor says so; the session stops at the same length
cap. The program ends at the chair's own timer; a chair still running
:data:`GRACE_S` after it is stopped by the host.

A chair that stops by itself (its timer, or the person at its own remote) is seen
in its status (not running: a Rongtai chair's reset counts), and the driver may
see it first, in the middle of a key it was pressing for the host (switching the
heat off): it refuses to press on and says so in ``chair_ended``. Either way the
program ends as the chair ended it, not as an error, and nothing switches the
chair on again. A fault the device reports (its ``fault`` event) ends it as an
error (:class:`DeviceFault`), as it ends a profile session.

However it ends (the chair's timer, :meth:`ProgramSession.stop`, the cap,
cancellation, an exception), the ``finally`` path sends the device's prepared stop
and waits for the device to confirm it, as a profile session's does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.durations import format_duration
from ..core.errors import DeviceDisconnected, DeviceError, DeviceFault, UsageError
from ..core.status import Status
from ..devices.base import Device
from .clock import Alarm
from .governor import SafetyGovernor
from .writer import Writer, stop_through_cancels

log = logging.getLogger(__name__)

#: The chair's own default session length for auto programs.
DEFAULT_PROGRAM_S = 20 * 60
#: How long past its timer the chair may still run before the host stops it.
GRACE_S = 15.0
#: A chair that stops this close to its timer's end was ended by its timer.
TIMER_SLACK_S = 5.0
#: How often the status is read (the governor's deadlines wake the loop sooner).
POLL_S = 1.0


@dataclass(frozen=True)
class ProgramProgress:
    """What the chair's program is doing; emitted at every status read."""

    program: str
    elapsed_s: float  # since the host started it
    length_s: float  # the chair's timer
    remaining_s: float  # the chair's own timer where it reports it, else length - elapsed
    status: Status


@dataclass
class ProgramReport:
    program: str
    #: finished (the chair's own timer ended it) | device-stopped (ended at the chair
    #: before its timer) | overran (still running GRACE_S past its timer: the host
    #: stopped it) | cap | heat (heat had to go off and the chair cannot switch it off
    #: alone) | stopped | cancelled | disconnected | fault | error
    reason: str
    length_s: float
    message: str = ""
    elapsed_s: float = 0.0
    stop_status: Status | None = None
    stop_confirmed: bool = False
    stop_sent: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "reason": self.reason,
            "message": self.message,
            "elapsed_s": round(self.elapsed_s, 3),
            "length_s": self.length_s,
            "stop_confirmed": self.stop_confirmed,
            "stop_sent": self.stop_sent,
            "stop_status": self.stop_status.to_dict() if self.stop_status else None,
            "warnings": list(self.warnings),
        }


def program_length_s(device: Device, name: str, length_s: float | None) -> float:
    """Check that ``device`` can run program ``name`` for ``length_s`` (None: the
    chair's default); the length to use. Raises UsageError saying what it offers."""
    programs = tuple(device.capabilities.programs)
    if not programs or not hasattr(device, "run_program"):
        raise UsageError(
            f"{device.model} has no built-in programs; play a profile with `massager-ctl run` instead"
        )
    if name not in programs:
        raise UsageError(f"no program {name!r} on {device.model}; it has: {', '.join(programs)}")
    length = float(DEFAULT_PROGRAM_S if length_s is None else length_s)
    timers = sorted(device.capabilities.chair_timer_s)
    if timers and not any(abs(length - t) < 1e-6 for t in timers):
        raise UsageError(
            f"{device.model}'s own timer offers {', '.join(f'{t // 60:g}' for t in timers)} min; "
            "choose one of them"
        )
    return length


class ProgramSession:
    """One play of a chair's built-in program. Create, then ``await run()``;
    :meth:`stop` from another task ends it."""

    def __init__(
        self,
        device: Device,
        writer: Writer,
        governor: SafetyGovernor,
        name: str,
        length_s: float,
        *,
        poll_s: float = POLL_S,
        grace_s: float = GRACE_S,
        status_timeout_s: float = 2.0,
        stop_timeout_s: float = 2.0,
        on_progress: Callable[[ProgramProgress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        self.writer = writer
        self.governor = governor
        self.name = name
        self.length_s = float(length_s)
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.status_timeout_s = status_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.on_progress = on_progress
        self.on_warning = on_warning or (lambda m: None)
        self.report = ProgramReport(program=name, reason="running", length_s=self.length_s)
        self._poke = Alarm()
        self._stop_requested = False
        self._notices_seen = 0
        self._fault: str | None = None
        self._done = asyncio.Event()

    def stop(self) -> None:
        """End the program: :meth:`run` stops the chair and returns (reason "stopped")."""
        self._stop_requested = True
        self._poke.set()

    def _on_fault(self, message: str) -> None:
        """The device reported a fault: the program ends with an error; the stop follows."""
        if self._fault is None:
            self._fault = message
            self._poke.set()

    async def wait(self) -> None:
        """Wait until :meth:`run` has ended, its stop included."""
        await self._done.wait()

    async def run(self) -> ProgramReport:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            self.governor.check_length(self.length_s, f"program {self.name}")
            self.governor.begin(start, length_s=self.length_s)
        except BaseException:
            self._done.set()
            raise
        self.device.events.fault.append(self._on_fault)
        try:
            self.device.plan_session(self.length_s)  # the chair's own timer
            await self.device.run_program(self.name)  # type: ignore[attr-defined]
            await self._watch(start)
        except asyncio.CancelledError:
            self.report.reason, self.report.message = "cancelled", "interrupted"
            raise
        except DeviceDisconnected as exc:
            self.report.reason, self.report.message = "disconnected", str(exc)
            raise
        except DeviceFault as exc:
            self.report.reason, self.report.message = "fault", str(exc)
            raise
        except DeviceError as exc:
            # The driver refused to press on because the chair ended the session itself
            # (the person stopped it while a key of ours was on its way): not an error.
            if self._chair_ended() is None:
                self.report.reason, self.report.message = "error", str(exc)
                raise
            self._ended_by_the_chair(loop.time() - start)
        except BaseException as exc:
            self.report.reason, self.report.message = "error", str(exc)
            raise
        finally:
            if self._on_fault in self.device.events.fault:
                self.device.events.fault.remove(self._on_fault)
            self.report.elapsed_s = loop.time() - start
            self.governor.end()
            try:
                await self._shutdown()
            finally:
                self._done.set()
        return self.report

    def _end(self, reason: str, message: str) -> None:
        self.report.reason, self.report.message = reason, message

    def _chair_ended(self) -> str | None:
        """Why the driver saw the chair end the session by itself (None: it did not, or
        the driver cannot tell)."""
        ended = getattr(self.device, "chair_ended", None)
        return ended if isinstance(ended, str) else None

    def _ended_by_the_chair(self, elapsed: float) -> None:
        if elapsed >= self.length_s - TIMER_SLACK_S:
            self._end("finished", "ended by the chair's own timer")
        else:
            self._end("device-stopped", "ended at the chair")

    def _raise_fault(self, elapsed: float) -> None:
        if self._fault is not None:
            at = format_duration(max(0, round(elapsed * 1000)))
            raise DeviceFault(f"{self._fault} (at {at}); the program ended and the device was told to stop")

    async def _watch(self, start: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            status = await self.device.read_status(timeout=self.status_timeout_s)
            now = loop.time()
            elapsed = now - start
            self._raise_fault(elapsed)
            if self._stop_requested:
                return self._end("stopped", "stopped")
            if not status.running:  # off, or (Rongtai) resetting: the chair ended it
                return self._ended_by_the_chair(elapsed)
            heat = status.state.heat
            allowed = self.governor.watch(heat, now)
            self._pass_on_notices()
            if self.governor.expired:
                return self._end("cap", "stopped at the session cap")
            if allowed.rank < heat.rank and not await self._heat_off():
                return self._end(
                    "heat",
                    f"the heat had to go off and {self.device.model} cannot switch it off "
                    "alone; the program was stopped",
                )
            if elapsed >= self.length_s + self.grace_s:
                return self._end(
                    "overran",
                    f"still running {self.grace_s:g} s after the chair's timer: stopped by massager-ctl",
                )
            if self.on_progress is not None:
                left = status.remaining_s if status.remaining_s is not None else self.length_s - elapsed
                self.on_progress(ProgramProgress(self.name, elapsed, self.length_s, max(0.0, left), status))
            deadline = now + self.poll_s
            governor_due = self.governor.next_deadline(now)
            if governor_due is not None:
                deadline = min(deadline, max(governor_due, now))
            self._poke.clear()
            await self._poke.wait_until(deadline)

    async def _heat_off(self) -> bool:
        """Switch the chair's heat off (the governor said so); False if it cannot."""
        heat_off = getattr(self.device, "heat_off", None)
        if heat_off is None:
            return False
        status = await heat_off()
        log.info("%s: heat switched off (%s)", self.device.model, status.state.heat)
        return True

    def _pass_on_notices(self) -> None:
        notices = self.governor.notices
        for message in notices[self._notices_seen :]:
            self.report.warnings.append(message)
            self.on_warning(message)
        self._notices_seen = len(notices)

    async def _shutdown(self) -> None:
        """Stop the device and wait for it to confirm; survives a second cancel."""
        if not self.device.connected:
            return
        stop = await stop_through_cancels(self.writer, self.stop_timeout_s)
        if stop.cancelled():
            return
        exc = stop.exception()
        if exc is None:
            status = stop.result()
            self.report.stop_status = status
            self.report.stop_sent = True
            self.report.stop_confirmed = status.stopped and status.extra.get("confirmed", True) is not False
        elif isinstance(exc, DeviceError):
            if self.report.reason in ("finished", "device-stopped", "overran", "cap", "heat", "stopped"):
                raise exc
            log.error("stop not confirmed: %s", exc)
        else:
            raise exc
