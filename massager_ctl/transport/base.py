"""Transports move bytes between a driver and a device. Nothing else.

A transport knows nothing of frames or states. Drivers give it bytes to write
(to a named endpoint, for BLE characteristics; serial has one) and receive
bytes through a callback. Losing the link is reported once through
``on_disconnect``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

Receiver = Callable[[bytes], None]
DisconnectHandler = Callable[[str], None]


class Transport(ABC):
    def __init__(self) -> None:
        self._receiver: Receiver | None = None
        self._on_disconnect: list[DisconnectHandler] = []
        self._lost = False

    def set_receiver(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def on_disconnect(self, handler: DisconnectHandler) -> None:
        self._on_disconnect.append(handler)

    def _deliver(self, data: bytes) -> None:
        if self._receiver is not None and data:
            self._receiver(bytes(data))

    def _lost_link(self, reason: str) -> None:
        """Report the link gone, once."""
        if self._lost:
            return
        self._lost = True
        for handler in list(self._on_disconnect):
            handler(reason)

    @property
    def lost(self) -> bool:
        return self._lost

    def _link_back(self) -> None:
        """Call from open() once a lost link works again (for --reconnect)."""
        self._lost = False

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        """Write bytes. Raises DeviceDisconnected if the link is gone."""

    def write_nowait(self, data: bytes, *, endpoint: str = "tx") -> bool:
        """Write bytes without waiting, if this transport never has to wait: True if
        written, False (nothing written) if the caller must use :meth:`write`.
        Raises DeviceDisconnected if the link is gone."""
        return False

    @abstractmethod
    async def close(self) -> None: ...
