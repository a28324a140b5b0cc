"""The host driver for Theragun massage guns (Pro, Elite, Prime) over BLE.

One motor, one setting: its speed in rpm. Intensity steps (100 of them) map
evenly onto the model's range (:func:`~massager_ctl.devices.theragun.codec.rpm_for_step`);
the technique and zones a profile asks for cannot be told to a gun held by
hand (see the model notes), so any running state is "spin at this rpm".
Sources: buttplugio/docs.buttplug.io ``stpihkal/protocols/theragun/index.md`` and
buttplugio/stpihkal issue 127 (see the codec).

* connect: open the link, send the version query (without response) and
  wait briefly for its reply (a 0xBB reply whose body starts ``20``): ``firmware``
  is the version read from it (``"2.1.6"``), ``firmware_reply`` its raw body. No
  reply is logged, not fatal; firmware older than the lowest the protocol page
  lists for the model is a warning, not fatal either.
* observe: open the link only; a status read sends the status request
  ``AA 10 10 00`` (a query).
* apply: the speed frame, written with response (the gun's radio acknowledges
  it).
* stop: the 0 rpm frame first, written with response; then the status request,
  asked every ``status_poll_s`` while the gun spins down, until a reply shows it
  stopped (confirmed) or the timeout. A gun that does not answer gets its stop
  all the same, reported unconfirmed; so is one whose reply still shows it
  running at the timeout (a slow link's replies come late), with a warning
  that names the speed: the reply's offsets are unsure, so it neither
  confirms nor refutes the stop, and a person should look.
* read_status: the status request; without an answer, what was sent
  (``confirmed`` False), or unknown when this process sent nothing.
"""

from __future__ import annotations

import asyncio
import logging

from ...core.capabilities import Capabilities
from ...core.errors import DeviceDisconnected, DeviceError, StopNotConfirmed
from ...core.status import DEVICE_STOPPED, DeviceState, Status
from ...core.vocabulary import Technique
from ...transport.base import Transport
from ..base import Device
from ..link import LinkedDevice, ReplyWaiters
from .codec import (
    MAX_RPM,
    MIN_FIRMWARE,
    STATUS_QUERY,
    STOP_FRAME,
    VERSION_KIND,
    VERSION_QUERY,
    GunStatus,
    Reply,
    ReplyDecoder,
    parse_status,
    parse_version,
    rpm_for_step,
    speed_frame,
    step_for_rpm,
)
from .models import GUN_SAFETY

log = logging.getLogger(__name__)

