"""The simulated main board (massager_ctl.devices.rongtai.firmware) behaves as the
firmware does (wangqian2528/RT6923 Application/src/main.c, wangqian2528/RT6911 main.c),
and its own status builder's frames read, with the host's decoder, as the real chair's
captured frames do (tests/rongtai_captures.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rongtai_captures import CAPTURES

from massager_ctl.devices.rongtai.codec import RunState, StatusDecoder, decode_status, encode_key
from massager_ctl.devices.rongtai.firmware import (
    BOARDS,
    STATE_OFF,
    STATE_RUN,
    STATE_SETTLE,
    STATE_WAIT_COMMAND,
    SUB_NONE,
    Board,
    Timing,
)

POWER, KNEAD, KNOCK, SHIATSU, TAP, KNEAD_KNOCK, HEAT = 0x01, 0x20, 0x21, 0x22, 0x23, 0x24, 0x27
PARTIAL, POINT, FULL = 0x28, 0x29, 0x2A
NARROW, MEDIUM, WIDE = 0x2B, 0x2C, 0x2D
SPEED = {n: 0x2D + n for n in range(1, 7)}
STRENGTH_3D = {n: 0x57 + n for n in range(1, 6)}
AIR_LEG, AIR_ARM, AIR_BACK, AIR_SEAT, AIR_AUTO = 0x40, 0x41, 0x42, 0x43, 0x44
AIR_STRENGTH = {n: 0x44 + n for n in range(1, 6)}
AIR_OFF = 0x4A
TIMER_10, TIMER_20, TIMER_30 = 0x50, 0x51, 0x52
BACK_DOWN_START, BACK_DOWN_STOP = 0x66, 0x67
WALK_DOWN_START, WALK_DOWN_STOP = 0x62, 0x63
ZERO_G = 0x70


class Chair:
    """A board and a clock: press keys on the remote, let time pass, read the status."""

    def __init__(self, model: str = "infinity-evolution", **timing: float) -> None:
        self.board = Board(BOARDS[model], timing=Timing(**timing))
        self.t = 0.0

    def wait(self, seconds: float) -> Chair:
        self.t += seconds
        self.board.advance(self.t)
        return self

    def press(self, *keys: int, gap: float = 0.2) -> Chair:
        for key in keys:
            self.board.press(key, self.t)
            self.wait(gap)
        return self

    def status(self):
        frame = self.board.frame(self.t)
        if len(frame) == 10:  # an info frame: the status is unchanged; the next tick sends it
            frame = self.board.frame(self.t)
        return decode_status(frame)


def on(model: str = "infinity-evolution") -> Chair:
    return Chair(model).press(POWER)


# ------------------------------------------------------------------ off and ready


def test_power_goes_straight_to_ready_without_a_reset():
    chair = Chair()
    assert chair.status().off and not chair.status().powered
    chair.press(POWER, gap=0.04)
    assert chair.board.state == STATE_OFF  # Main_Sleep: five 10 ms ticks first
    chair.wait(0.02)
    s = chair.status()
    assert s.ready and s.powered and s.remaining_s == 0
    assert not [e for e in chair.board.events if e.kind == "reset"]


def test_off_ignores_massage_keys_but_wakes_on_the_motor_keys():
    chair = Chair().press(KNEAD, HEAT, ZERO_G)
    assert chair.board.state == STATE_OFF
    chair.press(BACK_DOWN_START)
    assert chair.board.state == STATE_WAIT_COMMAND
    assert not chair.board.motors  # the key woke it; it did not move anything


def test_ready_ignores_levels_and_a_timer_key_sets_only_the_preset():
    chair = on().press(SPEED[5], WIDE, POINT, STRENGTH_3D[1], AIR_STRENGTH[4], TIMER_10)
    s = chair.status()
    assert s.ready and s.speed == 0 and s.scope == 0 and s.strength_3d == 3
    assert s.preset_timer_s == 600 and s.remaining_s == 0
    ignored = [e for e in chair.board.events if e.kind == "ignored"]
    assert len(ignored) == 5


def test_a_technique_starts_the_chair_and_the_preset_timer_runs():
    chair = on().press(TIMER_10, KNEAD)
    s = chair.status()
    assert s.running and s.technique == "knead" and s.manual and s.speed == 1  # knead starts at 1
    assert 598 <= s.remaining_s <= 600 and s.scope == 1
    other = on().press(KNOCK).status()
    assert other.technique == "knock" and other.speed == 2  # the others start at 2


@pytest.mark.parametrize(
    "key, check",
    [
        (HEAT, lambda s: s.heat),
        (AIR_LEG, lambda s: s.airbag_zones == 0x04 and s.airbag_strength == 1),
        (AIR_AUTO, lambda s: s.airbag_auto and s.foot_roller_on),
        (0x36, lambda s: s.foot_roller_on and s.foot_roller_speed == 3),
        (0x12, lambda s: s.program == "relax"),
    ],
)
def test_ready_starts_on_programs_heat_airbags_and_the_foot_roller(key, check):
    s = on().press(key).status()
    assert s.running and check(s)


def test_a_minute_in_ready_without_a_key_and_the_board_goes_off():
    chair = on().wait(59.0)
    assert chair.status().ready
    chair.wait(1.5)
    assert chair.status().off
    assert not [e for e in chair.board.events if e.kind == "reset"]


# ------------------------------------------------------------------ running


def test_the_running_technique_pressed_again_stops_the_rollers():
    chair = on().press(KNEAD)
    assert chair.status().technique == "knead"
    s = chair.press(KNEAD).status()
    assert s.running and s.technique is None and s.speed == 0
    assert chair.press(KNOCK).status().technique == "knock"
    assert chair.press(SHIATSU).status().technique == "shiatsu"  # another: switches


def test_width_only_for_knock_shiatsu_and_tap_speed_not_during_shiatsu():
    chair = on().press(KNEAD, WIDE)
    assert chair.board.width_key == 2  # knead: width key ignored (the default medium)
    chair.press(KNOCK, WIDE)
    assert chair.status().width == 3
    chair.press(SHIATSU, SPEED[5])
    assert chair.status().speed != 5
    chair.press(TAP, SPEED[5])
    assert chair.status().speed == 5


def test_levels_take_while_running():
    s = on().press(KNEAD, STRENGTH_3D[4], SPEED[6], PARTIAL).status()
    assert (s.speed, s.scope) == (6, 2)
    s = on().press(AIR_SEAT, AIR_STRENGTH[4]).status()
    assert s.airbag_strength == 4


def test_airbag_zone_keys_toggle_while_running():
    chair = on().press(KNEAD, AIR_LEG, AIR_ARM, AIR_SEAT)
    assert chair.status().airbag_zones == 0x04 | 0x10 | 0x20
    chair.press(AIR_ARM)
    assert chair.status().airbag_zones == 0x04 | 0x20
    chair.press(AIR_LEG, AIR_SEAT)
    s = chair.status()
    assert s.airbag_zones == 0 and s.airbag_strength == 0  # the last one off: strength 0
    chair.press(AIR_AUTO)
    assert chair.status().airbag_auto
    chair.press(AIR_AUTO)
    assert not chair.status().airbags_on
    chair.press(AIR_LEG, AIR_OFF)
    assert not chair.status().airbags_on


def test_the_rt6923_board_ignores_the_back_airbag_key():
    chair = on("rongtai-rt6923").press(KNEAD, AIR_BACK)
    assert chair.status().airbag_zones == 0


def test_3d_strength_blinks_value_and_zero_for_three_seconds():
    chair = on().press(KNEAD, gap=0.0)
    chair.board.press(STRENGTH_3D[5], chair.t)
    seen = []
    for _ in range(40):
        seen.append(decode_status(_status_frame(chair)).strength_3d)
        chair.wait(0.1)
    assert seen[:5] == [5] * 5 and seen[5:10] == [0] * 5 and seen[10:15] == [5] * 5
    assert set(seen[30:]) == {5}


def _status_frame(chair: Chair) -> bytes:
    body = chair.board.body()
    return bytes([0xF0, *body, (~sum(body)) & 0x7F, 0xF1])


# ------------------------------------------------------------------ the reset


def test_power_while_running_resets_then_goes_off():
    chair = on().press(KNEAD, HEAT, AIR_LEG, TIMER_20).press(POWER)
    s = chair.status()
    assert s.resetting and s.powered and s.stop_on_its_way
    assert not s.heat and not s.airbags_on and s.remaining_s == 0
    assert s.technique == "knead"  # still shown while the heads park, as on the Infinity
    chair.wait(5.0)
    assert chair.status().off and chair.board.state == STATE_OFF


def test_the_reset_returns_a_reclined_backrest_home():
    chair = on().press(BACK_DOWN_START).wait(6.0).press(BACK_DOWN_STOP)
    reclined = chair.board.positions["backrest"]
    assert reclined > 0.2
    chair.press(KNEAD, POWER)
    assert chair.status().resetting
    chair.wait(10.0)
    assert chair.status().off and chair.board.positions["backrest"] == 0.0


def test_any_key_during_the_reset_powers_off_at_once_and_abandons_the_return_home():
    chair = on().press(BACK_DOWN_START).wait(6.0).press(BACK_DOWN_STOP, KNEAD, POWER)
    assert chair.status().resetting
    chair.press(0x63)  # a harmless-looking "roller down stop"
    assert chair.status().off
    assert chair.board.positions["backrest"] > 0.1  # left reclined
    assert any("during the reset" in e.detail for e in chair.board.events)


def test_the_chairs_own_timer_ends_in_a_reset_that_leaves_the_backrest():
    chair = on().press(TIMER_10, BACK_DOWN_START).wait(3.0).press(BACK_DOWN_STOP, KNEAD)
    before = chair.board.positions["backrest"]
    chair.wait(600.0)
    assert chair.board.state in (STATE_SETTLE, STATE_OFF)
    assert any(e.kind == "timer" and e.detail == "expired" for e in chair.board.events)
    chair.wait(5.0)
    assert chair.status().off and chair.board.positions["backrest"] == before


def test_the_reset_is_guarded_at_two_minutes():
    chair = Chair(actuator_travel_s=1000.0).press(POWER, KNEAD, BACK_DOWN_START).wait(200.0)
    chair.press(BACK_DOWN_STOP, POWER)
    chair.wait(119.0)
    assert chair.status().resetting
    chair.wait(2.0)
    assert chair.status().off


# ------------------------------------------------------------------ link behaviour


def test_an_unchanged_status_alternates_with_info_frames():
    chair = on()
    frames = []
    for _ in range(6):
        frames.append(chair.board.frame(chair.t))
        chair.wait(0.2)
    lengths = [len(f) for f in frames]
    assert lengths[1:] in ([10, 17, 10, 17, 10], [17, 10, 17, 10, 17])
    decoder = StatusDecoder()
    assert len(decoder.feed(b"".join(frames))) == lengths.count(17) and decoder.info_frames == lengths.count(
        10
    )


def test_the_rt6923_sends_18_bytes_every_tick_without_checksum_and_hides_shiatsu_speed():
    chair = on("rongtai-rt6923").press(SHIATSU)
    frames = [chair.board.frame(chair.t) for _ in range(3)]
    assert all(len(f) == 18 and f[16] == 0 for f in frames)
    assert decode_status(frames[0]).speed == 0 and decode_status(frames[0]).technique == "shiatsu"


def test_the_receiver_checks_the_checksum_and_keeps_one_key():
    board = Board(BOARDS["rongtai-rt8600s"])
    bad = bytearray(encode_key(POWER))
    bad[3] ^= 1
    board.feed(bytes(bad), 0.0)
    board.advance(0.1)
    assert board.state == STATE_OFF and board.receiver.bad == 1
    # two frames in one write: the second overwrites the first in the one-key buffer
    board.feed(encode_key(POWER) + encode_key(0x55), 0.2)
    board.advance(0.3)
    assert board.lost_keys == 1 and board.state == STATE_OFF


def test_programming_sources_are_refused():
    board = Board(BOARDS["rongtai-rt8600s"])
    frame = bytes([0xF0, 0xA5, 0x01, (~(0xA5 + 0x01)) & 0x7F, 0xF1])
    board.feed(frame, 0.0)
    board.advance(0.2)
    assert board.state == STATE_OFF


def test_fault_then_power_goes_to_ready():
    chair = on().press(KNEAD)
    chair.board.trip_fault(chair.t)
    s = chair.status()
    assert s.fault and s.technique is None
    chair.press(KNEAD)
    assert chair.status().fault
    chair.press(POWER)
    assert chair.status().ready


# ------------------------------------------------------------------ the captures' meanings


def _walk_to_the_waist(chair: Chair) -> Chair:
    chair.press(KNEAD, POINT, WALK_DOWN_START).wait(3.0).press(WALK_DOWN_STOP)
    return chair


def _zero_gravity(chair: Chair) -> Chair:
    chair.press(TAP, ZERO_G).wait(30.0)
    return chair


SCENARIOS: dict[str, Callable[[], Chair]] = {
    "idle": lambda: Chair(),
    "ready": lambda: on(),
    "running, session start": lambda: on().press(TIMER_10, 0x14, gap=0.5).wait(0.5),
    "resetting": lambda: on().press(SHIATSU, POWER),
    "3D strength 1": lambda: on().press(KNEAD, STRENGTH_3D[1]).wait(3.0),
    "3D strength 5": lambda: on().press(KNEAD, STRENGTH_3D[5]).wait(3.0),
    "program recovery": lambda: on().press(0x10),
    "program lower body": lambda: on().press(0x15),
    "airbag strength 1": lambda: on().press(AIR_SEAT),
    "airbag strength 5": lambda: on().press(AIR_SEAT, AIR_STRENGTH[5]),
    "airbags off": lambda: on().press(KNEAD),
    "ionizer on": lambda: on().press(AIR_LEG, AIR_STRENGTH[2], 0x38),
    "ionizer off": lambda: on().press(KNEAD),
    "heat on": lambda: on().press(HEAT),
    "heat off": lambda: on().press(KNEAD),
    "airbag arms": lambda: on().press(AIR_ARM),
    "airbag back": lambda: on().press(AIR_BACK),
    "airbag legs": lambda: on().press(AIR_LEG),
    "airbag buttocks": lambda: on().press(AIR_SEAT),
    "knead": lambda: on().press(KNEAD),
    "knock": lambda: on().press(KNOCK),
    "knead-knock": lambda: on().press(KNEAD_KNOCK),
    "tap, speed 6, foot roller off": lambda: on().press(TAP, SPEED[6]),
    "shiatsu": lambda: on().press(SHIATSU),
    "3D program": lambda: on().press(0x39),
    "narrow": lambda: on().press(TAP, SPEED[3], NARROW),
    "wide": lambda: on().press(TAP, WIDE),
    "foot roller 3": lambda: on().press(0x36),
    "scope full": lambda: on().press(TAP, FULL),
    "scope partial": lambda: on().press(TAP, PARTIAL),
    "scope point, zero gravity off": lambda: on().press(TAP, POINT),
    "zero gravity on": lambda: _zero_gravity(on()),
    "roller at the neck": lambda: on().press(KNEAD, POINT, gap=0.0).wait(0.1),
    "roller at the waist": lambda: _walk_to_the_waist(on()),
}


def test_every_capture_has_a_scenario():
    assert set(SCENARIOS) == {c.name for c in CAPTURES}


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_the_simulated_board_reads_as_the_real_capture(capture):
    """The board's own frame, read by the host's decoder, means what the capture means."""
    status = SCENARIOS[capture.name]().status()
    for attr, want in capture.meaning.items():
        assert getattr(status, attr) == want, (capture.name, attr, getattr(status, attr), want)


def test_the_simulated_board_reads_as_the_real_chair_field_by_field():
    """Beyond the captures' stated meanings: run state, power and model flags agree too."""
    real = {c.name: decode_status(c.frame) for c in CAPTURES}
    for name in ("idle", "ready", "resetting", "knead", "airbag back"):
        sim = SCENARIOS[name]().status()
        assert (sim.run_state, sim.powered, sim.model_flags) == (
            real[name].run_state,
            real[name].powered,
            real[name].model_flags,
        ), name
    assert RunState(SCENARIOS["knead"]().status().run_state) == RunState.RUNNING
    assert Chair().board.current_sub() == SUB_NONE and on().press(KNEAD).board.state == STATE_RUN
