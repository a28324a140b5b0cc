"""No value finds a way past a cap: NaN, infinities, negatives and huge numbers, at every door.

The doors a limit comes in by: ``SafetyLimits`` itself (the API), ``tightened`` (a profile's
[limits], ``run --max-intensity``), the config file and ``config set``, the command line's
options, and the values a plan asks for. Each hostile value is either refused with one
clear line, or lands within the caps; the governor and a whole session on the simulated
chair are then checked for what actually reaches the device.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.api import build_state, connect
from massager_ctl.config import ConfigError, config_from_raw, set_value
from massager_ctl.core.errors import LimitError, MassagerError, SafetyError, UsageError
from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, PlanLimits, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import MAX_SLEW_STEP_S, SafetyGovernor
from massager_ctl.session.limits import HARD_MAX_SESSION_S, SafetyLimits

#: Everything that has ever slipped past a comparison, and then some.
HOSTILE = st.one_of(
    st.sampled_from(
        [
            math.nan,
            -math.nan,
            math.inf,
            -math.inf,
            -1.0,
            -1e-300,
            0.0,
            -0.0,
            1e308,
            100.0000001,
            10**400,
            -(10**400),
            True,
            False,
            "50",
            "nan",
            None,
            [],
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
)

NUMERIC_FIELDS = (
    "max_intensity",
    "max_speed",
    "max_airbag",
    "slew_per_s",
    "max_session_s",
    "heat_auto_off_s",
)
TOP = {
    "max_intensity": 100.0,
    "max_speed": 100.0,
    "max_airbag": 100.0,
    "slew_per_s": 100.0,
    "max_session_s": HARD_MAX_SESSION_S,
    "heat_auto_off_s": HARD_MAX_SESSION_S,
}


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(NUMERIC_FIELDS), HOSTILE)
def test_safety_limits_refuse_what_is_not_a_finite_number_in_range(name, value):
    try:
        limits = SafetyLimits(**{name: value})
    except LimitError as exc:
        text = str(exc)
        assert text.startswith(f"{name}: ") and "\n" not in text and len(text) < 200
        return
    got = getattr(limits, name)
    assert isinstance(got, float) and math.isfinite(got)
    assert 0 <= got <= TOP[name]
    if name in ("slew_per_s", "max_session_s", "heat_auto_off_s"):
        assert got > 0  # a zero slew would freeze, a zero length would end at once


def test_the_cases_from_the_issue_are_refused():
    for kwargs in ({"slew_per_s": math.nan}, {"max_session_s": math.nan}, {"max_intensity": math.nan}):
        with pytest.raises(LimitError):
            SafetyLimits(**kwargs)
    with pytest.raises(LimitError):
        SafetyLimits(max_heat="scorching")
    assert SafetyLimits(max_heat="low").max_heat is Heat.LOW


@settings(max_examples=300, deadline=None)
@given(HOSTILE, HOSTILE)
def test_tightening_refuses_nonsense_and_never_loosens(max_intensity, max_length_s):
    base = SafetyLimits(max_intensity=60, max_session_s=600)
    try:
        out = base.tightened(max_intensity=max_intensity, max_length_s=max_length_s)
    except LimitError:
        return
    assert out.max_intensity <= 60 and out.max_session_s <= 600
    assert math.isfinite(out.max_intensity) and math.isfinite(out.max_session_s)
    assert out.max_session_s > 0


# ---------------------------------------------------------------- the governor

hostile_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan]))


@settings(max_examples=300, deadline=None)
@given(
    st.floats(0, 100),
    st.floats(1, 100),
    st.lists(
        st.tuples(
            st.floats(0, 2),
            hostile_floats,
            hostile_floats,
            st.dictionaries(st.sampled_from([Zone.CALVES, Zone.FEET]), hostile_floats, max_size=2),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_the_governor_lets_nothing_past_a_cap_whatever_the_plan_asks(cap, slew, commands):
    """What a plan or a script asks for may be NaN or infinite: what leaves is within the
    caps, finite, and rises no faster than the slew."""
    lim = SafetyLimits(max_intensity=cap, max_speed=cap, max_airbag=cap, slew_per_s=slew)
    gov = SafetyGovernor(lim)
    now = 0.0
    gov.begin(now)
    previous = 0.0
    for dt, intensity, speed, bags in commands:
        now += dt
        desired = STOPPED.with_(
            technique=Technique.KNEAD, zones=[Zone.SHOULDERS], intensity=intensity, speed=speed, airbags=bags
        )
        out = gov.regulate(desired, now)
        for value in (out.intensity, out.speed, *(p for _, p in out.airbags)):
            assert math.isfinite(value) and 0 <= value <= cap + 1e-9
        assert out.intensity - previous <= slew * min(dt, MAX_SLEW_STEP_S) + 1e-6
        previous = out.intensity if out.rollers_active else 0.0


@pytest.mark.parametrize("length", [math.nan, math.inf, -1.0])
def test_a_session_length_that_is_not_a_number_is_refused(length):
    with pytest.raises(SafetyError):
        SafetyGovernor(SafetyLimits()).check_length(length)


# ------------------------------------------------------------ a whole session


def _plan(level: Level, pressure: Level, *, ms: int = 6_000, limits: PlanLimits | None = None) -> Plan:
    zones = frozenset({Zone.SHOULDERS, Zone.UPPER_BACK})
    return Plan(
        name="hostile",
        roller=(RollerStep(0, ms, "r", "r", Technique.KNEAD, zones, level, Level.constant(50)),),
        airbag=(AirbagStep(0, ms, "a", "a", zones=frozenset({Zone.CALVES}), pressure=pressure),),
        heat=(HeatStep(0, ms, "h", "h", Heat.HIGH),),
        limits=limits or PlanLimits(),
    )


_LEVELS = st.one_of(
    st.builds(Level.constant, hostile_floats),
    st.builds(Level, hostile_floats, hostile_floats),
)


@settings(max_examples=25, deadline=None)
@given(_LEVELS, _LEVELS)
def test_a_session_on_the_simulated_chair_never_commands_above_the_caps(level, pressure):
    """The whole path (plan -> governor -> mapping -> driver -> simulator) with NaN and
    infinite levels in the plan: the chair's own record shows nothing above the caps."""
    limits = SafetyLimits(max_intensity=40, max_airbag=50, max_heat=Heat.LOW)

    async def main():
        async with connect("sim:", limits=limits) as chair:
            try:
                await chair.run(_plan(level, pressure))
            except MassagerError:
                pass  # refusing is fine; commanding above a cap is not
            return chair.simulator

    sim = run_virtual(main())
    caps = sim.capabilities
    assert sim.physics.max_intensity_seen <= math.floor(caps.intensity_steps * 0.40 + 1e-9)
    for event in sim.physics.trace:
        status = event.snapshot
        for level_ in status.get("airbags", {}).values():
            assert level_ <= math.floor(caps.airbag_levels * 0.50 + 1e-9)
        assert status.get("heat") in ("off", "low")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -5.0, 150.0])
