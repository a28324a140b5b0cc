"""A scripted evening session on the built-in simulated chair.

    python examples/evening.py            # real time (about 4 minutes)
    python examples/evening.py --fast     # virtual time: done in well under a second

It plays the shipped 3-minute "quick" profile, then holds some gentle
shoulder kneading with low heat for 30 seconds, then stops. Every command goes
through the same safety governor as the CLI.
"""

from __future__ import annotations

import asyncio
import sys

import massager_ctl
from massager_ctl.session.clock import RealClock, VirtualClock


async def evening() -> None:
    async with massager_ctl.connect("sim:") as chair:
        print(f"connected to {chair.model}")
        report = await chair.run("quick", on_progress=None)
        print(f"profile: {report.reason} after {report.plan_ms / 1000:.0f} s")

        await chair.set(technique="knead", zones=["shoulders"], intensity=30, heat="low")
        await asyncio.sleep(30)
        status = await chair.status()
        print(
            f"holding: {status.state.technique} at step {status.state.intensity}, "
            f"heater {status.heater_temp_c:.1f} °C"
        )

        status = await chair.stop()
        print("stopped" if status.stopped else "stop not confirmed!")


if __name__ == "__main__":
    clock = VirtualClock() if "--fast" in sys.argv else RealClock()
    clock.run(evening())
