"""The words of back massage, shared by profiles, devices and the CLI.

Everything here is device-agnostic: a profile says *what* should happen to the
person in the chair; a device definition says how one model can do it.
"""

from __future__ import annotations

from enum import StrEnum


class _Named(StrEnum):
    """A string enum whose value is the word people write in profiles."""

    @classmethod
    def names(cls) -> list[str]:
        return [m.value for m in cls]


class Zone(_Named):
    """Body zones, back zones listed from the neck down to the seat."""

    NECK = "neck"
    SHOULDERS = "shoulders"
    UPPER_BACK = "upper_back"
    MID_BACK = "mid_back"
    LOWER_BACK = "lower_back"
    SEAT = "seat"
    ARMS = "arms"
    THIGHS = "thighs"
    CALVES = "calves"
    FEET = "feet"


#: The zones along the spine, top to bottom: what a back roller travels over.
BACK_ZONES: tuple[Zone, ...] = (
    Zone.NECK,
    Zone.SHOULDERS,
    Zone.UPPER_BACK,
    Zone.MID_BACK,
    Zone.LOWER_BACK,
    Zone.SEAT,
)

#: Zones that only some devices have (arm, leg and foot airbags or rollers).
OPTIONAL_ZONES: tuple[Zone, ...] = (Zone.ARMS, Zone.THIGHS, Zone.CALVES, Zone.FEET)


class Technique(_Named):
    KNEAD = "knead"
    SHIATSU = "shiatsu"
    TAP = "tap"
    KNOCK = "knock"
    ROLL = "roll"
    VIBRATE = "vibrate"


class Width(_Named):
    """Distance between the two roller heads."""

    NARROW = "narrow"
    MEDIUM = "medium"
    WIDE = "wide"


class Heat(_Named):
    OFF = "off"
    LOW = "low"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _HEAT_RANK[self]


_HEAT_RANK = {Heat.OFF: 0, Heat.LOW: 1, Heat.HIGH: 2}


class Benefit(_Named):
    """Why a person runs a profile: the seed benefits of back massage."""

    BACK_PAIN = "back-pain"
    FLEXIBILITY = "flexibility"
    STRESS = "stress"
    POSTURE = "posture"
    CIRCULATION = "circulation"
    RELAXATION = "relaxation"


class Curve(_Named):
    """How a ramp moves from its start value to its end value."""

    LINEAR = "linear"
    EASE_IN = "ease-in"
    EASE_OUT = "ease-out"
    EASE_IN_OUT = "ease-in-out"

    def shape(self, fraction: float) -> float:
        """Map elapsed fraction 0..1 to progress 0..1."""
        f = min(1.0, max(0.0, fraction))
        if self is Curve.LINEAR:
            return f
        if self is Curve.EASE_IN:
            return f * f
        if self is Curve.EASE_OUT:
            return 1.0 - (1.0 - f) * (1.0 - f)
        return f * f * (3.0 - 2.0 * f)  # smoothstep


PERCENT_MIN = 0
PERCENT_MAX = 100

#: Hard bounds on what a profile may expand to; refused before expansion.
MAX_PROFILE_MS = 4 * 60 * 60 * 1000
MAX_PROFILE_STEPS = 100_000
