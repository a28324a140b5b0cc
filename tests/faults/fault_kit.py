"""The fault matrix's harness: models, plans, faults, bounds, and one scenario runner.

Everything is data and is derived from the device registry: every model with a
simulator that is reachable as ``sim:<model>`` is in :data:`SIM_MODELS`, so a
model joins the matrix the day its simulator lands; what protects it once its host
is gone is its definition's safety facts (``ModelDefinition.safety``).

A scenario plays a short plan (three 8 s segments: steady, a ramp, steady; airbags and
heat where the model has them) through the real control path - ``open_device``,
the model's driver, the safety governor, the writer, the model's simulator on an
in-memory link - in virtual time, injects one fault at one point of the session,
and then watches the SIMULATOR's own state (``sim.physics``): when its motors and
heat were last on, when it last was not fully stopped (airbags vented), and the
highest intensity it was ever commanded.

The host's side mirrors :func:`massager_ctl.api.connect` exactly (open, connect,
Chair, run, close), except that the simulator is kept running after the host closed,
so the test can see what the device does once the host has given up.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bounds import (  # the data the harness runs on
    CORRUPT_FOR_S,
    FAULTS,
    GARBAGE_FOR_S,
    LIMITS,
    POINTS,
    PROTOCOLS,
    SAMPLE_S,
    SLOW_LINK_S,
    UNKNOWN_PROTOCOL,
    UNPROTECTED_WATCH_S,
    VENT_S,
    Fault,
    Protocol,
)

from massager_ctl.api import Chair
from massager_ctl.connection.open import open_device
from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.errors import MassagerError
from massager_ctl.core.vocabulary import BACK_ZONES, Technique, Zone
from massager_ctl.devices.model import ModelDefinition, OnLinkLoss, SafetyFacts
from massager_ctl.devices.registry import MODELS
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import VirtualClock
from massager_ctl.sim.faults import FaultInjector

# ----------------------------------------------------------------------------- models

#: Every model the matrix covers: it has a simulator and a ``sim:`` URI.
SIM_MODELS: tuple[str, ...] = tuple(
    name for name, m in MODELS.items() if m.simulator is not None and "sim" in m.schemes
)


def definition(model: str) -> ModelDefinition:
    return MODELS[model]


def protocol(model: str) -> Protocol:
    return PROTOCOLS.get(definition(model).protocol, UNKNOWN_PROTOCOL)


def safety(model: str) -> SafetyFacts:
    """What the model's definition says stops it without the host, and what it reports."""
    return definition(model).safety


# ------------------------------------------------------------------------------ plans

SEGMENT_MS = 8_000
PLAN_MS = 3 * SEGMENT_MS


def cap_steps(caps: Capabilities, percent: float = LIMITS.max_intensity) -> int:
    """The highest intensity step allowed under a percentage cap (mapping never rounds up)."""
    return math.floor(caps.intensity_steps * percent / 100 + 1e-9)


def scenario_plan(caps: Capabilities) -> Plan:
    """Steady above the cap (0-8 s), a ramp 20->100 % (8-16 s), steady (16-24 s);
    airbags at 80 % and the hottest heat for the whole plan, where the model has them.
    Built from the model's capabilities, so every model can play it."""
    techniques = [t for t in Technique if t in caps.techniques]
    back = [z for z in BACK_ZONES if z in caps.zones] or sorted(caps.zones, key=list(Zone).index)
    zones = frozenset(back[:2])
    segments = (
        ("steady", Level.constant(90), 0),
        ("ramp", Level(20, 100), 1),
        ("steady again", Level.constant(70), 2),
    )
    roller = tuple(
        RollerStep(
            i * SEGMENT_MS,
            SEGMENT_MS,
            name,
            f"segment {i + 1}",
            techniques[k % len(techniques)],
            zones,
            intensity,
            Level.constant(50),
        )
        for i, (name, intensity, k) in enumerate(segments)
    )
    bags = [z for z in Zone if z in caps.airbag_zones][:2]
    airbag = (
        (AirbagStep(0, PLAN_MS, "squeeze", "airbags", zones=frozenset(bags), pressure=Level.constant(80)),)
        if bags and caps.airbag_levels
        else ()
    )
    heat_level = caps.heat_levels[-1] if caps.heat_levels else None
    heat = (HeatStep(0, PLAN_MS, "warm", "heat", heat_level),) if heat_level else ()
    return Plan(name="fault scenario", roller=roller, airbag=airbag, heat=heat)


