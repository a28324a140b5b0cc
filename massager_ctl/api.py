"""The scripting API: everything the CLI does, from Python.

    import asyncio, massager_ctl

    async def main():
        async with massager_ctl.connect("sim:") as chair:
            chair.on_status(print)
            report = await chair.run("quick")
            await chair.set(technique="knead", zones=["shoulders"], intensity=30, heat="low")
            await asyncio.sleep(60)
            await chair.stop()

    async def chair_program():  # a chair's own built-in program (Rongtai chairs)
        async with massager_ctl.connect("sim:rongtai-rt8600s") as chair:
            report = await chair.run_program("relax", duration="20m")

    asyncio.run(main())

Every command, whether from a profile or from ``set``, goes through the same
safety governor and writer; a chair's own program is watched by that governor.
Leaving the ``async with`` block, by any route, stops the device and waits for
it to confirm before disconnecting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from os import PathLike
from pathlib import Path
from typing import Any

from .connection.open import OpenedDevice, open_device
from .core.durations import DurationError, parse_length
from .core.errors import DeviceError, UsageError
from .core.status import DeviceState, Status
from .core.target import STOPPED, TargetState
from .core.vocabulary import Heat, Technique, Width, Zone
from .plan import Plan
from .session.governor import SafetyGovernor
from .session.limits import SafetyLimits
from .session.program import ProgramProgress, ProgramReport, ProgramSession, program_length_s
from .session.runner import Progress, ReconnectPolicy, Session, SessionReport, manual_plan
from .session.writer import Writer

log = logging.getLogger(__name__)


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
        self.program: ProgramSession | None = None
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

    @property
    def programs(self) -> tuple[str, ...]:
        """The chair's own built-in programs (empty if its driver cannot start them)."""
        if not hasattr(self.device, "run_program"):
            return ()
        return tuple(self.device.capabilities.programs)

    def _busy(self) -> None:
        if (self.session is not None and self._background is None) or self.program is not None:
            raise DeviceError("a session is already playing on this device")

    def _session(self, plan: Plan, on_progress, on_warning, reconnect=None) -> Session:
        self._busy()
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

    async def run_program(
        self,
        name: str,
        *,
        duration: str | float | None = None,
        on_progress: Callable[[ProgramProgress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> ProgramReport:
        """Run the chair's own built-in program ``name`` (see :attr:`programs`) until the
        chair's own timer ends it, and return a :class:`ProgramReport`.

        ``duration`` ("20m" or seconds; default 20 min, the chair's default) must be one
        of the chair's timer lengths and fit the session cap. The chair plays the
        program by itself; the governor watches it: heat it switches on is switched
        off at the heat auto-off time (or at once above the heat cap), and the program
        is stopped at the session cap, or if the chair still runs a little after its
        timer. :meth:`stop` ends it from another task. However it ends, the chair is
        told to stop and confirm, as after a profile."""
        await self._end_background()
        self._busy()
        length_s = None if duration is None else self._duration_ms(duration) / 1000.0
        length_s = program_length_s(self.device, name, length_s)
        self.program = ProgramSession(
            self.device,
            self.writer,
            self.governor,
            name,
            length_s,
            on_progress=on_progress,
            on_warning=on_warning,
        )
        try:
            return await self.program.run()
        finally:
            self.program = None

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

    def _duration_ms(self, duration: str | float | None) -> int:
        if duration is None:
            return int(self.governor.limits.max_session_s * 1000)
        try:
            return parse_length(duration)
        except DurationError as exc:
            raise UsageError(f"duration: {exc}") from None

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
        program = self.program
        if program is not None:  # its own finally stops the chair; then confirm here
            program.stop()
            await program.wait()
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


def dry_run(
    profile: str | PathLike | Plan,
    *,
    limits: SafetyLimits | None = None,
    strict: bool = False,
    on_write: Callable[[float, DeviceState], None] | None = None,
    on_stop: Callable[[float], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> SessionReport:
    """Play a profile against no device, in virtual time: what would be sent, and when.

    The session, governor, mapping and writer run as for a chair (the reference
    chair's capabilities); every state that would be written reaches ``on_write``
    (loop time in seconds, the state in device steps), the final stop ``on_stop``.
    Runs its own virtual-time loop: call it from plain code, not from a running loop."""
    from .devices.dry_run import DryRunDevice
    from .session.clock import VirtualClock

    plan = _as_plan(profile)

    async def play() -> SessionReport:
        device = DryRunDevice(on_write=on_write, on_stop=on_stop)
        writer = Writer(device)
        session = Session(device, writer, SafetyGovernor(limits), plan, strict=strict, on_warning=on_warning)
        try:
            return await session.run()
        finally:
            await writer.close()

    return VirtualClock().run(play())


@asynccontextmanager
async def connect(
    uri: str | None = None,
    *,
    limits: SafetyLimits | None = None,
    strict: bool = False,
    faults: Any = None,
    simulate_ble: bool = False,
) -> AsyncIterator[Chair]:
    """Connect to a device (default: the built-in simulated chair) behind the governor.

    ``service:NAME`` and ``mqtt://broker/NODE/DEVICE`` reach a chair that a running
    ``massager-ctl serve`` owns (:class:`massager_ctl.remote.chair.RemoteChair`, the
    same methods): its session and governor run in that service; ``limits`` here can
    only tighten what a profile sent from here may do."""
    from .remote.connect import is_remote

    if is_remote(uri):
        from .remote.connect import connect_remote

        async with connect_remote(uri, limits=limits) as remote:  # type: ignore[arg-type]
            yield remote  # type: ignore[misc]
        return
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
