"""How far a device's own status may read above what it was told (trust, but verify)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusTolerance:
    """What a device model's STATUS may report above what the host sent, in the device's
    own units, before the session takes it for a device that does not do as it is told.

    ``settle_s``: for a device whose driver does not keep the state it acknowledged in the
    order of its frames (:attr:`Device.acknowledged`), how long after a lower state was
    sent a status may still show the higher one it replaced (its latency). A model with
    no tolerance at all (``None`` in its definition) is not verified: its status only
    echoes what was sent.

    ``making_s``: how long a status may read above the *caps* while the driver is still
    making a state (:attr:`Device.making`, a closed-loop apply): a
    key-press chair starts a technique at the level its own firmware remembers, and the
    driver's level key reaches it a key gap later. A breach that lasts longer, or shows
    while no state is in the making, is disobedience. 0: none allowed.

    ``note``: said after the finding, for the person (e.g. that a level raised at the
    chair's own remote counts too).
    """

    intensity_steps: int = 0
    airbag_levels: int = 0
    heat_ranks: int = 0
    settle_s: float = 0.0
    making_s: float = 0.0
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("intensity_steps", "airbag_levels", "heat_ranks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"StatusTolerance.{name} must be a whole number of at least 0, not {value!r}"
                )
        for name in ("settle_s", "making_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and 0 <= value <= 60):
                raise ValueError(f"StatusTolerance.{name} must be 0..60 seconds, not {value!r}")


#: A device that reports exactly the state it executes, in the order of its frames.
EXACT = StatusTolerance()
