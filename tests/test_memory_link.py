"""The in-memory link keeps byte order, with or without a delay."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.errors import DeviceDisconnected
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
