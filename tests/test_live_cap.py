"""The live intensity cap (the - and + keys): never above the cap the session began with,
down at once, back up only at the slew rate, and the device's steps follow it."""

from __future__ import annotations

import asyncio
import math

from hypothesis import given, settings
from hypothesis import strategies as st

import massager_ctl
from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import manual_plan

KNEAD_90 = STOPPED.with_(technique=Technique.KNEAD, zones={Zone.SHOULDERS}, intensity=90, speed=50)


def live_governor(cap=60.0, slew=20.0, profile_cap=None) -> SafetyGovernor:
    gov = SafetyGovernor(SafetyLimits(max_intensity=cap, slew_per_s=slew))
    gov.begin(0.0, length_s=600, max_intensity=profile_cap)
    return gov


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6)), max_size=30
    )
)
def test_no_cap_asked_for_is_above_the_ceiling(asks):
    gov = live_governor(cap=60, profile_cap=45)
    now = 0.0
    for ask in asks:
        cap = gov.set_intensity_cap(ask)
        assert 0 <= cap <= 45
        now += 0.1
        assert gov.regulate(KNEAD_90, now).intensity <= 45 + 1e-9


def test_lowering_is_immediate_raising_obeys_the_slew():
    gov = live_governor(cap=60, slew=20)
    t = 0.0
    for _ in range(60):  # climb to the cap
        t += 0.1
        out = gov.regulate(KNEAD_90, t)
    assert out.intensity == 60
    assert gov.set_intensity_cap(20) == 20
    t += 0.1
    assert gov.regulate(KNEAD_90, t).intensity == 20  # down at the next tick
    assert gov.set_intensity_cap(1000) == 60  # never above the ceiling
    previous = 20.0
    for _ in range(40):
        t += 0.1
        now = gov.regulate(KNEAD_90, t).intensity
        assert now - previous <= 20 * 0.1 + 1e-9  # slew_per_s * dt
        previous = now
    assert previous == 60


def test_nothing_changes_outside_a_session_or_for_nan():
    gov = SafetyGovernor(SafetyLimits(max_intensity=50))
    assert gov.set_intensity_cap(10) == 50  # not live
    gov = live_governor(cap=50)
    assert gov.set_intensity_cap(math.nan) == 50
    assert gov.set_intensity_cap("40") == 40


def test_the_device_steps_follow_the_live_cap_on_a_chair():
    """Against the simulated reference chair (10 steps): a cap of 35 % never sends step 4
    (40 %), raising it past the configured cap gives the configured cap's steps only."""

    async def main():
        async with massager_ctl.connect(
            "sim:", limits=SafetyLimits(max_intensity=70, slew_per_s=50)
        ) as chair:
            plan = manual_plan(KNEAD_90, 60_000)
            written: list[int] = []
            chair.writer.on_written.append(lambda _at, state: written.append(state.intensity))
            task = asyncio.get_running_loop().create_task(chair.run(plan))
            await asyncio.sleep(10)
            written.clear()
            assert chair.session.set_intensity_cap(35) == 35
            await asyncio.sleep(10)
            lowered = list(written)
            written.clear()
            assert chair.session.set_intensity_cap(95) == 70
            await asyncio.sleep(10)
            raised = list(written)
            chair.session.stop()
            report = await task
            return lowered, raised, report, chair.simulator.physics.max_intensity_seen

    lowered, raised, report, seen = run_virtual(main())
    assert lowered and max(lowered) == 3  # 35 % of 10 steps: step 3, never 4
    assert raised and max(raised) == 7 and seen == 7
    assert report.reason == "stopped" and report.stop_confirmed


def test_each_key_action_reaches_the_session_and_is_reported():
    """SessionKeys between the terminal and the session: what each key does, and the
    control records it reports (the panel shows them; --json prints them)."""
    from massager_ctl.cli.keys import SessionKeys

    class Out:
        def __init__(self):
            self.controls = []

        def control(self, action, **data):
            self.controls.append((action, data))

    async def main():
        out = Out()
        async with massager_ctl.connect("sim:", limits=SafetyLimits(max_intensity=50)) as chair:
            keys = SessionKeys(chair, out)
            keys("pause")  # no session yet: nothing happens
            assert out.controls == []
            task = asyncio.get_running_loop().create_task(chair.run("quick"))
            await asyncio.sleep(5)
            keys("down")
            keys("up")
            keys("up")
            keys("pause")
            await asyncio.sleep(1)
            paused = chair.session.paused
            keys("pause")
            keys("skip")
            await asyncio.sleep(1)
            segment = chair.session.plan_ms(asyncio.get_running_loop().time())
            keys("stop")
            report = await task
        return out.controls, paused, segment, report

    controls, paused, position, report = run_virtual(main())
    caps = [data["max_intensity"] for action, data in controls if action == "cap"]
    assert caps == [40, 50, 50]  # down 10, back up, and never above the 50 % the session began with
    assert [a for a, _ in controls] == ["cap", "cap", "cap", "pause", "resume", "skip", "stop"]
    assert paused and position >= 40_000  # quick's second segment starts at 0:40
    assert report.reason == "stopped" and report.stop_confirmed