# ------------------------------------------------------------------------------ faults


def skip_reason(model: str, fault: Fault) -> str | None:
    """Why ``fault`` does not apply to ``model`` (None: it applies)."""
    proto = protocol(model)
    family = definition(model).protocol
    if fault.needs == "checksum" and proto.checksum_index is None:
        return (
            f"{model}: the {family} protocol has no checksum to corrupt ({proto.note}); "
            "damaged bytes are covered by the garbage fault"
        )
    if fault.needs == "nak" and not proto.nak:
        return f"{model}: the {family} protocol has no NAK (the device never refuses a command)"
    if fault.needs == "status" and safety(model).status_every_s is None:
        return f"{model}: the device sends no status on its own (its model's safety facts)"
    return None


def path_for(model: str, fault: Fault) -> str:
    """ "self" or "host" for this model (a host-side fault can leave a host blind)."""
    if fault.path == "host" and fault.name in protocol(model).host_blind:
        return "self"
    return fault.path


def unprotected(model: str, fault: Fault) -> bool:
    """Only the device could stop itself here, and it has nothing to do it with."""
    return path_for(model, fault) == "self" and safety(model).on_link_loss is OnLinkLoss.KEEPS_RUNNING


def points_for(model: str, fault: Fault) -> tuple[str, ...]:
    """Every point, except where the outcome cannot depend on it: a chair timer is set
    at the session's start, and a device with no self-stop never stops, wherever the
    fault strikes. Those run once, mid-segment (the device is running by then)."""
    if path_for(model, fault) == "self" and safety(model).on_link_loss is not OnLinkLoss.STOPS_BY_DEADMAN:
        return ("mid-segment",)
    return tuple(POINTS)


def self_stop_bound(model: str, device) -> float | None:
    """Seconds from the host going away until the device must have stopped by itself:
    the deadman period its model's facts state, or the chair timer the driver set for
    this session if it is one of the lengths the facts state (None: no protection in
    force)."""
    facts = safety(model)
    if facts.on_link_loss is OnLinkLoss.STOPS_BY_DEADMAN:
        return facts.deadman_s
    if facts.on_link_loss is OnLinkLoss.STOPS_AT_CHAIR_TIMER:
        timer = getattr(device, "timer_s", None)
        return float(timer) if timer in facts.chair_timer_s else None
    return None


# ------------------------------------------------------------------------ the link


class LinkFaults:
    """Faults on the in-memory link's bytes, whatever the protocol."""

    def __init__(self, link, checksum_index: int | None) -> None:
        self.link = link
        self.checksum_index = checksum_index
        self.drop_to_host = False
        self.drop_to_device = False
        self.corrupt_until: float | None = None
        self.corrupted = 0
        self.garbage_sent = 0
        self.to_host: list[tuple[float, int]] = []  # (time, bytes) delivered to the host
        for end in (link.host, link.device):
            end._deliver = self._filter(end, end._deliver)

    def _filter(self, end, deliver: Callable[[bytes], None]) -> Callable[[bytes], None]:
        to_host = end is self.link.host

        def filtered(data: bytes) -> None:
            if self.drop_to_host if to_host else self.drop_to_device:
                return
            now = asyncio.get_running_loop().time()
            if self.corrupt_until is not None and now < self.corrupt_until:
                data = self._corrupt(data)
            if to_host:
                self.to_host.append((now, len(data)))
            deliver(data)

        return filtered

    def _corrupt(self, data: bytes) -> bytes:
        i = self.checksum_index
        if i is None or not data or not -len(data) <= i < len(data):
            return data
        self.corrupted += 1
        raw = bytearray(data)
        raw[i] ^= 0x01  # the checksum no longer matches; the byte stays in its range
        return bytes(raw)

    def garbage(self, rng: random.Random) -> None:
        """Bytes that were never sent, into the host's receive stream."""
        markers = b"\xa5\xa6\xf0\xf1\xaa\xbb\r\nM0123456789+-QPE,A"
        n = rng.randint(1, 48)
        junk = bytes(rng.choice(markers) if rng.random() < 0.3 else rng.randrange(256) for _ in range(n))
        self.garbage_sent += 1
        self.link.host._deliver(junk)


