"""What one device model can do, in its own steps and words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .vocabulary import Heat, Technique, Width, Zone


@dataclass(frozen=True)
class Capabilities:
    """A device's abilities. Drivers and the native HELLO/INFO exchange fill it.

    Step counts are the number of non-zero levels: a chair with intensity
    1-5 has ``intensity_steps=5``; 0 always means off.
    """

    zones: frozenset[Zone] = frozenset()  # zones the rollers / motors reach
    techniques: frozenset[Technique] = frozenset()
    intensity_steps: int = 0
    speed_steps: int = 0
    widths: frozenset[Width] = frozenset()
    airbag_zones: frozenset[Zone] = frozenset()
    airbag_levels: int = 0
    heat_levels: tuple[Heat, ...] = ()  # non-off levels, lowest first
    recline_motors: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    chair_timer_s: tuple[int, ...] = ()  # session lengths the chair's own timer offers
    #: Techniques during which the device sets the roller width / speed it is asked for;
    #: empty: all of them. (A key-press chair takes width keys only for some techniques.)
    width_techniques: frozenset[Technique] = frozenset()
    speed_techniques: frozenset[Technique] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_heat(self) -> bool:
        return bool(self.heat_levels)

    def to_dict(self) -> dict[str, Any]:
        def names(items: Iterable[Zone | Technique | Width]) -> list[str]:
            order: dict[Enum, int] = {v: i for i, v in enumerate(list(Zone) + list(Technique) + list(Width))}
            return [v.value for v in sorted(items, key=lambda v: order.get(v, 0))]

        return {
            "zones": names(self.zones),
            "techniques": names(self.techniques),
            "intensity_steps": self.intensity_steps,
            "speed_steps": self.speed_steps,
            "widths": names(self.widths),
            "airbag_zones": names(self.airbag_zones),
            "airbag_levels": self.airbag_levels,
            "heat_levels": [h.value for h in self.heat_levels],
            "recline_motors": list(self.recline_motors),
            "programs": list(self.programs),
            "chair_timer_s": list(self.chair_timer_s),
            **({"width_techniques": names(self.width_techniques)} if self.width_techniques else {}),
            **({"speed_techniques": names(self.speed_techniques)} if self.speed_techniques else {}),
        }
