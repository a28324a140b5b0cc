"""Capability mapping: rounding to device steps, dropped zones, technique fallbacks, heat."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.mapping import (
    CapabilityError,
    CapabilityMapper,
    percent_to_step,
    speed_to_step,
    step_to_percent,
)

CHAIR = Capabilities(
    zones=frozenset({Zone.NECK, Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK, Zone.LOWER_BACK}),
    techniques=frozenset({Technique.KNEAD, Technique.TAP, Technique.ROLL}),
    intensity_steps=5,
    speed_steps=6,
    widths=frozenset({Width.NARROW, Width.MEDIUM}),
    airbag_zones=frozenset({Zone.CALVES, Zone.SEAT}),
    airbag_levels=5,
    heat_levels=(Heat.HIGH,),
)


@pytest.mark.parametrize(
    "percent,cap,step",
    [
        (0, 100, 0),
        (1, 100, 1),
        (10, 100, 1),
        (30, 100, 2),
        (50, 100, 3),
        (100, 100, 5),
        (55, 55, 2),
        (59, 60, 3),
        (100, 10, 0),
        (100, 20, 1),
    ],
)
def test_percent_to_step_is_nearest_never_above_cap(percent, cap, step):
    assert percent_to_step(percent, 5, cap) == step


@given(st.floats(0, 100), st.floats(0, 100), st.integers(1, 120))
def test_step_never_exceeds_cap(percent, cap, steps):
    level = percent_to_step(percent, steps, cap)
    assert 0 <= level <= steps
    assert step_to_percent(level, steps) <= cap + 1e-6
    if percent > 0 and step_to_percent(1, steps) <= cap:
        assert level >= 1  # a non-zero request never rounds to off


def test_speed_has_no_zero_while_running():
    assert speed_to_step(0, 6) == 1
    assert speed_to_step(100, 6) == 6
    assert speed_to_step(50, 6) == 4


def test_missing_zones_dropped_with_one_warning_each():
    warned = []
    m = CapabilityMapper(CHAIR, warn=warned.append)
    want = STOPPED.with_(technique=Technique.KNEAD, zones={Zone.LOWER_BACK, Zone.SEAT}, intensity=60)
    for _ in range(3):
        out = m.map(want)
    assert out.zones == {Zone.LOWER_BACK}
    assert out.intensity == 3
    assert warned == ["this device has no rollers for seat; dropping that zone"]


def test_strict_refuses_missing_zone():
    m = CapabilityMapper(CHAIR, strict=True)
    with pytest.raises(CapabilityError, match="seat.*--strict"):
        m.map(STOPPED.with_(technique=Technique.KNEAD, zones={Zone.SEAT}, intensity=60))


def test_no_zone_left_means_no_rollers():
    m = CapabilityMapper(CHAIR)
    out = m.map(STOPPED.with_(technique=Technique.KNEAD, zones={Zone.SEAT}, intensity=60))
    assert out.technique is None and out.intensity == 0 and out.is_stopped


def test_technique_nearest_then_fallback_then_refused():
    warned = []
    m = CapabilityMapper(CHAIR, warn=warned.append)
    out = m.map(STOPPED.with_(technique=Technique.SHIATSU, zones={Zone.NECK}, intensity=40))
    assert out.technique is Technique.KNEAD
    assert warned == ["this device has no shiatsu; using knead"]
    gun = Capabilities(
        zones=CHAIR.zones, techniques=frozenset({Technique.TAP, Technique.VIBRATE}), intensity_steps=3
    )
    warned.clear()
    out = CapabilityMapper(gun, warn=warned.append).map(
        STOPPED.with_(technique=Technique.KNEAD, zones={Zone.NECK}, intensity=40)
    )
    assert out.technique is Technique.VIBRATE
    assert warned == ["this device has nothing like knead; using vibrate, the motion it has"]
    with pytest.raises(CapabilityError, match="--strict"):
        CapabilityMapper(gun, strict=True).map(
            STOPPED.with_(technique=Technique.KNEAD, zones={Zone.NECK}, intensity=40)
        )
    bare = Capabilities(zones=CHAIR.zones, intensity_steps=3)
    with pytest.raises(CapabilityError, match="no massage techniques"):
        CapabilityMapper(bare).map(
            STOPPED.with_(technique=Technique.SHIATSU, zones={Zone.NECK}, intensity=40)
        )


def test_heat_never_hotter_than_asked():
    m = CapabilityMapper(CHAIR)
    assert m.map(STOPPED.with_(heat=Heat.LOW)).heat is Heat.OFF
    assert m.map(STOPPED.with_(heat=Heat.HIGH)).heat is Heat.HIGH


def test_width_and_airbags():
    m = CapabilityMapper(CHAIR, max_airbag=60)
    out = m.map(
        STOPPED.with_(
            technique=Technique.ROLL,
            zones={Zone.NECK},
            intensity=20,
            width=Width.WIDE,
            airbags={Zone.CALVES: 100, Zone.ARMS: 50},
        )
    )
    assert out.width is Width.MEDIUM
    assert out.airbags == ((Zone.CALVES, 3),)  # 60 % cap of 5 levels


KEY_PRESS_CHAIR = Capabilities(
    zones=frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
    techniques=frozenset({Technique.KNEAD, Technique.KNOCK, Technique.SHIATSU, Technique.TAP}),
    intensity_steps=5,
    speed_steps=6,
    widths=frozenset(Width),
    width_techniques=frozenset({Technique.KNOCK, Technique.SHIATSU, Technique.TAP}),
    speed_techniques=frozenset({Technique.KNEAD, Technique.KNOCK, Technique.TAP}),
)


def _rollers(technique: Technique, width: Width = Width.MEDIUM):
    return STOPPED.with_(
        technique=technique, zones=frozenset({Zone.SHOULDERS}), intensity=60, speed=50, width=width
    )


def test_width_only_for_the_techniques_that_take_it_and_the_user_is_told():
    warnings: list[str] = []
    mapper = CapabilityMapper(KEY_PRESS_CHAIR, warn=warnings.append)
    assert mapper.map(_rollers(Technique.KNOCK, Width.WIDE)).width is Width.WIDE
    assert mapper.map(_rollers(Technique.KNEAD)).width is None and warnings == []  # medium: no wish
    knead = mapper.map(_rollers(Technique.KNEAD, Width.WIDE))
    assert knead.width is None and knead.technique is Technique.KNEAD
    assert len(warnings) == 1 and "width only during knock, shiatsu, tap" in warnings[0]
    mapper.map(_rollers(Technique.KNEAD, Width.WIDE))
    assert len(warnings) == 1  # once


def test_speed_is_the_devices_own_during_a_technique_that_does_not_take_it():
    warnings: list[str] = []
    mapper = CapabilityMapper(KEY_PRESS_CHAIR, warn=warnings.append)
    assert mapper.map(_rollers(Technique.TAP)).speed == 4
    shiatsu = mapper.map(_rollers(Technique.SHIATSU))
    assert shiatsu.speed == 0 and shiatsu.technique is Technique.SHIATSU and shiatsu.intensity == 3
    assert len(warnings) == 1 and "shiatsu runs at its own speed" in warnings[0]
    with pytest.raises(CapabilityError):
        CapabilityMapper(KEY_PRESS_CHAIR, strict=True).map(_rollers(Technique.SHIATSU))


def test_a_device_without_such_limits_keeps_width_and_speed():
    state = CapabilityMapper(CHAIR).map(_rollers(Technique.KNEAD, Width.NARROW))
    assert state.width is Width.NARROW and state.speed == 4
