"""Session history: what ran, on which device, for whom, how it ended, how strong it got.

One SQLite file in the user's data folder (:func:`.where.history_path`), written by a
:class:`.recorder.SessionRecorder`: a row when a session starts, completed in the same
path that stops the device (so Ctrl-C and SIGTERM leave a finished row), with the states
sent, compactly. Read back with :class:`.store.HistoryStore` (``massager-ctl history``).
A history that cannot be written never stops a session: it is said in one line.
"""

from __future__ import annotations

from .recorder import SessionRecorder
from .store import HistoryError, HistoryStore, SessionRecord
from .where import history_path

__all__ = ["HistoryError", "HistoryStore", "SessionRecord", "SessionRecorder", "history_path"]
