"""Profile -> Plan: exact timelines, repeat expansion, ramps, determinism."""

from __future__ import annotations

import pytest
from profile_samples import VALID

from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Benefit, Curve, Heat, Technique, Width, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, PlanLimits, RollerStep
from massager_ctl.profile import (
    Profile,
    ProfileError,
    RepeatBlock,
    RollerEntry,
    compile_profile,
    load_plan,
    parse_profile,
)

SHOULDERS = frozenset({Zone.SHOULDERS})
SHOULDERS_UPPER = frozenset({Zone.SHOULDERS, Zone.UPPER_BACK})


@pytest.fixture(scope="module")
def plan() -> Plan:
    return compile_profile(parse_profile(VALID, "evening.toml"))


def test_plan_header(plan):
    assert (plan.name, plan.description, plan.benefit, plan.author) == (
        "Evening unwind",
        "Slow rolls, then shoulder work.",
        Benefit.STRESS,
        "tests",
    )
    assert plan.limits == PlanLimits(max_intensity=60.0, max_length_ms=1_200_000)


def test_roller_track_is_back_to_back_with_repeats_unrolled(plan):
    rows = [(s.start_ms, s.duration_ms, s.name, s.source) for s in plan.roller]
    assert rows == [
        (0, 120_000, "warm-up", 'segment 1 "warm-up"'),
        (120_000, 20_000, "rest", "segment 2"),
        (140_000, 40_000, "knead", 'segment 3 "shoulder work" step 1 "knead" (repeat 1 of 3)'),
        (180_000, 1_500, "tap", 'segment 3 "shoulder work" step 2 (repeat 1 of 3)'),
        (181_500, 40_000, "knead", 'segment 3 "shoulder work" step 1 "knead" (repeat 2 of 3)'),
        (221_500, 1_500, "tap", 'segment 3 "shoulder work" step 2 (repeat 2 of 3)'),
        (223_000, 40_000, "knead", 'segment 3 "shoulder work" step 1 "knead" (repeat 3 of 3)'),
        (263_000, 1_500, "tap", 'segment 3 "shoulder work" step 2 (repeat 3 of 3)'),
    ]
    assert plan.segment_starts_ms() == [r[0] for r in rows]


def test_roller_step_contents(plan):
    warm, rest, knead, tap = plan.roller[:4]
    assert warm == RollerStep(
        start_ms=0,
        duration_ms=120_000,
        name="warm-up",
        source='segment 1 "warm-up"',
        technique=Technique.ROLL,
        zones=frozenset({Zone.UPPER_BACK, Zone.MID_BACK}),
        intensity=Level(10.0, 35.0, Curve.EASE_IN_OUT),
        speed=Level.constant(40),
        width=Width.WIDE,
    )
    assert rest.technique is None
    assert (knead.technique, knead.zones, knead.intensity, knead.width) == (
        Technique.KNEAD,
        SHOULDERS,
        Level.constant(50),
        Width.NARROW,
    )
    assert (tap.intensity, tap.speed) == (Level(40.0, 60.0, Curve.LINEAR), Level.constant(70))
    # Every repeat is the same step at another time.
    for a, b in zip(plan.roller[2:4], plan.roller[4:6], strict=True):
        assert (a.technique, a.zones, a.intensity, a.speed, a.width, a.duration_ms) == (
            b.technique,
            b.zones,
            b.intensity,
            b.speed,
            b.width,
            b.duration_ms,
        )


def test_airbag_and_heat_tracks(plan):
    assert plan.airbag == (
        AirbagStep(0, 30_000, "airbags", "airbag 1", frozenset(), Level(0.0, 0.0)),
        AirbagStep(
            30_000,
            60_000,
            "calf squeeze",
            'airbag 2 "calf squeeze"',
            frozenset({Zone.CALVES, Zone.FEET}),
            Level(20.0, 45.0, Curve.EASE_IN),
        ),
    )
    assert plan.heat == (HeatStep(0, 300_000, "heat low", "heat 1", Heat.LOW),)


def test_tracks_of_different_lengths(plan):
    assert plan.roller[-1].end_ms == 264_500
    assert plan.airbag[-1].end_ms == 90_000
    assert plan.heat[-1].end_ms == 300_000
    assert plan.duration_ms == 300_000
    assert plan.step_count == 8 + 2 + 1


def test_state_mid_ramp_follows_the_curve(plan):
    s = plan.state_at(60_000)  # half-way through the ease-in-out warm-up
    assert s.technique is Technique.ROLL
    assert s.intensity == pytest.approx(22.5)
    assert s.speed == 40 and s.width is Width.WIDE
    assert plan.state_at(30_000).intensity == pytest.approx(10 + 25 * 0.15625)  # smoothstep(.25)
    # Airbag ramp with ease-in, half-way: 20 + 25 * 0.5**2.
    assert dict(plan.state_at(60_000).airbags) == {
        Zone.CALVES: pytest.approx(26.25),
        Zone.FEET: pytest.approx(26.25),
    }
    assert plan.state_at(20_000).airbags == ()  # vented
    s = plan.state_at(221_500 + 750)  # linear tap ramp 40 -> 60, second repeat, half-way
    assert (s.technique, s.zones, s.intensity, s.speed) == (Technique.TAP, SHOULDERS_UPPER, 50, 70)


