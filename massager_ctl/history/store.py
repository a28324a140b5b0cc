"""The history file: one SQLite database, one row per session.

A row is inserted when a session starts (so even a killed process leaves a trace: a
row with no end) and completed, in one UPDATE, when it ends: end time and reason,
duration, peak intensity, the stop's confirmation, warnings and the states sent. The
states are stored compactly, one JSON array per session (:data:`STATE_FIELDS`), and so
is a sampled curve of the plan (:data:`PLAN_FIELDS`) for ``history plot``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import MassagerError, UsageError

SCHEMA_VERSION = 1

#: One state sent: milliseconds since the session started, then the state in the device's steps.
STATE_FIELDS = ("t_ms", "technique", "zones", "intensity", "speed", "width", "airbags", "heat")
#: One sample of the plan (after the profile's own limits): ms, intensity %, highest airbag %, heat.
PLAN_FIELDS = ("t_ms", "intensity", "airbag", "heat")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    person TEXT,
    device TEXT,
    model TEXT,
    profile_id TEXT,
    profile_name TEXT NOT NULL,
    profile_hash TEXT,
    caps TEXT NOT NULL,
    planned_ms INTEGER NOT NULL,
    intensity_steps INTEGER,
    plan TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT,
    message TEXT,
    duration_s REAL,
    played_ms INTEGER,
    peak_intensity_step INTEGER,
    peak_intensity_pct REAL,
    stop_confirmed INTEGER,
    stop_sent INTEGER,
    warnings TEXT,
    states TEXT
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started_at);
"""


class HistoryError(MassagerError):
    """The history file cannot be read or written (said in one line)."""


