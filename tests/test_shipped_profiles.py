"""The profiles shipped with massager-ctl: valid, believable, gentle at both ends."""

from __future__ import annotations

import tomllib
from collections import Counter

import pytest

from massager_ctl.core.vocabulary import Benefit, Heat
from massager_ctl.plan import Plan
from massager_ctl.profile import load_plan
from massager_ctl.profile.library import shipped_dir
from massager_ctl.session.limits import SafetyLimits

SIX = ["back-pain", "flexibility", "stress", "posture", "circulation", "relaxation"]
ALL = [*SIX, "quick"]
MIN = 60_000
EDGE_MS = 30_000
SAMPLE_MS = 100


def plan_of(name: str) -> Plan:
    return load_plan(shipped_dir() / f"{name}.toml")


def raw_of(name: str) -> dict:
    return tomllib.loads((shipped_dir() / f"{name}.toml").read_text(encoding="utf-8"))


def samples(plan: Plan, start_ms: int, end_ms: int):
    for t in range(start_ms, end_ms, SAMPLE_MS):
        yield t, plan.state_at(t)


def test_exactly_the_expected_files_ship():
    assert sorted(p.name for p in shipped_dir().iterdir()) == sorted(f"{n}.toml" for n in ALL)


@pytest.mark.parametrize("name", ALL)
def test_profile_checks_clean(name):
    plan = plan_of(name)
    assert plan.name and plan.description.strip()
    assert plan.author == "massager-ctl"


@pytest.mark.parametrize("name", SIX)
def test_six_last_10_to_25_minutes(name):
    assert 10 * MIN <= plan_of(name).duration_ms <= 25 * MIN


def test_quick_is_exactly_three_minutes_and_touches_every_track():
    plan = plan_of("quick")
    assert plan.duration_ms == 3 * MIN
    assert any(s.technique is not None for s in plan.roller)
    assert any(s.zones and s.pressure.peak > 0 for s in plan.airbag)
    assert any(s.level is not Heat.OFF for s in plan.heat)


def test_each_benefit_exactly_once_and_named_after_its_file():
    benefits = Counter(plan_of(name).benefit for name in SIX)
    assert benefits == Counter(set(Benefit))
    for name in SIX:
        assert plan_of(name).benefit is Benefit(name)


@pytest.mark.parametrize("name", ALL)
def test_starts_low(name):
    plan = plan_of(name)
    for t, state in samples(plan, 0, EDGE_MS):
        assert state.intensity <= 30, f"{name}: intensity {state.intensity:.1f} at {t} ms"


@pytest.mark.parametrize("name", ALL)
def test_ends_at_zero_with_heat_off(name):
    plan = plan_of(name)
    end = plan.duration_ms
    last = plan.roller[-1]
    assert last.end_ms == end  # the roller track carries the cool-down to the very end
    assert last.technique is None or last.intensity.end == 0
    assert plan.state_at(end - 1).intensity < 1
    for t, state in samples(plan, end - EDGE_MS, end):
        assert state.heat is Heat.OFF, f"{name}: heat {state.heat} at {t} ms"
        assert state.intensity <= 30, f"{name}: intensity {state.intensity:.1f} at {t} ms"
        assert not state.airbags, f"{name}: airbags {state.airbags} at {t} ms"


@pytest.mark.parametrize("name", ALL)
def test_intensities_and_pressures_stay_moderate(name):
    plan = plan_of(name)
    assert max(s.intensity.peak for s in plan.roller) <= 70
    assert max((s.pressure.peak for s in plan.airbag), default=0) <= 70


@pytest.mark.parametrize("name", ALL)
def test_heat_warms_the_start_and_never_outlasts_the_auto_off(name):
    plan = plan_of(name)
    assert plan.state_at(EDGE_MS).heat is not Heat.OFF
    on_ms = longest = 0
    for step in plan.heat:
        on_ms = on_ms + step.duration_ms if step.level is not Heat.OFF else 0
        longest = max(longest, on_ms)
    assert longest <= SafetyLimits().heat_auto_off_s * 1000


@pytest.mark.parametrize("name", ALL)
def test_fits_the_default_caps(name):
    plan = plan_of(name)
    assert plan.duration_ms <= SafetyLimits().max_session_s * 1000


@pytest.mark.parametrize("name", SIX)
def test_uses_repeat_blocks_ramps_and_parallel_tracks(name):
    raw = raw_of(name)
    assert any("repeat" in seg for seg in raw["segment"])
    assert any("repeat" in entry for entry in raw["airbag"])
    assert raw["heat"]
    plan = plan_of(name)
    ramps = [s for s in plan.roller if s.intensity.is_ramp]
    assert any(s.intensity.curve.value != "linear" for s in ramps)
    assert plan.roller[0].technique is not None and plan.roller[0].intensity.is_ramp  # warm-up


def test_benefit_specific_work():
    """Each profile works where its benefit needs it."""
    from massager_ctl.core.vocabulary import Technique, Zone

    def roller_zones(name, technique=None):
        zones = set()
        for s in plan_of(name).roller:
            if s.technique is not None and (technique is None or s.technique is technique):
                zones |= s.zones
        return zones

    def airbag_zones(name):
        return set().union(*(s.zones for s in plan_of(name).airbag))

    assert Zone.LOWER_BACK in roller_zones("back-pain", Technique.KNEAD)
    assert Zone.LOWER_BACK in roller_zones("back-pain", Technique.SHIATSU)
    assert Zone.UPPER_BACK in roller_zones("posture", Technique.SHIATSU)
    assert Zone.SHOULDERS in roller_zones("posture", Technique.ROLL)
    assert {Zone.CALVES, Zone.FEET} <= airbag_zones("circulation")
    assert {Zone.NECK, Zone.SHOULDERS} <= roller_zones("stress", Technique.KNEAD)
    assert max(s.speed.peak for s in plan_of("stress").roller) <= 30
    assert {Zone.SEAT, Zone.LOWER_BACK} <= airbag_zones("flexibility")
    relax = plan_of("relaxation")
    assert max(s.speed.peak for s in relax.roller) <= 30
    assert max(s.pressure.peak for s in relax.airbag) <= 40
    assert max(s.duration_ms for s in relax.roller if s.technique is Technique.ROLL) >= 2 * MIN
