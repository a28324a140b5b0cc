"""The host-side driver for chairs that speak the massager-ctl native protocol.

It speaks docs/protocol.md over any :class:`~massager_ctl.transport.base.Transport`:
HELLO/INFO to identify the chair, SET (absolute, so safe to resend) to drive
it, STOP to stop it, GET_STATUS to ask, HEARTBEAT to feed the chair's deadman.
The host's promises on that page, and where this module keeps them:

* every frame it writes is at least ``FRAME_GAP_S`` after the one before (§9):
  :meth:`NativeDevice._write`;
* in a session, a frame at least every third of the deadman period, also while
  a request waits out its reply timeout or a BUSY backoff (§8.3):
  :meth:`NativeDevice._await`; a deadman period below ``HOST_MIN_DEADMAN_MS`` is
  refused at HELLO;
* BUSY answers to HELLO and SET are retried with a bounded backoff (§3.5);
* a NAK that answers no request of ours, a fault text in STATUS, and a chair
  whose STATUS stops for ``STATUS_SILENCE_S`` are reported as fault events
  (§6.4, §8.2, §8.4);
* ``observe`` looks without a session: no HELLO (which would arm the deadman),
  GET_STATUS only (§8.5); ``open_and_stop`` sends a bare STOP first (§7.2).

Every wait has a timeout; a lost link fails every pending wait at once with
:class:`DeviceDisconnected`. Requests are serialised (one frame in flight), and
``stop`` pre-empts whatever request is waiting, so a stop is never queued
behind a slow SET.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed, UsageError
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...core.vocabulary import Heat
from ...transport.base import Transport
from ..base import Device
from .codec import (
    DEFAULT_DEADMAN_MS,
    MAX_DEADMAN_MS,
    PROTOCOL_VERSION,
    Ack,
    Decoder,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    Message,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    encode,
)
from .models import NATIVE_SAFETY

log = logging.getLogger(__name__)

#: What each NAK code tells a person.
NAK_MEANING: dict[NakCode, str] = {
    NakCode.BAD_FRAME: "the frame's body was malformed",
    NakCode.UNKNOWN_TYPE: "the device does not know this message type",
    NakCode.BAD_VALUE: "a value is outside the device's declared range",
    NakCode.UNSUPPORTED: "the device cannot do this",
    NakCode.NOT_READY: "the device has not completed the HELLO handshake",
    NakCode.BUSY: "the device is busy",
    NakCode.FAULT: "the device is in a fault state",
}

#: Fewer stray bytes than this during the handshake are taken for line noise.
_NOISE_BYTES = 8

#: The least time between two frames the host writes (docs/protocol.md §9).
FRAME_GAP_S = 0.02
#: The shortest deadman period this host drives a chair with (§8.3): it promises a frame
#: every third of the period, and a third must leave room for a frame paced behind another
#: (FRAME_GAP_S, or a slow link's gap) and for the scheduling delays of an ordinary computer.
HOST_MIN_DEADMAN_MS = 300
#: The longest STATUS period a device may use (§8.2); the host is not told the period.
MAX_STATUS_PERIOD_S = 0.5
#: A chair in a session that sends no STATUS for three of the longest periods is lost (§8.2).
STATUS_SILENCE_S = 3 * MAX_STATUS_PERIOD_S
#: A liveness check this late means the host itself stalled: the silence is not judged.
LIVENESS_LATE_S = 0.05
#: A silence found is confirmed this much later, once whatever was waiting has been read.
LIVENESS_GRACE_S = 0.1
#: BUSY (§3.5): the first wait before resending, doubled each time up to the last.
BUSY_FIRST_S = 0.1
BUSY_MAX_S = 0.8
#: How long a device may stay busy before the host gives up: after power-on (HELLO), and
#: in a session (SET).
BUSY_HELLO_S = 10.0
BUSY_SET_S = 2.0
#: The fault text a chair shows after its deadman stopped it: why it stopped, not a fault.
DEADMAN_TEXT = "deadman"


def nak_text(code: NakCode) -> str:
    return f"NAK {code.name} ({NAK_MEANING.get(code, 'unknown code')})"


def validate_state(state: DeviceState, caps: Capabilities) -> None:
    """Raise ValueError if ``state`` asks for something ``caps`` does not offer."""
    if state.technique is not None and state.technique not in caps.techniques:
        raise ValueError(f"technique {state.technique.value} is not offered by this device")
    extra = set(state.zones) - set(caps.zones)
    if extra:
        names = ", ".join(sorted(z.value for z in extra))
        raise ValueError(f"zone(s) {names} not reached by this device's rollers")
    if not 0 <= state.intensity <= caps.intensity_steps:
        raise ValueError(f"intensity {state.intensity} outside 0..{caps.intensity_steps}")
    if not 0 <= state.speed <= caps.speed_steps:
        raise ValueError(f"speed {state.speed} outside 0..{caps.speed_steps}")
    if state.width is not None and state.width not in caps.widths:
        raise ValueError(f"width {state.width.value} is not offered by this device")
    seen = set()
    for zone, level in state.airbags:
        if zone not in caps.airbag_zones:
            raise ValueError(f"this device has no airbag in zone {zone.value}")
        if zone in seen:
            raise ValueError(f"airbag zone {zone.value} listed twice")
        seen.add(zone)
        if not 0 <= level <= caps.airbag_levels:
            raise ValueError(f"airbag level {level} for {zone.value} outside 0..{caps.airbag_levels}")
    if state.heat is not Heat.OFF and state.heat not in caps.heat_levels:
        raise ValueError(f"heat {state.heat.value} is not offered by this device")


def _long_deadman_policy(value: str | bool) -> str:
    """``long_deadman``: "refuse" (the default) or "warn" (also True, "1", "yes", "accept")."""
    if value is True or str(value).strip().lower() in ("warn", "accept", "1", "yes", "true"):
        return "warn"
    if value is False or str(value).strip().lower() in ("refuse", "0", "no", "false", ""):
        return "refuse"
    raise UsageError(f"long_deadman={str(value)[:40]!r}: write refuse (the default) or warn")


@dataclass
class _Waiter:
    match: Callable[[Message], bool]
    future: asyncio.Future[Message]
    preemptible: bool = True


class NativeDevice(Device):
    """A chair (or the simulator) speaking native protocol v1 over ``transport``."""

    #: STATUS carries the state the chair runs and whether it runs (docs/protocol.md).
    reports_own_stop = True

    def __init__(
        self,
        transport: Transport,
        *,
        deadman_ms: int = DEFAULT_DEADMAN_MS,
        reply_timeout_s: float = 0.5,
        retries: int = 2,
        min_write_gap_s: float = FRAME_GAP_S,
        name: str = "native",
        open_timeout_s: float = 10.0,
        busy_hello_s: float = BUSY_HELLO_S,
        busy_set_s: float = BUSY_SET_S,
        long_deadman: str | bool = "refuse",
    ) -> None:
        super().__init__()
        if not HOST_MIN_DEADMAN_MS <= deadman_ms <= MAX_DEADMAN_MS:
            raise ValueError(f"deadman must be {HOST_MIN_DEADMAN_MS}..{MAX_DEADMAN_MS} ms")
        if reply_timeout_s <= 0 or retries < 0:
            raise ValueError("reply_timeout_s must be > 0 and retries >= 0")
        self.transport = transport
        self.name = name
        self.requested_deadman_ms = deadman_ms
        #: A device that keeps a longer deadman than asked: "refuse" it, or "warn" and accept.
        self.long_deadman = _long_deadman_policy(long_deadman)
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.min_write_gap_s = max(min_write_gap_s, FRAME_GAP_S)
        self.open_timeout_s = open_timeout_s
        self.busy_hello_s = busy_hello_s
        self.busy_set_s = busy_set_s
        self.decoder = Decoder()
        self.info: Info | None = None
        self.last_status: Status | None = None
        self.rx_bytes = 0
        self._deadman_ms = deadman_ms
        self._seq = 0
        self._waiters: list[_Waiter] = []
        self._lock = asyncio.Lock()
        self._connected = False
        self._session = False  # HELLO answered: the chair runs its deadman for us
        self._lost_reason: str | None = None
        self._last_fault: str | None = None
        self._stop_frames: tuple[bytes, ...] = ()
        self._last_tx = float("-inf")  # loop time the last frame was written
        self._recent: deque[int] = deque(maxlen=16)  # SEQs of the last requests sent
        self._last_status_at = float("-inf")
        self._watch_from = float("-inf")  # silence counts from here at the earliest
        self._liveness: asyncio.TimerHandle | None = None
        self._silent = False
        transport.set_receiver(self._on_bytes)
        transport.on_disconnect(self._on_lost)

    # -- what the control layer reads ---------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        if self.info is None:
            raise DeviceError(f"{self.name}: not connected yet (no INFO received)")
        return self.info.capabilities

    @property
    def model(self) -> str:
        return self.info.model if self.info is not None else self.name

    @property
    def deadman_ms(self) -> int:
        """The deadman period in force (the device's answer in INFO once connected)."""
        return self._deadman_ms

    @property
    def keepalive_s(self) -> float:  # type: ignore[override]  # read-only: follows the deadman
        """A third of the shorter of the deadman asked for and the one in force: a device
        that keeps a longer one still hears the host as often as the host promised."""
        return min(self._deadman_ms, self.requested_deadman_ms) / 3000

    @property
    def link_loss_note(self) -> str:  # type: ignore[override]  # read-only: follows the deadman
        return NATIVE_SAFETY.link_loss_note(deadman_s=self._deadman_ms / 1000)

    @property
    def connected(self) -> bool:
        return self._connected and self._lost_reason is None

    @property
    def in_session(self) -> bool:
        """HELLO was answered: the chair runs its deadman and streams STATUS for us."""
        return self._session and self.connected

    # -- receiving ----------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        self.rx_bytes += len(data)
        for msg in self.decoder.feed(data):
            self._dispatch(msg)

    def _dispatch(self, msg: Message) -> None:
        answered = False
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            try:
                hit = waiter.match(msg)
            except Exception:  # a predicate must never break the receive path
                log.exception("reply matcher failed")
                continue
            if hit:
                waiter.future.set_result(msg)
                answered = True
        if isinstance(msg, StatusReport):
            self._heard_status()
            self.last_status = msg.status
            self._emit(self.events.emit_status, msg.status)
            fault = msg.status.fault
            if fault and fault != self._last_fault:
                if fault == DEADMAN_TEXT:  # why it stopped, not a fault: the session judges it
                    log.warning("%s: reports that its deadman stopped it", self.model)
                else:
                    self._emit(self.events.emit_fault, f"{self.model}: {fault}")
            self._last_fault = fault
        elif isinstance(msg, Nak) and not answered:
            if msg.seq in self._recent:  # a late answer to a request of ours (a resend's twin)
                log.warning("%s: late %s for seq %d", self.model, nak_text(msg.code), msg.seq)
            else:
                text = (
                    f"{self.model} refused frame seq {msg.seq}, which it was not asked: {nak_text(msg.code)}"
                )
                self._emit(self.events.emit_fault, text)

    def _emit(self, emit: Callable[[Any], None], arg: Any) -> None:
        try:
            emit(arg)
        except Exception:  # a listener's bug must not break the receive path
            log.exception("device event listener failed")

    def _on_lost(self, reason: str) -> None:
        if self._lost_reason is not None:
            return
        self._lost_reason = reason or "link lost"
        self._connected = False
        self._session = False
        self._stop_liveness()
        self.acknowledged = None
        reason = self._lost_reason
        self._fail_waiters(lambda: DeviceDisconnected(f"{self.name}: link lost ({reason})"))
        self._emit(self.events.emit_disconnect, self._lost_reason)

    def _fail_waiters(self, error: Callable[[], Exception], *, only_preemptible: bool = False) -> None:
        for waiter in list(self._waiters):
            if only_preemptible and not waiter.preemptible:
                continue
            if not waiter.future.done():
                waiter.future.set_exception(error())

    # -- STATUS liveness (§8.2) ---------------------------------------------------------

    def _heard_status(self) -> None:
        self._last_status_at = asyncio.get_running_loop().time()
        if self._silent:  # it speaks again: watch it again
            self._silent = False
            log.warning("%s: STATUS again", self.model)
            self._arm_liveness()

    def _watch_liveness(self) -> None:
        self._last_status_at = self._watch_from = asyncio.get_running_loop().time()
        self._silent = False
        self._arm_liveness()

    def _liveness_due(self) -> float:
        return max(self._last_status_at, self._watch_from) + STATUS_SILENCE_S

    def _arm_liveness(self) -> None:
        self._stop_liveness()
        loop = asyncio.get_running_loop()
        self._liveness = loop.call_at(self._liveness_due(), self._check_liveness)

    def _stop_liveness(self) -> None:
        if self._liveness is not None:
            self._liveness.cancel()
            self._liveness = None

    def _check_liveness(self, confirming: bool = False) -> None:
        self._liveness = None
        if not self.in_session:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = self._liveness_due()
        if now < due - 1e-9:
            self._arm_liveness()  # a STATUS came since: wait from that one
            return
        if not confirming:
            if now > due + LIVENESS_LATE_S:
                # This host was late itself (its loop stalled): the chair's frames may be
                # waiting to be read. Not the chair's silence: give it a whole window again.
                self._watch_from = now
                self._arm_liveness()
                return
            # Frames the chair sent may be queued behind this very callback (a host that
            # stalled a moment): judge once they have been read.
            self._liveness = loop.call_later(LIVENESS_GRACE_S, self._check_liveness, True)
            return
        self._silent = True
        self._emit(
            self.events.emit_fault,
            f"{self.model} sent no STATUS for {STATUS_SILENCE_S:g} s (three of the longest status "
            "periods the protocol allows): it may have restarted, lost power or hung",
        )

    # -- sending ------------------------------------------------------------------

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFF
        return seq

    def _check_link(self) -> None:
        if self._lost_reason is not None:
            raise DeviceDisconnected(f"{self.name}: link lost ({self._lost_reason})")

    def _require_connected(self) -> None:
        self._check_link()
        if not self._connected:
            raise DeviceError(f"{self.name}: not connected")

    def _require_session(self) -> None:
        self._require_connected()
        if not self._session:
            raise DeviceError(f"{self.name}: opened to observe only (no HELLO): cannot drive it")

    async def _write(self, frame: bytes) -> None:
        """Write one frame, at least ``min_write_gap_s`` after the one before (§9)."""
        self._check_link()
        loop = asyncio.get_running_loop()
        try:
            # A timeout scope, not wait_for: no task per frame (this runs for every frame).
            async with asyncio.timeout(self.reply_timeout_s):
                gap = self._last_tx + self.min_write_gap_s - loop.time()
                if gap > 0:
                    await asyncio.sleep(gap)
                    self._check_link()
                await self.transport.write(frame)
                self._last_tx = loop.time()
                # One turn of the loop, as wait_for's task gave: a transport that hands
                # the bytes on with call_soon has delivered them when this returns.
                await asyncio.sleep(0)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name}: a write did not complete within {self.reply_timeout_s:g} s"
            ) from None

    def _waiter(self, match: Callable[[Message], bool], *, preemptible: bool = True) -> _Waiter:
        waiter = _Waiter(match, asyncio.get_running_loop().create_future(), preemptible)
        self._waiters.append(waiter)
        return waiter

    def _drop(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if not waiter.future.done():
            waiter.future.cancel()
        elif not waiter.future.cancelled():
            waiter.future.exception()  # mark retrieved: no "never retrieved" warnings

    async def _await(self, waiter: _Waiter, seconds: float, *, feed: bool) -> None:
        """Wait up to ``seconds`` for ``waiter``. With ``feed``, in a session, a HEARTBEAT
        goes out whenever nothing was written for a third of the deadman (§8.3): a chair
        with a short deadman must not stop while a request waits out its reply timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not waiter.future.done():
            now = loop.time()
            if now >= end - 1e-9:
                return
            until = end
            if feed and self._session:
                due = self._last_tx + self.keepalive_s
                if due <= now + 1e-9:
                    await self._write(encode(Heartbeat(seq=self._next_seq())))
                    continue
                until = min(until, due)
            await asyncio.wait({waiter.future}, timeout=until - now)

    async def _exchange(
        self,
        frame: bytes,
        seq: int,
        waiter: _Waiter,
        *,
        attempts: int,
        deadline: float | None = None,
        feed: bool = False,
    ) -> Message | None:
        """Send ``frame`` (SEQ ``seq``; again after each reply timeout) until ``waiter``
        resolves. Returns the reply, or None when ``attempts`` or ``deadline`` ran out.
        """
        loop = asyncio.get_running_loop()
        self._recent.append(seq)
        for _ in range(attempts):
            wait = self.reply_timeout_s
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    break
            if waiter.future.done():
                return waiter.future.result()
            await self._write(frame)
            await self._await(waiter, wait, feed=feed)
            if waiter.future.done():
                return waiter.future.result()  # raises if the link was lost
        return None

    async def _request(
        self, frame: bytes, seq: int, match: Callable[[Message], bool], *, busy_for_s: float, feed: bool
    ) -> Message | None:
        """One request with its resends; a BUSY answer is retried (same frame, same SEQ)
        after 0.1, 0.2, 0.4, 0.8, 0.8... s, for at most ``busy_for_s`` (§3.5). Returns the
        answer (the last NAK BUSY when the device stayed busy), or None without one."""
        loop = asyncio.get_running_loop()
        busy_until: float | None = None
        delay = BUSY_FIRST_S
        while True:
            waiter = self._waiter(match)
            try:
                reply = await self._exchange(frame, seq, waiter, attempts=self.retries + 1, feed=feed)
            finally:
                self._drop(waiter)
            if not (isinstance(reply, Nak) and reply.code is NakCode.BUSY):
                return reply
            now = loop.time()
            if busy_until is None:
                busy_until = now + busy_for_s
            if now + delay > busy_until + 1e-9:
                return reply
            log.info("%s: busy; trying again in %g s", self.name, delay)
            await self._idle(delay, feed=feed)
            delay = min(2 * delay, BUSY_MAX_S)

    async def _idle(self, seconds: float, *, feed: bool) -> None:
        """Wait (heartbeats going out with ``feed``); a STOP cuts it short with DeviceError."""
        waiter = self._waiter(lambda _m: False)
        try:
            await self._await(waiter, seconds, feed=feed)
            if waiter.future.done():
                waiter.future.result()  # raises: abandoned for a STOP, or the link went
        finally:
            self._drop(waiter)

    def _answer_to(self, seq: int, *kinds: type) -> Callable[[Message], bool]:
        return lambda m: isinstance(m, (*kinds, Nak)) and m.seq == seq

    # -- Device API ---------------------------------------------------------------

    async def _open(self) -> None:
        # After a lost link, connecting again reopens the transport (used by --reconnect).
        self._lost_reason = None
        self.acknowledged = None  # whatever the chair runs now, it was not told by us yet
        self._session = False
        try:
            await asyncio.wait_for(self.transport.open(), self.open_timeout_s)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name}: the link did not open within {self.open_timeout_s:g} s"
            ) from None

    async def connect(self) -> None:
        if self.in_session:
            return
        if not self.connected:
            await self._open()
        try:
            info = await self._handshake()
            self._check_deadman(info)
        except BaseException:
            self._connected = False
            await self._close_quietly()
            raise
        self.info = info
        self._deadman_ms = info.deadman_ms
        self._stop_frames = tuple(encode(Stop(seq=s)) for s in range(256))
        self._last_fault = None
        self._connected = True
        self._session = True
        self._watch_liveness()

    async def observe(self) -> None:
        """Open the link to look: no HELLO (it would arm the chair's deadman, which then
        stops a program started at the chair's own remote once this host goes away);
        :meth:`read_status` asks GET_STATUS, which a chair answers at any time (§7.4)."""
        if self.connected:
            return
        await self._open()
        self._connected = True

    async def _handshake(self) -> Info:
        seq = self._next_seq()
        hello = Hello(seq=seq, version=PROTOCOL_VERSION, deadman_ms=self.requested_deadman_ms)
        frame = encode(hello)
        attempts = self.retries + 1
        async with self._lock:
            reply = await self._request(
                frame, seq, self._answer_to(seq, Info), busy_for_s=self.busy_hello_s, feed=False
            )
        if reply is None:
            raise self._silence_error(f"no answer to HELLO after {attempts} tries", attempts)
        if isinstance(reply, Nak):
            if reply.code is NakCode.BUSY:
                raise DeviceError(
                    f"{self.name}: the device stayed busy for {self.busy_hello_s:g} s "
                    f"(it answered every HELLO with {nak_text(reply.code)})"
                )
            raise DeviceError(f"{self.name}: the device refused HELLO: {nak_text(reply.code)}")
        assert isinstance(reply, Info)
        if reply.version != PROTOCOL_VERSION:
            raise DeviceError(
                f"{self.name}: the device speaks native protocol v{reply.version}; "
                f"massager-ctl speaks v{PROTOCOL_VERSION}"
            )
        if reply.deadman_ms < HOST_MIN_DEADMAN_MS:
            raise DeviceError(
                f"{self.name}: the device keeps a deadman of {reply.deadman_ms} ms; massager-ctl "
                f"drives no chair whose deadman is shorter than {HOST_MIN_DEADMAN_MS} ms (it cannot "
                "promise a frame often enough; docs/protocol.md section 8.3)"
            )
        return reply

    def _silence_error(self, what: str, attempts: int) -> DeviceError:
        waited = attempts * self.reply_timeout_s
        if self.decoder.frames == 0 and self.rx_bytes >= _NOISE_BYTES:
            return DeviceError(
                f"{self.name}: the device sent {self.rx_bytes} bytes but no valid frame in "
                f"{waited:g} s; it does not speak the massager-ctl native protocol "
                "(wrong port, wrong baud rate, or a different chair protocol?)"
            )
        return DeviceTimeout(
            f"{self.name}: {what} ({waited:g} s); is the chair on and is this the right port?"
        )

    def _check_deadman(self, info: Info) -> None:
        """A device keeping a longer deadman than asked would leave a person waiting that
        long after the host died: refused, unless ``long_deadman="warn"``."""
        asked, kept = self.requested_deadman_ms, info.deadman_ms
        if kept <= asked:
            return
        text = (
            f"{self.name}: the device keeps a {kept / 1000:g} s deadman where {asked / 1000:g} s was "
            f"asked: if this host died, it would run on for up to {kept / 1000:g} s"
        )
        if self.long_deadman != "warn":
            raise DeviceError(
                f"{text}; refused (to accept it anyway, add long_deadman=warn to the device URI)"
            )
        log.warning("%s; accepted (long_deadman=warn); heartbeats every %g s", text, asked / 3000)

    async def apply(self, state: DeviceState) -> None:
        self._require_session()
        validate_state(state, self.capabilities)
        async with self._lock:
            seq = self._next_seq()
            frame = encode(SetState(seq=seq, state=state))

            def is_answer(m: Message) -> bool:
                if not (isinstance(m, (Ack, Nak)) and m.seq == seq):
                    return False
                if isinstance(m, Ack):
                    # Here, in the receive path, not after the await: a STATUS in the
                    # same read as the ACK must be judged against this state.
                    self.acknowledged = state
                return True

            reply = await self._request(frame, seq, is_answer, busy_for_s=self.busy_set_s, feed=True)
        if reply is None:
            raise DeviceTimeout(
                f"{self.name}: no ACK for SET after {self.retries + 1} tries "
                f"({(self.retries + 1) * self.reply_timeout_s:g} s)"
            )
        if isinstance(reply, Nak):
            if reply.code is NakCode.BUSY:
                raise DeviceError(
                    f"{self.name}: the device stayed busy for {self.busy_set_s:g} s "
                    f"(it answered every SET with {nak_text(reply.code)})"
                )
            fault = self.last_status.fault if self.last_status is not None else None
            why = f" ({fault})" if reply.code is NakCode.FAULT and fault else ""
            raise DeviceError(f"{self.name}: the device refused SET: {nak_text(reply.code)}{why}")

    async def read_status(self, timeout: float = 2.0) -> Status:
        self._require_connected()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise DeviceTimeout(f"{self.name}: busy; no STATUS within {timeout:g} s") from None
        try:
            seq = self._next_seq()
            frame = encode(GetStatus(seq=seq))
            waiter = self._waiter(self._answer_to(seq, StatusReport))
            try:
                reply = await self._exchange(
                    frame, seq, waiter, attempts=1 << 30, deadline=deadline, feed=self._session
                )
            finally:
                self._drop(waiter)
        finally:
            self._lock.release()
        if reply is None:
            if not self._session:  # observing: this was the first word to the device
                raise self._silence_error(
                    "no answer to GET_STATUS", max(1, round(timeout / self.reply_timeout_s))
                )
            raise DeviceTimeout(f"{self.name}: no STATUS within {timeout:g} s")
        if isinstance(reply, Nak):
            raise DeviceError(f"{self.name}: the device refused GET_STATUS: {nak_text(reply.code)}")
        assert isinstance(reply, StatusReport)
        return reply.status

    async def keepalive(self) -> None:
        """Send HEARTBEAT (no reply). Skipped while a request is in flight: it sends its own."""
        self._require_connected()
        if not self._session or self._lock.locked():
            return
        async with self._lock:
            await self._write(encode(Heartbeat(seq=self._next_seq())))

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Open the link and send a bare STOP at once (a chair obeys STOP before HELLO,
        §7.2), then confirm it with GET_STATUS: no HELLO, nothing waited on first."""
        await self.observe()
        return await self.stop(timeout=timeout)

    async def stop(self, timeout: float = 2.0) -> Status:
        """STOP until ACKed, then wait for a STATUS showing everything off."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self._connected and self._lost_reason is None:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        if self._lost_reason is not None:
            raise StopNotConfirmed(
                f"{self.name}: cannot send STOP: link lost ({self._lost_reason}); {self.link_loss_note}"
            )
        # Whatever request is waiting gives way: a stop never queues behind a SET.
        self._fail_waiters(
            lambda: DeviceError(f"{self.name}: request abandoned for STOP"), only_preemptible=True
        )
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise StopNotConfirmed(f"{self.name}: STOP could not be sent within {timeout:g} s") from None
        try:
            return await self._stop_locked(deadline, timeout)
        except DeviceDisconnected as exc:
            raise StopNotConfirmed(f"{exc}; STOP not confirmed; {self.link_loss_note}") from exc
        except DeviceTimeout as exc:
            raise StopNotConfirmed(f"{exc}; STOP not confirmed") from exc
        finally:
            self._lock.release()

    async def _stop_locked(self, deadline: float, timeout: float) -> Status:
        loop = asyncio.get_running_loop()
        seq = self._next_seq()
        frame = self._stop_frames[seq] if self._stop_frames else encode(Stop(seq=seq))
        acked = False

        def is_answer(m: Message) -> bool:
            nonlocal acked
            if isinstance(m, (Ack, Nak)) and m.seq == seq:
                if isinstance(m, Ack):
                    acked = True
                    self.acknowledged = DEVICE_STOPPED
                    # Outputs off (docs/protocol.md 7.2): a caller may go on; STATUS confirms.
                    self._emit(lambda _: self.events.emit_stop_acknowledged(), None)
                return True
            return False

        def is_stopped_status(m: Message) -> bool:
            # Only a report sent after the ACK counts as confirmation.
            return acked and isinstance(m, StatusReport) and m.status.stopped

        ack = self._waiter(is_answer, preemptible=False)
        # Registered before STOP goes out: a STATUS right behind the ACK is not missed.
        stopped = self._waiter(is_stopped_status, preemptible=False)
        last_nak: NakCode | None = None
        try:
            while True:
                reply = await self._exchange(frame, seq, ack, attempts=1, deadline=deadline)
                if isinstance(reply, Ack):
                    break
                if isinstance(reply, Nak):  # e.g. BUSY: try again until the deadline
                    last_nak = reply.code
                    ack.future = loop.create_future()
                    wait = min(self.reply_timeout_s, deadline - loop.time())
                    if wait > 0:
                        await asyncio.sleep(wait)
                if loop.time() >= deadline:
                    why = f"last answer {nak_text(last_nak)}" if last_nak else "no ACK"
                    raise StopNotConfirmed(f"{self.name}: STOP not acknowledged within {timeout:g} s ({why})")
            # ACKed: wait for the chair to report itself stopped, asking when it is quiet
            # (at once outside a session: no STATUS comes unasked before HELLO).
            ask_now = not self._session
            while True:
                wait = min(self.reply_timeout_s, deadline - loop.time())
                if wait <= 0:
                    break
                if not ask_now:
                    await asyncio.wait({stopped.future}, timeout=wait)
                ask_now = False
                if stopped.future.done():
                    reply = stopped.future.result()
                    assert isinstance(reply, StatusReport)
                    return reply.status
                if deadline - loop.time() > 0:
                    ask = self._next_seq()
                    self._recent.append(ask)
                    await self._write(encode(GetStatus(seq=ask)))
            seen = self.last_status
            detail = f"last status: running={seen.running}, {seen.state}" if seen else "no status"
            raise StopNotConfirmed(
                f"{self.name}: STOP was acknowledged but the chair did not report itself "
                f"stopped within {timeout:g} s ({detail})"
            )
        finally:
            self._drop(ack)
            self._drop(stopped)

    async def disconnect(self) -> None:
        """Close the link. Does not stop the chair (call :meth:`stop` first)."""
        self._connected = False
        self._session = False
        self._stop_liveness()
        self._fail_waiters(lambda: DeviceDisconnected(f"{self.name}: disconnected"))
        await self._close_quietly()

    async def _close_quietly(self) -> None:
        try:
            await asyncio.wait_for(self.transport.close(), self.reply_timeout_s)
        except (TimeoutError, DeviceError, OSError) as exc:
            log.warning("%s: closing the link failed: %s", self.name, exc)