def test_a_plan_whose_own_limit_is_not_a_number_is_refused_before_anything_is_sent(bad):
    async def main():
        async with connect("sim:") as chair:
            with pytest.raises(LimitError):
                await chair.run(
                    _plan(Level.constant(90), Level.constant(50), limits=PlanLimits(max_intensity=bad))
                )
            return chair.simulator

    sim = run_virtual(main())
    assert not [e for e in sim.physics.trace if e.kind == "command"]


# ---------------------------------------------------------------- API words


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "1e999", True, -1, 101])
def test_build_state_refuses_percentages_that_are_not_numbers_in_range(value):
    with pytest.raises(UsageError):
        build_state(technique="knead", zones=["neck"], intensity=value)
    with pytest.raises(UsageError):
        build_state(airbags={"calves": value})


@pytest.mark.parametrize("duration", [math.nan, math.inf, -1, 0, "9" * 400 + "h", True])
def test_a_hold_duration_that_is_not_a_number_is_refused(duration):
    async def main():
        async with connect("sim:") as chair:
            with pytest.raises(UsageError):
                await chair.set(technique="knead", zones=["neck"], intensity=30, duration=duration)

    run_virtual(main())


# ---------------------------------------------------------------- config


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        ["max_intensity", "max_speed", "max_airbag", "slew_per_s", "max_session", "heat_auto_off"]
    ),
    HOSTILE,
)
def test_the_config_file_refuses_caps_that_are_not_numbers_in_range(key, value):
    from pathlib import Path

    try:
        config = config_from_raw({"caps": {key: value}}, Path("config.toml"))
    except ConfigError as exc:
        assert all(p.startswith(f"caps.{key}: ") for p in exc.problems)
        return
    lim = config.limits
    for name in NUMERIC_FIELDS:
        got = getattr(lim, name)
        assert math.isfinite(got) and 0 <= got <= TOP[name]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "-1", "1e999", "101", "NaN", " nan "])
def test_config_set_refuses_caps_that_are_not_numbers_in_range(text, tmp_path):
    path = tmp_path / "config.toml"
    for key in ("caps.max_intensity", "caps.slew_per_s", "caps.max_airbag"):
        with pytest.raises(ConfigError):
            set_value(key, text, path)
    assert not path.exists()


# ------------------------------------------------------------ the command line


@pytest.mark.parametrize(
    "args",
    [
        ["run", "quick", "--max-intensity", "nan"],
        ["run", "quick", "--max-intensity", "inf"],
        ["run", "quick", "--max-intensity", "-1"],
        ["run", "quick", "--max-intensity", "1e400"],
        ["run", "quick", "--time-scale", "nan"],
        ["run", "quick", "--time-scale", "1e-6"],
        ["run", "quick", "--time-scale", "1e-9"],
        ["run", "quick", "--time-scale", "inf"],
        ["set", "-t", "knead", "-z", "neck", "-i", "nan"],
        ["set", "-t", "knead", "-z", "neck", "-i", "30", "-s", "inf"],
        ["set", "--airbag", "calves=nan"],
        ["set", "--airbag", "calves=inf"],
        ["set", "-t", "knead", "-z", "neck", "-i", "30", "--for", "9" * 400 + "h"],
        ["set", "-t", "knead", "-z", "neck", "-i", "30", "--for", "nan"],
        ["scan", "--timeout", "nan"],
        ["profile", "show", "quick", "--width", "100000000"],
    ],
)
def test_every_option_refuses_what_is_not_a_finite_number_in_range(cli, args):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    assert not cli.trace.exists(), "a device was opened for a refused command"
