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
