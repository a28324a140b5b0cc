"""Closed-loop reconciliation for Rongtai / Infinity chairs: pure logic, no I/O.

A Rongtai chair is driven with remote-control keys, most of them toggles, and the board
takes each key only in some states (wangqian2528/RT6923 ``Application/src/main.c``:
``Main_WaitCommand``, ``Main_Work``, ``Main_Settle``). So the driver never presses from
a plan: it compares the chair's latest status with the target and asks this module for
the next step, in the order the firmware takes keys:

1. **off**: power (the board goes straight to *ready*); **resetting**: nothing, ever -
   any key during the reset powers the board off at once and leaves it where it is;
2. the **technique** (or the program): in *ready* it is what starts the chair. A
   technique key toggles, so it is pressed only when the chair shows another technique
   (or an auto program); the running one is never pressed again;
3. **levels**, which the board ignores in *ready*: 3D strength (intensity), speed (not
   during shiatsu), width (only knock, shiatsu and tap);
4. **scope and roller position** (manual only): full; or hold at a point, walk the roller
   to the zones' height with a bounded move, then point or partial;
5. **airbags**: zone keys (toggles while running), then the strength (ignored in ready);
6. **heat** (a toggle);
7. the chair's own **timer** (10/20/30 min; in *ready* it would set only the preset).

A target without a technique while the rollers run presses the running technique's key
(it toggles the rollers off). :func:`stop_plan`: nothing on a chair that is off,
resetting or faulted; otherwise the stop keys of the actuators b10 shows moving, then
power (the board resets: rollers and actuators return home, then it goes off).

Heights: the roller reports 0 (waist) .. 12 (neck) (Bread-Yang/RongTai
``rongtai/Classes/Ble/RTBleConnector.m``, parseByteOfAddress8; the Infinity captures in
dallanwagz/hass-infinity-chair ``tests/test_protocol.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.status import DeviceState
from ...core.vocabulary import Heat, Technique, Width, Zone
from .codec import (
    TOP_ROLLER_HEIGHT,
    AirbagZone,
    KeyTable,
    Motion,
    RongtaiStatus,
    RunState,
    Scope,
)

#: Roller steps either side of the centre a partial scope works (UNSURE: the firmware's
#: HALF_PARTIAL_DIFF in its walking motor's units; about two reported steps).
PARTIAL_HALF_SPAN = 2
#: How close the roller must be to the wanted height for a point.
POINT_TOLERANCE = 1
#: A partial scope sweeps: any height within the span (and a step of slack) is in place.
PARTIAL_TOLERANCE = PARTIAL_HALF_SPAN + 1
#: Longest roller walk (the whole travel takes a few seconds).
DEFAULT_MAX_WALK_S = 6.0

#: The back zones the roller reaches, from the waist (height 0) up to the neck (12).
ROLLER_BANDS: tuple[Zone, ...] = (Zone.LOWER_BACK, Zone.MID_BACK, Zone.UPPER_BACK, Zone.SHOULDERS, Zone.NECK)
_BAND = (TOP_ROLLER_HEIGHT + 1) / len(ROLLER_BANDS)

#: Chair airbag zone -> the vocabulary zones it squeezes.
AIRBAG_ZONE_WORDS: dict[AirbagZone, tuple[Zone, ...]] = {
    AirbagZone.LEGS: (Zone.CALVES, Zone.FEET),
    AirbagZone.ARMS: (Zone.ARMS, Zone.SHOULDERS),
    AirbagZone.BACK: (Zone.LOWER_BACK,),
    AirbagZone.BUTTOCKS: (Zone.SEAT,),
}
ZONE_TO_AIRBAG: dict[Zone, AirbagZone] = {
    word: chair for chair, words in AIRBAG_ZONE_WORDS.items() for word in words
}
#: The order zone keys are pressed in.
AIRBAG_ORDER = (AirbagZone.LEGS, AirbagZone.ARMS, AirbagZone.BACK, AirbagZone.BUTTOCKS)

#: Vocabulary technique -> chair technique (knead-knock, rhythm and back rub have no word).
TECHNIQUE_NAMES: dict[Technique, str] = {
    Technique.KNEAD: "knead",
    Technique.KNOCK: "knock",
    Technique.SHIATSU: "shiatsu",
    Technique.TAP: "tap",
}
#: Chair technique -> what it feels like, for the status (the nearest word).
TECHNIQUE_WORDS: dict[str, Technique] = {
    "knead": Technique.KNEAD,
    "knock": Technique.KNOCK,
    "knead-knock": Technique.KNEAD,
    "tap": Technique.TAP,
    "shiatsu": Technique.SHIATSU,
    "rhythm": Technique.TAP,
    "back-rub": Technique.KNEAD,
}
#: Techniques whose width / speed the board sets (RT6923 ``Main_Work``).
WIDTH_SET_FOR = frozenset({"knock", "shiatsu", "tap"})
SPEED_SET_FOR = frozenset({"knead", "knock", "tap", "knead-knock", "rhythm", "back-rub"})

WIDTH_LEVELS: dict[Width, int] = {Width.NARROW: 1, Width.MEDIUM: 2, Width.WIDE: 3}
WIDTH_WORDS: dict[int, Width] = {level: w for w, level in WIDTH_LEVELS.items()}

#: b10's motions -> the motor whose stop key ends them.
BACKREST_STOP = {Motion.UP: "backrest_up", Motion.DOWN: "backrest_down"}
LEG_REST_STOP = {Motion.UP: "leg_rest_up", Motion.DOWN: "leg_rest_down"}


# ------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Press:
    key: int
    what: str
    #: power, technique, level, scope, airbag, heat, timer, program, motor-stop
    kind: str


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

#: Keys that toggle something: pressed again by mistake, they undo what they did.
TOGGLE_KINDS = frozenset({"power", "technique", "airbag", "heat"})


# ------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ChairTarget:
    """A DeviceState in the chair's own terms."""

    powered: bool = False
    technique: str | None = None
    scope: Scope = Scope.NONE
    centre: int | None = None  # roller height for partial / point
    intensity: int = 0  # 3D strength 1..5 (0: leave as is)
    speed: int = 0  # 1..6 (0: the chair's own)
    width: int = 0  # 1..3 (0: the chair's own)
    airbag_zones: AirbagZone = AirbagZone.NONE
    airbag_strength: int = 0
    heat: Heat = Heat.OFF

    @classmethod
    def from_state(cls, state: DeviceState) -> ChairTarget:
        """Translate; raises ValueError for what no Rongtai chair can do."""
        technique = None
        scope, centre = Scope.NONE, None
        intensity = speed = width = 0
        if state.technique is not None and state.intensity > 0 and state.zones:
            if state.technique not in TECHNIQUE_NAMES:
                raise ValueError(f"technique {state.technique} is not offered by this chair")
            technique = TECHNIQUE_NAMES[state.technique]
            scope, centre = scope_for(state.zones)
            intensity, speed = state.intensity, state.speed
            width = WIDTH_LEVELS[state.width] if state.width is not None else 0
            if technique not in SPEED_SET_FOR:
                speed = 0
            if technique not in WIDTH_SET_FOR:
                width = 0
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


