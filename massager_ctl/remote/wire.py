"""The wire format shared by ``serve`` and its clients: value types <-> JSON, no I/O.

Everything a client and the service exchange (over the control socket or MQTT) is a
JSON object built and read here: statuses, progress, session reports, and plans.
Reading is strict: anything malformed is a :class:`WireError` with one line saying
what, never a traceback. A plan sent by a client is only a request: the service
plays it through its own governor, under its own caps.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, TypeVar

from ..core.capabilities import Capabilities
from ..core.errors import UsageError
from ..core.status import UNKNOWN, DeviceState, Status
from ..core.target import STOPPED, TargetState
from ..core.vocabulary import MAX_PROFILE_MS, MAX_PROFILE_STEPS, Curve, Heat, Technique, Width, Zone
from ..plan import AirbagStep, HeatStep, Level, Plan, PlanLimits, RollerStep
from ..session.program import ProgramProgress, ProgramReport
from ..session.runner import Progress, SessionReport

#: Version of the JSON-lines protocol (docs/control.md, docs/mqtt.md).
PROTOCOL_VERSION = 1

#: A decoded JSON object: what every message of the protocol is.
JsonObject = dict[str, Any]

_Word = TypeVar("_Word", bound=StrEnum)
_T = TypeVar("_T")


class WireError(UsageError):
    """A message that does not have the documented shape."""


# -- small checked readers -------------------------------------------------------


def _obj(value: Any, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a JSON object")
    return value


def _num(value: Any, what: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{what} must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:  # a whole number too large for a float: JSON allows it
        raise WireError(f"{what} must be a number of sensible size") from None
    if not math.isfinite(number):
        raise WireError(f"{what} must be a number, not {value!r}")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise WireError(f"{what} {number:g} is outside {_bound(lo)}..{_bound(hi)}")
    return number


def _bound(limit: float | None) -> str:
    return "" if limit is None else f"{limit:g}"


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise WireError(f"{what} must be a whole number in {lo}..{hi}, not {value!r}")
    return value


def _text(value: Any, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise WireError(f"{what} must be text of at most {limit} characters")
    return value


def _word(enum: type[_Word], value: Any, what: str) -> _Word:
    try:
        return enum(value)
    except ValueError:
        raise WireError(f"{what} {value!r} is not one of {', '.join(m.value for m in enum)}") from None


def _zones(value: Any, what: str) -> frozenset[Zone]:
    if not isinstance(value, list):
        raise WireError(f"{what} must be a list of zones")
    return frozenset(_word(Zone, z, what) for z in value)


def _optword(enum: type[_Word], value: Any, what: str) -> _Word | None:
    return None if value is None else _word(enum, value, what)


def _optnum(value: Any, what: str, lo: float | None = None, hi: float | None = None) -> float | None:
    return None if value is None else _num(value, what, lo, hi)


def _optint(value: Any, what: str, lo: int, hi: int) -> int | None:
    return None if value is None else _int(value, what, lo, hi)


# -- device state and status ---------------------------------------------------------


def status_to_dict(status: Status) -> JsonObject:
    data = status.to_dict()
    extra = {k: v for k, v in status.extra.items() if isinstance(v, bool | int | float | str)}
    if extra:
        data["extra"] = extra
    return data


def device_state_from_dict(d: Any) -> DeviceState:
    d = _obj(d, "state")
    bags = _obj(d.get("airbags") or {}, "airbags")
    return DeviceState(
        technique=_optword(Technique, d.get("technique"), "technique"),
        zones=_zones(d.get("zones") or [], "zones"),
        intensity=_int(d.get("intensity", 0), "intensity", 0, 1000),
        speed=_int(d.get("speed", 0), "speed", 0, 1000),
        width=_optword(Width, d.get("width"), "width"),
        airbags=tuple(
            (_word(Zone, z, "airbag zone"), _int(v, "airbag level", 0, 1000)) for z, v in bags.items()
        ),
        heat=_word(Heat, d.get("heat", "off"), "heat"),
    )


def status_from_dict(d: Any) -> Status:
    d = _obj(d, "status")
    pressure = _obj(d.get("airbag_pressure") or {}, "airbag_pressure")
    extra = d.get("extra") or {}
    # A device that does not report its state sends every state key as "unknown"
    # (Status.to_dict): it stays unknown here, not "running" with a broken state.
    known = d.get("running") != UNKNOWN
    return Status(
        running=bool(d.get("running", False)) if known else None,
        state=device_state_from_dict(d) if known else DeviceState(),
        roller_position=_optnum(d.get("roller_position"), "roller_position"),
        airbag_pressure=tuple(
            (_word(Zone, z, "airbag zone"), _num(p, "airbag pressure")) for z, p in pressure.items()
        ),
        heater_temp_c=_optnum(d.get("heater_temp_c"), "heater_temp_c"),
        remaining_s=None if d.get("remaining_s") is None else int(_num(d["remaining_s"], "remaining_s")),
        fault=None if d.get("fault") is None else _text(d["fault"], "fault", 500),
        extra=dict(_obj(extra, "extra")),
    )


def target_from_dict(d: Any) -> TargetState:
    d = _obj(d, "target")
    bags = _obj(d.get("airbags") or {}, "airbags")
    return STOPPED.with_(
        technique=_optword(Technique, d.get("technique"), "technique"),
        zones=_zones(d.get("zones") or [], "zones"),
        intensity=_num(d.get("intensity", 0), "intensity", 0, 100),
        speed=_num(d.get("speed", 0), "speed", 0, 100),
        width=_word(Width, d.get("width", "medium"), "width"),
        airbags=[(_word(Zone, z, "airbag zone"), _num(p, "airbag", 0, 100)) for z, p in bags.items()],
        heat=_word(Heat, d.get("heat", "off"), "heat"),
    )


def _words(enum: type[_Word], value: Any, what: str) -> frozenset[_Word]:
    if not isinstance(value, list):
        raise WireError(f"{what} must be a list")
    return frozenset(_word(enum, v, what) for v in value)


def capabilities_from_dict(d: Any) -> Capabilities:
    """What a served device can do (:meth:`Capabilities.to_dict` on the service's side)."""
    d = _obj(d, "capabilities")
    heat = d.get("heat_levels") or []
    texts = {key: d.get(key) or [] for key in ("recline_motors", "programs")}
    timers = d.get("chair_timer_s") or []
    if not all(isinstance(v, list) for v in (heat, timers, *texts.values())):
        raise WireError("capabilities: heat_levels, recline_motors, programs and chair_timer_s are lists")
    return Capabilities(
        zones=_words(Zone, d.get("zones") or [], "zones"),
        techniques=_words(Technique, d.get("techniques") or [], "techniques"),
        intensity_steps=_int(d.get("intensity_steps", 0), "intensity_steps", 0, 1000),
        speed_steps=_int(d.get("speed_steps", 0), "speed_steps", 0, 1000),
        widths=_words(Width, d.get("widths") or [], "widths"),
        airbag_zones=_words(Zone, d.get("airbag_zones") or [], "airbag_zones"),
        airbag_levels=_int(d.get("airbag_levels", 0), "airbag_levels", 0, 1000),
        heat_levels=tuple(_word(Heat, h, "heat level") for h in heat),
        recline_motors=tuple(_text(m, "recline motor") for m in texts["recline_motors"]),
        programs=tuple(_text(p, "program") for p in texts["programs"]),
        chair_timer_s=tuple(_int(t, "chair timer", 0, 24 * 3600) for t in timers),
        width_techniques=_words(Technique, d.get("width_techniques") or [], "width_techniques"),
        speed_techniques=_words(Technique, d.get("speed_techniques") or [], "speed_techniques"),
    )


# -- progress and reports ---------------------------------------------------------


def device_state_to_dict(state: DeviceState) -> JsonObject:
    return {k: v for k, v in status_to_dict(Status(state=state)).items() if k in _STATE_KEYS}


_STATE_KEYS = ("technique", "zones", "intensity", "speed", "width", "airbags", "heat")


def progress_to_dict(p: Progress) -> JsonObject:
    return {
        "elapsed_s": round(p.elapsed_s, 3),
        "plan_ms": p.plan_ms,
        "total_ms": p.total_ms,
        "segment": p.segment,
        "segment_index": p.segment_index,
        "target": p.target.to_dict(),
        "device_state": device_state_to_dict(p.device_state),
        "paused": p.paused,
    }


def progress_from_dict(d: Any) -> Progress:
    d = _obj(d, "progress")
    return Progress(
        elapsed_s=_num(d.get("elapsed_s", 0), "elapsed_s"),
        plan_ms=int(_num(d.get("plan_ms", 0), "plan_ms")),
        total_ms=int(_num(d.get("total_ms", 0), "total_ms")),
        segment=_text(d.get("segment", ""), "segment"),
        segment_index=int(_num(d.get("segment_index", 0), "segment_index")),
        target=target_from_dict(d.get("target") or {}),
        device_state=device_state_from_dict(d.get("device_state") or {}),
        paused=bool(d.get("paused", False)),
    )


def program_progress_to_dict(p: ProgramProgress) -> JsonObject:
    return {
        "program": p.program,
        "elapsed_s": round(p.elapsed_s, 3),
        "length_s": p.length_s,
        "remaining_s": round(p.remaining_s, 3),
        "status": status_to_dict(p.status),
    }


def program_progress_from_dict(d: Any) -> ProgramProgress:
    d = _obj(d, "progress")
    return ProgramProgress(
        program=_text(d.get("program", ""), "program"),
        elapsed_s=_num(d.get("elapsed_s", 0), "elapsed_s"),
        length_s=_num(d.get("length_s", 0), "length_s"),
        remaining_s=_num(d.get("remaining_s", 0), "remaining_s"),
        status=status_from_dict(d.get("status") or {}),
    )


def report_to_dict(report: SessionReport | ProgramReport) -> JsonObject:
    data = report.to_dict()
    if report.stop_status is not None:
        data["stop_status"] = status_to_dict(report.stop_status)
    data["kind"] = "program" if isinstance(report, ProgramReport) else "session"
    return data


def report_from_dict(d: Any) -> SessionReport | ProgramReport:
    d = _obj(d, "report")
    raw_stop = d.get("stop_status")
    reason = _text(d.get("reason", "error"), "reason")
    message = _text(d.get("message", ""), "message", 2000)
    elapsed_s = _num(d.get("elapsed_s", 0), "elapsed_s")
    stop_status = None if raw_stop is None else status_from_dict(raw_stop)
    stop_confirmed = bool(d.get("stop_confirmed", False))
    stop_sent = bool(d.get("stop_sent", False))
    warnings = d.get("warnings") or []
    if not isinstance(warnings, list):
        raise WireError("warnings must be a list of text")
    warned = [_text(w, "warning", 2000) for w in warnings]
    if d.get("kind") == "program":
        return ProgramReport(
            program=_text(d.get("program", ""), "program"),
            reason=reason,
            length_s=_num(d.get("length_s", 0), "length_s"),
            message=message,
            elapsed_s=elapsed_s,
            stop_status=stop_status,
            stop_confirmed=stop_confirmed,
            stop_sent=stop_sent,
            warnings=warned,
        )
    return SessionReport(
        reason=reason,
        plan_ms=int(_num(d.get("plan_ms", 0), "plan_ms")),
        elapsed_s=elapsed_s,
        stop_status=stop_status,
        stop_confirmed=stop_confirmed,
        stop_sent=stop_sent,
        message=message,
        warnings=warned,
        reconnects=int(_num(d.get("reconnects", 0), "reconnects")),
    )


# -- plans ---------------------------------------------------------------------------


def _level_to(level: Level) -> list[float | str]:
    return [level.start, level.end, level.curve.value]


def _level_from(value: Any, what: str) -> Level:
    if not isinstance(value, list) or len(value) != 3:
        raise WireError(f"{what} must be [start, end, curve]")
    return Level(_num(value[0], what, 0, 100), _num(value[1], what, 0, 100), _word(Curve, value[2], what))


def _step_to(step: RollerStep | AirbagStep | HeatStep) -> JsonObject:
    return {"start_ms": step.start_ms, "duration_ms": step.duration_ms, "name": step.name}


def plan_to_dict(plan: Plan) -> JsonObject:
    """A compiled plan as JSON (what a client asks the service to play)."""
    return {
        "name": plan.name,
        "description": plan.description,
        "limits": {
            "max_intensity": plan.limits.max_intensity,
            "max_length_ms": plan.limits.max_length_ms,
        },
        "roller": [
            {
                **_step_to(s),
                "technique": s.technique.value if s.technique else None,
                "zones": sorted(z.value for z in s.zones),
                "intensity": _level_to(s.intensity),
                "speed": _level_to(s.speed),
                "width": s.width.value,
            }
            for s in plan.roller
        ],
        "airbag": [
            {**_step_to(s), "levels": [[z.value, _level_to(level)] for z, level in s.levels()]}
            for s in plan.airbag
        ],
        "heat": [{**_step_to(s), "level": s.level.value} for s in plan.heat],
    }


def tightened(plan: Plan, max_intensity: float | None, max_length_ms: int | None) -> Plan:
    """``plan`` with its own limits tightened to these (never loosened)."""
    from dataclasses import replace

    lim = plan.limits
    if max_intensity is not None and lim.max_intensity is not None:
        max_intensity = min(max_intensity, lim.max_intensity)
    if max_length_ms is not None and lim.max_length_ms is not None:
        max_length_ms = min(max_length_ms, lim.max_length_ms)
    return replace(
        plan,
        limits=PlanLimits(
            max_intensity=lim.max_intensity if max_intensity is None else max_intensity,
            max_length_ms=lim.max_length_ms if max_length_ms is None else max_length_ms,
        ),
    )


def limits_from_dict(d: Any) -> tuple[float | None, int | None]:
    """A client's own caps sent with a profile name: (max_intensity, max_length_ms)."""
    d = _obj(d, "limits")
    unknown = set(d) - {"max_intensity", "max_length_ms"}
    if unknown:
        raise WireError(f"limits: unknown keys {', '.join(sorted(unknown))}")
    return (
        _optnum(d.get("max_intensity"), "max_intensity", 0, 100),
        _optint(d.get("max_length_ms"), "max_length_ms", 0, MAX_PROFILE_MS),
    )


def plan_from_dict(d: Any) -> Plan:
    """A plan sent by a client, checked: every value in range, tracks in order, within
    the bounds a profile may expand to. Raises WireError."""
    d = _obj(d, "plan")
    roller: list[RollerStep] = []
    airbag: list[AirbagStep] = []
    heat: list[HeatStep] = []
    count = 0
    for track in ("roller", "airbag", "heat"):
        items = d.get(track) or []
        if not isinstance(items, list):
            raise WireError(f"plan {track} must be a list of steps")
        count += len(items)
        if count > MAX_PROFILE_STEPS:
            raise WireError(f"plan has more than {MAX_PROFILE_STEPS} steps")
        for i, item in enumerate(items):
            what = f"plan {track} step {i + 1}"
            raw = _obj(item, what)
            start_ms = _int(raw.get("start_ms"), f"{what} start_ms", 0, MAX_PROFILE_MS)
            duration_ms = _int(raw.get("duration_ms"), f"{what} duration_ms", 0, MAX_PROFILE_MS)
            name = _text(raw.get("name", ""), f"{what} name")
            source = "sent by a client"
            if start_ms + duration_ms > MAX_PROFILE_MS:
                raise WireError(f"{what} ends after the longest a profile may last")
            if track == "roller":
                roller.append(
                    RollerStep(
                        start_ms=start_ms,
                        duration_ms=duration_ms,
                        name=name,
                        source=source,
                        technique=_optword(Technique, raw.get("technique"), f"{what} technique"),
                        zones=_zones(raw.get("zones") or [], f"{what} zones"),
                        intensity=_level_from(raw.get("intensity", [0, 0, "linear"]), f"{what} intensity"),
                        speed=_level_from(raw.get("speed", [0, 0, "linear"]), f"{what} speed"),
                        width=_word(Width, raw.get("width", "medium"), f"{what} width"),
                    )
                )
            elif track == "airbag":
                levels = raw.get("levels") or []
                if not isinstance(levels, list) or not all(
                    isinstance(x, list) and len(x) == 2 for x in levels
                ):
                    raise WireError(f"{what} levels must be a list of [zone, level]")
                per_zone = tuple(
                    (_word(Zone, z, f"{what} zone"), _level_from(lv, f"{what} pressure")) for z, lv in levels
                )
                airbag.append(
                    AirbagStep(
                        start_ms=start_ms,
                        duration_ms=duration_ms,
                        name=name,
                        source=source,
                        zones=frozenset(z for z, _ in per_zone),
                        per_zone=per_zone,
                    )
                )
            else:
                heat.append(
                    HeatStep(
                        start_ms=start_ms,
                        duration_ms=duration_ms,
                        name=name,
                        source=source,
                        level=_word(Heat, raw.get("level", "off"), f"{what} level"),
                    )
                )
    limits = _obj(d.get("limits") or {}, "plan limits")
    try:
        return Plan(
            name=_text(d.get("name", "remote"), "plan name"),
            description=_text(d.get("description", ""), "plan description", 5000),
            roller=tuple(roller),
            airbag=tuple(airbag),
            heat=tuple(heat),
            limits=PlanLimits(
                max_intensity=_optnum(limits.get("max_intensity"), "max_intensity", 0, 100),
                max_length_ms=_optint(limits.get("max_length_ms"), "max_length_ms", 0, MAX_PROFILE_MS),
            ),
        )
    except ValueError as exc:  # overlapping steps
        raise WireError(f"plan: {exc}") from None


__all__ = [
    "PROTOCOL_VERSION",
    "JsonObject",
    "WireError",
    "capabilities_from_dict",
    "device_state_from_dict",
    "plan_from_dict",
    "plan_to_dict",
    "program_progress_from_dict",
    "program_progress_to_dict",
    "progress_from_dict",
    "progress_to_dict",
    "report_from_dict",
    "report_to_dict",
    "status_from_dict",
    "status_to_dict",
    "target_from_dict",
]
