"""The simulated chair's body: things take time, and safety limits act by themselves."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import pytest

from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from massager_ctl.devices.native.reference import REFERENCE_CAPABILITIES
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.physics import ChairPhysics, PhysicsParams, roller_band, zone_band

CAPS = REFERENCE_CAPABILITIES
PARAMS = PhysicsParams()


def knead(*zones: Zone, intensity: int = 5, speed: int = 3) -> DeviceState:
    return DeviceState(
        technique=Technique.KNEAD,
        zones=frozenset(zones),
        intensity=intensity,
        speed=speed,
        width=Width.MEDIUM,
    )


def bags(**levels: int) -> DeviceState:
    return DeviceState(airbags=tuple((Zone(z), lvl) for z, lvl in levels.items()))


def kinds(physics: ChairPhysics, kind: str):
    return [e for e in physics.trace if e.kind == kind]


# ------------------------------------------------------------------ reference chair


def test_reference_chair_lacks_thighs_and_vibrate_so_mapping_has_work():
    assert Zone.THIGHS not in CAPS.zones and Zone.THIGHS not in CAPS.airbag_zones
    assert Technique.VIBRATE not in CAPS.techniques
    assert set(BACK_ZONES) <= CAPS.zones
    assert CAPS.heat_levels == (Heat.LOW, Heat.HIGH)
    assert CAPS.chair_timer_s == (600, 1200, 1800)


# -------------------------------------------------------------------------- roller


def test_back_zones_split_the_spine_into_bands_neck_to_seat():
    assert zone_band(Zone.NECK) == (0.0, pytest.approx(1 / 6))
    assert zone_band(Zone.SEAT) == (pytest.approx(5 / 6), 1.0)
    assert roller_band(frozenset({Zone.SHOULDERS, Zone.MID_BACK})) == (
        pytest.approx(1 / 6),
        pytest.approx(4 / 6),
    )
    assert roller_band(frozenset({Zone.CALVES})) is None


def test_roller_takes_time_to_reach_the_commanded_zone():
    chair = ChairPhysics(CAPS, start=0.0)
    assert chair.roller_position == PARAMS.roller_park == 0.0
    chair.command(knead(Zone.LOWER_BACK), 0.0)
    lo, hi = zone_band(Zone.LOWER_BACK)
    arrival = lo / PARAMS.roller_speed_per_s
    chair.advance(arrival / 2)
    assert chair.roller_position == pytest.approx(lo / 2)
    chair.advance(arrival - 0.1)
    assert chair.roller_position < lo
    chair.advance(arrival + 0.1)
    assert lo <= chair.roller_position <= hi


def test_running_roller_sweeps_within_its_band_and_covers_it():
    chair = ChairPhysics(CAPS)
    chair.command(knead(Zone.UPPER_BACK, Zone.MID_BACK), 0.0)
    lo, hi = roller_band(frozenset({Zone.UPPER_BACK, Zone.MID_BACK}))
    arrival = lo / PARAMS.roller_speed_per_s
    seen = []
    t = arrival + 0.01
    while t < arrival + 60:
        seen.append(chair.status(t).roller_position)
        t += 0.1
    assert all(lo - 1e-9 <= x <= hi + 1e-9 for x in seen)
    assert min(seen) == pytest.approx(lo, abs=0.01)
    assert max(seen) == pytest.approx(hi, abs=0.01)
    # it moves back and forth, at the roller's speed
    steps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert any(s > 0 for s in steps) and any(s < 0 for s in steps)
    assert max(abs(s) for s in steps) <= PARAMS.roller_speed_per_s * 0.1 + 1e-9


def test_roller_moves_to_a_new_band_and_parks_after_stop():
    chair = ChairPhysics(CAPS)
    chair.command(knead(Zone.SEAT), 0.0)
    chair.advance(20.0)
    assert chair.roller_position >= zone_band(Zone.SEAT)[0]
    chair.command(knead(Zone.NECK), 20.0)
    chair.advance(21.0)
    assert chair.roller_position > zone_band(Zone.NECK)[1]  # still on its way up
    chair.advance(40.0)
    assert chair.roller_position <= zone_band(Zone.NECK)[1]
    chair.stop(40.0)
    before = chair.roller_position
    chair.advance(40.5)
    assert 0.0 < chair.roller_position < before or before == 0.0
    chair.advance(60.0)
    assert chair.roller_position == PARAMS.roller_park


def test_same_calls_same_results_however_often_advance_is_called():
    def run(step: float) -> tuple:
        chair = ChairPhysics(CAPS, PhysicsParams(airbag_max_inflate_s=7.0))
        chair.command(replace(knead(Zone.SHOULDERS, Zone.LOWER_BACK), heat=Heat.HIGH), 0.0)
        chair.command(
            replace(knead(Zone.SHOULDERS, Zone.LOWER_BACK), heat=Heat.HIGH, airbags=((Zone.SEAT, 4),)),
            3.0,
        )
        chair.set_timer(600, 3.0)
        t = 3.0
        while t < 45.0:
            t = min(45.0, t + step)
            chair.advance(t)
        s = chair.status(45.0)
        return (
            s.roller_position,
            dict(s.airbag_pressure)[Zone.SEAT],
            s.heater_temp_c,
            [(round(e.t, 6), e.kind, e.detail) for e in chair.trace],
        )

    coarse, fine = run(45.0), run(0.1)
    assert coarse[0] == pytest.approx(fine[0], abs=1e-6)
    assert coarse[1] == pytest.approx(fine[1], abs=1e-6)
    assert coarse[2] == pytest.approx(fine[2], abs=1e-3)
    assert coarse[3] == fine[3]
    assert run(0.1) == fine  # and exactly repeatable


def test_advance_is_idempotent_and_never_goes_back():
    chair = ChairPhysics(CAPS)
    chair.command(knead(Zone.SEAT), 0.0)
    chair.advance(3.0)
    x = chair.roller_position
    chair.advance(3.0)
    chair.advance(1.0)
    assert chair.roller_position == x and chair.now == 3.0


# ------------------------------------------------------------------------- airbags


def test_airbag_fills_with_its_time_constant_and_vents_with_its_own():
    chair = ChairPhysics(CAPS)
    chair.command(bags(seat=5), 0.0)
    tau = PARAMS.airbag_fill_tau_s
    samples = [chair.status(k / 10) for k in range(0, 76)]  # 0 .. 7.5 s = 5 tau
    seat = [dict(st.airbag_pressure)[Zone.SEAT] for st in samples]
    assert all(b >= a for a, b in zip(seat, seat[1:], strict=False))  # monotonic fill
    assert seat[0] == 0.0 and seat[5] < 30.0  # no instant pressure
    assert tau == 1.5 and seat[15] == pytest.approx(100 * (1 - math.exp(-1)), rel=1e-6)
    assert seat[75] > 99.0
    assert dict(samples[75].airbag_pressure)[Zone.FEET] == 0.0  # the others stay empty
    t0 = 5 * tau
    full = chair.airbag_pressure(Zone.SEAT)
    chair.command(bags(seat=2), t0)  # down to 40 %
    vtau = PARAMS.airbag_vent_tau_s
    expected = 40 + (full - 40) * math.exp(-1)
    assert dict(chair.status(t0 + vtau).airbag_pressure)[Zone.SEAT] == pytest.approx(expected, rel=1e-6)
    assert chair.airbag_pressure(Zone.SEAT) > 40.0


def test_airbag_settles_exactly_at_its_goal_and_reports_the_same_pressures():
    """The exponential only tends to the goal; a bag within PRESSURE_SETTLED of it has
    arrived, and from then on the status hands over the very same pressure list."""
    chair = ChairPhysics(CAPS)
    chair.command(bags(seat=5), 0.0)
    assert chair.airbag_pressure(Zone.SEAT) < 100.0
    first = chair.status(30.0).airbag_pressure
    assert dict(first)[Zone.SEAT] == 100.0  # exactly: settled, not 99.99999...
    assert chair.status(30.1).airbag_pressure is first
    chair.command(bags(seat=2), 30.1)
    assert dict(chair.status(60.0).airbag_pressure)[Zone.SEAT] == 40.0
    assert chair.status(60.1).airbag_pressure is not first


def test_airbag_vents_by_itself_after_its_maximum_inflate_time():
    params = PhysicsParams(airbag_max_inflate_s=10.0)
    chair = ChairPhysics(CAPS, params)
    chair.command(bags(seat=3), 0.0)
    chair.command(bags(seat=3, calves=4), 4.0)  # the calves' inflation starts later
    chair.command(bags(seat=3, calves=4), 6.0)  # a repeat is not a new inflation
    chair.advance(9.9)
    assert dict(chair.target.airbags) == {Zone.SEAT: 3, Zone.CALVES: 4}
    assert chair.airbag_pressure(Zone.SEAT) > 55.0
    chair.advance(12.0)
    assert dict(chair.target.airbags) == {Zone.SEAT: 0, Zone.CALVES: 4}
    cutoffs = kinds(chair, "airbag-cutoff")
    assert [(e.t, "seat" in e.detail) for e in cutoffs] == [(10.0, True)]
    assert chair.airbag_pressure(Zone.SEAT) < 60.0 * math.exp(-1.5)  # venting since t=10
    chair.advance(14.5)
    assert [e.t for e in kinds(chair, "airbag-cutoff")] == [10.0, 14.0]
    assert dict(chair.target.airbags) == {Zone.SEAT: 0, Zone.CALVES: 0}
    # pressing the airbags again is a new inflation
    chair.command(bags(seat=3), 20.0)
    assert dict(chair.target.airbags) == {Zone.SEAT: 3}
    chair.advance(29.0)
    assert dict(chair.target.airbags) == {Zone.SEAT: 3}
    chair.advance(31.0)
    assert dict(chair.target.airbags) == {Zone.SEAT: 0}


def test_raising_a_bag_level_starts_a_new_inflation():
    chair = ChairPhysics(CAPS, PhysicsParams(airbag_max_inflate_s=10.0))
    chair.command(bags(arms=2), 0.0)
    chair.command(bags(arms=4), 8.0)
    chair.advance(17.0)
    assert dict(chair.target.airbags) == {Zone.ARMS: 4}
    chair.advance(18.5)
    assert dict(chair.target.airbags) == {Zone.ARMS: 0}
    assert [e.t for e in kinds(chair, "airbag-cutoff")] == [18.0]


# -------------------------------------------------------------------------- heater


def test_heater_lags_towards_its_setpoint_and_cools_when_off():
    chair = ChairPhysics(CAPS)
    chair.command(DeviceState(heat=Heat.HIGH), 0.0)
    tau, amb = PARAMS.heater_tau_s, PARAMS.ambient_c
    assert chair.status(0.0).heater_temp_c == amb
    assert chair.status(10.0).heater_temp_c < amb + 5  # no instant heat
    expected = amb + (PARAMS.heater_high_c - amb) * (1 - math.exp(-1))
    assert chair.status(tau).heater_temp_c == pytest.approx(expected, abs=1e-2)
    temps = [chair.status(tau + 30 * k).heater_temp_c for k in range(40)]
    assert max(temps) <= PARAMS.heater_high_c
    assert temps[-1] == pytest.approx(PARAMS.heater_high_c, abs=0.1)
    assert not kinds(chair, "heat-cutout")  # the default ceiling is above "high"
    chair.command(DeviceState(heat=Heat.LOW), 2000.0)
    assert chair.status(2000.0 + 10 * tau).heater_temp_c == pytest.approx(PARAMS.heater_low_c, abs=0.1)
    chair.stop(3000.0)
    assert chair.status(3010.0).heater_temp_c < PARAMS.heater_low_c
    assert chair.status(3000.0 + 10 * PARAMS.heater_cool_tau_s).heater_temp_c == pytest.approx(amb, abs=0.1)


def test_heater_cuts_out_at_its_ceiling_and_refuses_heat_until_cooled():
    params = PhysicsParams(heater_high_c=50.0, heater_cutout_c=42.0, heater_reset_c=5.0)
    chair = ChairPhysics(CAPS, params)
    running = replace(knead(Zone.MID_BACK), heat=Heat.HIGH)
    chair.command(running, 0.0)
    t_cut = params.heater_tau_s * math.log((50.0 - 22.0) / (50.0 - 42.0))
    chair.advance(t_cut - 1.0)
    assert chair.heat_on and chair.heater_temp_c < 42.0
    chair.advance(t_cut + 1.0)
    (event,) = kinds(chair, "heat-cutout")
    assert event.t == pytest.approx(t_cut)
    assert not chair.heat_on and chair.target.heat is Heat.OFF
    assert chair.motors_on  # only the heater is cut
    assert chair.heater_temp_c < 42.0  # cooling again
    assert chair.status(t_cut + 1.0).extra["heat_cutout"] is True
    # asking again while still hot is accepted as a command but the heat stays off
    chair.command(running, t_cut + 2.0)
    assert not chair.heat_on and kinds(chair, "heat-refused")
    # once it has cooled below 42 - 5 it heats again
    cooled = t_cut + params.heater_cool_tau_s * math.log((42.0 - 22.0) / (37.0 - 22.0)) + 1.0
    chair.command(running, cooled)
    assert chair.heat_on
    assert max(e.snapshot["heater_temp_c"] for e in chair.trace) <= 42.0 + 1e-6


# --------------------------------------------------------------------------- timer


def test_chair_timer_ends_the_session():
    chair = ChairPhysics(CAPS)
    chair.command(replace(knead(Zone.SHOULDERS), airbags=((Zone.ARMS, 2),), heat=Heat.LOW), 0.0)
    chair.set_timer(600, 0.0)
    assert chair.status(100.0).remaining_s == 500
    assert chair.status(599.5).running
    status = chair.status(600.5)
    assert not status.running and status.state.is_stopped
    assert status.remaining_s is None
    (stop,) = kinds(chair, "stop")
    assert stop.t == 600.0 and stop.detail == "timer"
    chair.advance(700.0)
    assert chair.stopped


def test_stop_clears_the_timer_and_set_timer_none_disarms_it():
    chair = ChairPhysics(CAPS)
    chair.command(knead(Zone.SEAT), 0.0)
    chair.set_timer(600, 0.0)
    chair.set_timer(None, 10.0)
    chair.advance(1000.0)
    assert chair.motors_on
    chair.set_timer(1200, 1000.0)
    chair.stop(1010.0)
    chair.command(knead(Zone.SEAT), 1020.0)
    chair.advance(3000.0)
    assert chair.motors_on and [e.detail for e in kinds(chair, "stop")] == ["stop"]


@pytest.mark.parametrize("seconds", [0, -5, float("nan"), "600"])
def test_bad_timer_lengths_are_refused(seconds):
    with pytest.raises(ValueError, match="chair timer"):
        ChairPhysics(CAPS).set_timer(seconds, 0.0)


# ------------------------------------------------------------------ stop and state


def test_stop_turns_everything_off_and_stopped_waits_for_the_airbags():
    chair = ChairPhysics(CAPS)
    chair.command(replace(knead(Zone.SEAT), airbags=((Zone.SEAT, 5),), heat=Heat.HIGH), 0.0)
    chair.advance(10.0)
    assert chair.status(10.0).running and not chair.stopped
    chair.stop(10.0, reason="deadman")
    status = chair.status(10.0)
    assert not status.running and status.stopped  # the command is off at once ...
    assert not chair.stopped  # ... but the seat bag is still full
    chair.advance(10.0 + PARAMS.airbag_vent_tau_s * math.log(100 / 1.9))
    assert chair.stopped
    assert kinds(chair, "stop")[-1].detail == "deadman"
    assert kinds(chair, "stop")[-1].snapshot["running"] is False


def test_trace_snapshots_hold_readings_at_the_time():
    chair = ChairPhysics(CAPS)
    chair.command(bags(feet=5), 0.0)
    chair.command(bags(feet=5, seat=1), 3.0)
    first, second = kinds(chair, "command")
    assert first.t == 0.0 and first.snapshot["airbag_pressure"]["feet"] == 0.0
    assert second.t == 3.0 and second.snapshot["airbag_pressure"]["feet"] > 80.0
    assert "feet=5" in second.detail and "seat=1" in second.detail


def test_max_intensity_seen_counts_accepted_commands_only():
    chair = ChairPhysics(CAPS)
    chair.command(knead(Zone.NECK, intensity=7), 0.0)
    chair.command(knead(Zone.NECK, intensity=3), 1.0)
    with pytest.raises(ValueError):
        chair.command(knead(Zone.NECK, intensity=11), 2.0)
    assert chair.max_intensity_seen == 7
    assert chair.target.intensity == 3


NO_EXTRAS = Capabilities(
    zones=frozenset({Zone.MID_BACK}),
    techniques=frozenset({Technique.ROLL}),
    intensity_steps=3,
    speed_steps=2,
)


@pytest.mark.parametrize(
    ("caps", "state", "message"),
    [
        (CAPS, knead(Zone.THIGHS), "zone thighs not supported"),
        (CAPS, replace(knead(Zone.SEAT), technique=Technique.VIBRATE), "technique vibrate"),
        (CAPS, knead(Zone.SEAT, intensity=11), "intensity 11 out of range 0..10"),
        (CAPS, knead(Zone.SEAT, intensity=-1), "intensity -1 out of range"),
        (CAPS, knead(Zone.SEAT, speed=6), "speed 6 out of range 0..5"),
        (CAPS, replace(knead(Zone.SEAT), intensity=2.5), "intensity must be a whole number"),
        (CAPS, replace(knead(Zone.SEAT), intensity=True), "intensity must be a whole number"),
        (CAPS, knead(intensity=4), "needs at least one zone"),
        (CAPS, bags(feet=6), "airbag level for feet 6 out of range 0..5"),
        (CAPS, bags(thighs=1), "airbag zone thighs not supported"),
        (CAPS, DeviceState(airbags=((Zone.SEAT, 1), (Zone.SEAT, 2))), "given twice"),
        (NO_EXTRAS, DeviceState(heat=Heat.LOW), "heat low not supported"),
        (
            NO_EXTRAS,
            replace(knead(Zone.MID_BACK, intensity=1, speed=2), technique=Technique.ROLL),
            "width medium not supported",
        ),
        (NO_EXTRAS, bags(seat=1), "airbag zone seat not supported"),
    ],
)
def test_commands_beyond_the_chair_are_refused_clearly(caps, state, message):
    chair = ChairPhysics(caps)
    with pytest.raises(ValueError, match=message):
        chair.command(state, 0.0)
    assert chair.target.is_stopped and not kinds(chair, "command")


def test_bad_params_are_refused():
    with pytest.raises(ValueError, match="roller_speed_per_s"):
        PhysicsParams(roller_speed_per_s=0)
    with pytest.raises(ValueError, match="roller_park"):
        PhysicsParams(roller_park=1.5)


def test_physics_follows_the_loop_clock_in_virtual_time():
    async def scenario():
        loop = asyncio.get_running_loop()
        chair = ChairPhysics(CAPS, start=loop.time())
        chair.command(replace(knead(Zone.LOWER_BACK), heat=Heat.HIGH), loop.time())
        chair.set_timer(1200, loop.time())
        positions = []
        for _ in range(25 * 60 * 10):  # 25 minutes at 10 Hz
            await asyncio.sleep(0.1)
            positions.append(chair.status(loop.time()).roller_position)
        return chair, positions

    chair, positions = run_virtual(scenario())
    assert [e.detail for e in kinds(chair, "stop")] == ["timer"]
    assert kinds(chair, "stop")[0].t == pytest.approx(1200.0)
    assert positions[-1] == PARAMS.roller_park
