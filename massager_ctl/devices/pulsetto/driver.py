"""The host driver for the Pulsetto neck stimulator (Lite, Fit) over BLE (Nordic UART).

Sources: jooray/pulse-libre-desktop ``docs/PULSETTO_PROTOCOL.md`` and ``main.py``.

* connect: open the link, ask the battery (``Q``) to identify the device
  (two tries), prepare the stop sequence.
* observe: open the link only; a status read asks ``Q`` (a query). The device
  does not report its level, so a process that started nothing reports it
  unknown.
* apply: the first non-zero intensity plays the start sequence with its waits
  (``+``, ``-``, 0, 5, 0, target, side, LED: 0/250/450/450/450/250 ms); after
  that a digit sets the level.
  Intensity 0 while running sends ``0`` (stimulation off, session still
  open): only :meth:`stop` ends the session. A stop pre-empts a start
  sequence between its steps.
* keepalive: the reference app re-sends the intensity every 10 s while
  running; so does this driver, through the writer's keepalive
  (:attr:`keepalive_s`) - every write resets that clock.
* stop: ``+``, ``-``, ``-``, no waits. The device does not report its level, so
  the Status is built from what was sent: ``extra["confirmed"]`` is False (the
  radio acknowledged ``+`` and ``-``, which are written with response).
  :meth:`PulsettoDevice.open_and_stop` sends it as soon as the link is open,
  before any query: the battery reply, or any other, never holds it back.
* read_status: the battery (``Q``), plus what was sent.

The device has no timer of its own: the host must end the session, which
the session layer always does.
"""

from __future__ import annotations

import asyncio
import logging

from ...core.capabilities import Capabilities
from ...core.errors import DeviceError, DeviceTimeout, StopNotConfirmed, UsageError
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...core.vocabulary import Technique, Zone
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice
from .codec import (
    BATTERY_QUERY,
    DEFAULT_LED,
    LED_LEVELS,
    MAX_INTENSITY,
    LineDecoder,
    Side,
    Step,
    battery_percent,
    encode,
    intensity_command,
    needs_response,
    parse_battery,
    start_sequence,
    stop_sequence,
)
from .models import PULSETTO_SAFETY

log = logging.getLogger(__name__)

#: A reply without its newline is taken as whole after this long.
LINE_FLUSH_S = 0.05


class _Abandoned(DeviceError):
    pass


