"""The JSON stream of `run` and `set`: one record per line, on stdout (docs/cli.md).

``start`` once connected, ``segment`` at each roller segment, ``state`` whenever what
the device is told changes (after governing and mapping), ``warning``, ``control``
(a key pressed: pause, resume, skip, cap) and, however the session ends, ``end`` with
the report. Every record has ``type`` and ``t``: seconds since the session started,
on the session's clock (virtual with ``--time-scale max``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.capabilities import Capabilities
    from ..core.status import DeviceState
    from ..session.runner import Progress
    from .context import CliContext


def device_state_dict(state: DeviceState, caps: Capabilities | None = None) -> dict[str, Any]:
    """A device state in the device's own steps; with ``caps``, intensity also in %."""
    from ..core.target import zone_order

    data: dict[str, Any] = {
        "technique": state.technique.value if state.technique else None,
        "zones": [z.value for z in sorted(state.zones, key=zone_order)],
        "intensity": state.intensity,
        "speed": state.speed,
        "width": state.width.value if state.width else None,
        "airbags": {z.value: level for z, level in state.airbags},
        "heat": state.heat.value,
    }
    if caps is not None and caps.intensity_steps:
        data["intensity_pct"] = round(100.0 * state.intensity / caps.intensity_steps, 1)
    return data


def _loop_time() -> float | None:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return None


class JsonSessionStream:
    """Writes a session's records; one object per session."""

    def __init__(self, cli: CliContext, *, id: str | None, name: str) -> None:
        self.cli = cli
        self.id = id
        self.name = name
        self.caps: Capabilities | None = None
        self._t0: float | None = None
        self._segment: tuple[int, str] | None = None
        self._state: DeviceState | None = None
        self.ended = False

    def _t(self) -> float | None:
        now = _loop_time()
        if now is None:
            return None
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        self.cli.record(type_, data, t=self._t())

    def start(self, info: dict[str, Any], caps: Capabilities | None = None) -> None:
        self.caps = caps
        self.emit("start", {"id": self.id, "name": self.name, **info})

    def __call__(self, p: Progress) -> None:
        key = (p.segment_index, p.segment)
        if key != self._segment:
            self._segment = key
            self.emit(
                "segment",
                {
                    "plan_ms": p.plan_ms,
                    "index": p.segment_index,
                    "name": p.segment,
                    "target": p.target.to_dict(),
                },
            )
        if p.device_state != self._state:
            self._state = p.device_state
            self.emit("state", {"plan_ms": p.plan_ms, "device": device_state_dict(p.device_state, self.caps)})

    def on_status(self, status: Any) -> None:
        pass

    def warn(self, message: str) -> None:
        self.emit("warning", {"message": message})

    def control(self, action: str, **data: Any) -> None:
        self.emit("control", {"action": action, **data})

    def end(self, report: Any, extra: dict[str, Any] | None = None) -> None:
        self.ended = True
        self.emit("end", {"id": self.id, "name": self.name, **report.to_dict(), **(extra or {})})

    def finish(self) -> None:
        pass