def test_state_during_rest_and_after_tracks_end(plan):
    s = plan.state_at(130_000)
    assert s.technique is None and not s.rollers_active and s.heat is Heat.LOW
    s = plan.state_at(270_000)  # rollers and airbags done, heat still on
    assert (s.technique, s.airbags, s.heat) == (None, (), Heat.LOW)
    assert plan.state_at(300_000) == STOPPED
    assert plan.state_at(-1) == STOPPED


def test_same_text_gives_equal_plans():
    a = compile_profile(parse_profile(VALID))
    b = compile_profile(parse_profile(VALID))
    assert a == b
    assert repr(a) == repr(b)
    profile = parse_profile(VALID)
    assert compile_profile(profile) == compile_profile(profile)


def test_plan_agrees_with_profile_totals():
    profile = parse_profile(VALID)
    plan = compile_profile(profile)
    assert plan.duration_ms == profile.duration_ms
    assert plan.step_count == profile.step_count


def test_roller_longest_and_empty_optional_tracks():
    text = VALID.split("[[airbag]]")[0]  # no airbag or heat tracks
    plan = compile_profile(parse_profile(text))
    assert plan.airbag == () and plan.heat == ()
    assert plan.duration_ms == 264_500
    assert plan.state_at(264_499).technique is Technique.TAP
    assert plan.state_at(264_500) == STOPPED


def test_repeat_blocks_on_airbag_and_heat_tracks():
    text = (
        VALID.split("[[airbag]]")[0]
        + """
[[airbag]]
name = "pulse"
repeat = 2
  [[airbag.steps]]
  duration = "3s"
  zones = ["seat"]
  pressure = 30
  [[airbag.steps]]
  duration = "2s"

[[heat]]
repeat = 2
  [[heat.steps]]
  duration = "1m"
  level = "high"
  [[heat.steps]]
  name = "cool"
  duration = "30s"
  level = "off"
"""
    )
    plan = compile_profile(parse_profile(text))
    assert [(s.start_ms, s.duration_ms, s.zones, s.source) for s in plan.airbag] == [
        (0, 3000, frozenset({Zone.SEAT}), 'airbag 1 "pulse" step 1 (repeat 1 of 2)'),
        (3000, 2000, frozenset(), 'airbag 1 "pulse" step 2 (repeat 1 of 2)'),
        (5000, 3000, frozenset({Zone.SEAT}), 'airbag 1 "pulse" step 1 (repeat 2 of 2)'),
        (8000, 2000, frozenset(), 'airbag 1 "pulse" step 2 (repeat 2 of 2)'),
    ]
    assert [(s.start_ms, s.name, s.level, s.source) for s in plan.heat] == [
        (0, "heat high", Heat.HIGH, "heat 1 step 1 (repeat 1 of 2)"),
        (60_000, "cool", Heat.OFF, 'heat 1 step 2 "cool" (repeat 1 of 2)'),
        (90_000, "heat high", Heat.HIGH, "heat 1 step 1 (repeat 2 of 2)"),
        (150_000, "cool", Heat.OFF, 'heat 1 step 2 "cool" (repeat 2 of 2)'),
    ]
    assert plan.state_at(4000).airbags == ()
    assert plan.state_at(6000).airbags == ((Zone.SEAT, 30.0),)
    assert plan.state_at(100_000).heat is Heat.HIGH
    assert plan.state_at(170_000).heat is Heat.OFF


def test_sub_second_durations_stay_integer_ms():
    text = VALID.split("[[airbag]]")[0].replace('duration = "2m"', 'duration = "0.3335s"')
    plan = compile_profile(parse_profile(text))
    assert plan.roller[0].duration_ms == 334  # rounded to whole ms
    assert all(isinstance(s.start_ms, int) and isinstance(s.duration_ms, int) for s in plan.roller)
    assert plan.roller[1].start_ms == 334


def test_load_plan_reads_and_compiles(tmp_path):
    path = tmp_path / "evening.toml"
    path.write_text(VALID, encoding="utf-8")
    assert load_plan(path) == compile_profile(parse_profile(VALID))
    path.write_text(VALID.replace("max_intensity = 60", "max_intensity = 40"), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_plan(path)
    assert str(info.value).splitlines()[0] == (
        'evening.toml: segment 3 "shoulder work" step 1 "knead": intensity 50 is above '
        "limits.max_intensity 40"
    )


def test_hand_built_profile_past_the_bounds_is_refused_by_compile():
    step = RollerEntry("segment 1 step 1", "rest", 1)
    block = RepeatBlock("segment 1", None, 1000, (step,) * 101)
    profile = Profile(1, "big", "", Benefit.STRESS, roller=(block,))
    with pytest.raises(ProfileError):
        compile_profile(profile)
