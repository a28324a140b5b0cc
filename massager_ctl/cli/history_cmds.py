"""``massager-ctl history list|show|plot|export|prune|path``: past sessions.

Thin over :mod:`massager_ctl.history` (the store) and :mod:`massager_ctl.plot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .context import CliContext, pass_cli

if TYPE_CHECKING:
    from ..history import HistoryStore, SessionRecord


@click.group()
def history() -> None:
    """Past sessions: what ran, on which device, for whom, how it ended."""


def _store() -> HistoryStore:
    from ..history import HistoryStore, history_path

    return HistoryStore(history_path())


def _length(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _started(text: str) -> str:
    """The start time in the local time zone, to the minute."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _end(record: SessionRecord) -> str:
    if record.end_reason is None:
        return "no end (killed?)"
    stop = "confirmed" if record.stop_confirmed else ("sent" if record.stop_sent else "NOT confirmed")
    return f"{record.end_reason}, stop {stop}"


@history.command("path")
@pass_cli
def path_cmd(cli: CliContext) -> None:
    """Print where the history file is (it may not exist yet)."""
    from ..history import history_path

    p = history_path()
    if cli.json:
        cli.echo_json({"path": str(p), "exists": p.is_file()})
    else:
        click.echo(str(p))


@history.command("list")
@click.option(
    "--limit", "-n", type=click.IntRange(1), default=20, show_default=True, help="How many sessions."
)
@click.option("--person", "who", metavar="NAME", help="Only this person's sessions.")
@pass_cli
def list_cmd(cli: CliContext, limit: int, who: str | None) -> None:
    """List the newest sessions: when, who, what, on which device, how it ended."""
    store = _store()
    records = store.recent(limit=limit, person=who) if store.path.is_file() else []
    if cli.json:
        cli.echo_json([r.to_dict(states=False) for r in records])
        return
    if not records:
        click.echo("no sessions recorded yet" + (f" for {who}" if who else ""))
        return
    rows = [["ID", "STARTED", "PERSON", "PROFILE", "DEVICE", "LENGTH", "PEAK", "END"]]
    for r in records:
        peak = f"{r.peak_intensity_pct:.0f}%" if r.peak_intensity_pct is not None else "-"
        rows.append(
            [
                str(r.id),
                _started(r.started_at),
                r.person or "-",
                r.profile_id or r.profile_name,
                r.model or r.device or "-",
                _length(r.duration_s),
                peak,
                _end(r),
            ]
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]))


@history.command("show")
@click.argument("session_id", metavar="ID", type=int)
@pass_cli
def show(cli: CliContext, session_id: int) -> None:
    """Show one session: everything recorded, and the states sent."""
    record = _store().get(session_id)
    if cli.json:
        cli.echo_json(record.to_dict())
        return
    rows = [
        ("session", f"{record.id} ({record.kind})"),
        ("started", _started(record.started_at)),
        ("person", record.person or "-"),
        ("profile", f"{record.profile_name} ({record.profile_id or '-'}, hash {record.profile_hash or '-'})"),
        ("device", f"{record.model or '-'} on {record.device or '-'}"),
        ("planned", _length(record.planned_ms / 1000)),
        ("played", _length(record.duration_s)),
        ("ended", _end(record) + (f": {record.message}" if record.message else "")),
        (
            "peak",
            f"{record.peak_intensity_pct:.0f}% (step {record.peak_intensity_step}/{record.intensity_steps})"
            if record.peak_intensity_pct is not None
            else "-",
        ),
        ("caps", ", ".join(f"{k} {v}" for k, v in record.caps.items())),
        ("states sent", str(len(record.states))),
    ]
    for key, value in rows:
        click.echo(f"{key:<12} {value}")
    for warning in record.warnings:
        click.echo(f"{'warning':<12} {warning}")


@history.command("export")
@pass_cli
def export(cli: CliContext) -> None:
    """Write every session, states included, as JSON: one ``session`` record per line,
    then an ``end`` record (with or without --json)."""
    store = _store()
    count = 0
    if store.path.is_file():
        for record in store.all():
            cli.record("session", record.to_dict())
            count += 1
    cli.record("end", {"count": count, "path": str(store.path)})


@history.command("prune")
@click.option(
    "--keep", type=click.IntRange(0), required=True, metavar="N", help="Keep the N newest sessions."
)
@pass_cli
def prune(cli: CliContext, keep: int) -> None:
    """Remove all but the newest N sessions (the config's history.keep does it at each start)."""
    store = _store()
    removed = store.prune(keep) if store.path.is_file() else 0
    if cli.json:
        cli.echo_json({"removed": removed, "kept": keep, "path": str(store.path)})
    else:
        click.echo(f"removed {removed} session(s); at most {keep} kept ({store.path})")


@history.command("plot")
@click.argument("session_id", metavar="ID", type=int)
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="FILE.svg, .png or .pdf",
)
@pass_cli
def plot(cli: CliContext, session_id: int, output: str) -> None:
    """Draw what session ID sent (in % of the device's steps) against its plan."""
    from ..plot import plot_session

    written = plot_session(_store().get(session_id), output)
    if cli.json:
        cli.echo_json({"id": session_id, "path": str(written), "bytes": written.stat().st_size})
    else:
        click.echo(f"wrote {written}")
