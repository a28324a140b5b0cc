"""The fault tests' watchdog: a virtual-time livelock fails a test instead of hanging CI.

(The matrix once hung this way: the session's plan position was floored from a sum of
floats and never reached a step boundary, so it waited for it again and again while
virtual time stood still. session/runner.py now floors with a microsecond of slack.)
"""

from __future__ import annotations

import asyncio

import pytest
from fault_kit import Livelock, run_guarded


def test_a_livelock_fails_instead_of_hanging():
    async def spin():
        while True:  # busy for ever at one instant of virtual time
            await asyncio.sleep(0)

    with pytest.raises(Livelock, match="virtual time stood still"):
        run_guarded(spin(), wall_limit_s=0.5)


def test_a_quick_run_is_not_mistaken_for_one():
    async def nap():
        await asyncio.sleep(3600)  # an hour of virtual time, at once
        return "done"

    assert run_guarded(nap(), wall_limit_s=5) == "done"
