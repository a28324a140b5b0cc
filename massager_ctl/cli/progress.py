"""The live progress bar and status line of `run` and `set`."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

import click

from ..core.durations import format_duration
from ..session.runner import Progress


def _clock(ms: int) -> str:
    s = max(0, int(ms // 1000))
    return f"{s // 60:d}:{s % 60:02d}"


def progress_line(p: Progress, width: int | None = None) -> str:
    """One line: bar, time, segment, what the chair is doing (governed)."""
    frac = 0.0 if p.total_ms <= 0 else min(1.0, p.plan_ms / p.total_ms)
    bar_w = 20 if width is None else max(10, min(30, width // 4))
    filled = int(round(frac * bar_w))
    bar = "#" * filled + "-" * (bar_w - filled)
    t = p.target
    if t.rollers_active:
        doing = f"{t.technique} {t.intensity:.0f}%"
    else:
        doing = "rollers off"
    if t.airbags:
        doing += " airbags " + ",".join(z.value for z, _ in t.airbags)
    if t.heat.value != "off":
        doing += f" heat {t.heat}"
    seg = f'{p.segment_index} "{p.segment}"' if p.segment else "-"
    state = " PAUSED" if p.paused else ""
    line = f"[{bar}] {_clock(p.plan_ms)}/{_clock(p.total_ms)}  {seg}  {doing}{state}"
    return line if width is None else line[: max(20, width - 1)]


class ProgressPrinter:
    """Redraws one line on a terminal; prints a line per segment otherwise. When the
    session ends, however it ends (Ctrl-C included), it finishes the line and prints
    the summary: where it stopped and whether the device confirmed the stop."""

    def __init__(self, stream: TextIO | None = None, *, name: str = "") -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.name = name
        self._last_segment: tuple[int, str] | None = None
        self._drawn = False

    def start(self, info: dict, caps=None) -> None:
        pass

    def __call__(self, p: Progress) -> None:
        key = (p.segment_index, p.segment)
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            self.stream.write("\r\x1b[2K" + progress_line(p, width))
            self.stream.flush()
            self._drawn = True
        elif key != self._last_segment:
            self.stream.write(progress_line(p) + "\n")
            self.stream.flush()
        self._last_segment = key

    def warn(self, message: str) -> None:
        self.finish()
        click.echo(f"massager-ctl: warning: {message}", err=True)

    def control(self, action: str, **data) -> None:
        pass

    def end(self, report, extra: dict | None = None) -> None:
        self.finish()
        click.echo(summary(report, self.name), err=True)

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def summary(report, plan_name: str) -> str:
    done = format_duration(report.plan_ms)
    if report.reason == "finished":
        head = f"{plan_name}: finished ({done})"
    elif report.reason == "cap":
        head = f"{plan_name}: stopped at the session cap after {done}: {report.message}"
    elif report.reason == "device-stopped":
        head = f"{plan_name}: {report.message}"
    elif report.reason == "cancelled":
        head = f"{plan_name}: interrupted at {done}"
    elif report.reason == "stopped":
        head = f"{plan_name}: stopped at {done}"
    else:
        head = f"{plan_name}: {report.reason} after {done}"
    tail = stop_text(report.stop_confirmed, report.stop_sent)
    return f"{head}; {tail}"


def stop_text(confirmed: bool, sent: bool) -> str:
    if confirmed:
        return "device stopped (confirmed)"
    if sent:
        return "stop sent (this device cannot report whether it stopped)"
    return "device stop NOT confirmed"
