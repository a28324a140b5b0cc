"""Draw a plan in the terminal: pure functions from a Plan to lines of text.

``render_timeline`` draws one row per track over a time axis, sampling the plan
with ``Plan.state_at`` at the middle of each column:

* roller    - intensity sparkline (▁..█ for 1..100 %, blank when the rollers rest),
* technique - one letter per column (legend below),
* airbag    - highest airbag pressure, same sparkline,
* heat      - ``·`` off, ``░`` low, ``█`` high.

``render_segments`` lists the roller steps (start, length, name, technique,
zones, intensity), then the airbag and heat steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ..core.durations import format_duration
from ..core.vocabulary import Heat, Technique, Zone
from ..plan import AirbagStep, HeatStep, Level, Plan, RollerStep, Step

S = TypeVar("S", bound=Step)

SPARKS = "▁▂▃▄▅▆▇█"
HEAT_MARKS = {Heat.OFF: "·", Heat.LOW: "░", Heat.HIGH: "█"}
INITIALS = {
    Technique.KNEAD: "K",
    Technique.SHIATSU: "S",
    Technique.TAP: "T",
    Technique.KNOCK: "N",
    Technique.ROLL: "R",
    Technique.VIBRATE: "V",
}
LABEL_WIDTH = 10
MIN_WIDTH = 40
MIN_TICK_SPACING = 8  # columns between time ticks, at least

_TICK_STEPS_MS = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000,
]  # fmt: skip


def spark(value: float) -> str:
    """One sparkline cell for a 0..100 % value: blank at 0, ▁ for a little, █ for 100."""
    if value <= 0:
        return " "
    index = math.ceil(min(value, 100.0) / 100.0 * len(SPARKS)) - 1
    return SPARKS[max(0, index)]


def _tick_label(ms: int) -> str:
    return "0" if ms == 0 else format_duration(ms)


def _tick_step(duration_ms: int, columns: int) -> int:
    """The smallest tick spacing whose labels fit side by side."""
    for step in _TICK_STEPS_MS:
        longest = max(len(_tick_label(t)) for t in range(0, duration_ms + 1, step))
        if step / duration_ms * columns >= max(longest + 2, MIN_TICK_SPACING):
            return step
    return _TICK_STEPS_MS[-1]


def _column_of(t_ms: float, duration_ms: int, columns: int) -> int:
    return min(columns - 1, int(t_ms * columns / duration_ms))


def _axis(duration_ms: int, columns: int) -> tuple[str, str]:
    step = _tick_step(duration_ms, columns)
    labels = [" "] * columns
    ruler = ["─"] * columns
    next_start = columns + 1  # labels are placed from the right: the last one always shows
    for t in reversed(range(0, duration_ms + 1, step)):
        col = _column_of(t, duration_ms, columns)
        ruler[col] = "┬"
        text = _tick_label(t)
        start = min(col, columns - len(text))
        if start + len(text) >= next_start:
            continue  # would touch the label to its right
        labels[start : start + len(text)] = list(text)
        next_start = start
    return "".join(labels), "".join(ruler)


def _wrap_items(items: list[str], width: int, indent: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for item in items:
        if current and len(indent) + len(current) + 2 + len(item) > width:
            lines.append(indent + current)
            current = item
        else:
            current = f"{current}  {item}" if current else item
    if current:
        lines.append(indent + current)
    return lines


def render_timeline(plan: Plan, width: int = 80) -> list[str]:
    """The plan as rows of text, ``width`` characters wide at most (at least 40)."""
    width = max(MIN_WIDTH, width)
    columns = width - LABEL_WIDTH
    duration = plan.duration_ms
    if duration <= 0:
        return ["(empty plan: nothing to draw)"]

    roller, technique, airbag, heat = [], [], [], []
    used: list[Technique] = []
    for c in range(columns):
        state = plan.state_at((c + 0.5) * duration / columns)
        if state.rollers_active and state.technique is not None:  # the first implies the second
            roller.append(spark(state.intensity))
            technique.append(INITIALS[state.technique])
            if state.technique not in used:
                used.append(state.technique)
        else:
            roller.append(" ")
            technique.append(" ")
        airbag.append(spark(max((p for _, p in state.airbags), default=0.0)))
        heat.append(HEAT_MARKS[state.heat])

    pad = " " * LABEL_WIDTH
    labels, ruler = _axis(duration, columns)
    lines = [
        (pad + labels).rstrip(),
        "time".ljust(LABEL_WIDTH) + ruler,
        "roller".ljust(LABEL_WIDTH) + "".join(roller).rstrip(),
        "technique".ljust(LABEL_WIDTH) + "".join(technique).rstrip(),
    ]
    if plan.airbag:
        lines.append("airbag".ljust(LABEL_WIDTH) + "".join(airbag).rstrip())
    if plan.heat:
        lines.append("heat".ljust(LABEL_WIDTH) + "".join(heat))
    legend = [f"{INITIALS[t]} {t}" for t in Technique if t in used]
    if plan.heat:
        legend.append("heat: · off ░ low █ high")
    lines.extend(_wrap_items(legend, width, pad))
    return [line.rstrip() for line in lines]


# -- the step lists ------------------------------------------------------------


def format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def format_level(level: Level) -> str:
    """``40`` for a constant, ``20→60`` for a linear ramp, ``20→60 ease-in-out`` otherwise."""
    if not level.is_ramp:
        return format_number(level.start)
    text = f"{format_number(level.start)}→{format_number(level.end)}"
    if level.curve.value != "linear":
        text += f" {level.curve}"
    return text


def format_zones(zones: Iterable[Zone]) -> str:
    order = list(Zone)
    return ",".join(z.value for z in sorted(zones, key=order.index)) or "-"


MAX_REPEAT_BLOCK = 50  # longest run of steps recognised as a repeated block


def collapse_repeats(keys: Sequence[object], max_block: int = MAX_REPEAT_BLOCK) -> list[tuple[int, int, int]]:
    """Group a list into runs of a repeated block: ``(start index, block length, times)``.

    ``keys`` compare equal when two steps do the same thing (start times left out).
    At each position the block covering the most steps wins (the shortest on ties);
    a step that does not repeat is its own group with ``times == 1``.
    """
    groups = []
    i, n = 0, len(keys)
    while i < n:
        best_len, best_times = 1, 1
        for length in range(1, min(max_block, (n - i) // 2) + 1):
            block = keys[i : i + length]
            times = 1
            while keys[i + times * length : i + (times + 1) * length] == block:
                times += 1
            if times > 1 and times * length > best_len * best_times:
                best_len, best_times = length, times
        groups.append((i, best_len, best_times))
        i += best_len * best_times
    return groups


def _table(header: list[str], rows: list[list[str] | str]) -> list[str]:
    """Aligned columns; a plain string row is a note printed as is under the first column."""
    cells = [r for r in rows if not isinstance(r, str)]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        if isinstance(r, str):
            out.append(" " * (widths[0] + 2) + r)
        else:
            out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    return out


def _rows(
    steps: Iterable[S], key: Callable[[S], object], cells: Callable[[S], list[str]]
) -> list[list[str] | str]:
    """Rows for the steps; a repeated block shows once, then a note with how often it repeats."""
    steps = list(steps)
    rows: list[list[str] | str] = []
    for start, length, times in collapse_repeats([key(s) for s in steps]):
        block = steps[start : start + length]
        rows.extend([format_duration(s.start_ms), format_duration(s.duration_ms), *cells(s)] for s in block)
        if times > 1:
            end = steps[start + length * times - 1].end_ms
            what = "the step above" if length == 1 else f"the {length} steps above"
            more = "1 more time" if times == 2 else f"{times - 1} more times"
            rows.append(f"↻ {what} {more}, until {format_duration(end)}")
    return rows


def _roller_cells(s: RollerStep) -> list[str]:
    if s.technique is None:
        return [s.name, "rest", "-", "-"]
    return [s.name, s.technique.value, format_zones(s.zones), format_level(s.intensity)]


def _airbag_cells(s: AirbagStep) -> list[str]:
    if not s.zones or s.pressure.peak <= 0:
        return [s.name, "-", "vented"]
    return [s.name, format_zones(s.zones), format_level(s.pressure)]


def render_segments(plan: Plan) -> list[str]:
    """The steps of each track as tables (roller first), with start times and lengths.

    A block of steps repeated back to back is listed once, followed by a
    ``↻ the 3 steps above 3 more times, until 13m20s`` note.
    """

    def roller_key(s: RollerStep) -> tuple[object, ...]:
        return (s.duration_ms, s.name, s.technique, s.zones, s.intensity, s.speed, s.width)

    def airbag_key(s: AirbagStep) -> tuple[object, ...]:
        return (s.duration_ms, s.name, s.zones, s.pressure)

    def heat_key(s: HeatStep) -> tuple[object, ...]:
        return (s.duration_ms, s.name, s.level)

    lines = ["segments"]
    rows = _rows(plan.roller, roller_key, _roller_cells)
    header = ["start", "length", "name", "technique", "zones", "intensity"]
    lines += ["  " + r for r in _table(header, rows)]
    if plan.airbag:
        rows = _rows(plan.airbag, airbag_key, _airbag_cells)
        lines += ["", "airbags"]
        lines += ["  " + r for r in _table(["start", "length", "name", "zones", "pressure"], rows)]
    if plan.heat:
        rows = _rows(plan.heat, heat_key, lambda s: [s.name, s.level.value])
        lines += ["", "heat"]
        lines += ["  " + r for r in _table(["start", "length", "name", "level"], rows)]
    return lines
