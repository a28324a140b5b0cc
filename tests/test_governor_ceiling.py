"""The governor's live caps as the service uses them: the one live intensity cap with
``lasting`` (it holds for later sessions too), and the heat ceiling (the heat switch)."""

from __future__ import annotations

import asyncio

from massager_ctl.core.target import STOPPED
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.session.clock import VirtualClock
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits

KNEAD = STOPPED.with_(
    technique=Technique.KNEAD, zones=[Zone.SHOULDERS], intensity=80, speed=50, heat=Heat.HIGH
)


def test_lowering_the_lasting_cap_acts_at_once_and_raising_it_ramps():
    gov = SafetyGovernor(SafetyLimits(slew_per_s=20))
    gov.begin(0.0)
    t = 0.0
    while t < 5:
        t += 0.1
        out = gov.regulate(KNEAD, t)
    assert out.intensity == 80
    assert gov.set_intensity_cap(30, lasting=True) == 30
    assert gov.regulate(KNEAD, t + 0.1).intensity == 30  # at once, no slew on the way down
    assert gov.set_intensity_cap(100, lasting=True) == 100
    assert gov.regulate(KNEAD, t + 0.2).intensity <= 30 + 20 * 0.1 + 1e-9  # back up under the slew


def settled(gov: SafetyGovernor, t: float) -> float:
    """The intensity once the slew has caught up (ten seconds of ticks from ``t``)."""
    for i in range(1, 101):
        out = gov.regulate(KNEAD, t + i * 0.1)
    return out.intensity


def test_a_lasting_cap_holds_for_the_next_sessions_and_can_be_raised_in_them():
    gov = SafetyGovernor(SafetyLimits(max_intensity=70, slew_per_s=50))
    assert gov.set_intensity_cap(25, lasting=True) == 25  # outside a session: the next one's cap
    assert gov.intensity_cap == 25
    for _ in range(2):  # every later session starts under it
        gov.begin(0.0)
        assert gov.intensity_cap == 25 and gov.intensity_ceiling == 70
        assert settled(gov, 0.0) == 25
        gov.end()
    gov.begin(0.0)
    assert gov.set_intensity_cap(100) == 70  # raised in a session: only to the cap it began with
    assert settled(gov, 0.0) == 70
    gov.end()
    gov.begin(0.0)
    assert gov.intensity_cap == 25  # a session-only raise does not outlive its session


def test_a_cap_never_raises_the_configured_one():
    gov = SafetyGovernor(SafetyLimits(max_intensity=40, max_heat=Heat.LOW))
    gov.set_intensity_cap(100, lasting=True)
    gov.set_heat_ceiling(Heat.HIGH)
    assert gov.intensity_cap == 40
    gov.begin(0.0)
    t = 0.0
    for _ in range(100):
        t += 0.1
        out = gov.regulate(KNEAD, t)
        assert out.intensity <= 40
        assert out.heat is Heat.LOW
    assert gov.capped(KNEAD).intensity == 40


def test_heat_ceiling_off_switches_heat_off_and_on_again_within_the_cap():
    gov = SafetyGovernor(SafetyLimits())
    gov.begin(0.0)
    assert gov.regulate(KNEAD, 0.1).heat is Heat.HIGH
    gov.set_heat_ceiling(Heat.OFF)
    assert gov.regulate(KNEAD, 0.2).heat is Heat.OFF
    assert gov.capped(KNEAD).heat is Heat.OFF
    gov.set_heat_ceiling(Heat.HIGH)
    assert gov.regulate(KNEAD, 0.3).heat is Heat.HIGH


def test_a_session_follows_a_lowered_heat_ceiling_without_waiting_for_its_tick():
    """Session.wake(): the heat switch's off reaches the writer at once, not at the next idle tick."""
    from massager_ctl.api import connect
    from massager_ctl.session.runner import manual_plan

    async def main():
        async with connect("sim:") as chair:
            written = []
            task = asyncio.get_running_loop().create_task(
                chair.run(
                    manual_plan(KNEAD, 600_000),
                    on_progress=lambda p: written.append((asyncio.get_running_loop().time(), p.target.heat)),
                )
            )
            await asyncio.sleep(30.5)  # between two idle ticks, the knead held at its cap
            assert written[-1][1] is not Heat.OFF
            chair.governor.set_heat_ceiling(Heat.OFF)
            at = asyncio.get_running_loop().time()
            chair.session.wake()
            await asyncio.sleep(0.05)
            after = [(t - at, h) for t, h in written if t >= at]
            chair.session.stop()
            await task
            return after

    after = VirtualClock().run(main())
    delay, heat = after[0]
    assert heat is Heat.OFF
    assert delay < 0.01  # not at the next idle tick (up to 1 s later)
