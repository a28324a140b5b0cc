"""The scripting API: everything the CLI does, from Python.

    import asyncio, massager_ctl

    async def main():
        async with massager_ctl.connect("sim:") as chair:
            chair.on_status(print)
            report = await chair.run("quick")
            await chair.set(technique="knead", zones=["shoulders"], intensity=30, heat="low")
            await asyncio.sleep(60)
            await chair.stop()

    asyncio.run(main())

Every command, whether from a profile or from ``set``, goes through the same
safety governor and writer. Leaving the ``async with`` block, by any route,
stops the device and waits for it to confirm before disconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from .device.base import Device
from .device.registry import DEFAULT_SIM_MODEL, MODELS, ModelDefinition, get_model
from .device.state import Status
from .device.uri import parse_uri
from .durations import DurationError, parse_duration
from .errors import DeviceError, UsageError
from .plan import Plan
from .session.governor import SafetyGovernor
from .session.limits import SafetyLimits
from .session.runner import Progress, ReconnectPolicy, Session, SessionReport, manual_plan
from .session.writer import Writer
from .state import STOPPED, TargetState
from .vocabulary import Heat, Technique, Width, Zone

log = logging.getLogger(__name__)


@dataclass
class OpenedDevice:
    """A device and whatever must be closed with it (a simulator, a link)."""

    device: Device
    definition: ModelDefinition
    simulator: Any = None
    closers: list[Callable[[], Any]] = field(default_factory=list)
    link: Any = None  # the in-memory link of a simulated device (tests pull its cable)

    async def close(self) -> None:
        for closer in reversed(self.closers):
            result = closer()
            if asyncio.iscoroutine(result):
                await result


#: Set to a file path to have a simulated device write its final state and trace there
#: when it closes (lets tests judge a CLI run from the simulator's own state).
SIM_TRACE_ENV = "MASSAGER_CTL_SIM_TRACE"


def _write_sim_trace(simulator, path: str) -> None:
    import json

    physics = simulator.physics
    data = {
        "model": simulator.model if hasattr(simulator, "model") else None,
        "target_stopped": physics.target.is_stopped,
        "motors_on": physics.motors_on,
        "heat_on": physics.heat_on,
        "max_intensity_seen": physics.max_intensity_seen,
        "deadman_trips": getattr(simulator, "deadman_trips", None),
        "trace": [{"t": e.t, "kind": e.kind, "detail": e.detail} for e in physics.trace],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


#: URI scheme -> "module:function" opening it: async (DeviceURI, faults) -> OpenedDevice.
#: Transports add their scheme here; the control layer does not change.
OPENERS: dict[str, str] = {
    "sim": "massager_ctl.api:open_simulated",
    "serial": "massager_ctl.transport.serial_open:open_serial",
    "ble": "massager_ctl.transport.ble_open:open_ble",
}


async def open_device(
    uri: str | None = None, *, faults: Any = None, simulate_ble: bool = False
) -> OpenedDevice:
    """Build (not connect) the device a URI names. ``None`` means the built-in simulator.

    ``faults`` reaches a simulator (a FaultInjector); ``simulate_ble`` makes ``ble:``
    URIs use the simulated bleak backends instead of a radio.
    """
    import importlib

    parsed = parse_uri(uri or "sim:")
    target = OPENERS.get(parsed.scheme)
    if target is None:
        raise UsageError(
            f"{parsed.scheme}: devices are not supported by this version yet; "
            "use sim: (the simulated chair)"
        )
    module, _, name = target.partition(":")
    try:
        opener = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if not exc.name or not exc.name.startswith("massager_ctl"):
            raise UsageError(
                f"{parsed.scheme}: devices need the Python package {exc.name!r}; install it with pip"
            ) from None
        raise UsageError(f"{parsed.scheme}: devices are not supported by this version yet") from None
    return await opener(parsed, faults=faults, simulate_ble=simulate_ble)


async def open_simulated(parsed, *, faults: Any = None, **_options: Any) -> OpenedDevice:
    """``sim:`` / ``sim:MODEL``: the model's simulator on an in-memory link, in this process."""
    definition = get_model(parsed.target or DEFAULT_SIM_MODEL)
    if definition.simulator is None or "sim" not in definition.schemes:
        simulated = ", ".join(n for n, m in MODELS.items() if m.simulator and "sim" in m.schemes)
        raise UsageError(f"model {definition.name} has no simulator; simulated models: {simulated}")
    from .transport.memory import MemoryLink

    link = MemoryLink()
    simulator = definition.load("simulator")(link.device, faults=faults, model=definition.name)
    await simulator.start()
    device = definition.load("driver")(
        link.host, min_write_gap_s=definition.min_write_gap_s, name=definition.name
    )
    opened = OpenedDevice(device, definition, simulator, [simulator.close])
    opened.link = link
    trace_path = os.environ.get(SIM_TRACE_ENV)
    if trace_path:
        opened.closers.insert(0, lambda: _write_sim_trace(simulator, trace_path))
    return opened


