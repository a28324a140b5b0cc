"""Closed-loop reconciliation for Rongtai / Infinity chairs: pure logic, no I/O.

A Rongtai chair is driven with remote-control key presses: toggles (power,
heat, airbag zones) and direct-level keys (speed, width, 3D strength, airbag
strength, timer). Pressing a toggle blindly can switch something *on*, so
the driver never presses from a plan: it compares the chair's latest status
frame with the target and asks this module for the next step.

:func:`next_action` returns one of

* :class:`Press` - press one key, then wait for the status to change;
* :class:`Move` - run a motor (start key) until the status reaches a roller
  height or ``max_s`` runs out, then *always* press its stop key;
* :class:`Wait` - press nothing now (the chair is resetting: keys would be dropped);
* :class:`Refuse` - the chair reports a fault;
* ``None`` - the chair already matches the target.

Order of work while powered (levels before motion, so a technique never starts
at the chair's default strength when a lower one is wanted):

1. power on (only if the status says off); nothing while resetting;
2. the chair-side session timer (10/20/30 min: the smallest that covers the
   session, else 30) once per power-on, so a lost link still ends it;
3. 3D strength, speed, width (direct-level keys);
4. technique (pressed only when the status shows another one);
5. scope and roller position (full back; or hold at a point, walk the roller
   to the zones' centre with a bounded move, then partial/point);
6. airbag strength first, then zone toggles (or "airbags off");
7. heat (a toggle: pressed only when the status differs).

There is no "rollers off" key: a target without a technique while the
rollers run is reached by switching the chair off (it resets) and on again.

Stop (:func:`stop_actions`): stop keys of every actuator the status shows
moving; heat toggle if heat is on (while the chair still takes keys); then
power (the chair ends the session, returns the rollers home and resets).
Stopped (:func:`is_stopped`): not powered, heat off, no airbag zone, no
actuator moving, rollers not active. A chair resetting towards off counts as
stopped: its rollers are only parking.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.status import DeviceState
from ...core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from .codec import (
    MAX_ROLLER_HEIGHT,
    Actuator,
    AirbagZone,
    KeyTable,
    RongtaiStatus,
    RunState,
    Scope,
)

#: Steps either side of the centre a partial scope works (UNSURE: the chair's real span
#: is not documented; the simulator uses this value).
PARTIAL_HALF_SPAN = 5
#: How close the roller must be to the wanted centre before a point/partial scope is chosen.
POINT_TOLERANCE = 1
#: A partial scope sweeps: any height within the span (plus slack) counts as in place.
PARTIAL_TOLERANCE = PARTIAL_HALF_SPAN + 2
#: Longest roller walk (the whole backrest at about 10 steps/s takes ~3 s).
DEFAULT_MAX_WALK_S = 6.0

#: Chair airbag zone -> the vocabulary zones it squeezes. Status reports all of them.
AIRBAG_ZONE_WORDS: dict[AirbagZone, tuple[Zone, ...]] = {
    AirbagZone.LEGS: (Zone.CALVES, Zone.FEET),
    AirbagZone.ARMS: (Zone.ARMS, Zone.SHOULDERS),
    AirbagZone.BACK: (Zone.LOWER_BACK,),
    AirbagZone.BUTTOCKS: (Zone.SEAT,),
}
ZONE_TO_AIRBAG: dict[Zone, AirbagZone] = {
    word: chair for chair, words in AIRBAG_ZONE_WORDS.items() for word in words
}
#: The order zone toggles are pressed in.
AIRBAG_ORDER = (AirbagZone.LEGS, AirbagZone.ARMS, AirbagZone.BACK, AirbagZone.BUTTOCKS)

#: Vocabulary technique -> chair technique name (knead-knock and rhythm have no word).
TECHNIQUE_NAMES: dict[Technique, str] = {
    Technique.KNEAD: "knead",
    Technique.KNOCK: "knock",
    Technique.SHIATSU: "shiatsu",
    Technique.TAP: "tap",
}
TECHNIQUE_WORDS: dict[str, Technique] = {name: t for t, name in TECHNIQUE_NAMES.items()}

WIDTH_LEVELS: dict[Width, int] = {Width.NARROW: 1, Width.MEDIUM: 2, Width.WIDE: 3}
WIDTH_WORDS: dict[int, Width] = {level: w for w, level in WIDTH_LEVELS.items()}

#: RT6923 status heat level (byte 15) -> vocabulary (medium reads as low: never hotter).
HEAT_LEVEL_WORDS: dict[int, Heat] = {1: Heat.LOW, 2: Heat.LOW, 3: Heat.HIGH}
HEAT_WORD_LEVELS: dict[Heat, int] = {Heat.LOW: 1, Heat.HIGH: 3}

#: Actuator bit -> motor names whose stop keys end it (direction unknown: both).
ACTUATOR_MOTORS: dict[Actuator, tuple[str, ...]] = {
    Actuator.ROLLER_UP: ("roller_up",),
    Actuator.ROLLER_DOWN: ("roller_down",),
    Actuator.BACKREST_UP: ("backrest_up",),
    Actuator.BACKREST_DOWN: ("backrest_down",),
    Actuator.LEG_REST: ("leg_rest_up", "leg_rest_down"),
    Actuator.LEG_EXTENSION: ("leg_extend", "leg_retract"),
}


# ------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Press:
    key: int
    what: str
    kind: str  # power, timer, level, technique, scope, airbag, heat, motor-stop


@dataclass(frozen=True)
class Move:
    motor: str
    start_key: int
    stop_key: int
    target_height: int | None
    max_s: float
    what: str


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class Refuse:
    reason: str


Action = Press | Move | Wait | Refuse


# ------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ChairTarget:
    """A DeviceState in the chair's own terms."""

    powered: bool = False
    technique: str | None = None
    scope: Scope = Scope.NONE
    centre: int | None = None  # roller height for partial / point
    intensity: int = 0  # 3D strength 1..5 (0: leave as is)
    speed: int = 0  # 1..6 (0: leave as is)
    width: int = 0  # 1..3 (0: leave as is)
    airbag_zones: AirbagZone = AirbagZone.NONE
    airbag_strength: int = 0
    heat: Heat = Heat.OFF

    @classmethod
    def from_state(cls, state: DeviceState) -> ChairTarget:
        """Translate; raises ValueError for what no Rongtai chair can do."""
        technique = None
        scope, centre = Scope.NONE, None
        intensity = speed = width = 0
        if state.technique is not None and state.intensity > 0:
            if state.technique not in TECHNIQUE_NAMES:
                raise ValueError(f"technique {state.technique} is not offered by this chair")
            technique = TECHNIQUE_NAMES[state.technique]
            scope, centre = scope_for(state.zones)
            intensity, speed = state.intensity, state.speed
            width = WIDTH_LEVELS[state.width] if state.width is not None else 0
        zones = AirbagZone.NONE
        levels = []
        for zone, level in state.airbags:
            if level <= 0:
                continue
            if zone not in ZONE_TO_AIRBAG:
                raise ValueError(f"this chair has no airbag in zone {zone}")
            zones |= ZONE_TO_AIRBAG[zone]
            levels.append(level)
        # One strength serves every zone: the lowest asked, so no zone gets more than asked.
        strength = min(levels) if levels else 0
        powered = technique is not None or bool(zones) or state.heat is not Heat.OFF
        return cls(
            powered=powered,
            technique=technique,
            scope=scope,
            centre=centre,
            intensity=intensity,
            speed=speed,
            width=width,
            airbag_zones=zones,
            airbag_strength=strength,
            heat=state.heat,
        )


