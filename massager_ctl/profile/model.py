"""A validated profile: what the file says, checked, with repeats not yet expanded.

Every value here has already been checked, and ``[defaults]`` have been
applied to the roller entries. Repeat blocks are kept as blocks; compiling
(:mod:`massager_ctl.profile.compile`) unrolls them into a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from ..core.vocabulary import Benefit, Heat, Technique, Width, Zone
from ..plan import Level, PlanLimits


@dataclass(frozen=True)
class RollerEntry:
    """One roller segment (or block step). ``technique`` None is a rest."""

    where: str  # 'segment 3 "shoulder work" step 2': where it is in the file
    name: str
    duration_ms: int
    technique: Technique | None = None
    zones: frozenset[Zone] = frozenset()
    intensity: Level = Level(0.0, 0.0)
    speed: Level = Level(0.0, 0.0)
    width: Width = Width.MEDIUM

    @property
    def is_rest(self) -> bool:
        return self.technique is None


@dataclass(frozen=True)
class AirbagEntry:
    """One airbag entry (or block step). No zones, or pressure 0, is vented."""

    where: str
    name: str
    duration_ms: int
    zones: frozenset[Zone] = frozenset()
    pressure: Level = Level(0.0, 0.0)


@dataclass(frozen=True)
class HeatEntry:
    where: str
    name: str
    duration_ms: int
    level: Heat = Heat.OFF


E = TypeVar("E", RollerEntry, AirbagEntry, HeatEntry)


@dataclass(frozen=True)
class RepeatBlock(Generic[E]):
    """A repeat block: ``steps`` played in order, ``repeat`` times."""

    where: str
    name: str | None
    repeat: int
    steps: tuple[E, ...]

    @property
    def pass_ms(self) -> int:
        """Length of one pass through the steps."""
        return sum(s.duration_ms for s in self.steps)

    @property
    def duration_ms(self) -> int:
        return self.repeat * self.pass_ms

    @property
    def step_count(self) -> int:
        return self.repeat * len(self.steps)


RollerItem = RollerEntry | RepeatBlock[RollerEntry]
AirbagItem = AirbagEntry | RepeatBlock[AirbagEntry]
HeatItem = HeatEntry | RepeatBlock[HeatEntry]


def item_duration_ms(item: RollerItem | AirbagItem | HeatItem) -> int:
    return item.duration_ms


def item_step_count(item: RollerItem | AirbagItem | HeatItem) -> int:
    return item.step_count if isinstance(item, RepeatBlock) else 1


@dataclass(frozen=True)
class Profile:
    """A valid profile, tracks unexpanded.

    ``roller`` holds the ``[[segment]]`` entries, ``airbag`` the ``[[airbag]]``
    entries and ``heat`` the ``[[heat]]`` entries, in file order. ``path`` is
    the file it was loaded from (None when parsed from text).
    """

    format: int
    name: str
    description: str
    benefit: Benefit
    author: str = ""
    limits: PlanLimits = PlanLimits()
    roller: tuple[RollerItem, ...] = ()
    airbag: tuple[AirbagItem, ...] = ()
    heat: tuple[HeatItem, ...] = ()
    path: Path | None = None

    @property
    def segments(self) -> tuple[RollerItem, ...]:
        """The roller track under its file name: the ``[[segment]]`` entries."""
        return self.roller

    def tracks(self) -> dict[str, tuple[RollerItem, ...] | tuple[AirbagItem, ...] | tuple[HeatItem, ...]]:
        return {"roller": self.roller, "airbag": self.airbag, "heat": self.heat}

    def track_ms(self, track: str) -> int:
        return sum(item_duration_ms(i) for i in getattr(self, track))

    @property
    def duration_ms(self) -> int:
        """How long the compiled plan will last: the longest track."""
        return max(self.track_ms(t) for t in ("roller", "airbag", "heat"))

    @property
    def step_count(self) -> int:
        """How many steps the compiled plan will have, over all tracks."""
        return sum(item_step_count(i) for t in self.tracks().values() for i in t)
