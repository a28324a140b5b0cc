"""Statuses at a steady pace: what ``Chair.watch`` and ``RemoteChair.watch`` share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ..core.errors import UsageError
from ..core.status import Status


async def paced_statuses(ask: Callable[[], Awaitable[Status]], interval_s: float) -> AsyncIterator[Status]:
    """``await ask()`` every ``interval_s`` on the loop clock (no drift), until the caller
    stops iterating. An answer slower than a tick skips the ticks it took: never a burst."""
    if not interval_s > 0:  # (also refuses NaN)
        raise UsageError(f"watch interval must be above 0 s, not {interval_s!r}")
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 0
    while True:
        yield await ask()
        k += 1
        now = loop.time()
        while start + k * interval_s <= now:
            k += 1
        await asyncio.sleep(start + k * interval_s - now)