# ------------------------------------------------------------------------ a scenario


@dataclass
class Outcome:
    model: str
    fault: str
    point: str
    t0: float | None = None  # loop time the session started
    t_fault: float | None = None
    t_decided: float | None = None  # when the session decided to stop (plan end or error)
    t_host_end: float | None = None  # when chair.run returned or raised
    t_stopped: float | None = None  # first sample at or after the fault with motors and heat off
    t_settled: float | None = None  # first sample at or after the fault fully stopped (vented)
    report: object = None
    error: BaseException | None = None
    last_on: float | None = None  # last sample with motors or heat on
    last_unsettled: float | None = None  # last sample not fully stopped (airbags too)
    ran: bool = False  # the device was running when the fault struck
    path: str = ""
    unprotected: bool = False
    max_intensity_seen: int = 0
    cap_steps: int = 0
    intensity_steps: int = 0
    self_stop_s: float | None = None
    deadline: float | None = None
    vent_deadline: float | None = None
    sim: object = None
    link: LinkFaults | None = None
    faults: FaultInjector | None = None
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        def t(x):
            return "-" if x is None else f"{x - (self.t0 or 0):.2f}s"

        err = f"{type(self.error).__name__}: {self.error}" if self.error else "none"
        reason = getattr(self.report, "reason", None)
        return (
            f"{self.model} / {self.fault} @ {self.point} ({self.path} path): fault at "
            f"{t(self.t_fault)} (device running: {self.ran}); session decided to stop at "
            f"{t(self.t_decided)}, run ended at {t(self.t_host_end)} ({reason}; error: {err}); "
            f"device off at {t(self.t_stopped)}, settled at {t(self.t_settled)}, last on at "
            f"{t(self.last_on)}; deadline {t(self.deadline)}, vented by "
            f"{t(self.vent_deadline)}; max intensity seen {self.max_intensity_seen} of cap "
            f"{self.cap_steps}/{self.intensity_steps}"
        )


def _running(physics) -> bool:
    return bool(physics.motors_on or physics.heat_on or not physics.target.is_stopped)


