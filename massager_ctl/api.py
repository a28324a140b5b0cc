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
Leaving the ``async with`` block, by any route,
stops the device and waits for it to confirm before disconnecting (unless this
host never commanded it: ``Device.commanded`` is False, e.g. a chair started at
its own remote that this connection only looked at).

Two other ways in, for the two other things a person does with a device:

* ``connect(uri, control=False)`` (or :func:`observe`) only looks: it sends
  nothing that changes the device (no command, no session that arms a
  deadman) and leaves it as it was on the way out;
* :func:`stop` stops it now: the stop's bytes go on the line before anything
  waits on what the device says.

``service:NAME`` and ``mqtt://broker/NODE/DEVICE`` name a chair that a running
``massager-ctl serve`` owns: :func:`connect` then gives a
:class:`~massager_ctl.remote.chair.RemoteChair` (the :data:`AnyChair` union), with the
same methods for playing, holding, watching and stopping; its session, governor and
writer run in the service, so it has no ``device``, ``writer`` or ``session`` here.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .connection.open import OpenedDevice, open_device
from .core.capabilities import Capabilities
from .core.durations import DurationError, parse_length
from .core.errors import DeviceError, UsageError
from .core.status import DeviceState, Status
from .core.target import STOPPED, TargetState
from .core.vocabulary import Heat, Technique, Width, Zone
from .devices.base import Device
from .session.governor import SafetyGovernor
from .session.limits import SafetyLimits
from .session.pacing import paced_statuses
from .session.writer import Writer

if TYPE_CHECKING:  # imported where used: `status` and `stop` play nothing (start-up, issue 14)
    from .plan import Plan
    from .remote.chair import RemoteChair  # imported when a service URI is connected
    from .session.program import ProgramProgress, ProgramReport, ProgramSession
    from .session.runner import Progress, ReconnectPolicy, Session, SessionReport

log = logging.getLogger(__name__)

#: What :func:`connect` gives: a Chair here, or a RemoteChair a service owns.
AnyChair: TypeAlias = "Chair | RemoteChair"
#: The longest ``set`` waits for the device to take its state before returning anyway.
SETTLE_S = 2.0

#: The vocabulary a loose word in build_state is read as.
_Word = TypeVar("_Word", Technique, Zone, Width, Heat)


