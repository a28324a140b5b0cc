"""The host driver for Theragun massage guns (Pro, Elite, Prime) over BLE.

One motor, one setting: its speed in rpm. Intensity steps (100 of them) map
evenly onto the model's range (:func:`~massager_ctl.devices.theragun.codec.rpm_for_step`);
the technique and zones a profile asks for cannot be told to a gun held by
hand (see the model notes), so any running state is "spin at this rpm".

* connect: open the link, send the version query (without response) and
  wait briefly for a 0xBB reply. UNSURE: replies are only partly decoded, so
  no reply is logged, not fatal; ``firmware_reply`` keeps the raw body.
* apply: the speed frame, written with response (the gun's radio acknowledges
  it; that is all the confirmation there is).
* stop: the prepared 0 rpm frame, written with response. The gun does not
  report its speed (as far as is known), so the returned Status is built from
  what was sent and says ``extra={"confirmed": False}``.
"""

from __future__ import annotations

import asyncio
import logging

from ...core.capabilities import Capabilities
from ...core.errors import DeviceError, StopNotConfirmed
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice
from .codec import (
    MAX_RPM,
    STOP_FRAME,
    VERSION_QUERY,
    Reply,
    ReplyDecoder,
    rpm_for_step,
    speed_frame,
)
from .models import GUN_SAFETY

log = logging.getLogger(__name__)

INTENSITY_STEPS = 100


class TheragunDevice(LinkedDevice, Device):
    link_loss_note = GUN_SAFETY.link_loss_note()

    def __init__(
        self,
        transport: Transport,
        *,
        min_write_gap_s: float = 0.1,
        name: str = "theragun-pro",
        capabilities: Capabilities | None = None,
        reply_timeout_s: float = 1.0,
        write_timeout_s: float = 2.0,
        open_timeout_s: float = 60.0,
    ) -> None:
        super().__init__()
        if name not in MAX_RPM:
            raise ValueError(f"unknown Theragun model {name!r} (known: {', '.join(MAX_RPM)})")
        self.transport = transport
        self.name = name
        self.max_rpm = MAX_RPM[name]
        self.min_write_gap_s = min_write_gap_s
        self.reply_timeout_s = reply_timeout_s
        self.write_timeout_s = write_timeout_s
        self.open_timeout_s = open_timeout_s
        if capabilities is None:
            from .models import GUN_CAPABILITIES

            capabilities = GUN_CAPABILITIES
        self._caps = capabilities
        self.decoder = ReplyDecoder()
        self.firmware_reply: bytes | None = None
        self.replies: list[Reply] = []
        self.rpm_sent = 0
        self.last_state: DeviceState = DEVICE_STOPPED
        self._reply_event = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stop_frame: bytes | None = None
        self._attach_link(transport)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def rpm_for(self, state: DeviceState) -> int:
        if state.technique is None or state.intensity <= 0:
            return 0
        return rpm_for_step(state.intensity, INTENSITY_STEPS, self.max_rpm)

    # -- receiving --------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        for reply in self.decoder.feed(data):
            self.replies.append(reply)
            self._reply_event.set()

    def _link_lost(self, reason: str) -> None:
        self._reply_event.set()

    # -- sending ------------------------------------------------------------------------

    async def _write(self, frame: bytes, *, response: bool) -> None:
        self._check_link()
        await self._write_within(
            frame,
            self.write_timeout_s,
            "a write did not complete within",
            endpoint="tx",
            response=response,
        )

    # -- Device API ---------------------------------------------------------------------

    async def connect(self) -> None:
        if self.connected:
            return
        self._lost_reason = None
        await self._open_link(self.open_timeout_s)
        try:
            await self._identify()
        except BaseException:
            await self._close_quietly(self.write_timeout_s)
            raise
        self._stop_frame = STOP_FRAME
        self._connected = True

    async def _identify(self) -> None:
        before = len(self.replies)
        self._reply_event.clear()
        await self._write(VERSION_QUERY, response=False)
        try:
            await asyncio.wait_for(self._reply_event.wait(), self.reply_timeout_s)
        except TimeoutError:
            pass
        self._check_link()
        if len(self.replies) > before:
            self.firmware_reply = self.replies[before].body
            log.info("%s: version reply %s", self.name, self.firmware_reply.hex(" "))
        else:
            log.info("%s: no reply to the version query (replies are not required)", self.name)

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        rpm = self.rpm_for(state)
        frame = speed_frame(rpm)
        async with self._lock:
            await self._write(frame, response=True)
        self.rpm_sent = rpm
        self.last_state = state if rpm else DEVICE_STOPPED

    def _status(self) -> Status:
        running = self.rpm_sent > 0
        return Status(
            running=running,
            state=self.last_state if running else DEVICE_STOPPED,
            extra={
                "confirmed": False,
                "rpm": self.rpm_sent,
                "note": "from what was sent: the gun does not report its speed",
            },
        )

    async def read_status(self, timeout: float = 2.0) -> Status:
        """What was last sent (the gun reports nothing we can decode)."""
        self._require_connected()
        return self._status()

    async def stop(self, timeout: float = 2.0) -> Status:
        """Send 0 rpm with response. Not confirmable beyond the radio's acknowledgement:
        the Status is built from what was sent, ``extra["confirmed"]`` is False."""
        if self._stop_frame is None:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        self._refuse_stop_if_lost()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    await self.transport.write(self._stop_frame, endpoint="tx", response=True)
        except TimeoutError:
            raise StopNotConfirmed(
                f"{self.name}: the stop was not acknowledged within {timeout:g} s"
            ) from None
        except DeviceError as exc:
            raise StopNotConfirmed(
                f"{self.name}: the stop could not be sent: {exc}; {self.link_loss_note}"
            ) from exc
        self.rpm_sent = 0
        self.last_state = DEVICE_STOPPED
        return self._status()

    async def disconnect(self) -> None:
        self._connected = False
        await self._close_quietly(self.write_timeout_s)
