"""A simulated Rongtai / Infinity chair speaking the real bytes on any transport.

:class:`ChairModel` is the chair's firmware as a pure state machine (keys in,
status out, explicit times); :class:`RongtaiSim` puts it on a transport: it
decodes key frames (checksum checked, as on the Bluetooth module's UART),
sends a status frame every 50 ms on the ``"status"`` endpoint, lets a
:class:`~massager_ctl.sim.faults.FaultInjector` misbehave on the link, and
drives a :class:`~massager_ctl.sim.physics.ChairPhysics` (the body) with the
state the chair is in, so tests judge safety from ``.physics``.

Behaviour (shared/devices/rongtai.md, "Simulator notes"; choices where the
spec is silent are marked SIM):

* Power from idle: reset (``reset_s``, ~1 s, powered bit set) then ready.
  Power while ready/running/fault: the session ends, heat, airbags and
  rollers stop, the chair resets (powered bit clear, rollers return home)
  then idles. Every key arriving during a reset is dropped.
* Massage keys (techniques, programs, levels, scope, airbags, heat, timer)
  take effect only when powered and past the reset ("ready" or "running");
  SIM: "ready" counts, so the apps' "power, wait ~1 s, technique" works.
* Heat and airbag zone keys are toggles (SIM: zone keys as toggles); a zone
  switched on with strength 0 gets strength 1 (SIM: the gentlest).
* The chair timer starts at 20 min on power-on (the auto-program default);
  the timer keys set 10/20/30 min from the press. At zero the chair powers off.
* Roller carriage (height 0 = top .. 31): full scope sweeps the backrest,
  partial sweeps the centre +- 6, point holds at the centre; choosing
  partial/point takes the current height as the centre; roller up/down keys
  walk the centre (SIM: 10 steps/s) until their stop key or an end.
* Motor moves (backrest, leg rest, leg extension) run until their stop key or
  their end stop (SIM: 12 s of travel); they are not tied to power, so a lost
  link during a recline runs it to the end stop, as on a real chair.
* Zero gravity (0x70) moves backrest and leg rest to a preset and stops by itself.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ...core.capabilities import Capabilities
from ...core.status import DEVICE_STOPPED, DeviceState
from ...core.vocabulary import Heat, Technique, Zone
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import ChairPhysics, PhysicsParams, TraceEvent
from ...transport.base import Transport
from .codec import (
    KEY_TABLES,
    MAX_REMAINING_S,
    MAX_ROLLER_HEIGHT,
    Actuator,
    AirbagZone,
    CommandDecoder,
    KeyTable,
    RongtaiStatus,
    RunState,
    Scope,
    encode_status,
)
from .facts import (
    ENDPOINT_STATUS,
    KEY_TABLE_OF,
    RT6923_CAPABILITIES,
    RT8600S_CAPABILITIES,
)
from .reconcile import (
    AIRBAG_ZONE_WORDS,
    HEAT_LEVEL_WORDS,
    PARTIAL_HALF_SPAN,
    TECHNIQUE_WORDS,
    WIDTH_WORDS,
    zones_at,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "rongtai-rt8600s"
RESET_S = 1.0
DEFAULT_TIMER_S = 1200
WALK_STEPS_PER_S = 10.0
SWEEP_STEPS_PER_S = 5.0
HOME_STEPS_PER_S = 40.0
ACTUATOR_TRAVEL_S = 12.0
ZERO_GRAVITY_POSE = {"backrest": 0.6, "leg_rest": 0.8}
STEP_S = 0.05  # integration sub-step

#: Auto programs as (chair technique, seconds) loops (SIM: the real ones are not known).
PROGRAM_SCRIPTS: dict[str, tuple[tuple[str, float], ...]] = {
    "recovery": (("knead", 60), ("knead-knock", 60), ("shiatsu", 60)),
    "stretch": (("shiatsu", 60), ("knead", 60)),
    "relax": (("knead", 90), ("rhythm", 60)),
    "pain-relief": (("shiatsu", 60), ("knock", 45), ("knead", 60)),
    "upper-body": (("knead", 60), ("tap", 45)),
    "lower-body": (("knock", 45), ("knead", 60)),
}
#: What the body model does for chair techniques that have no vocabulary word.
BODY_TECHNIQUE = {"knead-knock": Technique.KNEAD, "rhythm": Technique.TAP}

#: Motor name -> (position name, direction).
MOTOR_AXES: dict[str, tuple[str, float]] = {
    "backrest_up": ("backrest", -1.0),
    "backrest_down": ("backrest", 1.0),
    "leg_rest_up": ("leg_rest", 1.0),
    "leg_rest_down": ("leg_rest", -1.0),
    "leg_extend": ("leg_extension", 1.0),
    "leg_retract": ("leg_extension", -1.0),
}
MOTOR_BITS: dict[str, Actuator] = {
    "roller_up": Actuator.ROLLER_UP,
    "roller_down": Actuator.ROLLER_DOWN,
    "backrest_up": Actuator.BACKREST_UP,
    "backrest_down": Actuator.BACKREST_DOWN,
    "leg_rest_up": Actuator.LEG_REST,
    "leg_rest_down": Actuator.LEG_REST,
    "leg_extend": Actuator.LEG_EXTENSION,
    "leg_retract": Actuator.LEG_EXTENSION,
}
_OPPOSITE = {
    "roller_up": "roller_down",
    "roller_down": "roller_up",
    "backrest_up": "backrest_down",
    "backrest_down": "backrest_up",
    "leg_rest_up": "leg_rest_down",
    "leg_rest_down": "leg_rest_up",
    "leg_extend": "leg_retract",
    "leg_retract": "leg_extend",
}


def model_setup(model: str) -> tuple[KeyTable, Capabilities]:
    try:
        table = KEY_TABLES[KEY_TABLE_OF[model]]
    except KeyError:
        raise ValueError(f"unknown Rongtai model {model!r}; known: {', '.join(KEY_TABLE_OF)}") from None
    caps = RT6923_CAPABILITIES if table.heat_levels else RT8600S_CAPABILITIES
    return table, caps


@dataclass(frozen=True)
class ChairEvent:
    t: float
    kind: str  # key, dropped, ignored, unknown, power, timer, reset, limit, move
    detail: str


class ChairModel:
    """The chair's firmware state machine. Pure: every call takes the time."""

    def __init__(self, table: KeyTable, *, reset_s: float = RESET_S, start: float = 0.0) -> None:
        if not reset_s > 0:
            raise ValueError(f"reset time must be above 0 s, not {reset_s!r}")
        self.table = table
        self.reset_s = float(reset_s)
        self.t = float(start)
        self.powered = False
        self.run_state = RunState.IDLE
        self.reset_end: float | None = None
        self.reset_to = RunState.IDLE
        self.heat = False
        self.heat_level = 0
        self.technique: str | None = None
        self.program: str | None = None
        self.program_start = 0.0
        self.scope = Scope.NONE
        self.centre = 0.0
        self.height = 0.0
        self._sweep = 1.0
        self.intensity = 3
        self.speed = 3
        self.width = 2
        self.airbag_zones = AirbagZone.NONE
        self.airbag_strength = 0
        self.foot_roller = 0
        self.timer_end: float | None = None
        self.motors: dict[str, float] = {}  # running motor -> started at
        self.positions = {"backrest": 0.0, "leg_rest": 0.0, "leg_extension": 0.0}
        self.zero_gravity_moving = False
        self.zero_gravity = False
        self.fault = False
        self.events: list[ChairEvent] = []
        self.last_stop_reason = "power"
        self._keys = _key_index(table)
        self._state_cache: tuple[tuple, DeviceState] | None = None

    # ------------------------------------------------------------ queries

    @property
    def resetting(self) -> bool:
        return self.run_state == RunState.RESETTING

    @property
    def accepts_keys(self) -> bool:
        return self.powered and self.run_state in (RunState.READY, RunState.RUNNING)

    @property
    def current_technique(self) -> str | None:
        if self.program is not None:
            script = PROGRAM_SCRIPTS[self.program]
            cycle = sum(s for _, s in script)
            at = (self.t - self.program_start) % cycle
            for name, seconds in script:
                if at < seconds:
                    return name
                at -= seconds
            return script[-1][0]
        return self.technique

    @property
    def rollers_active(self) -> bool:
        return self.current_technique is not None

    @property
    def actuators_moving(self) -> bool:
        return bool(self.motors) or self.zero_gravity_moving

    def remaining_s(self) -> int:
        if self.timer_end is None:
            return 0
        return max(0, min(MAX_REMAINING_S, math.ceil(self.timer_end - self.t - 1e-9)))

    def status(self, now: float) -> RongtaiStatus:
        self.advance(now)
        bits = Actuator.NONE
        for motor in self.motors:
            bits |= MOTOR_BITS[motor]
        if self.zero_gravity_moving:
            bits |= Actuator.BACKREST_DOWN | Actuator.LEG_REST
        return RongtaiStatus(
            powered=self.powered,
            heat=self.heat,
            run_state=self.run_state,
            technique=self.current_technique,
            speed=self.speed if self.powered else 0,
            width=self.width if self.powered else 0,
            airbag_zones=self.airbag_zones,
            airbag_strength=self.airbag_strength,
            scope=self.scope,
            remaining_s=self.remaining_s(),
            foot_roller=self.foot_roller,
            roller_height=max(0, min(MAX_ROLLER_HEIGHT, round(self.height))),
            actuators=bits,
            zero_gravity=self.zero_gravity,
            rollers_active=self.rollers_active,
            program=self.program,
            intensity=self.intensity if self.powered else 0,
            heat_level=self.heat_level if self.table.heat_levels else None,
        )

    def device_state(self, caps: Capabilities) -> DeviceState:
        """What the chair is doing, in vocabulary words, for the body model."""
        key = (
            self.powered,
            self.run_state,
            self.current_technique,
            self.scope,
            round(self.centre),
            self.intensity,
            self.speed,
            self.width,
            self.airbag_zones,
            self.airbag_strength,
            self.heat,
            self.heat_level,
            id(caps),
        )
        if self._state_cache is not None and self._state_cache[0] == key:
            return self._state_cache[1]
        state = self._device_state(caps)
        self._state_cache = (key, state)
        return state

    def _device_state(self, caps: Capabilities) -> DeviceState:
        if not self.powered or self.resetting:
            return DEVICE_STOPPED
        technique = self.current_technique
        body_technique = None
        zones: frozenset[Zone] = frozenset()
        intensity = speed = 0
        width = None
        if technique is not None:
            body_technique = TECHNIQUE_WORDS.get(technique) or BODY_TECHNIQUE[technique]
            centre = round(self.centre)
            zones = zones_at(self.scope if self.scope != Scope.NONE else Scope.FULL, centre)
            zones = zones & caps.zones
            intensity, speed, width = self.intensity, self.speed, WIDTH_WORDS.get(self.width)
        airbags: list[tuple[Zone, int]] = []
        if self.airbag_strength:
            for zone, words in AIRBAG_ZONE_WORDS.items():
                if zone & self.airbag_zones:
                    airbags.extend((w, self.airbag_strength) for w in words if w in caps.airbag_zones)
        heat = Heat.OFF
        if self.heat:
            heat = HEAT_LEVEL_WORDS.get(self.heat_level, Heat.LOW) if self.table.heat_levels else Heat.LOW
            if heat not in caps.heat_levels:
                heat = caps.heat_levels[0]
        if body_technique is None and not airbags and heat is Heat.OFF:
            return DEVICE_STOPPED
        return DeviceState(
            technique=body_technique if zones else None,
            zones=zones,
            intensity=intensity if zones else 0,
            speed=speed if zones else 0,
            width=width if zones else None,
            airbags=tuple(airbags),
            heat=heat,
        )

    # ------------------------------------------------------------- keys

    def press(self, key: int, now: float) -> str:
        """One key arrives. Returns what the chair did: accepted/dropped/ignored/unknown."""
        self.advance(now)
        what = self.table.describe(key)
        if self.resetting:
            self._event("dropped", f"{what} (resetting)")
            return "dropped"
        kind, arg = self._keys.get(key, ("unknown", None))
        if kind == "unknown":
            self._event("unknown", what)
            return "unknown"
        if kind == "power":
            if self.powered and self.run_state != RunState.IDLE:
                self.power_off("power key")
            else:
                self._start_reset(RunState.READY, powered=True)
                self._event("power", "on: resetting")
            return "accepted"
        if kind in ("motor-start", "motor-stop"):
            return self._motor_key(kind, arg, what)
        if kind == "zero-gravity":  # a motor preset: like the motor keys, also when off
            self.motors.clear()
            self.zero_gravity_moving, self.zero_gravity = True, False
            self._event("move", "zero gravity start")
            return "accepted"
        if not self.accepts_keys:
            self._event("ignored", f"{what} (not ready)")
            return "ignored"
        if kind == "technique":
            self.technique, self.program = arg, None
            self._running()
            if self.scope == Scope.NONE:
                self.scope = Scope.FULL
        elif kind == "program":
            self.program, self.technique = arg, None
            self.program_start = self.t
            self.scope = Scope.FULL
            self._running()
        elif kind == "heat-toggle":
            self.heat = not self.heat
            self.heat_level = (self.heat_level or 1) if self.heat else 0
        elif kind == "heat-level":
            self.heat, self.heat_level = True, arg
        elif kind == "scope":
            self.scope = arg
            self.centre = float(round(self.height))
        elif kind == "width":
            self.width = arg
        elif kind == "speed":
            self.speed = arg
        elif kind == "strength":
            self.intensity = arg
        elif kind == "foot":
            self.foot_roller = arg
        elif kind == "airbag-zone":
            self.airbag_zones ^= arg
            if self.airbag_zones and not self.airbag_strength:
                self.airbag_strength = 1
            self._running()
        elif kind == "airbag-auto":
            self.airbag_zones = AirbagZone.LEGS | AirbagZone.ARMS | AirbagZone.BACK
            self.airbag_zones |= AirbagZone.BUTTOCKS
            self.airbag_strength = max(self.airbag_strength, 1)
            self._running()
        elif kind == "airbag-strength":
            self.airbag_strength = arg
        elif kind == "airbag-off":
            self.airbag_zones, self.airbag_strength = AirbagZone.NONE, 0
        elif kind == "timer":
            self.timer_end = self.t + arg
            self._event("timer", f"set {arg // 60} min")
        # presets and the 3D mode: accepted, no effect in the simulation
        self._settle()
        self._event("key", what)
        return "accepted"

    def _motor_key(self, kind: str, motor: str, what: str) -> str:
        if motor in ("roller_up", "roller_down") and not self.accepts_keys and kind == "motor-start":
            self._event("ignored", f"{what} (rollers need the chair on)")
            return "ignored"
        axis = MOTOR_AXES.get(motor, (None, 0))[0]
        if kind == "motor-start":
            self.motors.pop(_OPPOSITE[motor], None)
            self.motors.setdefault(motor, self.t)
            self.zero_gravity_moving = False
            if axis in ZERO_GRAVITY_POSE:
                self.zero_gravity = False
            self._event("move", f"{motor} start")
        else:
            started = self.motors.pop(motor, None)
            if started is not None:
                self._event("move", f"{motor} stop after {self.t - started:.2f} s")
            if self.zero_gravity_moving and axis in ZERO_GRAVITY_POSE:
                self.zero_gravity_moving = False  # a stop key halts the preset move too
                self._event("move", "zero gravity stopped")
        return "accepted"

    def power_off(self, reason: str) -> None:
        self.last_stop_reason = reason
        self.technique = self.program = None
        self.heat, self.heat_level = False, 0
        self.airbag_zones, self.airbag_strength = AirbagZone.NONE, 0
        self.timer_end = None
        self.scope = Scope.NONE
        for motor in ("roller_up", "roller_down"):
            self.motors.pop(motor, None)
        self._start_reset(RunState.IDLE, powered=False)
        self._event("power", f"off ({reason}): resetting")

    def trip_fault(self, now: float) -> None:
        """SIM: the chair reports a fault (run state 5) and stops massaging."""
        self.advance(now)
        self.technique = self.program = None
        self.airbag_zones, self.airbag_strength = AirbagZone.NONE, 0
        self.heat, self.heat_level = False, 0
        self.run_state = RunState.FAULT
        self._event("fault", "run state 5")

    def _start_reset(self, to: RunState, *, powered: bool) -> None:
        self.powered = powered
        self.run_state = RunState.RESETTING
        self.reset_to = to
        self.reset_end = self.t + self.reset_s

    def _running(self) -> None:
        if self.run_state in (RunState.READY, RunState.RUNNING):
            self.run_state = RunState.RUNNING

    def _settle(self) -> None:
        """Running with nothing to do falls back to ready."""
        if self.run_state == RunState.RUNNING and not self.rollers_active and not self.airbag_zones:
            self.run_state = RunState.READY

    def _event(self, kind: str, detail: str) -> None:
        self.events.append(ChairEvent(self.t, kind, detail))

    # ------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        now = float(now)
        while self.t < now - 1e-12:
            dt = min(STEP_S, now - self.t)
            self.t += dt
            self._step(dt)

    def _step(self, dt: float) -> None:
        t = self.t
        if self.resetting and self.reset_end is not None and t >= self.reset_end - 1e-9:
            self.run_state = self.reset_to
            self.reset_end = None
            if self.reset_to == RunState.READY:
                self.timer_end = t + DEFAULT_TIMER_S
                self.intensity, self.speed, self.width = 3, 3, 2
                self._event("reset", "ready")
            else:
                self.height = 0.0
                self._event("reset", "idle")
        if self.timer_end is not None and t >= self.timer_end - 1e-9 and self.accepts_keys:
            self._event("timer", "expired")
            self.power_off("timer")
        self._move_actuators(dt)
        self._move_carriage(dt)

    def _move_actuators(self, dt: float) -> None:
        for motor in list(self.motors):
            if motor in ("roller_up", "roller_down"):
                step = WALK_STEPS_PER_S * dt * (-1.0 if motor == "roller_up" else 1.0)
                self.centre = min(float(MAX_ROLLER_HEIGHT), max(0.0, self.centre + step))
                if self.centre in (0.0, float(MAX_ROLLER_HEIGHT)):
                    del self.motors[motor]
                    self._event("limit", f"{motor} reached its end")
                continue
            axis, direction = MOTOR_AXES[motor]
            pos = self.positions[axis] + direction * dt / ACTUATOR_TRAVEL_S
            self.positions[axis] = min(1.0, max(0.0, pos))
            if self.positions[axis] in (0.0, 1.0):
                del self.motors[motor]
                self._event("limit", f"{motor} reached its end stop")
        if self.zero_gravity_moving:
            done = True
            for axis, goal in ZERO_GRAVITY_POSE.items():
                pos = self.positions[axis]
                step = dt / ACTUATOR_TRAVEL_S
                if abs(goal - pos) <= step:
                    self.positions[axis] = goal
                else:
                    self.positions[axis] = pos + math.copysign(step, goal - pos)
                done = done and self.positions[axis] == goal
            if done:
                self.zero_gravity_moving, self.zero_gravity = False, True
                self._event("move", "zero gravity reached")

    def _move_carriage(self, dt: float) -> None:
        h = self.height
        if not self.rollers_active:
            if self.resetting and not self.powered:
                self.height = max(0.0, h - HOME_STEPS_PER_S * dt)
            return
        top = float(MAX_ROLLER_HEIGHT)
        if self.scope in (Scope.FULL, Scope.NONE):
            lo, hi = 0.0, top
        elif self.scope == Scope.PARTIAL:
            lo = max(0.0, self.centre - PARTIAL_HALF_SPAN)
            hi = min(top, self.centre + PARTIAL_HALF_SPAN)
        else:
            step = WALK_STEPS_PER_S * dt
            c = self.centre
            self.height = c if abs(c - h) <= step else h + math.copysign(step, c - h)
            return
        if h < lo:
            self.height = min(lo, h + WALK_STEPS_PER_S * dt)
            self._sweep = 1.0
            return
        if h > hi:
            self.height = max(hi, h - WALK_STEPS_PER_S * dt)
            self._sweep = -1.0
            return
        h += self._sweep * SWEEP_STEPS_PER_S * dt
        if h >= hi:
            h, self._sweep = hi, -1.0
        elif h <= lo:
            h, self._sweep = lo, 1.0
        self.height = h


