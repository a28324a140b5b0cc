"""The plain progress lines of `run` and `set` (stderr not a terminal), and the summary.

On a terminal the live panel (:mod:`.panel`) shows the session instead."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from ..core.capabilities import Capabilities
from ..core.durations import format_duration
from ..core.status import DeviceState
from ..session.runner import Progress, SessionReport


def _clock(ms: int) -> str:
    s = max(0, int(ms // 1000))
    return f"{s // 60:d}:{s % 60:02d}"


def doing_text(state: DeviceState, caps: Capabilities | None = None) -> str:
    """What the device is told (after governing and mapping), for a line of text."""
    parts: list[str] = []
    if state.technique is not None and state.intensity:
        steps = caps.intensity_steps if caps else 0
        level = (
            f"{100 * state.intensity / steps:.0f}% ({state.intensity}/{steps})"
            if steps
            else f"step {state.intensity}"
        )
        parts.append(f"{state.technique.value} {level}")
    else:
        parts.append("rollers off")
    if state.airbags:
        parts.append("airbags " + ",".join(f"{z.value} {lvl}" for z, lvl in state.airbags))
    if state.heat.value != "off":
        parts.append(f"heat {state.heat.value}")
    return " ".join(parts)


def progress_line(p: Progress, caps: Capabilities | None = None) -> str:
    """One line: bar, time, segment, what the device is doing (governed and mapped)."""
    frac = 0.0 if p.total_ms <= 0 else min(1.0, p.plan_ms / p.total_ms)
    bar_w = 20
    filled = int(round(frac * bar_w))
    bar = "#" * filled + "-" * (bar_w - filled)
    seg = f'{p.segment_index} "{p.segment}"' if p.segment else "-"
    state = " PAUSED" if p.paused else ""
    return (
        f"[{bar}] {_clock(p.plan_ms)}/{_clock(p.total_ms)}  {seg}  {doing_text(p.device_state, caps)}{state}"
    )


class ProgressPrinter:
    """Where stderr is not a terminal: a plain line whenever the segment or what the
    device is told changes. When the session ends, however it ends (Ctrl-C included),
    the summary: where it stopped and whether the device confirmed the stop."""

    def __init__(self, stream: TextIO | None = None, *, name: str = "") -> None:
        self.stream = stream or sys.stderr
        self.name = name
        self.caps: Capabilities | None = None
        self._last: tuple[int, str, DeviceState, bool] | None = None

    def start(self, info: dict[str, Any], caps: Capabilities | None = None) -> None:
        self.caps = caps

    def __call__(self, p: Progress) -> None:
        key = (p.segment_index, p.segment, p.device_state, p.paused)
        if key != self._last:
            self._last = key
            self.stream.write(progress_line(p, self.caps) + "\n")
            self.stream.flush()

    def on_status(self, status: Any) -> None:
        pass

    def warn(self, message: str) -> None:
        click.echo(f"massager-ctl: warning: {message}", err=True)

    def control(self, action: str, **data: Any) -> None:
        what = f"cap {data['max_intensity']:g}%" if action == "cap" else action
        self.stream.write(f"key: {what}\n")
        self.stream.flush()

    def end(self, report: SessionReport, extra: dict[str, Any] | None = None) -> None:
        click.echo(summary(report, self.name), err=True)

    def finish(self) -> None:
        pass


def format_clock(seconds: float) -> str:
    """mm:ss.s (h:mm:ss.s from an hour on): how a dry run and a stop's summary write times."""
    tenths = int(round(max(0.0, seconds) * 10))
    minutes, tenth_s = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    text = f"{minutes:02d}:{tenth_s / 10:04.1f}"
    return f"{hours}:{text}" if hours else text


def summary(report: SessionReport, plan_name: str) -> str:
    done = format_duration(report.plan_ms)
    at = format_clock(report.plan_ms / 1000)
    if report.reason == "finished":
        head = f"{plan_name}: finished ({done})"
    elif report.reason == "cap":
        head = f"{plan_name}: stopped at the session cap after {done}: {report.message}"
    elif report.reason in ("device-stopped", "device-disobeyed"):
        head = f"{plan_name}: {report.message}"
    elif report.reason == "cancelled":
        head = f"{plan_name}: interrupted at {at} of the plan"
    elif report.reason == "stopped":
        head = f"{plan_name}: stopped at {at} of the plan"
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
