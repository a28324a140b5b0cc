"""A simulated Theragun: the gun's firmware side of massager_ctl.devices.theragun.codec.

* Only valid frames count (head 0xAA, right checksum); others are traced as
  ``rejected`` and ignored, as is a speed above the model's range.
* A speed frame sets the motor's target; the motor ramps towards it at
  ``ramp_rpm_per_s`` (a gun takes a moment to spin up and down). 0 rpm stops.
* The version query ``AA 20 20 00`` is answered with a 0xBB reply. UNSURE:
  the real reply's body is not decoded; this one is ``20`` and three version
  bytes, the simulator's own choice.
* The status request ``AA 10 10 00`` is answered with a 15-byte 0xBB reply:
  ``10`` first, running (1 while the motor turns) at frame offset 4, the speed
  it has reached (rpm) at offsets 13-14, zeros between (UNSURE: the offsets
  of buttplugio/stpihkal issue 127; what the real gun puts between them is not
  known). :attr:`TheragunSim.answers_status` False plays a gun that ignores it.
* UNSURE whether a real gun stops by itself when the link drops: this one
  keeps running at its last speed (the worst case), so link-loss tests see
  what a person might.

``.physics`` has the duck-type tests and the trace dump read: ``target``
(a DeviceState in the model's 100 intensity steps), ``stopped``,
``motors_on``, ``heat_on``, ``trace``, ``max_intensity_seen``, plus
``rpm(now)`` and ``max_rpm_seen``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from ...core.status import DEVICE_STOPPED, DeviceState
from ...core.vocabulary import Technique
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import TraceEvent
from ...transport.base import Transport
from .codec import (
    MAX_RPM,
    decode_command,
    reply_frame,
    step_for_rpm,
)

log = logging.getLogger(__name__)

INTENSITY_STEPS = 100
#: What the simulated gun answers to the version query (body after the checksum).
SIM_VERSION_BODY = bytes((0x20, 0x01, 0x04, 0x02))


class GunPhysics:
    """The gun's motor: a target speed and the speed it has reached."""

    def __init__(self, max_rpm: int, ramp_rpm_per_s: float, start: float) -> None:
        self.max_rpm = max_rpm
        self.ramp = ramp_rpm_per_s
        self.target_rpm = 0
        self._t0 = start
        self._rpm0 = 0.0
        self.trace: list[TraceEvent] = []
        self.max_intensity_seen = 0
        self.max_rpm_seen = 0
        self._now = start

    def rpm(self, now: float) -> float:
        """The motor's speed at ``now``."""
        delta = self.target_rpm - self._rpm0
        step = self.ramp * max(0.0, now - self._t0)
        if abs(delta) <= step:
            return float(self.target_rpm)
        return self._rpm0 + (step if delta > 0 else -step)

    def set_speed(self, rpm: int, now: float, reason: str = "") -> None:
        self._rpm0 = self.rpm(now)
        self._t0 = now
        self.touch(now)
        self.target_rpm = rpm
        self.max_rpm_seen = max(self.max_rpm_seen, rpm)
        self.max_intensity_seen = max(
            self.max_intensity_seen, step_for_rpm(rpm, INTENSITY_STEPS, self.max_rpm)
        )
        kind = "stop" if rpm == 0 else "command"
        self.record(now, kind, reason or f"{rpm} rpm")

    def touch(self, now: float) -> None:
        """Note that the gun was looked at ``now`` (``stopped`` outside a loop uses it)."""
        self._now = max(self._now, now)

    def record(self, now: float, kind: str, detail: str) -> None:
        self.touch(now)
        snapshot = {"target_rpm": self.target_rpm, "rpm": round(self.rpm(now))}
        self.trace.append(TraceEvent(now, kind, detail, snapshot))

    @property
    def target(self) -> DeviceState:
        if self.target_rpm <= 0:
            return DEVICE_STOPPED
        step = step_for_rpm(self.target_rpm, INTENSITY_STEPS, self.max_rpm)
        return DeviceState(technique=Technique.TAP, intensity=step)

    @property
    def motors_on(self) -> bool:
        return self.target_rpm > 0

    @property
    def heat_on(self) -> bool:
        return False

    @property
    def stopped(self) -> bool:
        """Told to stop and spun down (at the last time the gun was looked at)."""
        loop_now = _loop_time(self._now)
        return self.target_rpm == 0 and self.rpm(loop_now) == 0


def _loop_time(default: float) -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return default


class TheragunSim(SimulatedDevice):
    already_started = "simulated gun already started"

    def __init__(
        self,
        transport: Transport,
        *,
        faults: FaultInjector | None = None,
        model: str = "theragun-pro",
        ramp_rpm_per_s: float = 2500.0,
        answers_status: bool = True,
    ) -> None:
        if model not in MAX_RPM:
            raise ValueError(f"unknown Theragun model {model!r} (known: {', '.join(MAX_RPM)})")
        super().__init__(transport, faults)
        self.model = model
        self.ramp_rpm_per_s = ramp_rpm_per_s
        self.answers_status = answers_status
        self.physics: GunPhysics | None = None
        self.received: list[tuple[float, bytes]] = []
        self.rejected: list[tuple[float, bytes]] = []

    @property
    def max_rpm(self) -> int:
        return MAX_RPM[self.model]

    def _starting(self, now: float) -> None:
        self.physics = GunPhysics(self.max_rpm, self.ramp_rpm_per_s, now)

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self._faults_loop(), "sim-theragun")]

    async def close(self) -> None:
        if self.physics is not None and self._loop is not None:
            self.physics.touch(self._loop.time())
        await super().close()

    def _on_bytes(self, data: bytes) -> None:
        loop = self._loop
        if loop is None or self.physics is None:
            return
        now = loop.time()
        self._link_back()
        if self.faults.stalled(now):
            return
        if not self.faults.incoming(f"frame {data.hex()}", now):
            return
        self.received.append((now, bytes(data)))
        command = decode_command(data)
        if command is None:
            self._reject(now, data, "not a valid frame")
            return
        if command.kind == "speed":
            assert command.rpm is not None
            if command.rpm > self.max_rpm:
                self._reject(now, data, f"{command.rpm} rpm is above {self.max_rpm}")
                return
            self.physics.set_speed(command.rpm, now)
        elif command.kind == "version":
            self.physics.record(now, "query", "firmware version")
            self._send(reply_frame(SIM_VERSION_BODY), "version reply", now)
        elif command.kind == "status":
            self.physics.record(now, "query", "status")
            if self.answers_status:
                self._send(reply_frame(self._status_body(now)), "status reply", now)
        else:
            self._reject(now, data, "unknown command")

    def _status_body(self, now: float) -> bytes:
        """The status reply's body (after BB and the checksum): 10, 00, running, eight
        zeros, rpm high, rpm low, so that running is at frame offset 4 and the speed at 13."""
        assert self.physics is not None
        rpm = round(self.physics.rpm(now))
        return bytes((0x10, 0x00, 1 if rpm > 0 else 0)) + bytes(8) + rpm.to_bytes(2, "big")

    def _reject(self, now: float, data: bytes, why: str) -> None:
        self.rejected.append((now, bytes(data)))
        assert self.physics is not None
        self.physics.record(now, "rejected", f"{bytes(data).hex(' ')}: {why}")

    def _send(self, frame: bytes, what: str, now: float) -> None:
        if self.link_lost:
            return
        out = self.faults.outgoing(frame, what, now)
        if out is None:
            return
        self._send_soon(*out)

    # A lost link is only noted (the base does): the motor is left as it was (see the
    # module docstring).
