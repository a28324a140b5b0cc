"""A simulated Rongtai / Infinity chair speaking the real bytes on any transport.

:class:`~massager_ctl.devices.rongtai.firmware.Board` is the main board as its firmware
behaves (keys in, status frames out, every state and key as the firmware has them);
:class:`RongtaiSim` puts it on a transport: it hands the bytes it hears to the board's
receiver, sends what the board's 200 ms tick builds on the ``"status"`` endpoint (a
status frame, or an info frame when nothing changed), lets a
:class:`~massager_ctl.sim.faults.FaultInjector` misbehave on the link, and drives a
:class:`~massager_ctl.sim.physics.ChairPhysics` (the body) with what the board does, so
tests judge safety from ``.physics``.

Nothing here reads the host's decoder or its word tables: what the rollers do to the
body is this module's own reading of the board (:func:`body_state`).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from ...core.capabilities import Capabilities
from ...core.status import DEVICE_STOPPED, DeviceState
from ...core.vocabulary import Heat, Technique, Width, Zone
from ...sim.base import SimulatedDevice
from ...sim.faults import FaultInjector
from ...sim.physics import ChairPhysics, PhysicsParams, TraceEvent
from ...transport.base import Transport
from .facts import ENDPOINT_STATUS, RT6923_CAPABILITIES, RT8600S_CAPABILITIES, STATUS_PERIOD_S
from .firmware import (
    AIR_ARM,
    AIR_AUTO,
    AIR_BACK,
    AIR_LEG,
    AIR_SEAT,
    BOARDS,
    LOCATE_PARTIAL,
    LOCATE_POINT,
    PARTIAL_HALF,
    STATE_RUN,
    SUB_KNEAD,
    SUB_KNOCK,
    SUB_MUSIC,
    SUB_NONE,
    SUB_PRESS,
    SUB_RUBBING,
    SUB_SOFT_KNOCK,
    SUB_WAVELET,
    TOP_HEIGHT,
    WIDTH_SUBS,
    Board,
    Timing,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "rongtai-rt8600s"

#: What each of the board's techniques does to the body.
BODY_TECHNIQUE: dict[int, Technique] = {
    SUB_KNEAD: Technique.KNEAD,
    SUB_KNOCK: Technique.KNOCK,
    SUB_WAVELET: Technique.KNEAD,
    SUB_SOFT_KNOCK: Technique.TAP,
    SUB_PRESS: Technique.SHIATSU,
    SUB_MUSIC: Technique.TAP,
    SUB_RUBBING: Technique.KNEAD,
}
#: The back from the waist (roller at 0) up to the neck (at 12), five equal stretches.
BODY_BANDS: tuple[Zone, ...] = (Zone.LOWER_BACK, Zone.MID_BACK, Zone.UPPER_BACK, Zone.SHOULDERS, Zone.NECK)
BODY_AIRBAGS: dict[int, tuple[Zone, ...]] = {
    AIR_LEG: (Zone.CALVES, Zone.FEET),
    AIR_BACK: (Zone.LOWER_BACK,),
    AIR_ARM: (Zone.ARMS, Zone.SHOULDERS),
    AIR_SEAT: (Zone.SEAT,),
}
BODY_WIDTH = {1: Width.NARROW, 2: Width.MEDIUM, 3: Width.WIDE}


def band_at(height: float) -> Zone:
    span = (TOP_HEIGHT + 1) / len(BODY_BANDS)
    index = min(max(int(height / span), 0), len(BODY_BANDS) - 1)
    return BODY_BANDS[index]


def bands_between(lo: float, hi: float) -> frozenset[Zone]:
    span = (TOP_HEIGHT + 1) / len(BODY_BANDS)
    out = set()
    for i, zone in enumerate(BODY_BANDS):
        z_lo, z_hi = i * span, (i + 1) * span
        if min(hi, z_hi) - max(lo, z_lo) > 0.25:
            out.add(zone)
    return frozenset(out)


def body_state(board: Board, caps: Capabilities) -> DeviceState:
    """What the chair does to the person in it now, in vocabulary words."""
    if board.state != STATE_RUN:
        return DEVICE_STOPPED
    technique = None
    zones: frozenset[Zone] = frozenset()
    intensity = speed = 0
    width = None
    sub = board.current_sub()
    if sub != SUB_NONE:
        technique = BODY_TECHNIQUE[sub]
        if board.locate == LOCATE_POINT:
            zones = frozenset({band_at(board.height)})
        elif board.locate == LOCATE_PARTIAL:
            zones = bands_between(board.centre - PARTIAL_HALF, board.centre + PARTIAL_HALF + 1)
        else:
            zones = frozenset(BODY_BANDS)
        zones &= caps.zones
        intensity = board.axis_strength + 1
        speed = min(max(board.current_speed(), 1), caps.speed_steps)
        width = BODY_WIDTH.get(board.width_key) if sub in WIDTH_SUBS else None
    airbags: list[tuple[Zone, int]] = []
    if board.airbag and board.airbag_strength:
        chosen = 0x0F if board.airbag == AIR_AUTO else board.airbag
        for bit, words in BODY_AIRBAGS.items():
            if chosen & bit:
                airbags.extend((w, board.airbag_strength) for w in words if w in caps.airbag_zones)
    heat = caps.heat_levels[0] if board.heat and caps.heat_levels else Heat.OFF
    if not zones and not airbags and heat is Heat.OFF:
        return DEVICE_STOPPED
    return DeviceState(
        technique=technique if zones else None,
        zones=zones,
        intensity=intensity if zones else 0,
        speed=speed if zones else 0,
        width=width if zones else None,
        airbags=tuple(airbags),
        heat=heat,
    )


def capabilities_of(model: str) -> Capabilities:
    if model not in BOARDS:
        raise ValueError(f"unknown Rongtai model {model!r}; known: {', '.join(BOARDS)}")
    return RT6923_CAPABILITIES if BOARDS[model].frame_length == 18 else RT8600S_CAPABILITIES


class RongtaiSim(SimulatedDevice):
    """The chair on a transport: key frames in, a frame every 200 ms out."""

    already_started = "simulated chair already started"
    log_name = "simulated Rongtai chair"
    write_endpoint = ENDPOINT_STATUS

    def __init__(
        self,
        transport: Transport,
        *,
        faults: FaultInjector | None = None,
        model: str = DEFAULT_MODEL,
        status_interval_s: float = STATUS_PERIOD_S,
        timing: Timing | None = None,
        physics_params: PhysicsParams | None = None,
    ) -> None:
        if not status_interval_s > 0:
            raise ValueError(f"status interval must be above 0 s, not {status_interval_s!r}")
        super().__init__(transport, faults)
        self.model = model
        self.capabilities = capabilities_of(model)
        self.status_interval_s = float(status_interval_s)
        self.board = Board(BOARDS[model], timing=timing)
        self.physics = ChairPhysics(self.capabilities, physics_params or PhysicsParams())
        self.received: list[tuple[float, int]] = []  # (time, key) of every key frame heard
        self.sent: list[tuple[float, bytes]] = []  # the last frames sent (time, bytes)
        self.sent_frames = 0
        self.info_frames = 0
        self.errors: list[str] = []
        self._commanded: DeviceState = DEVICE_STOPPED
        self._events_seen = 0

    @property
    def keys_in_reset(self) -> int:
        """Keys that reached the board during a reset (each one powered it off at once)."""
        return sum(1 for e in self.board.events if e.kind == "power" and "during the reset" in e.detail)

    def keys(self) -> list[int]:
        """Every key frame the board heard, in order."""
        return [key for _, key in self.received]

    def now(self) -> float:
        return self._loop.time() if self._loop is not None else self.board.t

    # ------------------------------------------------------------ the chair's own remote

    def press(self, key: int) -> None:
        """A key pressed on the chair's own remote (not through the host's link)."""
        now = self.now()
        self.board.press(key, now)
        self._sync(now)
        self._wake_up()

    def trip_fault(self) -> None:
        """Put the board in its fault state (run state 5) now."""
        now = self.now()
        self.board.trip_fault(now)
        self._sync(now)

    # ------------------------------------------------------------ lifecycle

    def _starting(self, now: float) -> None:
        self.board.t = now
        self.board.ready_since = self.board.airbag_since = now
        self.physics.advance(now)

    def _loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self._writer(), "rongtai-sim-writer"), (self._run(), "rongtai-sim-loop")]

    async def _run(self) -> None:
        loop = self._loop
        assert loop is not None and self._start is not None
        tick = 1
        while True:
            now = loop.time()
            self.faults.tick(now)
            self._sync(now)
            due = self._start + tick * self.status_interval_s
            if now >= due - 1e-9:
                self._send(now)
                while self._start + tick * self.status_interval_s <= now + 1e-9:
                    tick += 1
                due = self._start + tick * self.status_interval_s
            for other in (self.faults.next_due(), self.board.next_due()):
                if other is not None:
                    due = min(due, other)
            await self._sleep_until(due)

    # ------------------------------------------------------------ board <-> body

    def _sync(self, now: float) -> None:
        try:
            self.board.advance(now)
            self._mirror_events()
            state = body_state(self.board, self.capabilities)
            if state != self._commanded:
                if state == DEVICE_STOPPED:
                    last = self.board.events[-1].detail if self.board.events else "stop"
                    self.physics.stop(now, reason=last)
                else:
                    self.physics.command(state, now)
                self._commanded = state
            self.physics.advance(now)
        except Exception as exc:  # the firmware must survive its own bugs; tests read errors
            self.errors.append(repr(exc))
            log.exception("simulated Rongtai chair: internal error")

    def _mirror_events(self) -> None:
        events = self.board.events
        for event in events[self._events_seen :]:
            self.physics.trace.append(TraceEvent(event.t, event.kind, event.detail, {"chair": self.model}))
        self._events_seen = len(events)

    # ------------------------------------------------------------ the link

    def _on_bytes(self, data: bytes) -> None:
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        if self.faults.stalled(now):
            return
        if not self.faults.incoming(f"{len(data)} bytes", now):
            return
        for _source, key in self.board.feed(data, now):
            self.received.append((now, key))
        self._sync(now)
        self._wake_up()

    def _send(self, now: float) -> None:
        if self.link_lost:
            self._link_back()  # the cable may be back: the board never stopped sending
        if self.link_lost or self._queue is None:
            return
        frame = self.board.frame(now)
        info = len(frame) == 10
        out = self.faults.outgoing(frame, "info" if info else "status", now, status=True)
        if out is None:
            return
        self.sent_frames += 1
        self.info_frames += info
        self.sent.append((now, frame))
        del self.sent[:-100]
        self._queue_frame(*out, now)

    def _link_lost(self, reason: str) -> None:
        # The board carries on: its own timer (and end stops) end what was running.
        log.info("simulated Rongtai chair: link lost (%s)", reason)


class InfinityEvolutionSim(RongtaiSim):
    def __init__(self, transport: Transport, *, model: str = "infinity-evolution", **options: Any) -> None:
        super().__init__(transport, model=model, **options)


class RongtaiRT6923Sim(RongtaiSim):
    def __init__(self, transport: Transport, *, model: str = "rongtai-rt6923", **options: Any) -> None:
        super().__init__(transport, model=model, **options)
