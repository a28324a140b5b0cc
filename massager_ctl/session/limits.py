"""The user's safety caps, as the governor enforces them.

Every value is checked when a :class:`SafetyLimits` is made and when it is tightened:
a limit that is not a finite number within its range (NaN, infinite, negative, too
large, a bool or a string) raises :class:`~massager_ctl.core.errors.LimitError`. NaN in
particular compares false with everything, so an unchecked ``slew_per_s=nan`` removed
the ramp limit and ``max_session_s=nan`` the session cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..core.durations import format_duration
from ..core.errors import LimitError
from ..core.vocabulary import Heat

#: Longest session anyone may configure, whatever the config says.
HARD_MAX_SESSION_S = 4 * 3600

#: name -> (lowest, highest, lowest allowed itself?, what it is)
_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "max_intensity": (0.0, 100.0, True, "a percentage, 0 to 100"),
    "max_speed": (0.0, 100.0, True, "a percentage, 0 to 100"),
    "max_airbag": (0.0, 100.0, True, "a percentage, 0 to 100"),
    "slew_per_s": (0.0, 100.0, False, "% per second, above 0 and at most 100"),
    "max_session_s": (
        0.0,
        float(HARD_MAX_SESSION_S),
        False,
        f"seconds, above 0 and at most {HARD_MAX_SESSION_S} ({format_duration(HARD_MAX_SESSION_S * 1000)})",
    ),
    "heat_auto_off_s": (
        0.0,
        float(HARD_MAX_SESSION_S),
        False,
        f"seconds, above 0 and at most {HARD_MAX_SESSION_S} ({format_duration(HARD_MAX_SESSION_S * 1000)})",
    ),
}


def checked_number(name: str, value: object, low: float, high: float, low_ok: bool, what: str) -> float:
    """``value`` as a float if it is a finite number in range; else LimitError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitError(f"{name}: {value!r} is not a number; it must be {what}")
    try:
        x = float(value)
    except OverflowError:  # an int too large for a float
        raise LimitError(f"{name}: the number is too large; it must be {what}") from None
    if not math.isfinite(x):
        raise LimitError(f"{name}: {x!r} is not a finite number; it must be {what}")
    if x < low or (x == low and not low_ok) or x > high:
        raise LimitError(f"{name}: {x:g} is out of range; it must be {what}")
    return x


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

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "max_heat":
                object.__setattr__(self, f.name, _heat(value))
            else:
                low, high, low_ok, what = _RANGES[f.name]
                object.__setattr__(self, f.name, checked_number(f.name, value, low, high, low_ok, what))

    def tightened(
        self, *, max_intensity: float | None = None, max_length_s: float | None = None
    ) -> SafetyLimits:
        """Apply a profile's (or a command line's) limits: they only ever tighten.

        Raises LimitError for a value that is not a finite number in range (a max
        intensity of 0..100, a max length above 0)."""
        out = self
        if max_intensity is not None:
            x = checked_number("max_intensity", max_intensity, 0.0, 100.0, True, "a percentage, 0 to 100")
            out = replace(out, max_intensity=min(out.max_intensity, x))
        if max_length_s is not None:
            x = checked_number(
                "max_length_s", max_length_s, 0.0, math.inf, False, "a number of seconds above 0"
            )
            out = replace(out, max_session_s=min(out.max_session_s, x))
        return out


def _heat(value: object) -> Heat:
    if isinstance(value, Heat):
        return value
    if isinstance(value, str) and value in Heat.names():
        return Heat(value)
    raise LimitError(f"max_heat: {value!r} is not one of {', '.join(Heat.names())}")
