"""The host-side driver for Rongtai / Infinity massage chairs.

A Rongtai chair takes remote-control key presses and reports itself in a status frame
every 200 ms (an info frame instead when nothing changed); it never answers a key. So
the driver works closed-loop: ``apply(state)`` takes the latest status, asks
:mod:`massager_ctl.devices.rongtai.reconcile` for the next key, presses it, and waits for
the status to show it took (bounded retries). Every wait has a timeout; a status stream
that stops is a :class:`DeviceTimeout`, never a hang.

Endpoints: key frames are written to ``"tx"`` (BLE: the FFF1 characteristic, write without
response); status arrives through the transport's receiver (BLE: notifications of
0734594a-...). A serial line ignores endpoint names.

Safety (the board's behaviour: wangqian2528/RT6923 ``Application/src/main.c``):

* **No key during a reset, ever.** After power the board resets - heat, airbags and timer
  cleared, rollers and actuators returning home - and any key then switches it off at
  once, abandoning the return home. The driver presses nothing while the status says
  "resetting" (and a motor's stop key only while the board takes keys).
* ``stop()`` presses nothing on a chair that is off, resetting or faulted. On a chair that
  is ready or running it presses the stop keys of the actuators b10 shows moving, then
  power once. The stop is *on its way* when the board resets with heat and airbags
  cleared (``on_stop_progress`` hears "returning home", with each status), and *done*
  when it is off; the reset is waited for at most :data:`RESET_TIMEOUT_S`.
* **The person's stop is respected.** A chair that goes from ready or running to
  resetting or off without this driver pressing power was stopped at its own remote or
  by its own timer: :attr:`acknowledged` still holds the state it was told, so the
  session ends ``device-stopped`` (``reports_own_stop``), and ``apply`` refuses to press
  anything until a ``stop()``.
* **Looking presses nothing; a stop never presses power blind.** ``observe()`` opens the
  link and refuses every key on it. ``open_and_stop()`` (``massager-ctl stop``) reads the
  status the chair sends by itself before it decides: the power key is a toggle.
* A technique key toggles: the running technique is never pressed again, and a chair that
  answers a technique key with another technique code is refused, not pressed again.
* At the start of a session the chair's own timer (10/20/30 min: the smallest covering
  :attr:`session_s`, else 30; renewed when under a minute is left while the host is
  alive) is set once the chair runs, so a lost link still ends the session chair-side.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import replace

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...core.vocabulary import Heat, Zone
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice, ReplyWaiters
from ..native.driver import validate_state
from .codec import (
    DEFAULT_SOURCE,
    KEY_TABLES,
    TOP_ROLLER_HEIGHT,
    AirbagZone,
    KeyTable,
    RongtaiStatus,
    StatusDecoder,
    encode_key,
)
from .facts import (
    ENDPOINT_COMMANDS,
    KEY_TABLE_OF,
    MIN_WRITE_GAP_S,
    RESET_TIMEOUT_S,
    RT6923_CAPABILITIES,
    RT8600S_CAPABILITIES,
)
from .reconcile import (
    AIRBAG_ZONE_WORDS,
    DEFAULT_MAX_WALK_S,
    POINT_TOLERANCE,
    TECHNIQUE_WORDS,
    TOGGLE_KINDS,
    WIDTH_WORDS,
    ZONE_TO_AIRBAG,
    Action,
    ChairTarget,
    Move,
    Press,
    Refuse,
    Wait,
    chair_timer_for,
    is_stopped,
    motor_stop_keys,
    next_action,
    program_action,
    run_state_name,
    stop_plan,
    timer_confirmed,
    zones_at,
)

log = logging.getLogger(__name__)

#: Renew the chair timer when less than this is left and the host is alive.
TIMER_RENEW_S = 60
#: A reset or power-off this host did not cause by pressing power within this window
#: (on a chair that was on) is the chair's own doing: its remote or its timer.
_OWN_POWER_WINDOW_S = 3.0
#: Fewer stray bytes than this at connect are taken for line noise.
_NOISE_BYTES = 8
#: Roller walks one apply makes before it takes the scope where the roller is (a chair
#: whose roller does not walk as asked must not be walked until the apply times out).
MAX_WALKS = 2
#: The phase a stop reports while the board resets.
RETURNING_HOME = "returning home"


def to_status(rs: RongtaiStatus, caps: Capabilities, strength_seen: int = 0) -> Status:
    """A decoded status frame as the control layer's :class:`Status` (device units).

    Only a running board massages: a resetting one still shows its last technique
    (the Infinity does) while its rollers park, and that is not reported as massage."""
    technique = TECHNIQUE_WORDS.get(rs.technique or "") if rs.running else None
    zones = zones_at(rs.scope, rs.roller_height) & caps.zones if technique else frozenset()
    airbags: list[tuple[Zone, int]] = []
    if rs.airbag_strength:
        chosen = rs.airbag_zones
        for zone, words in AIRBAG_ZONE_WORDS.items():
            if zone & chosen or rs.airbag_auto:
                airbags.extend((w, rs.airbag_strength) for w in words if w in caps.airbag_zones)
    heat = Heat.OFF
    if rs.heat:
        heat = caps.heat_levels[0] if caps.heat_levels else Heat.LOW
    strength = rs.strength_3d or strength_seen
    active = bool(technique and zones)
    state = DeviceState(
        technique=technique if active else None,
        zones=zones if active else frozenset(),
        intensity=min(strength, caps.intensity_steps) if active else 0,
        speed=min(rs.speed, caps.speed_steps) if active else 0,
        width=WIDTH_WORDS.get(rs.width) if active and rs.technique in ("knock", "shiatsu", "tap") else None,
        airbags=tuple(airbags),
        heat=heat,
    )
    return Status(
        running=rs.running,
        state=state,
        # 0.0 neck .. 1.0 seat; the roller's lowest point is the waist, 5/6 of the way.
        roller_position=round((1.0 - rs.roller_height / TOP_ROLLER_HEIGHT) * 5 / 6, 3),
        airbag_pressure=(),
        heater_temp_c=None,
        remaining_s=rs.remaining_s if rs.running else None,
        fault="the chair reports a fault (run state 5)" if rs.fault else None,
        extra={
            "run_state": run_state_name(rs),
            "powered": rs.powered,
            "stop_on_its_way": rs.stop_on_its_way,
            "chair_technique": rs.technique if rs.running else None,
            "program": rs.program,
            "program_code": rs.program_code,
            "scope": rs.scope.name.lower(),
            "roller_height": rs.roller_height,
            "airbag_strength": rs.airbag_strength,
            "preset_timer_s": rs.preset_timer_s,
            "backrest": rs.backrest.name.lower(),
            "leg_rest": rs.leg_rest.name.lower(),
            "zero_gravity": rs.zero_gravity,
            "confirmed": True,
        },
    )


def _resolve_table(name: str, key_table: KeyTable | str | None) -> KeyTable:
    if isinstance(key_table, KeyTable):
        return key_table
    table_name = key_table or KEY_TABLE_OF.get(name, "rt8600s")
    try:
        return KEY_TABLES[table_name]
    except KeyError:
        raise ValueError(
            f"unknown Rongtai key table {table_name!r}; known: {', '.join(KEY_TABLES)}"
        ) from None


class _Deadline(Exception):
    """Internal: an operation's overall deadline passed."""


