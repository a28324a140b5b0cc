"""Where the control socket lives: the user's runtime directory, the user's alone.

``$MASSAGER_CTL_RUNTIME_DIR`` if set, else ``$XDG_RUNTIME_DIR/massager-ctl``, else
``/tmp/massager-ctl-<uid>``. The folder is created mode 0700 and refused if another
user owns it or others may write to it; the socket in it is mode 0600.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..core.errors import UsageError

RUNTIME_ENV = "MASSAGER_CTL_RUNTIME_DIR"
SOCKET_NAME = "control.sock"
#: sockaddr_un's sun_path holds 108 bytes on Linux, 104 on macOS (with the NUL).
MAX_SOCKET_PATH = 103


def runtime_dir() -> Path:
    env = os.environ.get(RUNTIME_ENV, "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg:
        return Path(xdg) / "massager-ctl"
    return Path("/tmp") / f"massager-ctl-{os.getuid()}"


def control_socket_path() -> Path:
    path = runtime_dir() / SOCKET_NAME
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise UsageError(
            f"{path}: too long for a Unix socket ({MAX_SOCKET_PATH} bytes at most); "
            f"set {RUNTIME_ENV} to a shorter folder"
        )
    return path


def check_private(folder: Path) -> None:
    """Refuse a folder someone else could use to hand us their socket."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{folder}: not a folder")
    if st.st_uid != os.getuid():
        raise UsageError(f"{folder}: owned by another user; not using it for the control socket")
    if st.st_mode & 0o077:
        raise UsageError(
            f"{folder}: others may use it (mode {stat.S_IMODE(st.st_mode):o}); "
            "make it yours alone with chmod 700"
        )


def ensure_private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(folder)
