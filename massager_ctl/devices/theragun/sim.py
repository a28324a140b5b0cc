"""A simulated Theragun on a link: the gun's firmware as its sources describe it.

It reads the host's writes and builds its notifications with
:mod:`massager_ctl.devices.theragun.firmware` (written from buttplugio/stpihkal issue 127 and
buttplugio/docs.buttplug.io ``stpihkal/protocols/theragun/index.md``), never with the
driver's codec.

* Only valid frames count (head 0xAA, right checksum); others are traced as
  ``rejected`` and ignored, as is a speed above the model's range, the Wave rollers'
  4-byte speed frame (it carries no rpm) and any frame the sources do not describe.
* A speed frame sets the motor's target; the motor ramps towards it at
  ``ramp_rpm_per_s`` (a gun takes a moment to spin up and down). 0 rpm stops.
* The version query ``AA 20 20 00`` is answered with a 14-byte 0xBB reply: ``20`` at
  offset 2, the firmware at 12-13 as the app reads it (``major*100 + minor*10 + patch``);
  the simulated gun runs the lowest firmware the docs list for its model (2.1.6 on the Pro
  and Elite, 2.0.4 on the Prime), or ``firmware=``.
* The status request ``AA 10 10 00`` is answered with a 15-byte 0xBB reply:
  ``10`` at offset 2, running (1 while the motor turns) at 4, the speed it has reached
  (rpm) at 13-14, zeros between (UNSURE: the offsets of buttplugio/stpihkal issue 127;
  what the real gun puts between them is not known).
  :attr:`TheragunSim.answers_status` False plays a gun that ignores it.
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
from .firmware import (
    LOWEST_FIRMWARE,
    TOP_RPM,
    AskStatus,
    AskVersion,
    Garbled,
    SetRpm,
    WaveSpeed,
    read_host_frame,
    status_notification,
    version_notification,
)

log = logging.getLogger(__name__)

INTENSITY_STEPS = 100


def intensity_step(rpm: int, max_rpm: int) -> int:
    """The gun's speed in the tests' vocabulary: step ``n`` of 100 is ``n`` % of the model's
    range (docs/devices.md). The lowest step whose exact share is within half an rpm of
    ``rpm`` or above it: a speed is never read as a lower step than it is."""
    if rpm <= 0:
        return 0
    # ceil((rpm - 1/2) * 100 / max_rpm), in whole numbers
    return min(INTENSITY_STEPS, -(-((2 * rpm - 1) * INTENSITY_STEPS) // (2 * max_rpm)))


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
        self.max_intensity_seen = max(self.max_intensity_seen, intensity_step(rpm, self.max_rpm))
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
        step = intensity_step(self.target_rpm, self.max_rpm)
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
        firmware: tuple[int, int, int] | None = None,
    ) -> None:
        if model not in TOP_RPM:
            raise ValueError(f"unknown Theragun model {model!r} (known: {', '.join(TOP_RPM)})")
        super().__init__(transport, faults)
        self.model = model
        self.firmware = LOWEST_FIRMWARE[model] if firmware is None else firmware
        self.ramp_rpm_per_s = ramp_rpm_per_s
        self.answers_status = answers_status
        self.physics: GunPhysics | None = None
        self.received: list[tuple[float, bytes]] = []
        self.rejected: list[tuple[float, bytes]] = []

    @property
    def max_rpm(self) -> int:
        return TOP_RPM[self.model]

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
        match read_host_frame(data):
            case Garbled(why):
                self._reject(now, data, f"not a valid frame: {why}")
            case SetRpm(rpm) if rpm > self.max_rpm:
                self._reject(now, data, f"{rpm} rpm is above {self.max_rpm}")
            case SetRpm(rpm):
                self.physics.set_speed(rpm, now)
            case WaveSpeed():
                self._reject(now, data, "the Wave rollers' speed frame (no rpm): not for this gun")
            case AskVersion():
                self.physics.record(now, "query", "firmware version")
                self._send(version_notification(self.firmware), "version reply", now)
            case AskStatus():
                self.physics.record(now, "query", "status")
                if self.answers_status:
                    rpm = round(self.physics.rpm(now))
                    self._send(status_notification(rpm > 0, rpm), "status reply", now)
            case _:
                self._reject(now, data, "unknown command")

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
