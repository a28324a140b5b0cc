"""The user's safety caps, as the governor enforces them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.vocabulary import Heat

#: Longest session anyone may configure, whatever the config says.
HARD_MAX_SESSION_S = 4 * 3600


@dataclass(frozen=True)
class SafetyLimits:
    """Caps in the profile's terms. Defaults are what a new install gets."""

    max_intensity: float = 100.0  # %
    max_speed: float = 100.0  # %
    max_airbag: float = 100.0  # % pressure
    max_heat: Heat = Heat.HIGH
    slew_per_s: float = 25.0  # intensity may change at most this many % per second
    max_session_s: float = 30 * 60  # refused above, unless the user config raises it
    heat_auto_off_s: float = 20 * 60  # heat is forced off after this long on

    def tightened(
        self, *, max_intensity: float | None = None, max_length_s: float | None = None
    ) -> SafetyLimits:
        """Apply a profile's (or a command line's) limits: they only ever tighten."""
        out = self
        if max_intensity is not None:
            out = replace(out, max_intensity=min(out.max_intensity, float(max_intensity)))
        if max_length_s is not None:
            out = replace(out, max_session_s=min(out.max_session_s, float(max_length_s)))
        return out
