"""A chair that a service owns, with the methods of :class:`massager_ctl.api.Chair`.

Every method is a request to the service; the session, its governor and its writer
run there. ``run`` and ``run_program`` return when the service reports the job's end
(progress arrives meanwhile, as from a local chair); cancelling them (Ctrl-C) asks
the service to stop the chair before it returns. Leaving ``connect()``'s block stops
what this client started and still plays, as leaving a local chair's block does; a
chair only watched is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from ..core.capabilities import Capabilities
from ..core.errors import DeviceDisconnected, DeviceError, MassagerError
from ..core.status import Status
from ..plan import Plan
from ..session.limits import SafetyLimits
from ..session.pacing import paced_statuses
from ..session.program import ProgramProgress, ProgramReport
from ..session.runner import Progress, SessionReport
from . import wire
from .channel import Channel
from .wire import JsonObject

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """The job this client started and follows: its end arrives as an event."""

    kind: str  # profile | set | program
    future: asyncio.Future[JsonObject]  # the job's report, when the service says it ended
    on_warning: Callable[[str], None] | None = None
    on_progress: Callable[[Progress], None] | None = None  # a profile's or a set's
    on_program_progress: Callable[[ProgramProgress], None] | None = None  # a program's
    id: int | None = None  # known once the service has answered


class RemoteChair:
    def __init__(self, channel: Channel, info: JsonObject, *, limits: SafetyLimits | None = None) -> None:
        self.channel = channel
        self.limits = limits
        self.name = str(info["name"])
        self.info = info
        self.simulator = None  # the simulator (if any) runs in the service
        self._status_callbacks: list[Callable[[Status], None]] = []
        self._watching: asyncio.Task[JsonObject] | None = None
        self._job: _Job | None = None
        self._ended: dict[int, JsonObject] = {}
        self._started: set[int] = set()
        channel.on_event = self._on_event
        channel.on_closed = self._on_closed

    # -- what it is ----------------------------------------------------------------------

    @property
    def model(self) -> str:
        return str(self.info.get("model") or self.name)

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(self.info.get("programs") or ())

    @property
    def capabilities(self) -> Capabilities:
        """What the device can do, as the service read it when it linked (empty if it
        had not linked yet when this client connected)."""
        raw = self.info.get("capabilities")
        if raw is None:
            return Capabilities()
        try:
            return wire.capabilities_from_dict(raw)
        except wire.WireError:
            return Capabilities()

    def __repr__(self) -> str:
        return f"<RemoteChair {self.name} via {self.channel.where}>"

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: JsonObject) -> None:
        kind = event.get("event")
        if event.get("device") != self.name:
            return
        if kind == "status" and self._status_callbacks:
            try:
                status = wire.status_from_dict(event.get("status") or {})
            except wire.WireError:
                return
            for cb in list(self._status_callbacks):
                cb(status)
            return
        about = event.get("job")
        job_id = about.get("id") if isinstance(about, dict) else None
        job = self._job
        if kind == "session" and event.get("state") == "ended":
            report = event.get("report")
            report = report if isinstance(report, dict) else {}
            if job is not None and job.id == job_id:
                if not job.future.done():
                    job.future.set_result(report)
            elif isinstance(job_id, int):  # ended before our request's answer told us its id
                self._ended[job_id] = report
        elif kind == "progress" and job is not None and job.id in (job_id, None):
            self._progress(job, event.get("progress") or {})
        elif kind == "warning" and job is not None and job.on_warning is not None:
            job.on_warning(str(event.get("message", "")))

    @staticmethod
    def _progress(job: _Job, data: Any) -> None:
        try:
            if job.on_program_progress is not None:
                job.on_program_progress(wire.program_progress_from_dict(data))
            elif job.on_progress is not None:
                job.on_progress(wire.progress_from_dict(data))
        except wire.WireError:
            return

    def _on_closed(self, reason: str) -> None:
        job = self._job
        if job is not None and not job.future.done():
            job.future.set_exception(
                DeviceDisconnected(
                    f"{reason}; the service went away while {self.name} played: "
                    "a service that ends stops its devices"
                )
            )

    # -- reading ---------------------------------------------------------------------------

    async def status(self, timeout: float = 2.0) -> Status:
        result = await asyncio.wait_for(self.channel.request("status", device=self.name), timeout + 1.0)
        return wire.status_from_dict(result.get("status") or {})

    async def snapshot(self) -> JsonObject:
        """What the service shows on dashboards: state, segment, time remaining, caps..."""
        result = await self.channel.request("status", device=self.name)
        snapshot = result.get("snapshot")
        return snapshot if isinstance(snapshot, dict) else {}

    async def watch(self, interval_s: float = 0.5) -> AsyncIterator[Status]:
        """The device's status every ``interval_s`` (as :meth:`massager_ctl.api.Chair.watch`),
        each one asked of the service, until the caller stops iterating."""
        async for status in paced_statuses(self.status, interval_s):
            yield status

    def on_status(self, callback: Callable[[Status], None]) -> None:
        """Call ``callback`` with every status the device reports (through the service)."""
        self._status_callbacks.append(callback)
        if self._watching is None:
            self._watching = asyncio.get_running_loop().create_task(
                self.channel.request("watch", device=self.name)
            )

    # -- playing -----------------------------------------------------------------------------

    async def _start(self, op: str, job: _Job, **args: Any) -> int:
        self._job = job
        try:
            result = await self.channel.request(op, device=self.name, **args)
        except BaseException:
            self._job = None
            raise
        about = result.get("job")
        job_id = about.get("id") if isinstance(about, dict) else None
        if not isinstance(job_id, int):
            self._job = None
            raise DeviceError(f"{self.channel.where} did not say which job it started")
        job.id = job_id
        self._started.add(job_id)
        if job_id in self._ended:
            job.future.set_result(self._ended.pop(job_id))
        return job_id

    def _new_job(self, kind: str, on_warning: Callable[[str], None] | None) -> _Job:
        return _Job(kind, asyncio.get_running_loop().create_future(), on_warning=on_warning)

    async def _follow(self) -> JsonObject:
        job = self._job
        assert job is not None
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            # Ctrl-C, SIGTERM, a timeout: the chair must not play on because we left.
            try:
                await asyncio.shield(self._stop_quietly())
            finally:
                raise
        finally:
            if self._job is job:
                self._job = None

    async def _stop_quietly(self) -> None:
        try:
            await asyncio.wait_for(self.channel.request("stop", device=self.name), 10.0)
        except Exception as exc:  # noqa: BLE001 - we are leaving; say it and go
            log.error("%s: asking the service to stop failed: %s", self.name, exc)

    async def run(
        self,
        profile: str | PathLike[str] | Plan,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        reconnect: Any = None,
        on_end: Callable[[SessionReport], None] | None = None,
    ) -> SessionReport:
        """Play a profile on the chair, in the service; return its report at the end.

        A Plan (or a profile file here) is sent whole; a bare name is looked up in the
        service's own profile library. ``reconnect`` is the service's business: it
        always keeps the link up. ``on_end`` gets the report however it ends, as
        :meth:`massager_ctl.api.Chair.run`'s does (a made-up one if this side was
        interrupted or lost the service: the service's own ended the job)."""
        args: dict[str, Any]
        if not isinstance(profile, Plan) and Path(profile).is_file():
            from ..profile import load_plan

            profile = load_plan(profile)
        if isinstance(profile, Plan):
            args = {"plan": wire.plan_to_dict(self._tightened(profile))}
        else:  # a name in the service's library, played under this side's caps too
            args = {"profile": str(profile)}
            if self.limits is not None:
                args["limits"] = {
                    "max_intensity": self.limits.max_intensity,
                    "max_length_ms": int(self.limits.max_session_s * 1000),
                }
        job = self._new_job("profile", on_warning)
        job.on_progress = on_progress
        await self._start("run", job, **args)
        ended = SessionReport(reason="cancelled", message="interrupted")
        try:
            report = wire.report_from_dict(await self._follow())
            if not isinstance(report, SessionReport):
                raise DeviceError(f"{self.channel.where} reported a program's end for a profile")
            ended = report
            return report
        except MassagerError as exc:
            ended = SessionReport(reason=_reason_of(exc), message=str(exc))
            raise
        finally:
            if on_end is not None:
                on_end(ended)

    def _tightened(self, plan: Plan) -> Plan:
        """The plan's own limits, tightened to this side's caps (never loosened)."""
        if self.limits is None:
            return plan
        return wire.tightened(plan, self.limits.max_intensity, int(self.limits.max_session_s * 1000))

    async def run_program(
        self,
        name: str,
        *,
        duration: str | float | None = None,
        on_progress: Callable[[ProgramProgress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        on_end: Callable[[ProgramReport], None] | None = None,
    ) -> ProgramReport:
        """Run the chair's own program ``name`` in the service (its governor watches it)
        until the chair's timer ends it; ``on_end`` as for :meth:`run`."""
        job = self._new_job("program", on_warning)
        job.on_program_progress = on_progress
        await self._start("program", job, name=name, duration=duration)
        ended = ProgramReport(program=name, reason="cancelled", length_s=0.0, message="interrupted")
        try:
            report = wire.report_from_dict(await self._follow())
            if not isinstance(report, ProgramReport):  # ended before it began (e.g. a stop)
                report = ProgramReport(
                    program=name, reason=report.reason, length_s=0.0, message=report.message
                )
            ended = report
            return report
        except MassagerError as exc:
            ended = ProgramReport(program=name, reason=_reason_of(exc), length_s=0.0, message=str(exc))
            raise
        finally:
            if on_end is not None:
                on_end(ended)

    async def set(self, *, duration: str | float | None = None, **words: Any) -> None:
        """Hold a state (technique, zones, intensity, ...), through the service's governor;
        returns once it plays. :meth:`wait` waits for its end, :meth:`stop` ends it."""
        if "zones" in words and words["zones"] is not None:
            words["zones"] = [str(z) for z in words["zones"]]
        if "airbags" in words and words["airbags"] is not None:
            words["airbags"] = {str(z): p for z, p in dict(words["airbags"]).items()}
        words = {k: (v.value if hasattr(v, "value") else v) for k, v in words.items() if v is not None}
        await self._start("set", self._new_job("set", None), state=words, duration=duration)

    async def wait(self) -> SessionReport | None:
        if self._job is None:
            return None
        report = wire.report_from_dict(await self._follow())
        return report if isinstance(report, SessionReport) else None

    async def stop(self, timeout: float = 2.0) -> Status:
        """Stop the chair, whoever started what plays on it; its confirmation."""
        result = await self.channel.request("stop", device=self.name)
        return wire.status_from_dict(result.get("status") or {})

    async def pause(self) -> None:
        await self.channel.request("pause", device=self.name)

    async def resume(self) -> None:
        await self.channel.request("resume", device=self.name)

    async def skip(self) -> None:
        await self.channel.request("skip", device=self.name)

    async def set_intensity_cap(self, percent: float) -> float:
        result = await self.channel.request("cap", device=self.name, intensity=percent)
        return float(result["intensity_cap"])

    async def close(self) -> None:
        """Leave: the service stops what this client started and still plays."""
        if self._watching is not None and not self._watching.done():
            self._watching.cancel()
        job = self._job
        if job is not None and job.id is not None and not job.future.done():
            await self._stop_quietly()
        await self.channel.close()


def _reason_of(exc: MassagerError) -> str:
    return "disconnected" if isinstance(exc, DeviceDisconnected) else "error"


def pick_device(listed: list[Any], name: str, where: str) -> JsonObject:
    devices: list[JsonObject] = [d for d in listed if isinstance(d, dict) and isinstance(d.get("name"), str)]
    if not devices:
        raise DeviceError(f"{where} serves no devices")
    if not name:
        if len(devices) == 1:
            return devices[0]
        raise DeviceError(
            f"{where} serves {', '.join(d['name'] for d in devices)}: say which, "
            f"e.g. service:{devices[0]['name']}"
        )
    for d in devices:
        if d["name"] == name:
            return d
    raise DeviceError(f"{where} serves no device {name!r}; it serves {', '.join(d['name'] for d in devices)}")