INTENSITY_STEPS = 100
#: Where the offsets of the status reply come from (said with every status read from it).
STATUS_SOURCE = "the gun's status reply (offsets from a decompiled app, unchecked on a gun)"


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
        status_poll_s: float = 0.25,
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
        self.status_poll_s = status_poll_s
        if capabilities is None:
            from .models import GUN_CAPABILITIES

            capabilities = GUN_CAPABILITIES
        self._caps = capabilities
        self.decoder = ReplyDecoder()
        self.firmware_reply: bytes | None = None  # the version reply's body
        self.firmware: str | None = None  # read from it: "2.1.6"
        self.firmware_version: tuple[int, int, int] | None = None
        self.replies: list[Reply] = []
        self.rpm_sent = 0
        self.last_state: DeviceState = DEVICE_STOPPED
        self.sent_any = False  # this process told the gun a speed (or a stop)
        self.gun_status: GunStatus | None = None  # the last status reply
        self._observing = False
        self._statuses = ReplyWaiters()
        self._version_event = asyncio.Event()
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
            if len(self.replies) < 1000:
                self.replies.append(reply)
            if reply.kind == VERSION_KIND:
                self.firmware_reply = reply.body
                self.firmware_version = parse_version(reply)  # None if too short to hold one
                if self.firmware_version is not None:
                    self.firmware = ".".join(map(str, self.firmware_version))
                self._version_event.set()
            status = parse_status(reply)
            if status is not None:
                self.gun_status = status
                self._statuses.resolve_all(status)

    def _link_lost(self, reason: str) -> None:
        self._version_event.set()
        self._statuses.fail_all(DeviceDisconnected(f"{self.name}: link lost ({reason})"))

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

    async def _ask_status(self, timeout: float) -> GunStatus | None:
        """The status request; the reply, or None if none came within ``timeout``."""
        fut = self._statuses.add()
        try:
            await self._write(STATUS_QUERY, response=True)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self._statuses.discard(fut)
            if not fut.done():
                fut.cancel()

    async def _open(self) -> None:
        self._lost_reason = None
        await self._open_link(self.open_timeout_s)

    async def connect(self) -> None:
        if await self._open_to_drive(self._identify, self.write_timeout_s):
            self._stop_frame = STOP_FRAME

    async def observe(self) -> None:
        """Open the link and send nothing; :meth:`read_status` asks the status request."""
        await self._open_to_observe()

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Open the link and send 0 rpm first; the status request only after it."""
        await self.observe()
        return await self.stop(timeout=timeout)

    async def _identify(self) -> None:
        self.firmware_reply = self.firmware = self.firmware_version = None
        self._version_event.clear()
        await self._write(VERSION_QUERY, response=False)
        try:
            await asyncio.wait_for(self._version_event.wait(), self.reply_timeout_s)
        except TimeoutError:
            pass
        self._check_link()
        if self.firmware_reply is None:
            log.info("%s: no reply to the version query (replies are not required)", self.name)
            return
        if self.firmware_version is None:
            log.info("%s: version reply %s (too short to read)", self.name, self.firmware_reply.hex(" "))
            return
        log.info("%s: firmware %s", self.name, self.firmware)
        lowest = MIN_FIRMWARE[self.name]
        if self.firmware_version < lowest:
            log.warning(
                "%s: firmware %s is older than %s, the lowest this protocol is known for: "
                "the gun may not follow it",
                self.name,
                self.firmware,
                ".".join(map(str, lowest)),
            )

    async def apply(self, state: DeviceState) -> None:
        self._require_connected()
        if self._observing:
            raise DeviceError(f"{self.name}: opened to observe only: cannot drive it")
        rpm = self.rpm_for(state)
        frame = speed_frame(rpm)
        async with self._lock:
            await self._write(frame, response=True)
        self.rpm_sent = rpm
        self.sent_any = True
        self.last_state = state if rpm else DEVICE_STOPPED

    def _status(self, **extra: object) -> Status:
        """What this host sent (not confirmed by the gun); unknown if it sent nothing."""
        if not self.sent_any:
            why = "the gun did not answer its status request, and this host told it nothing"
            return Status(running=None, extra={"confirmed": False, "why": why, **extra})
        running = self.rpm_sent > 0
        return Status(
            running=running,
            state=self.last_state if running else DEVICE_STOPPED,
            extra={
                "confirmed": False,
                "rpm": self.rpm_sent,
                "note": "as sent: the gun did not answer its status request",
                **extra,
            },
        )

    def _status_from(self, gun: GunStatus) -> Status:
        if gun.stopped:
            return Status(
                running=False, extra={"rpm": gun.rpm, "running_flag": gun.running, "source": STATUS_SOURCE}
            )
        state = self.last_state
        if state.is_stopped:  # not started by this host: what the gun says, as a step
            state = DeviceState(Technique.TAP, intensity=step_for_rpm(gun.rpm, INTENSITY_STEPS, self.max_rpm))
        return Status(
            running=True,
            state=state,
            extra={"rpm": gun.rpm, "running_flag": gun.running, "source": STATUS_SOURCE},
        )

    async def read_status(self, timeout: float = 2.0) -> Status:
        """The status request (a query); without an answer, what was sent, or unknown."""
        self._require_connected()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        gun = None
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    gun = await self._ask_status(min(self.reply_timeout_s, timeout))
        except TimeoutError:
            pass
        return self._status() if gun is None else self._status_from(gun)

    async def stop(self, timeout: float = 2.0) -> Status:
        """Send 0 rpm with response, then confirm with the status request (see the module
        docstring). Raises StopNotConfirmed if 0 rpm could not be sent."""
        if self._stop_frame is None and not self._connected:
            raise StopNotConfirmed(f"{self.name}: cannot stop: never connected")
        self._refuse_stop_if_lost()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                async with self._lock:
                    await self.transport.write(STOP_FRAME, endpoint="tx", response=True)
        except TimeoutError:
            raise StopNotConfirmed(
                f"{self.name}: the stop was not acknowledged within {timeout:g} s"
            ) from None
        except DeviceError as exc:
            raise StopNotConfirmed(
                f"{self.name}: the stop could not be sent: {exc}; {self.link_loss_note}"
            ) from exc
        self.rpm_sent = 0
        self.sent_any = True
        self.last_state = DEVICE_STOPPED
        seen: GunStatus | None = None
        while (left := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout_at(deadline):
                    async with self._lock:
                        gun = await self._ask_status(min(self.reply_timeout_s, left))
            except (TimeoutError, DeviceError):
                break  # the stop went out; confirming it is as far as the gun lets us
            if gun is None:
                break  # a gun that does not answer: tolerated
            seen = gun
            if gun.stopped:
                return self._status_from(gun)
            await asyncio.sleep(min(self.status_poll_s, max(0.0, deadline - loop.time())))
        if seen is None:
            return self._status()
        note = (
            f"0 rpm was sent and acknowledged, but the gun's last status reply still showed it "
            f"running ({seen.rpm} rpm) after {timeout:g} s; that reply is not well known: check the gun"
        )
        log.warning("%s: %s", self.name, note)
        return self._status(note=note)

    async def disconnect(self) -> None:
        self._connected = False
        self._observing = False
        await self._close_quietly(self.write_timeout_s)
