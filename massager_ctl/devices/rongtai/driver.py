"""The host-side driver for Rongtai / Infinity massage chairs.

A Rongtai chair takes remote-control key presses (toggles and direct levels)
and reports itself in a status frame about every 50 ms; it never answers a
key. So the driver works closed-loop: ``apply(state)`` records the target,
then repeatedly takes the latest status, asks
:mod:`massager_ctl.devices.rongtai.reconcile` for the next key, presses it,
and waits for the status to show it took (bounded retries; a key the chair
dropped while resetting is pressed again once it is ready). Every wait has a
timeout; a status stream that stops is a :class:`DeviceTimeout` within
``status_timeout_s``, never a hang.

Endpoints: key frames are written to ``"tx"`` (BLE: the FFF1 characteristic,
write without response); status arrives through the transport's receiver
(BLE: notifications of 0734594a-...). A serial line ignores endpoint names.

Safety:

* ``stop()`` presses the stop key of every actuator the status shows moving,
  heat off (a toggle, only if on), then power (the chair ends the session,
  returns its rollers home and resets), and confirms from the status.
* At the start of a session the chair's own timer key is pressed (10/20/30
  min: the smallest covering :attr:`session_s`, else 30; renewed when under
  a minute is left while the host is alive), so a lost link still ends the
  session chair-side.
* Every motor move is followed by its stop key, sent even if the waiting is
  cancelled, and bounded by a maximum move time.
* If the chair switches itself off (its timer, or its own remote's power key)
  the driver does not switch it back on: the next ``apply`` raises.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from ...core.status import DeviceState, Status
from ...core.vocabulary import Heat, Zone
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice, ReplyWaiters
from ..native.driver import validate_state
from .codec import (
    DEFAULT_SOURCE,
    KEY_TABLES,
    MAX_ROLLER_HEIGHT,
    KeyTable,
    RongtaiStatus,
    RunState,
    StatusDecoder,
    encode_key,
)
from .facts import (
    ENDPOINT_COMMANDS,
    KEY_TABLE_OF,
    MIN_WRITE_GAP_S,
    RT6923_CAPABILITIES,
    RT8600S_CAPABILITIES,
)
from .reconcile import (
    AIRBAG_ZONE_WORDS,
    DEFAULT_MAX_WALK_S,
    HEAT_LEVEL_WORDS,
    POINT_TOLERANCE,
    TECHNIQUE_WORDS,
    WIDTH_WORDS,
    Action,
    ChairTarget,
    Move,
    Press,
    Refuse,
    Wait,
    chair_timer_for,
    is_stopped,
    next_action,
    program_action,
    stop_actions,
    timer_confirmed,
    zones_at,
)

log = logging.getLogger(__name__)

#: Renew the chair timer when less than this is left and the host is alive.
TIMER_RENEW_S = 60
#: A power-off the host did not press within this window is the chair's own doing.
_OWN_POWER_WINDOW_S = 3.0
#: Fewer stray bytes than this at connect are taken for line noise.
_NOISE_BYTES = 8


def to_status(rs: RongtaiStatus, table: KeyTable, caps: Capabilities) -> Status:
    """A decoded status frame as the control layer's :class:`Status` (device units)."""
    active = rs.powered and rs.rollers_active and rs.technique is not None
    technique = TECHNIQUE_WORDS.get(rs.technique) if active and rs.technique is not None else None
    zones = zones_at(rs.scope, rs.roller_height) & caps.zones if technique else frozenset()
    airbags: list[tuple[Zone, int]] = []
    if rs.airbag_strength:
        for zone, words in AIRBAG_ZONE_WORDS.items():
            if zone & rs.airbag_zones:
                airbags.extend((w, rs.airbag_strength) for w in words if w in caps.airbag_zones)
    heat = Heat.OFF
    if rs.heat:
        heat = Heat.LOW
        if table.heat_levels and rs.heat_level:
            heat = HEAT_LEVEL_WORDS.get(rs.heat_level, Heat.LOW)
        if heat not in caps.heat_levels and caps.heat_levels:
            heat = caps.heat_levels[0]
    state = DeviceState(
        technique=technique if zones else None,
        zones=zones if technique else frozenset(),
        intensity=min(rs.intensity, caps.intensity_steps) if technique and zones else 0,
        speed=min(rs.speed, caps.speed_steps) if technique and zones else 0,
        width=WIDTH_WORDS.get(rs.width) if technique and zones else None,
        airbags=tuple(airbags),
        heat=heat,
    )
    run_state = rs.state.name.lower() if rs.state is not None else f"unknown ({rs.run_state})"
    running = rs.powered or rs.run_state == RunState.RUNNING
    return Status(
        running=bool(running and not is_stopped(rs)),
        state=state,
        roller_position=rs.roller_height / MAX_ROLLER_HEIGHT,
        airbag_pressure=(),
        heater_temp_c=None,
        remaining_s=rs.remaining_s if rs.powered else None,
        fault="the chair reports a fault (run state 5)" if rs.run_state == RunState.FAULT else None,
        extra={
            "run_state": run_state,
            "powered": rs.powered,
            "chair_technique": rs.technique,
            "program": rs.program,
            "scope": rs.scope.name.lower(),
            "roller_height": rs.roller_height,
            "airbag_strength": rs.airbag_strength,
            "actuators": int(rs.actuators),
            "zero_gravity": rs.zero_gravity,
            "checksum_checked": rs.checked,
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


class RongtaiDevice(LinkedDevice, Device):
    """A Rongtai / Infinity chair (or :class:`~massager_ctl.devices.rongtai.sim.RongtaiSim`)."""

    #: The writer calls keepalive() after this long without a write: it renews the
    #: chair timer when it is nearly out and notices a dead status stream.
    keepalive_s = 20.0

    def __init__(
        self,
        transport: Transport,
        *,
        min_write_gap_s: float = MIN_WRITE_GAP_S,
        name: str = "rongtai-rt8600s",
        key_table: KeyTable | str | None = None,
        source: int = DEFAULT_SOURCE,
        capabilities: Capabilities | None = None,
        status_checksum: str = "auto",
        session_s: float | None = None,
        status_timeout_s: float = 1.0,
        confirm_frames: int = 4,
        confirm_timeout_s: float = 0.6,
        retries: int = 3,
        reset_timeout_s: float = 5.0,
        apply_timeout_s: float = 10.0,
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
        self.retries = retries
        self.reset_timeout_s = reset_timeout_s
        self.apply_timeout_s = apply_timeout_s
        self.max_move_s = max_move_s
        self.max_walk_s = max_walk_s
        self.open_timeout_s = open_timeout_s
        self.write_timeout_s = write_timeout_s
        self.endpoint = endpoint
        self.write_response = write_response
        self.decoder = StatusDecoder(self.table.status_length, checksum=status_checksum)
        self.last: RongtaiStatus | None = None
        self.last_at: float | None = None
        self.rx_bytes = 0
        self.frames_seen = 0
        self.keys_sent: list[tuple[float, int]] = []  # (loop time, key): for tests and traces
        self.timer_s: int | None = None  # the chair timer chosen at the session's start
        self._waiters = ReplyWaiters()
        self._lock = asyncio.Lock()
        self._ever_connected = False
        self._last_write_at = float("-inf")
        self._timer_armed = False
        self._power_pressed_at = float("-inf")
        self._chair_ended: str | None = None
        self._fault_seen = False
        self._warned_unverified = False
        self._stop_frames: dict[int, bytes] = {}
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

    def plan_session(self, seconds: float | None) -> None:
        """Say how long the coming session lasts: picks the chair timer (10/20/30 min)."""
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"session length must be above 0 s, not {seconds!r}")
        self.session_s = seconds

    # -- receiving ----------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        self.rx_bytes += len(data)
        for status in self.decoder.feed(data):
            try:
                self._on_status(status)
            except Exception:  # a bug here must not break the receive path
                log.exception("%s: status handling failed", self.name)

    def _on_status(self, status: RongtaiStatus) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        prev, self.last, self.last_at = self.last, status, now
        self.frames_seen += 1
        if not status.checked and not self._warned_unverified:
            self._warned_unverified = True
            log.warning(
                "%s: status frames do not match the expected checksum rule; "
                "accepting them unchecked (the rule is unsure, see docs/devices.md)",
                self.name,
            )
        if not status.powered or status.resetting:
            self._timer_armed = False
        if (
            prev is not None
            and prev.powered
            and prev.run_state in (RunState.READY, RunState.RUNNING)
            and not status.powered
            and now - self._power_pressed_at > _OWN_POWER_WINDOW_S
            and self._connected
        ):
            why = "its own timer ran out" if prev.remaining_s <= 2 else "switched off at the chair"
            self._chair_ended = why
            self._emit(self.events.emit_fault, f"{self.name}: the chair ended the session ({why})")
        fault = status.run_state == RunState.FAULT
        if fault and not self._fault_seen:
            self._emit(self.events.emit_fault, f"{self.name}: the chair reports a fault")
        self._fault_seen = fault
        self._waiters.resolve_all(status)
        if self.events.status:
            self._emit(self.events.emit_status, to_status(status, self.table, self._capabilities))

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
            return await self._waiters.wait(wait)
        except TimeoutError:
            if by_deadline:
                raise _Deadline() from None
            raise DeviceTimeout(self._no_status_text()) from None

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
            f"{self.status_timeout_s:g} s; it sends one every 50 ms)"
        )

    # -- sending ------------------------------------------------------------------

    async def _send_key(self, key: int) -> None:
        """Press one key, keeping the minimum gap between key frames."""
        self._check_link()
        loop = asyncio.get_running_loop()
        wait = self._last_write_at + self.min_write_gap_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = self._stop_frames.get(key) or encode_key(key, self.source)
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
        if key == self.table.power:
            self._power_pressed_at = now
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

    # -- the closed loop ------------------------------------------------------------

    def _timer_due(self, status: RongtaiStatus) -> bool:
        return not self._timer_armed or (status.accepts_keys and status.remaining_s <= TIMER_RENEW_S)

    def _plan(self, status: RongtaiStatus, target: ChairTarget) -> list[Action]:
        if not target.powered:
            return stop_actions(status, self.table)
        action = next_action(
            status,
            target,
            self.table,
            timer_armed=not self._timer_due(status),
            session_s=self.session_s,
            max_walk_s=self.max_walk_s,
        )
        return [action] if action is not None else []

    async def _drive(
        self,
        plan: Callable[[RongtaiStatus], list[Action]],
        deadline: float,
        *,
        check_ended: bool = False,
    ) -> RongtaiStatus:
        """Run ``plan`` until it has nothing left to do; returns the final status.

        ``check_ended``: refuse to go on once the chair ended the session itself.
        """
        loop = asyncio.get_running_loop()
        failures: dict[int, int] = {}
        resetting_since: float | None = None
        while True:
            status = await self._next_status(deadline)
            if self._chair_ended and check_ended:
                raise DeviceError(
                    f"{self.name}: the chair ended the session itself ({self._chair_ended}); "
                    "massager-ctl does not switch it back on"
                )
            actions = plan(status)
            if not actions:
                return status
            action = actions[-1]
            if isinstance(action, Refuse):
                raise DeviceError(f"{self.name}: {action.reason}")
            for extra in actions[:-1]:  # stop keys of moving actuators: not toggles, all safe
                if isinstance(extra, Press):
                    await self._send_key_surely(extra.key)
            if isinstance(action, Wait):
                now = loop.time()
                resetting_since = now if resetting_since is None else resetting_since
                if now - resetting_since > self.reset_timeout_s:
                    raise DeviceTimeout(
                        f"{self.name}: the chair has been waiting for {now - resetting_since:.1f} s "
                        f"({action.reason})"
                    )
                continue
            resetting_since = None
            if isinstance(action, Move):
                await self._run_move(action, deadline)
                continue
            assert isinstance(action, Press)
            if failures.get(action.key, 0) > self.retries:
                raise DeviceError(
                    f"{self.name}: the chair did not take '{action.what}' "
                    f"(key 0x{action.key:02X}) after {failures[action.key]} presses; "
                    f"last status: {_brief(status)}"
                )
            if action.kind == "motor-stop":
                await self._send_key_surely(action.key)
            else:
                await self._send_key(action.key)
            taken = await self._confirm(self._taken(action, plan), deadline)
            if taken:
                failures.pop(action.key, None)
                if action.kind == "timer":
                    self._timer_armed = True
                    self.timer_s = self._timer_seconds(action.key)
            else:
                failures[action.key] = failures.get(action.key, 0) + 1

    def _taken(
        self, action: Press, plan: Callable[[RongtaiStatus], list[Action]]
    ) -> Callable[[RongtaiStatus], bool]:
        if action.kind == "timer":
            seconds = self._timer_seconds(action.key)
            return lambda s: timer_confirmed(s, seconds)

        def moved_on(status: RongtaiStatus) -> bool:
            after = plan(status)
            return not after or after[-1] != action

        return moved_on

    async def _confirm(self, taken: Callable[[RongtaiStatus], bool], deadline: float) -> bool:
        """Wait for a status showing the key took; False after enough fresh frames without."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        fresh = 0
        while True:
            status = await self._next_status(deadline)
            if taken(status):
                return True
            fresh += 1
            if fresh >= self.confirm_frames and loop.time() - start >= self.confirm_timeout_s:
                return False

    async def _run_move(self, move: Move, deadline: float | None) -> RongtaiStatus | None:
        """Start a motor, wait for the target height or ``max_s``, ALWAYS press its stop key."""
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
                if (
                    move.target_height is not None
                    and abs(status.roller_height - move.target_height) <= POINT_TOLERANCE
                ):
                    break
        finally:
            await self._send_key_surely(move.stop_key)
        return status

    def _timer_seconds(self, key: int) -> int:
        return next(s for s, k in self.table.timers.items() if k == key)

    def _stop_plan(self, status: RongtaiStatus) -> list[Action]:
        return stop_actions(status, self.table)

    # -- Device API ---------------------------------------------------------------

    async def connect(self) -> None:
        if self.connected:
            return
        # After a lost link, connecting again reopens the transport and waits for status
        # frames again (used by --reconnect); the chair may have changed meanwhile (its
        # own timer), so nothing is assumed about it.
        self._lost_reason = None
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
            for key in (self.table.power, self.table.heat_toggle, *self.table.stop_keys)
        }
        self._timer_armed = False
        self._chair_ended = None
        self._connected = True
        self._ever_connected = True

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        validate_state(state, self._capabilities)
        target = ChairTarget.from_state(state)
        loop = asyncio.get_running_loop()
        async with self._lock:
            deadline = loop.time() + self.apply_timeout_s
            try:
                await self._drive(lambda s: self._plan(s, target), deadline, check_ended=True)
            except _Deadline:
                raise DeviceTimeout(
                    f"{self.name}: the chair did not reach the requested state within "
                    f"{self.apply_timeout_s:g} s (last status: {_brief(self.last)})"
                ) from None

    async def read_status(self, timeout: float = 2.0) -> Status:
        self._require_connected()
        loop = asyncio.get_running_loop()
        try:
            status = await self._next_status(loop.time() + timeout)
        except _Deadline:
            raise DeviceTimeout(f"{self.name}: no status frame within {timeout:g} s") from None
        return to_status(status, self.table, self._capabilities)

    async def keepalive(self) -> None:
        """Renew the chair timer when nearly out; raise if the status stream died."""
        self._require_connected()
        if self._lock.locked():
            return
        loop = asyncio.get_running_loop()
        if self.last_at is None or loop.time() - self.last_at > self.status_timeout_s:
            raise DeviceTimeout(self._no_status_text())
        status = self.last
        if status is not None and status.accepts_keys and self._timer_armed:
            if status.remaining_s <= TIMER_RENEW_S:
                async with self._lock:
                    self._timer_armed = False  # _plan then presses the timer key first
                    await self._drive(lambda s: self._timer_only(s), loop.time() + self.apply_timeout_s)

    def _timer_only(self, status: RongtaiStatus) -> list[Action]:
        if not status.accepts_keys or not self._timer_due(status):
            return []
        _, key = chair_timer_for(self.table, self.session_s)
        return [Press(key, self.table.describe(key), "timer")]

    async def stop(self, timeout: float = 2.0) -> Status:
        """Actuator stop keys, heat off, power off; confirmed from the status frames."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self._ever_connected:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        self._refuse_stop_if_lost()
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise StopNotConfirmed(f"{self.name}: the stop could not start within {timeout:g} s") from None
        try:
            status = await self._drive(self._stop_plan, deadline)
        except _Deadline:
            raise StopNotConfirmed(
                f"{self.name}: the chair did not report itself stopped within {timeout:g} s "
                f"(last status: {_brief(self.last)})"
            ) from None
        except DeviceDisconnected as exc:
            raise StopNotConfirmed(f"{exc}; stop not confirmed; {self.link_loss_note}") from exc
        except DeviceError as exc:
            raise StopNotConfirmed(f"{exc}; stop not confirmed") from exc
        finally:
            self._lock.release()
        self._chair_ended = None
        return to_status(status, self.table, self._capabilities)

    async def disconnect(self) -> None:
        """Close the link. Does not stop the chair (call :meth:`stop` first)."""
        self._connected = False
        self._waiters.fail_all(DeviceDisconnected(f"{self.name}: disconnected"))
        await self._close_quietly(self.write_timeout_s)

    # -- the chair's own programs and motors ---------------------------------------------

    async def run_program(self, name: str, timeout: float | None = None) -> Status:
        """Start built-in auto program ``name`` (power on, chair timer, program key).

        Returns once the status shows the program running; the chair then runs
        it by itself until its timer (or :meth:`stop`).
        """
        self._require_connected()
        if name not in self.table.programs or name not in self._capabilities.programs:
            have = ", ".join(self._capabilities.programs) or "none"
            raise ValueError(f"{self.name} has no program {name!r} (it has: {have})")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout or self.apply_timeout_s)

        def plan(status: RongtaiStatus) -> list[Action]:
            action = program_action(
                status,
                name,
                self.table,
                timer_armed=not self._timer_due(status),
                session_s=self.session_s,
            )
            return [action] if action is not None else []

        async with self._lock:
            try:
                status = await self._drive(plan, deadline)
            except _Deadline:
                raise DeviceTimeout(
                    f"{self.name}: program {name} did not start within "
                    f"{timeout or self.apply_timeout_s:g} s (last status: {_brief(self.last)})"
                ) from None
        return to_status(status, self.table, self._capabilities)

    async def heat_off(self) -> Status:
        """Switch the heat off (a toggle: pressed only if the status says it is on)."""
        self._require_connected()
        loop = asyncio.get_running_loop()

        def plan(status: RongtaiStatus) -> list[Action]:
            if status.heat and status.accepts_keys:
                return [Press(self.table.heat_toggle, "heat off", "heat")]
            return []

        async with self._lock:
            try:
                status = await self._drive(plan, loop.time() + self.apply_timeout_s)
            except _Deadline:
                raise DeviceTimeout(f"{self.name}: heat did not switch off") from None
        return to_status(status, self.table, self._capabilities)

    async def move(self, motor: str, seconds: float) -> Status:
        """Run one motor (``backrest_down`` reclines, ...) for ``seconds``, then stop it.

        The stop key is always sent, also when the wait is cancelled; a move
        never lasts longer than ``max_move_s``.
        """
        self._require_connected()
        if motor not in self.table.motors:
            raise ValueError(f"unknown motor {motor!r}; known: {', '.join(self.table.motors)}")
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a move lasts more than 0 s, not {seconds!r}")
        seconds = min(float(seconds), self.max_move_s)
        start, stop = self.table.motors[motor]
        action = Move(motor, start, stop, None, seconds, f"{motor} for {seconds:g} s")
        async with self._lock:
            await self._run_move(action, None)
            status = await self._drive(self._motors_stopped, asyncio.get_running_loop().time() + 2.0)
        return to_status(status, self.table, self._capabilities)

    def _motors_stopped(self, status: RongtaiStatus) -> list[Action]:
        stops = [a for a in stop_actions(status, self.table) if getattr(a, "kind", "") == "motor-stop"]
        return stops

    async def zero_gravity(self, timeout: float | None = None) -> Status:
        """Press zero gravity, wait until the chair reports it reached (bounded), then send
        the backrest and leg-rest stop keys whatever happened."""
        self._require_connected()
        if self.table.zero_gravity is None:
            raise ValueError(f"{self.name} has no zero-gravity key")
        loop = asyncio.get_running_loop()
        limit = min(timeout or self.max_move_s, self.max_move_s)
        async with self._lock:
            status = self.last
            try:
                await self._send_key(self.table.zero_gravity)
                end = loop.time() + limit
                while loop.time() < end:
                    try:
                        status = await self._next_status(end)
                    except _Deadline:
                        break
                    if status.zero_gravity and not status.actuators:
                        break
            finally:
                for motor in ("backrest_up", "backrest_down", "leg_rest_up", "leg_rest_down"):
                    await self._send_key_surely(self.table.motors[motor][1])
        return to_status(status or self.last, self.table, self._capabilities)  # type: ignore[arg-type]  # connected: a status was seen


def _brief(status: RongtaiStatus | None) -> str:
    if status is None:
        return "none received"
    state = status.state.name.lower() if status.state is not None else str(status.run_state)
    parts = [
        f"{'on' if status.powered else 'off'}/{state}",
        f"technique {status.technique or '-'}",
        f"3D {status.intensity} speed {status.speed} width {status.width}",
        f"scope {status.scope.name.lower()} height {status.roller_height}",
        f"airbags 0x{int(status.airbag_zones):02X}@{status.airbag_strength}",
        f"heat {'on' if status.heat else 'off'}",
        f"timer {status.remaining_s} s",
    ]
    return ", ".join(parts)
