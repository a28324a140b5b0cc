"""Serial lines (USB CDC, USB-UART adapters, a chair's internal UART) on pyserial.

:class:`SerialSettings` is the whole line setup of a model (baud rate, data
bits, parity, stop bits including 1.5, flow control), kept in its
``ModelDefinition.serial``. :class:`SerialTransport` opens one port with them.

How the port is kept from blocking the loop. **On a selector event loop**
(every POSIX loop, and the project's VirtualClock/ScaledClock loops) the
port's file descriptor is registered with ``loop.add_reader``: when it is
readable, what is there is read at once, without blocking (``os.read`` on the
descriptor pyserial opened non-blocking), and delivered on the loop. No
thread wakes up while the line is quiet. A write is tried on the loop the
same way (one non-blocking ``os.write``): a short frame the driver's buffer
takes at once costs no thread hand-over; whatever it does not take, and every
write queued behind a write still in progress, goes to a one-thread executor
owned by the transport (pyserial's blocking write with its write timeout), so
bytes keep their order and a stuck port never blocks the loop or the loop's
default executor. Opens and closes run on that executor too.

**Where ``add_reader`` does not exist** (Windows' proactor loop) or the handle
has no file descriptor, a **reader thread** blocks in ``Serial.read`` (with a
short timeout, so it always notices a close) and hands bytes to the loop with
``call_soon_threadsafe``; every write goes to the executor.

We chose this over pyserial-asyncio(-fast), which also registers the
descriptor with the loop but has no thread fallback, hides read errors inside
the protocol machinery, and would be one more dependency. Here every failure
of the port, whichever path reads it, becomes one ``disconnected`` event.

Every operation has a timeout: open (``open_timeout_s``), write
(``write_timeout_s``, enforced by pyserial and again by the loop; the
non-blocking write on the loop cannot wait), read (never blocks on the loop;
the reader thread's poll period on the fallback; drivers bound their own
waits for replies) and close.

A port that vanishes (USB unplugged, EIO, "readiness to read but no data")
is reported once through :meth:`Transport._lost_link`; the handle is closed.
:meth:`SerialTransport.open` may then be called again: it opens a fresh
handle on the same path (``--reconnect``), and :meth:`SerialTransport.reopen`
keeps trying until the port is back or a deadline passes.

Endpoint names are ignored: a serial line has one direction each way.

pyserial is imported lazily, and :class:`SerialSettings` lives in :mod:`.serial_settings`
(re-exported here), so model definitions can name it without pyserial installed and
without loading asyncio or threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NoReturn

from ..core.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from .base import Transport

# The settings are plain data in .serial_settings (models import them without asyncio).
from .serial_settings import BYTESIZES as BYTESIZES
from .serial_settings import MAX_BAUDRATE as MAX_BAUDRATE
from .serial_settings import NATIVE_SERIAL as NATIVE_SERIAL
from .serial_settings import PARITIES as PARITIES
from .serial_settings import STOPBITS as STOPBITS
from .serial_settings import SerialSettings as SerialSettings

if TYPE_CHECKING:  # pyserial is imported lazily (see above)
    from serial import Serial

log = logging.getLogger(__name__)


#: The most read at once when the loop reports the port readable (more stays for the next turn).
READ_CHUNK = 4096
#: pyserial's words for a port that is readable but has nothing (EOF): kept so a loss
#: reads the same whichever path noticed it.
_NO_DATA = (
    "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"
)


def explain_open_error(port: str, exc: BaseException) -> str:
    """One line saying why ``port`` did not open and what to do about it."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return f"serial port {port} is busy: another program has it open (close it and retry)"
    if code == errno.ENOENT or "No such file" in text:
        return (
            f"serial port {port} does not exist (unplugged? `massager-ctl scan` lists the "
            "serial ports there are)"
        )
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return (
            f"no permission to open serial port {port} (on Linux, add your user to the "
            "'dialout' group and log in again)"
        )
    if (
        code in (errno.ENOTTY, errno.EISDIR)
        or "Inappropriate ioctl" in text
        or ("Could not configure port" in text)
    ):
        return f"{port} is not a serial device"
    return f"could not open serial port {port}: {text}"


