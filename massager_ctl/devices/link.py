"""The link plumbing every driver shares: opening, writing and closing with timeouts, the
link-lost handler, events emitted safely, and reply waiters.

* :class:`LinkedDevice` is a mixin for :class:`~massager_ctl.devices.base.Device` subclasses
  (``class XDevice(LinkedDevice, Device)``). It needs ``self.name``, ``self.transport``,
  ``self.events``, ``self._lost_reason`` and ``self._connected``; the driver registers
  ``self._on_lost`` with ``transport.on_disconnect`` and overrides :meth:`_link_lost` for what
  its own loss handling does (fail waiters, wake events, cancel tasks).
* Drivers that can be opened to look only (``observe``) and later take control on the same
  link (``connect``) share that dance: :meth:`LinkedDevice._open_to_observe` and
  :meth:`LinkedDevice._open_to_drive`. They need ``self._open()`` (the driver's own opening:
  the transport and whatever it resets) and ``self._observing``.
* :class:`ReplyWaiters` holds the futures of callers waiting for a reply: resolve the first
  or all of them, fail them all when the link goes, or wait for one with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from ..core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed

if TYPE_CHECKING:
    from ..transport.base import Receiver, Transport
    from .base import DeviceEvents


def _log(device: object) -> logging.Logger:
    """The driver module's own logger (log records keep the driver's name)."""
    return logging.getLogger(type(device).__module__)


class LinkedDevice:
    # What the mixin needs of the driver (and its Device base); see the module's docstring.
    name: str
    transport: Transport
    events: DeviceEvents
    link_loss_note: str
    _on_bytes: Receiver
    _lost_reason: str | None
    _connected: bool
    # ... and what _open_to_observe and _open_to_drive need of it
    _open: Callable[[], Coroutine[Any, Any, None]]
    _observing: bool

    def _attach_link(self, transport: Transport) -> None:
        """Start out not connected, and take the transport's bytes and its link loss.

        Call it last in ``__init__`` (after what ``_on_bytes`` uses exists)."""
        self._connected = False
        self._lost_reason = None
        transport.set_receiver(self._on_bytes)
        transport.on_disconnect(self._on_lost)

    # -- the link's state ----------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.name

    @property
    def connected(self) -> bool:
        return self._connected and self._lost_reason is None

    def _check_link(self) -> None:
        if self._lost_reason is not None:
            raise DeviceDisconnected(f"{self.name}: link lost ({self._lost_reason})")

    def _refuse_stop_if_lost(self) -> None:
        """A stop cannot go out over a lost link: StopNotConfirmed, with what to do instead."""
        if self._lost_reason is not None:
            raise StopNotConfirmed(
                f"{self.name}: cannot send the stop: link lost ({self._lost_reason}); {self.link_loss_note}"
            )

    def _require_connected(self) -> None:
        self._check_link()
        if not self._connected:
            raise DeviceError(f"{self.name}: not connected")

    # -- events --------------------------------------------------------------------------

    def _emit(self, emit: Callable[[Any], None], arg: Any) -> None:
        try:
            emit(arg)
        except Exception:  # a listener's bug must not break the receive path
            _log(self).exception("device event listener failed")

    def _on_lost(self, reason: str) -> None:
        """The transport's disconnect handler: note the loss once, react, tell listeners."""
        if self._lost_reason is not None:
            return
        self._lost_reason = reason or "link lost"
        self._connected = False
        self._link_lost(reason)
        self._emit(self.events.emit_disconnect, self._lost_reason)

    def _link_lost(self, reason: str) -> None:
        """The driver's own reaction to a lost link (``reason`` as the transport gave it)."""

    # -- I/O with timeouts ---------------------------------------------------------------

    async def _open_link(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.transport.open(), timeout)
        except TimeoutError:
            raise DeviceTimeout(f"{self.name}: the link did not open within {timeout:g} s") from None

    async def _write_within(self, data: bytes, timeout: float, what: str, **options: Any) -> None:
        """``transport.write(data, **options)``; DeviceTimeout "<name>: <what> <timeout> s"."""
        try:
            await asyncio.wait_for(self.transport.write(data, **options), timeout)
        except TimeoutError:
            raise DeviceTimeout(f"{self.name}: {what} {timeout:g} s") from None

    async def _open_to_observe(self) -> bool:
        """``observe``: open the link and send nothing. False if it was open already."""
        if self.connected:
            return False
        await self._open()
        self._observing = True
        self._connected = True
        return True

    async def _open_to_drive(self, identify: Callable[[], Awaitable[None]], close_timeout: float) -> bool:
        """``connect``: open the link (or take over one opened to observe) and ``identify`` the
        device; if that fails or is cancelled, close the link and raise. False, with nothing
        done, if it was connected to drive already."""
        if self.connected and not self._observing:
            return False
        if not self.connected:
            await self._open()
        try:
            await identify()
        except BaseException:
            self._connected = False
            await self._close_quietly(close_timeout)
            raise
        self._observing = False
        self._connected = True
        return True

    async def _close_quietly(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.transport.close(), timeout)
        except (TimeoutError, DeviceError, OSError) as exc:
            _log(self).warning("%s: closing the link failed: %s", self.name, exc)


class ReplyWaiters:
    """Futures of callers waiting for a reply, in the order they began to wait."""

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[Any]] = []

    def __iter__(self) -> Iterator[asyncio.Future[Any]]:
        return iter(self._futures)

    def __len__(self) -> int:
        return len(self._futures)

    def add(self) -> asyncio.Future[Any]:
        fut = asyncio.get_running_loop().create_future()
        self._futures.append(fut)
        return fut

    def discard(self, fut: asyncio.Future[Any]) -> None:
        if fut in self._futures:
            self._futures.remove(fut)

    def resolve_first(self, value: Any) -> None:
        """Give ``value`` to the longest-waiting caller still waiting."""
        for fut in self._futures:
            if not fut.done():
                fut.set_result(value)
                break

    def resolve_all(self, value: Any) -> None:
        """Give ``value`` to every caller waiting, and forget them."""
        for fut in self._futures:
            if not fut.done():
                fut.set_result(value)
        self._futures.clear()

    def fail_all(self, error: Exception) -> None:
        """Raise ``error`` in every caller waiting (the link went), and forget them."""
        for fut in self._futures:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved by whoever awaits; no "never retrieved" noise
        self._futures.clear()

    async def wait(self, timeout: float | None) -> Any:
        """The next value given to waiters; TimeoutError after ``timeout`` seconds."""
        fut = self.add()
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.discard(fut)
