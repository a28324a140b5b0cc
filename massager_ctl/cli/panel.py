"""The live panel of `run` and `set` on a terminal (rich), redrawn in place.

It shows the profile, segment N/M, elapsed and remaining time, and what the device is
doing after governing and mapping: technique, zones, intensity in % and in the device's
steps, speed, airbags, heat and the heater's temperature as the device reports it; the
intensity cap in force; the last key pressed; and every warning, kept in view. When the
session ends, however it ends (Ctrl-C included), the panel is drawn a last time and a
summary line says where it stopped and whether the device confirmed the stop.

rich is imported only here, and this module only when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core.target import zone_order
from .keys import KEY_HELP
from .progress import summary

#: Redraws at most this often (wall clock): a sped-up session ticks far faster.
REDRAW_EVERY_S = 0.1


def _clock(ms: float) -> str:
    s = max(0, int(ms // 1000))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _steps(value: int, steps: int) -> str:
    if not steps:
        return f"step {value}"
    return f"{100 * value / steps:.0f}% (step {value}/{steps})"


class LivePanel:
    def __init__(self, stream: TextIO | None = None, *, name: str, id: str | None, keys: bool) -> None:
        self.console = Console(file=stream or sys.stderr, highlight=False)
        self.name = name
        self.id = id
        self.keys = keys
        self.info: dict[str, Any] = {}
        self.caps: Any = None
        self.progress: Any = None
        self.status: Any = None
        self.warnings: list[str] = []
        self.last_key = ""
        self.paused = False
        self.cap: float | None = None
        self.ceiling: float | None = None
        self._live: Live | None = None
        self._drawn_at = 0.0

    # -- the session's callbacks --------------------------------------------------------

    def start(self, info: dict[str, Any], caps: Any = None) -> None:
        self.info = info
        self.caps = caps
        self.cap = self.ceiling = info.get("caps", {}).get("max_intensity")
        self._live = Live(self._render(), console=self.console, auto_refresh=False, transient=False)
        self._live.start()

    def __call__(self, p: Any) -> None:
        self.progress = p
        self.paused = p.paused
        self._redraw()

    def on_status(self, status: Any) -> None:
        self.status = status

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
        self._redraw(force=True)

    def control(self, action: str, **data: Any) -> None:
        if action == "cap":
            self.cap = data.get("max_intensity", self.cap)
            self.ceiling = data.get("ceiling", self.ceiling)
            self.last_key = f"cap {self.cap:g}%" + (
                " (the configured cap)" if self.cap == self.ceiling else ""
            )
        else:
            self.last_key = {"pause": "paused", "resume": "resumed", "skip": "skipped", "stop": "stopping"}[
                action
            ]
            if action in ("pause", "resume"):
                self.paused = action == "pause"
        self._redraw(force=True)

    def end(self, report: Any, extra: dict[str, Any] | None = None) -> None:
        self.finish()
        self.console.print(summary(report, self.name), highlight=False)

    def finish(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.update(self._render(final=True), refresh=True)
            live.stop()

    # -- drawing ---------------------------------------------------------------------

    def _redraw(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < REDRAW_EVERY_S:
            return
        self._drawn_at = now
        self._live.update(self._render(), refresh=True)

    def _render(self, final: bool = False) -> Panel:
        p = self.progress
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        total = self.info.get("duration_ms", 0)
        segments = self.info.get("segments", 0)
        if p is not None:
            seg = f"{p.segment_index}/{segments}  {p.segment}" if p.segment else "-"
            grid.add_row("segment", seg)
            left = max(0, p.total_ms - p.plan_ms)
            grid.add_row("time", f"{_clock(p.plan_ms)} / {_clock(p.total_ms)}   {_clock(left)} left")
            grid.add_row("", self._bar(p.plan_ms, p.total_ms))
            for label, value in self._doing(p.device_state):
                grid.add_row(label, value)
        else:
            grid.add_row("time", f"0:00 / {_clock(total)}")
        cap = "-" if self.cap is None else f"{self.cap:g}%"
        if self.ceiling is not None and self.cap is not None and self.cap < self.ceiling:
            cap += f" (turned down from {self.ceiling:g}%)"
        grid.add_row("cap", cap)
        state = ""
        if self.paused:
            state = "PAUSED"
        if self.last_key:
            state = f"{state}  last key: {self.last_key}".strip()
        if state:
            grid.add_row("", Text(state, style="bold yellow"))
        for w in self.warnings:
            grid.add_row("warning", Text(w, style="yellow"))
        if self.keys and not final:
            grid.add_row("keys", KEY_HELP)
        title = f"{self.name}" + (f" ({self.id})" if self.id else "")
        model = self.info.get("model", "")
        return Panel(Group(grid), title=title, subtitle=model, title_align="left", subtitle_align="right")

    def _bar(self, done: float, total: float, width: int = 40) -> str:
        filled = 0 if total <= 0 else int(round(min(1.0, done / total) * width))
        return "█" * filled + "░" * (width - filled)

    def _doing(self, state: Any) -> list[tuple[str, str]]:
        caps = self.caps
        steps = caps.intensity_steps if caps else 0
        rows = []
        if state.technique is not None and state.intensity:
            zones = ", ".join(z.value for z in sorted(state.zones, key=zone_order))
            text = f"{state.technique.value} on {zones}, intensity {_steps(state.intensity, steps)}"
            if caps and caps.speed_steps:
                text += f", speed {state.speed}/{caps.speed_steps}"
            if state.width is not None:
                text += f", {state.width.value}"
            rows.append(("rollers", text))
        else:
            rows.append(("rollers", "off"))
        if state.airbags:
            levels = caps.airbag_levels if caps else 0
            rows.append(
                ("airbags", ", ".join(f"{z.value} {_steps(lvl, levels)}" for z, lvl in state.airbags))
            )
        heat = state.heat.value
        temp = getattr(self.status, "heater_temp_c", None)
        if temp is not None:
            heat += f", heater {temp:.1f} °C"
        rows.append(("heat", heat))
        return rows
