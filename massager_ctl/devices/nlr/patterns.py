"""HF8 seat pad: what it can do, and techniques as motor patterns over time. Pure.

The pad has eight vibration motors and nothing else: a level 0-255 each. A
technique is therefore rendered as a *pattern*: each motor's level as a
function of time, recomputed by the driver on the loop clock while a state is
applied (:func:`levels_at`).

Motors sit in four rows, bottom to top, each a (right, left) pair
(codec.MOTOR_POSITIONS; the numbering is UNSURE):

====  =========================================  ===========
row   zones                                      motors
====  =========================================  ===========
0     thighs                                     M0 R, M1 L
1     seat                                       M2 R, M3 L
2     lower_back, mid_back, upper_back           M4 R, M5 L
3     shoulders                                  M6 R, M7 L
====  =========================================  ===========

The back has one pair of motors: lower, mid and upper back all drive it.

Patterns (``period`` from the speed step: 2.4 s at the slowest, 0.8 s at the
fastest; levels never exceed the intensity step):

* vibrate - every selected motor steady at the intensity.
* roll - a wave travelling up the selected rows: each row swells to full and
  fades in turn, bottom to top, once per period.
* knead - right and left motors cross-fade smoothly (between 30 % and 100 %),
  like two hands working alternately.
* shiatsu - right pair pressed and held, a short pause, then the left pair,
  in a square rhythm (alternating pairs of pressure points).
* tap - every selected motor pulses together, two beats per period, on for
  40 % of a beat.
* knock - like tap, but right and left beats alternate (two fists).
"""

from __future__ import annotations

import math

from ...core.capabilities import Capabilities
from ...core.status import DeviceState
from ...core.vocabulary import Technique, Zone

MOTORS = 8
MAX_LEVEL = 255
SPEED_STEPS = 10
SLOWEST_PERIOD_S = 2.4
FASTEST_PERIOD_S = 0.8

#: Rows bottom to top: (zones that select the row, (right motor, left motor)). UNSURE numbering.
ROWS: tuple[tuple[frozenset[Zone], tuple[int, int]], ...] = (
    (frozenset({Zone.THIGHS}), (0, 1)),
    (frozenset({Zone.SEAT}), (2, 3)),
    (frozenset({Zone.LOWER_BACK, Zone.MID_BACK, Zone.UPPER_BACK}), (4, 5)),
    (frozenset({Zone.SHOULDERS}), (6, 7)),
)

NLR_CAPABILITIES = Capabilities(
    zones=frozenset().union(*(zones for zones, _ in ROWS)),
    techniques=frozenset(Technique),
    intensity_steps=MAX_LEVEL,
    speed_steps=SPEED_STEPS,
    extra={"motors": MOTORS, "patterns": "techniques are motor patterns (docs/devices.md)"},
)

OFF: tuple[int, ...] = (0,) * MOTORS


def period_s(speed: int, steps: int = SPEED_STEPS) -> float:
    """The pattern period for speed step ``speed`` (1..steps; 0 means the middle)."""
    if speed <= 0:
        speed = (steps + 1) // 2
    speed = min(speed, steps)
    if steps <= 1:
        return SLOWEST_PERIOD_S
    return SLOWEST_PERIOD_S - (speed - 1) * (SLOWEST_PERIOD_S - FASTEST_PERIOD_S) / (steps - 1)


def active_rows(zones: frozenset[Zone]) -> list[int]:
    """Indices of the rows the zones select, bottom to top."""
    return [i for i, (row_zones, _) in enumerate(ROWS) if row_zones & zones]


def _factors(technique: Technique, rows: list[int], t: float, period: float) -> list[float]:
    f = [0.0] * MOTORS
    phase = (t / period) % 1.0
    if technique is Technique.VIBRATE:
        for r in rows:
            for m in ROWS[r][1]:
                f[m] = 1.0
    elif technique is Technique.ROLL:
        n = len(rows)
        centre = phase * (n + 1)  # the bump enters below the first row, leaves above the last
        for k, r in enumerate(rows):
            bump = max(0.0, 1.0 - abs(centre - (k + 1)))
            for m in ROWS[r][1]:
                f[m] = bump
    elif technique is Technique.KNEAD:
        swing = 0.35 * math.sin(2 * math.pi * phase)
        for r in rows:
            right, left = ROWS[r][1]
            f[right], f[left] = 0.65 + swing, 0.65 - swing
    elif technique is Technique.SHIATSU:
        right_on = phase < 0.4
        left_on = 0.5 <= phase < 0.9
        for r in rows:
            right, left = ROWS[r][1]
            f[right], f[left] = float(right_on), float(left_on)
    elif technique in (Technique.TAP, Technique.KNOCK):
        beats = t / (period / 2)
        on = (beats % 1.0) < 0.4
        right_beat = int(math.floor(beats)) % 2 == 0
        for r in rows:
            right, left = ROWS[r][1]
            if technique is Technique.TAP:
                f[right] = f[left] = float(on)
            else:
                f[right] = float(on and right_beat)
                f[left] = float(on and not right_beat)
    return f


def levels_at(state: DeviceState, t: float) -> tuple[int, ...]:
    """Each motor's level ``t`` seconds into ``state``'s pattern (0..state.intensity)."""
    if state.technique is None or state.intensity <= 0:
        return OFF
    rows = active_rows(state.zones)
    if not rows:
        return OFF
    intensity = min(int(state.intensity), MAX_LEVEL)
    factors = _factors(state.technique, rows, max(0.0, t), period_s(state.speed))
    return tuple(min(intensity, max(0, round(intensity * x))) for x in factors)


def is_steady(state: DeviceState) -> bool:
    """True when the levels do not change over time (nothing to re-render)."""
    return state.technique in (None, Technique.VIBRATE) or state.intensity <= 0


def validate(state: DeviceState) -> None:
    """Raise ValueError if the pad cannot do ``state``."""
    caps = NLR_CAPABILITIES
    if state.technique is not None and state.technique not in caps.techniques:
        raise ValueError(f"technique {state.technique} is not offered by the HF8")
    extra = set(state.zones) - set(caps.zones)
    if extra:
        raise ValueError(f"the HF8 has no motors for {', '.join(sorted(z.value for z in extra))}")
    if not 0 <= state.intensity <= caps.intensity_steps:
        raise ValueError(f"intensity {state.intensity} outside 0..{caps.intensity_steps}")
    if not 0 <= state.speed <= caps.speed_steps:
        raise ValueError(f"speed {state.speed} outside 0..{caps.speed_steps}")
    if any(level for _, level in state.airbags):
        raise ValueError("the HF8 has no airbags")
    if state.heat.rank:
        raise ValueError("the HF8 has no heater")
