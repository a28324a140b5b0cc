"""Capability mapping: a target state in profile terms -> what one device can do.

Rules (also in docs/devices.md):

* **Intensity and airbag pressure** go to the nearest device step, but never
  to a step above the cap the safety governor enforced, and a non-zero
  request never rounds down to "off" unless even the lowest step is above
  that cap. Step ``n`` of ``N`` stands for ``100 * n / N`` %.
* **Speed** maps 0..100 % onto steps 1..N while the rollers run (a running
  roller has no "speed 0"); 0 when they are still.
* **Zones** the device lacks are dropped with one warning per zone per
  session; with ``strict`` they are refused. A segment left with no zone
  runs no rollers.
* **Techniques** the device lacks are replaced by the nearest it has (see
  ``NEAREST_TECHNIQUE``), or when none is near by the gentlest motion it has
  (``FALLBACK_ORDER``: a massage gun plays a kneading profile as percussion),
  with one warning; refused with ``strict``.
* **Width** falls back to medium, then to whatever the device has. A device that sets
  the width only during some techniques (``Capabilities.width_techniques``) gets no
  width for the others, with one warning when a width other than medium was asked.
* **Speed** likewise: during a technique outside ``Capabilities.speed_techniques`` the
  device runs at its own speed (0 in the state), said once.
* **Heat** never goes hotter than asked: a missing level falls to the next
  lower one the device has, or to off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..core.capabilities import Capabilities
from ..core.errors import DeviceError
from ..core.status import DEVICE_STOPPED, DeviceState
from ..core.target import TargetState, zone_order
from ..core.vocabulary import Heat, Technique, Width, Zone

#: For each technique, the techniques that feel closest, best first.
NEAREST_TECHNIQUE: dict[Technique, tuple[Technique, ...]] = {
    Technique.KNEAD: (Technique.SHIATSU, Technique.ROLL),
    Technique.SHIATSU: (Technique.KNEAD, Technique.KNOCK),
    Technique.TAP: (Technique.KNOCK, Technique.VIBRATE),
    Technique.KNOCK: (Technique.TAP, Technique.SHIATSU),
    Technique.ROLL: (Technique.KNEAD, Technique.VIBRATE),
    Technique.VIBRATE: (Technique.TAP, Technique.ROLL, Technique.KNOCK),
}


#: Last resort when nothing is near: the gentlest motions first.
FALLBACK_ORDER: tuple[Technique, ...] = (
    Technique.VIBRATE,
    Technique.ROLL,
    Technique.TAP,
    Technique.KNOCK,
    Technique.KNEAD,
    Technique.SHIATSU,
)


class CapabilityError(DeviceError):
    """The device cannot do what the profile asks (refused, or --strict)."""

    exit_code = 2


def percent_to_step(percent: float, steps: int, cap_percent: float = 100.0) -> int:
    """Nearest step to ``percent`` of ``steps``, never above ``cap_percent``."""
    if steps <= 0 or percent <= 0:
        return 0
    percent = min(percent, cap_percent, 100.0)
    top = math.floor(cap_percent * steps / 100.0 + 1e-9)  # highest step within the cap
    level = min(int(math.floor(percent * steps / 100.0 + 0.5)), top, steps)
    if level == 0 and top >= 1:
        level = 1
    return max(level, 0)


def step_to_percent(step: int, steps: int) -> float:
    return 0.0 if steps <= 0 else 100.0 * step / steps


def speed_to_step(percent: float, steps: int, cap_percent: float = 100.0) -> int:
    if steps <= 0:
        return 0
    percent = max(0.0, min(percent, cap_percent, 100.0))
    return 1 + int(math.floor(percent * (steps - 1) / 100.0 + 0.5))


class CapabilityMapper:
    """Maps target states for one device during one session (it remembers its warnings)."""

    def __init__(
        self,
        caps: Capabilities,
        *,
        strict: bool = False,
        warn: Callable[[str], None] | None = None,
        max_intensity: float = 100.0,
        max_airbag: float = 100.0,
        max_speed: float = 100.0,
    ) -> None:
        self.caps = caps
        self.strict = strict
        self._warn = warn or (lambda message: None)
        self._warned: set[str] = set()
        self.warnings: list[str] = []
        self.max_intensity = max_intensity
        self.max_airbag = max_airbag
        self.max_speed = max_speed

    def _note(self, key: str, message: str) -> None:
        if self.strict:
            raise CapabilityError(message + " (refused: --strict)")
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)
            self._warn(message)

    def technique(self, wanted: Technique) -> Technique:
        if wanted in self.caps.techniques:
            return wanted
        for alt in NEAREST_TECHNIQUE.get(wanted, ()):
            if alt in self.caps.techniques:
                self._note(f"technique:{wanted}", f"this device has no {wanted}; using {alt}")
                return alt
        # Nothing close: a single-motion device (a massage gun, a vibrating pad) still
        # plays the profile with the motion it has, said once.
        for alt in FALLBACK_ORDER:
            if alt in self.caps.techniques:
                self._note(
                    f"technique:{wanted}",
                    f"this device has nothing like {wanted}; using {alt}, the motion it has",
                )
                return alt
        raise CapabilityError(f"this device has no massage techniques, so it cannot do {wanted}")

    def zones(self, wanted: frozenset[Zone], available: frozenset[Zone], what: str) -> frozenset[Zone]:
        missing = wanted - available
        for zone in sorted(missing, key=zone_order) if missing else ():
            self._note(f"{what}:{zone}", f"this device has no {what} for {zone}; dropping that zone")
        return wanted & available

    def width(self, wanted: Width) -> Width | None:
        if not self.caps.widths:
            return None
        if wanted in self.caps.widths:
            return wanted
        fallback = Width.MEDIUM if Width.MEDIUM in self.caps.widths else sorted(self.caps.widths)[0]
        self._note(f"width:{wanted}", f"this device has no {wanted} width; using {fallback}")
        return fallback

    def width_for(self, technique: Technique, wanted: Width) -> Width | None:
        """The width for ``technique``: None where the device does not set it."""
        allowed = self.caps.width_techniques
        if allowed and technique not in allowed:
            if wanted is not Width.MEDIUM:
                names = ", ".join(sorted(t.value for t in allowed))
                self._note(
                    f"width-with:{technique}:{wanted}",
                    f"this device sets the roller width only during {names}; "
                    f"{technique} runs at its own width, not {wanted}",
                )
            return None
        return self.width(wanted)

    def speed_for(self, technique: Technique, step: int) -> int:
        """The speed step for ``technique``: 0 (the device's own) where it sets none."""
        allowed = self.caps.speed_techniques
        if allowed and technique not in allowed:
            names = ", ".join(sorted(t.value for t in allowed))
            self._note(
                f"speed-with:{technique}",
                f"this device sets the roller speed only during {names}; {technique} runs at its own speed",
            )
            return 0
        return step

    def heat(self, wanted: Heat) -> Heat:
        if wanted is Heat.OFF or wanted in self.caps.heat_levels:
            return wanted
        lower = [h for h in self.caps.heat_levels if h.rank < wanted.rank]
        chosen = max(lower, key=lambda h: h.rank) if lower else Heat.OFF
        self._note(f"heat:{wanted}", f"this device has no {wanted} heat; using {chosen}")
        return chosen

    def map(self, target: TargetState) -> DeviceState:
        """The device state for ``target`` (already through the safety governor)."""
        caps = self.caps
        technique = None
        zones: frozenset[Zone] = frozenset()
        intensity = speed = 0
        width = None
        if target.rollers_active and target.technique is not None:  # the first implies the second
            zones = self.zones(target.zones, caps.zones, "rollers")
            intensity = percent_to_step(target.intensity, caps.intensity_steps, self.max_intensity)
            if zones and intensity > 0:
                technique = self.technique(target.technique)
                speed = self.speed_for(
                    technique, speed_to_step(target.speed, caps.speed_steps, self.max_speed)
                )
                width = self.width_for(technique, target.width)
            else:
                zones, intensity = frozenset(), 0
        airbags = []
        if target.airbags:
            kept = self.zones(frozenset(z for z, _ in target.airbags), caps.airbag_zones, "airbag")
            for zone, pressure in target.airbags:
                if zone in kept:
                    level = percent_to_step(pressure, caps.airbag_levels, self.max_airbag)
                    if level:
                        airbags.append((zone, level))
        heat = self.heat(target.heat)
        if technique is None and not airbags and heat is Heat.OFF:
            return DEVICE_STOPPED
        return DeviceState(
            technique=technique,
            zones=zones,
            intensity=intensity,
            speed=speed,
            width=width,
            airbags=tuple(airbags),
            heat=heat,
        )

    def preflight(self, states: Iterable[TargetState]) -> None:
        """Map a sample of states up front so warnings (or --strict refusals)
        come before anything moves."""
        for state in states:
            self.map(state)