async def run_scenario(model: str, fault_name: str, point: str, *, seed: int = 0) -> Outcome:
    """Play the scenario plan on ``sim:<model>`` with ``fault`` at ``point``; watch the device."""
    loop = asyncio.get_running_loop()
    fault = FAULTS[fault_name]
    out = Outcome(model, fault_name, point)
    injector = FaultInjector()
    opened = await open_device(f"sim:{model}", faults=injector)
    sim = opened.simulator
    # Keep the simulator alive after the host closes: the test watches it afterwards.
    opened.closers = [c for c in opened.closers if c != sim.close]
    link = LinkFaults(opened.link, protocol(model).checksum_index)
    out.sim, out.link, out.faults = sim, link, injector
    physics = sim.physics
    rng = random.Random(f"{model}/{fault_name}/{point}/{seed}")
    started = asyncio.Event()

    def sample() -> None:
        now = loop.time()
        if hasattr(physics, "advance"):
            physics.advance(now)
        on = _running(physics)
        unsettled = on or not physics.stopped
        if on:
            out.last_on = now
        if unsettled:
            out.last_unsettled = now
        if out.t_fault is not None:
            if not on and out.t_stopped is None:
                out.t_stopped = now
            if not unsettled and out.t_settled is None:
                out.t_settled = now

    async def watch() -> None:
        while True:
            sample()
            await asyncio.sleep(SAMPLE_S)

    session = None

    def on_progress(p) -> None:
        nonlocal session
        if out.t0 is None:
            out.t0 = loop.time() - p.elapsed_s
            session = chair.session
            started.set()

    await opened.device.connect()
    chair = Chair(opened, LIMITS)
    caps = chair.device.capabilities
    out.cap_steps, out.intensity_steps = cap_steps(caps), caps.intensity_steps
    watcher = loop.create_task(watch())
    run = loop.create_task(
        chair.run(scenario_plan(caps), on_progress=on_progress, on_warning=out.warnings.append)
    )

    out.path = path_for(model, fault)
    out.unprotected = unprotected(model, fault)

    def inject() -> None:
        sample()
        out.ran = _running(physics)
        out.t_fault = loop.time()
        if fault_name == "link-dropped":
            link.drop_to_host = link.drop_to_device = True
        elif fault_name == "cable-pulled":
            opened.link.cut("fault matrix: cable pulled")
        elif fault_name == "device-stalls":
            injector.stall()
        elif fault_name == "host-vanished":
            link.drop_to_device = True  # nothing the host does reaches the device any more
            run.cancel()  # and the host's session is gone
        elif fault_name == "garbage":
            for k in range(int(GARBAGE_FOR_S / 0.1)):
                loop.call_later(k * 0.1, link.garbage, rng)
        elif fault_name == "corrupt-checksums":
            link.corrupt_until = out.t_fault + CORRUPT_FOR_S
        elif fault_name == "nak-storm":
            injector.nak(n=1_000_000)
        elif fault_name == "slow-link":
            opened.link.delay_s = SLOW_LINK_S
        elif fault_name == "status-stops":
            injector.stop_status()
        else:  # pragma: no cover - a fault without an injection is a bug in this file
            raise AssertionError(f"no injection for {fault_name}")

    started_wait = loop.create_task(started.wait())
    await asyncio.wait({started_wait, run}, return_when=asyncio.FIRST_COMPLETED)
    started_wait.cancel()
    if out.t0 is None:
        raise AssertionError(f"{model}: the session never started: {run.exception()!r}")
    loop.call_at(out.t0 + POINTS[point], inject)
    try:
        out.report = await run
    except asyncio.CancelledError:
        if fault_name != "host-vanished":
            raise
        out.error = None
    except MassagerError as exc:
        out.error = exc
    out.t_host_end = loop.time()
    try:  # what leaving `async with connect(...)` does (host-vanished: its bytes go nowhere)
        await chair.close()
    except MassagerError as exc:
        out.warnings.append(f"close: {exc}")
    if out.t_fault is None:  # the session ended before the fault was due
        await asyncio.sleep(max(0.0, out.t0 + POINTS[point] - loop.time()) + 0.001)

    if session is not None:  # when the session's loop ended and its stop began
        out.t_decided = out.t0 + session.report.elapsed_s
    # The deadline: from the fault when the device is on its own, else from the moment
    # the session decided to stop.
    proto = protocol(model)
    if out.path == "self":
        out.self_stop_s = self_stop_bound(model, chair.device)
        bound = out.self_stop_s if out.self_stop_s is not None else UNPROTECTED_WATCH_S
        out.deadline = out.t_fault + bound + SAMPLE_S
    else:
        bound = fault.bound_s + proto.stop_s
        if fault_name == "nak-storm":  # refused twice, then the device's own protection
            bound += self_stop_bound(model, chair.device) or UNPROTECTED_WATCH_S
        out.deadline = out.t_decided + bound + SAMPLE_S
    out.vent_deadline = out.deadline + VENT_S
    await asyncio.sleep(max(0.0, out.vent_deadline - loop.time()) + SAMPLE_S)
    sample()
    watcher.cancel()
    await sim.close()
    out.max_intensity_seen = physics.max_intensity_seen
    return out


# ------------------------------------------------------------------------ the clock


class Livelock(Exception):
    """Virtual time stood still while the loop kept running (not an AssertionError: a
    hang is never an expected failure)."""


#: Wall seconds a scenario may take before the watchdog calls it a livelock.
WALL_LIMIT_S = 60.0


def run_guarded(coro, *, wall_limit_s: float = WALL_LIMIT_S):
    """Run ``coro`` in virtual time (``run_virtual``'s clock), with a watchdog: if it takes
    longer than ``wall_limit_s`` of real time, its task is cancelled and :class:`Livelock`
    raised. A virtual-time livelock (the loop turning while time stands still, as the
    session's boundary rounding once caused) keeps the loop running, so the cancel gets
    through: a hang fails the test instead of CI."""
    import threading

    clock = VirtualClock()
    state: dict = {}

    async def guarded():
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def fire() -> None:
            state["stuck_at"] = loop.time()
            task.cancel()

        timer = threading.Timer(wall_limit_s, loop.call_soon_threadsafe, (fire,))
        timer.daemon = True
        timer.start()
        try:
            return await coro
        finally:
            timer.cancel()

    try:
        return clock.run(guarded())
    except asyncio.CancelledError:
        if "stuck_at" in state:
            raise Livelock(
                f"virtual time stood still at {state['stuck_at']!r} s for {wall_limit_s:g} s of real time"
            ) from None
        raise


