"""Rongtai reconciliation (pure): which key next, in the order the firmware takes keys.

The convergence tests run the plan against the simulated main board
(massager_ctl.devices.rongtai.firmware), read through the host's decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.core.status import DEVICE_STOPPED, DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.devices.rongtai.codec import (
    RT6923_KEYS,
    RT8600S_KEYS,
    AirbagZone,
    Motion,
    RongtaiStatus,
    RunState,
    Scope,
    decode_status,
)
from massager_ctl.devices.rongtai.firmware import BOARDS, Board
from massager_ctl.devices.rongtai.reconcile import (
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
    stop_plan,
    zones_at,
)

T = RT8600S_KEYS
KNEAD_SHOULDERS = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS}),
    intensity=2,
    speed=4,
    airbags=((Zone.CALVES, 2),),
    heat=Heat.LOW,
)

OFF = RongtaiStatus(run_state=RunState.OFF)
READY = RongtaiStatus(powered=True, run_state=RunState.READY, strength_3d=3)
RESETTING = RongtaiStatus(powered=True, run_state=RunState.RESETTING, technique="knead", program_code=0)
FAULT = RongtaiStatus(powered=True, run_state=RunState.FAULT)


def running(**fields) -> RongtaiStatus:
    base = dict(
        powered=True,
        run_state=RunState.RUNNING,
        technique="knead",
        program_code=7,
        speed=1,
        strength_3d=3,
        scope=Scope.FULL,
        roller_height=6,
        remaining_s=1200,
        preset_timer_s=1200,
    )
    base.update(fields)
    return RongtaiStatus(**base)


def target(state: DeviceState = KNEAD_SHOULDERS) -> ChairTarget:
    return ChairTarget.from_state(state)


def test_power_only_when_off_nothing_while_resetting_refused_in_fault():
    assert next_action(OFF, target(), T) == Press(0x01, "power on", "power")
    assert isinstance(next_action(RESETTING, target(), T), Wait)
    assert isinstance(next_action(FAULT, target(), T), Refuse)
    assert isinstance(next_action(RongtaiStatus(powered=True, run_state=9), target(), T), Wait)


def test_from_ready_the_technique_comes_first_then_levels():
    assert next_action(READY, target(), T).key == 0x20  # knead starts the chair
    s = running(strength_3d=3)
    assert next_action(s, target(), T) == Press(0x59, "3D strength 2", "level")
    s = running(strength_3d=2, speed=1)
    assert next_action(s, target(), T).key == 0x31  # speed 4


def test_the_running_technique_is_never_pressed_again():
    for status in (running(), running(strength_3d=0), running(speed=4, strength_3d=2)):
        action = next_action(status, target(), T, strength_seen=2)
        assert not (isinstance(action, Press) and action.key == 0x20), action


def test_a_technique_key_in_an_auto_program_makes_it_manual():
    program = running(program_code=3, technique="knead")
    assert next_action(program, target(), T).key == 0x20


def test_rollers_off_by_pressing_the_running_technique_again():
    heat_only = target(DeviceState(heat=Heat.LOW))
    action = next_action(running(technique="tap"), heat_only, T)
    assert action.key == 0x23 and action.kind == "technique"
    # in an auto program (or a technique without a key) a technique key first makes it manual
    assert next_action(running(program_code=2, technique="shiatsu"), heat_only, T).key == 0x20
    assert next_action(running(technique="back-rub"), heat_only, T).key == 0x20
    assert next_action(running(technique=None), heat_only, T).key == T.heat_toggle


def test_width_only_for_knock_shiatsu_tap_and_speed_not_for_shiatsu():
    knead = target(
        DeviceState(technique=Technique.KNEAD, zones=frozenset(Zone), intensity=3, speed=2, width=Width.WIDE)
    )
    assert knead.width == 0 and knead.speed == 2
    shiatsu = target(
        DeviceState(technique=Technique.SHIATSU, zones=frozenset({Zone.NECK}), intensity=3, speed=5)
    )
    assert shiatsu.speed == 0
    knock = target(
        DeviceState(
            technique=Technique.KNOCK, zones=frozenset({Zone.NECK}), intensity=3, speed=5, width=Width.NARROW
        )
    )
    s = running(technique="knock", strength_3d=3, speed=5, width=2)
    assert next_action(s, knock, T).key == 0x2B


def test_3d_strength_blink_is_not_read_as_zero():
    s = running(strength_3d=0, speed=4, scope=Scope.POINT, roller_height=9)
    action = next_action(s, target(), T, strength_seen=2)
    assert not (isinstance(action, Press) and action.key in T.strengths_3d)


def test_airbag_zones_then_their_strength_then_heat_then_timer():
    s = running(strength_3d=2, speed=4, scope=Scope.POINT, roller_height=9)
    assert next_action(s, target(), T).key == 0x40
    s = running(
        strength_3d=2,
        speed=4,
        scope=Scope.POINT,
        roller_height=9,
        airbag_zones=AirbagZone.LEGS,
        airbag_strength=1,
    )
    assert next_action(s, target(), T).key == 0x46
    s = running(
        strength_3d=2,
        speed=4,
        scope=Scope.POINT,
        roller_height=9,
        airbag_zones=AirbagZone.LEGS,
        airbag_strength=2,
    )
    assert next_action(s, target(), T).key == T.heat_toggle
    s = running(
        strength_3d=2,
        speed=4,
        scope=Scope.POINT,
        roller_height=9,
        airbag_zones=AirbagZone.LEGS,
        airbag_strength=2,
        heat=True,
    )
    assert next_action(s, target(), T) is None
    assert next_action(s, target(), T, timer_due=True, session_s=900).key == 0x51


def test_the_full_body_airbag_program_gives_way_to_zones_or_is_switched_off():
    s = running(
        strength_3d=2, speed=4, scope=Scope.POINT, roller_height=9, airbag_auto=True, airbag_strength=2
    )
    assert next_action(s, target(), T).key == 0x40
    no_bags = target(
        DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SHOULDERS}), intensity=2, speed=4)
    )
    assert next_action(s, no_bags, T).key == T.airbag_off


def test_timer_chosen_for_the_session():
    assert chair_timer_for(T, 300) == (600, 0x50)
    assert chair_timer_for(T, 1200) == (1200, 0x51)
    assert chair_timer_for(T, 5000) == (1800, 0x52)
    assert chair_timer_for(T, None) == (1800, 0x52)


def test_point_and_partial_walk_the_roller_with_a_stop_key():
    t = target()
    assert t.scope == Scope.POINT and t.centre == 9
    s = running(strength_3d=2, speed=4, scope=Scope.FULL, roller_height=2)
    assert next_action(s, t, T).key == 0x29  # hold first
    s = running(strength_3d=2, speed=4, scope=Scope.POINT, roller_height=2)
    move = next_action(s, t, T)
    assert (
        isinstance(move, Move) and (move.start_key, move.stop_key) == (0x60, 0x61) and move.target_height == 9
    )


def test_stop_plan():
    assert stop_plan(OFF, T) == [] and stop_plan(FAULT, T) == []
    assert [type(a) for a in stop_plan(RESETTING, T)] == [Wait]  # never a key in the reset
    assert [a.key for a in stop_plan(running(), T)] == [0x01]
    assert [a.key for a in stop_plan(READY, T)] == [0x01]
    moving = running(backrest=Motion.DOWN, leg_rest=Motion.UP)
    assert [a.key for a in stop_plan(moving, T)] == [0x67, 0x69, 0x01]
    assert next_action(running(), ChairTarget(), T).key == 0x01


def test_program_action_powers_on_then_program_then_timer():
    assert program_action(OFF, "relax", T).key == 0x01
    assert program_action(READY, "relax", T).key == 0x12
    assert program_action(running(), "relax", T).key == 0x12
    assert program_action(running(program_code=3), "relax", T) is None
    assert program_action(running(program_code=3), "relax", T, timer_due=True, session_s=600).key == 0x50
    assert isinstance(program_action(RESETTING, "relax", T), Wait)
    with pytest.raises(ValueError):
        program_action(OFF, "nap", T)


def test_scope_and_zones():
    assert scope_for(frozenset({Zone.NECK})) == (Scope.POINT, 11)
    assert scope_for(frozenset({Zone.LOWER_BACK})) == (Scope.POINT, 1)
    assert scope_for(frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}))[0] == Scope.PARTIAL
    assert scope_for(frozenset({Zone.NECK, Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK}))[0] == Scope.FULL
    assert zones_at(Scope.POINT, 12) == {Zone.NECK} and zones_at(Scope.POINT, 0) == {Zone.LOWER_BACK}
    assert zones_at(Scope.FULL, 3) == {
        Zone.NECK,
        Zone.SHOULDERS,
        Zone.UPPER_BACK,
        Zone.MID_BACK,
        Zone.LOWER_BACK,
    }


def test_airbag_strength_is_the_lowest_asked_and_unknown_words_refused():
    t = target(DeviceState(airbags=((Zone.CALVES, 4), (Zone.ARMS, 2))))
    assert t.airbag_strength == 2 and t.airbag_zones == AirbagZone.LEGS | AirbagZone.ARMS
    with pytest.raises(ValueError):
        target(DeviceState(technique=Technique.ROLL, zones=frozenset({Zone.NECK}), intensity=2))
    with pytest.raises(ValueError):
        target(DeviceState(airbags=((Zone.THIGHS, 2),)))


def test_is_stopped():
    assert is_stopped(OFF) and is_stopped(READY) and is_stopped(RESETTING) and is_stopped(FAULT)
    assert not is_stopped(running()) and not is_stopped(RongtaiStatus(powered=True, run_state=2, heat=True))


# ------------------------------------------------- convergence on the simulated board


class Bench:
    """The plan driving a simulated board, one key at a time, as the driver would."""

    def __init__(self, model: str = "rongtai-rt8600s") -> None:
        self.board = Board(BOARDS[model])
        self.table = RT6923_KEYS if model == "rongtai-rt6923" else RT8600S_KEYS
        self.t = 0.0
        self.seen = 0

    def wait(self, seconds: float) -> None:
        self.t += seconds
        self.board.advance(self.t)

    def status(self) -> RongtaiStatus:
        body = self.board.body()
        frame = (
            bytes([0xF0, *body, (~sum(body)) & 0x7F, 0xF1])
            if len(body) == 14
            else bytes([0xF0, *body, 0, 0xF1])
        )
        status = decode_status(frame)
        if status.strength_3d:
            self.seen = status.strength_3d
        return status

    def run(self, plan, limit: int = 60) -> list:
        done = []
        for _ in range(limit):
            action = plan(self.status(), self.seen)
            if action is None:
                return done
            done.append(action)
            if isinstance(action, Refuse):
                raise AssertionError(action)
            if isinstance(action, Wait):
                self.wait(0.5)
            elif isinstance(action, Move):
                self.board.press(action.start_key, self.t)
                for _ in range(int(action.max_s / 0.1)):
                    self.wait(0.1)
                    if abs(self.board.height - action.target_height) <= 1:
                        break
                self.board.press(action.stop_key, self.t)
                self.wait(0.2)
            else:
                self.board.press(action.key, self.t)
                self.wait(0.3)
        raise AssertionError(f"no convergence: {done[-6:]}")


def _reach(bench: Bench, state: DeviceState) -> list:
    t = ChairTarget.from_state(state)
    return bench.run(lambda s, seen: next_action(s, t, bench.table, strength_seen=seen))


STATES = st.builds(
    DeviceState,
    technique=st.sampled_from([Technique.KNEAD, Technique.KNOCK, Technique.SHIATSU, Technique.TAP]),
    zones=st.sampled_from(
        [
            frozenset({Zone.NECK}),
            frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
            frozenset({Zone.LOWER_BACK}),
            frozenset({Zone.NECK, Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK, Zone.LOWER_BACK}),
        ]
    ),
    intensity=st.integers(1, 5),
    speed=st.integers(1, 6),
    width=st.sampled_from([None, Width.NARROW, Width.WIDE]),
    airbags=st.sampled_from([(), ((Zone.CALVES, 3),), ((Zone.ARMS, 2), (Zone.SEAT, 4))]),
    heat=st.sampled_from([Heat.OFF, Heat.LOW]),
)
REMOTE_KEYS = st.lists(
    st.sampled_from([0x01, 0x20, 0x21, 0x22, 0x27, 0x40, 0x44, 0x12, 0x29, 0x33]), max_size=6
)


@settings(max_examples=60, deadline=None)
@given(presses=REMOTE_KEYS, state=STATES)
def test_any_chair_state_converges_without_a_key_in_a_reset(presses, state):
    bench = Bench()
    for key in presses:  # someone used the chair's own remote first
        bench.board.press(key, bench.t)
        bench.wait(0.3)
    first = len(bench.board.events)
    _reach(bench, state)
    ours = bench.board.events[first:]
    assert not [e for e in ours if "during the reset" in e.detail]
    s = bench.status()
    t = ChairTarget.from_state(state)
    assert s.running and s.technique == t.technique and s.manual
    assert bench.seen == t.intensity
    if t.speed:
        assert s.speed == t.speed
    assert s.heat == (state.heat is not Heat.OFF)
    assert s.airbag_zones == t.airbag_zones
    # the wanted technique, once running, was never pressed again (no toggle back off)
    assert not any("pressed again" in e.detail for e in ours)


def test_stop_on_the_board_waits_through_the_reset_and_presses_power_once():
    bench = Bench()
    _reach(bench, KNEAD_SHOULDERS)
    keys_before = len([e for e in bench.board.events if e.kind == "key"])
    actions = bench.run(lambda s, seen: (stop_plan(s, bench.table) or [None])[-1])
    assert [a.key for a in actions if isinstance(a, Press)] == [0x01]
    assert any(isinstance(a, Wait) for a in actions)
    assert bench.status().off and len([e for e in bench.board.events if e.kind == "key"]) == keys_before + 1


def test_rt6923_converges_too():
    bench = Bench("rongtai-rt6923")
    state = DeviceState(technique=Technique.SHIATSU, zones=frozenset({Zone.NECK}), intensity=4, heat=Heat.LOW)
    _reach(bench, state)
    s = bench.status()
    assert s.technique == "shiatsu" and s.heat and bench.seen == 4


def test_a_stopped_target_on_a_running_chair_is_power_once():
    bench = Bench()
    _reach(bench, KNEAD_SHOULDERS)
    t = ChairTarget.from_state(DEVICE_STOPPED)
    actions = bench.run(lambda s, seen: next_action(s, t, bench.table) if not s.resetting else None)
    assert [a.key for a in actions] == [0x01]
