"""A pseudo-terminal standing in for a serial cable (POSIX only).

:class:`PtyPort` opens a pty pair. A host opens :attr:`PtyPort.path` (the
slave, e.g. ``/dev/pts/4``) exactly like a USB serial port, with
:class:`~massager_ctl.transport.serial.SerialTransport`, a terminal program
or anything else; a simulator speaks on the master side through
:class:`PtyDeviceTransport`. ``massager-ctl simulate MODEL`` is built on it,
and so are the serial tests.

The port keeps its own handle on the slave open for its whole life, so a
host may come and go (reading the master of a pty nobody holds fails with
EIO). :meth:`PtyPort.unplug` closes every handle of the pair: a host holding
the path sees its reads fail, as when a USB cable is pulled.

What a pty is not: it moves bytes as fast as the kernel copies them, whatever
the baud rate; it keeps the host's baud rate, stop bits and flow control
flags in its termios but forces 8 data bits and no parity (Linux), and it
has no modem lines (DTR/RTS/CTS) at all.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os

from ..core.errors import DeviceDisconnected
from .base import Transport

log = logging.getLogger(__name__)


class PtyPort:
    """A pty pair: the device's end (master) and a path for hosts (slave)."""

    def __init__(self) -> None:
        import tty

        self.master_fd, self._slave_fd = os.openpty()
        # Raw: no echo of the device's bytes back to it, no CR/LF translation, no line editing.
        tty.setraw(self._slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self._slave_fd)
        self.unplugged = False
        self.device = PtyDeviceTransport(self)

    def unplug(self) -> None:
        """Pull the cable: close both ends. Hosts on :attr:`path` see their reads fail."""
        if self.unplugged:
            return
        self.unplugged = True
        self.device._gone("pty unplugged")
        for fd in (self.master_fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    close = unplug

    def __enter__(self) -> PtyPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unplug()


class PtyDeviceTransport(Transport):
    """The device's side of a :class:`PtyPort`, for a simulator."""

    host_side = False  # the host's frames are logged by its own transport

    def __init__(self, port: PtyPort) -> None:
        super().__init__()
        self.port = port
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.dropped_bytes = 0  # written while the host's input queue was full (nobody reading)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False

    async def open(self) -> None:
        if self.port.unplugged:
            raise DeviceDisconnected(f"pty {self.port.path} is unplugged")
        if self._reading:
            return
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.port.master_fd, self._readable)
        self._reading = True
        self._link_back()

    def _readable(self) -> None:
        try:
            data = os.read(self.port.master_fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._gone(f"pty read failed: {os.strerror(exc.errno or errno.EIO)}")
            return
        if not data:
            self._gone("pty closed")
            return
        self.rx_bytes += len(data)
        self._deliver(data)

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            try:
                self._loop.remove_reader(self.port.master_fd)
            except (ValueError, OSError, RuntimeError):  # fd already closed, loop closed
                pass
        self._reading = False

    def _gone(self, reason: str) -> None:
        self._stop_reading()
        self._lost_link(reason)

    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        if self.port.unplugged:
            raise DeviceDisconnected(f"pty {self.port.path} is unplugged")
        view = memoryview(bytes(data))
        while view:
            try:
                n = os.write(self.port.master_fd, view)
            except BlockingIOError:
                # The host's input queue is full: nobody reads. A serial line drops them too.
                self.dropped_bytes += len(view)
                return
            except OSError as exc:
                self._gone(f"pty write failed: {os.strerror(exc.errno or errno.EIO)}")
                raise DeviceDisconnected(f"pty {self.port.path}: write failed") from exc
            self.tx_bytes += n
            view = view[n:]

    async def close(self) -> None:
        self._stop_reading()