def band_span(zone: Zone) -> tuple[float, float]:
    """The heights (0 waist .. 13) one back zone covers."""
    i = ROLLER_BANDS.index(zone)
    return i * _BAND, (i + 1) * _BAND


def zone_at(height: float) -> Zone:
    index = min(max(int(height / _BAND), 0), len(ROLLER_BANDS) - 1)
    return ROLLER_BANDS[index]


def scope_for(zones: frozenset[Zone]) -> tuple[Scope, int | None]:
    """Full for four or more zones' worth of back, a point for one zone, else partial."""
    spans = [band_span(z) for z in zones if z in ROLLER_BANDS]
    if not spans:
        return Scope.FULL, None
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    zones_wide = (hi - lo) / _BAND
    if zones_wide >= 4 - 1e-9:
        return Scope.FULL, None
    centre = min(TOP_ROLLER_HEIGHT, max(0, round((lo + hi) / 2 - 0.5)))
    return (Scope.POINT if zones_wide <= 1 + 1e-9 else Scope.PARTIAL), centre


def zones_at(scope: Scope, height: int) -> frozenset[Zone]:
    """The back zones the rollers work for a scope, with the roller at ``height``."""
    if scope == Scope.FULL:
        return frozenset(ROLLER_BANDS)
    if scope == Scope.POINT:
        return frozenset({zone_at(height)})
    if scope == Scope.PARTIAL:
        lo, hi = height - PARTIAL_HALF_SPAN, height + PARTIAL_HALF_SPAN + 1
        out = set()
        for zone in ROLLER_BANDS:
            z_lo, z_hi = band_span(zone)
            if min(hi, z_hi) - max(lo, z_lo) > 0.5:
                out.add(zone)
        return frozenset(out)
    return frozenset()


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
    """Does the status show the chair's timer just set to ``seconds`` while running?"""
    return status.preset_timer_s == seconds and seconds - 10 <= status.remaining_s <= seconds + 1


