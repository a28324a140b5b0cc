"""The reference simulated chair: a believable, full-featured model.

It deliberately lacks a few things (no thigh zone, no vibrate technique) so
that capability mapping always has something to drop or replace when a
profile runs on it.
"""

from __future__ import annotations

from ...core.capabilities import Capabilities
from ...core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone

REFERENCE_MODEL = "sim-chair"

REFERENCE_CAPABILITIES = Capabilities(
    zones=frozenset(BACK_ZONES) | {Zone.ARMS, Zone.CALVES, Zone.FEET},
    techniques=frozenset(
        {Technique.KNEAD, Technique.SHIATSU, Technique.TAP, Technique.KNOCK, Technique.ROLL}
    ),
    intensity_steps=10,
    speed_steps=5,
    widths=frozenset({Width.NARROW, Width.MEDIUM, Width.WIDE}),
    airbag_zones=frozenset({Zone.SHOULDERS, Zone.ARMS, Zone.LOWER_BACK, Zone.SEAT, Zone.CALVES, Zone.FEET}),
    airbag_levels=5,
    heat_levels=(Heat.LOW, Heat.HIGH),
    recline_motors=("backrest", "legrest"),
    programs=("relax", "stretch", "recovery"),
    chair_timer_s=(600, 1200, 1800),
)
