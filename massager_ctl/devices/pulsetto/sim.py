"""A simulated Pulsetto neck stimulator on a link: the device's firmware as its sources
describe it.

It reads the host's lines and builds its replies with
:mod:`massager_ctl.devices.pulsetto.firmware` (written from jooray/pulse-libre-desktop
``docs/PULSETTO_PROTOCOL.md`` and ``main.py``), never with the driver's codec.

Behaviour:

* The start sequence is a state machine: ``+`` then ``-`` arm it; then the
  intensity must go 0 -> 5 -> 0 -> target, each step at least
  ``min_step_gap_s`` after the one before (the app waits 250-450 ms; a step
  that comes too fast breaks the sequence, which must start again at 0 -
  UNSURE: the simulator's own strictness, to catch a driver that does not
  wait). The last digit starts the stimulation at that level.
* Intensity digits before the sequence has completed are ignored (traced).
  While running, a digit sets the level at once; ``0`` pauses the output and the
  session stays open.
* Stop: ``+``, ``-``, ``-`` (the third ``-`` while armed ends the session).
* ``A``/``C``/``D`` choose the side; ``E``/``F``/``G`` set the LED.
* Queries are answered as the protocol document shows: ``Q`` with ``Batt:3.97``,
  ``u`` with ``u``, 0x01, ``0`` (not charging), ``v`` with ``fw:1.1.22``, ``i`` with
  ``Pulsetto_ST_02``; each reply ends with a newline (SIM).
* The battery drains with time and faster with intensity; at 3.5 V (0 % in the
  vendor app) it stops stimulating (SIM: what the real unit does when empty is not
  documented).
* ``U`` reboots into the firmware-update bootloader: stimulation ends and the unit
  says and does nothing more on this link (the bootloader speaks another service;
  SIM: the link is not dropped).
* No device-side timer: it stimulates until told to stop, or the battery
  runs out. A lost link changes nothing (the worst case: UNSURE what the real
  device does).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from ...core.status import DEVICE_STOPPED, DeviceState
from ...core.vocabulary import Technique, Zone
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import TraceEvent
from ...transport.base import Transport
from .firmware import (
    EMPTY_V,
    Ask,
    ChooseLed,
    ChooseSide,
    EnterDfu,
    HostLines,
    Level,
    RampDown,
    RampUp,
    battery_reply,
    charging_reply,
    firmware_reply,
    identity_reply,
    read_command,
)

log = logging.getLogger(__name__)

_HANDSHAKE = ("0", "5", "0")  # the digits after "+", "-", before the target


class PulsettoBody:
    """The stimulator's state and battery; the duck-type the tests and trace dump read."""

    def __init__(
        self, start: float, volts: float, idle_drain_v_per_h: float, drain_per_level_v_per_h: float
    ) -> None:
        self.running = False
        self.intensity = 0
        self.side = "both"
        self.led = "E"
        self.volts = volts
        self.idle_drain = idle_drain_v_per_h
        self.drain_per_level = drain_per_level_v_per_h
        self.trace: list[TraceEvent] = []
        self.max_intensity_seen = 0
        self._t = start

    def advance(self, now: float) -> None:
        dt_h = max(0.0, now - self._t) / 3600.0
        rate = self.idle_drain + (self.drain_per_level * self.intensity if self.stimulating else 0.0)
        self.volts = max(3.3, self.volts - rate * dt_h)
        self._t = max(self._t, now)
        if self.stimulating and self.volts <= EMPTY_V:
            self.running = False
            self.intensity = 0
            self.record(now, "stop", "battery empty")

    def record(self, now: float, kind: str, detail: str) -> None:
        snapshot = {
            "running": self.running,
            "intensity": self.intensity,
            "side": self.side,
            "volts": round(self.volts, 3),
        }
        self.trace.append(TraceEvent(now, kind, detail, snapshot))

    @property
    def stimulating(self) -> bool:
        return self.running and self.intensity > 0

    @property
    def target(self) -> DeviceState:
        if not self.stimulating:
            return DEVICE_STOPPED
        return DeviceState(
            technique=Technique.VIBRATE, zones=frozenset({Zone.NECK}), intensity=self.intensity
        )

    @property
    def motors_on(self) -> bool:
        return self.stimulating

    @property
    def heat_on(self) -> bool:
        return False

    @property
    def stopped(self) -> bool:
        return not self.stimulating


