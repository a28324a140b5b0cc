"""The in-memory link keeps byte order, with or without a delay."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.core.errors import DeviceDisconnected
from massager_ctl.session.clock import run_virtual
from massager_ctl.transport.memory import MemoryLink


@pytest.mark.parametrize("delay", [0.0, 0.005])
def test_writes_arrive_in_order(delay):
    async def main():
        link = MemoryLink(delay_s=delay)
        got = []
        link.device.set_receiver(got.append)
        for i in range(50):
            await link.host.write(bytes([i]))
        await asyncio.sleep(delay + 0.001)
        return got

    assert run_virtual(main()) == [bytes([i]) for i in range(50)]


def test_cut_reports_once_and_refuses_writes():
    async def main():
        link = MemoryLink()
        seen = []
        link.host.on_disconnect(seen.append)
        link.cut("pulled")
        link.cut("again")
        with pytest.raises(DeviceDisconnected):
            await link.host.write(b"x")
        return seen

    assert run_virtual(main()) == ["pulled"]


def test_write_nowait_mixes_with_write_in_order_and_never_delivers_synchronously():
    async def main():
        link = MemoryLink()
        got = []
        link.device.set_receiver(got.append)
        for i in range(10):
            if i % 2:
                assert link.host.write_nowait(bytes([i])) is True
            else:
                await link.host.write(bytes([i]))
        before = list(got)
        assert link.host.write_nowait(b"\xff")
        same_turn = list(got)
        await asyncio.sleep(0)
        link.cut("pulled")
        with pytest.raises(DeviceDisconnected):
            link.host.write_nowait(b"x")
        return before, same_turn, got

    before, same_turn, got = run_virtual(main())
    assert same_turn == before  # the last write is on its way, not delivered in the call
    assert got == [bytes([i]) for i in range(10)] + [b"\xff"]
