"""Rongtai reconciliation: from many chair states, the key presses converge to the target.

The chair is the simulator's pure state machine (sim.rongtai.ChairModel) stepped by hand:
no asyncio, explicit times.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.core.status import DEVICE_STOPPED, DeviceState
from massager_ctl.core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from massager_ctl.devices.rongtai.codec import (
    RT6923_KEYS,
    RT8600S_KEYS,
    Actuator,
    AirbagZone,
    RongtaiStatus,
    RunState,
    Scope,
)
from massager_ctl.devices.rongtai.reconcile import (
    POINT_TOLERANCE,
    ChairTarget,
    Move,
    Press,
    Refuse,
    Wait,
    chair_timer_for,
    is_stopped,
    next_action,
    program_action,
    scope_for,
    stop_actions,
    timer_confirmed,
    zones_at,
)
from massager_ctl.devices.rongtai.sim import ChairModel

T = RT8600S_KEYS
POWER, HEAT = T.power, T.heat_toggle


def drive(chair: ChairModel, target: ChairTarget, t: float, *, table=T, session_s=None, max_steps: int = 400):
    """Run the reconciler against the model like the driver does. Returns (keys, t)."""
    keys: list[int] = []
    armed = False
    for _ in range(max_steps):
        status = chair.status(t)
        if not status.powered or status.resetting:
            armed = False
        action = next_action(status, target, table, timer_armed=armed, session_s=session_s)
        if action is None:
            return keys, t
        if isinstance(action, Refuse):
            raise AssertionError(action.reason)
        if isinstance(action, Wait):
            t += 0.05
            continue
        if isinstance(action, Move):
            chair.press(action.start_key, t)
            keys.append(action.start_key)
            start = t
            while t - start < action.max_s:
                t += 0.05
                if abs(chair.status(t).roller_height - action.target_height) <= POINT_TOLERANCE:
                    break
            chair.press(action.stop_key, t)
            keys.append(action.stop_key)
            t += 0.15
            continue
        assert isinstance(action, Press)
        chair.press(action.key, t)
        keys.append(action.key)
        if action.kind == "timer":
            armed = True
        t += 0.15
    raise AssertionError(f"no convergence after {max_steps} steps; last status {chair.status(t)}")


def assert_matches(status: RongtaiStatus, target: ChairTarget) -> None:
    assert status.powered == target.powered
    if target.technique:
        assert status.technique == target.technique and status.rollers_active
        assert status.intensity == target.intensity
        if target.speed:
            assert status.speed == target.speed
        if target.width:
            assert status.width == target.width
        assert status.scope == target.scope
        if target.scope == Scope.POINT:
            assert abs(status.roller_height - target.centre) <= POINT_TOLERANCE
    else:
        assert not status.rollers_active
    assert status.airbag_zones == target.airbag_zones
    if target.airbag_zones:
        assert status.airbag_strength == target.airbag_strength
    assert status.heat == (target.heat is not Heat.OFF)


def chair_in(state: str, t: float = 0.0, table=T) -> tuple[ChairModel, float]:
    """A chair brought into a named state by pressing its keys."""
    chair = ChairModel(table, start=t)
    if state == "off":
        return chair, t
    chair.press(POWER, t)
    if state == "resetting-on":
        return chair, t + 0.3
    t += 1.2
    if state == "ready":
        return chair, t
    if state == "running-knock-heat":
        for key in (0x21, HEAT, 0x32, 0x2B, 0x42, 0x49, 0x5C):  # knock, heat, speed 5, narrow,
            chair.press(key, t)  # back airbag, strength 5, 3D 5
            t += 0.15
        return chair, t
    if state == "program":
        chair.press(T.programs["relax"], t)
        return chair, t + 0.2
    if state == "airbags-only":
        chair.press(0x40, t)
        chair.press(0x41, t + 0.15)
        return chair, t + 0.3
    if state == "resetting-off":
        chair.press(0x20, t)
        chair.press(POWER, t + 0.2)
        return chair, t + 0.5
    raise ValueError(state)


KNEAD_SHOULDERS = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS}),
    intensity=2,
    speed=4,
    width=Width.WIDE,
    airbags=((Zone.CALVES, 2),),
    heat=Heat.LOW,
)
TAP_LOWER = DeviceState(
    technique=Technique.TAP,
    zones=frozenset({Zone.MID_BACK, Zone.LOWER_BACK}),
    intensity=4,
    speed=1,
    width=Width.NARROW,
)
FULL_SHIATSU = DeviceState(technique=Technique.SHIATSU, zones=frozenset(BACK_ZONES), intensity=1, speed=6)
AIRBAGS_HEAT = DeviceState(airbags=((Zone.SEAT, 3), (Zone.ARMS, 4)), heat=Heat.LOW)

STATES = ["off", "resetting-on", "ready", "running-knock-heat", "program", "airbags-only", "resetting-off"]
TARGETS = [KNEAD_SHOULDERS, TAP_LOWER, FULL_SHIATSU, AIRBAGS_HEAT, DEVICE_STOPPED]


@pytest.mark.parametrize("start", STATES)
@pytest.mark.parametrize("state", TARGETS, ids=["knead", "tap", "full", "airbags", "stopped"])
def test_converges_from_every_chair_state(start, state):
    chair, t = chair_in(start)
    target = ChairTarget.from_state(state)
    before = chair.status(t)
    keys, t = drive(chair, target, t)
    after = chair.status(t)
    if target.powered:
        assert_matches(after, target)
        assert timer_confirmed(after, 1800) or after.remaining_s > 1700
    else:
        assert is_stopped(after)
    # the reconciler is done: asking again presses nothing
    assert next_action(after, target, T, timer_armed=True) is None
    # heat is a toggle: pressed once when it differed, never when it was already right
    heat_differs = before.heat != (target.heat is not Heat.OFF)
    if not heat_differs and before.accepts_keys and POWER not in keys:
        assert keys.count(HEAT) == 0, keys
    assert keys.count(HEAT) <= 1 + (1 if before.heat and target.heat is not Heat.OFF else 0)
    # no key was pressed while the chair was resetting
    assert not [e for e in chair.events if e.kind == "dropped"]


def test_levels_are_set_before_the_technique_starts():
    chair, t = chair_in("ready")
    keys, _ = drive(chair, ChairTarget.from_state(KNEAD_SHOULDERS), t)
    knead = keys.index(0x20)
    for level_key in (0x59, 0x31, 0x2D):  # 3D 2, speed 4, wide
        assert keys.index(level_key) < knead


def test_airbag_strength_before_zones():
    chair, t = chair_in("ready")
    keys, _ = drive(chair, ChairTarget.from_state(AIRBAGS_HEAT), t)
    assert keys.index(0x47) < keys.index(0x41) and keys.index(0x47) < keys.index(0x43)


def test_power_pressed_only_when_status_says_off():
    chair, t = chair_in("ready")
    keys, _ = drive(chair, ChairTarget.from_state(KNEAD_SHOULDERS), t)
    assert POWER not in keys
    chair, t = chair_in("off")
    keys, _ = drive(chair, ChairTarget.from_state(KNEAD_SHOULDERS), t)
    assert keys.count(POWER) == 1 and keys[0] == POWER


def test_nothing_pressed_while_resetting():
    chair, t = chair_in("resetting-on")
    status = chair.status(t)
    assert isinstance(next_action(status, ChairTarget.from_state(TAP_LOWER), T), Wait)
    # the reset ends, then keys flow
    keys, _ = drive(chair, ChairTarget.from_state(TAP_LOWER), t)
    assert POWER not in keys


def test_rollers_off_means_a_power_cycle():
    chair, t = chair_in("running-knock-heat")
    keys, t = drive(chair, ChairTarget.from_state(AIRBAGS_HEAT), t)
    assert keys.count(POWER) == 2  # off (the only way to stop rollers), then on again
    assert_matches(chair.status(t), ChairTarget.from_state(AIRBAGS_HEAT))


def test_timer_key_chosen_for_the_session():
    assert chair_timer_for(T, 300) == (600, 0x50)
    assert chair_timer_for(T, 600) == (600, 0x50)
    assert chair_timer_for(T, 601) == (1200, 0x51)
    assert chair_timer_for(T, 1500) == (1800, 0x52)
    assert chair_timer_for(T, 3600) == (1800, 0x52)  # longer: the longest; renewed while alive
    assert chair_timer_for(T, None) == (1800, 0x52)
    chair, t = chair_in("off")
    keys, t = drive(chair, ChairTarget.from_state(FULL_SHIATSU), t, session_s=500)
    assert keys[:2] == [POWER, 0x50]  # right after power-on, before anything moves
    assert 590 <= chair.status(t).remaining_s <= 600


def test_point_and_partial_walk_the_roller_with_a_stop_key():
    chair, t = chair_in("ready")
    target = ChairTarget.from_state(
        DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SEAT}), intensity=3, speed=3)
    )
    assert target.scope == Scope.POINT and target.centre == 28
    keys, t = drive(chair, target, t)
    down_start, down_stop = T.motors["roller_down"]
    assert down_start in keys and keys[keys.index(down_start) + 1] == down_stop
    assert not chair.motors
    assert zones_at(Scope.POINT, chair.status(t).roller_height) == {Zone.SEAT}


def test_stop_sequence_heat_then_power():
    chair, t = chair_in("running-knock-heat")
    status = chair.status(t)
    first = stop_actions(status, T)
    assert [a.key for a in first] == [HEAT]
    keys, t = drive(chair, ChairTarget(), t)
    assert keys == [HEAT, POWER]
    assert is_stopped(chair.status(t))


def test_stop_sends_every_moving_actuator_stop_key_first():
    status = RongtaiStatus(
        powered=True,
        run_state=RunState.RUNNING,
        actuators=Actuator.BACKREST_DOWN | Actuator.LEG_REST,
        rollers_active=True,
        technique="knead",
    )
    actions = stop_actions(status, T)
    assert [a.key for a in actions] == [0x67, 0x69, 0x6B, POWER]
    assert all(isinstance(a, Press) for a in actions)


def test_stop_waits_out_a_power_on_reset_then_powers_off():
    status = RongtaiStatus(powered=True, run_state=RunState.RESETTING)
    assert isinstance(stop_actions(status, T)[-1], Wait)
    # resetting towards off: already stopped (the rollers are parking)
    parking = RongtaiStatus(powered=False, run_state=RunState.RESETTING)
    assert stop_actions(parking, T) == [] and is_stopped(parking)


def test_stopped_chair_needs_nothing():
    assert stop_actions(RongtaiStatus(), T) == []
    assert next_action(RongtaiStatus(), ChairTarget(), T) is None


def test_fault_is_refused():
    status = RongtaiStatus(powered=True, run_state=RunState.FAULT)
    assert isinstance(next_action(status, ChairTarget.from_state(TAP_LOWER), T), Refuse)
    assert [a.key for a in stop_actions(status, T)] == [POWER]


def test_scope_for_zones():
    assert scope_for(frozenset(BACK_ZONES)) == (Scope.FULL, None)
    assert scope_for(frozenset({Zone.NECK, Zone.SEAT})) == (Scope.FULL, None)
    assert scope_for(frozenset({Zone.NECK}))[0] == Scope.POINT
    assert scope_for(frozenset({Zone.UPPER_BACK, Zone.MID_BACK}))[0] == Scope.PARTIAL
    assert scope_for(frozenset())[0] == Scope.FULL


def test_airbag_strength_is_the_lowest_asked():
    target = ChairTarget.from_state(DeviceState(airbags=((Zone.CALVES, 4), (Zone.SEAT, 2))))
    assert target.airbag_strength == 2
    assert target.airbag_zones == AirbagZone.LEGS | AirbagZone.BUTTOCKS


def test_unknown_words_refused():
    with pytest.raises(ValueError):
        ChairTarget.from_state(
            DeviceState(technique=Technique.ROLL, zones=frozenset({Zone.NECK}), intensity=1)
        )
    with pytest.raises(ValueError):
        ChairTarget.from_state(DeviceState(airbags=((Zone.THIGHS, 1),)))


def test_rt6923_heat_levels():
    chair, t = chair_in("ready", table=RT6923_KEYS)
    low = ChairTarget.from_state(DeviceState(heat=Heat.LOW))
    keys, t = drive(chair, low, t, table=RT6923_KEYS)
    assert 0x3C in keys and chair.status(t).heat_level == 1
    high = ChairTarget.from_state(DeviceState(heat=Heat.HIGH))
    keys, t = drive(chair, high, t, table=RT6923_KEYS)
    timers = set(RT6923_KEYS.timers.values())
    assert [k for k in keys if k not in timers] == [0x3E] and chair.status(t).heat_level == 3
    keys, t = drive(chair, ChairTarget(), t, table=RT6923_KEYS)
    assert keys == [RT6923_KEYS.heat_toggle, POWER]


def test_program_action_powers_on_sets_timer_then_program():
    chair, t = chair_in("off")
    keys, armed = [], False
    for _ in range(100):
        status = chair.status(t)
        if not status.powered or status.resetting:
            armed = False
        action = program_action(status, "stretch", T, timer_armed=armed, session_s=1200)
        if action is None:
            break
        if isinstance(action, Press):
            chair.press(action.key, t)
            keys.append(action.key)
            armed = armed or action.kind == "timer"
        t += 0.15
    assert keys == [POWER, 0x51, 0x11]
    assert chair.status(t).program == "stretch"


# ------------------------------------------------------------------ property

KEYS_TO_MESS_WITH = [
    POWER,
    HEAT,
    0x20,
    0x21,
    0x22,
    0x23,
    0x24,
    0x26,
    0x28,
    0x29,
    0x2A,
    0x2B,
    0x2D,
    0x2E,
    0x33,
    0x40,
    0x41,
    0x42,
    0x43,
    0x44,
    0x45,
    0x49,
    0x4A,
    0x58,
    0x5C,
    0x10,
    0x13,
    0x51,
]

device_states = st.builds(
    DeviceState,
    technique=st.sampled_from([None, Technique.KNEAD, Technique.KNOCK, Technique.SHIATSU, Technique.TAP]),
    zones=st.frozensets(st.sampled_from(BACK_ZONES), min_size=1),
    intensity=st.integers(1, 5),
    speed=st.integers(1, 6),
    width=st.sampled_from([None, *Width]),
    airbags=st.lists(
        st.tuples(st.sampled_from([Zone.CALVES, Zone.ARMS, Zone.LOWER_BACK, Zone.SEAT]), st.integers(1, 5)),
        unique_by=lambda zl: zl[0],
        max_size=4,
    ).map(tuple),
    heat=st.sampled_from([Heat.OFF, Heat.LOW]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(KEYS_TO_MESS_WITH), st.floats(0.0, 2.0)), max_size=12),
    device_states,
)
def test_any_chair_state_converges_and_toggles_are_not_wasted(presses, state):
    chair, t = ChairModel(T), 0.0
    for key, pause in presses:
        chair.press(key, t)
        t += pause
    target = ChairTarget.from_state(state)
    before = chair.status(t)
    seen = len(chair.events)
    keys, t = drive(chair, target, t)
    after = chair.status(t)
    if target.powered:
        assert_matches(after, target)
    else:
        assert is_stopped(after)
    # no key the reconciler pressed was dropped by a resetting chair
    assert not [e for e in chair.events[seen:] if e.kind == "dropped"]
    # a chair already powered and ready, with rollers wanted, is never power-cycled
    if before.accepts_keys and target.technique is not None:
        assert POWER not in keys
    # heat already right on a chair that stays on: the toggle is never pressed
    if before.accepts_keys and before.heat == (target.heat is not Heat.OFF):
        if not (target.technique is None and before.rollers_active):  # no power cycle
            assert HEAT not in keys
