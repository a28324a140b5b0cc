"""Device-side state and status, in device units (steps, levels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .vocabulary import Heat, Technique, Width, Zone


@dataclass(frozen=True)
class DeviceState:
    """An absolute command for one device, already in its steps.

    ``intensity`` is 0..capabilities.intensity_steps, ``speed`` 0..speed_steps,
    airbag levels 0..airbag_levels. Hashable: the writer compares these to
    drop identical repeats.
    """

    technique: Technique | None = None
    zones: frozenset[Zone] = frozenset()
    intensity: int = 0
    speed: int = 0
    width: Width | None = None
    airbags: tuple[tuple[Zone, int], ...] = ()
    heat: Heat = Heat.OFF

    @property
    def is_stopped(self) -> bool:
        return (
            (self.technique is None or self.intensity == 0)
            and not any(level for _, level in self.airbags)
            and self.heat is Heat.OFF
        )


DEVICE_STOPPED = DeviceState()

#: What a status field that was not read says in JSON and text.
UNKNOWN = "unknown"
_STATE_KEYS = ("running", "stopped", "technique", "zones", "intensity", "speed", "width", "airbags", "heat")


@dataclass(frozen=True)
class Status:
    """What a device says about itself.

    ``state`` is the command it is executing; the physical readings
    (roller position, airbag pressure, heater temperature) may lag behind it.
    Unknown readings are None.

    ``running`` is None when nothing was read and nothing was sent that would tell
    (a device that does not report its state, looked at by a fresh process): then
    whether it runs, and what it runs, are unknown, never "stopped".
    ``extra["confirmed"] = False`` marks a status built from what the host sent
    rather than read from the device.
    """

    running: bool | None = False
    state: DeviceState = DEVICE_STOPPED
    roller_position: float | None = None  # 0.0 = neck .. 1.0 = seat
    airbag_pressure: tuple[tuple[Zone, float], ...] = ()  # measured, % of full
    heater_temp_c: float | None = None
    remaining_s: int | None = None  # chair-side timer
    fault: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def known(self) -> bool:
        """Whether the device's state is known at all (read, or as sent)."""
        return self.running is not None

    @property
    def stopped(self) -> bool:
        """Motors off and heat off as far as is known (False when unknown)."""
        return self.running is False and self.state.is_stopped

    @property
    def confirmed(self) -> bool:
        """Read from the device itself: not unknown, not built from what was sent."""
        return self.running is not None and self.extra.get("confirmed", True) is not False

    def to_dict(self) -> dict[str, Any]:
        s = self.state
        state: dict[str, Any]
        if self.running is None:
            state = dict.fromkeys(_STATE_KEYS, UNKNOWN)
        else:
            state = {
                "running": self.running,
                "stopped": self.stopped,
                "technique": s.technique.value if s.technique else None,
                "zones": sorted(z.value for z in s.zones),
                "intensity": s.intensity,
                "speed": s.speed,
                "width": s.width.value if s.width else None,
                "airbags": {z.value: lvl for z, lvl in s.airbags},
                "heat": s.heat.value,
            }
        return {
            **state,
            "confirmed": self.confirmed,
            "roller_position": self.roller_position,
            "airbag_pressure": {z.value: round(p, 1) for z, p in self.airbag_pressure},
            "heater_temp_c": self.heater_temp_c,
            "remaining_s": self.remaining_s,
            "fault": self.fault,
        }
