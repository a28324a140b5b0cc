"""Signals: every way the process can be told to end or to pause stops the device first.

One guard per process, installed by the entry point before anything else is imported
(:func:`install`), handles every signal a person or a system may send:

* **ending signals** - SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal closed, an SSH
  session dropped), SIGQUIT (Ctrl-\\), SIGUSR1/2 and every other catchable signal whose
  default is to end the process: while a device is driven (:meth:`SignalGuard.routing`)
  the first one cancels the session, whose ``finally`` stops the device and waits for
  its confirmation; then the command exits ``128 + n``. Outside of that (start-up,
  after the session), nothing is running: the command ends at once with the same
  one-line message and exit code.
* **pausing signals** - SIGTSTP (Ctrl-Z), SIGTTIN, SIGTTOU: while a device is driven the
  session ends and the device is stopped (confirmed) before the process suspends; after
  ``fg`` the command says that the session ended and exits ``128 + n``. Outside of a
  session the process simply suspends.
* **a second signal** never cuts the stop short and never changes the exit code: only
  the first one counts.

SIGKILL and SIGSTOP cannot be caught: only the device's own protection (a deadman, a
chair timer) acts then (docs/safety.md).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import asyncio

#: Signals that cannot be caught, raised by faults in the process itself (a handler
#: would only run the faulting instruction again) or used by debuggers, ignored by
#: default, or left to Python (SIGPIPE: a closed pipe is an error where it is written).
_NOT_HANDLED = frozenset(
    getattr(signal, name)
    for name in (
        "SIGKILL",
        "SIGSTOP",
        "SIGSEGV",
        "SIGBUS",
        "SIGFPE",
        "SIGILL",
        "SIGTRAP",
        "SIGSYS",
        "SIGCHLD",
        "SIGCONT",
        "SIGURG",
        "SIGWINCH",
        "SIGPIPE",
    )
    if hasattr(signal, name)
)

#: Job-control signals that suspend the process by default.
PAUSING: frozenset[int] = frozenset(
    getattr(signal, name) for name in ("SIGTSTP", "SIGTTIN", "SIGTTOU") if hasattr(signal, name)
)


def ending_signals() -> tuple[int, ...]:
    """Every catchable signal whose default action ends the process, lowest first."""
    valid = signal.valid_signals() if hasattr(signal, "valid_signals") else set()
    return tuple(sorted(int(s) for s in valid if int(s) not in _NOT_HANDLED and int(s) not in PAUSING))


def exit_code(signum: int) -> int:
    """The exit code of a command ended by ``signum``: 128 + n, as a shell reports it."""
    return 128 + signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        rtmin = getattr(signal, "SIGRTMIN", None)
        if rtmin is not None and signum > rtmin:
            return f"SIGRTMIN+{signum - rtmin}"
        return f"signal {signum}"


_WHAT: dict[str, str] = {
    "SIGINT": "interrupted",
    "SIGTERM": "terminated",
    "SIGHUP": "the terminal closed",
    "SIGQUIT": "quit",
    "SIGTSTP": "suspended",
    "SIGTTIN": "suspended",
    "SIGTTOU": "suspended",
}


def describe(signum: int) -> str:
    """``"interrupted (SIGINT)"``, ``"received SIGUSR1"``."""
    name = signal_name(signum)
    what = _WHAT.get(name)
    return f"{what} ({name})" if what else f"received {name}"


class Signalled(BaseException):
    """An ending signal arrived while no device was driven: end the command now.

    A BaseException, so that no ``except Exception`` takes it for an error; the entry
    point turns it into its message and exit code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)


