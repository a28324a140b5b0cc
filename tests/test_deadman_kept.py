"""The host keeps the deadman it asked for: a device that answers a longer one is refused
(or, with long_deadman=warn, accepted with a warning), and the host heartbeats at a third
of the shorter of the two periods either way.

docs/safety.md promises that a native chair stops 1.5 s after its host dies; a device that
answered HELLO with 60 s and was taken at its word would leave the person waiting a
minute, and the host then sent heartbeats only every 20 s.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_native_device import Peer

from massager_ctl.connection.open import open_device
from massager_ctl.core.errors import DeviceError, UsageError
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.native.codec import Heartbeat, Hello, SetState
from massager_ctl.devices.native.driver import NativeDevice
from massager_ctl.devices.native.sim import SimulatedNativeChair
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.writer import Writer
from massager_ctl.transport.memory import MemoryLink

RUNNING = DeviceState(technique=Technique.KNEAD, zones=frozenset({Zone.SHOULDERS}), intensity=2, speed=2)


def _connect(peer_deadman_ms: int, **device_kw):
    async def main():
        link = MemoryLink()
        peer = Peer(link, deadman_ms=peer_deadman_ms)
        device = NativeDevice(link.host, name="test-chair", **device_kw)
        try:
            await device.connect()
            error = None
        except DeviceError as exc:
            error = exc
        return device, peer, link, error

    return run_virtual(main())


def test_a_device_answering_a_60_s_deadman_to_1_5_s_is_refused():
    device, peer, link, error = _connect(60_000)
    assert error is not None, "a 60 s deadman was accepted without a word"
    text = str(error)
    assert "60 s" in text and "1.5 s" in text and "long_deadman=warn" in text
    assert "\n" not in text
    assert not device.connected and not link.host.opened
    assert peer.of(SetState) == [], "something was sent after the refusal"


@pytest.mark.parametrize("answer_ms", [1501, 10_000, 60_000])
def test_any_deadman_longer_than_asked_is_refused(answer_ms):
    assert _connect(answer_ms)[3] is not None


@pytest.mark.parametrize("answer_ms, keepalive", [(1500, 0.5), (600, 0.2), (300, 0.1)])
def test_an_equal_or_shorter_deadman_is_taken_and_heard_a_third_of_it_apart(answer_ms, keepalive):
    device, _, _, error = _connect(answer_ms)
    assert error is None and device.deadman_ms == answer_ms
    assert device.keepalive_s == pytest.approx(keepalive)


def test_with_the_flag_a_longer_deadman_is_accepted_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="massager_ctl"):
        device, _, _, error = _connect(60_000, long_deadman="warn")
    assert error is None and device.connected
    assert device.deadman_ms == 60_000  # what the device keeps, as it said
    assert device.keepalive_s == pytest.approx(0.5)  # a third of the 1.5 s asked for
    assert any("60 s deadman" in r.getMessage() and "accepted" in r.getMessage() for r in caplog.records)


class _LongDeadmanChair(SimulatedNativeChair):
    """Firmware that keeps a 60 s deadman whatever the host asks."""

    MAX_DEADMAN_MS = 60_000

    def _hello(self, msg: Hello, now: float) -> None:
        super()._hello(Hello(msg.seq, msg.version, 60_000), now)


def test_with_the_flag_the_host_still_heartbeats_every_half_second():
    """Accepted, the longer deadman changes nothing on the host side: the chair hears a
    frame at least every 0.5 s (a third of the 1.5 s asked), not every 20 s."""

    async def main():
        link = MemoryLink()
        chair = _LongDeadmanChair(link.device)
        await chair.start()
        device = NativeDevice(link.host, name="long", long_deadman="warn")
        await device.connect()
        writer = Writer(device)
        writer.start()
        writer.submit(RUNNING)
        await asyncio.sleep(10)
        await writer.stop_device()
        await writer.close()
        await device.disconnect()
        await chair.close()
        return chair

    chair = run_virtual(main())
    assert chair.deadman_ms == 60_000
    times = [t for t, m in chair.received if not isinstance(m, Hello)]
    heartbeats = [m for _, m in chair.received if isinstance(m, Heartbeat)]
    assert len(heartbeats) >= 15
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) <= 0.5 + 1e-6


def test_the_flag_reaches_the_driver_from_the_device_uri():
    async def main():
        opened = await open_device("serial:/dev/null?model=native&long_deadman=warn")
        policy = opened.device.long_deadman
        await opened.close()
        default = await open_device("serial:/dev/null?model=native")
        await default.close()
        return policy, default.device.long_deadman

    assert asyncio.run(main()) == ("warn", "refuse")


@pytest.mark.parametrize(
    "uri",
    [
        "serial:/dev/null?model=native&long_deadman=sometimes",
        "serial:/dev/null?model=nlr-hf8&long_deadman=warn",
    ],
)
def test_a_bad_flag_is_a_usage_error(uri):
    async def main():
        await open_device(uri)

    with pytest.raises(UsageError):
        asyncio.run(main())