# -------------------------------------------------------------------- logic


def _press(table: KeyTable, key: int, kind: str, what: str | None = None) -> Press:
    return Press(key, what or table.describe(key), kind)


def _level_key(keys: tuple[int, ...], level: int, what: str) -> int:
    if not 1 <= level <= len(keys):
        raise ValueError(f"{what} {level} outside 1..{len(keys)}")
    return keys[level - 1]


def _gate(s: RongtaiStatus) -> Action | None:
    """What the run state alone decides: None when the board takes keys."""
    if s.fault:
        return Refuse("the chair reports a fault (run state 5)")
    if s.resetting:
        return Wait("the chair is resetting; any key now would switch it off mid-way")
    if s.off:
        return None
    if not s.takes_keys:
        return Wait(f"the chair is in run state {s.run_state}")
    return None


def next_action(
    status: RongtaiStatus,
    target: ChairTarget,
    table: KeyTable,
    *,
    strength_seen: int = 0,
    timer_due: bool = False,
    session_s: float | None = None,
    max_walk_s: float = DEFAULT_MAX_WALK_S,
    may_walk: bool = True,
) -> Action | None:
    """The next step towards ``target`` from ``status``; None when they match.

    ``strength_seen``: the 3D strength last shown (b14 blinks 0 for 3 s after a change);
    ``timer_due``: the chair's own timer should be (re)armed; ``may_walk``: False once
    walks did not bring the roller to its height (the scope is then chosen where it is).
    """
    if not target.powered:
        actions = stop_plan(status, table)
        return actions[0] if actions else None
    s = status
    gate = _gate(s)
    if gate is not None:
        return gate
    if s.off:
        return _press(table, table.power, "power", "power on")

    if target.technique is not None:
        if s.technique != target.technique or not s.manual or not s.running:
            return _press(table, table.techniques[target.technique], "technique")
        strength = s.strength_3d or strength_seen
        if target.intensity and strength != target.intensity:
            key = _level_key(table.strengths_3d, target.intensity, "3D strength")
            return _press(table, key, "level")
        if target.speed and target.technique in SPEED_SET_FOR and s.speed != target.speed:
            return _press(table, _level_key(table.speeds, target.speed, "speed"), "level")
        if target.width and target.technique in WIDTH_SET_FOR and s.width != target.width:
            return _press(table, _level_key(table.widths, target.width, "width"), "level")
        action = _roller_place(s, target, table, max_walk_s, may_walk)
        if action is not None:
            return action
    elif s.running and s.technique is not None:
        return _rollers_off(s, table)

    if target.airbag_zones:
        for zone in AIRBAG_ORDER:
            wanted = bool(zone & target.airbag_zones)
            if wanted != bool(zone & s.airbag_zones) or (wanted and s.airbag_auto):
                return _press(table, table.airbag_zones[zone], "airbag")
        if s.airbag_strength != target.airbag_strength:
            key = _level_key(table.airbag_strengths, target.airbag_strength, "airbag strength")
            return _press(table, key, "level")
    elif s.airbags_on:
        return _press(table, table.airbag_off, "level", "airbags off")

    want_heat = target.heat is not Heat.OFF
    if s.heat != want_heat:
        return _press(table, table.heat_toggle, "heat", "heat " + ("on" if want_heat else "off"))

    if timer_due and s.running:
        _, key = chair_timer_for(table, session_s)
        return _press(table, key, "timer")
    return None


