"""A simulated Next Level Racing HF8 seat pad: the pad's firmware as its sources describe it.

It plays the pad on any transport (a pty for ``massager-ctl simulate nlr-hf8``, an
in-memory link for ``sim:nlr-hf8``). It reads the host's lines and builds its answer with
:mod:`massager_ctl.devices.nlr.firmware` (written from buttplugio/docs.buttplug.io
``stpihkal/protocols/next-level-racing/index.md``, its issue 36, and buttplugio/buttplug's
``nextlevelracing.rs`` and device config), never with the driver's codec:

* lines end with ``\\r``; ``M<motor><level>`` sets a motor, ``P`` is
  answered with ``E<scale>,A<audio>\\r`` (the line end is the simulator's choice);
* a motor outside 0-7 or a level outside 0-255 is rejected (nothing clamps;
  the motor keeps its level), as is any other line; rejections are counted
  in :attr:`NlrSim.rejected` and not answered (the real pad's reaction is
  unknown);
* no status cadence and no deadman: the real pad pushes nothing that we
  know of, and keeps its levels when the host goes away.

:attr:`NlrSim.physics` (an :class:`NlrPad`) has the duck-type the tests and
the trace dump use: ``target``, ``stopped``, ``motors_on``, ``heat_on``,
``trace``, ``max_intensity_seen``; plus ``levels`` and ``history``.
Times come from the loop clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from ...core.status import DEVICE_STOPPED, DeviceState
from ...core.vocabulary import Technique, Zone
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import TraceEvent
from ...transport.base import Transport
from .firmware import (
    LAYOUT,
    MOTORS,
    AskState,
    Command,
    HostLines,
    Refused,
    SetLevel,
    read_command,
    state_answer,
)
from .patterns import NLR_CAPABILITIES

log = logging.getLogger(__name__)

#: Events kept (a pattern changes levels 20 times a second; an hour must not fill memory).
TRACE_LIMIT = 50_000

#: How the levels read back as a state name the parts of the body the motors sit under.
PART_ZONE = {"thigh": Zone.THIGHS, "buttock": Zone.SEAT, "back": Zone.LOWER_BACK, "shoulder": Zone.SHOULDERS}
MOTOR_ZONE: tuple[Zone, ...] = tuple(PART_ZONE[part] for _, part in LAYOUT)


class NlrPad:
    """The pad's body: eight levels, with a bounded history of every change."""

    def __init__(self) -> None:
        self.capabilities = NLR_CAPABILITIES
        self.levels: list[int] = [0] * MOTORS
        self.trace: deque[TraceEvent] = deque(maxlen=TRACE_LIMIT)
        self.history: deque[tuple[float, int, int]] = deque(maxlen=TRACE_LIMIT)  # t, motor, level
        self.max_intensity_seen = 0
        self.commands = 0  # M lines accepted (changes or not)

    def set(self, motor: int, level: int, now: float) -> None:
        self.commands += 1
        self.max_intensity_seen = max(self.max_intensity_seen, level)
        if self.levels[motor] == level:
            return
        self.levels[motor] = level
        self.history.append((now, motor, level))
        kind = "stop" if not any(self.levels) else "command"
        self.trace.append(TraceEvent(now, kind, f"M{motor}={level}", {"levels": list(self.levels)}))

    @property
    def motors_on(self) -> bool:
        return any(self.levels)

    @property
    def heat_on(self) -> bool:
        return False

    @property
    def stopped(self) -> bool:
        return not any(self.levels)

    @property
    def target(self) -> DeviceState:
        """The levels read as a state: vibrate on the zones whose motors run, at the top level."""
        if not any(self.levels):
            return DEVICE_STOPPED
        zones = frozenset(MOTOR_ZONE[m] for m, level in enumerate(self.levels) if level)
        return DeviceState(technique=Technique.VIBRATE, zones=zones, intensity=max(self.levels))

    def last_change(self, motor: int | None = None) -> tuple[float, int, int] | None:
        for entry in reversed(self.history):
            if motor is None or entry[1] == motor:
                return entry
        return None


class NlrSim(SimulatedDevice):
    already_started = "simulated pad already started"
    log_name = "simulated pad"
    opens_transport = True
    unplug_port_on_cut = True

    def __init__(
        self,
        transport: Transport,
        *,
        faults: FaultInjector | None = None,
        model: str = "nlr-hf8",
        intensity_scale: int = 255,
        audio_mode: bool = False,
    ) -> None:
        super().__init__(transport, faults)
        self.model = model
        self.physics = NlrPad()
        state_answer(intensity_scale, audio_mode)  # ValueError now for a scale outside 0-255
        self.intensity_scale = intensity_scale
        self.audio_mode = audio_mode
        self.lines = HostLines()
        self.rejected: list[tuple[float, str, str]] = []  # (t, line, why)
        self.queries = 0
        self.errors: list[str] = []

    # ------------------------------------------------------------ lifecycle

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self._writer(), "sim-nlr-writer"), (self._faults_loop(), "sim-nlr-faults")]

    # ------------------------------------------------------------ incoming

    def _on_bytes(self, data: bytes) -> None:
        if self._loop is None:
            return
        self._link_back()  # the cable is back?
        now = self._loop.time()
        self.faults.tick(now)
        for line in self.lines.take(data):
            if self.faults.stalled(now):
                continue
            if not self.faults.incoming(line.decode("ascii", "replace"), now):
                continue
            try:
                self._handle(read_command(line), now)
            except Exception as exc:  # the firmware must survive anything the host sends
                self.errors.append(f"{line!r}: {exc!r}")
                log.exception("simulated pad: error handling %r", line)

    def _handle(self, command: Command, now: float) -> None:
        match command:
            case SetLevel(motor, level):
                self.physics.set(motor, level, now)
            case AskState():
                self.queries += 1
                self._send(state_answer(self.intensity_scale, self.audio_mode), "P reply", now)
            case Refused(text, why):
                self.rejected.append((now, text, why))
                log.info("simulated pad: rejected %r (%s)", text, why)

    # ------------------------------------------------------------ outgoing

    def _send(self, line: bytes, what: str, now: float) -> None:
        if self.link_lost or self._queue is None:
            return
        out = self.faults.outgoing(line, what, now)
        if out is None:
            return
        self._queue_frame(*out, now)

    # ------------------------------------------------------------ the link

    def _link_lost(self, reason: str) -> None:
        # The pad keeps its levels: no deadman that we know of.
        log.info("simulated pad: link lost (%s); levels kept: %s", reason, self.physics.levels)
