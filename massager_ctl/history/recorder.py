"""Recording one session into the history.

    recorder = SessionRecorder(person="anna", warn=print)
    recorder.begin(kind="run", plan=plan, device=uri, model=chair.model, limits=limits,
                   capabilities=chair.device.capabilities, writer=chair.writer,
                   profile_id="quick", profile_hash=file_hash(path))
    await chair.run(plan, on_end=recorder.end)   # on_end: the path that stops the device

:meth:`SessionRecorder.end` is synchronous and fast (one UPDATE), and ``Chair.run``
calls it from its ``finally`` once the device's stop is done, so a session ended by
Ctrl-C or SIGTERM leaves a finished row. Whatever goes wrong with the file (not a
database, locked, no room, no permission) is said once through ``warn``, in one line,
and the session plays on unrecorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.capabilities import Capabilities
from ..core.status import DeviceState
from ..core.target import zone_order
from ..plan import Plan
from ..session.limits import SafetyLimits
from .store import HistoryError, HistoryStore
from .where import history_path

if TYPE_CHECKING:
    from ..session.writer import Writer  # (only typed here: reading the history needs no asyncio)

#: Sessions kept in the file; older ones are pruned when a new one starts.
DEFAULT_KEEP = 1000
#: States kept per session; a session that sent more keeps an even sample of them (and its last).
MAX_STATES = 20_000
#: Points of the plan's curve kept (plus every step boundary).
PLAN_SAMPLES = 400


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_hash(path: str | Path) -> str | None:
    """The first 16 hex digits of the file's SHA-256 (None if it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def compact_state(t_ms: int, state: DeviceState) -> list[Any]:
    """One state sent, as :data:`.store.STATE_FIELDS`."""
    return [
        t_ms,
        state.technique.value if state.technique else None,
        ",".join(z.value for z in sorted(state.zones, key=zone_order)),
        state.intensity,
        state.speed,
        state.width.value if state.width else None,
        ",".join(f"{z.value}={level}" for z, level in state.airbags),
        state.heat.value,
    ]


def plan_samples(plan: Plan, limits: SafetyLimits | None = None) -> list[list[Any]]:
    """The plan's curve, as :data:`.store.PLAN_FIELDS`: at every step boundary (either
    side) and at :data:`PLAN_SAMPLES` even points; intensity under the caps in force."""
    total = plan.duration_ms
    if total <= 0:
        return []
    cap = 100.0 if limits is None else limits.max_intensity
    if plan.limits.max_intensity is not None:
        cap = min(cap, plan.limits.max_intensity)
    times = {round(i * total / PLAN_SAMPLES) for i in range(PLAN_SAMPLES)}
    for b in plan.boundaries_ms():
        times.update((max(0, b - 1), min(b, total - 1)))
    out = []
    for t in sorted(times):
        s = plan.state_at(t)
        intensity = min(s.intensity, cap) if s.rollers_active else 0.0
        airbag = max((p for _, p in s.airbags), default=0.0)
        out.append([t, round(intensity, 2), round(airbag, 2), s.heat.value])
    return out


def _thin(states: list[list[Any]], limit: int) -> list[list[Any]]:
    if len(states) <= limit:
        return states
    step = len(states) / (limit - 1)
    return [states[int(i * step)] for i in range(limit - 1)] + [states[-1]]


def _loop_time() -> float | None:
    import asyncio  # here: reading the history (history list) needs no event loop

    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return None


class SessionRecorder:
    """Records one session: :meth:`begin` when it starts, :meth:`end` with its report."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        person: str | None = None,
        keep: int = DEFAULT_KEEP,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.store = HistoryStore(Path(path) if path is not None else history_path())
        self.person = person
        self.keep = keep
        self.warn = warn or (lambda message: None)
        self.id: int | None = None
        self.failed = False
        self._writer: Writer | None = None
        self._states: list[tuple[float, DeviceState]] = []  # (loop time, state) sent since begin()
        self._t0: float | None = None
        self._steps: int | None = None

    def _fail(self, exc: HistoryError) -> None:
        self.store.close()
        if not self.failed:
            self.failed = True
            self.warn(f"{exc}; this session is not recorded")

    def begin(
        self,
        *,
        kind: str,
        plan: Plan | None,
        device: str | None,
        model: str | None,
        limits: SafetyLimits,
        capabilities: Capabilities | None,
        writer: Writer | None,
        profile_id: str | None = None,
        profile_name: str | None = None,
        profile_hash: str | None = None,
        planned_ms: int | None = None,
    ) -> int | None:
        """Insert the session's row; returns its id (None when the history failed)."""
        self._writer = writer
        self._states = []
        if writer is not None:
            writer.on_written.append(self._written)
        self._t0 = _loop_time()
        self._steps = capabilities.intensity_steps if capabilities is not None else None
        caps: dict[str, Any] = {
            "max_intensity": limits.max_intensity,
            "max_speed": limits.max_speed,
            "max_airbag": limits.max_airbag,
            "max_heat": limits.max_heat.value,
            "slew_per_s": limits.slew_per_s,
            "max_session_s": limits.max_session_s,
            "heat_auto_off_s": limits.heat_auto_off_s,
        }
        if capabilities is not None:  # the device's steps, to read the states sent back in %
            caps["steps"] = {
                "intensity": capabilities.intensity_steps,
                "speed": capabilities.speed_steps,
                "airbag": capabilities.airbag_levels,
            }
        try:
            self.id = self.store.begin(
                kind=kind,
                started_at=_now(),
                person=self.person,
                device=device,
                model=model,
                profile_id=profile_id,
                profile_name=profile_name or (plan.name if plan is not None else kind),
                profile_hash=profile_hash,
                caps=caps,
                planned_ms=planned_ms if planned_ms is not None else (plan.duration_ms if plan else 0),
                intensity_steps=self._steps,
                plan=plan_samples(plan, limits) if plan is not None else [],
            )
            self.store.prune(self.keep)
        except HistoryError as exc:
            self.id = None
            self._fail(exc)
        return self.id

    def states(self) -> list[list[Any]]:
        """The states sent since :meth:`begin`, compact, times from the session's start."""
        log = self._states
        t0 = self._t0 if self._t0 is not None else (log[0][0] if log else 0.0)
        return _thin([compact_state(max(0, round((t - t0) * 1000)), s) for t, s in log], MAX_STATES)

    def _written(self, at: float, state: DeviceState) -> None:
        self._states.append((at, state))

    def end(self, report: Any) -> None:
        """Complete the row from a SessionReport (or a ProgramReport). Never raises for
        the history's sake: a failure is said through ``warn``."""
        if self._writer is not None and self._written in self._writer.on_written:
            self._writer.on_written.remove(self._written)
        if self.id is None:
            return
        states = self.states()
        peak: int | None = None
        pct: float | None = None
        if self._writer is not None:  # else the states were written elsewhere (a service): unknown here
            peak = max((s[3] for s in states if s[1] is not None), default=0)
            pct = round(100.0 * peak / self._steps, 1) if self._steps else None
        try:
            self.store.end(
                self.id,
                ended_at=_now(),
                end_reason=report.reason,
                message=report.message,
                duration_s=report.elapsed_s,
                played_ms=getattr(report, "plan_ms", None),
                peak_intensity_step=peak,
                peak_intensity_pct=pct,
                stop_confirmed=report.stop_confirmed,
                stop_sent=report.stop_sent,
                warnings=list(report.warnings),
                states=states,
            )
        except HistoryError as exc:
            self._fail(exc)
        finally:
            self.store.close()