def _key_index(table: KeyTable) -> dict[int, tuple[str, Any]]:  # (kind, its argument's type by kind)
    keys: dict[int, tuple[str, object]] = {}
    for name, key in table.techniques.items():
        keys[key] = ("technique", name)
    for name, key in table.programs.items():
        keys[key] = ("program", name)
    for scope, key in table.scopes.items():
        keys[key] = ("scope", scope)
    for i, key in enumerate(table.widths, 1):
        keys[key] = ("width", i)
    for i, key in enumerate(table.speeds, 1):
        keys[key] = ("speed", i)
    for i, key in enumerate(table.strengths_3d, 1):
        keys[key] = ("strength", i)
    for i, (_, key) in enumerate(sorted(table.foot_roller.items(), key=lambda kv: kv[1])):
        keys[key] = ("foot", (i + 1) % 4)  # slow 1, medium 2, fast 3, off 0
    for zone, key in table.airbag_zones.items():
        keys[key] = ("airbag-zone", zone)
    if table.airbag_auto is not None:
        keys[table.airbag_auto] = ("airbag-auto", None)
    for i, key in enumerate(table.airbag_strengths, 1):
        keys[key] = ("airbag-strength", i)
    keys[table.airbag_off] = ("airbag-off", None)
    for seconds, key in table.timers.items():
        keys[key] = ("timer", seconds)
    for name, (start, stop) in table.motors.items():
        keys[start] = ("motor-start", name)
        keys[stop] = ("motor-stop", name)
    if table.zero_gravity is not None:
        keys[table.zero_gravity] = ("zero-gravity", None)
    for key in table.zero_gravity_presets:
        keys[key] = ("preset", None)
    if table.mode_3d is not None:
        keys[table.mode_3d] = ("mode-3d", None)
    levels = {Heat.LOW: 1, Heat.HIGH: 3}
    for heat, key in table.heat_levels.items():
        keys[key] = ("heat-level", levels[heat])
    if table.heat_levels:
        from .codec import RT6923_HEAT_MEDIUM_KEY

        keys[RT6923_HEAT_MEDIUM_KEY] = ("heat-level", 2)
    keys[table.heat_toggle] = ("heat-toggle", None)
    keys[table.power] = ("power", None)
    return keys


