"""Keys while a session plays: read one key at a time from the terminal, on the event loop.

    space   pause / resume           n   skip to the next segment
    -       intensity cap 10 % down  +   intensity cap 10 % up (never above the configured cap)
    q, Esc  stop (the device is stopped and the stop confirmed, as at the end)

Ctrl-C is not read here: the terminal still turns it into SIGINT, which stops the device
by the same path as ever. The terminal goes to cbreak mode (keys without Enter, no echo)
only while the session plays, and is put back however the command ends.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

#: What each key does (see :class:`SessionKeys`).
KEYS: dict[str, str] = {
    " ": "pause",
    "n": "skip",
    "N": "skip",
    "-": "down",
    "_": "down",
    "+": "up",
    "=": "up",
    "q": "stop",
    "Q": "stop",
    "\x1b": "stop",  # Esc alone (an arrow key's escape sequence is not Esc)
}

#: The cap moves by this many percentage points per key press.
CAP_STEP = 10.0

KEY_HELP = "space pause · n skip · - / + cap · q stop"


def decode(data: bytes) -> list[str]:
    """The actions in one read from the terminal. An escape sequence (arrow keys, ESC [ A)
    is one unknown key, not Esc; Esc alone is stop."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\x1b") and len(text) > 1:
        return []  # a sequence: ignore it whole
    return [KEYS[ch] for ch in text if ch in KEYS]


class KeyReader:
    """Reads keys from a terminal ``fd`` on the running loop until :meth:`close`."""

    def __init__(self, on_action: Callable[[str], None], fd: int | None = None) -> None:
        self.on_action = on_action
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def available(fd: int | None = None) -> bool:
        """True if ``fd`` (stdin) is a terminal this process can read keys from."""
        try:
            fd = sys.stdin.fileno() if fd is None else fd
            return os.isatty(fd)
        except (AttributeError, ValueError, OSError):
            return False

    def start(self) -> bool:
        """Start reading keys; False (and the terminal untouched) if this terminal cannot
        be put in cbreak mode or read on the loop: the session plays without keys."""
        import termios
        import tty

        try:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)  # keeps ISIG: Ctrl-C is still SIGINT
            # NOFLSH: Ctrl-C must not throw away the panel's output half-drawn; the panel
            # finishes its drawing and says where the session stopped.
            mode = termios.tcgetattr(self.fd)
            mode[3] |= termios.NOFLSH
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
            loop = asyncio.get_running_loop()
            loop.add_reader(self.fd, self._ready)
        except (termios.error, OSError, NotImplementedError, ValueError):
            self.close()
            return False
        self._loop = loop
        return True

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        for action in decode(data):
            self.on_action(action)

    def close(self) -> None:
        if self._loop is not None:
            try:
                self._loop.remove_reader(self.fd)
            except (ValueError, OSError, RuntimeError):
                pass
            self._loop = None
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None


class SessionKeys:
    """Turns key actions into session controls, reported to ``out.control``."""

    def __init__(self, chair: Any, out: Any, step: float = CAP_STEP) -> None:
        self.chair = chair
        self.out = out
        self.step = step

    def __call__(self, action: str) -> None:
        session = self.chair.session
        if session is None:
            return
        if action == "stop":
            session.stop()
            self.out.control("stop")
        elif action == "pause":
            if session.paused:
                session.resume()
                self.out.control("resume")
            else:
                session.pause()
                self.out.control("pause")
        elif action == "skip":
            session.skip()
            self.out.control("skip")
        elif action in ("down", "up"):
            delta = -self.step if action == "down" else self.step
            cap = session.set_intensity_cap(session.intensity_cap + delta)
            self.out.control("cap", max_intensity=cap, ceiling=session.governor.intensity_ceiling)