def _as_plan(profile: str | PathLike | Plan) -> Plan:
    """A Plan as given, or a profile file / shipped or user profile name, compiled."""
    if isinstance(profile, Plan):
        return profile
    from .profile import load_plan

    path = Path(profile)
    if not path.is_file():
        from .config import load_config
        from .profile.library import resolve_profile

        path = resolve_profile(str(profile), load_config())
    return load_plan(path)


def build_state(
    base: TargetState = STOPPED,
    *,
    technique: str | Technique | None = None,
    zones: Iterable[str | Zone] | None = None,
    intensity: float | None = None,
    speed: float | None = None,
    width: str | Width | None = None,
    heat: str | Heat | None = None,
    airbags: Mapping[str | Zone, float] | None = None,
) -> TargetState:
    """A target state from loose words, checked like a profile would be."""

    def word(enum, value, what):
        try:
            return enum(value)
        except ValueError:
            raise UsageError(f"{what} {value!r} is not one of {', '.join(enum.names())}") from None

    def percent(value, what):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{what} {value!r} is not a number") from None
        if not 0 <= v <= 100:
            raise UsageError(f"{what} {value!r} is outside 0..100")
        return v

    changes: dict[str, Any] = {}
    if technique is not None:
        changes["technique"] = None if technique == "none" else word(Technique, technique, "technique")
    if zones is not None:
        changes["zones"] = frozenset(word(Zone, z, "zone") for z in zones)
    if intensity is not None:
        changes["intensity"] = percent(intensity, "intensity")
    if speed is not None:
        changes["speed"] = percent(speed, "speed")
    if width is not None:
        changes["width"] = word(Width, width, "width")
    if heat is not None:
        changes["heat"] = word(Heat, heat, "heat")
    if airbags is not None:
        merged = dict(base.airbags)
        for z, p in airbags.items():
            merged[word(Zone, z, "airbag zone")] = percent(p, f"airbag {z}")
        changes["airbags"] = merged
    state = base.with_(**changes)
    if state.technique is not None and state.intensity > 0 and not state.zones:
        raise UsageError("say which zones the rollers should work on (e.g. --zones shoulders,upper_back)")
    if state.technique is not None and "speed" not in changes and state.speed == 0:
        state = state.with_(speed=50.0)
    return state


