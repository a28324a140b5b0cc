"""Next Level Racing HF8 seat pad: the host driver.

The pad takes one level per motor and nothing else, so this driver renders
techniques as motor patterns (devices/nlr/patterns.py): while a state is
applied, a pattern task recomputes every motor's level each ``tick_s`` on
the loop clock and writes the motors whose level changed, as one write.

Sources: buttplugio/docs.buttplug.io ``stpihkal/protocols/next-level-racing/index.md``
(the commands, the ``P`` reply, the motor layout) and buttplugio/buttplug
``buttplug/src/server/device/protocol/nextlevelracing.rs`` (the one working client:
it only writes ``M`` lines and never reads from the pad).

Identify: ``connect`` sends ``P`` and needs a parsable ``E<scale>,A<audio>``
reply (UNSURE format, see devices/nlr/codec.py), then sets every motor to 0 (the
port is opened exclusively, so no other program can be driving the pad; a
level left by a crashed program is cleared). No source gives the reply's line
end: a reply that stops without one is taken as whole after ``LINE_QUIET_S``.

Stop: every motor to 0 (all eight, always), then ``P``. A line is in order,
so a reply to ``P`` shows the pad has taken the zero commands before it; the
reply does not carry motor levels, so that is the strongest confirmation the
pad offers. Without a reply the stop is returned *unconfirmed*
(``Status.extra["confirmed"] is False``) and a warning is logged.
:meth:`NlrDevice.open_and_stop` opens the port and writes the zeros before it
sends or waits for anything else.

Observe: ``observe`` opens the port and sends nothing; a status read sends
``P`` (a query: it changes no motor). The pad does not report its motor
levels, so a process that set none reports them unknown.

The pad has no deadman that we know of: if the host goes away mid-session
its motors keep their last levels.
"""

from __future__ import annotations

import asyncio
import logging

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice, ReplyWaiters
from .codec import (
    MOTORS,
    BadLine,
    LineSplitter,
    PadInfo,
    all_off,
    motor_command,
    parse_reply,
    query_command,
)
from .models import HF8_SAFETY
from .patterns import NLR_CAPABILITIES, OFF, is_steady, levels_at, validate

log = logging.getLogger(__name__)

#: Fewer stray bytes than this while identifying are taken for line noise.
_NOISE_BYTES = 8
#: A reply still without its line end after this long is taken as whole.
LINE_QUIET_S = 0.05


