"""The safety governor: caps, slew, heat rules and session length, for any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.core.errors import SafetyError
from massager_ctl.core.target import STOPPED, TargetState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits

states = st.builds(
    lambda tech, zones, i, s, w, bags, h: STOPPED.with_(
        technique=tech, zones=zones, intensity=i, speed=s, width=w, airbags=bags, heat=h
    ),
    st.one_of(st.none(), st.sampled_from(Technique)),
    st.frozensets(st.sampled_from(Zone), max_size=4),
    st.floats(-50, 200, allow_nan=False),
    st.floats(-50, 200, allow_nan=False),
    st.sampled_from(Width),
    st.dictionaries(st.sampled_from(Zone), st.floats(0, 300, allow_nan=False), max_size=4),
    st.sampled_from(Heat),
)
limits = st.builds(
    SafetyLimits,
    max_intensity=st.floats(0, 100),
    max_speed=st.floats(0, 100),
    max_airbag=st.floats(0, 100),
    max_heat=st.sampled_from(Heat),
    slew_per_s=st.floats(1, 100),
    max_session_s=st.just(1800.0),
    heat_auto_off_s=st.floats(1, 1200),
)


@settings(max_examples=300, deadline=None)
@given(limits, st.lists(st.tuples(st.floats(0, 5), states), min_size=1, max_size=60))
def test_output_never_exceeds_caps_or_slew(lim, commands):
    """Whatever sequence of desired states arrives (plan or by hand), what
    leaves the governor is within every cap and rises no faster than the slew."""
    gov = SafetyGovernor(lim)
    now = 0.0
    gov.begin(now)
    previous = 0.0
    for dt, desired in commands:
        now += dt
        out = gov.regulate(desired, now)
        assert out.intensity <= lim.max_intensity + 1e-9
        assert out.speed <= lim.max_speed + 1e-9
        assert all(p <= lim.max_airbag + 1e-9 for _, p in out.airbags)
        assert out.heat.rank <= lim.max_heat.rank
        assert out.intensity - previous <= lim.slew_per_s * dt + 1e-6
        previous = out.intensity if out.rollers_active else 0.0


def test_slew_ramps_a_jump_to_full_over_four_seconds():
    gov = SafetyGovernor(SafetyLimits())
    gov.begin(0.0)
    want = STOPPED.with_(technique=Technique.KNEAD, zones={Zone.NECK}, intensity=100, speed=50)
    seen = [gov.regulate(want, t / 10).intensity for t in range(0, 50)]
    assert seen[10] == pytest.approx(25.0)
    assert seen[20] == pytest.approx(50.0)
    assert seen[40] == pytest.approx(100.0)
    # Lowering is immediate.
    assert gov.regulate(want.with_(intensity=10), 5.0).intensity == 10


def test_heat_needs_a_live_session_and_switches_off_for_good():
    gov = SafetyGovernor(SafetyLimits(heat_auto_off_s=60))
    warm = STOPPED.with_(heat=Heat.HIGH)
    assert gov.regulate(warm, 0.0).heat is Heat.OFF  # not live
    gov.begin(0.0)
    assert gov.regulate(warm, 1.0).heat is Heat.HIGH
    assert gov.regulate(warm, 59.0).heat is Heat.HIGH
    assert gov.regulate(warm, 61.5).heat is Heat.OFF
    assert gov.regulate(warm, 200.0).heat is Heat.OFF  # stays off
    assert any("auto-off" in n for n in gov.notices)
    gov.end()
    assert gov.regulate(warm, 201.0).heat is Heat.OFF


def test_heat_cap():
    gov = SafetyGovernor(SafetyLimits(max_heat=Heat.LOW))
    gov.begin(0.0)
    assert gov.regulate(STOPPED.with_(heat=Heat.HIGH), 0.1).heat is Heat.LOW


def test_watching_a_chairs_own_program_counts_its_heat_against_the_same_budget():
    """A chair playing its own program switches heat on by itself: the governor counts the
    heat it reports from the first report that shows it, and says "off" at the budget."""
    gov = SafetyGovernor(SafetyLimits(heat_auto_off_s=60))
    gov.begin(0.0, length_s=600)
    assert gov.watch(Heat.OFF, 5.0) is Heat.OFF
    assert gov.watch(Heat.LOW, 10.0) is Heat.LOW  # first seen on at 10 s
    assert gov.next_deadline(10.0) == pytest.approx(70.0)  # when to look again
    assert gov.watch(Heat.LOW, 69.0) is Heat.LOW
    assert gov.watch(Heat.LOW, 70.0) is Heat.OFF
    assert any("auto-off" in n for n in gov.notices)
    # Switched on again later in the program (or at the remote): off for good.
    assert gov.watch(Heat.OFF, 75.0) is Heat.OFF
    assert gov.watch(Heat.LOW, 80.0) is Heat.OFF


def test_watching_counts_only_while_the_chair_reports_heat():
    gov = SafetyGovernor(SafetyLimits(heat_auto_off_s=60))
    gov.begin(0.0)
    assert gov.watch(Heat.LOW, 0.0) is Heat.LOW
    assert gov.watch(Heat.OFF, 40.0) is Heat.OFF  # 40 s of heat so far
    assert gov.watch(Heat.LOW, 100.0) is Heat.LOW
    assert gov.watch(Heat.LOW, 119.0) is Heat.LOW  # 59 s
    assert gov.watch(Heat.LOW, 120.0) is Heat.OFF  # 60 s


def test_watching_applies_the_heat_cap_and_the_session_cap():
    gov = SafetyGovernor(SafetyLimits(max_heat=Heat.OFF, max_session_s=600))
    gov.begin(0.0, length_s=600)
    assert gov.watch(Heat.HIGH, 1.0) is Heat.OFF  # no heat allowed at all: off at once
    assert not gov.expired
    gov.watch(Heat.OFF, 600.0)
    assert gov.expired


def test_session_length_is_refused_above_the_cap_and_enforced_while_live():
    gov = SafetyGovernor(SafetyLimits(max_session_s=600))
    with pytest.raises(SafetyError, match="31m.*above the 10m session cap"):
        gov.begin(0.0, length_s=31 * 60)
    gov.begin(0.0, length_s=600)
    want = STOPPED.with_(technique=Technique.ROLL, zones={Zone.MID_BACK}, intensity=20)
    assert gov.regulate(want, 599.0).rollers_active
    assert gov.regulate(want, 600.0) == STOPPED
    assert gov.expired


def test_profile_limits_only_tighten():
    gov = SafetyGovernor(SafetyLimits(max_intensity=50, max_session_s=600))
    gov.begin(0.0, max_intensity=80, max_length_s=3600)
    assert gov.session_limits.max_intensity == 50
    assert gov.session_limits.max_session_s == 600
    gov.begin(0.0, max_intensity=30, max_length_s=60)
    assert gov.session_limits.max_intensity == 30
    assert gov.session_limits.max_session_s == 60


def test_nothing_but_stopped_outside_a_session():
    gov = SafetyGovernor()
    want = TargetState(technique=Technique.TAP, zones=frozenset({Zone.SEAT}), intensity=40)
    assert gov.regulate(want, 0.0) == STOPPED


def test_a_long_gap_does_not_bank_a_jump():
    """A host that stalls for 10 s must not then jump straight to full intensity."""
    gov = SafetyGovernor(SafetyLimits(slew_per_s=25))
    gov.begin(0.0)
    want = STOPPED.with_(technique=Technique.KNEAD, zones={Zone.NECK}, intensity=100, speed=50)
    assert gov.regulate(want, 0.1).intensity == pytest.approx(2.5)
    assert gov.regulate(want, 10.1).intensity == pytest.approx(2.5 + 25 * 0.25)
