"""The governor's live ceilings (the service's intensity cap and heat switch)."""

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


def test_lowering_the_intensity_ceiling_acts_at_once_and_raising_it_ramps():
    gov = SafetyGovernor(SafetyLimits(slew_per_s=20))
    gov.begin(0.0)
    t = 0.0
    while t < 5:
        t += 0.1
        out = gov.regulate(KNEAD, t)
    assert out.intensity == 80
    gov.set_ceiling(intensity=30)
    assert gov.regulate(KNEAD, t + 0.1).intensity == 30  # at once, no slew on the way down
    gov.set_ceiling(intensity=100)
    assert gov.regulate(KNEAD, t + 0.2).intensity <= 30 + 20 * 0.1 + 1e-9  # back up under the slew


def test_a_ceiling_never_raises_a_cap():
    gov = SafetyGovernor(SafetyLimits(max_intensity=40, max_heat=Heat.LOW))
    gov.begin(0.0)
    gov.set_ceiling(intensity=100, heat=Heat.HIGH)
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
    gov.set_ceiling(heat=Heat.OFF)
    assert gov.regulate(KNEAD, 0.2).heat is Heat.OFF
    assert gov.capped(KNEAD).heat is Heat.OFF
    gov.set_ceiling(heat=Heat.HIGH)
    assert gov.regulate(KNEAD, 0.3).heat is Heat.HIGH


def test_a_session_follows_a_lowered_ceiling_without_waiting_for_its_tick():
    """Session.wake(): the lowered cap reaches the writer at once, not at the next idle tick."""
    from massager_ctl.api import connect

    async def main():
        async with connect("sim:") as chair:
            written = []
            task = asyncio.get_running_loop().create_task(
                chair.run(
                    "quick",
                    on_progress=lambda p: written.append(
                        (asyncio.get_running_loop().time(), p.target.intensity)
                    ),
                )
            )
            await asyncio.sleep(
                70.5
            )  # between two idle ticks, into the knead steps (45 %, capped at 50 by the profile)
            chair.governor.set_ceiling(intensity=10)
            at = asyncio.get_running_loop().time()
            chair.session.wake()
            await asyncio.sleep(0.05)
            after = [(t - at, i) for t, i in written if t >= at]
            chair.session.stop()
            await task
            return after

    after = VirtualClock().run(main())
    delay, intensity = after[0]
    assert intensity <= 10
    assert delay < 0.01  # not at the next idle tick (up to 1 s later)