class PulsettoDevice(LinkedDevice, Device):
    keepalive_s = 10.0
    link_loss_note = PULSETTO_SAFETY.link_loss_note()

    def __init__(
        self,
        transport: Transport,
        *,
        min_write_gap_s: float = 0.1,
        name: str = "pulsetto",
        side: str = "both",
        capabilities: Capabilities | None = None,
        reply_timeout_s: float = 1.0,
        write_timeout_s: float = 2.0,
        open_timeout_s: float = 60.0,
        led: str = DEFAULT_LED,
    ) -> None:
        super().__init__()
        try:
            self.side = Side(side)
        except ValueError:
            raise UsageError(f"side {side!r}: use left, right or both") from None
        if led not in LED_LEVELS:
            raise UsageError(f"led {led!r}: use {', '.join(LED_LEVELS)} (low, medium, high)")
        self.led = led
        self.transport = transport
        self.name = name
        self.min_write_gap_s = min_write_gap_s
        self.reply_timeout_s = reply_timeout_s
        self.write_timeout_s = write_timeout_s
        self.open_timeout_s = open_timeout_s
        if capabilities is None:
            from .models import PULSETTO_CAPABILITIES

            capabilities = PULSETTO_CAPABILITIES
        self._caps = capabilities
        self.decoder = LineDecoder()
        self.battery_v: float | None = None
        self.lines: list[str] = []
        self.running = False  # a start sequence completed and no stop since
        self.level = 0  # the intensity last sent while running
        self.sent_any = False  # this process started or stopped it (else its level is unknown)
        self._observing = False
        self._battery_event = asyncio.Event()
        self._lock = asyncio.Lock()
        self._abort = asyncio.Event()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._stop_steps: tuple[Step, ...] = ()
        self._attach_link(transport)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    # -- receiving ----------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        self._lines(self.decoder.feed(data))
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self.decoder.pending:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(LINE_FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._lines(self.decoder.flush())

    def _lines(self, lines: list[str]) -> None:
        for line in lines:
            self.lines.append(line)
            volts = parse_battery(line)
            if volts is not None:
                self.battery_v = volts
                self._battery_event.set()
            else:
                log.debug("%s: reply %r", self.name, line)

    def _link_lost(self, reason: str) -> None:
        self._abort.set()
        self._battery_event.set()

    # -- sending ------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        self._check_link()
        await self._write_within(
            encode(text),
            self.write_timeout_s,
            f"writing {text!r} took longer than",
            endpoint="tx",
            response=needs_response(text),
        )

    async def _play(self, steps: tuple[Step, ...], *, abortable: bool) -> None:
        for step in steps:
            if abortable and self._abort.is_set():
                raise _Abandoned(f"{self.name}: start sequence abandoned for a stop")
            await self._send(step.text)
            if step.wait_s > 0:
                if abortable:
                    try:
                        await asyncio.wait_for(self._abort.wait(), step.wait_s)
                    except TimeoutError:
                        pass
                else:
                    await asyncio.sleep(step.wait_s)
        self._check_link()

    async def _query_battery(self, timeout: float) -> float | None:
        self._battery_event.clear()
        await self._send(BATTERY_QUERY)
        try:
            await asyncio.wait_for(self._battery_event.wait(), timeout)
        except TimeoutError:
            return None
        self._check_link()
        return self.battery_v

    # -- Device API ---------------------------------------------------------------------

    async def _open(self) -> None:
        self._lost_reason = None
        self._abort.clear()
        await self._open_link(self.open_timeout_s)

    async def connect(self) -> None:
        if not await self._open_to_drive(self._identify, self.write_timeout_s):
            return
        self._stop_steps = stop_sequence()
        self.running = False
        self.level = 0

    async def _identify(self) -> None:
        """The battery query, asked twice at most: a Pulsetto answers it."""
        for _ in range(2):
            volts = await self._query_battery(self.reply_timeout_s)
            if volts is not None:
                log.info("%s: battery %.2f V (%d %%)", self.name, volts, battery_percent(volts))
                return
        raise DeviceTimeout(
            f"{self.name}: no answer to the battery query in {2 * self.reply_timeout_s:g} s; "
            "is this a Pulsetto?"
        )

    async def observe(self) -> None:
        """Open the link and send nothing; :meth:`read_status` asks ``Q``."""
        await self._open_to_observe()

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Open the link and send ``+ - -`` before anything else."""
        await self.observe()
        self._stop_steps = stop_sequence()
        return await self.stop(timeout=timeout)

    def level_for(self, state: DeviceState) -> int:
        if state.technique is None or Zone.NECK not in state.zones:
            return 0
        if not 0 <= state.intensity <= MAX_INTENSITY:
            raise DeviceError(f"{self.name}: intensity {state.intensity} outside 0..{MAX_INTENSITY}")
        return state.intensity

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        if self._observing:
            raise DeviceError(f"{self.name}: opened to observe only: cannot drive it")
        level = self.level_for(state)
        async with self._lock:
            if not self.running:
                if level == 0:
                    return
                self._abort.clear()
                self.sent_any = True
                await self._play(start_sequence(level, self.side, self.led), abortable=True)
                self.running = True
                self.level = level
                return
            if level != self.level:
                await self._send(intensity_command(level))
                self.level = level

    async def keepalive(self) -> None:
        """Re-send the intensity while running (the reference app does every 10 s)."""
        if not self.connected or not self.running or self._lock.locked():
            return
        async with self._lock:
            await self._send(intensity_command(self.level))

    def _status(self, **extra: object) -> Status:
        battery: dict[str, object] = {}
        if self.battery_v is not None:
            battery = {"battery_v": self.battery_v, "battery_pct": battery_percent(self.battery_v)}
        if not self.sent_any:
            why = "the Pulsetto does not report its level, and this host started nothing"
            return Status(
                running=None, extra={"confirmed": False, "side": None, "why": why, **battery, **extra}
            )
        stimulating = self.running and self.level > 0
        state = (
            DeviceState(technique=Technique.VIBRATE, zones=frozenset({Zone.NECK}), intensity=self.level)
            if stimulating
            else DEVICE_STOPPED
        )
        info: dict[str, object] = {"confirmed": False, "side": self.side.value, "session_open": self.running}
        if self.battery_v is not None:
            info.update(battery_v=self.battery_v, battery_pct=battery_percent(self.battery_v))
        info.update(extra)
        return Status(running=stimulating, state=state, extra=info)

    async def read_status(self, timeout: float = 2.0) -> Status:
        """The battery from the device; the level from what was sent."""
        self._require_connected()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    volts = await self._query_battery(max(0.0, deadline - loop.time()))
        except TimeoutError:
            volts = None
        if volts is None:
            raise DeviceTimeout(f"{self.name}: no battery reply within {timeout:g} s")
        return self._status()

    async def stop(self, timeout: float = 2.0) -> Status:
        """``+``, ``-``, ``-``; a start sequence in progress is abandoned first.

        Not confirmable: the device does not report its level. The Status is
        built from what was sent, with ``extra["confirmed"] = False``.
        """
        if not self._stop_steps:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        self._refuse_stop_if_lost()
        self._abort.set()
        loop = asyncio.get_running_loop()
        waits = sum(s.wait_s for s in self._stop_steps)  # none in the vendor app's sequence
        deadline = loop.time() + timeout + waits
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    await self._play(self._stop_steps, abortable=False)
        except TimeoutError:
            raise StopNotConfirmed(
                f"{self.name}: the stop sequence did not complete within {timeout + waits:g} s"
            ) from None
        except DeviceError as exc:
            raise StopNotConfirmed(
                f"{self.name}: the stop could not be sent: {exc}; {self.link_loss_note}"
            ) from exc
        finally:
            self._abort.clear()
        self.running = False
        self.level = 0
        self.sent_any = True
        return self._status()

    async def disconnect(self) -> None:
        self._connected = False
        self._observing = False
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        await self._close_quietly(self.write_timeout_s)