# --------------------------------------------------------------------- the judgement


def problems(out: Outcome) -> tuple[list[str], list[str]]:
    """What is wrong with an outcome, judged from the simulator's own state:
    (hard, late). ``hard`` can never be excused: nothing was tested, a command above
    the cap, a host claiming a stop it did not see, a session that did not ride through
    a fault it must survive. ``late``: the device was not off (or vented) by the deadline,
    which is what an unprotected device is expected to show."""
    fault = FAULTS[out.fault]
    hard, late = [], []
    if out.t_fault is None:
        hard.append("the fault never struck (the session ended first)")
    if out.path == "self" and not out.ran:
        hard.append("the device was not running when the fault struck: nothing was tested")
    if out.path == "self" and not out.unprotected and out.self_stop_s is None:
        hard.append(
            "the protection its model's safety facts state was not in force "
            "(no chair timer of the stated lengths was set)"
        )
    if out.max_intensity_seen > out.cap_steps:
        hard.append(
            f"the device was commanded intensity {out.max_intensity_seen}, above the "
            f"cap of {out.cap_steps} of {out.intensity_steps} steps"
        )
    if (
        out.report is not None
        and getattr(out.report, "stop_confirmed", False)
        and (out.t_stopped is None or out.t_stopped > out.t_host_end)
    ):
        hard.append("the host reported a confirmed stop while the device was still running")
    if fault.must_finish and (out.error is not None or getattr(out.report, "reason", None) != "finished"):
        hard.append("the session did not ride through the fault to its end")
    if out.t_stopped is None or out.t_stopped > out.deadline:
        late.append("motors or heat still on at the deadline")
    elif out.last_on is not None and out.last_on > out.deadline:
        late.append("the device was running again after the deadline")
    if out.t_settled is None or out.t_settled > out.vent_deadline:
        late.append("not fully stopped (airbags vented) by the deadline + vent time")
    return hard, late


def judge(out: Outcome) -> None:
    """Fail the test: ``pytest.fail`` for hard problems (never an expected failure),
    ``assert`` for a late stop (the expected failure of an unprotected device)."""
    import pytest

    hard, late = problems(out)
    if hard:
        pytest.fail(f"{out.describe()}\n  " + "\n  ".join(hard + late), pytrace=False)
    assert not late, f"{out.describe()}\n  " + "\n  ".join(late)


# ------------------------------------------------------------- host processes (CLI)


def scenario_profile_toml(caps: Capabilities, segment_s: float = SEGMENT_MS / 1000) -> str:
    """:func:`scenario_plan` as a profile file, for `massager-ctl run` subprocesses."""
    plan = scenario_plan(caps)
    out = [
        "format = 1",
        'name = "fault scenario"',
        'description = "fault matrix"',
        'benefit = "relaxation"',
        "",
    ]
    for step in plan.roller:
        lo, hi = step.intensity.start, step.intensity.end
        intensity = f"{lo:g}" if lo == hi else f"{{ from = {lo:g}, to = {hi:g} }}"
        zones = ", ".join(f'"{z.value}"' for z in sorted(step.zones, key=list(Zone).index))
        out += [
            "[[segment]]",
            f'name = "{step.name}"',
            f'duration = "{segment_s:g}s"',
            f'technique = "{step.technique.value}"',
            f"zones = [{zones}]",
            f"intensity = {intensity}",
            "speed = 50",
            "",
        ]
    total = f"{3 * segment_s:g}s"
    for step in plan.airbag:
        zones = ", ".join(f'"{z.value}"' for z in sorted(step.zones, key=list(Zone).index))
        out += ["[[airbag]]", f'duration = "{total}"', f"zones = [{zones}]", "pressure = 80", ""]
    for step in plan.heat:
        out += ["[[heat]]", f'duration = "{total}"', f'level = "{step.level.value}"', ""]
    return "\n".join(out)


CAPS_CONFIG_TOML = f"[caps]\nmax_intensity = {LIMITS.max_intensity:g}\nmax_airbag = {LIMITS.max_airbag:g}\n"
