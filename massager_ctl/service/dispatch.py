"""Requests to the service, whoever sends them: one checked entry point.

The control socket and the MQTT request topic both hand a decoded JSON object to
:meth:`Dispatcher.handle`; it checks it (:mod:`massager_ctl.remote.wire` rules: one
clear line for anything malformed), runs it on the named device and returns the
result object. The operations are documented in docs/control.md.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..core.errors import UsageError
from ..remote import wire
from ..remote.wire import JsonObject
from .served import ServedDevice

#: op -> the keys it accepts besides "op", "id", "device" (anything else is refused).
OPS: dict[str, tuple[str, ...]] = {
    "hello": (),
    "devices": (),
    "profiles": (),
    "status": (),
    "watch": ("events",),
    "unwatch": (),
    "run": ("profile", "plan", "limits", "detach"),
    "set": ("state", "duration", "detach"),
    "program": ("name", "duration", "detach"),
    "stop": (),
    "pause": (),
    "resume": (),
    "skip": (),
    "cap": ("intensity",),
    "heat": ("on",),
    "move": ("kind",),
    "select_profile": ("profile",),
}

#: The words ``set`` accepts in its "state" object (as `massager-ctl set` does).
SET_WORDS = ("technique", "zones", "intensity", "speed", "width", "heat", "airbags")


class Dispatcher:
    def __init__(self, devices: dict[str, ServedDevice], node: str = "") -> None:
        self.devices = devices
        self.node = node

    def device(self, request: JsonObject) -> ServedDevice:
        name = request.get("device")
        if name is None:
            if len(self.devices) == 1:
                return next(iter(self.devices.values()))
            raise UsageError(f"say which device: {', '.join(self.devices)}")
        served = self.devices.get(name) if isinstance(name, str) else None
        if served is None:
            raise UsageError(f"no device {name!r} here; served: {', '.join(self.devices) or 'none'}")
        return served

    async def handle(self, request: object, owner: object = None) -> JsonObject:
        """Run one request; the result object. Raises MassagerError (a one-line message)."""
        if not isinstance(request, dict):
            raise wire.WireError("a request must be a JSON object")
        op = request.get("op")
        if op not in OPS:
            raise wire.WireError(f"unknown op {op!r}; known: {', '.join(OPS)}")
        extra = set(request) - {"op", "id", "device", "ts"} - set(OPS[op])
        if extra:
            raise wire.WireError(f"{op}: unknown keys {', '.join(sorted(extra))}")
        if op == "hello":
            return {
                "protocol": wire.PROTOCOL_VERSION,
                "version": __version__,
                "node": self.node,
                "devices": list(self.devices),
            }
        if op == "devices":
            return {"devices": [d.describe() for d in self.devices.values()]}
        served = self.device(request)
        detach = request.get("detach", False) is True
        job_owner = None if detach else owner
        if op == "profiles":
            return {"profiles": served.profile_names()}
        if op == "status":
            status = await served.status()
            return {"status": wire.status_to_dict(status), "snapshot": served.snapshot()}
        if op in ("watch", "unwatch"):
            return {"device": served.name}  # the transport keeps the subscription
        if op == "run":
            if ("plan" in request) == ("profile" in request):
                raise wire.WireError("run: give either a profile name or a plan")
            if "plan" in request:
                plan = wire.plan_from_dict(request["plan"])
            else:
                plan = served.plan_for(request["profile"])
            if "limits" in request:  # the client's own caps: they only tighten
                plan = wire.tightened(plan, *wire.limits_from_dict(request["limits"]))
            job = served.run(plan, owner=job_owner)
            return {"job": job.to_dict(), "total_ms": plan.duration_ms}
        if op == "set":
            state = request.get("state")
            if not isinstance(state, dict):
                raise wire.WireError("set: state must be an object of technique, zones, intensity, ...")
            unknown = set(state) - set(SET_WORDS)
            if unknown:
                raise wire.WireError(f"set: unknown words {', '.join(sorted(unknown))}")
            job = served.set(dict(state), _duration(request.get("duration")), owner=job_owner)
            return {"job": job.to_dict()}
        if op == "program":
            name = request.get("name")
            if not isinstance(name, str):
                raise wire.WireError("program: give the program's name")
            job = served.program(name, _duration(request.get("duration")), owner=job_owner)
            return {"job": job.to_dict()}
        if op == "stop":
            status = await served.stop()
            can_report = status.extra.get("confirmed", True) is not False
            return {
                "status": wire.status_to_dict(status),
                "stopped": status.stopped,
                "confirmed": status.stopped and can_report,
            }
        if op == "pause":
            served.pause()
            return {}
        if op == "resume":
            served.resume()
            return {}
        if op == "skip":
            served.skip()
            return {}
        if op == "cap":
            value = request.get("intensity")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wire.WireError("cap: intensity must be a number from 0 to 100")
            return {"intensity_cap": served.set_intensity_cap(value)}
        if op == "heat":
            on = request.get("on")
            if not isinstance(on, bool):
                raise wire.WireError("heat: on must be true or false")
            return {"heat": await served.set_heat(on, owner=job_owner)}
        if op == "move":
            kind = request.get("kind")
            if not isinstance(kind, str):
                raise wire.WireError("move: give its kind (recline, sit_up, zero_gravity)")
            status = await served.move(kind)
            return {"status": wire.status_to_dict(status)}
        if op == "select_profile":
            name = request.get("profile")
            if not isinstance(name, str):
                raise wire.WireError("select_profile: give a profile name")
            served.plan_for(name)  # checked: it exists
            served.selected_profile = name
            return {"profile": name}
        raise AssertionError(op)  # pragma: no cover - OPS lists every op


def _duration(value: Any) -> str | float | None:
    if (
        value is None
        or (isinstance(value, int | float) and not isinstance(value, bool))
        or isinstance(value, str)
    ):
        return value
    raise wire.WireError(f"duration {value!r}: give seconds or text like '5m'")
