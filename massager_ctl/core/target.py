"""Target states in the profile's terms: percentages and named zones.

A :class:`TargetState` is what the plan asks for at one instant. It is
immutable and hashable so the writer can compare and coalesce them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .vocabulary import BACK_ZONES, Heat, Technique, Width, Zone

_ZONE_INDEX = {zone: i for i, zone in enumerate(Zone)}

#: A zone's place in :class:`Zone`'s order (head to feet): the sort key of zone lists.
zone_order = _ZONE_INDEX.__getitem__


def _pair_order(pair: tuple[Zone, float]) -> int:
    return _ZONE_INDEX[pair[0]]


def airbag_tuple(
    pressures: Mapping[Zone, float] | Iterable[tuple[Zone, float]],
) -> tuple[tuple[Zone, float], ...]:
    """Normalise airbag pressures: sorted by zone, zero pressures dropped."""
    items = pressures.items() if isinstance(pressures, Mapping) else pressures
    kept = [(z, float(p)) for z, p in items if p > 0]
    kept.sort(key=_pair_order)
    return tuple(kept)


@dataclass(frozen=True)
class TargetState:
    """What the person in the chair should feel right now.

    ``technique`` None means the rollers are still. ``intensity`` and
    ``speed`` are 0..100 %. ``airbags`` holds (zone, pressure %) pairs, zone
    order, no zeros. ``heat`` is off/low/high.
    """

    technique: Technique | None = None
    zones: frozenset[Zone] = field(default_factory=frozenset)
    intensity: float = 0.0
    speed: float = 0.0
    width: Width = Width.MEDIUM
    airbags: tuple[tuple[Zone, float], ...] = ()
    heat: Heat = Heat.OFF

    @property
    def rollers_active(self) -> bool:
        return self.technique is not None and self.intensity > 0 and bool(self.zones)

    @property
    def is_stopped(self) -> bool:
        return not self.rollers_active and not self.airbags and self.heat is Heat.OFF

    def airbag(self, zone: Zone) -> float:
        for z, p in self.airbags:
            if z is zone:
                return p
        return 0.0

    def with_(self, **changes: Any) -> TargetState:
        if "airbags" in changes:
            changes["airbags"] = airbag_tuple(changes["airbags"])
        if "zones" in changes:
            changes["zones"] = frozenset(changes["zones"])
        return replace(self, **changes)

    def describe(self) -> str:
        parts = []
        if self.rollers_active:
            zones = ",".join(z.value for z in BACK_ZONES + tuple(Zone) if z in self.zones)
            zones = ",".join(dict.fromkeys(zones.split(",")))
            parts.append(
                f"{self.technique} {zones} intensity {self.intensity:.0f}% speed "
                f"{self.speed:.0f}% {self.width}"
            )
        else:
            parts.append("rollers off")
        if self.airbags:
            parts.append("airbags " + " ".join(f"{z}={p:.0f}%" for z, p in self.airbags))
        parts.append(f"heat {self.heat}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "technique": self.technique.value if self.technique else None,
            "zones": sorted((z.value for z in self.zones), key=lambda v: zone_order(Zone(v))),
            "intensity": round(self.intensity, 2),
            "speed": round(self.speed, 2),
            "width": self.width.value,
            "airbags": {z.value: round(p, 2) for z, p in self.airbags},
            "heat": self.heat.value,
        }


#: Everything off: the state every session ends in.
STOPPED = TargetState()