STOP_TARGET = ChairTarget()


def height_of(fraction: float) -> int:
    """Spine fraction (0.0 neck .. 1.0 seat) -> roller height 0..31."""
    return max(0, min(MAX_ROLLER_HEIGHT, round(fraction * MAX_ROLLER_HEIGHT)))


def zone_span(zone: Zone) -> tuple[float, float]:
    i = BACK_ZONES.index(zone)
    return i / len(BACK_ZONES), (i + 1) / len(BACK_ZONES)


def scope_for(zones: frozenset[Zone]) -> tuple[Scope, int | None]:
    """Full back for four or more zones' worth of spine, a point for one zone, else partial."""
    spans = [zone_span(z) for z in zones if z in BACK_ZONES]
    if not spans:
        return Scope.FULL, None
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    width = (hi - lo) * len(BACK_ZONES)
    if width >= 4 - 1e-9:
        return Scope.FULL, None
    centre = height_of((lo + hi) / 2)
    return (Scope.POINT if width <= 1 + 1e-9 else Scope.PARTIAL), centre


def zones_at(scope: Scope, height: int) -> frozenset[Zone]:
    """The back zones the rollers work for a scope at a roller height (the centre for
    partial / point): full = all; point = the zone at that height; partial = the zones
    overlapping centre +- PARTIAL_HALF_SPAN by more than half a step."""
    if scope == Scope.FULL:
        return frozenset(BACK_ZONES)
    if scope == Scope.NONE:
        return frozenset()
    top = float(MAX_ROLLER_HEIGHT)
    if scope == Scope.POINT:
        fraction = min(max(height, 0), MAX_ROLLER_HEIGHT) / top
        index = min(int(fraction * len(BACK_ZONES)), len(BACK_ZONES) - 1)
        return frozenset({BACK_ZONES[index]})
    lo, hi = max(0.0, height - PARTIAL_HALF_SPAN), min(top, height + PARTIAL_HALF_SPAN)
    out = set()
    for zone in BACK_ZONES:
        z_lo, z_hi = (f * top for f in zone_span(zone))
        if min(hi, z_hi) - max(lo, z_lo) > 0.5:
            out.add(zone)
    return frozenset(out)