class _ChairEnded(DeviceError):
    """The chair ended the session by itself: nothing more is pressed."""


class RongtaiDevice(LinkedDevice, Device):
    """A Rongtai / Infinity chair (or :class:`~massager_ctl.devices.rongtai.sim.RongtaiSim`)."""

    #: The writer calls keepalive() after this long without a write: it renews the
    #: chair timer when it is nearly out and notices a dead status stream.
    keepalive_s = 20.0
    #: The status says reliably when the chair stopped by itself (its remote, its timer).
    reports_own_stop = True

    def __init__(
        self,
        transport: Transport,
        *,
        min_write_gap_s: float = MIN_WRITE_GAP_S,
        name: str = "rongtai-rt8600s",
        key_table: KeyTable | str | None = None,
        source: int = DEFAULT_SOURCE,
        capabilities: Capabilities | None = None,
        session_s: float | None = None,
        status_timeout_s: float = 3.0,
        confirm_frames: int = 3,
        confirm_timeout_s: float = 0.8,
        toggle_confirm_s: float = 1.2,
        retries: int = 3,
        reset_timeout_s: float = RESET_TIMEOUT_S,
        apply_timeout_s: float = 20.0,
        max_move_s: float = 20.0,
        max_walk_s: float = DEFAULT_MAX_WALK_S,
        open_timeout_s: float = 10.0,
        write_timeout_s: float = 1.0,
        endpoint: str = ENDPOINT_COMMANDS,
        write_response: bool = False,
    ) -> None:
        super().__init__()
        for what, value in (
            ("status_timeout_s", status_timeout_s),
            ("confirm_timeout_s", confirm_timeout_s),
            ("toggle_confirm_s", toggle_confirm_s),
            ("reset_timeout_s", reset_timeout_s),
            ("apply_timeout_s", apply_timeout_s),
            ("max_move_s", max_move_s),
            ("open_timeout_s", open_timeout_s),
            ("write_timeout_s", write_timeout_s),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{what} must be above 0, not {value!r}")
        if retries < 0 or confirm_frames < 1:
            raise ValueError("retries must be >= 0 and confirm_frames >= 1")
        self.transport = transport
        self.name = name
        self.table = _resolve_table(name, key_table)
        if capabilities is None:
            capabilities = RT6923_CAPABILITIES if self.table.heat_levels else RT8600S_CAPABILITIES
        self._capabilities = capabilities
        self.source = source
        encode_key(self.table.power, source)  # refuses a bad source now, not mid-session
        self.min_write_gap_s = min_write_gap_s
        self.session_s = session_s
        self.status_timeout_s = status_timeout_s
        self.confirm_frames = confirm_frames
        self.confirm_timeout_s = confirm_timeout_s
        self.toggle_confirm_s = toggle_confirm_s
        self.retries = retries
        self.reset_timeout_s = reset_timeout_s
        self.apply_timeout_s = apply_timeout_s
        self.max_move_s = max_move_s
        self.max_walk_s = max_walk_s
        self.open_timeout_s = open_timeout_s
        self.write_timeout_s = write_timeout_s
        self.endpoint = endpoint
        self.write_response = write_response
        self.decoder = StatusDecoder(self.table.status_length)
        self.last: RongtaiStatus | None = None
        self.last_at: float | None = None
        self.rx_bytes = 0
        self.frames_seen = 0
        self.keys_sent: list[tuple[float, int]] = []  # (loop time, key): for tests and traces
        self.timer_s: int | None = None  # the chair timer chosen at the session's start
        #: Told the phase of a stop and each status while it lasts: "returning home".
        self.on_stop_progress: Callable[[str, Status], None] | None = None
        #: False until this host presses a key after connect: a host that only looked
        #: leaves the chair alone when it closes.
        self.commanded = False
        self.strength_seen = 0  # the 3D strength last shown (b14 blinks 0 after a change)
        self._waiters = ReplyWaiters()
        self._lock = asyncio.Lock()
        self._ever_connected = False
        self._last_write_at = float("-inf")
        self._timer_armed = False
        self._power_off_pressed_at = float("-inf")  # when this host last pressed power on a powered chair
        self._chair_ended: str | None = None
        self._observing = False  # opened by observe(): no key is pressed
        self._fault_seen = False
        self._stop_frames: dict[int, bytes] = {}
        self._walks = 0  # roller walks in the current apply
        self._attach_link(transport)

    # -- what the control layer reads ---------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def link_loss_note(self) -> str:  # type: ignore[override]
        timer = f"{self.timer_s // 60} min" if self.timer_s else "10/20/30 min"
        return (
            f"the chair's own session timer ({timer}, set at the start) ends the session; "
            "a recline move in progress runs to its end stop"
        )

    @property
    def chair_ended(self) -> str | None:
        """Why the chair ended the session by itself (None if it did not)."""
        return self._chair_ended

    def plan_session(self, seconds: float | None) -> None:
        """Say how long the coming session lasts: picks the chair timer (10/20/30 min)."""
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"session length must be above 0 s, not {seconds!r}")
        self.session_s = seconds

    def status_of(self, rs: RongtaiStatus) -> Status:
        return to_status(rs, self._capabilities, self.strength_seen)

    def reported_as(self, state: DeviceState) -> DeviceState:
        """``state`` as this chair's status shows it once it runs it (see :func:`to_status`):
        an airbag zone brings its whole chair group (legs: calves and feet; arms: arms and
        shoulders) at the one strength all zones share, the lowest asked; heat on is the
        one level the status has. The 3D strength is reported as pressed."""
        caps = self._capabilities
        groups = AirbagZone.NONE
        levels = []
        for zone, level in state.airbags:
            if level > 0 and zone in ZONE_TO_AIRBAG:
                groups |= ZONE_TO_AIRBAG[zone]
                levels.append(level)
        strength = min(levels, default=0)
        airbags = [
            (word, strength)
            for group, words in AIRBAG_ZONE_WORDS.items()
            if group & groups
            for word in words
            if word in caps.airbag_zones
        ]
        heat = state.heat
        if heat is not Heat.OFF:
            heat = caps.heat_levels[0] if caps.heat_levels else Heat.LOW
        return replace(state, airbags=tuple(airbags), heat=heat)

    # -- receiving ----------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        self.rx_bytes += len(data)
        for status in self.decoder.feed(data):
            try:
                self._on_status(status)
            except Exception:  # a bug here must not break the receive path
                log.exception("%s: status handling failed", self.name)

    def _on_status(self, status: RongtaiStatus) -> None:
        now = asyncio.get_running_loop().time()
        prev, self.last, self.last_at = self.last, status, now
        self.frames_seen += 1
        if status.strength_3d:
            self.strength_seen = status.strength_3d
        if not status.running:
            self._timer_armed = False
        # A reset this host did not start (even one right after its power-on: the person
        # pressed power before the host saw "ready"), or a switch-off from ready/running.
        began_reset = status.resetting and (prev is None or not prev.resetting)
        switched_off = status.off and prev is not None and prev.takes_keys
        if (
            (began_reset or switched_off)
            and now - self._power_off_pressed_at > _OWN_POWER_WINDOW_S
            and self._connected
            # Only while a state of this host's is in force or on its way: not before it
            # pressed anything, not after its own stop (the person may use the chair then).
            and self.commanded
            and (self.acknowledged is None or not self.acknowledged.is_stopped)
            and self._chair_ended is None
        ):
            if prev is not None and prev.running and prev.remaining_s <= 2:
                why = "its own timer ran out"
            elif status.off and prev is not None and prev.ready:
                why = "it switched itself off after a minute in ready"
            else:
                why = "it was switched off at the chair"
            self._chair_ended = why
            # Not a fault event: a fault ends a session as an error. The person's stop
            # reaches the session through the status itself (``reports_own_stop``: this
            # frame is judged against :attr:`acknowledged`) and ends it "device-stopped".
            log.info("%s: the chair ended the session (%s)", self.name, why)
        if status.fault and not self._fault_seen:
            self._emit(self.events.emit_fault, f"{self.name}: the chair reports a fault")
        self._fault_seen = status.fault
        self._waiters.resolve_all(status)
        if self.events.status:
            self._emit(self.events.emit_status, self.status_of(status))

    def _link_lost(self, reason: str) -> None:
        self._waiters.fail_all(DeviceDisconnected(f"{self.name}: link lost ({self._lost_reason})"))

    async def _next_status(self, deadline: float | None = None) -> RongtaiStatus:
        """The next status frame; DeviceTimeout when the stream stops, _Deadline at ``deadline``."""
        self._check_link()
        loop = asyncio.get_running_loop()
        wait = self.status_timeout_s
        by_deadline = False
        if deadline is not None and deadline - loop.time() < wait:
            wait, by_deadline = max(0.0, deadline - loop.time()), True
        try:
            status: RongtaiStatus = await self._waiters.wait(wait)
        except TimeoutError:
            if by_deadline:
                raise _Deadline() from None
            raise DeviceTimeout(self._no_status_text()) from None
        return status

    def _no_status_text(self) -> str:
        if self.frames_seen == 0 and self.rx_bytes >= _NOISE_BYTES:
            return (
                f"{self.name}: received {self.rx_bytes} bytes but no valid status frame "
                f"({self.table.status_length}-byte F0..F1 frames expected); wrong model "
                "(the RT6923 sends 18-byte frames), wrong port or wrong baud rate?"
            )
        if self.frames_seen == 0:
            return (
                f"{self.name}: no status frame from the chair within the wait; is it on "
                "(mains switch) and in range, and is this the right port or address?"
            )
        return (
            f"{self.name}: the chair's status stream stopped (no frame for "
            f"{self.status_timeout_s:g} s; it sends one at least every 400 ms)"
        )

    def _fresh(self, within_s: float = 0.6) -> RongtaiStatus | None:
        """The latest status if it is recent enough to act on."""
        if self.last is None or self.last_at is None:
            return None
        if asyncio.get_running_loop().time() - self.last_at > within_s:
            return None
        return self.last

    # -- sending ------------------------------------------------------------------

    async def _send_key(self, key: int) -> None:
        """Press one key, keeping the minimum gap between key frames."""
        if self._observing:
            raise DeviceError(f"{self.name}: opened to observe only: no key is pressed")
        self._check_link()
        loop = asyncio.get_running_loop()
        wait = self._last_write_at + self.min_write_gap_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = self._stop_frames.get(key) or encode_key(key, self.source)
        self.commanded = True
        switching_off = key == self.table.power and self.last is not None and not self.last.off
        if switching_off:
            # Marked before the write: the reset it causes may show before the write returns.
            self._power_off_pressed_at = loop.time()
        await self._write_within(
            frame,
            self.write_timeout_s,
            "a key press did not go out within",
            endpoint=self.endpoint,
            response=self.write_response,
        )
        now = loop.time()
        self._last_write_at = now
        self.keys_sent.append((now, key))
        if switching_off:
            self._power_off_pressed_at = now
        log.debug("%s: pressed %s", self.name, self.table.describe(key))

    async def _send_key_surely(self, key: int) -> None:
        """Send ``key`` even if the caller is cancelled meanwhile (stop keys)."""
        task = asyncio.get_running_loop().create_task(self._send_key(key))
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
            except Exception:  # noqa: BLE001 - surfaced below
                break
        if cancelled:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s: stop key not sent: %s", self.name, task.exception())
            raise asyncio.CancelledError()
        task.result()

    async def _stop_motors_if_takes_keys(self, keys: list[int]) -> None:
        """Motor stop keys, only while the board takes keys: in a reset any key would
        switch it off mid-way (and the reset moves the motors itself)."""
        for key in keys:
            status = self._fresh()
            if status is None or not status.takes_keys:
                log.info(
                    "%s: %s not pressed: the chair does not take keys now",
                    self.name,
                    self.table.describe(key),
                )
                return
            await self._send_key_surely(key)

    # -- the closed loop ------------------------------------------------------------

    def _timer_due(self, status: RongtaiStatus) -> bool:
        return status.running and (not self._timer_armed or status.remaining_s <= TIMER_RENEW_S)

    def _plan(self, status: RongtaiStatus, target: ChairTarget) -> list[Action]:
        if not target.powered:
            return stop_plan(status, self.table)
        action = next_action(
            status,
            target,
            self.table,
            strength_seen=self.strength_seen,
            timer_due=self._timer_due(status),
            session_s=self.session_s,
            max_walk_s=self.max_walk_s,
            may_walk=self._walks < MAX_WALKS,
        )
        return [action] if action is not None else []

    def _refuse_if_resetting(self) -> None:
        """A motor key during the board's reset would switch it off mid-way."""
        if self.last is not None and self.last.resetting:
            raise DeviceError(f"{self.name}: the chair is resetting (returning home); no key until it is off")

    def _refuse_if_ended(self) -> None:
        if self._chair_ended is not None:
            raise _ChairEnded(
                f"{self.name}: the chair ended the session itself ({self._chair_ended}); "
                "massager-ctl does not switch it back on"
            )

    async def _drive(
        self,
        plan: Callable[[RongtaiStatus], list[Action]],
        deadline: float,
        *,
        check_ended: bool = True,
    ) -> RongtaiStatus:
        """Run ``plan`` until it has nothing left to do; returns the final status.

        ``check_ended``: refuse to go on once the chair ended the session itself."""
        loop = asyncio.get_running_loop()
        failures: dict[int, int] = {}
        waiting_since: float | None = None
        while True:
            status = await self._next_status(deadline)
            if check_ended:
                self._refuse_if_ended()
            actions = plan(status)
            if not actions:
                return status
            action = actions[-1]
            if isinstance(action, Refuse):
                raise DeviceError(f"{self.name}: {action.reason}")
            if isinstance(action, Wait):
                now = loop.time()
                waiting_since = now if waiting_since is None else waiting_since
                if now - waiting_since > self.reset_timeout_s:
                    raise DeviceTimeout(f"{self.name}: waited {now - waiting_since:.0f} s ({action.reason})")
                # A reset is bounded by reset_timeout_s, not by the operation's deadline.
                deadline = max(deadline, now + self.status_timeout_s)
                continue
            waiting_since = None
            for extra in actions[:-1]:  # motor stop keys before power: not toggles
                if isinstance(extra, Press):
                    await self._send_key_surely(extra.key)
            if isinstance(action, Move):
                self._walks += 1
                await self._run_move(action, deadline)
                continue
            assert isinstance(action, Press)
            if failures.get(action.key, 0) > self.retries:
                raise DeviceError(
                    f"{self.name}: the chair did not take '{action.what}' "
                    f"(key 0x{action.key:02X}) after {failures[action.key]} presses; "
                    f"last status: {_brief(status)}"
                )
            if action.kind == "power" and status.takes_keys:
                self.acknowledged = DEVICE_STOPPED  # our power press: the reset is ours
            if action.kind in ("power", "motor-stop"):
                await self._send_key_surely(action.key)
            else:
                await self._send_key(action.key)
            taken = await self._confirm(self._taken(action, status, plan), action.kind, deadline)
            if taken:
                failures.pop(action.key, None)
                if action.kind == "technique":
                    self._check_technique(action, status)
                if action.kind == "timer":
                    self._timer_armed = True
                    self.timer_s = next(s for s, k in self.table.timers.items() if k == action.key)
            else:
                failures[action.key] = failures.get(action.key, 0) + 1

    def _taken(
        self, action: Press, before: RongtaiStatus, plan: Callable[[RongtaiStatus], list[Action]]
    ) -> Callable[[RongtaiStatus], bool]:
        if action.kind == "timer":
            seconds = next(s for s, k in self.table.timers.items() if k == action.key)
            return lambda s: timer_confirmed(s, seconds)
        if action.kind == "power":
            if before.off:
                return lambda s: not s.off
            return lambda s: s.resetting or s.off
        if action.kind == "technique":
            return lambda s: (
                s.technique != before.technique
                or s.program_code != before.program_code
                or s.running != before.running
            )

        def moved_on(status: RongtaiStatus) -> bool:
            after = plan(status)
            return not after or after[-1] != action

        return moved_on

    def _check_technique(self, action: Press, before: RongtaiStatus) -> None:
        """A technique key answered with another technique: the board's codes differ from
        its remote's (RT6911's builder swaps knock and tap). Pressing the key again would
        toggle the rollers off, so it is refused."""
        s = self.last
        if s is None or not s.running or not s.manual or s.technique is None:
            return
        wanted = next((n for n, k in self.table.techniques.items() if k == action.key), None)
        if wanted is not None and s.technique != wanted and s.technique != before.technique:
            raise DeviceError(
                f"{self.name}: pressed {wanted}, the chair reports {s.technique}: its technique codes "
                f"differ from massager-ctl's; not pressing {wanted} again (it would stop the rollers)"
            )

    async def _confirm(self, taken: Callable[[RongtaiStatus], bool], kind: str, deadline: float) -> bool:
        """Wait for a status showing the key took; False after enough fresh frames without.
        A toggle is given longer: pressed again too soon, it would undo itself."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        patience = self.toggle_confirm_s if kind in TOGGLE_KINDS else self.confirm_timeout_s
        fresh = 0
        while True:
            status = await self._next_status(deadline)
            if taken(status):
                return True
            if status.resetting and kind != "power":
                return False  # the plan will wait (and see whether the chair ended itself)
            fresh += 1
            if fresh >= self.confirm_frames and loop.time() - start >= patience:
                return False

    async def _run_move(self, move: Move, deadline: float | None) -> RongtaiStatus | None:
        """Start a motor, wait for the target height or ``max_s``, then its stop key
        (also when cancelled; only while the board takes keys)."""
        loop = asyncio.get_running_loop()
        status = None
        await self._send_key(move.start_key)
        started = loop.time()
        try:
            while loop.time() - started < move.max_s:
                end = started + move.max_s
                try:
                    status = await self._next_status(end if deadline is None else min(end, deadline))
                except _Deadline:
                    if deadline is not None and loop.time() >= deadline:
                        raise
                    break
                if not status.takes_keys:
                    break
                if (
                    move.target_height is not None
                    and abs(status.roller_height - move.target_height) <= POINT_TOLERANCE
                ):
                    break
        finally:
            await self._stop_motors_if_takes_keys([move.stop_key])
        return status

    # -- Device API ---------------------------------------------------------------

    async def connect(self) -> None:
        """Open the link and wait for a status frame the chair sends by itself; nothing is
        written (not a key: each one is a press on the chair). After :meth:`observe`,
        this takes control on the same link."""
        if self.connected:
            self._observing = False
            return
        # After a lost link, connecting again reopens the transport and waits for status
        # frames again (used by --reconnect); the chair may have changed meanwhile.
        self._lost_reason = None
        self.acknowledged = None
        await self._open_link(self.open_timeout_s)
        self.decoder.reset()
        self.frames_seen = 0
        self.rx_bytes = 0
        self.last = None
        saved, self.status_timeout_s = self.status_timeout_s, self.open_timeout_s
        try:
            await self._next_status()
        except BaseException:
            await self._close_quietly(self.write_timeout_s)
            raise
        finally:
            self.status_timeout_s = saved
        self._stop_frames = {
            key: encode_key(key, self.source)
            for key in (self.table.power, *(stop for _, stop in self.table.motors.values()))
        }
        self._timer_armed = False
        self._chair_ended = None
        self.commanded = False
        self._observing = False
        self._connected = True
        self._ever_connected = True

    async def observe(self) -> None:
        """Open the link to look only. The chair sends its status by itself, so looking
        writes nothing at all: this is :meth:`connect` (which presses nothing), and then
        every key is refused on this connection (``apply``, ``run_program``, ``heat_off``,
        ``move``, ``zero_gravity``, ``stop``): the power key is a toggle, and a look must
        never switch off a chair someone started at its remote, nor start one."""
        if self.connected:
            return
        await self.connect()
        self._observing = True

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Stop a chair this process has not been talking to (``massager-ctl stop``).

        The Rongtai exception to "stop bytes first" (issue 12): the power key is a toggle,
        so a blind press would start a chair that is off, and any key during a reset
        switches the board off at once, abandoning the return home. So the stop reads
        the status the chair sends by itself first (:meth:`connect` waits for a frame and
        writes nothing), and :meth:`stop` judges the next frame: off, resetting or faulted,
        nothing is pressed (a resetting chair is waited for until off); ready or running,
        the stop keys of moving actuators, then power once, then the reset is waited for."""
        await self.connect()
        return await self.stop(timeout=timeout)

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        validate_state(state, self._capabilities)
        target = ChairTarget.from_state(state)
        loop = asyncio.get_running_loop()
        async with self._lock:
            told = self.acknowledged
            deadline = loop.time() + self.apply_timeout_s
            # While a state is in the making the status does not judge it (a technique
            # toggled off on the way to an airbag-only state looks "stopped").
            self.acknowledged = DEVICE_STOPPED if not target.powered else None
            self._walks = 0
            # Until the loop ends the chair shows the way there (a technique at the 3D
            # strength it remembers, a rest still running the state before it): the
            # session holds it to the caps only (session/verify.py).
            self.making = True
            try:
                self._refuse_if_ended()
                if target.powered:
                    await self._drive(lambda s: self._plan(s, target), deadline)
                else:
                    await self._drive(self._until_on_its_way, deadline)
            except _ChairEnded:
                self.acknowledged = told
                if told is not None and not told.is_stopped:
                    # The person stopped the chair (or its timer did) while this state was
                    # on its way: nothing more is pressed, and the session, which judges the
                    # status against ``acknowledged``, ends "device-stopped".
                    return
                raise
            except _Deadline:
                raise DeviceTimeout(
                    f"{self.name}: the chair did not reach the requested state within "
                    f"{self.apply_timeout_s:g} s (last status: {_brief(self.last)})"
                ) from None
            finally:
                self.making = False
            self.acknowledged = state

    async def read_status(self, timeout: float = 2.0) -> Status:
        self._require_connected()
        loop = asyncio.get_running_loop()
        try:
            status = await self._next_status(loop.time() + timeout)
        except _Deadline:
            raise DeviceTimeout(f"{self.name}: no status frame within {timeout:g} s") from None
        return self.status_of(status)

    async def keepalive(self) -> None:
        """Renew the chair timer when nearly out; raise if the status stream died."""
        self._require_connected()
        if self._lock.locked():
            return
        loop = asyncio.get_running_loop()
        if self.last_at is None or loop.time() - self.last_at > self.status_timeout_s:
            raise DeviceTimeout(self._no_status_text())
        status = self.last
        if status is None or not self._timer_armed or self._chair_ended is not None:
            return
        if status.running and status.remaining_s <= TIMER_RENEW_S:
            async with self._lock:
                self._timer_armed = False
                await self._drive(self._timer_only, loop.time() + self.apply_timeout_s)

    def _timer_only(self, status: RongtaiStatus) -> list[Action]:
        if not self._timer_due(status):
            return []
        _, key = chair_timer_for(self.table, self.session_s)
        return [Press(key, self.table.describe(key), "timer")]

    async def stop(self, timeout: float = 2.0) -> Status:
        """Stop the chair: nothing pressed on a chair that is off, resetting or faulted;
        on one that is ready or running, moving actuators' stop keys, then power once.

        ``timeout`` bounds getting the stop on its way (the board resetting, or off); the
        reset then has :attr:`reset_timeout_s` to end with the chair off. Raises
        StopNotConfirmed if either is not reached."""
        loop = asyncio.get_running_loop()
        if not self._ever_connected:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        if self._observing:
            raise StopNotConfirmed(f"{self.name}: opened to observe only: nothing pressed, not stopped")
        self._refuse_stop_if_lost()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise StopNotConfirmed(f"{self.name}: the stop could not start within {timeout:g} s") from None
        try:
            status = await self._stop_locked(deadline, timeout)
        except DeviceDisconnected as exc:
            raise StopNotConfirmed(f"{exc}; stop not confirmed; {self.link_loss_note}") from exc
        except StopNotConfirmed:
            raise
        except DeviceError as exc:
            raise StopNotConfirmed(f"{exc}; stop not confirmed") from exc
        finally:
            self._lock.release()
        self._chair_ended = None
        self.acknowledged = DEVICE_STOPPED
        return self.status_of(status)

    async def _stop_locked(self, deadline: float, timeout: float) -> RongtaiStatus:
        loop = asyncio.get_running_loop()
        self.acknowledged = DEVICE_STOPPED  # from here on, a resetting chair is our doing
        try:
            status = await self._drive(self._until_on_its_way, deadline, check_ended=False)
        except _Deadline:
            raise StopNotConfirmed(
                f"{self.name}: the chair did not start its reset within {timeout:g} s "
                f"(last status: {_brief(self.last)})"
            ) from None
        home_by = loop.time() + self.reset_timeout_s
        while status.resetting:
            self._progress(RETURNING_HOME, status)
            try:
                status = await self._next_status(home_by)
            except _Deadline:
                raise StopNotConfirmed(
                    f"{self.name}: the chair is returning home (heat and airbags off) but did not "
                    f"switch off within {self.reset_timeout_s:g} s"
                ) from None
        return status

    def _until_on_its_way(self, status: RongtaiStatus) -> list[Action]:
        if status.resetting:
            return []  # on its way: the rest is waiting for off, without keys
        return stop_plan(status, self.table)

    def _progress(self, phase: str, status: RongtaiStatus) -> None:
        callback = self.on_stop_progress
        if callback is not None:
            try:
                callback(phase, self.status_of(status))
            except Exception:  # noqa: BLE001 - a listener's bug must not break the stop
                log.exception("%s: stop progress listener failed", self.name)

    async def disconnect(self) -> None:
        """Close the link. Does not stop the chair (call :meth:`stop` first)."""
        self._connected = False
        self._waiters.fail_all(DeviceDisconnected(f"{self.name}: disconnected"))
        await self._close_quietly(self.write_timeout_s)

    # -- the chair's own programs and motors ---------------------------------------------

    async def run_program(self, name: str, timeout: float | None = None) -> Status:
        """Start built-in auto program ``name``: power, the program key, the chair timer.

        Returns once the status shows the program running; the chair then runs it by
        itself until its timer (or :meth:`stop`)."""
        self._require_connected()
        if name not in self.table.programs or name not in self._capabilities.programs:
            have = ", ".join(self._capabilities.programs) or "none"
            raise ValueError(f"{self.name} has no program {name!r} (it has: {have})")
        loop = asyncio.get_running_loop()
        limit = timeout or self.apply_timeout_s

        def plan(status: RongtaiStatus) -> list[Action]:
            action = program_action(
                status, name, self.table, timer_due=self._timer_due(status), session_s=self.session_s
            )
            return [action] if action is not None else []

        async with self._lock:
            self._refuse_if_ended()
            self.acknowledged = None  # a state in the making: the person may still stop it
            try:
                status = await self._drive(plan, loop.time() + limit)
            except _Deadline:
                raise DeviceTimeout(
                    f"{self.name}: program {name} did not start within {limit:g} s "
                    f"(last status: {_brief(self.last)})"
                ) from None
            result = self.status_of(status)
            self.acknowledged = result.state
        return result

    async def heat_off(self) -> Status:
        """Switch the heat off (a toggle: pressed only if the status says it is on)."""
        self._require_connected()
        loop = asyncio.get_running_loop()

        def plan(status: RongtaiStatus) -> list[Action]:
            if status.heat and status.takes_keys:
                return [Press(self.table.heat_toggle, "heat off", "heat")]
            return []

        async with self._lock:
            try:
                status = await self._drive(plan, loop.time() + self.apply_timeout_s)
            except _Deadline:
                raise DeviceTimeout(f"{self.name}: heat did not switch off") from None
        return self.status_of(status)

    async def move(self, motor: str, seconds: float) -> Status:
        """Run one motor (``backrest_down`` reclines, ...) for ``seconds``, then stop it.

        Its stop key follows (also when the wait is cancelled), and then the stop keys of
        whatever b10 still shows moving - only while the board takes keys. A move never
        lasts longer than ``max_move_s``."""
        self._require_connected()
        if motor not in self.table.motors:
            raise ValueError(f"unknown motor {motor!r}; known: {', '.join(self.table.motors)}")
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a move lasts more than 0 s, not {seconds!r}")
        seconds = min(float(seconds), self.max_move_s)
        start, stop = self.table.motors[motor]
        action = Move(motor, start, stop, None, seconds, f"{motor} for {seconds:g} s")
        async with self._lock:
            self._refuse_if_ended()
            self._refuse_if_resetting()
            await self._run_move(action, None)
            status = await self._settle_motors()
        return self.status_of(status)

    async def _settle_motors(self) -> RongtaiStatus:
        """Press the stop keys of whatever b10 shows moving until it shows nothing (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        status = await self._next_status(deadline + 1.0)
        tries = 0
        while tries < 3:
            keys = motor_stop_keys(status, self.table)
            if not keys:
                return status
            await self._stop_motors_if_takes_keys(keys)
            tries += 1
            try:
                status = await self._next_status(deadline)
            except _Deadline:
                break
        return status

    async def zero_gravity(self, timeout: float | None = None) -> Status:
        """Press zero gravity, wait until the chair reports it reached (bounded), then the
        stop keys of whatever b10 still shows moving (only while the board takes keys)."""
        self._require_connected()
        loop = asyncio.get_running_loop()
        limit = min(timeout or self.max_move_s, self.max_move_s)
        async with self._lock:
            self._refuse_if_ended()
            self._refuse_if_resetting()
            status = self.last
            try:
                await self._send_key(self.table.zero_gravity)
                end = loop.time() + limit
                while loop.time() < end:
                    try:
                        status = await self._next_status(end)
                    except _Deadline:
                        break
                    if status.zero_gravity and not status.actuators_moving:
                        break
            finally:
                latest = self._fresh()
                if latest is not None:
                    await self._stop_motors_if_takes_keys(motor_stop_keys(latest, self.table))
        final = status or self.last
        assert final is not None
        return self.status_of(final)


def _brief(status: RongtaiStatus | None) -> str:
    if status is None:
        return "none received"
    parts = [
        f"{'on' if status.powered else 'off'}/{run_state_name(status)}",
        f"technique {status.technique or '-'}",
        f"program {status.program_code}",
        f"3D {status.strength_3d} speed {status.speed} width {status.width}",
        f"scope {status.scope.name.lower()} height {status.roller_height}",
        f"airbags 0x{int(status.airbag_zones):02X}{'+auto' if status.airbag_auto else ''}"
        f"@{status.airbag_strength}",
        f"heat {'on' if status.heat else 'off'}",
        f"timer {status.remaining_s} s (preset {status.preset_timer_s // 60} min)",
    ]
    return ", ".join(parts)


__all__ = ["RETURNING_HOME", "RongtaiDevice", "is_stopped", "to_status"]
