"""Drawing plans and sessions with matplotlib (headless: the Agg backend, SVG or PNG by suffix)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.capabilities import Capabilities
from ..core.errors import UsageError
from ..core.status import DeviceState
from ..core.vocabulary import Heat, Technique
from ..history.recorder import plan_samples
from ..history.store import SessionRecord
from ..plan import Plan, RollerStep

INSTALL_HINT = "pip install 'massager-ctl[plot]'"
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}

#: One colour per technique (bands behind the intensity curve), colour-blind friendly.
TECHNIQUE_COLOURS = {
    Technique.KNEAD: "#4477aa",
    Technique.SHIATSU: "#ee6677",
    Technique.TAP: "#228833",
    Technique.KNOCK: "#ccbb44",
    Technique.ROLL: "#66ccee",
    Technique.VIBRATE: "#aa3377",
}
HEAT_RANK = {Heat.OFF.value: 0, Heat.LOW.value: 1, Heat.HIGH.value: 2}
PLAN_COLOUR = "#333333"
DEVICE_COLOUR = "#e07000"


class PlotUnavailable(UsageError):
    """matplotlib is not installed (it is the optional ``plot`` extra)."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from None
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: write the picture as .svg, .png or .pdf")
    return fmt


def _figure(plt: Any, rows: int, title: str) -> tuple[Any, list[Any]]:
    heights = [3, 1.4, 1][:rows]
    fig, axes = plt.subplots(
        rows, 1, sharex=True, figsize=(10, 1.2 + 1.3 * sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    axes = list(axes) if rows > 1 else [axes]
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return fig, axes


def _minutes(ms: Sequence[float]) -> list[float]:
    return [t / 60_000 for t in ms]


def _technique_bands(ax: Any, spans: Sequence[tuple[float, float, Technique]]) -> None:
    seen = set()
    for start, end, technique in spans:
        label = technique.value if technique not in seen else None
        seen.add(technique)
        ax.axvspan(
            start / 60_000, end / 60_000, color=TECHNIQUE_COLOURS[technique], alpha=0.18, lw=0, label=label
        )


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fmt = _format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    try:
        fig.savefig(path, format=fmt, dpi=110)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the picture: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
    return path


def _axes_style(axes: list[Any], heat: bool) -> None:
    axes[0].set_ylabel("intensity %")
    axes[0].set_ylim(0, 105)
    axes[1].set_ylabel("airbag %")
    axes[1].set_ylim(0, 105)
    if heat:
        axes[2].set_ylabel("heat")
        axes[2].set_ylim(-0.2, 2.3)
        axes[2].set_yticks([0, 1, 2], ["off", "low", "high"])
    axes[-1].set_xlabel("minutes")
    for ax in axes:
        ax.grid(True, alpha=0.3, lw=0.5)
        ax.margins(x=0)


def _plan_lines(axes: list[Any], samples: list[list[Any]], label: str = "plan") -> None:
    t = _minutes([s[0] for s in samples])
    axes[0].plot(t, [s[1] for s in samples], color=PLAN_COLOUR, lw=1.4, label=label)
    axes[1].plot(t, [s[2] for s in samples], color=PLAN_COLOUR, lw=1.2, label=label)
    axes[2].plot(t, [HEAT_RANK[s[3]] for s in samples], color=PLAN_COLOUR, lw=1.2, drawstyle="steps-post")


def _device_lines(
    axes: list[Any],
    times_ms: list[float],
    states: list[DeviceState],
    caps: Capabilities,
    end_ms: float,
    label: str,
) -> None:
    if not states:
        return
    t = _minutes([*times_ms, end_ms])
    states = [*states, states[-1]]

    def pct(value: int, steps: int) -> float:
        return 100.0 * value / steps if steps else 0.0

    intensity = [pct(s.intensity, caps.intensity_steps) if s.technique is not None else 0.0 for s in states]
    airbag = [pct(max((lvl for _, lvl in s.airbags), default=0), caps.airbag_levels) for s in states]
    heat = [HEAT_RANK[s.heat.value] for s in states]
    kw = {"color": DEVICE_COLOUR, "lw": 1.3, "drawstyle": "steps-post", "label": label}
    axes[0].plot(t, intensity, **kw)
    axes[1].plot(t, airbag, **kw)
    axes[2].plot(t, heat, **{**kw, "ls": "--"})


def plot_plan(
    plan: Plan,
    path: str | Path,
    *,
    device_writes: list[tuple[float, DeviceState]] | None = None,
    capabilities: Capabilities | None = None,
    device_name: str | None = None,
) -> Path:
    """Draw every track of ``plan`` into ``path`` (.svg, .png or .pdf).

    With ``device_writes`` (``(seconds, state)`` as a dry run for a model gives them) and
    that model's ``capabilities``, also draw what the device will get, in % of its steps."""
    path = Path(path)
    _format(path)
    plt = _pyplot()
    title = f"{plan.name}" + (f"  —  on {device_name}" if device_name else "")
    fig, axes = _figure(plt, 3, title)
    spans = [
        (s.start_ms, s.end_ms, s.technique) for s in plan.roller if isinstance(s, RollerStep) and s.technique
    ]
    _technique_bands(axes[0], spans)
    _plan_lines(axes, plan_samples(plan), label="profile")
    if device_writes and capabilities is not None:
        _device_lines(
            axes,
            [t * 1000 for t, _ in device_writes],
            [s for _, s in device_writes],
            capabilities,
            plan.duration_ms,
            label=device_name or "device",
        )
    _axes_style(axes, heat=True)
    axes[0].legend(loc="upper left", fontsize=8, ncols=4, framealpha=0.8)
    return _save(fig, plt, path)


def _state_of(row: list[Any]) -> DeviceState:
    from ..core.vocabulary import Width, Zone

    _t, technique, zones, intensity, speed, width, airbags, heat = row
    bags = []
    for item in airbags.split(",") if airbags else []:
        zone, _, level = item.partition("=")
        bags.append((Zone(zone), int(level)))
    return DeviceState(
        technique=Technique(technique) if technique else None,
        zones=frozenset(Zone(z) for z in zones.split(",") if z),
        intensity=int(intensity),
        speed=int(speed),
        width=Width(width) if width else None,
        airbags=tuple(bags),
        heat=Heat(heat),
    )


def plot_session(record: SessionRecord, path: str | Path) -> Path:
    """Draw what a past session sent (in % of the device's steps) against its plan."""
    path = Path(path)
    _format(path)
    plt = _pyplot()
    who = f" for {record.person}" if record.person else ""
    ended = record.end_reason or "no end recorded"
    title = f"session {record.id}: {record.profile_name} on {record.model or record.device}{who} ({ended})"
    fig, axes = _figure(plt, 3, title)
    states = [_state_of(row) for row in record.states]
    times = [row[0] for row in record.states]
    spans = []
    for i, state in enumerate(states):
        end = times[i + 1] if i + 1 < len(times) else (record.played_ms or times[i])
        if state.technique is not None and state.intensity:
            spans.append((times[i], end, state.technique))
    _technique_bands(axes[0], spans)
    if record.plan:
        _plan_lines(axes, record.plan, label="plan")
    steps = record.caps.get("steps", {})
    caps = Capabilities(
        intensity_steps=record.intensity_steps or steps.get("intensity") or 1,
        airbag_levels=steps.get("airbag") or max((lvl for s in states for _, lvl in s.airbags), default=1),
    )
    end_ms = max(record.played_ms or 0, times[-1] if times else 0)
    _device_lines(axes, times, states, caps, end_ms, label="sent")
    _axes_style(axes, heat=True)
    axes[0].legend(loc="upper left", fontsize=8, ncols=4, framealpha=0.8)
    return _save(fig, plt, path)