@dataclass
class SessionRecord:
    id: int
    kind: str  # run | set | program
    started_at: str  # ISO 8601, UTC
    person: str | None
    device: str | None
    model: str | None
    profile_id: str | None
    profile_name: str
    profile_hash: str | None
    caps: dict[str, Any]
    planned_ms: int
    intensity_steps: int | None = None
    plan: list[list[Any]] = field(default_factory=list)
    ended_at: str | None = None
    end_reason: str | None = None  # None: the session never ended (the process was killed)
    message: str = ""
    duration_s: float | None = None
    played_ms: int | None = None
    peak_intensity_step: int | None = None
    peak_intensity_pct: float | None = None
    stop_confirmed: bool | None = None
    stop_sent: bool | None = None
    warnings: list[str] = field(default_factory=list)
    states: list[list[Any]] = field(default_factory=list)

    def to_dict(self, *, states: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "person": self.person,
            "device": self.device,
            "model": self.model,
            "profile": {"id": self.profile_id, "name": self.profile_name, "hash": self.profile_hash},
            "caps": self.caps,
            "planned_ms": self.planned_ms,
            "end_reason": self.end_reason,
            "message": self.message,
            "duration_s": self.duration_s,
            "played_ms": self.played_ms,
            "peak_intensity_pct": self.peak_intensity_pct,
            "peak_intensity_step": self.peak_intensity_step,
            "intensity_steps": self.intensity_steps,
            "stop_confirmed": self.stop_confirmed,
            "stop_sent": self.stop_sent,
            "warnings": self.warnings,
            "states_sent": len(self.states),
        }
        if states:
            data["state_fields"] = list(STATE_FIELDS)
            data["states"] = self.states
            data["plan_fields"] = list(PLAN_FIELDS)
            data["plan"] = self.plan
        return data


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class HistoryStore:
    """The history database at ``path``, opened on first use."""

    def __init__(self, path: Path, *, timeout_s: float = 1.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._db: sqlite3.Connection | None = None

    def _fail(self, exc: BaseException) -> HistoryError:
        return HistoryError(f"history {self.path}: {_describe(exc)}")

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            except (OSError, sqlite3.Error) as exc:
                raise self._fail(exc) from exc
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise HistoryError(
                        f"history {self.path}: written by a newer massager-ctl (schema {version})"
                    )
                if version < SCHEMA_VERSION:
                    db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
            except sqlite3.Error as exc:
                db.close()
                raise self._fail(exc) from exc
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _execute(self, sql: str, args: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    # -- writing -------------------------------------------------------------------

    def begin(
        self,
        *,
        kind: str,
        started_at: str,
        person: str | None,
        device: str | None,
        model: str | None,
        profile_id: str | None,
        profile_name: str,
        profile_hash: str | None,
        caps: dict[str, Any],
        planned_ms: int,
        intensity_steps: int | None,
        plan: list[list[Any]],
    ) -> int:
        """Insert the row of a session that starts; returns its id."""
        cursor = self._execute(
            "INSERT INTO sessions (kind, started_at, person, device, model, profile_id, profile_name, "
            "profile_hash, caps, planned_ms, intensity_steps, plan) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                kind,
                started_at,
                person,
                device,
                model,
                profile_id,
                profile_name,
                profile_hash,
                json.dumps(caps, separators=(",", ":")),
                planned_ms,
                intensity_steps,
                json.dumps(plan, separators=(",", ":")),
            ),
        )
        row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

    def end(
        self,
        session_id: int,
        *,
        ended_at: str,
        end_reason: str,
        message: str,
        duration_s: float,
        played_ms: int | None,
        peak_intensity_step: int | None,
        peak_intensity_pct: float | None,
        stop_confirmed: bool,
        stop_sent: bool,
        warnings: list[str],
        states: list[list[Any]],
    ) -> None:
        """Complete a session's row, in one statement."""
        self._execute(
            "UPDATE sessions SET ended_at=?, end_reason=?, message=?, duration_s=?, played_ms=?, "
            "peak_intensity_step=?, peak_intensity_pct=?, stop_confirmed=?, stop_sent=?, warnings=?, "
            "states=? WHERE id=?",
            (
                ended_at,
                end_reason,
                message,
                round(duration_s, 3),
                played_ms,
                peak_intensity_step,
                peak_intensity_pct,
                int(stop_confirmed),
                int(stop_sent),
                json.dumps(warnings, separators=(",", ":")),
                json.dumps(states, separators=(",", ":")),
                session_id,
            ),
        )

    def prune(self, keep: int) -> int:
        """Keep the ``keep`` newest sessions; returns how many were removed."""
        cursor = self._execute(
            "DELETE FROM sessions WHERE id NOT IN (SELECT id FROM sessions ORDER BY id DESC LIMIT ?)",
            (max(0, keep),),
        )
        return cursor.rowcount

    # -- reading -------------------------------------------------------------------

    def _records(self, where: str = "", args: tuple[Any, ...] = (), *, tail: str = "") -> list[SessionRecord]:
        cursor = self._execute(f"SELECT * FROM sessions {where} {tail}", args)
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor.fetchall():
            data = dict(zip(names, row, strict=True))
            out.append(
                SessionRecord(
                    id=data["id"],
                    kind=data["kind"],
                    started_at=data["started_at"],
                    person=data["person"],
                    device=data["device"],
                    model=data["model"],
                    profile_id=data["profile_id"],
                    profile_name=data["profile_name"],
                    profile_hash=data["profile_hash"],
                    caps=json.loads(data["caps"] or "{}"),
                    planned_ms=data["planned_ms"],
                    intensity_steps=data["intensity_steps"],
                    plan=json.loads(data["plan"] or "[]"),
                    ended_at=data["ended_at"],
                    end_reason=data["end_reason"],
                    message=data["message"] or "",
                    duration_s=data["duration_s"],
                    played_ms=data["played_ms"],
                    peak_intensity_step=data["peak_intensity_step"],
                    peak_intensity_pct=data["peak_intensity_pct"],
                    stop_confirmed=None if data["stop_confirmed"] is None else bool(data["stop_confirmed"]),
                    stop_sent=None if data["stop_sent"] is None else bool(data["stop_sent"]),
                    warnings=json.loads(data["warnings"] or "[]"),
                    states=json.loads(data["states"] or "[]"),
                )
            )
        return out

    def recent(self, *, limit: int | None = 20, person: str | None = None) -> list[SessionRecord]:
        """The newest sessions first."""
        where, args = ("WHERE person = ?", (person,)) if person else ("", ())
        tail = "ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return self._records(where, args, tail=tail)

    def get(self, session_id: int) -> SessionRecord:
        found = self._records("WHERE id = ?", (session_id,))
        if not found:
            raise UsageError(f"no session {session_id} in the history ({self.path})")
        return found[0]

    def all(self) -> Iterator[SessionRecord]:
        """Every session, oldest first."""
        yield from self._records(tail="ORDER BY id")
