"""The safety governor: the one choke point every command passes through.

Whether a target comes from a profile's plan or is typed by hand, it reaches
the device only through :meth:`SafetyGovernor.regulate`. The governor:

* caps intensity, speed, airbag pressure and heat at the user's limits
  (a profile's own limits can only tighten them);
* limits how fast intensity may rise (``slew_per_s``, default 25 % per
  second); lowering is never delayed, because less is always the safe way;
* allows heat only while a session is live, and switches it off for good
  after ``heat_auto_off_s`` of heat in one session;
* refuses sessions longer than ``max_session_s`` and stops a live session
  when it reaches that length, however it got there (pauses count).

A chair playing its own built-in program chooses its state itself; the
governor can only judge what the chair reports (:meth:`SafetyGovernor.watch`),
by the same rules: the heat the chair switched on counts against the same
auto-off budget and cap, and the session against the same length cap.

It holds no I/O: it turns one desired state into one allowed state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

from ..core.durations import format_duration
from ..core.errors import SafetyError
from ..core.target import STOPPED, TargetState, airbag_tuple
from ..core.vocabulary import Heat, Zone
from .limits import HARD_MAX_SESSION_S, SafetyLimits

log = logging.getLogger(__name__)

#: The most rise one regulate() call may grant, in seconds of slew (sessions tick every 0.1 s).
MAX_SLEW_STEP_S = 0.25


class SafetyGovernor:
    def __init__(self, limits: SafetyLimits | None = None) -> None:
        self.limits = limits or SafetyLimits()
        self._session_limits = self.limits
        self._begun_limits = self.limits  # the session's limits as it began: the live cap's ceiling
        self._live_since: float | None = None
        self._last_time: float | None = None
        self._last_out: TargetState = STOPPED
        self._heat_on_s = 0.0
        self._heat_off_for_good = False
        self._resumed_at: float | None = None  # after a reconnect: airbags and heat come back slowly
        self.notices: list[str] = []
        self.expired = False
        #: A live intensity cap asked for with ``lasting=True`` (the service's): every later
        #: session starts under it too (see :meth:`set_intensity_cap`).
        self._lasting_cap: float | None = None
        #: The service's heat switch (see :meth:`set_heat_ceiling`): lowers the heat cap,
        #: never raises it.
        self.heat_ceiling = Heat.HIGH

    # -- sessions -------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._live_since is not None

    @property
    def session_limits(self) -> SafetyLimits:
        """The limits in force for the current session (user caps, tightened)."""
        return self._session_limits

    def check_length(self, length_s: float, what: str = "the session") -> None:
        cap = min(self._session_limits.max_session_s, HARD_MAX_SESSION_S)
        if not math.isfinite(length_s) or length_s < 0:
            raise SafetyError(f"{what}: its length {length_s!r} is not a number of seconds")
        if length_s > cap + 1e-9:
            raise SafetyError(
                f"{what} lasts {format_duration(length_s * 1000)}, above the "
                f"{format_duration(cap * 1000)} session cap (raise caps.max_session in the config "
                f"to allow longer sessions)"
            )

    def begin(
        self,
        now: float,
        *,
        length_s: float | None = None,
        max_intensity: float | None = None,
        max_length_s: float | None = None,
    ) -> None:
        """Start a live session. Raises SafetyError if it would be too long."""
        self._session_limits = self.limits.tightened(max_intensity=max_intensity, max_length_s=max_length_s)
        self._begun_limits = self._session_limits
        if self._lasting_cap is not None and self._lasting_cap < self._session_limits.max_intensity:
            # The live cap starts low; the ceiling it may be raised back to stays the begun cap.
            self._session_limits = replace(self._session_limits, max_intensity=self._lasting_cap)
        if length_s is not None:
            self.check_length(length_s)
        self._live_since = now
        self._last_time = now
        self._last_out = STOPPED
        self._heat_on_s = 0.0
        self._heat_off_for_good = False
        self._resumed_at = None
        self.expired = False

    def end(self) -> TargetState:
        """End the live session: from now on only the stopped state is allowed."""
        self._live_since = None
        self._resumed_at = None
        self._last_out = STOPPED
        self._session_limits = self.limits
        self._begun_limits = self.limits
        return STOPPED

    @property
    def begun_limits(self) -> SafetyLimits:
        """The limits the current session began with, before any live intensity cap."""
        return self._begun_limits

    @property
    def intensity_ceiling(self) -> float:
        """The highest the live intensity cap may be raised to: the cap the session began
        with (the user's caps, tightened by the profile and the command line)."""
        return self._begun_limits.max_intensity

    def set_intensity_cap(self, percent: float, *, lasting: bool = False) -> float:
        """Lower or raise the live intensity cap (a person turning it down or up while a
        session plays: the panel's - and + keys, the service's slider). Never above
        :attr:`intensity_ceiling`, never below 0; a value that is not a finite number
        changes nothing. Lowering takes hold at the next :meth:`regulate`; raising lets the
        intensity climb back only at ``slew_per_s``.

        Without ``lasting`` it changes the live session only, and outside one nothing.
        With ``lasting`` (the service, whose cap belongs to the chair, not to one job) it
        also holds for every later session: each starts under it, and may be raised back
        only to the cap it began with. Returns the cap in force (outside a session: the
        cap the next one starts under)."""
        try:
            value = float(percent)
        except (TypeError, ValueError):
            return self.intensity_cap
        if not math.isfinite(value):
            return self.intensity_cap
        value = min(max(0.0, value), 100.0)
        if lasting:
            self._lasting_cap = value
        if not self.live:
            return self.intensity_cap
        value = min(value, self.intensity_ceiling)
        if value != self._session_limits.max_intensity:
            self._session_limits = replace(self._session_limits, max_intensity=value)
            log.info("intensity cap now %g %%", value)
        return value

    @property
    def intensity_cap(self) -> float:
        """The intensity cap in force now; outside a session, the one the next starts under."""
        if self.live or self._lasting_cap is None:
            return self._session_limits.max_intensity
        return min(self._lasting_cap, self._session_limits.max_intensity)

    def set_heat_ceiling(self, heat: Heat) -> None:
        """The service's heat switch, for this session and the next ones: ``Heat.OFF``
        switches heat off at the next :meth:`regulate`; a higher level lets heat back,
        only up to the heat cap and never after the heat auto-off (it never raises a cap)."""
        self.heat_ceiling = heat

    def _notice(self, message: str) -> None:
        if message not in self.notices:
            self.notices.append(message)
            log.warning(message)

    # -- the choke point --------------------------------------------------------

    def regulate(self, desired: TargetState, now: float) -> TargetState:
        """The state that may be sent now, given what is desired."""
        lim = self._session_limits
        dt = 0.0 if self._last_time is None else max(0.0, now - self._last_time)
        self._last_time = now

        if self._live_since is None:
            self._last_out = STOPPED
            return STOPPED
        if now - self._live_since >= min(lim.max_session_s, HARD_MAX_SESSION_S):
            if not self.expired:
                self._notice(f"session reached the {format_duration(lim.max_session_s * 1000)} cap; stopping")
            self.expired = True
            self._last_out = STOPPED
            return STOPPED

        out = desired
        intensity, speed, airbags = self._caps(out)

        # Slew: intensity rises at most slew_per_s per second (from what was last allowed).
        # A long gap between calls (a stalled host, a link that was down) does not bank
        # a big jump: one call may add at most MAX_SLEW_STEP_S worth of rise.
        previous = self._last_out.intensity if self._last_out.rollers_active else 0.0
        if intensity > previous:
            intensity = min(intensity, previous + lim.slew_per_s * min(dt, MAX_SLEW_STEP_S))

        # Heat: capped, live sessions only, auto-off after its budget.
        if self._last_out.heat is not Heat.OFF:
            self._heat_on_s += dt
        # (a microsecond of slack: float sums of tick lengths may land just short of it)
        if self._heat_on_s >= lim.heat_auto_off_s - 1e-6 and not self._heat_off_for_good:
            self._heat_off_for_good = True
            self._notice(
                f"heat switched off after {format_duration(lim.heat_auto_off_s * 1000)} (heat auto-off)"
            )

        heat = self._heat(out.heat)
        if self._resumed_at is not None:
            airbags, heat = self._resuming(now, airbags, heat)
        out = _assemble(out, intensity, speed, airbags, heat)
        self._last_out = out
        return out

    def watch(self, heat: Heat, now: float) -> Heat:
        """A device playing its own program: the governor cannot choose the state, only
        judge the one the device reports. The reported heat counts against the heat
        cap and the heat auto-off budget exactly as a heat it had sent would (this is
        :meth:`regulate`, given what the device does instead of what a plan wants);
        the session against its length cap (:attr:`expired`).

        Returns the heat allowed now: lower than ``heat`` means the device must be told
        to switch it off."""
        return self.regulate(STOPPED.with_(heat=heat), now).heat

    def _resuming(
        self, now: float, airbags: tuple[tuple[Zone, float], ...], heat: Heat
    ) -> tuple[tuple[tuple[Zone, float], ...], Heat]:
        """After a reconnect, airbags and heat come back the way intensity does: pressure
        rises at the slew rate from zero, and heat stays at its lowest level until a full
        ramp would have ended (100 % at the slew rate), instead of all at once."""
        assert self._resumed_at is not None
        allowed = self._session_limits.slew_per_s * max(0.0, now - self._resumed_at)
        if allowed >= 100.0:
            self._resumed_at = None
            return airbags, heat
        airbags = airbag_tuple((z, min(p, allowed)) for z, p in airbags)
        if heat.rank > Heat.LOW.rank:
            heat = Heat.LOW
        return airbags, heat

    def _caps(self, desired: TargetState) -> tuple[float, float, tuple[tuple[Zone, float], ...]]:
        lim = self._session_limits
        intensity = _within(desired.intensity, min(lim.max_intensity, 100.0))
        speed = _within(desired.speed, min(lim.max_speed, 100.0))
        airbags = airbag_tuple((z, _within(p, min(lim.max_airbag, 100.0))) for z, p in desired.airbags)
        return intensity, speed, airbags

    def _heat(self, wanted: Heat) -> Heat:
        if self._heat_off_for_good or not isinstance(wanted, Heat):
            return Heat.OFF
        top = self._session_limits.max_heat
        if self.heat_ceiling.rank < top.rank:
            top = self.heat_ceiling
        return top if wanted.rank > top.rank else wanted

    def capped(self, desired: TargetState) -> TargetState:
        """What :meth:`regulate` would allow for ``desired`` if the slew limit had caught
        up: caps, heat cap and heat auto-off applied; no clock, nothing remembered.

        The session uses it to look ahead along a ramp (to sleep until the device's
        state would change); it never sends what this returns."""
        if self._live_since is None or self.expired:
            return STOPPED
        intensity, speed, airbags = self._caps(desired)
        return _assemble(desired, intensity, speed, airbags, self._heat(desired.heat))

    def next_deadline(self, now: float) -> float | None:
        """When the governor next needs to act on its own (session cap, heat auto-off, the
        end of a resume ramp)."""
        if self._live_since is None:
            return None
        lim = self._session_limits
        due = [self._live_since + min(lim.max_session_s, HARD_MAX_SESSION_S)]
        if self._resumed_at is not None:
            due.append(max(now, self._resumed_at + 100.0 / lim.slew_per_s))
        if self._last_out.heat is not Heat.OFF and not self._heat_off_for_good:
            due.append(now + max(1e-3, lim.heat_auto_off_s - self._heat_on_s))
        return min(due)

    def restart_ramp(self, now: float) -> None:
        """After the device was out of reach: start again from zero, under the slew limit;
        airbags too, and heat at its lowest until the ramp would have ended."""
        self._last_out = STOPPED
        self._last_time = now
        self._resumed_at = now

    def stop(self) -> TargetState:
        """A stop is always allowed, immediately, live session or not."""
        self._last_out = STOPPED
        return STOPPED


def _within(value: float, cap: float) -> float:
    """``value`` clamped to 0..cap; anything that is not a number is 0 (the safe side).

    NaN compares false with everything: ``min(max(nan, 0), cap)`` is NaN, which would
    pass every later comparison (the slew limit included) and reach the mapping."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if math.isnan(x) or x <= 0.0:
        return 0.0
    return cap if x >= cap else x


def _assemble(
    desired: TargetState,
    intensity: float,
    speed: float,
    airbags: tuple[tuple[Zone, float], ...],
    heat: Heat,
) -> TargetState:
    if desired.technique is not None and intensity > 0 and desired.zones:  # rollers active
        return TargetState(desired.technique, desired.zones, intensity, speed, desired.width, airbags, heat)
    return TargetState(None, frozenset(), 0.0, 0.0, desired.width, airbags, heat)