class PulsettoSim(SimulatedDevice):
    already_started = "simulated Pulsetto already started"

    def __init__(
        self,
        transport: Transport,
        *,
        faults: FaultInjector | None = None,
        model: str = "pulsetto",
        volts: float = 3.97,
        min_step_gap_s: float = 0.2,
        idle_drain_v_per_h: float = 0.02,
        drain_per_level_v_per_h: float = 0.03,
    ) -> None:
        super().__init__(transport, faults)
        self.model = model
        self.min_step_gap_s = min_step_gap_s
        self._params = (volts, idle_drain_v_per_h, drain_per_level_v_per_h)
        self.physics: PulsettoBody | None = None
        self.lines = HostLines()
        self.in_dfu = False  # rebooted into the bootloader: deaf to this link
        self.received: list[tuple[float, str]] = []
        self._seq: str | None = None  # None, "plus", "armed", or the handshake digits seen
        self._last_step_at = float("-inf")

    def _starting(self, now: float) -> None:
        volts, idle, per_level = self._params
        self.physics = PulsettoBody(now, volts, idle, per_level)

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self._run(), "sim-pulsetto")]

    async def _run(self) -> None:
        """Fault schedule, and the battery running out while stimulating."""
        loop = self._loop
        assert loop is not None and self.physics is not None
        while True:
            now = loop.time()
            self.faults.tick(now)
            self.physics.advance(now)
            due = self.faults.next_due()
            wait = 60.0 if due is None else max(0.0, min(60.0, due - now))
            await self._sleep_until(now + wait)

    # -- incoming ----------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        loop = self._loop
        if loop is None or self.physics is None:
            return
        now = loop.time()
        self._link_back()
        if self.faults.stalled(now):
            return
        for line in self.lines.take(data):
            if not self.faults.incoming(f"command {line!r}", now):
                continue
            self.received.append((now, line))
            self.physics.advance(now)
            self._command(line, now)

    def _command(self, text: str, now: float) -> None:
        body = self.physics
        assert body is not None
        if self.in_dfu:
            body.record(now, "ignored", f"{text!r}: in the firmware-update bootloader")
            return
        match read_command(text):
            case RampUp():
                self._seq = "plus"
                self._last_step_at = now
            case RampDown() if self._seq == "plus":
                self._seq = "armed"
                self._last_step_at = now
            case RampDown() if self._seq == "armed":
                self._seq = None
                was = body.stimulating
                body.running = False
                body.intensity = 0
                body.record(now, "stop", "stop sequence" + ("" if was else " (was not stimulating)"))
            case RampDown():
                body.record(now, "ignored", "'-' out of sequence")
            case Level(level):
                self._digit(level, now)
            case ChooseSide(side):
                body.side = side
                body.record(now, "side", side)
            case ChooseLed(led):
                body.led = led
                body.record(now, "led", led)
            case Ask("battery"):
                self._reply(battery_reply(body.volts), "battery", now)
            case Ask("charging"):
                self._reply(charging_reply(False), "charging", now)
            case Ask("firmware"):
                self._reply(firmware_reply(), "firmware", now)
            case Ask("identity"):
                self._reply(identity_reply(), "identity", now)
            case EnterDfu():
                self.in_dfu = True
                self._seq = None
                body.running = False
                body.intensity = 0
                body.record(now, "stop", "rebooted into the firmware-update bootloader")
            case _:
                body.record(now, "rejected", f"unknown command {text!r}")

    def _digit(self, level: int, now: float) -> None:
        body = self.physics
        assert body is not None
        seq = self._seq
        if seq == "armed" or (seq is not None and seq.startswith("hs")):
            done = "" if seq == "armed" else seq[2:]
            if now - self._last_step_at < self.min_step_gap_s - 1e-9:
                self._seq = "armed"
                body.record(now, "ignored", f"start sequence step {level} came too fast; sequence broken")
                return
            self._last_step_at = now
            if len(done) < len(_HANDSHAKE):
                if str(level) == _HANDSHAKE[len(done)]:
                    self._seq = "hs" + done + str(level)
                else:
                    self._seq = "armed"
                    body.record(now, "ignored", f"start sequence broken by {level}")
                return
            # the target: the sequence is complete
            self._seq = None
            body.running = True
            self._set_level(level, now, "start sequence done")
            return
        if body.running and seq is None:
            self._set_level(level, now, "intensity")
            return
        body.record(now, "ignored", f"intensity {level} before the start sequence")

    def _set_level(self, level: int, now: float, why: str) -> None:
        body = self.physics
        assert body is not None
        body.intensity = level
        body.max_intensity_seen = max(body.max_intensity_seen, level)
        body.record(now, "command" if level else "stop", f"{why}: intensity {level}")

    # -- outgoing ----------------------------------------------------------------------

    def _reply(self, data: bytes, what: str, now: float) -> None:
        if self.link_lost:
            return
        out = self.faults.outgoing(data, f"{what} reply {data!r}", now)
        if out is None:
            return
        self._send_soon(*out)

    # A lost link is only noted (the base does): stimulation goes on as it was (see the
    # module docstring).
