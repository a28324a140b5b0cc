"""The simulated chair's body: roller, airbags, heater and the chair-side timer.

Everything here takes time, as on a real chair:

* **Roller.** One carriage travels the spine at ``roller_speed_per_s``
  (position 0.0 = neck .. 1.0 = seat). Each of :data:`BACK_ZONES` owns an
  equal band of that range. While a technique runs, the carriage travels to
  the band covering the commanded back zones (from the top of the highest to
  the bottom of the lowest; a gap between zones is crossed, as a real
  carriage must) and sweeps up and down inside it. When the rollers stop it
  returns to ``roller_park``.
* **Airbags.** Each bag's pressure (% of full) approaches its level's
  pressure (level ``n`` of ``N`` is ``100 * n / N`` %) with a first-order lag:
  ``airbag_fill_tau_s`` when filling, ``airbag_vent_tau_s`` when venting.
  Every inflation (a command raising a bag above its current level) may hold
  for at most ``airbag_max_inflate_s``; then that bag's valve gives up and
  it vents by itself (trace event ``airbag-cutoff``).
* **Heater.** The pad temperature approaches the setpoint of the commanded
  level (``heater_low_c`` / ``heater_high_c``) with ``heater_tau_s``, and
  cools towards ``ambient_c`` with ``heater_cool_tau_s``. If it reaches
  ``heater_cutout_c`` the heater is forced off (trace event ``heat-cutout``)
  and refuses heat until it has cooled ``heater_reset_c`` below the ceiling.
* **Timer.** :meth:`ChairPhysics.set_timer` arms the chair's own session
  timer; on expiry the chair stops with reason ``"timer"``.

The model integrates analytically between events (timer expiry, airbag
cutoffs, heater cutout), splitting :meth:`ChairPhysics.advance` at the exact
event times. The result depends only on the sequence of calls and their
times, not on how often ``advance`` is called (up to float rounding), and a
step costs a handful of float operations, so many chairs can run at 10 Hz.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from ..core.capabilities import Capabilities
from ..core.recent import RecentLog
from ..core.status import DEVICE_STOPPED, DeviceState, Status
from ..core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone

#: Trace events kept (the newest; ``trace.total`` counts them all).
TRACE_KEPT = 100

#: An airbag below this pressure (% of full) counts as empty.
EMPTY_PRESSURE = 2.0

_EPS = 1e-9


@dataclass(frozen=True)
class PhysicsParams:
    """Time constants and limits of the simulated chair (seconds, °C, % of full)."""

    roller_speed_per_s: float = 0.08  # full spine (0..1) in 12.5 s
    roller_park: float = 0.0  # where the carriage rests: the top of the backrest
    airbag_fill_tau_s: float = 1.5
    airbag_vent_tau_s: float = 1.0
    airbag_max_inflate_s: float = 60.0  # valve on-time limit per inflation
    heater_tau_s: float = 90.0
    heater_cool_tau_s: float = 180.0
    heater_low_c: float = 38.0
    heater_high_c: float = 45.0
    heater_cutout_c: float = 48.0
    heater_reset_c: float = 5.0  # heat allowed again once this far below the cutout
    ambient_c: float = 22.0

    def __post_init__(self) -> None:
        positive = (
            "roller_speed_per_s",
            "airbag_fill_tau_s",
            "airbag_vent_tau_s",
            "airbag_max_inflate_s",
            "heater_tau_s",
            "heater_cool_tau_s",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"physics parameter {name} must be above 0, not {value!r}")
        if not 0.0 <= self.roller_park <= 1.0:
            raise ValueError(f"roller_park must be within 0.0..1.0, not {self.roller_park!r}")
        if self.heater_reset_c < 0:
            raise ValueError("heater_reset_c must not be negative")


class UnsupportedValue(ValueError):
    """A well-formed value this chair does not have (a technique, zone, width, heat level).

    The native simulator answers it with NAK UNSUPPORTED; other ValueErrors
    (out of range, malformed) with NAK BAD_VALUE.
    """


@dataclass(frozen=True)
class TraceEvent:
    """One thing the chair did: when, what kind, a detail, and its readings then."""

    t: float
    kind: str  # "command", "stop", "timer", "airbag-cutoff", "heat-cutout", "heat-refused"
    detail: str
    snapshot: dict[str, Any] = field(compare=False, hash=False)


def zone_band(zone: Zone) -> tuple[float, float]:
    """The stretch of the spine (0.0 neck .. 1.0 seat) a back zone covers."""
    i = BACK_ZONES.index(zone)
    n = len(BACK_ZONES)
    return i / n, (i + 1) / n


def roller_band(zones: frozenset[Zone]) -> tuple[float, float] | None:
    """The band the roller sweeps for ``zones``; None if none of them is on the back."""
    bands = [zone_band(z) for z in zones if z in BACK_ZONES]
    if not bands:
        return None
    return min(lo for lo, _ in bands), max(hi for _, hi in bands)


_BANDS: dict[frozenset[Zone], tuple[float, float] | None] = {}


def _band_of(zones: frozenset[Zone]) -> tuple[float, float] | None:
    """:func:`roller_band`, remembered per zone set (physics asks at every step)."""
    try:
        return _BANDS[zones]
    except KeyError:
        band = _BANDS[zones] = roller_band(zones)
        return band
    except TypeError:  # an unhashable collection: just compute it
        return roller_band(zones)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


#: How close (in % of full) an airbag's pressure must come to its goal to count as there.
PRESSURE_SETTLED = 0.01


class ChairPhysics:
    """The body of one simulated chair. All times are seconds on one clock."""

    def __init__(
        self,
        capabilities: Capabilities,
        params: PhysicsParams = PhysicsParams(),  # noqa: B008 - frozen, safe as a default
        start: float = 0.0,
    ) -> None:
        self.capabilities = capabilities
        self.params = params
        self._t = float(start)
        self._target: DeviceState = DEVICE_STOPPED  # what the chair is executing
        self._roller = params.roller_park
        self._direction = 1.0  # +1 towards the seat, -1 towards the neck
        self._airbag_zones = tuple(z for z in Zone if z in capabilities.airbag_zones)
        self._pressure = {z: 0.0 for z in self._airbag_zones}
        self._last_pressures: tuple[tuple[Zone, float], ...] = ()
        self._pressures_moved = True  # a pressure changed since _last_pressures was built
        # The airbags' goals under the target they were worked out for (it changes seldom).
        self._goals: tuple[DeviceState | None, tuple[tuple[Zone, float], ...]] = (None, ())
        self._inflate_deadline: dict[Zone, float] = {}  # bags currently inflating or holding
        self._temp = params.ambient_c
        self._heat_latched = False  # heater cut out and still too hot to restart
        self._timer_end: float | None = None
        # The newest events (a session of hours would otherwise keep one per command).
        self.trace: RecentLog[TraceEvent] = RecentLog(TRACE_KEPT)
        self.max_intensity_seen = 0

    # ------------------------------------------------------------------ queries

    @property
    def now(self) -> float:
        """The time the physics has been advanced to."""
        return self._t

    @property
    def target(self) -> DeviceState:
        """The state the chair is executing (after cutoffs and cutouts)."""
        return self._target

    @property
    def motors_on(self) -> bool:
        return self._target.technique is not None and self._target.intensity > 0

    @property
    def heat_on(self) -> bool:
        return self._target.heat is not Heat.OFF

    @property
    def stopped(self) -> bool:
        """Motors off, heat off and every airbag empty (below 2 %)."""
        return (
            not self.motors_on
            and not self.heat_on
            and all(p < EMPTY_PRESSURE for p in self._pressure.values())
        )

    @property
    def roller_position(self) -> float:
        return self._roller

    @property
    def heater_temp_c(self) -> float:
        return self._temp

    def airbag_pressure(self, zone: Zone) -> float:
        return self._pressure[zone]

    @property
    def heat_latched(self) -> bool:
        """True while the heater is cut out and refuses heat."""
        return self._heat_latched

    def remaining_s(self) -> float | None:
        """Seconds left on the chair-side timer at :attr:`now`, or None if unset."""
        if self._timer_end is None:
            return None
        return max(0.0, self._timer_end - self._t)

    def status(self, now: float) -> Status:
        self.advance(now)
        return self._status()

    # ---------------------------------------------------------------- commands

    def command(self, state: DeviceState, now: float) -> None:
        """Execute ``state`` (absolute). Raises ValueError if the chair cannot do it."""
        self.validate(state)
        self.advance(now)
        self.max_intensity_seen = max(self.max_intensity_seen, state.intensity)
        levels = dict(state.airbags)
        current = dict(self._target.airbags)
        for zone in self._airbag_zones:
            new, old = levels.get(zone, 0), current.get(zone, 0)
            if new == 0:
                self._inflate_deadline.pop(zone, None)
            elif new > old:  # a new inflation: the valve opens again
                self._inflate_deadline[zone] = self._t + self.params.airbag_max_inflate_s
        heat = state.heat
        refused = False
        if heat is not Heat.OFF and self._heat_latched:
            if self._temp <= self.params.heater_cutout_c - self.params.heater_reset_c:
                self._heat_latched = False
            else:
                heat, refused = Heat.OFF, True
        self._target = replace(state, heat=heat)
        self._record("command", _describe(state))
        if refused:
            self._record("heat-refused", f"heater cut out and still {self._temp:.1f} °C")

    def stop(self, now: float, reason: str = "stop") -> None:
        """Motors off, heat off, airbags vent; the chair-side timer is cleared."""
        self.advance(now)
        self._stop(reason)

    def set_timer(self, seconds: float | None, now: float) -> None:
        """Arm (or with None, clear) the chair's own session timer.

        Any positive length is accepted so tests can use short ones; a real
        remote offers only ``capabilities.chair_timer_s``.
        """
        if seconds is not None and not (
            isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0
        ):
            raise ValueError(f"chair timer must be a number of seconds above 0, not {seconds!r}")
        self.advance(now)
        self._timer_end = None if seconds is None else self._t + float(seconds)
        self._record("timer", "cleared" if seconds is None else f"set {float(seconds):g} s")

    def validate(self, state: DeviceState) -> None:
        """Raise ValueError with a clear message if ``state`` is beyond this chair."""
        caps = self.capabilities
        if not isinstance(state, DeviceState):
            raise ValueError(f"expected a DeviceState, got {type(state).__name__}")
        if state.technique is not None:
            if not isinstance(state.technique, Technique):
                raise ValueError(f"technique {state.technique!r} is not a technique")
            if state.technique not in caps.techniques:
                raise UnsupportedValue(
                    f"technique {state.technique} not supported (have: {_names(caps.techniques)})"
                )
        for zone in state.zones:
            if not isinstance(zone, Zone):
                raise ValueError(f"zone {zone!r} is not a zone")
            if zone not in caps.zones:
                raise UnsupportedValue(f"zone {zone} not supported (have: {_names(caps.zones)})")
        _check_range("intensity", state.intensity, caps.intensity_steps)
        _check_range("speed", state.speed, caps.speed_steps)
        if state.technique is not None and state.intensity > 0 and not state.zones:
            raise ValueError(
                f"technique {state.technique} at intensity {state.intensity} needs at least one zone"
            )
        if state.width is not None:
            if not isinstance(state.width, Width):
                raise ValueError(f"width {state.width!r} is not a width")
            if state.width not in caps.widths:
                raise UnsupportedValue(f"width {state.width} not supported (have: {_names(caps.widths)})")
        seen: set[Zone] = set()
        for entry in state.airbags:
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise ValueError(f"airbag entry {entry!r} is not a (zone, level) pair")
            zone, level = entry
            if not isinstance(zone, Zone):
                raise ValueError(f"airbag zone {zone!r} is not a zone")
            if zone not in caps.airbag_zones:
                raise UnsupportedValue(
                    f"airbag zone {zone} not supported (have: {_names(caps.airbag_zones)})"
                )
            if zone in seen:
                raise ValueError(f"airbag zone {zone} given twice")
            seen.add(zone)
            _check_range(f"airbag level for {zone}", level, caps.airbag_levels)
        if not isinstance(state.heat, Heat):
            raise ValueError(f"heat {state.heat!r} is not a heat level")
        if state.heat is not Heat.OFF and state.heat not in caps.heat_levels:
            have = ", ".join(h.value for h in caps.heat_levels) or "none"
            raise UnsupportedValue(f"heat {state.heat} not supported (have: {have})")

    # ----------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        """Integrate up to ``now``; the same (or an earlier) time again does nothing."""
        now = float(now)
        while self._t < now:
            t_event = self._next_event()
            t_next = now if t_event is None or t_event > now else max(t_event, self._t)
            self._integrate(t_next - self._t)
            self._t = t_next
            if t_event is not None and t_event <= now:
                self._fire_events()

    def _next_event(self) -> float | None:
        deadlines = self._inflate_deadline
        first = min(deadlines.values()) if deadlines else None
        timer_end = self._timer_end
        if timer_end is not None and (first is None or timer_end < first):
            first = timer_end
        if self._target.heat is not Heat.OFF:  # (only a heater that is on can cut out)
            cut = self._heat_cutout_time()
            if cut is not None and (first is None or cut < first):
                first = cut
        return first

    def _heat_cutout_time(self) -> float | None:
        setpoint = self._heat_setpoint()
        ceiling = self.params.heater_cutout_c
        if setpoint is None or setpoint <= ceiling:
            return None
        if self._temp >= ceiling:
            return self._t
        # temp(t) = setpoint + (temp0 - setpoint) * exp(-t / tau) reaches the ceiling at:
        dt = self.params.heater_tau_s * math.log((setpoint - self._temp) / (setpoint - ceiling))
        return self._t + max(0.0, dt)

    def _fire_events(self) -> None:
        t = self._t
        for zone, deadline in sorted(self._inflate_deadline.items(), key=lambda kv: kv[1]):
            if deadline <= t + _EPS:
                del self._inflate_deadline[zone]
                levels = tuple((z, 0 if z == zone else lvl) for z, lvl in self._target.airbags)
                self._target = replace(self._target, airbags=levels)
                self._record(
                    "airbag-cutoff",
                    f"{zone} held {self.params.airbag_max_inflate_s:g} s; valve released",
                )
        cut = self._heat_cutout_time()
        if cut is not None and cut <= t + _EPS:
            self._temp = max(self._temp, self.params.heater_cutout_c)
            self._heat_latched = True
            self._target = replace(self._target, heat=Heat.OFF)
            self._record("heat-cutout", f"heater reached {self.params.heater_cutout_c:g} °C")
        if self._timer_end is not None and self._timer_end <= t + _EPS:
            self._stop("timer")

    def _heat_setpoint(self) -> float | None:
        heat = self._target.heat
        if heat is Heat.LOW:
            return self.params.heater_low_c
        if heat is Heat.HIGH:
            return self.params.heater_high_c
        return None

    def _integrate(self, dt: float) -> None:
        if dt <= 0:
            return
        p = self.params
        target = self._target
        # roller
        band = _band_of(target.zones) if target.technique is not None and target.intensity > 0 else None
        self._move_roller(dt, band)
        # airbags
        goals = self._goals
        if goals[0] is not target:
            goals = self._goals = (target, self._airbag_goals(target))
        pressure = self._pressure
        for zone, goal in goals[1]:
            now_p = pressure[zone]
            if now_p == goal:
                continue
            tau = p.airbag_fill_tau_s if goal > now_p else p.airbag_vent_tau_s
            new_p = goal + (now_p - goal) * math.exp(-dt / tau)
            # A real bag settles; the exponential only tends to its goal. Within a
            # hundredth of a percent (a tenth of what STATUS can show) it has arrived.
            pressure[zone] = goal if abs(new_p - goal) < PRESSURE_SETTLED else new_p
            self._pressures_moved = True
        # heater
        setpoint = self._heat_setpoint()
        if setpoint is None:
            goal, tau = p.ambient_c, p.heater_cool_tau_s
        else:
            goal, tau = setpoint, p.heater_tau_s
        if self._temp != goal:  # (at its goal it stays there: goal + 0.0 * anything)
            self._temp = goal + (self._temp - goal) * math.exp(-dt / tau)
        if self._heat_latched and self._temp <= p.heater_cutout_c - p.heater_reset_c:
            self._heat_latched = False

    def _airbag_goals(self, target: DeviceState) -> tuple[tuple[Zone, float], ...]:
        """(zone, pressure it tends to, in %) for every airbag zone under ``target``."""
        levels = dict(target.airbags)
        steps = self.capabilities.airbag_levels
        return tuple((z, 100.0 * levels.get(z, 0) / steps if steps else 0.0) for z in self._airbag_zones)

    def _move_roller(self, dt: float, band: tuple[float, float] | None) -> None:
        v = self.params.roller_speed_per_s
        x = self._roller
        if band is None:  # park
            park = self.params.roller_park
            step = v * dt
            self._roller = park if abs(park - x) <= step else x + math.copysign(step, park - x)
            return
        lo, hi = band
        if x < lo - _EPS:
            self._direction = 1.0
        elif x > hi + _EPS:
            self._direction = -1.0
        # travel to the band, then bounce between its ends
        remaining = dt
        bounced = False
        while remaining > _EPS:
            goal = hi if self._direction > 0 else lo
            distance = abs(goal - x)
            if distance > v * remaining:
                x += self._direction * v * remaining
                remaining = 0.0
                break
            remaining -= distance / v
            x = goal
            self._direction = -self._direction
            if not bounced:  # now at an end of the band: the rest is periodic
                bounced = True
                remaining %= 2.0 * (hi - lo) / v
        self._roller = min(1.0, max(0.0, x))

    # -------------------------------------------------------------- internals

    def _stop(self, reason: str) -> None:
        self._target = DEVICE_STOPPED
        self._inflate_deadline.clear()
        self._timer_end = None
        self._record("stop", reason)

    def _status(self) -> Status:
        target = self._target
        timer_end = self._timer_end
        return Status(  # positional (ten a second): in Status's field order
            not target.is_stopped,  # running
            target,  # state
            round(self._roller, 6),  # roller_position
            self._pressures(),  # airbag_pressure
            round(self._temp, 3) if self.capabilities.heat_levels else None,  # heater_temp_c
            None if timer_end is None else math.ceil(max(0.0, timer_end - self._t) - _EPS),  # remaining_s
            None,  # fault
            {"heat_cutout": self._heat_latched},  # extra
        )

    def _pressures(self) -> tuple[tuple[Zone, float], ...]:
        """(zone, pressure) for every airbag zone; the same tuple while nothing changed
        (so the codec's identity cache can skip encoding it again)."""
        if not self._pressures_moved:  # (every bag at its goal: nothing to look at)
            return self._last_pressures
        self._pressures_moved = False
        pressure = self._pressure
        now = tuple([(z, pressure[z]) for z in self._airbag_zones])
        if now != self._last_pressures:
            self._last_pressures = now
        return self._last_pressures

    def _record(self, kind: str, detail: str) -> None:
        self.trace.append(TraceEvent(self._t, kind, detail, self._status().to_dict()))


def _check_range(what: str, value: object, top: int) -> None:
    if not _is_int(value):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if not 0 <= value <= top:
        raise ValueError(f"{what} {value} out of range 0..{top}")


def _names(items: Iterable[object]) -> str:
    return ", ".join(sorted(str(i) for i in items)) or "none"


def _describe(state: DeviceState) -> str:
    if state.is_stopped and state == DEVICE_STOPPED:
        return "all off"
    parts = []
    if state.technique is not None:
        zones = "+".join(z.value for z in Zone if z in state.zones)
        parts.append(f"{state.technique} {zones} i{state.intensity} s{state.speed}")
        if state.width is not None:
            parts.append(f"width {state.width}")
    bags = [f"{z}={lvl}" for z, lvl in state.airbags if lvl]
    if bags:
        parts.append("airbags " + ",".join(bags))
    if state.heat is not Heat.OFF:
        parts.append(f"heat {state.heat}")
    return "; ".join(parts) or "all off"
