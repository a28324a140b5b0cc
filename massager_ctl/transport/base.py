"""Transports move bytes between a driver and a device. Nothing else.

A transport knows nothing of frames or states. Drivers give it bytes to write
(to a named endpoint, for BLE characteristics; serial has one) and receive
bytes through a callback. Losing the link is reported once through
``on_disconnect``.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

Receiver = Callable[[bytes], None]
DisconnectHandler = Callable[[str], None]

#: Every frame, both ways, in hex with the loop's time (``massager-ctl -vv``).
frames_log = logging.getLogger("massager_ctl.frames")


def _loop_time() -> str:
    import asyncio

    try:
        return f"{asyncio.get_running_loop().time():.3f}"
    except RuntimeError:
        return "-"


def log_frame(transport: Transport, direction: str, data: bytes, endpoint: str | None = None) -> None:
    """Log one frame in hex (debug level: ``-vv``), with the loop's time."""
    where = f" [{endpoint}]" if endpoint and endpoint != "tx" else ""
    frames_log.debug(
        "t=%s %s %s%s %s", _loop_time(), type(transport).__name__, direction, where, bytes(data).hex(" ")
    )


def _logged_write(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    async def logged(self: Transport, data: bytes, *args: Any, **kwargs: Any) -> None:
        if self.host_side and frames_log.isEnabledFor(logging.DEBUG):
            log_frame(self, "tx", data, kwargs.get("endpoint"))
        self._in_logged_write = True  # a write that calls write_nowait is logged once
        try:
            await write(self, data, *args, **kwargs)
        finally:
            self._in_logged_write = False

    return logged


def _logged_write_nowait(write_nowait: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(write_nowait)
    def logged(self: Transport, data: bytes, *args: Any, **kwargs: Any) -> bool:
        done = write_nowait(self, data, *args, **kwargs)
        if done and self.host_side and not self._in_logged_write and frames_log.isEnabledFor(logging.DEBUG):
            log_frame(self, "tx", data, kwargs.get("endpoint"))
        return done

    return logged


class Transport(ABC):
    #: False for a simulator's end of a link: only the host's frames are logged.
    host_side: bool = True
    _in_logged_write: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every transport's writes are logged at ``-vv`` (as its reads, in :meth:`_deliver`),
        whichever transport it is: its own ``write`` and ``write_nowait`` are wrapped here."""
        super().__init_subclass__(**kwargs)
        if "write" in cls.__dict__:
            cls.write = _logged_write(cls.__dict__["write"])  # type: ignore[method-assign]
        if "write_nowait" in cls.__dict__:
            cls.write_nowait = _logged_write_nowait(cls.__dict__["write_nowait"])  # type: ignore[method-assign]

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
            if self.host_side and frames_log.isEnabledFor(logging.DEBUG):
                log_frame(self, "rx", data)
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
