"""A simulated chair that speaks the native protocol on any transport.

It plays the chair's firmware: it decodes host frames with the codec in
:mod:`massager_ctl.devices.native.codec`, drives a :class:`ChairPhysics`, reports
status on a fixed cadence, runs the deadman, and lets a
:class:`FaultInjector` misbehave on the link.

Behaviour (the device side of docs/protocol.md):

* HELLO -> INFO with this chair's capabilities and the negotiated deadman:
  what the host asked, capped at :attr:`SimulatedNativeChair.MAX_DEADMAN_MS`.
  A version other than ours -> NAK UNSUPPORTED.
* SET -> NAK NOT_READY before a HELLO; NAK FAULT while a fault lasts (below);
  otherwise the physics checks it: a value this chair lacks (technique, zone,
  width, heat level) -> NAK UNSUPPORTED, anything else out of range -> NAK
  BAD_VALUE; accepted -> ACK.
* STOP -> the physics stops -> ACK. Honoured before HELLO too: a stop is
  never refused.
* HEARTBEAT -> no reply (by design: the status cadence already shows the
  chair is alive, and a reply per heartbeat would double the traffic).
* GET_STATUS -> STATUS with the request's seq (answered before HELLO too).
* A CRC-valid frame the codec refuses -> NAK with the codec's code; a
  device -> host message type from the host -> NAK UNKNOWN_TYPE. Garbage
  bytes are skipped by the decoder.
* After a HELLO, a STATUS frame every ``status_interval_s`` (own seq counter).
* Deadman: after a HELLO, if no host frame that feeds it (docs/protocol.md
  section 8.3: any intact frame of a host type with a well-formed body, carried out or
  refused) arrives for the deadman period, a running chair stops with reason
  ``"deadman"`` and shows ``deadman`` as its fault text until the next SET; on
  a chair already stopped the expiry changes nothing. Once per silence; the
  next feeding frame re-arms it. A cut link is not special-cased: the chair
  simply never hears the host again, so the deadman stops it.
* Heater over temperature (the physics' cut-out): the chair stops as for STOP,
  shows ``heater over temperature`` as its fault text and refuses SET with NAK
  FAULT until the heater has cooled (STOP is still ACKed, GET_STATUS answered).
* :meth:`SimulatedNativeChair.remote` plays the chair's own remote control
  (a program started at the chair, no host involved); :meth:`reboot` a power
  cut: everything off, out of any session, no STATUS until the next HELLO.

Physics time is the event loop's clock (``loop.time()``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from ...core.capabilities import Capabilities
from ...core.recent import RecentLog
from ...core.status import DeviceState, Status
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import ChairPhysics, UnsupportedValue
from ...transport.base import Transport
from .codec import (
    DEFAULT_DEADMAN_MS,
    PROTOCOL_VERSION,
    Ack,
    Decoder,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    Message,
    MsgType,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    describe,
    encode,
)
from .reference import REFERENCE_CAPABILITIES, REFERENCE_MODEL

log = logging.getLogger(__name__)

_HOST_TYPES = (Hello, SetState, Stop, Heartbeat, GetStatus)
_HOST_TYPE_CODES = frozenset(t for t in MsgType if t < 0x80)
#: A refusal of a well-formed frame of a host type: it still feeds the deadman (section 8.3).
_FEEDING_REFUSALS = frozenset({NakCode.BAD_VALUE, NakCode.UNSUPPORTED})
HEATER_FAULT = "heater over temperature"
DEADMAN_FAULT = "deadman"
SENT_KEPT = 10  # frames kept in SimulatedNativeChair.sent: the last second of STATUS
RECEIVED_KEPT = 200  # host frames kept in SimulatedNativeChair.received (100 s of heartbeats)


class SimulatedNativeChair(SimulatedDevice):
    #: The longest deadman this chair agrees to (a lost host must not leave it running long).
    MAX_DEADMAN_MS = 10_000
    already_started = "simulated chair already started"
    log_name = "simulated chair"

    def __init__(
        self,
        transport: Transport,
        physics: ChairPhysics | None = None,
        *,
        status_interval_s: float = 0.1,
        faults: FaultInjector | None = None,
        model: str = REFERENCE_MODEL,
    ) -> None:
        if not status_interval_s > 0:
            raise ValueError(f"status interval must be above 0 s, not {status_interval_s!r}")
        super().__init__(transport, faults)
        self.physics = physics if physics is not None else ChairPhysics(REFERENCE_CAPABILITIES)
        self.status_interval_s = float(status_interval_s)
        self.model = model
        self.decoder = Decoder()
        self.ready = False  # a HELLO has been answered
        self.deadman_ms: int | None = None  # negotiated at HELLO
        self.deadman_trips = 0
        # Host frames that reached the chair: the newest RECEIVED_KEPT, and a count of all.
        self.received: RecentLog[tuple[float, Message]] = RecentLog(RECEIVED_KEPT)
        # What the chair tried to send: the most recent frames only (at 10 Hz of STATUS
        # a whole log would grow without end on a simulator that runs for hours, and
        # every entry is more for the garbage collector to walk), and a count of all.
        self.sent: deque[tuple[float, Message]] = deque(maxlen=SENT_KEPT)
        self.sent_count = 0
        self.errors: list[str] = []  # internal problems (a bug if not empty)
        self._last_heard: float | None = None
        self._deadman_fired = False
        self._deadman_text = False  # "deadman" in the fault text until the next SET
        self._heater_fault = False
        self._status_seq = 0
        self._status_tick = 1  # the next status is due at start + tick * interval
        self._timer: asyncio.Handle | None = None  # the next run of _tick

    @property
    def capabilities(self) -> Capabilities:
        return self.physics.capabilities

    @property
    def deadman_s(self) -> float:
        return (self.deadman_ms or DEFAULT_DEADMAN_MS) / 1000.0

    # ------------------------------------------------------------ lifecycle

    def _starting(self, now: float) -> None:
        self.physics.advance(now)
        self._status_tick = 1

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self._writer(), "sim-chair-writer")]

    async def start(self) -> None:
        await super().start()
        assert self._loop is not None  # set by start()
        self._timer = self._loop.call_soon(self._tick)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None  # no more ticks: a late _wake_up() finds no loop
        await super().close()

    # ------------------------------------------------------------ the clock

    def _tick(self) -> None:
        """The firmware's main loop, one pass: faults, physics, deadman, status; then it
        arms a timer for its next deadline. A timer callback, not a task: it runs ten
        times a second for as long as the chair is on (and in virtual time that is most
        of the work of a whole session)."""
        loop = self._loop
        self._timer = None
        if loop is None:
            return
        now = loop.time()
        self.faults.tick(now)
        self.physics.advance(now)
        self._check_heater(now)
        self._check_deadman(now)
        start, interval = self._start, self.status_interval_s
        assert start is not None  # set by start(), before the first tick
        tick = self._status_tick
        if now >= start + tick * interval - 1e-9:
            if self.ready:
                self._send_status(None, now)
            while start + tick * interval <= now + 1e-9:
                tick += 1
            self._status_tick = tick
        deadline = start + tick * interval
        for t in (self._deadman_deadline(), self.faults.next_due()):
            if t is not None and t < deadline:
                deadline = t
        if self._loop is not None and self._timer is None:  # (a fault may have closed us)
            self._timer = loop.call_at(deadline, self._tick)

    def _wake_up(self) -> None:
        """Plan again now (a new deadline appeared): run the next pass at once."""
        timer = self._timer
        if timer is not None and self._loop is not None:
            timer.cancel()
            self._timer = self._loop.call_soon(self._tick)

    # ------------------------------------------------------------ deadman

    def _deadman_deadline(self) -> float | None:
        if not self.ready or self._deadman_fired or self._last_heard is None:
            return None
        return self._last_heard + self.deadman_s

    def _check_deadman(self, now: float) -> None:
        deadline = self._deadman_deadline()
        if deadline is not None and now >= deadline - 1e-9:
            self._deadman_fired = True
            self.physics.advance(now)
            if self.physics.target.is_stopped:
                return  # nothing runs: nothing to stop, nothing to report (section 8.3)
            self.deadman_trips += 1
            self._deadman_text = True
            self.physics.stop(now, reason="deadman")
            log.info("simulated chair: deadman, no host frame for %.3f s", self.deadman_s)

    # ------------------------------------------------------------ faults (section 8.4)

    def _check_heater(self, now: float) -> None:
        latched = self.physics.heat_latched
        if latched and not self._heater_fault:
            self._heater_fault = True
            self.physics.stop(now, reason=HEATER_FAULT)
            log.info("simulated chair: fault: %s", HEATER_FAULT)
        elif self._heater_fault and not latched:
            self._heater_fault = False
            log.info("simulated chair: heater cooled down; fault cleared")

    @property
    def fault(self) -> str | None:
        """The fault text the chair shows in STATUS now (None: no fault)."""
        if self._heater_fault:
            return HEATER_FAULT
        if self._deadman_text:
            return DEADMAN_FAULT
        return None

    # ------------------------------------------------------------ the chair's own side

    def remote(self, state: DeviceState) -> None:
        """The chair's own remote control: run ``state`` (no host involved, no session)."""
        assert self._loop is not None, "start the simulator first"
        self.physics.command(state, self._loop.time())

    def reboot(self) -> None:
        """A power cut and back: everything off, out of the session (no STATUS, no deadman)
        until a host says HELLO again."""
        assert self._loop is not None, "start the simulator first"
        now = self._loop.time()
        self.physics.stop(now, reason="reboot")
        self.ready = False
        self.deadman_ms = None
        self._last_heard = None
        self._deadman_fired = False
        self._deadman_text = False
        self._status_seq = 0
        self.decoder = Decoder()
        log.info("simulated chair: rebooted")

    def _heard(self, now: float) -> None:
        had_deadline = self._deadman_deadline() is not None
        self._last_heard = now
        self._deadman_fired = False
        if not had_deadline:
            self._wake_up()  # the loop must plan for a deadline it did not have

    # ------------------------------------------------------------ incoming

    def _on_bytes(self, data: bytes) -> None:
        if self._link_back():  # the cable is back: talk again (the host will HELLO)
            log.info("simulated chair: link back")
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        if self.faults.stalled(now):
            return  # a hung chair hears nothing
        self._check_deadman(now)  # a frame arriving after the deadline is too late
        messages = self.decoder.feed(data)
        for bad in self.decoder.take_rejected():
            if self.faults.incoming(f"rejected frame type 0x{bad.type:02X}", now):
                if bad.type in _HOST_TYPE_CODES and bad.code in _FEEDING_REFUSALS:
                    self._heard(now)  # well-formed but refused: it still feeds the deadman
                    if bad.type == MsgType.SET:
                        self._deadman_text = False
                self._send(Nak(bad.seq, bad.code), now)
        faults = self.faults
        for msg in messages:
            # (No rules: nothing to consult, and no description to format.)
            if faults.rules and not faults.incoming(describe(msg), now):
                continue
            self.received.append((now, msg))
            try:
                self._handle(msg, now)
            except Exception as exc:  # the firmware must survive anything the host sends
                self.errors.append(f"{describe(msg)}: {exc!r}")
                log.exception("simulated chair: error handling %s", describe(msg))

    def _handle(self, msg: Message, now: float) -> None:
        if not isinstance(msg, _HOST_TYPES):
            self._send(Nak(msg.seq, NakCode.UNKNOWN_TYPE), now)
            return
        self._heard(now)
        if isinstance(msg, Heartbeat):
            return  # no reply by design (see the module docstring)
        code = self.faults.take_nak(describe(msg), now, NakCode.BUSY) if self.faults.rules else None
        if code is not None:
            self._send(Nak(msg.seq, NakCode(code)), now)
            return
        if isinstance(msg, Hello):
            self._hello(msg, now)
        elif isinstance(msg, SetState):
            self._set(msg, now)
        elif isinstance(msg, Stop):
            self.physics.stop(now)
            self._send(Ack(msg.seq), now)
        elif isinstance(msg, GetStatus):
            self._send_status(msg.seq, now)

    def _hello(self, msg: Hello, now: float) -> None:
        if msg.version != PROTOCOL_VERSION:
            self._send(Nak(msg.seq, NakCode.UNSUPPORTED), now)
            return
        self.deadman_ms = min(msg.deadman_ms, self.MAX_DEADMAN_MS)
        self.ready = True
        self._deadman_fired = False
        info = Info(
            seq=msg.seq,
            version=PROTOCOL_VERSION,
            deadman_ms=self.deadman_ms,
            model=self.model,
            capabilities=self.capabilities,
        )
        self._send(info, now)
        self._wake_up()

    def _set(self, msg: SetState, now: float) -> None:
        self._deadman_text = False  # shown until the next SET (section 8.3)
        if not self.ready:
            self._send(Nak(msg.seq, NakCode.NOT_READY), now)
            return
        self.physics.advance(now)
        self._check_heater(now)
        if self._heater_fault:
            log.info("simulated chair: SET refused: %s", HEATER_FAULT)
            self._send(Nak(msg.seq, NakCode.FAULT), now)
            return
        try:
            self.physics.command(msg.state, now)
        except UnsupportedValue as exc:
            log.info("simulated chair: SET refused: %s", exc)
            self._send(Nak(msg.seq, NakCode.UNSUPPORTED), now)
        except ValueError as exc:
            log.info("simulated chair: SET refused: %s", exc)
            self._send(Nak(msg.seq, NakCode.BAD_VALUE), now)
        else:
            self._send(Ack(msg.seq), now)

    # ------------------------------------------------------------ outgoing

    def _send_status(self, seq: int | None, now: float) -> None:
        if seq is None:
            seq = self._status_seq
            self._status_seq = (self._status_seq + 1) & 0xFF
        self._send(StatusReport(seq, self._status(now)), now, status=True)

    def _status(self, now: float) -> Status:
        status = self.physics.status(now)
        fault = self.fault
        return status if fault is None else replace(status, fault=fault)

    def _send(self, msg: Message, now: float, *, status: bool = False) -> None:
        self.sent.append((now, msg))
        self.sent_count += 1
        if self.link_lost or self._queue is None:
            return
        try:
            frame = encode(msg)
        except (ValueError, TypeError) as exc:
            self.errors.append(f"cannot encode {describe(msg)}: {exc}")
            log.error("simulated chair: cannot encode %s: %s", describe(msg), exc)
            return
        if self.faults.rules:
            out = self.faults.outgoing(frame, describe(msg), now, status=status)
        else:
            out = frame, 0.0  # what outgoing() gives when no rule applies
        if out is None:
            return
        frame, delay = out
        self._queue_frame(frame, delay, now)

    # ------------------------------------------------------------ the link

    def _link_lost(self, reason: str) -> None:
        # Only noted: the chair stops through its deadman, as real firmware would.
        log.info("simulated chair: link lost (%s)", reason)
