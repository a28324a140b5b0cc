"""The host-side driver for chairs that speak the massager-ctl native protocol.

It speaks docs/protocol.md over any :class:`~massager_ctl.transport.base.Transport`:
HELLO/INFO to identify the chair, SET (absolute, so safe to resend) to drive
it, STOP to stop it, GET_STATUS to ask, HEARTBEAT to feed the chair's deadman.

Every wait has a timeout; a lost link fails every pending wait at once with
:class:`DeviceDisconnected`. Requests are serialised (one frame in flight), and
``stop`` pre-empts whatever request is waiting, so a stop is never queued
behind a slow SET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...core.vocabulary import Heat
from ...transport.base import Transport
from ..base import Device
from .codec import (
    DEFAULT_DEADMAN_MS,
    MAX_DEADMAN_MS,
    MIN_DEADMAN_MS,
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
        min_write_gap_s: float = 0.02,
        name: str = "native",
        open_timeout_s: float = 10.0,
    ) -> None:
        super().__init__()
        if not MIN_DEADMAN_MS <= deadman_ms <= MAX_DEADMAN_MS:
            raise ValueError(f"deadman must be {MIN_DEADMAN_MS}..{MAX_DEADMAN_MS} ms")
        if reply_timeout_s <= 0 or retries < 0:
            raise ValueError("reply_timeout_s must be > 0 and retries >= 0")
        self.transport = transport
        self.name = name
        self.requested_deadman_ms = deadman_ms
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.min_write_gap_s = min_write_gap_s
        self.open_timeout_s = open_timeout_s
        self.decoder = Decoder()
        self.info: Info | None = None
        self.last_status: Status | None = None
        self.rx_bytes = 0
        self._deadman_ms = deadman_ms
        self._seq = 0
        self._waiters: list[_Waiter] = []
        self._lock = asyncio.Lock()
        self._connected = False
        self._lost_reason: str | None = None
        self._last_fault: str | None = None
        self._stop_frames: tuple[bytes, ...] = ()
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
        return self._deadman_ms / 3000

    @property
    def link_loss_note(self) -> str:  # type: ignore[override]  # read-only: follows the deadman
        return NATIVE_SAFETY.link_loss_note(deadman_s=self._deadman_ms / 1000)

    @property
    def connected(self) -> bool:
        return self._connected and self._lost_reason is None

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
            self.last_status = msg.status
            self._emit(self.events.emit_status, msg.status)
            fault = msg.status.fault
            if fault and fault != self._last_fault:
                self._emit(self.events.emit_fault, f"{self.model}: {fault}")
            self._last_fault = fault
        elif isinstance(msg, Nak) and not answered:
            text = f"{self.model} refused frame seq {msg.seq}: {nak_text(msg.code)}"
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

    async def _write(self, frame: bytes) -> None:
        self._check_link()
        try:
            # A timeout scope, not wait_for: no task per frame (this runs for every frame).
            async with asyncio.timeout(self.reply_timeout_s):
                await self.transport.write(frame)
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

    async def _exchange(
        self, frame: bytes, waiter: _Waiter, *, attempts: int, deadline: float | None = None
    ) -> Message | None:
        """Send ``frame`` (again after each reply timeout) until ``waiter`` resolves.

        Returns the reply, or None when ``attempts`` or ``deadline`` ran out.
        """
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            wait = self.reply_timeout_s
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    break
            if waiter.future.done():
                return waiter.future.result()
            await self._write(frame)
            await asyncio.wait({waiter.future}, timeout=wait)
            if waiter.future.done():
                return waiter.future.result()  # raises if the link was lost
        return None

    def _answer_to(self, seq: int, *kinds: type) -> Callable[[Message], bool]:
        return lambda m: isinstance(m, (*kinds, Nak)) and m.seq == seq

    # -- Device API ---------------------------------------------------------------

    async def connect(self) -> None:
        if self.connected:
            return
        # After a lost link, connecting again reopens the transport and redoes the
        # handshake (used by --reconnect); a new stop is prepared as always.
        self._lost_reason = None
        self.acknowledged = None  # whatever the chair runs now, it was not told by us yet
        try:
            await asyncio.wait_for(self.transport.open(), self.open_timeout_s)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name}: the link did not open within {self.open_timeout_s:g} s"
            ) from None
        try:
            info = await self._handshake()
        except BaseException:
            await self._close_quietly()
            raise
        self.info = info
        self._deadman_ms = info.deadman_ms
        self._stop_frames = tuple(encode(Stop(seq=s)) for s in range(256))
        self._last_fault = None
        self._connected = True

    async def _handshake(self) -> Info:
        seq = self._next_seq()
        hello = Hello(seq=seq, version=PROTOCOL_VERSION, deadman_ms=self.requested_deadman_ms)
        frame = encode(hello)
        waiter = self._waiter(self._answer_to(seq, Info))
        attempts = self.retries + 1
        try:
            async with self._lock:
                reply = await self._exchange(frame, waiter, attempts=attempts)
        finally:
            self._drop(waiter)
        if reply is None:
            waited = attempts * self.reply_timeout_s
            if self.decoder.frames == 0 and self.rx_bytes >= _NOISE_BYTES:
                raise DeviceError(
                    f"{self.name}: the device sent {self.rx_bytes} bytes but no valid frame in "
                    f"{waited:g} s; it does not speak the massager-ctl native protocol "
                    "(wrong port, wrong baud rate, or a different chair protocol?)"
                )
            raise DeviceTimeout(
                f"{self.name}: no answer to HELLO after {attempts} tries ({waited:g} s); "
                "is the chair on and is this the right port?"
            )
        if isinstance(reply, Nak):
            raise DeviceError(f"{self.name}: the device refused HELLO: {nak_text(reply.code)}")
        assert isinstance(reply, Info)
        if reply.version != PROTOCOL_VERSION:
            raise DeviceError(
                f"{self.name}: the device speaks native protocol v{reply.version}; "
                f"massager-ctl speaks v{PROTOCOL_VERSION}"
            )
        return reply

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
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

            waiter = self._waiter(is_answer)
            try:
                reply = await self._exchange(frame, waiter, attempts=self.retries + 1)
            finally:
                self._drop(waiter)
        if reply is None:
            raise DeviceTimeout(
                f"{self.name}: no ACK for SET after {self.retries + 1} tries "
                f"({(self.retries + 1) * self.reply_timeout_s:g} s)"
            )
        if isinstance(reply, Nak):
            raise DeviceError(f"{self.name}: the device refused SET: {nak_text(reply.code)}")

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
                reply = await self._exchange(frame, waiter, attempts=1 << 30, deadline=deadline)
            finally:
                self._drop(waiter)
        finally:
            self._lock.release()
        if reply is None:
            raise DeviceTimeout(f"{self.name}: no STATUS within {timeout:g} s")
        if isinstance(reply, Nak):
            raise DeviceError(f"{self.name}: the device refused GET_STATUS: {nak_text(reply.code)}")
        assert isinstance(reply, StatusReport)
        return reply.status

    async def keepalive(self) -> None:
        """Send HEARTBEAT (no reply). Skipped while a request is in flight: its frames count."""
        self._require_connected()
        if self._lock.locked():
            return
        async with self._lock:
            await self._write(encode(Heartbeat(seq=self._next_seq())))

    async def stop(self, timeout: float = 2.0) -> Status:
        """STOP until ACKed, then wait for a STATUS showing everything off."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self.info is None:
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
        frame = self._stop_frames[seq]
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
                reply = await self._exchange(frame, ack, attempts=1, deadline=deadline)
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
            # ACKed: wait for the chair to report itself stopped, asking when it is quiet.
            while True:
                wait = min(self.reply_timeout_s, deadline - loop.time())
                if wait <= 0:
                    break
                await asyncio.wait({stopped.future}, timeout=wait)
                if stopped.future.done():
                    reply = stopped.future.result()
                    assert isinstance(reply, StatusReport)
                    return reply.status
                if deadline - loop.time() > 0:
                    await self._write(encode(GetStatus(seq=self._next_seq())))
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
        self._fail_waiters(lambda: DeviceDisconnected(f"{self.name}: disconnected"))
        await self._close_quietly()

    async def _close_quietly(self) -> None:
        try:
            await asyncio.wait_for(self.transport.close(), self.reply_timeout_s)
        except (TimeoutError, DeviceError, OSError) as exc:
            log.warning("%s: closing the link failed: %s", self.name, exc)
