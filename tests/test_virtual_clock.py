"""The virtual clock: time jumps from timer to timer, and the loop's own descriptor
(its self-pipe, where a signal's wake-up arrives: Ctrl-C or SIGTERM during
``--time-scale max``) is still heard while it does, although it is no longer polled
on every turn."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from massager_ctl.session.clock import POLL_EVERY, VirtualClock, run_virtual

JUMPS = 100_000  # far more turns than POLL_EVERY: a loop that never polls runs out of them


async def _jump_until(event: asyncio.Event) -> int:
    """Sleep in 0.1 s steps (each a jump of virtual time) until ``event`` is set."""
    for turn in range(JUMPS):
        if event.is_set():
            return turn
        await asyncio.sleep(0.1)
    return JUMPS


def test_time_jumps_to_the_next_timer():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(1800)
        return loop.time() - t0

    assert run_virtual(main()) == 1800


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_a_signal_is_heard_while_time_keeps_jumping():
    async def main():
        loop = asyncio.get_running_loop()
        heard = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, heard.set)
        try:
            loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
            return await _jump_until(heard)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    turns = run_virtual(main())
    # The handler runs off the self-pipe, read at least every POLL_EVERY turns.
    assert turns <= POLL_EVERY + 1


def test_a_clock_starts_where_it_is_told():
    clock = VirtualClock(start=100.0)

    async def now():
        await asyncio.sleep(5)
        return asyncio.get_running_loop().time()

    assert clock.run(now()) == 105.0


# -- the scaled clock (--time-scale X) ------------------------------------------------


def test_a_scaled_clock_that_cannot_keep_pace_is_slower_never_late_on_its_own_time():
    """A million times real time, and 10 ms of real work after each half second: the
    clock cannot keep pace. Each wake-up still comes exactly at its deadline on the
    clock (before, time ran on with the wall: 10 000 s passed during each 10 ms)."""
    import time

    from massager_ctl.session.clock import ScaledClock

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        seen = []
        for _ in range(5):
            await asyncio.sleep(0.5)
            seen.append(loop.time() - start)
            time.sleep(0.01)  # a busy computer
        return seen

    assert ScaledClock(1e6).run(main()) == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5])


def test_a_scaled_clock_keeps_pace_when_it_can():
    import time

    from massager_ctl.session.clock import ScaledClock

    async def main():
        t0 = time.monotonic()
        await asyncio.sleep(2.0)  # 0.2 s of real time at 10x
        return time.monotonic() - t0

    assert 0.19 <= ScaledClock(10).run(main()) < 1.0


def test_a_profile_plays_correctly_at_ten_thousand_times_real_time():
    """The chair's deadman, its status cadence and the host's heartbeats all count on
    the one clock: at a scale no computer keeps up with, nothing trips (before: the
    deadman stopped the chair within seconds of the profile at 500x and above)."""
    from massager_ctl.api import connect
    from massager_ctl.profile import load_plan
    from massager_ctl.session.clock import ScaledClock

    async def main():
        async with connect("sim:") as chair:
            report = await chair.run(
                load_plan(os.path.join(os.path.dirname(__file__), "..", "profiles", "quick.toml"))
            )
            return report, chair.simulator.deadman_trips

    report, trips = ScaledClock(10_000).run(main())
    assert report.reason == "finished" and report.stop_confirmed and trips == 0


# -- the real clock's selector ----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "pipe"), reason="POSIX pipes")
def test_the_real_clock_selector_moves_to_the_default_one_beyond_select_reach():
    """select() waits to the microsecond but cannot watch a descriptor past FD_SETSIZE: a
    descriptor that high moves every registration to the platform's selector, still heard."""
    import selectors

    from massager_ctl.session.clock import _FineSelector

    sel = _FineSelector()
    low_r, low_w = os.pipe()
    high_r, high_w = os.pipe()
    high = os.dup2(high_r, 1010)
    try:
        sel.register(low_r, selectors.EVENT_READ, "low")
        assert isinstance(sel._inner, selectors.SelectSelector)
        sel.register(high, selectors.EVENT_READ, "high")
        assert not isinstance(sel._inner, selectors.SelectSelector)
        os.write(low_w, b"x")
        os.write(high_w, b"y")
        assert sorted(key.data for key, _ in sel.select(1.0)) == ["high", "low"]
    finally:
        sel.close()
        for fd in (low_r, low_w, high_r, high_w, high):
            os.close(fd)


def test_the_real_clock_runs_on_the_fine_selector():
    from massager_ctl.session.clock import RealClock, _FineSelector

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.001)
        return loop._selector  # type: ignore[attr-defined]

    assert isinstance(RealClock().run(main()), _FineSelector)