def _rollers_off(s: RongtaiStatus, table: KeyTable) -> Press:
    """Rollers running, none wanted: the running technique's key toggles them off. In an
    auto program, or for a technique without a key, a technique key first makes it manual."""
    key = table.techniques.get(s.technique or "")
    if s.manual and key is not None:
        return _press(table, key, "technique", f"{s.technique} off (pressed again)")
    return _press(table, table.techniques["knead"], "technique", "knead (manual, to switch the rollers off)")


def _roller_place(
    s: RongtaiStatus, target: ChairTarget, table: KeyTable, max_walk_s: float, may_walk: bool = True
) -> Action | None:
    want = target.scope
    if want == Scope.FULL or target.centre is None:
        if s.scope != Scope.FULL:
            return _press(table, table.scopes[Scope.FULL], "scope")
        return None
    centre, height = target.centre, s.roller_height
    off = abs(height - centre)
    if s.scope == want and (
        not may_walk or off <= (POINT_TOLERANCE if want == Scope.POINT else PARTIAL_TOLERANCE)
    ):
        return None
    if off <= POINT_TOLERANCE or not may_walk:
        return _press(table, table.scopes[want], "scope")
    if s.scope != Scope.POINT:
        return _press(table, table.scopes[Scope.POINT], "scope", "scope point (hold the rollers)")
    motor = "roller_up" if centre > height else "roller_down"
    start, stop = table.motors[motor]
    return Move(motor, start, stop, centre, max_walk_s, f"walk the rollers to height {centre}")


def program_action(
    status: RongtaiStatus,
    name: str,
    table: KeyTable,
    *,
    timer_due: bool = False,
    session_s: float | None = None,
) -> Action | None:
    """The next step towards the chair running its auto program ``name``: power, the
    program key, then the chair's timer."""
    if name not in table.programs:
        raise ValueError(f"model {table.name} has no program {name!r}")
    s = status
    gate = _gate(s)
    if gate is not None:
        return gate
    if s.off:
        return _press(table, table.power, "power", "power on")
    if s.program != name or not s.running:
        return _press(table, table.programs[name], "program")
    if timer_due:
        _, key = chair_timer_for(table, session_s)
        return _press(table, key, "timer")
    return None


def stop_plan(status: RongtaiStatus, table: KeyTable) -> list[Action]:
    """What to do now to stop the chair; [] when there is nothing to do.

    Off or faulted: nothing. Resetting: wait, never a key (any key would switch the board
    off mid-way and leave a reclined backrest reclined). Ready or running: the stop keys
    of the actuators b10 shows moving, then power (the board resets and goes off).
    """
    s = status
    if s.off or s.fault:
        return []
    if s.resetting:
        return [Wait("returning home")]
    if not s.takes_keys:
        return [Wait(f"the chair is in run state {s.run_state}")]
    actions: list[Action] = []
    for motion, stops in ((s.backrest, BACKREST_STOP), (s.leg_rest, LEG_REST_STOP)):
        motor = stops.get(motion)
        if motor is not None:
            actions.append(_press(table, table.motors[motor][1], "motor-stop"))
    actions.append(_press(table, table.power, "power", "power off"))
    return actions


def motor_stop_keys(status: RongtaiStatus, table: KeyTable) -> list[int]:
    """The stop keys of the actuators b10 shows moving (only while the board takes keys)."""
    if not status.takes_keys:
        return []
    keys = []
    for motion, stops in ((status.backrest, BACKREST_STOP), (status.leg_rest, LEG_REST_STOP)):
        motor = stops.get(motion)
        if motor is not None:
            keys.append(table.motors[motor][1])
    return keys


def is_stopped(status: RongtaiStatus) -> bool:
    """Nothing massaging, heating or squeezing, by the chair's own account (off, a reset
    on its way, a fault, or ready with nothing chosen)."""
    s = status
    if s.running:
        return False
    return not s.heat and not s.airbags_on and not (s.airbag_strength and s.airbag_zones)


def run_state_name(status: RongtaiStatus) -> str:
    state = status.state
    if state is None:
        return f"unknown ({status.run_state})"
    return {RunState.RESETTING: "resetting (returning home)"}.get(state, state.name.lower())
