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

    def __init__(self) -> None:
        self.events = DeviceEvents()
        #: The state the device last acknowledged, updated in the order of the device's
        #: own frames: a STATUS event sees the state acknowledged before it was sent,
        #: even while a newer write is still on its way. None while unknown (not
        #: connected yet, link lost).
        self.acknowledged: DeviceState | None = None

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @property
    @abstractmethod
    def model(self) -> str: ...

    @abstractmethod
    async def connect(self) -> None:
        """Open the link, identify the device, prepare its stop command."""

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

    async def keepalive(self) -> None:  # noqa: B027 - optional hook
        """Tell the device the host is alive (for deadman-protected models)."""

    @abstractmethod
    async def disconnect(self) -> None: ...

    @property
    def connected(self) -> bool:
        return True