def _describe_loss(port: str, exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "readiness to read but returned no data" in text:
        text = "it reports data ready but has none; unplugged or powered off?"
    return f"serial port {port} went away: {text}"


class SerialTransport(Transport):
    """One serial port, opened exclusively with a model's full line settings."""

    def __init__(
        self,
        port: str,
        settings: SerialSettings = NATIVE_SERIAL,
        *,
        open_timeout_s: float = 3.0,
        write_timeout_s: float = 1.0,
        read_poll_s: float = 0.05,
        close_timeout_s: float = 2.0,
        exclusive: bool = True,
    ) -> None:
        super().__init__()
        for what, value in (
            ("open_timeout_s", open_timeout_s),
            ("write_timeout_s", write_timeout_s),
            ("read_poll_s", read_poll_s),
            ("close_timeout_s", close_timeout_s),
        ):
            if not value > 0:
                raise ValueError(f"{what} must be above 0, not {value!r}")
        self.port = port
        self.settings = settings
        self.open_timeout_s = open_timeout_s
        self.write_timeout_s = write_timeout_s
        self.read_poll_s = read_poll_s  # the reader thread's poll period (fallback only)
        self.close_timeout_s = close_timeout_s
        self.exclusive = exclusive
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.opens = 0  # how many times a handle was opened (reopen after loss counts)
        self._serial: Serial | None = None  # while open
        self._executor: ThreadPoolExecutor | None = None
        self._reader: threading.Thread | None = None  # the fallback's reader thread
        self._stop_reading: threading.Event | None = None
        self._fd: int | None = None  # the descriptor registered with loop.add_reader
        self._last_write: Future[Any] | None = None  # the newest write handed to the executor
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    # ------------------------------------------------------------------ state

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    @property
    def handle(self) -> Serial | None:
        """The open ``serial.Serial`` (for diagnostics and tests), or None."""
        return self._serial

    @property
    def reading_on_loop(self) -> bool:
        """True while the port is read through ``loop.add_reader`` (no reader thread)."""
        return self._fd is not None

    def __repr__(self) -> str:
        state = "open" if self.is_open else "lost" if self.lost else "closed"
        return f"<SerialTransport {self.port} {self.settings.describe()} {state}>"

    # ------------------------------------------------------------------ open

    async def open(self) -> None:
        """Open the port (again after a loss: a fresh handle on the same path)."""
        if self.is_open:
            return
        import serial  # noqa: F401 - fail here, clearly, if pyserial is missing

        loop = asyncio.get_running_loop()
        self._loop = loop
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"serial {self.port}")
        future = loop.run_in_executor(self._executor, self._open_blocking)
        try:
            handle = await asyncio.wait_for(asyncio.shield(future), self.open_timeout_s)
        except TimeoutError:
            future.add_done_callback(_close_late_handle)
            raise DeviceTimeout(
                f"serial port {self.port} did not open within {self.open_timeout_s:g} s"
            ) from None
        except DeviceError:
            raise
        except Exception as exc:  # serial.SerialException, OSError, ValueError
            raise DeviceError(explain_open_error(self.port, exc)) from exc
        self._serial = handle
        self._closing = False
        self._last_write = None
        self.opens += 1
        self._link_back()
        if self._read_on_loop(handle, loop):
            log.debug("opened %s (%s), read on the loop", self.port, self.settings.describe())
            return
        stop = threading.Event()
        self._stop_reading = stop
        self._reader = threading.Thread(
            target=self._read_loop,
            args=(handle, stop, loop),
            name=f"serial reader {self.port}",
            daemon=True,
        )
        self._reader.start()
        log.debug("opened %s (%s), read by a thread", self.port, self.settings.describe())

    def _open_blocking(self) -> Serial:
        import serial

        handle = serial.Serial()  # not open yet: configure everything first
        handle.port = self.port
        for name, value in self.settings.pyserial_kwargs().items():
            setattr(handle, name, value)
        handle.timeout = self.read_poll_s
        handle.write_timeout = self.write_timeout_s
        if self.exclusive:
            handle.exclusive = True
        handle.open()
        return handle

    async def reopen(self, within_s: float = 10.0, *, retry_every_s: float = 0.5) -> None:
        """Open again after a loss, retrying until the port is back or ``within_s`` passed.

        A USB adapter that is unplugged and plugged back usually returns under
        the same /dev/serial/by-id/ name; /dev/ttyUSBn may change number.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            try:
                await self.open()
                return
            except DeviceError as exc:
                left = deadline - loop.time()
                if left <= 0:
                    raise DeviceDisconnected(f"{exc}; gave up reopening after {within_s:g} s") from None
                await asyncio.sleep(min(retry_every_s, left))

    # ------------------------------------------------------------------ reading on the loop

    def _read_on_loop(self, handle: Serial, loop: asyncio.AbstractEventLoop) -> bool:
        """Register the port with the loop; False where that cannot be done (use a thread)."""
        fd = _descriptor_of(handle)
        if fd is None:
            return False
        try:
            os.set_blocking(fd, False)  # pyserial opens it so; make sure, reads must not wait
            loop.add_reader(fd, self._readable, handle, fd)
        except NotImplementedError:  # Windows' proactor loop
            return False
        except (OSError, ValueError) as exc:  # a descriptor the selector refuses
            log.debug("cannot read %s on the loop (%s); using a thread", self.port, exc)
            return False
        self._fd = fd
        return True

    def _readable(self, handle: Serial, fd: int) -> None:
        """The loop says the port is readable: take what is there, without waiting."""
        if handle is not self._serial:
            return  # from a handle dropped since (its reader is removed; belt and braces)
        try:
            data = os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return  # spurious wake-up: nothing there after all
        except OSError as exc:  # EIO when a USB adapter is pulled, and the like
            self._read_failed(handle, _serial_error(f"read failed: {exc}"))
            return
        if not data:  # EOF: readable with nothing to read is a port that went away
            self._read_failed(handle, _serial_error(_NO_DATA))
            return
        self.rx_bytes += len(data)
        self._deliver(data)

    def _stop_reading_on_loop(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None or self._loop is None:
            return
        try:
            self._loop.remove_reader(fd)  # before the descriptor is closed (or reused)
        except (ValueError, OSError, RuntimeError):  # loop closed, selector gone
            pass

    # ------------------------------------------------------------------ reading in a thread

    def _read_loop(self, handle: Serial, stop: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        """The reader thread: block in read (bounded by the poll timeout), hand bytes over."""
        while not stop.is_set():
            try:
                data = handle.read(1)
                if data:
                    waiting = handle.in_waiting
                    if waiting:
                        data += handle.read(waiting)
            except Exception as exc:  # noqa: BLE001 - any failure of the port is a loss
                if stop.is_set():
                    return
                try:
                    loop.call_soon_threadsafe(self._read_failed, handle, exc)
                except RuntimeError:  # the loop is closed: nobody to tell
                    pass
                return
            if data and not stop.is_set():
                try:
                    loop.call_soon_threadsafe(self._received, handle, data)
                except RuntimeError:
                    return

    def _received(self, handle: Serial, data: bytes) -> None:
        if handle is not self._serial:
            return  # from a handle closed since
        self.rx_bytes += len(data)
        self._deliver(data)

    # ------------------------------------------------------------------ loss

    def _read_failed(self, handle: Serial, exc: BaseException) -> None:
        if handle is not self._serial or self._closing:
            return
        reason = _describe_loss(self.port, exc)
        log.info("%s", reason)
        self._drop_handle()
        self._lost_link(reason)

    def _drop_handle(self) -> None:
        """Forget the handle now; close it off the loop (it is already broken)."""
        self._stop_reading_on_loop()
        handle, self._serial = self._serial, None
        stop, self._stop_reading = self._stop_reading, None
        if stop is not None:
            stop.set()
        if handle is not None and self._executor is not None and self._loop is not None:
            self._loop.run_in_executor(self._executor, _close_quietly, handle)

    # ------------------------------------------------------------------ writing

    async def write(self, data: bytes, *, endpoint: str = "tx", response: bool = False) -> None:
        handle = self._serial
        if handle is None:
            if self.lost:
                raise DeviceDisconnected(f"serial port {self.port} is gone")
            raise DeviceError(f"serial port {self.port} is not open")
        data = bytes(data)
        rest = data
        last = self._last_write
        if self._fd is not None and (last is None or last.done()):
            # Nothing of an earlier write still on its way: try the descriptor now.
            try:
                written = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                written = 0  # the driver's buffer is full: the executor waits for room
            except OSError as exc:
                self._write_failed(handle, _serial_error(f"write failed: {exc}"))
            if written == len(data):
                self.tx_bytes += len(data)
                return
            rest = data[written:]
        assert self._executor is not None
        concurrent = self._executor.submit(handle.write, rest)
        self._last_write = concurrent
        future = asyncio.wrap_future(concurrent)
        try:
            # pyserial enforces write_timeout; the loop-side bound catches a wedged driver.
            await asyncio.wait_for(future, self.write_timeout_s + 0.5)
        except TimeoutError:
            raise DeviceTimeout(
                f"writing to serial port {self.port} took over {self.write_timeout_s:g} s "
                "(the device is not taking data: flow control held or the line stuck)"
            ) from None
        except Exception as exc:
            import serial

            if isinstance(exc, serial.SerialTimeoutException):
                raise DeviceTimeout(
                    f"writing to serial port {self.port} timed out after "
                    f"{self.write_timeout_s:g} s (the device is not taking data: flow "
                    "control held or the line stuck)"
                ) from None
            self._write_failed(handle, exc)
        self.tx_bytes += len(data)

    def _write_failed(self, handle: Serial, exc: BaseException) -> NoReturn:
        if handle is self._serial and not self._closing:
            reason = _describe_loss(self.port, exc)
            self._drop_handle()
            self._lost_link(reason)
        raise DeviceDisconnected(_describe_loss(self.port, exc)) from exc

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close the port (a deliberate close is not a disconnect)."""
        self._closing = True
        self._stop_reading_on_loop()
        handle, self._serial = self._serial, None
        stop, self._stop_reading = self._stop_reading, None
        reader, self._reader = self._reader, None
        executor, self._executor = self._executor, None
        self._last_write = None
        if stop is not None:
            stop.set()
        if handle is not None:
            loop = asyncio.get_running_loop()

            def shut() -> None:
                if reader is not None:
                    try:
                        handle.cancel_read()  # wakes the reader thread at once (POSIX, Windows)
                    except Exception:  # noqa: BLE001 - a broken handle is closed anyway
                        pass
                    reader.join(self.read_poll_s * 4 + 0.5)
                _close_quietly(handle)

            future = loop.run_in_executor(executor, shut)
            try:
                await asyncio.wait_for(asyncio.shield(future), self.close_timeout_s)
            except TimeoutError:
                log.warning("closing %s took over %g s", self.port, self.close_timeout_s)
        if executor is not None:
            executor.shutdown(wait=False)


def _descriptor_of(handle: object) -> int | None:
    """The port's file descriptor, or None where it has none (Windows) or hides it."""
    fileno = getattr(handle, "fileno", None)
    if fileno is None:
        return None
    try:
        fd = fileno()
    except Exception:  # noqa: BLE001 - io.UnsupportedOperation, a closed port...
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


def _serial_error(text: str) -> Exception:
    """pyserial's exception with pyserial's words, for failures seen on the loop's path."""
    import serial

    return serial.SerialException(text)


def _close_quietly(handle: Serial) -> None:
    try:
        handle.close()
    except Exception as exc:  # noqa: BLE001 - closing a vanished port may fail; it is gone
        log.debug("closing a serial handle failed: %s", exc)


def _close_late_handle(future: asyncio.Future[Serial]) -> None:
    """An open that finished after its timeout: close what it opened."""
    if not future.cancelled() and future.exception() is None:
        _close_quietly(future.result())
