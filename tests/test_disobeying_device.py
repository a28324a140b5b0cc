"""Trust, but verify: a device that acknowledges every command but does something else.

A chair that ACKs a SET at 20 % and runs (and reports) its top step used to play on to
"finished, confirmed", exit 0. Every model whose status reports what it executes (a
``status_tolerance`` in its definition) now has its statuses judged against the caps and
what it was sent (massager_ctl/session/verify.py): the session stops it and ends with
reason ``device-disobeyed``.

Families and why (docs/safety.md):

* native protocol (sim-chair, native, native-nus, native-ffe0): verified exactly; tested
  here for each model, with the reference chair's firmware made to disobey.
* Rongtai / Infinity (rongtai-rt8600s, infinity-evolution, rongtai-rt6923): verified
  exactly against what the driver acknowledged, the status read as the chair shows a state
  (airbag groups, one heat level), with a moment above the caps allowed while the driver
  is still making a state (the chair starts at the 3D strength it remembers) and the state
  a stop replaced counted while its keys take; tested here on the firmware-modelled board,
  made to step itself up, heat and squeeze by itself, or ignore its strength key, and a
  whole `run quick` on every model plays to its end with nothing false found.
* NLR HF8, Theragun, Pulsetto: their status only echoes what was sent (the devices report
  nothing of it), so there is nothing to verify; see NOT_VERIFIED.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

import massager_ctl.devices.rongtai.firmware as rt_firmware
import massager_ctl.devices.rongtai.sim as rt_sim
from massager_ctl.api import Chair, connect
from massager_ctl.connection.open import OpenedDevice
from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.status import DeviceState
from massager_ctl.core.tolerance import StatusTolerance
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.devices.native.codec import SetState
from massager_ctl.devices.native.driver import NativeDevice
from massager_ctl.devices.native.sim import SimulatedNativeChair
from massager_ctl.devices.registry import MODELS
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import Session
from massager_ctl.session.writer import Writer
from massager_ctl.transport.memory import MemoryLink

Mischief = Callable[[DeviceState, Capabilities], DeviceState]

#: Families whose models carry no status tolerance, and why (a new family must say).
NOT_VERIFIED = {
    "nlr": "the HF8 reports no motor levels: its status echoes what was sent",
    "theragun": "the gun reports nothing decodable: its status echoes what was sent",
    "pulsetto": "the Pulsetto reports only its battery: its status echoes what was sent",
}
VERIFIED = sorted(n for n, m in MODELS.items() if m.status_tolerance is not None)


def top_intensity(state: DeviceState, caps: Capabilities) -> DeviceState:
    """ACK whatever was asked, run the top step."""
    return replace(state, intensity=caps.intensity_steps) if state.technique else state


def hotter(state: DeviceState, caps: Capabilities) -> DeviceState:
    return replace(state, heat=Heat.HIGH) if state.heat is not Heat.OFF else state


def extra_airbag(state: DeviceState, caps: Capabilities) -> DeviceState:
    if not state.airbags:
        return state
    return replace(state, airbags=((Zone.ARMS, caps.airbag_levels), *state.airbags[1:]))


def one_step_more(state: DeviceState, caps: Capabilities) -> DeviceState:
    if not state.technique or state.intensity >= caps.intensity_steps:
        return state
    return replace(state, intensity=state.intensity + 1)


class DisobeyingChair(SimulatedNativeChair):
    """The reference chair's firmware, acknowledging every SET but running ``mischief`` of it
    (its STATUS then truthfully reports what it runs)."""

    def __init__(self, *args, mischief: Mischief, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mischief = mischief

    def _set(self, msg: SetState, now: float) -> None:
        super()._set(SetState(msg.seq, self.mischief(msg.state, self.capabilities)), now)


def plan(seconds: int = 20) -> Plan:
    ms = seconds * 1000
    zones = frozenset({Zone.SHOULDERS, Zone.UPPER_BACK})
    return Plan(
        name="told",
        roller=(
            RollerStep(0, ms, "knead", "r", Technique.KNEAD, zones, Level.constant(20), Level.constant(50)),
        ),
        airbag=(
            AirbagStep(0, ms, "squeeze", "a", zones=frozenset({Zone.CALVES}), pressure=Level.constant(40)),
        ),
        heat=(HeatStep(0, ms, "warm", "h", Heat.LOW),),
    )


LIMITS = SafetyLimits(max_intensity=60, max_airbag=60, max_heat=Heat.HIGH)


async def _play(model: str, mischief: Mischief, limits: SafetyLimits = LIMITS):
    definition = MODELS[model]
    link = MemoryLink()
    sim = DisobeyingChair(link.device, mischief=mischief, model=model)
    await sim.start()
    device = NativeDevice(link.host, name=model, min_write_gap_s=definition.min_write_gap_s)
    opened = OpenedDevice(device, definition, sim, [sim.close])
    opened.link = link
    await device.connect()
    chair = Chair(opened, limits)
    try:
        report = await chair.run(plan())
    finally:
        await chair.close()
    return report, sim


def _first_disobedient_status(sim, check: Callable[[dict], bool]) -> float:
    commands = [e for e in sim.physics.trace if e.kind == "command" and check(e.snapshot)]
    assert commands, "the chair never ran the mischief"
    return commands[0].t


@pytest.mark.parametrize("model", VERIFIED)
def test_a_chair_running_its_top_step_when_told_20_percent_is_stopped(model):
    report, sim = run_virtual(_play(model, top_intensity))
    assert report.reason == "device-disobeyed", report
    # (the first status after the first SET: the slew had granted step 1 of the 20 % = step 2)
    assert re.search(r"intensity step 10 where step [12] was sent", report.message), report.message
    assert "above the cap (step 6)" in report.message
    assert report.stop_confirmed
    physics = sim.physics
    assert physics.target.is_stopped and not physics.motors_on and not physics.heat_on
    began = _first_disobedient_status(sim, lambda s: s["intensity"] == 10)
    stops = [e for e in physics.trace if e.kind == "stop" and e.t >= began]
    # the next STATUS (0.1 s) shows it; the stop reaches the chair at once
    assert stops and stops[0].t - began <= 0.25, (began, stops[:1])
    assert report.plan_ms < 1_000


@pytest.mark.parametrize(
    "mischief, words",
    [
        (hotter, "heat high where low was sent"),
        (extra_airbag, "airbag arms at level"),
    ],
)
def test_heat_and_airbags_above_what_was_sent_stop_the_session(mischief, words):
    report, sim = run_virtual(_play("sim-chair", mischief))
    assert report.reason == "device-disobeyed" and words in report.message, report.message
    assert sim.physics.target.is_stopped and not sim.physics.heat_on


def test_heat_above_the_cap_is_named_as_such():
    limits = replace(LIMITS, max_heat=Heat.LOW)
    report, _ = run_virtual(_play("sim-chair", hotter, limits))
    assert report.reason == "device-disobeyed"
    assert "heat high, above the cap (low)" in report.message


def test_an_obedient_chair_plays_to_the_end():
    report, _ = run_virtual(_play("sim-chair", lambda state, caps: state))
    assert report.reason == "finished" and report.stop_confirmed


def _session_with_tolerance(mischief: Mischief, tolerance: StatusTolerance):
    async def main():
        link = MemoryLink()
        sim = DisobeyingChair(link.device, mischief=mischief)
        await sim.start()
        device = NativeDevice(link.host, name="tolerant")
        await device.connect()
        writer = Writer(device)
        session = Session(device, writer, SafetyGovernor(LIMITS), plan(5), tolerance=tolerance)
        try:
            return await session.run()
        finally:
            await writer.close()
            await device.disconnect()
            await sim.close()

    return run_virtual(main())


def test_within_the_models_tolerance_is_not_disobedience():
    assert _session_with_tolerance(one_step_more, StatusTolerance(intensity_steps=1)).reason == "finished"
    assert _session_with_tolerance(one_step_more, StatusTolerance()).reason == "device-disobeyed"


def test_every_family_is_verified_or_says_why_not():
    families = {m.protocol for m in MODELS.values()}
    verified = {MODELS[n].protocol for n in VERIFIED}
    assert verified == {"native", "rongtai"}
    assert families - verified == set(NOT_VERIFIED), "a family without a status tolerance must say why"


def test_the_cli_exits_1_and_says_what_the_chair_did(cli, monkeypatch):
    import massager_ctl.devices.native.sim as native_sim

    class TopStepChair(DisobeyingChair):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, mischief=top_intensity, **kwargs)

    monkeypatch.setattr(native_sim, "SimulatedNativeChair", TopStepChair)
    result = cli("--device", "sim:", "set", "-t", "knead", "-z", "shoulders", "-i", "20", "--for", "10s")
    assert result.exit_code == 1, result.output
    assert "does not do what it is told" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------- Rongtai / Infinity chairs

RONGTAI = sorted(n for n, m in MODELS.items() if m.protocol == "rongtai")
#: (3D strength keys 0x58..0x5C set strengths 1..5: massager_ctl/devices/rongtai/firmware.py)
STRENGTH_KEY_OF = {level + 1: key for key, level in rt_firmware.KEY_3DSPEED.items()}
POWER_KEY = rt_firmware.KEY_POWER_SWITCH
MISCHIEF_AT_S = 30.0


class WaywardBoard(rt_firmware.Board):
    """The firmware-modelled board, doing ``mischief`` to itself once, ``at`` seconds into
    its running (a stuck key, a glitch); ``deaf_to_strength``: it ignores the 3D strength
    keys, so it stays at the strength it remembers."""

    def __init__(
        self,
        *args,
        mischief: Callable[[rt_firmware.Board], None] | None = None,
        at: float = MISCHIEF_AT_S,
        remembers: int | None = None,
        deaf_to_strength: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mischief, self.at, self.done_at = mischief, at, None
        self.deaf_to_strength = deaf_to_strength
        if remembers is not None:
            self.axis_strength = remembers - 1

    def _tick(self, dt: float) -> None:
        super()._tick(dt)
        if (
            self.mischief
            and self.done_at is None
            and self.t >= self.at
            and self.state == rt_firmware.STATE_RUN
        ):
            self.done_at = self.t
            self.mischief(self)

    def _key(self, key: int) -> None:
        if self.deaf_to_strength and key in rt_firmware.KEY_3DSPEED:
            return
        super()._key(key)


def step_up_by_itself(board: rt_firmware.Board) -> None:
    board.axis_strength = min(4, board.axis_strength + 1)
    board.axis_changed_at = board.t  # the status blinks it like any change


def top_strength_by_itself(board: rt_firmware.Board) -> None:
    board.axis_strength = 4
    board.axis_changed_at = board.t


def heat_by_itself(board: rt_firmware.Board) -> None:
    board.heat = True


def arms_airbag_by_itself(board: rt_firmware.Board) -> None:
    board.airbag |= rt_firmware.AIR_ARM


def wayward(monkeypatch, **options) -> None:
    """Every simulated Rongtai chair opened from now on runs a :class:`WaywardBoard`."""
    monkeypatch.setattr(rt_sim, "Board", lambda *a, **kw: WaywardBoard(*a, **options, **kw))


def rongtai_plan(seconds: int = 60) -> Plan:
    """Knead the shoulders at 40 % (step 2 of 5) and squeeze the calves at 40 %, no heat."""
    ms = seconds * 1000
    return Plan(
        name="told",
        roller=(
            RollerStep(
                0,
                ms,
                "knead",
                "r",
                Technique.KNEAD,
                frozenset({Zone.SHOULDERS}),
                Level.constant(40),
                Level.constant(50),
            ),
        ),
        airbag=(
            AirbagStep(0, ms, "squeeze", "a", zones=frozenset({Zone.CALVES}), pressure=Level.constant(40)),
        ),
    )


async def _play_rongtai(model: str, plan_or_profile, limits: SafetyLimits = LIMITS, during=None):
    async with connect(f"sim:{model}", limits=limits) as chair:
        sim = chair.simulator
        seen: list = []
        chair.on_status(seen.append)
        task = asyncio.ensure_future(chair.run(plan_or_profile))
        if during is not None:
            await during(sim)
        report = await task
        await asyncio.sleep(10)  # the reset: rollers home, then off
        return report, sim, seen


def _assert_stopped_soon(report, sim, since: float, within_s: float) -> None:
    assert report.reason == "device-disobeyed", (report.reason, report.message)
    assert report.stop_confirmed, report
    assert sim.board.state == rt_firmware.STATE_OFF and not sim.board.heat and not sim.board.airbag
    power = [t for t, key in sim.received if key == POWER_KEY and t >= since]
    assert power and power[0] - since <= within_s, (since, power[:1])


@pytest.mark.parametrize("model", RONGTAI)
def test_a_rongtai_board_that_steps_its_3d_strength_up_by_itself_is_stopped(model, monkeypatch):
    wayward(monkeypatch, mischief=step_up_by_itself)
    report, sim, _ = run_virtual(_play_rongtai(model, rongtai_plan()))
    # step 3 is within the cap (60 % of 5): it is "more than was sent" that stops it
    assert "intensity step 3 where step 2 was sent" in report.message, report.message
    assert "above the cap" not in report.message
    assert "the chair's own remote counts too" in report.message
    # the next status after the change shows it (200 ms), the power key follows at once
    _assert_stopped_soon(report, sim, sim.board.done_at, within_s=0.8)


@pytest.mark.parametrize(
    "mischief, words",
    [
        (top_strength_by_itself, "intensity step 5, above the cap (step 3)"),
        (heat_by_itself, "heat low where off was sent"),
        (arms_airbag_by_itself, "airbag arms at level 2 where 0 was sent"),
    ],
)
def test_a_rongtai_board_that_heats_squeezes_or_runs_above_the_cap_by_itself_is_stopped(
    mischief, words, monkeypatch
):
    wayward(monkeypatch, mischief=mischief)
    report, sim, _ = run_virtual(_play_rongtai("rongtai-rt8600s", rongtai_plan()))
    assert words in report.message, report.message
    _assert_stopped_soon(report, sim, sim.board.done_at, within_s=0.8)


def test_a_rongtai_board_that_stays_at_its_remembered_strength_above_the_cap_is_stopped(monkeypatch):
    """The chair starts a technique at the strength it remembers (5 here), above the 60 %
    cap (step 3), and ignores the strength key: the moment the driver is allowed to make
    the state (2 s) passes, and the session stops it."""
    wayward(monkeypatch, remembers=5, deaf_to_strength=True)
    report, sim, seen = run_virtual(_play_rongtai("rongtai-rt8600s", rongtai_plan()))
    assert "intensity step 5, above the cap (step 3)" in report.message, report.message
    started = next(e.t for e in sim.board.events if e.detail.startswith("technique"))
    _assert_stopped_soon(
        report, sim, started, within_s=MODELS["rongtai-rt8600s"].status_tolerance.making_s + 0.8
    )


def test_the_person_turning_the_strength_up_at_the_chairs_remote_ends_the_session(monkeypatch):
    """The board cannot say who pressed a key: a level raised at the chair's own remote is
    judged like one its firmware raised (docs/safety.md); turned down, nothing is wrong."""

    async def press(key: int):
        async def during(sim):
            await asyncio.sleep(MISCHIEF_AT_S)
            sim.press(key)

        return await _play_rongtai("rongtai-rt8600s", rongtai_plan(), during=during)

    up, sim, _ = run_virtual(press(STRENGTH_KEY_OF[4]))
    assert "intensity step 4 where step 2 was sent" in up.message, up.message
    _assert_stopped_soon(up, sim, MISCHIEF_AT_S, within_s=0.8)
    down, _, _ = run_virtual(press(STRENGTH_KEY_OF[1]))
    assert down.reason == "finished", down.message


@pytest.mark.parametrize("model", RONGTAI)
@pytest.mark.parametrize("cap", [100.0, 20.0])
def test_run_quick_on_every_rongtai_chair_finds_nothing_false(model, cap):
    """Closed-loop stepping, ramps up and down, the 3D strength's blink, airbag groups, the
    rest and the stop at the end: the whole quick tour plays without a false finding. At
    a 20 % cap (step 1) the chair starts each technique at the strength it remembers (3),
    above the cap until the driver's key reaches it: allowed while the state is made."""
    assert MODELS[model].status_tolerance is not None
    limits = SafetyLimits(max_intensity=cap)
    report, sim, seen = run_virtual(_play_rongtai(model, "quick", limits))
    assert report.reason == "finished" and report.stop_confirmed, report.message
    assert not sim.errors
    strengths = [s.state.intensity for s in seen if s.state.technique is not None]
    assert max(strengths) >= 2  # a ramp was played (and the blink that follows each change)
    if cap == 20.0:
        assert max(strengths) > 1  # the remembered strength above the cap was seen, and allowed
    assert any(s.state.airbags for s in seen)


