"""The session runner: plays a plan against a device on the loop's clock.

Every target goes plan -> safety governor -> capability mapping -> writer
task -> device. Deadlines are absolute (start time + plan time), so the error
at minute 30 is no larger than at minute 1. The runner wakes at every step
boundary of every track and at a fixed tick in between (ramps, slew).

However the session ends (finished, stopped, Ctrl-C, SIGTERM, an exception,
a lost link), the ``finally`` path sends the device its prepared stop and
waits for the device to confirm it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.durations import format_duration
from ..core.errors import DeviceDisconnected, DeviceError, DeviceFault
from ..core.status import DeviceState, Status
from ..core.target import STOPPED, TargetState
from ..core.tolerance import StatusTolerance
from ..devices.base import Device
from ..devices.mapping import CapabilityMapper
from ..plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from .clock import Alarm
from .governor import MAX_SLEW_STEP_S, SafetyGovernor
from .verify import StatusVerifier
from .writer import Writer, stop_through_cancels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """What the session is doing now; emitted at every tick."""

    elapsed_s: float  # wall (clock) time since start
    plan_ms: int  # position in the plan
    total_ms: int
    segment: str  # name of the current roller step
    segment_index: int  # 1-based index of the roller step, 0 before/after
    target: TargetState  # after the governor
    device_state: DeviceState
    paused: bool


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try when the link drops mid-session (``--reconnect``)."""

    attempts: int = 6
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    connect_timeout_s: float = 10.0


@dataclass
class SessionReport:
    # finished | stopped | device-stopped | device-disobeyed | cap | cancelled | disconnected | fault | error
    reason: str
    plan_ms: int = 0
    elapsed_s: float = 0.0
    stop_status: Status | None = None
    stop_confirmed: bool = False  # the device reported itself stopped
    stop_sent: bool = False  # the stop went out without error (all a device without status can say)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    boundary_errors_s: list[float] = field(default_factory=list)
    reconnects: int = 0
    started_at: float | None = None  # loop time at which the plan's clock started (its 0 ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "plan_ms": self.plan_ms,
            "elapsed_s": round(self.elapsed_s, 3),
            "stop_confirmed": self.stop_confirmed,
            "stop_sent": self.stop_sent,
            "stop_status": self.stop_status.to_dict() if self.stop_status else None,
            "message": self.message,
            "warnings": list(self.warnings),
            "reconnects": self.reconnects,
        }


def preflight_states(plan: Plan) -> list[TargetState]:
    """One representative state per step, so mapping warnings come up front."""
    states: list[TargetState] = []
    for step in plan.roller:
        if step.technique is not None:
            states.append(
                STOPPED.with_(
                    technique=step.technique,
                    zones=step.zones,
                    intensity=max(step.intensity.peak, 1.0),
                    speed=step.speed.peak,
                    width=step.width,
                )
            )
    for bags in plan.airbag:
        if bags.zones:
            states.append(STOPPED.with_(airbags=[(z, max(bags.pressure.peak, 1.0)) for z in bags.zones]))
    for heat in plan.heat:
        states.append(STOPPED.with_(heat=heat.level))
    return states