class Chair:
    """A connected device behind the safety governor. Get one from :func:`connect`."""

    def __init__(self, opened: OpenedDevice, limits: SafetyLimits, *, strict: bool = False) -> None:
        self._opened = opened
        self.device = opened.device
        self.governor = SafetyGovernor(limits)
        self.writer = Writer(self.device)
        self.strict = strict
        self.session: Session | None = None
        self._manual: TargetState = STOPPED
        self._background: asyncio.Task | None = None

    @property
    def model(self) -> str:
        return self.device.model

    @property
    def simulator(self):
        """The simulated device behind a ``sim:`` URI (None for real hardware)."""
        return self._opened.simulator

    def on_status(self, callback: Callable[[Status], None]) -> None:
        self.device.events.status.append(callback)

    async def status(self, timeout: float = 2.0) -> Status:
        """Ask the device for its status.

        Refused after a stop that failed, until a state or a stop succeeds again: every
        request is a frame, and frames feed the deadman that must be free to stop a
        device that ignored the stop. Its own status stream (:meth:`on_status`, and
        ``chair.device.last_status`` where it has one) still tells what it does."""
        if self.writer.keepalive_held:
            raise DeviceError(
                f"{self.device.model}: not asking for status after a stop that failed: "
                "requests would keep its deadman from stopping it (use chair.on_status, "
                "or stop it at the device)"
            )
        return await self.device.read_status(timeout=timeout)

    def _session(self, plan: Plan, on_progress, on_warning, reconnect=None) -> Session:
        if self.session is not None and self._background is None:
            raise DeviceError("a session is already playing on this device")
        self.session = Session(
            self.device,
            self.writer,
            self.governor,
            plan,
            strict=self.strict,
            on_progress=on_progress,
            on_warning=on_warning,
            reconnect=reconnect,
        )
        return self.session

    async def run(
        self,
        profile: str | PathLike | Plan,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        reconnect: ReconnectPolicy | bool | None = None,
    ) -> SessionReport:
        """Play a profile (a path, a shipped or user profile name, or a Plan) to its end.

        ``reconnect``: if the link drops, retry with bounded backoff and resume with
        intensity ramping up from zero (True for the default policy)."""
        await self._end_background()
        plan = _as_plan(profile)
        if reconnect is True:
            reconnect = ReconnectPolicy()
        session = self._session(plan, on_progress, on_warning, reconnect or None)
        try:
            return await session.run()
        finally:
            self.session = None

    async def set(self, *, duration: str | float | None = None, **words) -> None:
        """Change the manual state (technique, zones, intensity, speed, width, heat, airbags).

        Returns at once; the state is held in the background, through the
        governor (slew, caps, heat auto-off), until :meth:`stop`, the next
        ``set``, the ``duration`` (text like "5m" or seconds) or the session cap.
        """
        state = build_state(self._manual, **words)
        await self._end_background(stop=False)
        self._manual = state
        length_ms = self._duration_ms(duration)
        plan = manual_plan(state, length_ms)
        session = self._session(plan, None, None)
        self._background = asyncio.get_running_loop().create_task(session.run(), name="hold")
        await asyncio.sleep(0)

    def _duration_ms(self, duration) -> int:
        cap_ms = int(self.governor.limits.max_session_s * 1000)
        if duration is None:
            return cap_ms
        try:
            ms = parse_duration(duration) if isinstance(duration, str) else int(float(duration) * 1000)
        except DurationError as exc:
            raise UsageError(f"--for: {exc}") from None
        if ms <= 0:
            raise UsageError("--for must be above 0")
        return ms

    async def wait(self) -> SessionReport | None:
        """Wait for a background ``set`` to reach its duration."""
        if self._background is None:
            return None
        try:
            return await self._background
        finally:
            self._background = None
            self.session = None

    async def _end_background(self, stop: bool = True) -> None:
        task, self._background = self._background, None
        if task is not None:
            if self.session is not None:
                self.session.stop()
            try:
                await task
            except asyncio.CancelledError:
                raise
            except DeviceError as exc:
                log.warning("previous hold ended: %s", exc)
            self.session = None

    async def stop(self, timeout: float = 2.0) -> Status:
        """Stop everything now and return the device's confirmation."""
        self._manual = STOPPED
        await self._end_background()
        self.governor.stop()
        return await self.writer.stop_device(timeout=timeout)

    async def close(self) -> None:
        try:
            if self._background is not None:
                await self._end_background()
            if self.device.connected:
                try:
                    await self.stop()
                except DeviceError as exc:
                    log.error("could not confirm the stop before disconnecting: %s", exc)
        finally:
            await self.writer.close()
            await self.device.disconnect()
            await self._opened.close()


@asynccontextmanager
async def connect(
    uri: str | None = None,
    *,
    limits: SafetyLimits | None = None,
    strict: bool = False,
    faults: Any = None,
    simulate_ble: bool = False,
) -> AsyncIterator[Chair]:
    """Connect to a device (default: the built-in simulated chair) behind the governor."""
    opened = await open_device(uri, faults=faults, simulate_ble=simulate_ble)
    try:
        await opened.device.connect()
    except BaseException:
        await opened.close()
        raise
    chair = Chair(opened, limits or SafetyLimits(), strict=strict)
    try:
        yield chair
    finally:
        await chair.close()
