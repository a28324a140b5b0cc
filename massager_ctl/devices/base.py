"""The interface every device driver offers the control layer.

A driver = a pure codec (state in, bytes out; bytes in, status out) plus a
transport. The session never talks to a codec or a transport directly: it
asks a :class:`Device` to connect, apply a state, stop, read its status and
disconnect, and listens to its events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.capabilities import Capabilities
from ..core.status import DeviceState, Status


@dataclass
class DeviceEvents:
    """Listeners for what a device reports on its own."""

    status: list[Callable[[Status], None]] = field(default_factory=list)
    disconnect: list[Callable[[str], None]] = field(default_factory=list)
    fault: list[Callable[[str], None]] = field(default_factory=list)
    #: Called (no argument) when the device acknowledges a stop before confirming it: it
    #: has switched its outputs off (the native protocol's ACK); its status follows.
    stop_acknowledged: list[Callable[[], None]] = field(default_factory=list)

    def emit_status(self, status: Status) -> None:
        for cb in list(self.status):
            cb(status)

    def emit_disconnect(self, reason: str) -> None:
        for cb in list(self.disconnect):
            cb(reason)

    def emit_fault(self, message: str) -> None:
        for cb in list(self.fault):
            cb(message)

    def emit_stop_acknowledged(self) -> None:
        for cb in list(self.stop_acknowledged):
            cb()


class Device(ABC):
    """One connected massage device, as the control layer sees it."""

    #: Minimum time between two writes; the writer task enforces it.
    min_write_gap_s: float = 0.0
    #: If set, the writer calls :meth:`keepalive` when nothing was written for this long.
    keepalive_s: float | None = None
    #: What a person should know when the link drops mid-session (said in the error).
    link_loss_note: str = "its state is unknown: check the device"
    #: True if the device's STATUS reliably shows it stopped by itself (its own stop
    #: button or timer, its deadman): the session then ends instead of starting it again.
    #: Such a device keeps :attr:`acknowledged`.
    reports_own_stop: bool = False
    #: False while this host has sent the device nothing since connect that changes what
    #: it does: closing then leaves it alone (a command that only looks presses nothing:
    #: on a key-press chair a "stop" is the power key). True if the driver cannot tell.
    commanded: bool = True

    def __init__(self) -> None:
        self.events = DeviceEvents()
        #: The state the device last acknowledged, updated in the order of the device's
        #: own frames: a STATUS event sees the state acknowledged before it was sent,
        #: even while a newer write is still on its way. None while unknown (not
        #: connected yet, link lost).
        self.acknowledged: DeviceState | None = None
        #: True while the driver is still making a state it was given (a key-press chair's
        #: closed loop): the status shows the way there, so it is held to the caps only
        #: (session/verify.py), not to what was sent.
        self.making = False

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @property
    @abstractmethod
    def model(self) -> str: ...

    @abstractmethod
    async def connect(self) -> None:
        """Open the link, identify the device, prepare its stop command (to control it)."""

    async def observe(self) -> None:
        """Open the link to look only: afterwards :meth:`read_status` works, and nothing
        sent changes what the device does (no command, no stop, no session that arms a
        deadman). :meth:`apply`, :meth:`stop` and :meth:`keepalive` are not to be called.

        The default is :meth:`connect`, for drivers whose connect changes nothing on the
        device; a driver whose connect writes something that does overrides this."""
        await self.connect()

    async def open_and_stop(self, timeout: float = 2.0) -> Status:
        """Open the link and stop the device, the stop's bytes on the line before anything
        waits on what the device says; identification and confirmation come after and
        never hold the stop back. Returns what :meth:`stop` returns; raises
        StopNotConfirmed as it does.

        The default connects first, for devices whose stop cannot be sent blind (a
        toggle key would start a device that is off); every other driver overrides it."""
        await self.connect()
        return await self.stop(timeout=timeout)

    @abstractmethod
    async def apply(self, state: DeviceState) -> None:
        """Send one absolute state. Called only by the writer task."""

    @abstractmethod
    async def stop(self, timeout: float = 2.0) -> Status:
        """Stop everything (motors, heat, airbags) and return a status confirming it.

        Uses the stop prepared at connect time. Raises StopNotConfirmed if the
        device does not confirm within ``timeout``.
        """

    @abstractmethod
    async def read_status(self, timeout: float = 2.0) -> Status: ...

    def plan_session(self, seconds: float | None) -> None:  # noqa: B027 - optional hook
        """Told how long the coming session lasts, before it starts.

        Devices with a chair-side timer use it to arm a timer that ends the session
        on the chair even if the host is lost."""

    def reported_as(self, state: DeviceState) -> DeviceState:
        """How this device's own status shows ``state`` once it runs it (what a status is
        verified against: session/verify.py). The same state, unless the device renders
        it coarser: a chair whose airbags come in zone groups at one strength reports
        the whole group."""
        return state

    async def keepalive(self) -> None:  # noqa: B027 - optional hook
        """Tell the device the host is alive (for deadman-protected models)."""

    @abstractmethod
    async def disconnect(self) -> None: ...

    @property
    def connected(self) -> bool:
        return True