class Session:
    """One play of one plan. Create, then ``await run()``; control it from other tasks."""

    def __init__(
        self,
        device: Device,
        writer: Writer,
        governor: SafetyGovernor,
        plan: Plan,
        *,
        strict: bool = False,
        tick_s: float = 0.1,
        idle_tick_s: float = 1.0,
        stop_timeout_s: float = 2.0,
        on_progress: Callable[[Progress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        reconnect: ReconnectPolicy | None = None,
        tolerance: StatusTolerance | None = None,
    ) -> None:
        self.device = device
        #: The device model's status tolerance: its statuses are verified (session/verify.py).
        self.tolerance = tolerance
        self._verifier: StatusVerifier | None = None
        self._disobeyed: str | None = None
        self.reconnect = reconnect
        self.writer = writer
        self.governor = governor
        self.plan = plan
        self.strict = strict
        self.tick_s = tick_s
        self.idle_tick_s = max(idle_tick_s, tick_s)
        self.stop_timeout_s = stop_timeout_s
        self.on_progress = on_progress
        self.on_warning = on_warning or (lambda m: None)
        self.report = SessionReport(reason="running")
        self._poke = Alarm()
        self._stop_requested = False
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._skip_ms = 0
        self._lost: str | None = None
        self._fault: str | None = None
        self._stopped_by_device: str | None = None
        self._t0: float | None = None  # loop time of the plan's 0 ms
        self._began: float | None = None  # loop time the session began (a new plan keeps it)
        self._mapper: CapabilityMapper | None = None
        self._roller_starts = [s.start_ms for s in plan.roller]
        self._boundaries = plan.boundaries_ms()
        self._playing = False  # in the loop: a new plan may replace the one playing
        self._submitted: list[asyncio.Future[None]] = []  # resolved at the next submit
        self._submitted_any = False

    # -- control from outside -----------------------------------------------------

    def pause(self) -> None:
        if self._paused_at is None and self._t0 is not None:
            self._paused_at = asyncio.get_running_loop().time()
            self._poke.set()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += asyncio.get_running_loop().time() - self._paused_at
            self._paused_at = None
            self._poke.set()

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def skip(self) -> None:
        """Jump to the start of the next roller segment (or the end)."""
        if self._t0 is None:
            return
        now_ms = self.plan_ms(asyncio.get_running_loop().time())
        i = bisect_right(self._roller_starts, now_ms)
        target = self._roller_starts[i] if i < len(self._roller_starts) else self.plan.duration_ms
        self._skip_ms += max(0, target - now_ms)
        self._poke.set()

    def stop(self) -> None:
        self._stop_requested = True
        self._poke.set()

    @property
    def intensity_cap(self) -> float:
        """The intensity cap in force now (%)."""
        return self.governor.session_limits.max_intensity

    def set_intensity_cap(self, percent: float, *, lasting: bool = False) -> float:
        """Turn the intensity cap down or up while the session plays, never above the cap
        it began with (see :meth:`SafetyGovernor.set_intensity_cap`, also for ``lasting``);
        the device's steps follow it (a step above the new cap is never sent). Returns the
        cap in force."""
        cap = self.governor.set_intensity_cap(percent, lasting=lasting)
        if self._mapper is not None:
            self._mapper.max_intensity = cap
        self._poke.set()
        return cap

    def wake(self) -> None:
        """Something outside the plan changed (the governor's heat ceiling): act on it now,
        not at the next tick."""
        self._poke.set()

    async def first_submit(self) -> None:
        """Return once the session has submitted its first state to the writer (at once
        if it has); raises CancelledError if it ends before."""
        if self._playing and self._submitted_any:
            return
        submitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submitted.append(submitted)
        await submitted

    def replace_plan(self, plan: Plan) -> asyncio.Future[None] | None:
        """Play ``plan`` from now on, from its start, instead of the plan playing: a
        ``set`` on a hold changes it in place. Nothing stops in between: the next state
        the device gets is the new plan's (through the governor, whose session goes on:
        its cap, heat auto-off and slew count from this session's start, and the limits
        are the first plan's).

        Returns a future resolved once the session has submitted the new plan's first
        state to the writer; None if the session is not playing (not started yet, ending
        or ended, waiting for its link to come back, the device faulted or disobeyed):
        start a new one then. Raises what the capability check of a new plan raises
        (strict mode), changing nothing."""
        if (
            not self._playing
            or self._stop_requested
            or self._lost is not None
            or self._stopped_by_device is not None
            or self._fault is not None
            or self._disobeyed is not None
            or self._mapper is None
        ):
            return None
        self._mapper.preflight(preflight_states(plan))
        loop = asyncio.get_running_loop()
        self.plan = plan
        self._roller_starts = [s.start_ms for s in plan.roller]
        self._boundaries = plan.boundaries_ms()
        self._t0 = self.report.started_at = loop.time()
        self._paused_at = None
        self._paused_total = 0.0
        self._skip_ms = 0
        submitted: asyncio.Future[None] = loop.create_future()
        self._submitted.append(submitted)
        self._poke.set()
        return submitted

    def _on_disconnect(self, reason: str) -> None:
        self._lost = reason or "link lost"
        self._poke.set()

    def _on_fault(self, message: str) -> None:
        """The device reported a fault (its fault text, a NAK nobody asked for, its STATUS
        stopped coming): the session ends with an error, and the usual stop follows."""
        if self._fault is None:
            self._fault = message
            self._poke.set()

    def _on_status(self, status: Status) -> None:
        """A device that stopped by itself is not started again behind the person's back.

        The person may have pressed stop on the chair's own remote, or its timer ran
        out, or its deadman tripped while this host was stalled: whichever, the next
        change in the plan would otherwise start it again (at the planned intensity,
        with no ramp). The status is judged against the state the device had
        acknowledged when it sent that status (:attr:`Device.acknowledged`, kept in
        the order of its frames), not against what the writer is sending now: a stop
        pressed just before a write shows in a status that arrives while that write
        is on its way, and the write starts the chair again. Only a device whose
        status says so reliably (``reports_own_stop``) is watched; after a lost link,
        nothing counts until the device has acknowledged a state again (a chair that
        comes back stopped is what reconnecting expects)."""
        if (
            self._t0 is None
            or self._stopped_by_device is not None
            or self._stop_requested
            or not status.stopped
        ):
            return
        told = self.device.acknowledged
        if told is None or told.is_stopped:
            return
        at = format_duration(max(0, self.plan_ms(asyncio.get_running_loop().time())))
        if status.fault == "deadman":
            why = "its deadman expired: this host's frames did not reach it in time"
        else:
            why = "its own stop button or timer, or its deadman after the host was silent too long"
        self._stopped_by_device = f"{self.device.model} stopped by itself at {at} ({why}); the session ended"
        self._poke.set()

    def _verify(self, status: Status) -> None:
        """A device that reports more than it was told (or more than the caps allow) is
        stopped: the session ends, reason ``device-disobeyed`` (session/verify.py)."""
        verifier = self._verifier
        if verifier is None or self._t0 is None or self._disobeyed is not None or self._stop_requested:
            return
        problem = verifier.judge(status, asyncio.get_running_loop().time())
        if problem is not None:
            self._disobeyed = f"{problem}; the session stopped it"
            self._poke.set()

    # -- time -----------------------------------------------------------------------

    def plan_ms(self, now: float) -> int:
        assert self._t0 is not None
        paused = self._paused_total + (now - self._paused_at if self._paused_at is not None else 0.0)
        # floor, but a hair above: (t0 + 2.0) - t0 can come out as 1.9999999998 s, and a
        # boundary must count as reached at its own deadline (else the loop spins on it)
        return math.floor((now - self._t0 - paused) * 1000 + 1e-6) + self._skip_ms

    def _wall_for(self, plan_ms: float) -> float:
        assert self._t0 is not None
        return self._t0 + self._paused_total + (plan_ms - self._skip_ms) / 1000.0

    # -- the loop ------------------------------------------------------------------

    async def run(self) -> SessionReport:
        loop = asyncio.get_running_loop()
        plan = self.plan
        limits = plan.limits
        self.governor.begin(
            loop.time(),
            length_s=plan.duration_ms / 1000.0,
            max_intensity=limits.max_intensity,
            max_length_s=None if limits.max_length_ms is None else limits.max_length_ms / 1000.0,
        )
        lim = self.governor.session_limits
        mapper = CapabilityMapper(
            self.device.capabilities,
            strict=self.strict,
            warn=self._warn,
            max_intensity=lim.max_intensity,
            max_airbag=lim.max_airbag,
            max_speed=lim.max_speed,
        )
        self._mapper = mapper
        self.device.events.disconnect.append(self._on_disconnect)
        self.device.events.fault.append(self._on_fault)
        if self.device.reports_own_stop:
            self.device.events.status.append(self._on_status)
        if self.tolerance is not None:
            # Held to the caps it began with: a lasting live cap (already in `lim`) may be
            # raised back to them mid-session, and the device then follows it up.
            self._verifier = StatusVerifier(
                self.device, self.tolerance, self.device.capabilities, self.governor.begun_limits
            )
            self.device.events.status.append(self._verify)
        if not self.device.connected:  # lost between connect() and now
            self._lost = "link lost before the session started"
        self._watch_writer()
        self.writer.start()
        try:
            mapper.preflight(preflight_states(plan))
            self.device.plan_session(
                min(plan.duration_ms / 1000.0, self.governor.session_limits.max_session_s)
            )
            self._t0 = self._began = self.report.started_at = loop.time()
            self._playing = True
            await self._loop(mapper)
        except asyncio.CancelledError:
            self.report.reason = "cancelled"
            self.report.message = "interrupted"
            raise
        except DeviceDisconnected as exc:
            self.report.reason = "disconnected"
            self.report.message = str(exc)
            raise
        except DeviceFault as exc:
            self.report.reason = "fault"
            self.report.message = str(exc)
            raise
        except BaseException as exc:
            self.report.reason = "error"
            self.report.message = str(exc)
            raise
        finally:
            self._playing = False
            for submitted in self._submitted:
                submitted.cancel()  # (a caller waiting for it sees the session end instead)
            self._submitted.clear()
            self.writer.expect(None)
            self._verifier = None  # the session is over: what the stop does is the stop's
            self._failed.cancel()
            if self._t0 is not None and self._began is not None:
                self.report.elapsed_s = loop.time() - self._began
                self.report.plan_ms = min(self.plan_ms(loop.time()), self.plan.duration_ms)
            self.governor.end()
            await self._shutdown()
            if self._on_disconnect in self.device.events.disconnect:
                self.device.events.disconnect.remove(self._on_disconnect)
            if self._on_fault in self.device.events.fault:
                self.device.events.fault.remove(self._on_fault)
            if self._on_status in self.device.events.status:
                self.device.events.status.remove(self._on_status)
            if self._verify in self.device.events.status:
                self.device.events.status.remove(self._verify)
        return self.report

    def _warn(self, message: str) -> None:
        self.report.warnings.append(message)
        self.on_warning(message)

    def _watch_writer(self) -> None:
        self._failed = asyncio.get_running_loop().create_task(self.writer.failed())
        self._failed.add_done_callback(lambda _t: self._poke.set())

    async def _loop(self, mapper: CapabilityMapper) -> None:
        loop = asyncio.get_running_loop()
        assert self._t0 is not None  # run() set it just before
        while True:
            plan, boundaries = self.plan, self._boundaries  # (replace_plan may change them)
            now = loop.time()
            if self._failed.done() and not self._failed.cancelled():
                error = self._failed.result()
                if not isinstance(error, DeviceDisconnected):
                    raise error
                # A write found the link gone before the disconnect event did: same path.
                self._lost = self._lost or str(error)
            if self._lost is not None:
                if self.reconnect is None:
                    raise DeviceDisconnected(self._lost_message(now))
                await self._reconnect()
                continue
            if self._fault is not None:
                at = format_duration(max(0, self.plan_ms(now)))
                raise DeviceFault(
                    f"{self._fault} (at {at}); the session ended and the device was told to stop"
                )
            if self._stop_requested:
                self.report.reason = "stopped"
                return
            if self._disobeyed is not None:
                self.report.reason = "device-disobeyed"
                self.report.message = self._disobeyed
                self._warn(self._disobeyed)
                return
            if self._stopped_by_device is not None:
                self.report.reason = "device-stopped"
                self.report.message = self._stopped_by_device
                self._warn(self._stopped_by_device)
                return
            pos = self.plan_ms(now)
            if pos >= plan.duration_ms:
                self.report.reason = "finished"
                return
            desired = plan.state_at(pos)
            if self.paused:
                desired = STOPPED.with_(heat=desired.heat)
            target = self.governor.regulate(desired, now)
            if self.governor.expired:
                self.report.reason = "cap"
                self.report.message = self.governor.notices[-1]
                return
            state = mapper.map(target)
            self.writer.submit(state)
            if self._verifier is not None:
                self._verifier.sent(state, now)
            self._submitted_any = True
            if self._submitted:
                for submitted in self._submitted:
                    if not submitted.done():
                        submitted.set_result(None)
                self._submitted.clear()
            if self.on_progress is not None:
                self.on_progress(self._progress(now, pos, target, state))

            # Next wake-up: the next tick, boundary or governor deadline, whichever is
            # first. Ticks are absolute (t0 + k * tick), so nothing drifts. While the
            # governor holds something back (slew catching up, a cap), tick every tick_s;
            # otherwise every idle_tick_s (progress still moves; far fewer wake-ups),
            # or sooner, on the tick_s grid, where a ramp changes the device's state.
            busy = target != desired
            tick = self.tick_s if busy else self.idle_tick_s
            t0 = self._t0
            assert t0 is not None
            k = math.floor((now - t0) / tick + 1e-9) + 1
            deadline = t0 + k * tick
            governor_deadline = self.governor.next_deadline(now)
            if governor_deadline is not None and governor_deadline < deadline:
                deadline = max(governor_deadline, now)
            boundary_deadline = None
            if not self.paused:
                i = bisect_right(boundaries, pos)
                if i < len(boundaries):
                    boundary_deadline = self._wall_for(boundaries[i])
                    if boundary_deadline <= deadline:
                        deadline = boundary_deadline
            if not busy and not self.paused and plan.is_ramping(pos):
                deadline = self._next_change(now, state, target, mapper, deadline)
            self._poke.clear()
            self.writer.expect(deadline)  # a heartbeat due just before it waits for it
            if not await self._poke.wait_until(deadline) and deadline == boundary_deadline:
                self.report.boundary_errors_s.append(loop.time() - deadline)

    def _next_change(
        self,
        now: float,
        state: DeviceState,
        target: TargetState,
        mapper: CapabilityMapper,
        horizon: float,
    ) -> float:
        """The first tick (on the tick_s grid, after ``now``, before ``horizon``) at which
        the ramp playing now changes the device's state; ``horizon`` if none does.

        That is the tick at which ticking every tick_s would first write something, found
        by bisection instead of by waking at each tick: the ramp is monotone up to
        ``horizon`` (no boundary before it), so "the device state differs from ``state``"
        is false, then true for good. Where the rise up to ``horizon`` is more than one
        regulate() call may grant, it ticks as before (the slew limit must see each step).
        """
        t0, tick = self._t0, self.tick_s
        assert t0 is not None  # only called from _loop
        k_now = math.floor((now - t0) / tick + 1e-9)
        hi = math.floor((horizon - t0) / tick - 1e-9)  # the last grid tick before horizon
        if hi <= k_now + 1:
            return horizon if hi <= k_now else min(horizon, t0 + hi * tick)
        plan, capped = self.plan, self.governor.capped

        def device_state_at(k: int) -> DeviceState:
            return mapper.map(capped(plan.state_at(self.plan_ms(t0 + k * tick))))

        # The intensity at the end of the window (its last millisecond: the ramp's own
        # step still plays there) against what one regulate() call may add.
        last = capped(plan.state_at(self.plan_ms(horizon) - 1))
        allowance = self.governor.session_limits.slew_per_s * MAX_SLEW_STEP_S
        if last.intensity - target.intensity > allowance:
            return t0 + (k_now + 1) * tick
        if device_state_at(hi) == state:
            return horizon
        lo = k_now  # invariant: the state at lo is ``state``, the one at hi differs
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if device_state_at(mid) == state:
                lo = mid
            else:
                hi = mid
        return t0 + hi * tick

    def _progress(self, now: float, pos: int, target: TargetState, state: DeviceState) -> Progress:
        i = bisect_right(self._roller_starts, pos)
        step = self.plan.roller[i - 1] if i > 0 else None
        name = step.name if isinstance(step, RollerStep) and pos < step.end_ms else ""
        return Progress(
            elapsed_s=now - (self._began or now),
            plan_ms=pos,
            total_ms=self.plan.duration_ms,
            segment=name,
            segment_index=i if name else 0,
            target=target,
            device_state=state,
            paused=self.paused,
        )

    async def _reconnect(self) -> None:
        """Bounded backoff until the device is back; then resume from zero intensity.

        The plan's clock stands still while the link is down (the session's wall
        time, and so the session cap, keeps running)."""
        loop = asyncio.get_running_loop()
        policy = self.reconnect
        assert policy is not None
        lost_at = loop.time()
        message = self._lost_message(lost_at)
        self._warn(f"{message}; trying to reconnect")
        held_by_user = self._paused_at is not None
        if not held_by_user:
            self._paused_at = lost_at
        delay = policy.first_delay_s
        for attempt in range(1, policy.attempts + 1):
            await asyncio.sleep(delay)
            if self._stop_requested:
                break
            try:
                await asyncio.wait_for(self.device.connect(), policy.connect_timeout_s)
            except (DeviceError, TimeoutError, OSError) as exc:
                log.info("reconnect attempt %d failed: %s", attempt, exc)
                delay = min(delay * 2, policy.max_delay_s)
                continue
            self._lost = None
            self.governor.restart_ramp(loop.time())
            if self._verifier is not None:
                self._verifier.relinked(loop.time())
            await self.writer.restart()
            self._watch_writer()
            if not held_by_user:
                self.resume()
            self.report.reconnects += 1
            self._warn(
                f"reconnected after {loop.time() - lost_at:.1f} s; resuming with intensity "
                "ramping up from zero"
            )
            return
        raise DeviceDisconnected(f"{message}; gave up reconnecting after {policy.attempts} attempts")

    def _lost_message(self, now: float) -> str:
        at = format_duration(max(0, self.plan_ms(now)))
        note = getattr(self.device, "link_loss_note", "") or "its state is unknown"
        return f"lost the link to {self.device.model} at {at} ({self._lost}); {note}"

    async def _shutdown(self) -> None:
        """Stop the device and wait for it to confirm; survives a second cancel."""
        if self._lost is not None or not self.device.connected:
            self.report.stop_confirmed = False
            return
        stop = await stop_through_cancels(self.writer, self.stop_timeout_s)
        if stop.cancelled():
            return
        exc = stop.exception()
        if exc is None:
            status = stop.result()
            self.report.stop_status = status
            self.report.stop_sent = True
            # Devices that cannot report their state say so (extra["confirmed"] False).
            self.report.stop_confirmed = status.confirmed
        elif isinstance(exc, DeviceError):
            self.report.stop_confirmed = False
            if self.report.reason in ("finished", "stopped", "device-stopped", "cap", "running"):
                # (device-disobeyed: the report says the stop was not confirmed; the
                # CLI exits 1 for that reason anyway)
                raise exc
            log.error("stop not confirmed: %s", exc)
        else:
            raise exc


def manual_plan(state: TargetState, duration_ms: int, name: str = "manual") -> Plan:
    """A plan that holds one state: ``set`` goes through the same path as profiles."""
    rollers = state.rollers_active
    return Plan(
        name=name,
        roller=(
            RollerStep(
                0,
                duration_ms,
                name,
                "command line",
                technique=state.technique if rollers else None,
                zones=state.zones if rollers else frozenset(),
                intensity=Level.constant(state.intensity),
                speed=Level.constant(state.speed),
                width=state.width,
            ),
        ),
        airbag=(
            AirbagStep(
                0,
                duration_ms,
                "airbags",
                "command line",
                zones=frozenset(z for z, _ in state.airbags),
                per_zone=tuple((z, Level.constant(p)) for z, p in state.airbags),
            ),
        )
        if state.airbags
        else (),
        heat=(HeatStep(0, duration_ms, f"heat {state.heat}", "command line", level=state.heat),),
    )
