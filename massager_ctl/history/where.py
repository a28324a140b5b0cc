"""Where the history file lives: the user's data folder, not the config folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "massager-ctl"
#: A folder to use instead of the user's data folder (tests, several setups side by side).
DATA_ENV = "MASSAGER_CTL_DATA"
HISTORY_FILENAME = "history.sqlite3"


def data_dir() -> Path:
    """``$MASSAGER_CTL_DATA``, else the platform's per-user data folder:
    ``$XDG_DATA_HOME/massager-ctl`` (``~/.local/share/massager-ctl``) on Linux and BSD,
    ``~/Library/Application Support/massager-ctl`` on macOS, ``%LOCALAPPDATA%\\massager-ctl``
    on Windows."""
    env = os.environ.get(DATA_ENV, "")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA") or str(Path.home())
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base_dir / APP_NAME


def history_path() -> Path:
    return data_dir() / HISTORY_FILENAME