def chair_timer_for(table: KeyTable, session_s: float | None) -> tuple[int, int]:
    """(seconds, key): the smallest chair timer covering the session, else the longest."""
    options = sorted(table.timers.items())
    if not options:
        raise ValueError(f"model {table.name} has no timer keys")
    if session_s is not None:
        for seconds, key in options:
            if seconds >= session_s:
                return seconds, key
    return options[-1]


def timer_confirmed(status: RongtaiStatus, seconds: int) -> bool:
    """Does the status show a timer just set to ``seconds``?"""
    return seconds - 10 <= status.remaining_s <= seconds + 1


# -------------------------------------------------------------------- logic


def _press(table: KeyTable, key: int, kind: str, what: str | None = None) -> Press:
    return Press(key, what or table.describe(key), kind)


def _level_key(keys: tuple[int, ...], level: int, what: str) -> int:
    if not 1 <= level <= len(keys):
        raise ValueError(f"{what} {level} outside 1..{len(keys)}")
    return keys[level - 1]


def next_action(
    status: RongtaiStatus,
    target: ChairTarget,
    table: KeyTable,
    *,
    timer_armed: bool = True,
    session_s: float | None = None,
    max_walk_s: float = DEFAULT_MAX_WALK_S,
) -> Action | None:
    """The next step towards ``target`` from ``status``; None when they match."""
    if not target.powered:
        actions = stop_actions(status, table)
        return actions[0] if actions else None
    s = status
    if s.run_state == RunState.FAULT:
        return Refuse("the chair reports a fault (run state 5)")
    if s.resetting:
        return Wait("the chair is resetting; keys would be dropped")
    if not s.powered:
        return _press(table, table.power, "power", "power on")
    if s.run_state not in (RunState.READY, RunState.RUNNING):
        return Wait(f"the chair is in run state {s.run_state}")
    if not timer_armed:
        seconds, key = chair_timer_for(table, session_s)
        return _press(table, key, "timer")

    if target.technique is not None:
        if target.intensity and s.intensity != target.intensity:
            key = _level_key(table.strengths_3d, target.intensity, "3D strength")
            return _press(table, key, "level")
        if target.speed and s.speed != target.speed:
            return _press(table, _level_key(table.speeds, target.speed, "speed"), "level")
        if target.width and s.width != target.width:
            return _press(table, _level_key(table.widths, target.width, "width"), "level")
        if s.technique != target.technique or not s.rollers_active or s.program is not None:
            return _press(table, table.techniques[target.technique], "technique")
        action = _roller_place(s, target, table, max_walk_s)
        if action is not None:
            return action
    elif s.rollers_active or s.technique is not None or s.program is not None:
        return _press(table, table.power, "power", "power off (no key stops only the rollers)")

    if target.airbag_zones:
        if s.airbag_strength != target.airbag_strength:
            key = _level_key(table.airbag_strengths, target.airbag_strength, "airbag strength")
            return _press(table, key, "airbag")
        for zone in AIRBAG_ORDER:
            if bool(zone & target.airbag_zones) != bool(zone & s.airbag_zones):
                return _press(table, table.airbag_zones[zone], "airbag")
    elif s.airbag_zones or s.airbag_strength:
        return _press(table, table.airbag_off, "airbag")

    return _heat(s, target, table)


