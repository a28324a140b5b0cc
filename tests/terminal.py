"""A real pseudo-terminal for tests: run a command on it, type keys, read the screen back.

The command's stdin, stdout and stderr are the pty's slave side, as in a terminal window;
what it writes is fed to a pyte screen (a VT100 emulator), so a test reads the screen
as a person would see it, after every redraw in place.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte

REPO = Path(__file__).resolve().parents[1]


class Terminal:
    def __init__(self, args: list[str], *, env: dict[str, str], columns: int = 110, lines: int = 32) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.master = master
        full_env = {
            **os.environ,
            **env,
            "TERM": "xterm-256color",
            "COLUMNS": str(columns),
            "LINES": str(lines),
        }
        full_env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "massager_ctl", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=full_env,
            start_new_session=True,  # the pty becomes its controlling terminal: Ctrl-C is SIGINT
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)

    def pump(self, timeout: float = 0.05) -> None:
        """Read whatever the command wrote (up to ``timeout`` s of waiting)."""
        while True:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the command is gone and its output drained
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)
            timeout = 0

    def text(self) -> str:
        self.pump()
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            screen = "\n".join(line.rstrip() for line in self.screen.display)
            if needle in screen:
                return screen
            if self.proc.poll() is not None:
                self.pump(0.2)
                screen = "\n".join(line.rstrip() for line in self.screen.display)
                if needle in screen:
                    return screen
                raise AssertionError(f"exited ({self.proc.returncode}) without showing {needle!r}:\n{screen}")
        raise AssertionError(f"{needle!r} not on the screen after {timeout} s:\n{self.text()}")

    def type(self, keys: str | bytes) -> None:
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump(0.2)
        if self.proc.poll() is None:
            raise AssertionError(f"still running after {timeout} s:\n{self.text()}")
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)