class NlrDevice(LinkedDevice, Device):
    """The HF8 (or its simulator) over any transport, usually a serial port."""

    link_loss_note = HF8_SAFETY.link_loss_note()

    def __init__(
        self,
        transport: Transport,
        *,
        min_write_gap_s: float = 0.05,
        name: str = "nlr-hf8",
        reply_timeout_s: float = 0.5,
        retries: int = 2,
        tick_s: float = 0.05,
        open_timeout_s: float = 5.0,
    ) -> None:
        super().__init__()
        if reply_timeout_s <= 0 or retries < 0 or tick_s <= 0:
            raise ValueError("reply_timeout_s and tick_s must be > 0, retries >= 0")
        self.transport = transport
        self.name = name
        self.min_write_gap_s = min_write_gap_s
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.tick_s = tick_s
        self.open_timeout_s = open_timeout_s
        self.splitter = LineSplitter()
        self.info: PadInfo | None = None
        self.rx_bytes = 0
        self.bad_lines: list[BadLine] = []
        #: What was last written per motor (None: unknown).
        self.sent: list[int | None] = [None] * MOTORS
        self.writes = 0  # transport writes of motor lines (pattern ticks and applies)
        self._state: DeviceState = DEVICE_STOPPED
        self._t0: float | None = None  # when the current pattern started
        self._pattern: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._replies = ReplyWaiters()
        self._last_fault: str | None = None
        self._observing = False  # opened to look (or only to stop): nothing was set
        self._quiet: asyncio.TimerHandle | None = None
        self._attach_link(transport)

    # ---------------------------------------------------------------- properties

    @property
    def capabilities(self) -> Capabilities:
        return NLR_CAPABILITIES

    @property
    def state(self) -> DeviceState:
        """The state being rendered now."""
        return self._state

    # ---------------------------------------------------------------- receiving

    def _on_bytes(self, data: bytes) -> None:
        self.rx_bytes += len(data)
        self._lines(self.splitter.feed(data))
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        if self.splitter.pending:  # a reply without its line end (yet): wait for quiet
            self._quiet = asyncio.get_running_loop().call_later(LINE_QUIET_S, self._line_quiet)

    def _line_quiet(self) -> None:
        self._quiet = None
        self._lines(self.splitter.flush())

    def _lines(self, lines: list[bytes]) -> None:
        for line in lines:
            reply = parse_reply(line)
            if isinstance(reply, PadInfo):
                self.info = reply
                self._replies.resolve_first(reply)
            else:
                if len(self.bad_lines) < 100:
                    self.bad_lines.append(reply)
                log.debug("%s: unexpected line %r (%s)", self.name, reply.text, reply.reason)

    def _link_lost(self, reason: str) -> None:
        if self._pattern is not None:
            self._pattern.cancel()
        self._replies.fail_all(DeviceDisconnected(f"{self.name}: link lost ({reason})"))

    # ---------------------------------------------------------------- sending

    async def _write(self, data: bytes) -> None:
        self._check_link()
        await self._write_within(data, self.reply_timeout_s * 2, "a write did not complete within")

    async def _query(self, deadline: float, attempts: int) -> PadInfo | None:
        """Send ``P`` until a reply arrives (``attempts`` times at most, before ``deadline``)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PadInfo] = self._replies.add()
        try:
            for _ in range(attempts):
                wait = min(self.reply_timeout_s, deadline - loop.time())
                if wait <= 0:
                    break
                await self._write(query_command())
                await asyncio.wait({fut}, timeout=wait)
                if fut.done():
                    return fut.result()  # raises DeviceDisconnected if the link went
            return None
        finally:
            self._replies.discard(fut)
            if not fut.done():
                fut.cancel()

    async def _send_levels(self, levels: tuple[int, ...], *, force: bool = False) -> None:
        """Write the motors whose level differs from what was sent (all with ``force``)."""
        lines = [motor_command(m, level) for m, level in enumerate(levels) if force or self.sent[m] != level]
        if not lines:
            return
        await self._write(b"".join(lines))
        self.writes += 1
        for m, level in enumerate(levels):
            self.sent[m] = level

    # ---------------------------------------------------------------- Device API

    async def _open(self) -> None:
        self._lost_reason = None  # after a loss: reopen and identify again (--reconnect)
        self.splitter = LineSplitter()
        self.rx_bytes = 0
        self.bad_lines.clear()
        await self._open_link(self.open_timeout_s)

    async def observe(self) -> None:
        """Open the port and send nothing (connect would set every motor to 0)."""
        if await self._open_to_observe():
            self.sent = [None] * MOTORS

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Open the port and write every motor to 0 before anything else; ``P`` after."""
        await self.observe()
        return await self.stop(timeout=timeout)

    async def connect(self) -> None:
        if await self._open_to_drive(self._identify_and_clear, self.open_timeout_s):
            self._state = DEVICE_STOPPED
            self._t0 = None

    async def _identify_and_clear(self) -> None:
        """``P`` must be answered; then every motor to 0 (a level left by a crashed program)."""
        await self._identify()
        async with self._lock:
            self.sent = [None] * MOTORS
            await self._send_levels(OFF, force=True)

    async def _identify(self) -> None:
        loop = asyncio.get_running_loop()
        attempts = self.retries + 1
        waited = attempts * self.reply_timeout_s
        info = await self._query(loop.time() + waited + 0.05, attempts)
        if info is not None:
            return
        if self.bad_lines or self.rx_bytes >= _NOISE_BYTES:
            raise DeviceError(
                f"{self.name}: the device sent {self.rx_bytes} bytes but no HF8 answer to P in "
                f"{waited:g} s; it does not speak the HF8 protocol (wrong port, wrong model "
                "or wrong baud rate?)"
            )
        raise DeviceTimeout(
            f"{self.name}: no answer to P after {attempts} tries ({waited:g} s); is the pad "
            "plugged in and is this its port?"
        )

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        if self._observing:
            raise DeviceError(f"{self.name}: opened to observe only: cannot drive it")
        try:
            validate(state)
        except ValueError as exc:
            raise DeviceError(f"{self.name}: {exc}") from None
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            if state.is_stopped:
                self._state = DEVICE_STOPPED
                self._t0 = None
                await self._end_pattern()
                await self._send_levels(OFF)
                return
            if self._t0 is None:
                self._t0 = now  # the pattern's phase runs on across changes of intensity
            self._state = state
            await self._send_levels(levels_at(state, now - self._t0))
            if not is_steady(state) and (self._pattern is None or self._pattern.done()):
                self._pattern = loop.create_task(self._run_pattern(), name=f"{self.name} pattern")

    async def _run_pattern(self) -> None:
        """Re-render the applied state every tick (absolute ticks: no drift)."""
        loop = asyncio.get_running_loop()
        k = 1
        while True:
            t0 = self._t0
            if t0 is None or is_steady(self._state):
                return
            while t0 + k * self.tick_s <= loop.time():
                k += 1  # skip ticks we were too late for
            await asyncio.sleep(max(0.0, t0 + k * self.tick_s - loop.time()))
            async with self._lock:
                if self._t0 is None or is_steady(self._state) or self._lost_reason:
                    return
                try:
                    await self._send_levels(levels_at(self._state, loop.time() - self._t0))
                except DeviceDisconnected:
                    return
                except DeviceError as exc:
                    if str(exc) != self._last_fault:
                        self._last_fault = str(exc)
                        self._emit(self.events.emit_fault, str(exc))
            k += 1

    async def _end_pattern(self) -> None:
        task, self._pattern = self._pattern, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        try:
            await asyncio.wait_for(task, 1.0)
        except (asyncio.CancelledError, TimeoutError):
            pass

    async def stop(self, timeout: float = 2.0) -> Status:
        """Every motor to 0, then ``P`` as the confirmation the pad can give.

        Raises StopNotConfirmed if the zero commands could not be written.
        Returns a Status with ``extra["confirmed"]`` True when the pad answered
        ``P`` after them, False (and a logged warning) when it did not.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._refuse_stop_if_lost()
        if not self._connected:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        self._state = DEVICE_STOPPED
        self._t0 = None
        pattern, self._pattern = self._pattern, None
        if pattern is not None:
            pattern.cancel()
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    if pattern is not None:
                        await asyncio.wait({pattern})
                    await self._write(b"".join(all_off()))
                    self.sent = [0] * MOTORS
                    info = await self._query(deadline, attempts=1 << 30)
        except TimeoutError:
            if self.sent != [0] * MOTORS:
                raise StopNotConfirmed(
                    f"{self.name}: the stop could not be sent within {timeout:g} s"
                ) from None
            info = None
        except DeviceError as exc:
            if self.sent == [0] * MOTORS and not isinstance(exc, DeviceDisconnected):
                info = None
            else:
                raise StopNotConfirmed(
                    f"{self.name}: stop not confirmed: {exc}; {self.link_loss_note}"
                ) from exc
        levels = [0] * MOTORS
        if info is None:
            log.warning(
                "%s: every motor was set to 0 but the pad did not answer P within %g s: "
                "the stop is unconfirmed",
                self.name,
                timeout,
            )
            return Status(
                running=False,
                state=DEVICE_STOPPED,
                extra={"confirmed": False, "levels": levels, "why": "no answer to P"},
            )
        return Status(
            running=False,
            state=DEVICE_STOPPED,
            extra={
                "confirmed": True,
                "levels": levels,
                "how": "the pad answered P after the zero commands (it does not report levels)",
                "intensity_scale": info.intensity_scale,
                "audio_mode": info.audio_mode,
            },
        )

    async def read_status(self, timeout: float = 2.0) -> Status:
        """``P`` (a query: it changes no motor). The pad does not report its motor levels:
        the status gives the ones this host sent (``confirmed`` False), or says the levels
        are unknown when it sent none (observing)."""
        self._require_connected()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    info = await self._query(deadline, attempts=1 << 30)
        except TimeoutError:
            info = None
        if info is None:
            raise DeviceTimeout(f"{self.name}: no answer to P within {timeout:g} s")
        pad = {"intensity_scale": info.intensity_scale, "audio_mode": info.audio_mode, "confirmed": False}
        if any(level is None for level in self.sent):
            why = "the pad does not report its motor levels, and this host set none"
            return Status(running=None, extra={**pad, "why": why})
        levels = [level or 0 for level in self.sent]
        running = any(levels)
        return Status(
            running=running,
            state=self._state if running else DEVICE_STOPPED,
            extra={
                **pad,
                "levels": levels,
                "levels_source": "as sent (the pad reports only its scale and audio mode)",
            },
        )

    async def disconnect(self) -> None:
        """Close the link. Does not stop the pad (call :meth:`stop` first)."""
        self._connected = False
        self._observing = False
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        if self._pattern is not None:
            self._pattern.cancel()
            self._pattern = None
        await self._close_quietly(self.open_timeout_s)
