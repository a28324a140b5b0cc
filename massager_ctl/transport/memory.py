"""An in-memory byte pipe: the simulator's end and the host's end.

Bytes written by one end reach the other after an optional delay, on the
event loop (never synchronously), so ordering and timing behave like a link.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..core.errors import DeviceDisconnected
from ..core.recent import RecentLog
from .base import Transport

#: Writes kept by a recording end (the newest; ``writes.total`` counts them all).
WRITES_KEPT = 200


class MemoryLink:
    """Two connected ends. ``host`` is what a driver uses; ``device`` what a simulator uses."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.host = MemoryTransport(self, "host")
        # The device end keeps no log: nothing reads it, and at 10 Hz of STATUS it would
        # grow without end on a simulator that runs for hours. The host end's log (what a
        # driver wrote, for golden tests) keeps the newest WRITES_KEPT writes.
        self.device = MemoryTransport(self, "device", record=False)
        self.host.peer = self.device
        self.device.peer = self.host
        self.closed = False

    def restore(self) -> None:
        """Plug the cable back in: both ends work again."""
        self.closed = False
        self.host._link_back()
        self.device._link_back()

    def cut(self, reason: str = "link cut") -> None:
        """Pull the cable: both ends see a disconnect."""
        if self.closed:
            return
        self.closed = True
        self.host._lost_link(reason)
        self.device._lost_link(reason)


class MemoryTransport(Transport):
    def __init__(self, link: MemoryLink, name: str, *, record: bool = True) -> None:
        super().__init__()
        self.link = link
        self.name = name
        self.peer: MemoryTransport | None = None
        self.opened = False
        self.record = record
        self.host_side = name == "host"
        # The newest writes (if recorded), for golden tests; ``writes.total`` counts them all.
        self.writes: RecentLog[tuple[str, bytes]] = RecentLog(WRITES_KEPT)
        self._in_flight: deque[bytes] = deque()

    async def open(self) -> None:
        if self.link.closed:
            raise DeviceDisconnected(f"in-memory link is closed ({self.name} end)")
        self._link_back()
        self.opened = True

    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        self.write_nowait(data, endpoint=endpoint)

    def write_nowait(self, data: bytes, *, endpoint: str = "tx") -> bool:
        if self.link.closed:
            raise DeviceDisconnected("in-memory link is closed")
        data = bytes(data)
        if self.record:
            self.writes.append((endpoint, data))
        self._in_flight.append(data)
        loop = asyncio.get_running_loop()
        if self.link.delay_s > 0:
            loop.call_later(self.link.delay_s, self._arrive)
        else:
            loop.call_soon(self._arrive)
        return True

    def _arrive(self) -> None:
        # Every write has the same delay, so the oldest write is always the one due.
        # Popping it (rather than the write this callback was made for) keeps byte order
        # even when asyncio runs timers due at the same instant in another order.
        data = self._in_flight.popleft()
        assert self.peer is not None  # MemoryLink joins its two ends as it makes them
        if not self.link.closed:
            self.peer._deliver(data)

    async def close(self) -> None:
        self.opened = False