class RongtaiSim(SimulatedDevice):
    """The chair on a transport: key frames in, status frames out every 50 ms."""

    already_started = "simulated chair already started"
    log_name = "simulated Rongtai chair"
    write_endpoint = ENDPOINT_STATUS

    def __init__(
        self,
        transport: Transport,
        *,
        faults: FaultInjector | None = None,
        model: str = DEFAULT_MODEL,
        status_interval_s: float = 0.05,
        reset_s: float = RESET_S,
        check_checksum: bool = True,
        physics_params: PhysicsParams | None = None,
    ) -> None:
        if not status_interval_s > 0:
            raise ValueError(f"status interval must be above 0 s, not {status_interval_s!r}")
        super().__init__(transport, faults)
        self.model = model
        self.table, self.capabilities = model_setup(model)
        self.status_interval_s = float(status_interval_s)
        self.chair = ChairModel(self.table, reset_s=reset_s)
        self.physics = ChairPhysics(self.capabilities, physics_params or PhysicsParams())
        self.decoder = CommandDecoder(check_checksum=check_checksum)
        self.received: list[tuple[float, int, str]] = []  # (time, key, what the chair did)
        self.sent_frames = 0
        self.errors: list[str] = []
        self._commanded: DeviceState = DEVICE_STOPPED
        self._events_seen = 0

    @property
    def bad_frames(self) -> int:
        return self.decoder.bad_frames

    @property
    def dropped_keys(self) -> int:
        return sum(1 for _, _, what in self.received if what == "dropped")

    def keys(self) -> list[int]:
        """Every key that reached the chair, in order."""
        return [key for _, key, _ in self.received]

    # ------------------------------------------------------------ lifecycle

    def _starting(self, now: float) -> None:
        self.chair.t = now
        self.chair.advance(now)
        self.physics.advance(now)

    def _loops(self):
        return [(self._writer(), "rongtai-sim-writer"), (self._run(), "rongtai-sim-loop")]

    def trip_fault(self) -> None:
        """Put the chair in its fault state (run state 5) now."""
        now = self._loop.time() if self._loop else self.chair.t
        self.chair.trip_fault(now)
        self._sync(now)

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        loop = self._loop
        assert loop is not None and self._start is not None
        tick = 1
        while True:
            now = loop.time()
            self.faults.tick(now)
            self._sync(now)
            due = self._start + tick * self.status_interval_s
            if now >= due - 1e-9:
                self._send_status(now)
                while self._start + tick * self.status_interval_s <= now + 1e-9:
                    tick += 1
                due = self._start + tick * self.status_interval_s
            nxt = self.faults.next_due()
            await self._sleep_until(due if nxt is None else min(due, nxt))

    # ------------------------------------------------------------ chair <-> body

    def _sync(self, now: float) -> None:
        """Advance the chair, mirror its events into the trace, drive the body."""
        try:
            self.chair.advance(now)
            self._mirror_events()
            state = self.chair.device_state(self.capabilities)
            if state != self._commanded:
                if state == DEVICE_STOPPED:
                    self.physics.stop(now, reason=self.chair.last_stop_reason)
                else:
                    self.physics.command(state, now)
                self._commanded = state
            self.physics.advance(now)
        except Exception as exc:  # the firmware must survive its own bugs; tests read errors
            self.errors.append(repr(exc))
            log.exception("simulated Rongtai chair: internal error")

    def _mirror_events(self) -> None:
        events = self.chair.events
        for event in events[self._events_seen :]:
            # kinds: key, dropped, ignored, unknown, power, reset, timer, move, limit, fault
            self.physics.trace.append(TraceEvent(event.t, event.kind, event.detail, {"chair": self.model}))
        self._events_seen = len(events)

    # ------------------------------------------------------------ incoming

    def _on_bytes(self, data: bytes) -> None:
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        if self.faults.stalled(now):
            return
        for press in self.decoder.feed(data):
            what = self.table.describe(press.key)
            if not self.faults.incoming(what, now):
                continue
            try:
                result = self.chair.press(press.key, now)
            except Exception as exc:  # noqa: BLE001 - survive anything the host sends
                self.errors.append(f"{what}: {exc!r}")
                result = "error"
            self.received.append((now, press.key, result))
        self._sync(now)
        self._wake_up()

    # ------------------------------------------------------------ outgoing

    def _send_status(self, now: float) -> None:
        if self.link_lost or self._queue is None:
            return
        try:
            frame = encode_status(self.chair.status(now), self.table.status_length)
        except ValueError as exc:
            self.errors.append(f"cannot encode status: {exc}")
            return
        out = self.faults.outgoing(frame, "status", now, status=True)
        if out is None:
            return
        self.sent_frames += 1
        self._queue_frame(*out, now)

    # ------------------------------------------------------------ the link

    def _link_lost(self, reason: str) -> None:
        # The chair carries on: its own timer (and end stops) end what was running.
        log.info("simulated Rongtai chair: link lost (%s)", reason)


class InfinityEvolutionSim(RongtaiSim):
    def __init__(
        self, transport: Transport, *, faults=None, model: str = "infinity-evolution", **options
    ) -> None:
        super().__init__(transport, faults=faults, model=model, **options)


class RongtaiRT6923Sim(RongtaiSim):
    def __init__(
        self, transport: Transport, *, faults=None, model: str = "rongtai-rt6923", **options
    ) -> None:
        super().__init__(transport, faults=faults, model=model, **options)