def _echo(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed (the terminal is gone): nothing to tell
        pass


class SignalGuard:
    """The process's signal handlers and what the first signal was."""

    def __init__(self) -> None:
        #: The first signal that ended (or paused) a driven session, or ended the command.
        self.received: int | None = None
        #: A device was driven under this guard (its messages say the device was stopped).
        self.drove = False
        self._route: tuple[asyncio.AbstractEventLoop, Callable[[], Any], bool] | None = None
        self._previous: dict[int, Any] = {}
        self.installed = False

    # -- installing -------------------------------------------------------------

    def install(self) -> None:
        """Handle every ending and pausing signal (main thread only; else a no-op)."""
        for signum in (*ending_signals(), *sorted(PAUSING)):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except (ValueError, OSError, RuntimeError):  # not the main thread, or not catchable here
                continue
        self.installed = bool(self._previous)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError, RuntimeError, TypeError):
                pass
        self._previous.clear()
        self.installed = False

    # -- while a device is driven ----------------------------------------------------

    @contextmanager
    def routing(self, stop: Callable[[], Any], *, pause_ends: bool = True) -> Iterator[None]:
        """While inside, the first ending (or, with ``pause_ends``, pausing) signal calls
        ``stop`` on the running loop (cancel the task that drives the device) instead of
        ending the process; the caller then finishes with :meth:`finish`."""
        import asyncio

        loop = asyncio.get_running_loop()
        self.drove = True
        self._route = (loop, stop, pause_ends)
        wake = _Wakeup(loop)
        try:
            yield
        finally:
            self._route = None
            wake.close()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        route = self._route
        if signum in PAUSING and (route is None or not route[2]):
            if self.received is None:
                suspend(signum)
            return
        if self.received is not None:
            return  # a second signal: the first one's stop goes on, its exit code stays
        self.received = signum
        if route is not None:
            loop, stop, _ = route
            try:
                loop.call_soon_threadsafe(stop)
            except RuntimeError:  # the loop has just closed: the session is over
                pass
            return
        if signum in PAUSING:  # (not reached: handled above)
            return
        raise Signalled(signum)

    # -- after the session --------------------------------------------------------------

    def finish(self, *, controlling: bool = True) -> NoReturn:
        """The session ended because of :attr:`received`: say so, suspend for a pausing
        signal (the device is already stopped, or was only looked at), and exit 128 + n."""
        signum = self.received
        assert signum is not None
        if not controlling:  # a command that only looked: it left the device as it was
            _echo(f"massager-ctl: {describe(signum)}; the device was left as it was")
            if signum in PAUSING:
                suspend(signum)
        elif signum in PAUSING:
            _echo(f"massager-ctl: {describe(signum)}; the device was stopped first")
            suspend(signum)
            _echo("massager-ctl: resumed; the session ended when it was suspended (start it again to go on)")
        else:
            _echo(f"massager-ctl: {describe(signum)}; the device was told to stop")
        raise SystemExit(exit_code(signum))


class _Wakeup:
    """Wakes the loop when a signal arrives, whichever thread the kernel gave it to.

    Python runs signal handlers in the main thread, between two bytecodes. A signal the
    kernel delivers to another thread (a serial port's reader) leaves the main thread
    asleep in ``select()`` until its next timer; a byte on this socket pair (the
    interpreter's wakeup fd) ends that sleep at once, and the handler runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import socket

        self._loop = loop
        self._previous: int | None = None
        self._socks: tuple[socket.socket, socket.socket] | None = None
        try:
            receive, send = socket.socketpair()
            receive.setblocking(False)
            send.setblocking(False)
            self._previous = signal.set_wakeup_fd(send.fileno(), warn_on_full_buffer=False)
            self._socks = (receive, send)
            loop.add_reader(receive.fileno(), self._drain)
        except (ValueError, OSError, RuntimeError, NotImplementedError):  # not the main thread...
            self.close()

    def _drain(self) -> None:
        if self._socks is None:
            return
        try:
            while self._socks[0].recv(4096):
                pass
        except OSError:  # drained (BlockingIOError) or closed
            pass

    def close(self) -> None:
        socks, self._socks = self._socks, None
        if socks is None:
            return
        try:
            signal.set_wakeup_fd(self._previous if self._previous is not None else -1)
        except (ValueError, OSError):
            pass
        try:
            self._loop.remove_reader(socks[0].fileno())
        except (ValueError, OSError, RuntimeError):
            pass
        for sock in socks:
            sock.close()


def suspend(signum: int) -> None:
    """Suspend this process as ``signum`` would by default; return once continued."""
    try:
        previous = signal.signal(signum, signal.SIG_DFL)
    except (ValueError, OSError):
        return
    try:
        os.kill(os.getpid(), signum)
    finally:
        try:
            signal.signal(signum, previous)
        except (ValueError, OSError, TypeError):
            pass


def block_all() -> None:
    """Hold back every handled signal from now on (the process is about to exit)."""
    if hasattr(signal, "pthread_sigmask"):
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {*ending_signals(), *PAUSING})
        except (ValueError, OSError):
            pass


_GUARD: SignalGuard | None = None


def install() -> SignalGuard:
    """Install the process's guard (the entry point calls this first)."""
    global _GUARD
    if _GUARD is None or not _GUARD.installed:
        _GUARD = SignalGuard()
        _GUARD.install()
    return _GUARD


def uninstall() -> None:
    """Put back the handlers the process had before :func:`install`."""
    global _GUARD
    if _GUARD is not None:
        _GUARD.uninstall()
        _GUARD = None


@contextmanager
def guard() -> Iterator[SignalGuard]:
    """The installed guard; or, when none is (a test runner, a script calling the CLI),
    one installed for as long as this lasts, the previous handlers restored after."""
    if _GUARD is not None and _GUARD.installed:
        yield _GUARD
        return
    temporary = SignalGuard()
    temporary.install()
    try:
        yield temporary
    finally:
        temporary.uninstall()


def end_quietly(exc: Signalled) -> int:
    """The entry point's answer to :class:`Signalled`: one line, and the exit code."""
    drove = _GUARD is not None and _GUARD.drove
    tail = "; the device was told to stop" if drove else ""
    _echo(f"massager-ctl: {describe(exc.signum)}{tail}")
    return exc.exit_code