def test_a_rest_that_comes_while_the_rollers_still_walk_is_not_taken_for_disobedience():
    """The first segment walks the rollers down to the lower back (seconds of keys) and a
    rest follows after 1 s: the rest's keys start only after the walk, and until its power
    key takes, the chair shows the technique it was running. That is the way to the rest
    (``Device.making``), not a chair running more than it was sent."""
    lower_back = frozenset({Zone.LOWER_BACK})
    plan = Plan(
        name="rest",
        roller=(
            RollerStep(
                0, 1000, "knead", "r1", Technique.KNEAD, lower_back, Level.constant(40), Level.constant(50)
            ),
            RollerStep(
                15_000,
                25_000,
                "knead",
                "r2",
                Technique.KNEAD,
                lower_back,
                Level.constant(40),
                Level.constant(50),
            ),
        ),
    )
    report, sim, seen = run_virtual(_play_rongtai("rongtai-rt8600s", plan))
    assert report.reason == "finished" and report.stop_confirmed, report.message
    # the rest was made while the chair still ran the first segment's technique
    power = [t for t, key in sim.received if key == POWER_KEY]
    assert len(power) >= 3 and power[1] - power[0] > 3.0, power  # on, off for the rest (late), on


def test_the_cli_exits_1_when_a_rongtai_chair_heats_by_itself(cli, monkeypatch):
    wayward(monkeypatch, mischief=heat_by_itself, at=5.0)
    result = cli(
        "--device", "sim:rongtai-rt8600s", "set", "-t", "knead", "-z", "shoulders", "-i", "40",
        "--for", "60s", "--time-scale", "max",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "does not do what it is told: its status reports heat low where off was sent" in result.output
    assert "Traceback" not in result.output


def test_a_tolerance_refuses_a_making_time_that_is_not_a_number():
    for bad in (float("nan"), -1.0, 61.0, True):
        with pytest.raises(ValueError, match="making_s"):
            StatusTolerance(making_s=bad)
