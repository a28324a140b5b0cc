"""The compiled plan: an immutable, deterministic timeline of target states.

A plan has three tracks that run side by side, each on its own timeline:

* ``roller``  - technique, zones, intensity, speed, width;
* ``airbag``  - pressure per zone;
* ``heat``    - off / low / high.

Times are whole milliseconds from the start of the session, so the same
profile always gives the same plan, bit for bit. Ramps are kept as start and
end values with a curve; nothing is pre-sampled. Ask :meth:`Plan.state_at`
for the target at any instant.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

from .core.target import STOPPED, TargetState, airbag_tuple, zone_order
from .core.vocabulary import Benefit, Curve, Heat, Technique, Width, Zone


@dataclass(frozen=True)
class Level:
    """A value over one step: constant (start == end) or a ramp."""

    start: float
    end: float
    curve: Curve = Curve.LINEAR

    @classmethod
    def constant(cls, value: float) -> Level:
        return cls(float(value), float(value))

    @property
    def is_ramp(self) -> bool:
        return self.start != self.end

    @property
    def peak(self) -> float:
        return max(self.start, self.end)

    def at(self, fraction: float) -> float:
        if not self.is_ramp:
            return self.start
        return self.start + (self.end - self.start) * self.curve.shape(fraction)

    def to_dict(self) -> float | dict[str, float | str]:
        if not self.is_ramp:
            return self.start
        return {"from": self.start, "to": self.end, "curve": self.curve.value}


@dataclass(frozen=True)
class Step:
    """One entry on a track: when it starts, how long it lasts, where it came from.

    ``source`` names the profile entry it was compiled from, e.g.
    ``segment 3 "knead" (repeat 2 of 4)``, so errors and the CLI can point at it.
    """

    start_ms: int
    duration_ms: int
    name: str
    source: str

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    def fraction(self, t_ms: float) -> float:
        if self.duration_ms <= 0:
            return 1.0
        return (t_ms - self.start_ms) / self.duration_ms


@dataclass(frozen=True)
class RollerStep(Step):
    technique: Technique | None = None  # None: rollers rest for this step
    zones: frozenset[Zone] = frozenset()
    intensity: Level = Level(0.0, 0.0)
    speed: Level = Level(0.0, 0.0)
    width: Width = Width.MEDIUM


@dataclass(frozen=True)
class AirbagStep(Step):
    """Airbags in ``zones`` at ``pressure``; ``per_zone`` overrides it zone by zone."""

    zones: frozenset[Zone] = frozenset()
    pressure: Level = Level(0.0, 0.0)
    per_zone: tuple[tuple[Zone, Level], ...] = ()

    @cached_property
    def _levels(self) -> tuple[tuple[Zone, Level], ...]:
        if self.per_zone:
            return self.per_zone
        return tuple((z, self.pressure) for z in sorted(self.zones, key=zone_order))

    def levels(self) -> tuple[tuple[Zone, Level], ...]:
        """(zone, pressure) for each zone: ``per_zone`` if given, else ``pressure`` in
        every zone of ``zones``, in zone order. Computed once per step."""
        return self._levels


@dataclass(frozen=True)
class HeatStep(Step):
    level: Heat = Heat.OFF


@dataclass(frozen=True)
class PlanLimits:
    """Per-profile limits. They can only tighten the user's caps, never loosen them."""

    max_intensity: float | None = None
    max_length_ms: int | None = None


def _find(track: tuple[Step, ...], starts: tuple[int, ...], t_ms: float) -> Step | None:
    i = bisect_right(starts, t_ms) - 1
    if i < 0:
        return None
    step = track[i]
    return step if t_ms < step.end_ms else None


@dataclass(frozen=True)
class Plan:
    name: str
    description: str = ""
    benefit: Benefit | None = None
    author: str = ""
    roller: tuple[RollerStep, ...] = ()
    airbag: tuple[AirbagStep, ...] = ()
    heat: tuple[HeatStep, ...] = ()
    limits: PlanLimits = PlanLimits()
    _starts: dict[str, tuple[int, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("roller", "airbag", "heat"):
            track = getattr(self, name)
            for a, b in zip(track, track[1:], strict=False):
                if b.start_ms < a.end_ms:
                    raise ValueError(f"{name} track overlaps at {b.start_ms} ms")
            self._starts[name] = tuple(s.start_ms for s in track)

    @cached_property
    def duration_ms(self) -> int:
        ends = [t[-1].end_ms for t in (self.roller, self.airbag, self.heat) if t]
        return max(ends, default=0)

    @property
    def step_count(self) -> int:
        return len(self.roller) + len(self.airbag) + len(self.heat)

    def tracks(self) -> dict[str, tuple[Step, ...]]:
        return {"roller": self.roller, "airbag": self.airbag, "heat": self.heat}

    def step_at(self, track: str, t_ms: float) -> Step | None:
        return _find(getattr(self, track), self._starts[track], t_ms)

    def boundaries_ms(self) -> list[int]:
        """Every instant at which some track starts or ends a step, sorted, unique."""
        times = {0, self.duration_ms}
        for track in (self.roller, self.airbag, self.heat):
            for s in track:
                times.add(s.start_ms)
                times.add(s.end_ms)
        return sorted(times)

    def state_at(self, t_ms: float) -> TargetState:
        """The target state at ``t_ms`` milliseconds into the session.

        Before 0 and from the end of the plan on, everything is stopped.
        A track that has ended (or has a gap) contributes its off state.
        """
        if t_ms < 0 or t_ms >= self.duration_ms:
            return STOPPED
        # One TargetState built from its parts (the session asks at every tick).
        technique: Technique | None = None
        zones: frozenset[Zone] = frozenset()
        intensity, speed, width = 0.0, 0.0, STOPPED.width
        r = self.step_at("roller", t_ms)
        if isinstance(r, RollerStep) and r.technique is not None:
            f = r.fraction(t_ms)
            technique, zones, width = r.technique, frozenset(r.zones), r.width
            intensity, speed = r.intensity.at(f), r.speed.at(f)
        airbags: tuple[tuple[Zone, float], ...] = ()
        a = self.step_at("airbag", t_ms)
        if isinstance(a, AirbagStep):
            f = a.fraction(t_ms)
            airbags = airbag_tuple((z, level.at(f)) for z, level in a.levels())
        h = self.step_at("heat", t_ms)
        heat = h.level if isinstance(h, HeatStep) else STOPPED.heat
        return TargetState(technique, zones, intensity, speed, width, airbags, heat)

    def is_ramping(self, t_ms: float) -> bool:
        """True if some value changes continuously at ``t_ms`` (a ramp is playing)."""
        r = self.step_at("roller", t_ms)
        if isinstance(r, RollerStep) and r.technique is not None:
            if r.intensity.is_ramp or r.speed.is_ramp:
                return True
        a = self.step_at("airbag", t_ms)
        return isinstance(a, AirbagStep) and any(level.is_ramp for _, level in a.levels())

    def segment_starts_ms(self) -> list[int]:
        """Start times of roller steps: where "skip to next segment" jumps."""
        return [s.start_ms for s in self.roller]