def _roller_place(s: RongtaiStatus, target: ChairTarget, table: KeyTable, max_walk_s: float) -> Action | None:
    want = target.scope
    if want == Scope.FULL or target.centre is None:
        if s.scope != Scope.FULL:
            return _press(table, table.scopes[Scope.FULL], "scope")
        return None
    centre, height = target.centre, s.roller_height
    off = abs(height - centre)
    if s.scope == want and off <= (POINT_TOLERANCE if want == Scope.POINT else PARTIAL_TOLERANCE):
        return None
    if off <= POINT_TOLERANCE:
        return _press(table, table.scopes[want], "scope")
    if s.scope != Scope.POINT:
        return _press(table, table.scopes[Scope.POINT], "scope", "scope point (hold the rollers)")
    motor = "roller_down" if centre > height else "roller_up"
    start, stop = table.motors[motor]
    return Move(motor, start, stop, centre, max_walk_s, f"walk the rollers to height {centre}")


def _heat(s: RongtaiStatus, target: ChairTarget, table: KeyTable) -> Action | None:
    want_on = target.heat is not Heat.OFF
    if table.heat_levels:
        if want_on:
            key = table.heat_levels.get(target.heat)
            if key is None:
                raise ValueError(f"heat {target.heat} is not offered by this chair")
            level_ok = s.heat_level is None or s.heat_level == HEAT_WORD_LEVELS[target.heat]
            if not s.heat or not level_ok:
                return _press(table, key, "heat")
            return None
        if s.heat:
            return _press(table, table.heat_toggle, "heat", "heat off")
        return None
    if s.heat != want_on:
        return _press(table, table.heat_toggle, "heat", "heat " + ("on" if want_on else "off"))
    return None


def program_action(
    status: RongtaiStatus,
    name: str,
    table: KeyTable,
    *,
    timer_armed: bool = True,
    session_s: float | None = None,
) -> Action | None:
    """The next step towards the chair running its auto program ``name``."""
    s = status
    if name not in table.programs:
        raise ValueError(f"model {table.name} has no program {name!r}")
    if s.run_state == RunState.FAULT:
        return Refuse("the chair reports a fault (run state 5)")
    if s.resetting:
        return Wait("the chair is resetting; keys would be dropped")
    if not s.powered:
        return _press(table, table.power, "power", "power on")
    if s.run_state not in (RunState.READY, RunState.RUNNING):
        return Wait(f"the chair is in run state {s.run_state}")
    if not timer_armed:
        _, key = chair_timer_for(table, session_s)
        return _press(table, key, "timer")
    if s.program != name:
        return _press(table, table.programs[name], "program")
    return None


def stop_actions(status: RongtaiStatus, table: KeyTable) -> list[Action]:
    """What to do now to stop the chair; [] when :func:`is_stopped`.

    Every actuator stop key first (they are not toggles: always safe), then
    heat off while the chair still takes keys, then power.
    """
    s = status
    actions: list[Action] = []
    for bit, motors in ACTUATOR_MOTORS.items():
        if s.actuators & bit:
            for motor in motors:
                stop = table.motors[motor][1]
                actions.append(_press(table, stop, "motor-stop"))
    if s.resetting:
        if s.powered or s.heat:
            actions.append(Wait("the chair is resetting; keys would be dropped"))
        return actions
    if s.heat and s.powered and s.run_state in (RunState.READY, RunState.RUNNING):
        actions.append(_press(table, table.heat_toggle, "heat", "heat off"))
        return actions
    if s.powered:
        actions.append(_press(table, table.power, "power", "power off"))
        return actions
    if s.heat or s.rollers_active or s.airbag_zones or s.run_state == RunState.RUNNING:
        # Off by its power bit yet still working: press power, which also ends a session.
        actions.append(_press(table, table.power, "power", "power (chair reports activity)"))
    return actions


def is_stopped(status: RongtaiStatus) -> bool:
    """Off by the chair's own account: nothing massaging, heating or moving."""
    s = status
    return (
        not s.powered
        and not s.heat
        and s.run_state != RunState.RUNNING
        and not s.rollers_active
        and not s.airbag_zones
        and not s.actuators
    )
