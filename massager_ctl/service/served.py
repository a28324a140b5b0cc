"""One device owned by the service: its link, the session playing on it, its events.

A :class:`ServedDevice` holds one :class:`~massager_ctl.api.Chair` for as long as the
service runs and plays whatever its clients ask for through that chair's governor,
writer and stop paths, exactly as the CLI would: ``run`` plays a plan with
``Chair.run``; ``set`` plays a one-step plan the same way; ``program`` is
``Chair.run_program``. One job at a time; a second is refused while one plays.

Stop always wins: :meth:`ServedDevice.stop` is never refused, never waits behind a
job being started, ends the job playing (its own ``finally`` sends the device's
prepared stop), then stops the device again and returns its confirmation. While a
stop is under way, nothing new may start.

The link is kept up: if it drops between jobs the device is reconnected with bounded
backoff, forever; a job playing when it drops reconnects itself (``run
--reconnect``'s policy) and resumes from zero intensity.

Everything that happens is an event (a JSON-ready dict, see
:mod:`massager_ctl.remote.wire`) handed to every listener: the control socket's
clients and the MQTT bridge.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..api import Chair, build_state
from ..connection.open import OpenedDevice, open_device
from ..core.capabilities import Capabilities
from ..core.errors import DeviceError, MassagerError, UsageError
from ..core.status import Status
from ..core.vocabulary import Heat
from ..plan import Plan
from ..remote import wire
from ..remote.wire import JsonObject
from ..session.limits import SafetyLimits
from ..session.program import ProgramProgress, ProgramReport
from ..session.runner import Progress, ReconnectPolicy, Session, SessionReport, manual_plan

log = logging.getLogger(__name__)

Listener = Callable[[JsonObject], None]
Report = SessionReport | ProgramReport


@runtime_checkable
class ZeroGravity(Protocol):
    """A driver that takes the chair to its zero-gravity recline (Rongtai)."""

    async def zero_gravity(self, timeout: float | None = None) -> Status: ...


@runtime_checkable
class Motors(Protocol):
    """A driver that runs one of the chair's recline motors for a while (Rongtai)."""

    async def move(self, motor: str, seconds: float) -> Status: ...


#: Device names: what people type after ``service:`` and what MQTT topics and Home
#: Assistant ids are made of.
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

#: Reconnect backoff between jobs (seconds): first, then doubling up to the last.
LINK_FIRST_DELAY_S = 0.5
LINK_MAX_DELAY_S = 30.0
#: A device that pushes no status of its own is asked this often.
STATUS_POLL_S = 1.0
#: How long a stop waits for the job to wind down before it stops the device anyway.
STOP_WAIT_S = 5.0


@dataclass
class Job:
    """What plays on the device now: a profile, a held state (``set``) or a program."""

    id: int
    kind: str  # profile | set | program
    name: str
    owner: object = None  # who asked (a control connection), told of its end
    task: asyncio.Task[Report] | None = None
    progress: JsonObject | None = None
    started_at: float = 0.0
    length_s: float = 0.0
    heat_hold: bool = False  # a `set` of heat alone (the heat switch)
    stop_requested: bool = False

    def to_dict(self) -> JsonObject:
        return {"id": self.id, "kind": self.kind, "name": self.name}


@dataclass
class LastEnd:
    reason: str = ""
    message: str = ""
    job: JsonObject = field(default_factory=dict)