def _as_plan(profile: str | PathLike[str] | Plan) -> Plan:
    """A Plan as given, or a profile file / shipped or user profile name, compiled."""
    from .plan import Plan

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

    def word(enum: type[_Word], value: str, what: str) -> _Word:
        try:
            return enum(value)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(str(value), enum.names(), n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            raise UsageError(f"{what} {value!r} is not one of {', '.join(enum.names())}{hint}") from None

    def percent(value: float, what: str) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"{what} {value!r} is not a number") from None
        if isinstance(value, bool) or not math.isfinite(v):
            raise UsageError(f"{what} {value!r} is not a number")
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
    """A connected device behind the safety governor. Get one from :func:`connect`.

    ``control`` False: opened to observe only (:func:`observe`): :meth:`status`,
    :meth:`watch`, :meth:`on_status` and :meth:`on_fault` work; :meth:`run`,
    :meth:`run_program`, :meth:`set` and :meth:`stop` raise UsageError; closing leaves
    the device as it is."""

    def __init__(
        self, opened: OpenedDevice, limits: SafetyLimits, *, strict: bool = False, control: bool = True
    ) -> None:
        self._opened = opened
        self.device = opened.device
        self.governor = SafetyGovernor(limits)
        self.writer = Writer(self.device)
        self.strict = strict
        self.control = control
        self.session: Session | None = None
        self.program: ProgramSession | None = None
        self._manual: TargetState = STOPPED
        self._background: asyncio.Task[SessionReport] | None = None
        self._ending: asyncio.Task[SessionReport] | None = None  # a hold stop() ended, still confirming

    @property
    def model(self) -> str:
        return self.device.model

    @property
    def capabilities(self) -> Capabilities:
        """What the device can do (zones, techniques, steps, heat...)."""
        return self.device.capabilities

    @property
    def simulator(self) -> Any:
        """The simulated device behind a ``sim:`` URI (None for real hardware)."""
        return self._opened.simulator

    def on_status(self, callback: Callable[[Status], None]) -> None:
        self.device.events.status.append(callback)

    def on_fault(self, callback: Callable[[str], None]) -> None:
        """Called with one line for every fault the device reports (its fault text, a
        refusal nobody asked for, its status stopping). A session playing ends on one."""
        self.device.events.fault.append(callback)

    def _require_control(self, what: str) -> None:
        if not self.control:
            raise UsageError(
                f"{self.device.model}: opened to observe only (control=False): {what} needs "
                "massager_ctl.connect(uri), which takes control"
            )

    async def watch(self, interval_s: float = 0.5) -> AsyncIterator[Status]:
        """The device's status every ``interval_s`` (on the loop clock, no drift), until the
        caller stops iterating. Each is a :meth:`status` call: on an observing chair, a query
        that changes nothing on the device."""
        async for status in paced_statuses(self.status, interval_s):
            yield status

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

    def _session(
        self,
        plan: Plan,
        on_progress: Callable[[Progress], None] | None,
        on_warning: Callable[[str], None] | None,
        reconnect: ReconnectPolicy | None = None,
    ) -> Session:
        from .session.runner import Session

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
            tolerance=getattr(self._opened.definition, "status_tolerance", None),
        )
        return self.session

    async def run(
        self,
        profile: str | PathLike[str] | Plan,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        reconnect: ReconnectPolicy | bool | None = None,
        on_end: Callable[[SessionReport], None] | None = None,
    ) -> SessionReport:
        """Play a profile (a path, a shipped or user profile name, or a Plan) to its end.

        ``reconnect``: if the link drops, retry with bounded backoff and resume with
        intensity ramping up from zero (True for the default policy).
        ``on_end`` gets the final report however the session ends (its end, a stop,
        a cancel on Ctrl-C or SIGTERM, an error), once the device's stop is done: in the
        same path that stops the device, so what it records is never lost to a signal."""
        self._require_control("run")
        await self._end_background()
        plan = _as_plan(profile)
        if reconnect is True:
            from .session.runner import ReconnectPolicy

            reconnect = ReconnectPolicy()
        session = self._session(plan, on_progress, on_warning, reconnect or None)
        try:
            return await session.run()
        finally:
            self.session = None
            if on_end is not None:
                on_end(session.report)

    async def run_program(
        self,
        name: str,
        *,
        duration: str | float | None = None,
        on_progress: Callable[[ProgramProgress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        on_end: Callable[[ProgramReport], None] | None = None,
    ) -> ProgramReport:
        """Run the chair's own built-in program ``name`` (see :attr:`programs`) until the
        chair's own timer ends it, and return a :class:`ProgramReport`.

        ``duration`` ("20m" or seconds; default 20 min, the chair's default) must be one
        of the chair's timer lengths and fit the session cap. The chair plays the
        program by itself; the governor watches it: heat it switches on is switched
        off at the heat auto-off time (or at once above the heat cap), and the program
        is stopped at the session cap, or if the chair still runs a little after its
        timer. :meth:`stop` ends it from another task. However it ends, the chair is
        told to stop and confirm, as after a profile; then ``on_end`` gets the report."""
        self._require_control("run_program")
        await self._end_background()
        self._busy()
        length_s = None if duration is None else self._duration_ms(duration) / 1000.0
        from .session.program import ProgramSession, program_length_s

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
        program = self.program
        try:
            return await program.run()
        finally:
            self.program = None
            if on_end is not None:
                on_end(program.report)

    async def set(self, *, duration: str | float | None = None, **words: Any) -> None:
        """Change the manual state (technique, zones, intensity, speed, width, heat, airbags).

        The state is held in the background, through the governor (slew, caps, heat
        auto-off), until :meth:`stop`, the next ``set``, the ``duration`` (text like "5m"
        or seconds) or the session cap. Returns once the device has taken the first state
        of it (acknowledged it, where its protocol can), or after ``SETTLE_S`` at most.

        A ``set`` while a hold plays changes that hold in place: one state goes to the
        device, with no stop in between. The hold stays one session: its cap and heat
        auto-off count from its first ``set``, and intensity rises from where it is under
        the slew limit. (Devices that time a session on their own side, the Rongtai
        chairs, start a new hold instead, so that their timer is armed for its length.)
        """
        self._require_control("set")
        state = build_state(self._manual, **words)
        length_ms = self._duration_ms(duration)
        from .session.runner import manual_plan

        plan = manual_plan(state, length_ms)
        loop = asyncio.get_running_loop()
        taken = self._change_hold(plan)
        if taken is None:
            await self._end_background(stop=False)
            session = self._session(plan, None, None)
            self._background = loop.create_task(session.run(), name="hold")
            taken = loop.create_task(session.first_submit(), name="hold-first-state")
        self._manual = state
        await self._taken(taken)

    def _change_hold(self, plan: Plan) -> asyncio.Future[None] | None:
        """Give the hold playing ``plan`` in place; None when there is no hold to change."""
        task, session = self._background, self.session
        if task is None or task.done() or session is None:
            return None
        if type(self.device).plan_session is not Device.plan_session:
            return None  # the device arms a timer of its own for each hold's length
        self.governor.check_length(plan.duration_ms / 1000.0)
        return session.replace_plan(plan)

    async def _taken(self, submitted: asyncio.Future[None]) -> None:
        """Wait until the hold submitted its new state and the writer wrote it (the
        device's ACK), at most SETTLE_S; raise the write's error if the device refused it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        hold = self._background
        waits: set[asyncio.Future[Any]] = {submitted} if hold is None else {submitted, hold}
        await asyncio.wait(waits, timeout=SETTLE_S, return_when=asyncio.FIRST_COMPLETED)
        if not submitted.done():
            submitted.cancel()
            return  # the hold ended first (its report says why), or is slow to start
        if submitted.cancelled() or submitted.exception() is not None:
            return
        remaining = deadline - loop.time()
        if remaining > 0:
            try:
                await self.writer.drain(timeout=remaining)
            except TimeoutError:
                return  # still on its way (a slow link, a resend): the hold goes on
        if self.writer.error is not None:
            raise self.writer.error

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
        await self._end_ending()
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

    async def stop(self, timeout: float = 2.0, *, confirm: bool = False) -> Status:
        """Stop everything now: one stop goes to the device, ahead of anything waiting.

        Returns as soon as the device acknowledges it (the native protocol's ACK, sent
        once its outputs are off), with a status built from that answer
        (``extra["acknowledged"]``); the device's own status confirms it afterwards, and
        leaving ``connect()`` waits for that. ``confirm=True`` waits for the confirming
        status here and returns it. Devices that do not acknowledge before confirming
        return their confirmation either way. Raises DeviceError if the stop was not
        acknowledged (or, with ``confirm``, not confirmed) within ``timeout``."""
        self._require_control("stop")
        self._manual = STOPPED
        program = self.program
        if program is not None:  # its own finally stops the chair; then confirm here
            program.stop()
            await program.wait()
        hold, session = self._background, self.session
        if hold is not None and session is not None and not hold.done():
            # The hold ends; its own final stop joins this one (one STOP on the line),
            # and whoever comes next (close, run, set, wait) sees it out.
            session.stop()
            self._ending = hold
            self._background = None
        else:
            await self._end_background()
        self.governor.stop()
        status = await self.writer.stop_device(timeout=timeout, until_ack=not confirm)
        if confirm:
            await self._end_ending()
        return status

    async def _end_ending(self) -> None:
        """See out a hold that :meth:`stop` ended without waiting for its confirmation."""
        task, self._ending = self._ending, None
        if task is None:
            return
        try:
            await task
        except asyncio.CancelledError:
            raise
        except DeviceError as exc:
            log.warning("the hold ended: %s", exc)
        finally:
            if self.session is not None and self._background is None:
                self.session = None

    async def close(self) -> None:
        """Controlling: stop the device (confirmed), then disconnect. Observing: disconnect
        only, leaving the device as it is."""
        try:
            if self._background is not None or self._ending is not None:
                await self._end_background()
            if self.control and self.device.connected and self.device.commanded:
                try:
                    await self.stop(confirm=True)
                except DeviceError as exc:
                    log.error("could not confirm the stop before disconnecting: %s", exc)
        finally:
            await self.writer.close()
            await self.device.disconnect()
            await self._opened.close()


def freeze_setup() -> None:
    """Tell the garbage collector that what was built so far lives as long as the process.

    For a process that connects and then plays for minutes or hours (the CLI's ``run``
    and ``set``; a script driving many chairs, after connecting them all): imported
    modules, the device, its driver and simulator, the session's machinery are never
    garbage, yet every full collection walks them all. ``gc.freeze()`` moves them out of
    its way: a full collection of a ``sim:`` session takes 0.1-0.4 ms instead of 5-6 ms,
    and 256 chairs in one process run without the 30-100 ms pauses that otherwise push
    step boundaries late (bench/bench_memory.py, bench/bench_scale.py). Call it once,
    after set-up; it is process-wide (objects frozen are never collected)."""
    import gc

    gc.collect()
    gc.freeze()


def dry_run(
    profile: str | PathLike[str] | Plan,
    *,
    limits: SafetyLimits | None = None,
    strict: bool = False,
    on_write: Callable[[float, DeviceState], None] | None = None,
    on_stop: Callable[[float], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    device: str | None = None,
) -> SessionReport:
    """Play a profile against no device, in virtual time: what would be sent, and when.

    The session, governor, mapping and writer run as for a chair of the model that
    ``device`` names (a device URI such as ``sim:rongtai-rt8600s`` or
    ``serial:/dev/ttyUSB0?model=nlr-hf8``, or a model name; default the reference
    chair): its capabilities, its mapping, its write gap. Every state that would be
    written reaches ``on_write`` (loop time in seconds, the state in that model's
    steps), the final stop ``on_stop``. A device whose model only connecting would
    tell is refused (say ``?model=NAME``). Runs its own virtual-time loop: call it from
    plain code, not from a running loop."""
    from .connection.open import model_named_by
    from .devices.dry_run import DryRunDevice
    from .session.clock import VirtualClock

    plan = _as_plan(profile)
    definition = model_named_by(device)
    if definition is None:
        raise UsageError(
            f"{device}: the model is only known once connected; a dry run needs it named "
            "(add ?model=NAME, see `massager-ctl devices`)"
        )
    capabilities = definition.static_capabilities()
    if capabilities is None:
        raise UsageError(
            f"{definition.name} reports what it can do only when connected; a dry run cannot "
            "know its capabilities (try --device sim: for the reference chair)"
        )

    from .session.runner import Session

    async def play() -> SessionReport:
        device = DryRunDevice(
            on_write=on_write,
            on_stop=on_stop,
            capabilities=capabilities,
            model=f"{definition.name} (dry run)",
            min_write_gap_s=definition.min_write_gap_s,
        )
        writer = Writer(device)
        session = Session(device, writer, SafetyGovernor(limits), plan, strict=strict, on_warning=on_warning)
        try:
            return await session.run()
        finally:
            await writer.close()

    return VirtualClock().run(play())


def describe_connection(uri: str, opened: OpenedDevice) -> str:
    """What was connected, for the log (``-v``): model, port, firmware, capabilities, timing."""
    device, definition = opened.device, opened.definition
    parts = [f"connected to {device.model} ({definition.title}) on {uri}"]
    port = getattr(getattr(device, "transport", None), "port", None) or getattr(device, "port", None)
    if isinstance(port, str):
        parts.append(f"port {port}")
    info = getattr(device, "info", None)
    if info is not None and hasattr(info, "version"):
        parts.append(f"protocol v{info.version}")
    firmware = getattr(device, "firmware", None) or getattr(device, "firmware_reply", None)
    if firmware:
        parts.append(f"firmware {firmware.hex(' ') if isinstance(firmware, bytes) else firmware}")
    caps = device.capabilities
    techniques = ",".join(t.value for t in sorted(caps.techniques)) or "none"
    zones = ",".join(z.value for z in sorted(caps.zones, key=lambda z: list(Zone).index(z))) or "none"
    parts.append(
        f"techniques {techniques}; zones {zones}; intensity steps {caps.intensity_steps}, "
        f"speed steps {caps.speed_steps}, airbag levels {caps.airbag_levels}, "
        f"heat {','.join(h.value for h in caps.heat_levels) or 'none'}"
    )
    timing = f"writes at most every {device.min_write_gap_s * 1000:.0f} ms"
    if device.keepalive_s:
        timing += f", keepalive every {device.keepalive_s:g} s"
    deadman_ms = getattr(device, "deadman_ms", None)
    if isinstance(deadman_ms, int):
        timing += f", deadman {deadman_ms} ms"
    parts.append(timing)
    return "; ".join(parts)


@asynccontextmanager
async def connect(
    uri: str | None = None,
    *,
    control: bool = True,
    limits: SafetyLimits | None = None,
    strict: bool = False,
    faults: Any = None,
    simulate_ble: bool = False,
) -> AsyncIterator[AnyChair]:
    """Connect to a device (default: the built-in simulated chair) behind the governor.

    ``control`` True (the default): take control of it (the native protocol's HELLO, the
    stop prepared); leaving the block stops it and waits for the confirmation.
    ``control`` False: only look (:func:`observe`).
    ``service:NAME`` and ``mqtt://broker/NODE/DEVICE`` reach a chair that a running
    ``massager-ctl serve`` owns (:class:`massager_ctl.remote.chair.RemoteChair`, the
    same methods): its session and governor run in that service; ``limits`` here can
    only tighten what a profile sent from here may do."""
    from .remote.connect import is_remote

    if is_remote(uri):
        from .remote.connect import connect_remote

        assert uri is not None  # is_remote says so
        async with connect_remote(uri, limits=limits) as remote:
            yield remote
        return
    opened = await open_device(uri, faults=faults, simulate_ble=simulate_ble)
    try:
        if control:
            await opened.device.connect()
        else:
            await opened.device.observe()
    except BaseException:
        await opened.close()
        raise
    if log.isEnabledFor(logging.INFO):
        log.info("%s", describe_connection(uri or "sim:", opened))
    chair = Chair(opened, limits or SafetyLimits(), strict=strict, control=control)
    try:
        yield chair
    finally:
        await chair.close()


def observe(
    uri: str | None = None, *, faults: Any = None, simulate_ble: bool = False
) -> AbstractAsyncContextManager[AnyChair]:
    """``connect(uri, control=False)``: a Chair that only looks. It sends nothing that
    changes the device (queries only: GET_STATUS, ``P``, ``Q``, the gun's status request;
    no HELLO, so no deadman is armed) and does not stop it on the way out."""
    return connect(uri, control=False, faults=faults, simulate_ble=simulate_ble)


async def stop(
    uri: str | None = None,
    *,
    timeout: float = 2.0,
    faults: Any = None,
    simulate_ble: bool = False,
    on_progress: Callable[[str, Status], None] | None = None,
) -> Status:
    """Stop the device a URI names, now: the stop's bytes go on the line as soon as the
    link is open, before anything waits on what the device says (its identification, its
    answers); confirmation comes after and never holds the stop back. Returns the status
    confirming it (``status.confirmed`` False when the device cannot say); raises
    StopNotConfirmed when the stop could not be sent, or a device that reports its state
    did not confirm it. ``on_progress`` hears a chair that returns home before it goes
    off (a Rongtai chair's reset): the phase and the status that shows it.

    A chair a service owns (``service:``, ``mqtt://``) is stopped by that service,
    whatever plays on it and whoever started it; this returns its confirmation."""
    from .remote.connect import is_remote

    if uri is not None and is_remote(uri):
        from .remote.connect import connect_remote

        async with connect_remote(uri) as remote:
            return await remote.stop(timeout=timeout)
    opened = await open_device(uri, faults=faults, simulate_ble=simulate_ble)
    if on_progress is not None and hasattr(opened.device, "on_stop_progress"):
        opened.device.on_stop_progress = on_progress
    try:
        return await opened.device.open_and_stop(timeout=timeout)
    finally:
        try:
            await opened.device.disconnect()
        finally:
            await opened.close()
