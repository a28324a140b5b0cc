"""The main board of a Rongtai chair as its firmware behaves: key frames in, status out.

Pure (no I/O; every call takes the time). Written from the boards' own source code,
not from massager-ctl's driver: it has its own key codes (the firmware's names) and its
own status builder, so a test of the driver against it tests the driver against the
firmware's behaviour.

* The receiver: wangqian2528/RT6923 ``Application/src/BlueTooth.c``
  (``USART2_RX_IRQHandler``): ``F0`` starts a frame, ``F1`` ends it, the checksum covers
  source and key; the board keeps ONE received key, which its main loop reads.
* The states and what each key does in each: wangqian2528/RT6923
  ``Application/src/main.c`` - ``Main_Sleep`` (off: power and the motor keys switch it
  on, straight to ready), ``Main_WaitCommand`` (ready: programs, techniques, heat,
  airbag zones and the foot roller start it; speed, width, scope, 3D strength and airbag
  strength are ignored; a timer key sets only the preset; a minute without a key and it
  goes off), ``Main_Work`` and ``Main_Start_Manual`` (running: technique keys toggle,
  width only for knock/shiatsu/tap, speed not during shiatsu, airbag zone keys toggle,
  the timer ending resets the chair), ``Main_Settle`` (the reset: heat, airbags and
  timer cleared, rollers and actuators return home, then off; ANY key powers it off at
  once; a two-minute guard), ``Main_Problem`` (fault: power goes to ready).
* The status builder: wangqian2528/RT6911 ``main.c`` ``Main_BlueToothSend`` (17 bytes,
  checksum, an info frame when nothing changed) on a 200 ms tick (``main_200ms_int``);
  the 18-byte RT6923 builder (``Main_BlueToothSend`` in RT6923 ``main.c``). The
  technique codes follow RT6923's builder (knock 2, tap 4), as the Infinity captures
  and the vendor app do; RT6911's builder swaps those two.

Where the sources are silent, the choice is marked SIM (auto-program scripts, speeds of
the motors, the valves' rhythm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# --------------------------------------------------------------- the firmware's key codes
# wangqian2528/RT6923 Application/inc/ControlBox.h (H10_KEY_*), the same on RT6911.
SOI, EOI = 0xF0, 0xF1
CTRL_PROGRAM, CTRL_ENGINEERING = 0xA5, 0xBD
KEY_POWER_SWITCH = 0x01
KEY_CHAIR_AUTO = tuple(range(0x10, 0x16))  # AUTO_0 .. AUTO_5
KEY_KNEAD, KEY_KNOCK, KEY_PRESS, KEY_SOFT_KNOCK, KEY_WAVELET = 0x20, 0x21, 0x22, 0x23, 0x24
KEY_MANUAL, KEY_MUSIC, KEY_HEAT = 0x25, 0x26, 0x27
KEY_LOCATE_PART, KEY_LOCATE_POINT, KEY_LOCATE_FULL = 0x28, 0x29, 0x2A
KEY_WIDTH = {0x2B: 1, 0x2C: 2, 0x2D: 3}  # WIDTH_MIN, MED, MAX
KEY_SPEED = {0x2E + i: i + 1 for i in range(6)}  # SPEED_1 .. SPEED_6
KEY_WHEEL = {0x34: 1, 0x35: 2, 0x36: 3}  # WHEEL_SPEED_SLOW, MED, FAST
KEY_WHEEL_OFF, KEY_OZON = 0x37, 0x38
KEY_3DMODE = {0x39: 1, 0x3A: 2, 0x3B: 3}
KEY_HEAT_LEVEL = {0x3C: 1, 0x3D: 2, 0x3E: 3}  # RT6923 HEAT_MIN, MED, MAX
KEY_AIRBAG_LEG, KEY_AIRBAG_ARM, KEY_AIRBAG_WAIST, KEY_AIRBAG_BUTTOCKS = 0x40, 0x41, 0x42, 0x43
KEY_AIRBAG_AUTO = 0x44
KEY_AIRBAG_STRENGTH = {0x45 + i: i + 1 for i in range(5)}
KEY_AIRBAG_STRENGTH_OFF = 0x4A
KEY_WORK_TIME = {0x50: 600, 0x51: 1200, 0x52: 1800}
KEY_3DSPEED = {0x58 + i: i for i in range(5)}  # nKeyAxisStrength 0..4
KEY_WALK_UP_START, KEY_WALK_UP_STOP, KEY_WALK_DOWN_START, KEY_WALK_DOWN_STOP = 0x60, 0x61, 0x62, 0x63
KEY_BACKPAD_UP_START, KEY_BACKPAD_UP_STOP = 0x64, 0x65
KEY_BACKPAD_DOWN_START, KEY_BACKPAD_DOWN_STOP = 0x66, 0x67
KEY_LEGPAD_UP_START, KEY_LEGPAD_UP_STOP = 0x68, 0x69
KEY_LEGPAD_DOWN_START, KEY_LEGPAD_DOWN_STOP = 0x6A, 0x6B
KEY_LEGPAD_EXTEND_START, KEY_LEGPAD_EXTEND_STOP = 0x6C, 0x6D
KEY_LEGPAD_CONTRACT_START, KEY_LEGPAD_CONTRACT_STOP = 0x6E, 0x6F
KEY_ZERO_START = 0x70
#: Keys that wake the board from off (Main_Sleep).
WAKE_KEYS = frozenset(
    {
        KEY_POWER_SWITCH,
        KEY_BACKPAD_UP_START,
        KEY_BACKPAD_DOWN_START,
        KEY_LEGPAD_UP_START,
        KEY_LEGPAD_DOWN_START,
        KEY_LEGPAD_EXTEND_START,
        KEY_LEGPAD_CONTRACT_START,
    }
)

# --------------------------------------------------------------- the board's own numbers
# CHAIR_STATE_* (MassageStatus.h): what b7's low nibble carries (sleep is reported as 0).
STATE_OFF, STATE_SETTLE, STATE_WAIT_COMMAND, STATE_RUN, STATE_PROBLEM = 0, 1, 2, 3, 5

# BACK_SUB_MODE_*: the technique running; the value is the code RT6923's builder sends.
SUB_NONE, SUB_KNEAD, SUB_KNOCK, SUB_WAVELET, SUB_SOFT_KNOCK, SUB_PRESS, SUB_MUSIC, SUB_RUBBING = range(8)
TECHNIQUE_KEYS = {
    KEY_KNEAD: SUB_KNEAD,
    KEY_KNOCK: SUB_KNOCK,
    KEY_PRESS: SUB_PRESS,
    KEY_SOFT_KNOCK: SUB_SOFT_KNOCK,
    KEY_WAVELET: SUB_WAVELET,
    KEY_MUSIC: SUB_MUSIC,
}
#: Main_Start_Manual: the speed a technique starts at when none was chosen.
FIRST_SPEED = {SUB_KNEAD: 1}
DEFAULT_FIRST_SPEED = 2
#: Width keys act only for these (Main_Work: KNOCK, PRESS, SOFT_KNOCK).
WIDTH_SUBS = frozenset({SUB_KNOCK, SUB_PRESS, SUB_SOFT_KNOCK})

MODE_IDLE, MODE_MANUAL, MODE_AUTO, MODE_3D = range(4)
LOCATE_NONE, LOCATE_FULL, LOCATE_PARTIAL, LOCATE_POINT = 0, 1, 2, 3

# nKeyAirBagLocate bits as the builder shifts them into b12 (<< 2).
AIR_LEG, AIR_BACK, AIR_ARM, AIR_SEAT, AIR_AUTO = 0x01, 0x02, 0x04, 0x08, 0x10
AIRBAG_KEYS = {
    KEY_AIRBAG_LEG: AIR_LEG,
    KEY_AIRBAG_WAIST: AIR_BACK,
    KEY_AIRBAG_ARM: AIR_ARM,
    KEY_AIRBAG_BUTTOCKS: AIR_SEAT,
}

TOP_HEIGHT = 12  # the roller's highest reported position (neck); 0 is the waist
PARTIAL_HALF = 2  # SIM: HALF_PARTIAL_DIFF in reported steps
BUZZER_ONE_BEEP = 3  # BUZZER_MODE_ONETIME: b11 bits 5-6 of the next frame
DEFAULT_RUN_TIME_S = 1200  # Data_Cul.c Data_Init: w_Time while off

#: SIM: what each auto program plays (sub mode, speed, seconds), looped.
AUTO_SCRIPTS: tuple[tuple[tuple[int, int, float], ...], ...] = (
    ((SUB_KNEAD, 2, 60), (SUB_WAVELET, 3, 60), (SUB_PRESS, 2, 60)),  # recovery
    ((SUB_PRESS, 2, 60), (SUB_KNEAD, 3, 60)),  # stretch
    ((SUB_KNEAD, 1, 90), (SUB_MUSIC, 2, 60)),  # relax
    ((SUB_PRESS, 3, 60), (SUB_KNOCK, 4, 45), (SUB_KNEAD, 3, 60)),  # pain relief
    ((SUB_KNEAD, 3, 60), (SUB_SOFT_KNOCK, 4, 45), (SUB_NONE, 0, 5)),  # upper body
    ((SUB_KNOCK, 3, 45), (SUB_KNEAD, 2, 60)),  # lower body
)
_3D_SCRIPT = ((SUB_KNEAD, 3, 60), (SUB_PRESS, 2, 60))


@dataclass(frozen=True)
class BoardModel:
    """What differs between the boards massager-ctl knows."""

    name: str
    frame_length: int  # 17 (RT6911 builder) or 18 (RT6923 builder)
    model_flags: int  # b1 bits 0-2 (RT6911: 0x07; the Infinity captures: 0x05)
    info_frames: bool  # an info frame instead of an unchanged status
    back_airbag: bool  # the back/waist airbag key works
    heat_levels: bool  # RT6923's HEAT_MIN/MED/MAX keys
    position_mark: bool  # b8 bit 5 set at rest (the Infinity captures)
    foot_roller_flag: bool  # b13 bit 0 while the foot roller runs (RT6911)


BOARDS: dict[str, BoardModel] = {
    "rongtai-rt8600s": BoardModel("rongtai-rt8600s", 17, 0x07, True, True, False, False, True),
    "infinity-evolution": BoardModel("infinity-evolution", 17, 0x05, True, True, False, True, True),
    "rongtai-rt6923": BoardModel("rongtai-rt6923", 18, 0x00, False, False, True, False, False),
}


@dataclass
class Timing:
    """How fast the simulated motors move (SIM; a real chair's are not public)."""

    power_on_s: float = 0.05  # Main_Sleep: five 10 ms ticks
    key_poll_s: float = 0.005  # the main loop reads the one-key buffer
    knead_park_s: float = 0.5  # Main_Settle step 0-1: kneading heads to their widest
    walk_steps_per_s: float = 6.0  # the roller carriage, in reported steps
    sweep_steps_per_s: float = 2.0  # a full or partial sweep while massaging
    actuator_travel_s: float = 20.0  # backrest / leg rest, end to end
    ready_idle_s: float = 60.0  # Main_WaitCommand: 600 x 100 ms without a key
    reset_guard_s: float = 120.0  # Main_Settle: 2 * 60 * 10 x 100 ms
    airbag_cycle_s: float = 4.0  # SIM: a valve inflates half of each cycle


@dataclass(frozen=True)
class BoardEvent:
    t: float
    kind: str  # key, ignored, dropped, power, reset, timer, limit, move, fault, mode
    detail: str


@dataclass
class _Motor:
    direction: float  # +1 towards the end stop at 1.0, -1 towards 0.0
    until: float | None = None  # a target position (zero gravity, the reset), else the end stop


class KeyReceiver:
    """The Bluetooth UART receive interrupt: bytes in, (source, key) frames out."""

    def __init__(self) -> None:
        self._buf = [0] * 8
        self._index = 0
        self.bad = 0

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for byte in data:
            if byte == SOI:
                self._buf[0] = byte
                self._index = 1
            elif byte == EOI:
                if self._buf[0] == SOI and self._index >= 4:
                    ctrl, key, check = self._buf[1], self._buf[2], self._buf[3]
                    if (~(ctrl + key)) & 0x7F == check:
                        out.append((ctrl, key))
                    else:
                        self.bad += 1
                self._buf[0] = 0
                self._index = 0
            else:
                self._buf[self._index] = byte
                self._index = (self._index + 1) % len(self._buf)
        return out


class Board:
    """The main board's state machine and status builder. Every call takes the time."""

    def __init__(self, model: BoardModel, *, timing: Timing | None = None, start: float = 0.0) -> None:
        self.model = model
        self.timing = timing or Timing()
        self.t = float(start)
        self.events: list[BoardEvent] = []
        self.receiver = KeyReceiver()
        self.pending_key: tuple[float, int, int] | None = None  # (due, source, key)
        self.lost_keys = 0  # keys overwritten in the one-key buffer before the loop read them
        # the chair's body
        self.height = float(TOP_HEIGHT)  # the roller parks at the top
        self.positions = {"backrest": 0.0, "leg_rest": 0.0, "leg_extension": 0.0}
        self.motors: dict[str, _Motor] = {}
        self.state = STATE_OFF
        self.preset_s = 1200  # w_PresetTime, kept across sessions (EEPROM)
        self._clear_session()
        self.axis_strength = 2  # nKeyAxisStrength (Main_Initial_Data): shows as 3
        self.axis_changed_at = -math.inf
        self._last_frame: bytes | None = None
        self._beep = False
        self._waking: float | None = None  # off -> ready at this time (Main_Sleep's delay)
        self._zg_goal: dict[str, float] | None = None  # the zero-gravity move under way

    # ------------------------------------------------------------ session state

    def _clear_session(self) -> None:
        """Main_Initial_Data / Main_Close_Power: what a session leaves behind is cleared."""
        self.main_mode = MODE_IDLE
        self.sub = SUB_NONE  # nBackSubRunMode (what runs)
        self.shown_sub = SUB_NONE  # nCurSubFunction (what the builder shows)
        self.auto = 0  # nBackSubRunMode for auto programs (0..5) / 3D programs (1..3)
        self.program_started = self.t
        self.speed_key = 0  # nKeyKneadKnockSpeed
        self.speed = 0  # nCurKneadKnockSpeed
        self.width_key = 0  # nKeyKneadWidth (0 unknown)
        self.locate = LOCATE_NONE
        self.centre = self.height
        self.sweep = -1.0
        self.walking = 0.0  # the walk keys: +1 up, -1 down
        self.airbag = 0  # nKeyAirBagLocate
        self.airbag_strength = 0
        self.airbag_since = self.t
        self.heat = False
        self.heat_level = 0
        self.roller_on = False  # bRollerEnable (the foot roller)
        self.roller_speed = 0
        self.ionizer = False
        self.timer_running = False
        self.remaining = 0.0
        self.ready_since = self.t
        self.reset_started = self.t
        self.reset_step = 0
        self.reset_step_since = self.t
        self.zero_gravity = False

    # ------------------------------------------------------------ queries

    @property
    def powered(self) -> bool:
        return self.state != STATE_OFF

    @property
    def resetting(self) -> bool:
        return self.state == STATE_SETTLE

    @property
    def massaging(self) -> bool:
        """The rollers work on the back (not parking in a reset)."""
        return self.state == STATE_RUN and self.current_sub() != SUB_NONE

    def current_sub(self) -> int:
        """The technique running now (an auto program's script step, or the manual one)."""
        if self.state != STATE_RUN:
            return SUB_NONE
        if self.main_mode in (MODE_AUTO, MODE_3D):
            return self._script_step()[0]
        return self.sub

    def current_speed(self) -> int:
        if self.main_mode in (MODE_AUTO, MODE_3D) and self.state == STATE_RUN:
            return self._script_step()[1]
        return self.speed

    def _script_step(self) -> tuple[int, int, float]:
        script = _3D_SCRIPT if self.main_mode == MODE_3D else AUTO_SCRIPTS[self.auto]
        cycle = sum(s for _, _, s in script)
        at = (self.t - self.program_started) % cycle
        for step in script:
            if at < step[2]:
                return step
            at -= step[2]
        return script[-1]

    def remaining_s(self) -> int:
        """Data_Get_TimeSecond: the seconds left while running; off, Data_Init's default
        (DEFAULT_RUN_TIME, 20 min, as the Infinity's idle capture shows); else 0."""
        if self.state == STATE_OFF:
            return DEFAULT_RUN_TIME_S
        return max(0, math.ceil(self.remaining - 1e-9)) if self.timer_running else 0

    def actuator_moving(self, axis: str) -> float:
        motor = self.motors.get(axis)
        return 0.0 if motor is None else motor.direction

    def next_due(self) -> float | None:
        """When the board next changes by itself (a pending key): for the simulator's loop."""
        return None if self.pending_key is None else self.pending_key[0]

    # ------------------------------------------------------------ keys in

    def feed(self, data: bytes, now: float) -> list[tuple[int, int]]:
        """Bytes from the Bluetooth module. A key lands in the one-key buffer; a second
        one before the main loop read the first replaces it. Returns the frames heard."""
        self.advance(now)
        frames = self.receiver.feed(data)
        for source, key in frames:
            if source in (CTRL_PROGRAM, CTRL_ENGINEERING):
                self._event(
                    "ignored", f"source 0x{source:02X}: programming / engineering mode (SIM: refused)"
                )
                continue
            if self.pending_key is not None:
                self.lost_keys += 1
                self._event("dropped", f"key 0x{self.pending_key[2]:02X} overwritten before it was read")
            self.pending_key = (self.t + self.timing.key_poll_s, source, key)
        return frames

    def press(self, key: int, now: float) -> None:
        """A key pressed on the chair's own remote (the wired path), taken at once."""
        self.advance(now)
        self._key(key)

    # ------------------------------------------------------------ time

    def advance(self, now: float) -> None:
        now = float(now)
        step = 0.05
        while self.t < now - 1e-12:
            due = self.pending_key[0] if self.pending_key is not None else math.inf
            dt = min(step, now - self.t, max(due - self.t, 0.0))
            if dt <= 0:
                _, _, key = self.pending_key  # type: ignore[misc]
                self.pending_key = None
                self._key(key)
                continue
            self.t += dt
            self._tick(dt)
        if self.pending_key is not None and self.pending_key[0] <= self.t + 1e-12:
            _, _, key = self.pending_key
            self.pending_key = None
            self._key(key)

    def _tick(self, dt: float) -> None:
        t = self.t
        if self.state == STATE_OFF and self._waking is not None and t >= self._waking - 1e-9:
            self._waking = None
            self._enter_ready()
        if self.state == STATE_WAIT_COMMAND and t - self.ready_since >= self.timing.ready_idle_s - 1e-9:
            self._event("power", "off: a minute in ready without a key")
            self._enter_off()
        if self.state == STATE_RUN and self.timer_running:
            self.remaining = max(0.0, self.remaining - dt)
            if self.remaining <= 1e-9:
                self._event("timer", "expired")
                self._enter_reset(return_actuators=False)
        self._move_motors(dt)
        self._move_roller(dt)
        if self.state == STATE_SETTLE:
            self._settle(dt)

    # ------------------------------------------------------------ states

    def _enter_ready(self) -> None:
        """Main_WaitCommand's entry: Main_Stop_All, nothing running, timer not started."""
        self.state = STATE_WAIT_COMMAND
        self._clear_session()
        self._event("power", "on: ready")

    def _enter_run(self) -> None:
        """Main_Work's entry: the timer starts from the preset."""
        self.state = STATE_RUN
        self.timer_running = True
        self.remaining = float(self.preset_s)
        self._event("mode", "running")

    def _enter_reset(self, *, return_actuators: bool) -> None:
        """Main_Settle's entry: Main_Close_Power, then the return home."""
        self.state = STATE_SETTLE
        self.locate = LOCATE_NONE
        self.airbag = 0
        self.airbag_strength = 0
        self.heat = False
        self.heat_level = 0
        self.timer_running = False
        self.remaining = 0.0
        self.roller_on = False
        self.roller_speed = 0
        self.ionizer = False
        self.sub = SUB_NONE  # nBackSubRunMode; nCurSubFunction (shown) stays
        self.walking = 0.0
        self.reset_started = self.t
        self.reset_step = 0
        self.reset_step_since = self.t
        for axis in list(self.motors):
            del self.motors[axis]
        if return_actuators:
            for axis in ("backrest", "leg_rest", "leg_extension"):
                if self.positions[axis] > 0.0:
                    self.motors[axis] = _Motor(-1.0, until=0.0)
            self.zero_gravity = False
        self._event("reset", "returning home" + ("" if return_actuators else " (rollers only)"))

    def _enter_off(self) -> None:
        self.state = STATE_OFF
        self.motors.clear()
        preset = self.preset_s
        axis = self.axis_strength
        self._clear_session()
        self.preset_s, self.axis_strength = preset, axis
        self.shown_sub = SUB_NONE

    def trip_fault(self, now: float) -> None:
        """SIM: the board finds a fault (Main_Problem): everything stops."""
        self.advance(now)
        self.state = STATE_PROBLEM
        self.sub = self.shown_sub = SUB_NONE
        self.main_mode = MODE_IDLE
        self.airbag = self.airbag_strength = 0
        self.heat = False
        self.timer_running = False
        self.motors.clear()
        self._event("fault", "run state 5")

    def _settle(self, dt: float) -> None:
        """Main_Settle's steps: heads to their widest, roller to the top, actuators home."""
        tm = self.timing
        if self.t - self.reset_started >= tm.reset_guard_s - 1e-9:
            self._event("reset", "two-minute guard: off")
            self._enter_off()
            return
        if self.reset_step == 0 and self.t - self.reset_step_since >= tm.knead_park_s - 1e-9:
            self.reset_step = 1
        if self.reset_step == 1 and self.height >= TOP_HEIGHT - 1e-9:
            self.reset_step = 2
        if self.reset_step == 2 and not self.motors:
            self._event("reset", "done: off")
            self._enter_off()

    # ------------------------------------------------------------ keys

    def _key(self, key: int) -> None:
        state = self.state
        if state == STATE_OFF:
            self._key_off(key)
        elif state == STATE_SETTLE:
            # Main_Settle: any key switches everything off and abandons the return home.
            self._event("power", f"key 0x{key:02X} during the reset: off at once")
            self._enter_off()
        elif state == STATE_PROBLEM:
            if key == KEY_POWER_SWITCH:
                self._enter_ready()
            else:
                self._event("ignored", f"key 0x{key:02X} (fault)")
        elif state == STATE_WAIT_COMMAND:
            self.ready_since = self.t
            self._key_ready(key)
        else:
            self._key_run(key)

    def _took(self, what: str, beep: bool = True) -> None:
        self._beep = self._beep or beep
        self._event("key", what)

    def _ignored(self, key: int, why: str) -> None:
        self._event("ignored", f"key 0x{key:02X} ({why})")

    def _key_off(self, key: int) -> None:
        if key in WAKE_KEYS:
            if self._waking is None:
                self._waking = self.t + self.timing.power_on_s
            self._event("key", f"key 0x{key:02X}: waking")
        else:
            self._ignored(key, "off")

    def _key_ready(self, key: int) -> None:
        if key == KEY_POWER_SWITCH:
            self._took("power")
            self._enter_reset(return_actuators=True)
        elif key in KEY_CHAIR_AUTO:
            self._start_auto(KEY_CHAIR_AUTO.index(key))
            self._enter_run()
        elif key in KEY_3DMODE:
            self.main_mode, self.auto, self.locate = MODE_3D, KEY_3DMODE[key], LOCATE_FULL
            self.program_started = self.t
            self._took(f"3D program {self.auto}")
            self._enter_run()
        elif key in TECHNIQUE_KEYS or key == KEY_MANUAL:
            self.main_mode = MODE_MANUAL
            self._start_manual(TECHNIQUE_KEYS.get(key, SUB_MUSIC))
            self._enter_run()
        elif key == KEY_HEAT:
            self.heat = not self.heat
            self.heat_level = 1 if self.heat else 0
            self._took("heat " + ("on" if self.heat else "off"))
            if self.heat:
                self._enter_run()
        elif key in KEY_HEAT_LEVEL and self.model.heat_levels and KEY_HEAT_LEVEL[key] == 2:
            self.heat, self.heat_level = True, 2  # only HEAT_MED is handled in ready
            self._took("heat level 2")
            self._enter_run()
        elif key in AIRBAG_KEYS and (key != KEY_AIRBAG_WAIST or self.model.back_airbag):
            self.airbag = AIRBAG_KEYS[key]  # one zone, not a toggle, in ready
            self.airbag_strength = self.airbag_strength or 1
            self.airbag_since = self.t
            self._took(f"airbag zone 0x{self.airbag:02X}")
            self._enter_run()
        elif key == KEY_AIRBAG_AUTO:
            self.airbag, self.roller_on = AIR_AUTO, True
            self.roller_speed = self.roller_speed or 2
            self.airbag_strength = self.airbag_strength or 1
            self.airbag_since = self.t
            self._took("airbag full-body program")
            self._enter_run()
        elif key in KEY_WHEEL:
            self.roller_on, self.roller_speed = True, KEY_WHEEL[key]
            self._took(f"foot roller {self.roller_speed}")
            self._enter_run()
        elif key in KEY_WORK_TIME:
            self.preset_s = KEY_WORK_TIME[key]  # Data_Update_Time: no effect until running
            self._took(f"preset {self.preset_s // 60} min")
        elif key == KEY_ZERO_START or self._motor_key(key):
            if key == KEY_ZERO_START:
                self._zero_gravity()
        else:
            # speed, width, scope, 3D strength, airbag strength, walk keys, ...
            self._ignored(key, "ready")

    def _key_run(self, key: int) -> None:
        if key == KEY_POWER_SWITCH:
            self._took("power")
            self._enter_reset(return_actuators=True)
        elif key in KEY_CHAIR_AUTO:
            index = KEY_CHAIR_AUTO.index(key)
            if self.main_mode == MODE_AUTO and self.auto == index:
                self._ignored(key, "that program runs")
                return
            self._start_auto(index)
            self.timer_running, self.remaining = True, float(self.preset_s)
        elif key in KEY_3DMODE:
            self.main_mode, self.auto, self.locate = MODE_3D, KEY_3DMODE[key], LOCATE_FULL
            self.program_started = self.t
            self._took(f"3D program {self.auto}")
        elif key in TECHNIQUE_KEYS or key == KEY_MANUAL:
            if self.main_mode != MODE_MANUAL:
                self.main_mode = MODE_MANUAL
                self.sub = SUB_NONE
                self.locate = LOCATE_FULL
            self._start_manual(TECHNIQUE_KEYS.get(key, SUB_MUSIC))
        elif key in KEY_3DSPEED:
            if self.main_mode in (MODE_MANUAL, MODE_AUTO):
                self.axis_strength = KEY_3DSPEED[key]
                self.axis_changed_at = self.t
                self._took(f"3D strength {self.axis_strength + 1}")
            else:
                self._ignored(key, "3D strength outside manual and auto")
        elif key in KEY_SPEED:
            if self.main_mode != MODE_MANUAL or self.sub in (SUB_PRESS, SUB_NONE):
                self._ignored(key, "speed: not manual, shiatsu or rollers still")
                return
            self.speed_key = self.speed = KEY_SPEED[key]
            self._took(f"speed {self.speed}")
        elif key in KEY_WIDTH:
            if self.main_mode != MODE_MANUAL or self.sub not in WIDTH_SUBS:
                self._ignored(key, "width: only knock, shiatsu and tap")
                return
            self.width_key = KEY_WIDTH[key]
            self._took(f"width {self.width_key}")
        elif key in (KEY_LOCATE_FULL, KEY_LOCATE_PART, KEY_LOCATE_POINT):
            if self.main_mode != MODE_MANUAL:
                self._ignored(key, "scope outside manual")
                return
            self.locate = {KEY_LOCATE_FULL: LOCATE_FULL, KEY_LOCATE_PART: LOCATE_PARTIAL}.get(
                key, LOCATE_POINT
            )
            self.centre = self.height
            self._took(f"scope {self.locate}")
        elif key in (KEY_WALK_UP_START, KEY_WALK_DOWN_START):
            if self.main_mode == MODE_MANUAL and self.locate in (LOCATE_POINT, LOCATE_PARTIAL):
                self.walking = 1.0 if key == KEY_WALK_UP_START else -1.0
                self._took("walk " + ("up" if self.walking > 0 else "down"))
            else:
                self._ignored(key, "walk: only at a point or partial scope")
        elif key in (KEY_WALK_UP_STOP, KEY_WALK_DOWN_STOP):
            if self.walking:
                self.centre = self.height
            self.walking = 0.0
            self._took("walk stop", beep=False)
        elif key in AIRBAG_KEYS:
            self._airbag_zone_key(key)
        elif key == KEY_AIRBAG_AUTO:
            if self.airbag != AIR_AUTO:
                self.airbag, self.roller_on = AIR_AUTO, True
                self.roller_speed = self.roller_speed or 2
                self.airbag_strength = self.airbag_strength or 1
                self.airbag_since = self.t
            else:
                self.airbag, self.roller_on, self.roller_speed, self.airbag_strength = 0, False, 0, 0
            self._took("airbag full-body program")
        elif key in KEY_AIRBAG_STRENGTH:
            self.airbag_strength = KEY_AIRBAG_STRENGTH[key]
            self._took(f"airbag strength {self.airbag_strength}")
        elif key == KEY_AIRBAG_STRENGTH_OFF:
            if self.airbag == AIR_AUTO:
                self.roller_on, self.roller_speed, self.airbag_strength = False, 0, 0
            self.airbag = 0
            self._took("airbags off", beep=False)
        elif key in KEY_WORK_TIME:
            self.preset_s = KEY_WORK_TIME[key]
            self.remaining = float(self.preset_s)  # Data_Update_Time: started, so it counts
            self._event("timer", f"set {self.preset_s // 60} min")
            self._took(f"timer {self.preset_s // 60} min")
        elif key == KEY_HEAT:
            self.heat = not self.heat
            self.heat_level = 0 if not self.heat else (self.heat_level or 1)
            self._took("heat " + ("on" if self.heat else "off"))
        elif key in KEY_HEAT_LEVEL and self.model.heat_levels:
            self.heat, self.heat_level = True, KEY_HEAT_LEVEL[key]
            self._took(f"heat level {self.heat_level}")
        elif key in KEY_WHEEL:
            if self.roller_on and self.airbag == AIR_AUTO:
                self._ignored(key, "foot roller speed during the full-body airbag program")
                return
            self.roller_on, self.roller_speed = True, KEY_WHEEL[key]
            self._took(f"foot roller {self.roller_speed}")
        elif key == KEY_WHEEL_OFF:
            self.roller_on, self.roller_speed = False, 0
            self._took("foot roller off")
        elif key == KEY_OZON:
            self.ionizer = not self.ionizer
            self._took("ionizer " + ("on" if self.ionizer else "off"))
        elif key == KEY_ZERO_START:
            self._zero_gravity()
        elif not self._motor_key(key):
            self._ignored(key, "unknown")

    def _start_auto(self, index: int) -> None:
        """Main_Start_Auto (SIM where it sets valves): full scope, the full-body airbag
        program and the foot roller, as the Infinity captures of running programs show."""
        self.main_mode, self.auto = MODE_AUTO, index
        self.sub = SUB_NONE
        self.program_started = self.t
        self.locate = LOCATE_FULL
        self.airbag = AIR_AUTO
        self.airbag_strength = self.airbag_strength or 2
        self.airbag_since = self.t
        self.roller_on, self.roller_speed = True, self.roller_speed or 2
        self._took(f"auto program {index + 1}")

    def _start_manual(self, sub: int) -> None:
        """Main_Start_Manual: pressing the running technique again stops the rollers."""
        if self.sub == sub:
            self.sub = self.shown_sub = SUB_NONE
            self.speed_key = self.speed = 0
            if sub == SUB_KNEAD:
                self.locate = LOCATE_POINT
                self.centre = self.height
            self._took("rollers stopped (technique pressed again)")
            return
        self.sub = self.shown_sub = sub
        if self.speed_key == 0:
            self.speed_key = FIRST_SPEED.get(sub, DEFAULT_FIRST_SPEED)
        self.speed = self.speed_key
        if self.width_key == 0:
            self.width_key = 2
        if self.locate == LOCATE_NONE:
            self.locate = LOCATE_FULL
            self.centre = self.height
        self._took(f"technique {sub}")

    def _airbag_zone_key(self, key: int) -> None:
        """Main_Work: a zone key toggles that zone; the last zone off zeroes the strength;
        from the full-body program it starts over with that zone alone."""
        bit = AIRBAG_KEYS[key]
        if bit == AIR_BACK and not self.model.back_airbag:
            self._ignored(key, "no back/waist airbag key on this board")
            return
        if self.airbag == AIR_AUTO:
            self.airbag, self.roller_on, self.roller_speed = 0, False, 0
        self.airbag_strength = self.airbag_strength or 1
        if self.airbag == bit:
            self.airbag, self.airbag_strength = 0, 0
        else:
            self.airbag ^= bit
        self.airbag_since = self.t
        self._took(f"airbag zones 0x{self.airbag:02X}")

    def _motor_key(self, key: int) -> bool:
        """Backrest / leg rest / leg extension keys (they also run in ready). True if it was one."""
        if key == KEY_BACKPAD_UP_START:  # the leg rest follows, downwards
            self._run_motor("backrest", -1.0)
            self._run_motor("leg_rest", -1.0)
        elif key == KEY_BACKPAD_DOWN_START:
            self._run_motor("backrest", 1.0)
            self._run_motor("leg_rest", 1.0)
        elif key == KEY_LEGPAD_UP_START:
            self._run_motor("leg_rest", 1.0)
        elif key == KEY_LEGPAD_DOWN_START:
            self._run_motor("leg_rest", -1.0)
        elif key == KEY_LEGPAD_EXTEND_START:
            self._run_motor("leg_extension", 1.0)
        elif key == KEY_LEGPAD_CONTRACT_START:
            self._run_motor("leg_extension", -1.0)
        elif key in (KEY_BACKPAD_UP_STOP, KEY_BACKPAD_DOWN_STOP):
            self._stop_motors("backrest", "leg_rest")
        elif key in (KEY_LEGPAD_UP_STOP, KEY_LEGPAD_DOWN_STOP):
            self._stop_motors("leg_rest")
        elif key in (KEY_LEGPAD_EXTEND_STOP, KEY_LEGPAD_CONTRACT_STOP):
            self._stop_motors("leg_extension")
        else:
            return False
        return True

    def _run_motor(self, axis: str, direction: float) -> None:
        self.zero_gravity = False
        self.motors[axis] = _Motor(direction)
        self._event("move", f"{axis} {'out' if direction > 0 else 'back'}")

    def _stop_motors(self, *axes: str) -> None:
        for axis in axes:
            if self.motors.pop(axis, None) is not None:
                self._event("move", f"{axis} stopped")

    def _zero_gravity(self) -> None:
        """The zero-gravity key: backrest and leg rest to the zero-gravity pose (SIM pose),
        or back to the start when already there (RT6911: the key cycles the positions)."""
        if self.zero_gravity:
            goal = {"backrest": 0.0, "leg_rest": 0.0}
            self.zero_gravity = False
        else:
            goal = {"backrest": 0.6, "leg_rest": 0.8}
        for axis, target in goal.items():
            pos = self.positions[axis]
            if abs(pos - target) > 1e-9:
                self.motors[axis] = _Motor(1.0 if target > pos else -1.0, until=target)
        self._zg_goal = goal
        self._took("zero gravity")

    # ------------------------------------------------------------ bodies in motion

    def _move_motors(self, dt: float) -> None:
        step = dt / self.timing.actuator_travel_s
        for axis in list(self.motors):
            motor = self.motors[axis]
            pos = self.positions[axis] + motor.direction * step
            end = motor.until
            if end is not None and (pos - end) * motor.direction >= 0:
                pos = end
            pos = min(1.0, max(0.0, pos))
            self.positions[axis] = pos
            if (end is not None and pos == end) or pos in (0.0, 1.0):
                del self.motors[axis]
                self._event("limit", f"{axis} stopped at {pos:.2f}")
        goal = self._zg_goal
        if goal is not None and not any(a in self.motors for a in goal):
            self._zg_goal = None
            if all(abs(self.positions[a] - p) < 1e-6 for a, p in goal.items()) and goal["backrest"] > 0:
                self.zero_gravity = True
                self._event("move", "zero gravity reached")

    def _move_roller(self, dt: float) -> None:
        tm = self.timing
        h = self.height
        if self.state == STATE_SETTLE:
            if self.reset_step >= 1:
                self.height = min(float(TOP_HEIGHT), h + tm.walk_steps_per_s * dt)
            return
        if self.state != STATE_RUN:
            return
        if self.walking:
            self.height = min(float(TOP_HEIGHT), max(0.0, h + self.walking * tm.walk_steps_per_s * dt))
            self.centre = self.height
            if self.height in (0.0, float(TOP_HEIGHT)):
                self.walking = 0.0
                self._event("limit", "roller at its end")
            return
        if self.current_sub() == SUB_NONE:
            return
        if self.locate == LOCATE_POINT:
            return
        if self.locate == LOCATE_PARTIAL:
            lo = max(0.0, self.centre - PARTIAL_HALF)
            hi = min(float(TOP_HEIGHT), self.centre + PARTIAL_HALF)
        else:
            lo, hi = 0.0, float(TOP_HEIGHT)
        speed = tm.sweep_steps_per_s if lo <= h <= hi else tm.walk_steps_per_s
        h += self.sweep * speed * dt
        if h >= hi:
            h, self.sweep = hi, -1.0
        elif h <= lo:
            h, self.sweep = lo, 1.0
        self.height = h

    # ------------------------------------------------------------ status out

    def _event(self, kind: str, detail: str) -> None:
        self.events.append(BoardEvent(self.t, kind, detail))

    def _width_position(self) -> int:
        """Input_GetKneadPosition: the heads' live width. Parked at the chosen width for
        knock / shiatsu / tap; moving through narrow-medium-wide while kneading (SIM)."""
        sub = self.current_sub() if self.state == STATE_RUN else SUB_NONE
        if sub in WIDTH_SUBS:
            return self.width_key or 2
        if sub == SUB_NONE:
            return self.width_key or 3  # Main_Settle parks the heads at their widest
        return (1, 2, 3, 2)[int(self.t * 2) % 4]

    def _airbag_bits(self) -> tuple[int, int]:
        """(b6 valve bits, b7 airbag bits): the chosen zones' valves, working half of each
        cycle (SIM rhythm)."""
        if not self.airbag or self.state != STATE_RUN:
            return 0, 0
        cycle = self.timing.airbag_cycle_s
        if (self.t - self.airbag_since) % cycle >= cycle / 2:
            return 0, 0
        zones = 0x1F if self.airbag == AIR_AUTO else self.airbag
        b6 = b7 = 0
        if zones & AIR_LEG:
            b6 |= 0x03
        if zones & AIR_SEAT:
            b6 |= 0x04
        if zones & AIR_ARM:
            b6 |= 0x10
            b7 |= 0x10
        if zones & AIR_BACK:
            b7 |= 0x20
        return b6, b7

    def _strength_shown(self) -> int:
        """b14 bits 0-2: (nKeyAxisStrength + 1), blinking with 0 for 3 s after a change
        (nAxisUpdateCounter, in 100 ms, counts only while running)."""
        value = (self.axis_strength + 1) & 0x07
        since = self.t - self.axis_changed_at
        if self.state == STATE_RUN and since < 3.0:
            counter = math.floor(since * 10 + 1e-6)  # nAxisUpdateCounter, in 100 ms ticks
            return value if (counter // 5) % 2 == 0 else 0
        return value

    def body(self) -> list[int]:
        """b1..b14 (and b15 on the 18-byte board) as Main_BlueToothSend builds them."""
        m = self.model
        state = self.state
        run = state == STATE_RUN
        b = [0] * (m.frame_length - 3)
        b1 = m.model_flags
        if state != STATE_OFF:
            b1 |= 0x40
        shown = SUB_NONE if self.main_mode == MODE_3D else self.shown_sub
        if run and self.main_mode == MODE_AUTO:
            shown = self._script_step()[0]
        b1 |= (shown & 0x07) << 3
        b[0] = b1
        speed = 0 if self.main_mode == MODE_IDLE else self.current_speed()
        if m.frame_length == 18 and (shown == SUB_PRESS or self.main_mode == MODE_3D):
            speed = 0  # RT6923's builder hides the speed during shiatsu and 3D
        b2 = (0x40 if self.heat else 0) | ((speed & 0x07) << 2) | (self._width_position() & 0x03)
        if self.roller_on:
            b2 |= 0x20
        b[1] = b2
        b3 = (self.airbag_strength & 0x07) if self.airbag else 0
        if self.ionizer and m.name != "rongtai-rt8600s":
            b3 |= 0x40
        b[2] = b3
        if self.main_mode == MODE_AUTO:
            scope = 1 if self.auto <= 3 else 2
        elif self.main_mode == MODE_3D:
            scope = 1
        else:
            scope = self.locate if self.locate in (LOCATE_FULL, LOCATE_PARTIAL, LOCATE_POINT) else 0
        seconds = self.remaining_s()
        b[3] = (scope << 5) | ((seconds >> 7) & 0x1F)
        b[4] = seconds & 0x7F
        valves, working = self._airbag_bits()
        b6 = valves
        if self.roller_on:
            b6 |= (self.roller_speed & 0x03) << 5
        b[5] = b6
        b[6] = working | (state & 0x0F)
        b8 = max(0, min(TOP_HEIGHT, round(self.height)))
        if m.position_mark and not self.zero_gravity:
            b8 |= 0x20
        if self.zero_gravity and m.frame_length == 18:
            b8 |= 0x40
        b[7] = b8
        b[8] = 0  # body scan
        b10 = 0x40 if self.zero_gravity else 0
        for axis, shift in (("backrest", 0), ("leg_rest", 2)):
            direction = self.actuator_moving(axis)
            if direction:
                # b10: 1 up, 2 down. The backrest going "out" (reclining) is down; the leg
                # rest going out is up.
                up = direction < 0 if axis == "backrest" else direction > 0
                b10 |= (1 if up else 2) << shift
        b[9] = b10
        b[10] = (BUZZER_ONE_BEEP << 5) if self._beep else 0
        preset = {600: 1, 1200: 2, 1800: 3}.get(self.preset_s, 0)
        b[11] = preset | ((self.airbag & 0x1F) << 2)
        b13 = 0x01 if (self.roller_on and m.foot_roller_flag) else 0
        if self.main_mode == MODE_AUTO:
            b13 |= ((self.auto + 1) & 0x0F) << 2
        elif self.main_mode == MODE_3D:
            b13 |= 0x0B << 2
        elif run:
            b13 |= 7 << 2
        b[12] = b13
        b14 = self._strength_shown()
        if self.main_mode == MODE_3D:
            b14 |= (self.auto & 0x07) << 3
        b[13] = b14
        if m.frame_length == 18:
            b[14] = 0x20  # stretch vigour 0, kneading turn 0, tapping "off" lit
        return b

    def frame(self, now: float) -> bytes:
        """The frame the 200 ms tick sends now: the status, or (boards that do) an info
        frame when the status is the same as the last one sent."""
        self.advance(now)
        body = self.body()
        if self.model.frame_length == 18:
            out = bytes([SOI, *body, 0x00, EOI])  # RT6923: no checksum, sent every tick
        else:
            check = (~sum(body)) & 0x7F
            out = bytes([SOI, *body, check, EOI])
            if self.model.info_frames and out == self._last_frame:
                self._last_frame = None  # the next tick sends the status again
                return bytes([SOI, 0x85, 0, 0, 0, 0, 0, 0, 0, 0])  # no network programs
        self._beep = False
        self._last_frame = out
        return out