class ServedDevice:
    """One named device of the service. Create, ``await start()``, then command it."""

    _ids = itertools.count(1)

    def __init__(
        self,
        name: str,
        uri: str,
        limits: SafetyLimits,
        *,
        simulate_ble: bool = False,
        strict: bool = False,
        reconnect: ReconnectPolicy | None = None,
        resolve_profile: Callable[[str], Plan] | None = None,
        profile_names: Callable[[], list[str]] | None = None,
    ) -> None:
        if not NAME_RE.match(name):
            raise UsageError(
                f"device name {name!r}: use 1 to 40 letters, digits, '-' or '_' (it becomes part of "
                "MQTT topics and Home Assistant ids)"
            )
        self.name = name
        self.uri = uri
        self.limits = limits
        self.simulate_ble = simulate_ble
        self.strict = strict
        self.reconnect = reconnect or ReconnectPolicy()
        self._resolve_profile = resolve_profile
        self._profile_names = profile_names or (lambda: [])
        self.listeners: list[Listener] = []
        #: How many clients watch this device's statuses (the control socket counts them).
        self.status_watchers = 0
        self.chair: Chair | None = None
        self.opened: OpenedDevice | None = None
        self.job: Job | None = None
        self.last_status: Status | None = None
        self.last_end = LastEnd()
        self.last_error = ""
        self.intensity_cap = limits.max_intensity
        self.selected_profile = ""
        self._connected_once = False
        self._announced: bool | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._link_lost = asyncio.Event()
        self._stopping = 0
        self._closing = False
        self._status_at = float("-inf")

    # -- what it is -------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.chair.model if self.chair is not None else ""

    @property
    def capabilities(self) -> Capabilities | None:
        return self.chair.device.capabilities if self.chair is not None else None

    @property
    def programs(self) -> tuple[str, ...]:
        return self.chair.programs if self.chair is not None else ()

    @property
    def linked(self) -> bool:
        return self._connected_once and self.chair is not None and self.chair.device.connected

    def moves(self) -> tuple[str, ...]:
        """The chair's own moves the service offers: zero_gravity, recline, sit_up."""
        if self.chair is None:
            return ()
        device = self.chair.device
        out = []
        table = getattr(device, "table", None)  # a key-press chair's key table (Rongtai)
        if isinstance(device, ZeroGravity) and getattr(table, "zero_gravity", None):
            out.append("zero_gravity")
        motors = getattr(table, "motors", {}) or {}
        if isinstance(device, Motors):
            if "backrest_down" in motors:
                out.append("recline")
            if "backrest_up" in motors:
                out.append("sit_up")
        return tuple(out)

    def describe(self) -> JsonObject:
        caps = self.capabilities
        return {
            "name": self.name,
            "uri": self.uri,
            "model": self.model,
            "linked": self.linked,
            "programs": list(self.programs),
            "moves": list(self.moves()),
            "heat": bool(caps and caps.has_heat),
            "capabilities": caps.to_dict() if caps is not None else None,
            "max_intensity": self.limits.max_intensity,
            "job": self.job.to_dict() if self.job else None,
        }

    # -- events ---------------------------------------------------------------------------

    def _emit(self, event: str, **data: Any) -> None:
        message = {"event": event, "device": self.name, **data}
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop a session
                log.exception("event listener failed")

    def _on_status(self, status: Status) -> None:
        self.last_status = status
        self._status_at = asyncio.get_running_loop().time()
        if self.status_watchers:  # 10 a second per chair: built only for someone who watches
            self._emit("status", status=wire.status_to_dict(status))

    def _on_disconnect(self, reason: str) -> None:
        log.warning("%s: link lost (%s)", self.name, reason)
        if self._announced:
            self._announced = False
            self._emit("link", up=False, message=reason)
        self._link_lost.set()

    def snapshot(self) -> JsonObject:
        """Everything a dashboard shows, in one JSON object (the MQTT ``state`` topic)."""
        job, status = self.job, self.last_status
        state = "offline" if not self.linked else "idle"
        progress = (job.progress or {}) if job else {}
        if job is not None:
            if self._stopping or job.stop_requested:
                state = "stopping"
            elif job.kind == "program":
                state = "program"
            elif progress.get("paused"):
                state = "paused"
            else:
                state = "playing"
        target = progress.get("target") or {}
        if job is not None and job.kind == "program":
            remaining = progress.get("remaining_s")
        elif progress:
            remaining = max(0, (progress.get("total_ms", 0) - progress.get("plan_ms", 0)) // 1000)
        else:
            remaining = None
        heat = (status.state.heat.value if status else "off") if job is None or not target else target["heat"]
        bags = target.get("airbags") or {}
        if status is not None and not bags and status.state.airbags:
            bags = {z.value: lvl for z, lvl in status.state.airbags}
        return {
            "state": state,
            "job": job.to_dict() if job else None,
            "profile": job.name if job and job.kind != "program" else None,
            "profile_selected": self.selected_profile or None,
            "program": job.name if job and job.kind == "program" else None,
            "segment": progress.get("segment") or "",
            "segment_index": progress.get("segment_index", 0),
            "remaining_s": None if remaining is None else int(remaining),
            "elapsed_s": None if not progress else round(progress.get("elapsed_s", 0.0), 1),
            "intensity": round(float(target.get("intensity", 0.0)), 1) if target else 0.0,
            "intensity_cap": self.intensity_cap,
            "heat": heat,
            "heat_on": "OFF" if heat == "off" else "ON",
            "heater_temp_c": status.heater_temp_c if status else None,
            "airbags": ", ".join(f"{z} {p:g}" for z, p in bags.items()) or "none",
            "last_end": self.last_end.reason or None,
            "last_end_message": self.last_end.message,
            "last_error": self.last_error,
            "status": wire.status_to_dict(status) if status else None,
        }

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the device (does not wait for its link: that is kept up in the background)."""
        self.opened = await open_device(self.uri, simulate_ble=self.simulate_ble)
        self.chair = Chair(self.opened, self.limits, strict=self.strict)
        self.chair.governor.set_intensity_cap(self.intensity_cap, lasting=True)
        device = self.chair.device
        device.events.status.append(self._on_status)
        device.events.disconnect.append(self._on_disconnect)
        loop = asyncio.get_running_loop()
        self._link_task = loop.create_task(self._keep_linked(), name=f"link {self.name}")
        self._poll_task = loop.create_task(self._poll_status(), name=f"poll {self.name}")

    async def wait_linked(self, timeout: float | None = None) -> bool:
        async def linked() -> None:
            while not self.linked:
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(linked(), timeout)
        except TimeoutError:
            return False
        return True

    async def _keep_linked(self) -> None:
        """Connect, and reconnect whenever the link drops while no job plays (a job
        playing reconnects by itself; this looks again when it ends)."""
        assert self.chair is not None
        device = self.chair.device
        delay = LINK_FIRST_DELAY_S
        while not self._closing:
            if self.job is not None:
                await self._job_done()
                continue
            if self.linked:
                self._announce(True)
                self._link_lost.clear()
                if device.connected:
                    await self._link_lost.wait()
                continue
            self._announce(False)
            try:
                await asyncio.wait_for(device.connect(), self.reconnect.connect_timeout_s)
            except (MassagerError, TimeoutError, OSError) as exc:
                log.warning(
                    "%s: cannot reach %s (%s); trying again in %.1f s", self.name, self.uri, exc, delay
                )
                self.last_error = f"cannot reach the device: {exc}"
                await asyncio.sleep(delay)
                delay = min(delay * 2, LINK_MAX_DELAY_S)
                continue
            delay = LINK_FIRST_DELAY_S
            self._connected_once = True
            self.last_error = ""
            log.info("%s: linked to %s (%s)", self.name, self.model, self.uri)

    def _announce(self, up: bool) -> None:
        if self._announced is not up:
            self._announced = up
            self._emit("link", up=up, message="" if up else "link down")

    async def _job_done(self) -> None:
        job = self.job
        if job is not None and job.task is not None:
            await asyncio.wait([job.task])
        await asyncio.sleep(0)

    async def _poll_status(self) -> None:
        """Ask for a status when the device has said nothing for a while (devices that
        only answer; a device streaming its status is never asked)."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            await asyncio.sleep(STATUS_POLL_S)
            if not self.linked or self.chair is None or self._stopping:
                continue
            if loop.time() - self._status_at < STATUS_POLL_S:
                continue
            if self.chair.writer.keepalive_held:
                continue
            try:
                await self.chair.status(timeout=STATUS_POLL_S)
            except MassagerError as exc:
                log.debug("%s: status poll: %s", self.name, exc)
                continue
            except Exception:  # noqa: BLE001 - the poll must go on
                log.exception("%s: status poll failed", self.name)

    async def close(self) -> None:
        """Stop the device (confirmed where it can), then let it go."""
        self._closing = True
        try:
            if self.chair is not None and (self.job is not None or self.linked):
                try:
                    await self.stop()
                except MassagerError as exc:
                    log.error("%s: could not confirm the stop: %s", self.name, exc)
        finally:
            for task in (self._link_task, self._poll_task):
                if task is not None:
                    task.cancel()
                    try:
                        await task
                    except (asyncio.CancelledError, Exception):  # noqa: BLE001
                        pass
            if self.chair is not None:
                await self.chair.close()

    # -- jobs --------------------------------------------------------------------------------

    def _can_start(self) -> None:
        if self._stopping:
            raise DeviceError(f"{self.name}: a stop is under way; nothing starts until it is done")
        if self.chair is None or not self.linked:
            raise DeviceError(f"{self.name}: not connected to {self.uri} (the service keeps trying)")
        if self.job is not None:
            raise DeviceError(f"{self.name}: {self.job.kind} {self.job.name!r} is playing; stop it first")

    def _begin(
        self, kind: str, name: str, owner: object, factory: Callable[[], Awaitable[Report]], length_s: float
    ) -> Job:
        job = Job(next(self._ids), kind, name, owner=owner, length_s=length_s)
        job.started_at = asyncio.get_running_loop().time()
        self.job = job
        assert self.chair is not None
        # A new job starts under the configured heat cap again (the heat switch's "off"
        # lasts one job); the intensity cap stays where it was set (a lasting cap).
        self.chair.governor.set_heat_ceiling(Heat.HIGH)
        job.task = asyncio.get_running_loop().create_task(self._play(job, factory), name=f"{kind} {name}")
        self._emit("session", state="started", job=job.to_dict(), length_s=length_s)
        return job

    async def _play(self, job: Job, factory: Callable[[], Awaitable[Report]]) -> Report:
        report: Report
        try:
            report = await factory()
        except asyncio.CancelledError:
            # Cancelled before its session began (a stop: nothing was sent yet), or the
            # service is shutting down (the session's own finally stopped the device).
            report = SessionReport(reason="stopped" if job.stop_requested else "cancelled")
            self._ended(job, report)
            raise
        except MassagerError as exc:
            reason = "disconnected" if "lost the link" in str(exc) or "disconnect" in str(exc) else "error"
            report = SessionReport(reason=reason, message=str(exc))
            log.warning("%s: %s %s ended: %s", self.name, job.kind, job.name, exc)
        except Exception as exc:  # noqa: BLE001 - reported, never a traceback to the client
            log.exception("%s: %s %s failed", self.name, job.kind, job.name)
            report = SessionReport(reason="error", message=f"unexpected error: {exc}")
        self._ended(job, report)
        return report

    def _ended(self, job: Job, report: Report) -> None:
        if self.job is job:
            self.job = None
        self.last_end = LastEnd(report.reason, report.message, job.to_dict())
        log.info("%s: %s %s ended: %s", self.name, job.kind, job.name, report.reason)
        self._emit("session", state="ended", job=job.to_dict(), report=wire.report_to_dict(report))

    def _progress(self, job: Job) -> Callable[[Progress], None]:
        def on_progress(p: Progress) -> None:
            job.progress = wire.progress_to_dict(p)
            self._emit("progress", job=job.to_dict(), progress=job.progress)

        return on_progress

    def _program_progress(self, job: Job) -> Callable[[ProgramProgress], None]:
        def on_progress(p: ProgramProgress) -> None:
            job.progress = wire.program_progress_to_dict(p)
            self._emit("progress", job=job.to_dict(), progress=job.progress)

        return on_progress

    def _warn(self, message: str) -> None:
        self._emit("warning", message=message)

    def plan_for(self, profile: str) -> Plan:
        """A profile of the service's library, by bare name (never a path: clients on
        other hosts must not name files here)."""
        if not isinstance(profile, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", profile):
            raise UsageError(f"profile {profile!r}: give a profile name, e.g. quick")
        if self._resolve_profile is None:
            raise UsageError("this service has no profile library")
        return self._resolve_profile(profile)

    def profile_names(self) -> list[str]:
        return self._profile_names()

    def run(self, plan: Plan, *, owner: object = None) -> Job:
        """Play ``plan`` (a profile's) through the governor; returns at once."""
        self._can_start()
        assert self.chair is not None
        self.chair.governor.check_length(plan.duration_ms / 1000.0, f"profile {plan.name}")
        chair = self.chair
        job: Job

        def factory() -> Awaitable[SessionReport]:
            return chair.run(
                plan, on_progress=self._progress(job), on_warning=self._warn, reconnect=self.reconnect
            )

        job = self._begin("profile", plan.name, owner, factory, plan.duration_ms / 1000.0)
        return job

    def set(self, words: JsonObject, duration: str | float | None = None, *, owner: object = None) -> Job:
        """Hold a state by hand (as ``massager-ctl set``): a one-step plan."""
        self._can_start()
        assert self.chair is not None
        state = build_state(**words)
        if state.is_stopped:
            raise UsageError("nothing to set: give a technique with zones and intensity, heat or an airbag")
        length_ms = self.chair._duration_ms(duration)
        self.chair.governor.check_length(length_ms / 1000.0, "the hold")
        plan = manual_plan(state, length_ms, name="set")
        chair = self.chair
        job: Job

        def factory() -> Awaitable[SessionReport]:
            return chair.run(
                plan, on_progress=self._progress(job), on_warning=self._warn, reconnect=self.reconnect
            )

        job = self._begin("set", "set", owner, factory, length_ms / 1000.0)
        job.heat_hold = state.technique is None and not state.airbags
        return job

    def program(self, name: str, duration: str | float | None = None, *, owner: object = None) -> Job:
        """Run the chair's own program ``name``, watched by the governor."""
        self._can_start()
        assert self.chair is not None
        if name not in self.programs:
            offered = ", ".join(self.programs) or "none"
            raise UsageError(f"no program {name!r} on {self.model}; it has: {offered}")
        chair = self.chair
        job: Job
        length = None if duration is None else chair._duration_ms(duration) / 1000.0

        def factory() -> Awaitable[ProgramReport]:
            return chair.run_program(
                name, duration=length, on_progress=self._program_progress(job), on_warning=self._warn
            )

        job = self._begin("program", name, owner, factory, length or 0.0)
        return job

    async def stop(self) -> Status:
        """Stop whatever plays, then the device; returns its confirmation. Never refused."""
        if self.chair is None:
            raise DeviceError(f"{self.name}: not open")
        self._stopping += 1
        try:
            job = self.job
            if job is not None:
                job.stop_requested = True
                self._emit("session", state="stopping", job=job.to_dict())
                session = self.chair.program or self.chair.session
                if session is not None:
                    session.stop()
                elif job.task is not None:
                    job.task.cancel()
                if job.task is not None:
                    done, _ = await asyncio.wait([job.task], timeout=STOP_WAIT_S)
                    if not done:  # its own stop hangs: cancel it (its finally still stops)
                        job.task.cancel()
                        await asyncio.wait([job.task], timeout=STOP_WAIT_S)
            self.chair.governor.stop()
            status = await self.chair.stop()
            self.last_status = status
            self._emit("stopped", status=wire.status_to_dict(status))
            return status
        finally:
            self._stopping -= 1

    def _session(self) -> Session | None:
        return self.chair.session if self.chair is not None else None

    def pause(self) -> None:
        session = self._playing_session("pause")
        session.pause()

    def resume(self) -> None:
        self._playing_session("resume").resume()

    def skip(self) -> None:
        self._playing_session("skip").skip()

    def _playing_session(self, what: str) -> Session:
        session = self._session()
        if self.job is None or self.job.kind == "program" or session is None:
            raise DeviceError(f"{self.name}: no profile is playing to {what}")
        return session

    def set_intensity_cap(self, percent: float) -> float:
        """The live intensity cap, 0..the configured cap; lowering acts at once."""
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise UsageError(f"intensity cap {percent!r}: give a number from 0 to 100")
        value = min(float(percent), self.limits.max_intensity)
        self.intensity_cap = value
        if self.chair is not None:
            # The one live cap of the governor (the panel's - and + keys too), kept for the
            # jobs after this one; through the session when a profile plays, so that its
            # device steps follow (a step above the cap is never sent) and it acts at once.
            session = self._session()
            if session is not None and self.job is not None and self.job.kind != "program":
                session.set_intensity_cap(value, lasting=True)
            else:
                self.chair.governor.set_intensity_cap(value, lasting=True)
        self._emit("cap", intensity_cap=value)
        return value

    async def set_heat(self, on: bool, *, owner: object = None) -> str:
        """The heat switch. Off: heat off for the rest of this job (a heat-only hold
        ends). On: heat back up to the heat cap in the job playing, or, when nothing
        plays, a hold of heat alone at the heat cap until the heat auto-off."""
        if self.chair is None:
            raise DeviceError(f"{self.name}: not open")
        caps = self.capabilities
        if caps is None or not caps.has_heat:
            raise UsageError(f"{self.model or self.name} has no heat")
        if not on:
            if self.job is not None and self.job.heat_hold:
                await self.stop()
                return "off"
            self.chair.governor.set_heat_ceiling(Heat.OFF)
            session = self._session()
            if session is not None:
                session.wake()
            self._emit("heat", on=False)
            return "off"
        if self.job is None:
            level = self.limits.max_heat
            if level is Heat.OFF:
                raise UsageError("heat is capped off (caps.max_heat = off)")
            allowed = [h for h in caps.heat_levels if h.rank <= level.rank]
            if not allowed:
                raise UsageError(f"{self.model}: no heat level within the heat cap")
            level = allowed[-1]
            self.set({"heat": level.value}, self.limits.heat_auto_off_s, owner=owner)
            return str(level)
        self.chair.governor.set_heat_ceiling(Heat.HIGH)
        session = self._session()
        if session is not None:
            session.wake()
        self._emit("heat", on=True)
        return "on"

    async def move(self, kind: str) -> Status:
        """One of the chair's own moves (see :meth:`moves`). Refused while a job plays
        (a recline under a person mid-massage is a surprise); a stop ends it."""
        if kind not in self.moves():
            raise UsageError(f"{self.model or self.name} has no {kind.replace('_', ' ')} move")
        self._can_start()
        assert self.chair is not None
        device = self.chair.device
        if kind == "zero_gravity" and isinstance(device, ZeroGravity):
            return await device.zero_gravity()
        assert isinstance(device, Motors)  # moves() offers recline and sit_up only then
        motor = "backrest_down" if kind == "recline" else "backrest_up"
        return await device.move(motor, MOVE_S)

    async def status(self) -> Status:
        if self.chair is None or not self.linked:
            if self.last_status is not None:
                return self.last_status
            raise DeviceError(f"{self.name}: not connected to {self.uri} (the service keeps trying)")
        return await self.chair.status()


#: How long a recline / sit-up button runs the backrest motor.
MOVE_S = 3.0
