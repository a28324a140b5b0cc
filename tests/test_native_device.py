"""NativeDevice against a scripted peer: the device end of a MemoryLink answering with the codec.

Everything runs in virtual time, so "the 1.5 s handshake timeout" takes no real time
and elapsed times can be asserted exactly.
"""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.errors import DeviceDisconnected, DeviceError, DeviceTimeout, StopNotConfirmed
from massager_ctl.core.status import DeviceState, Status
from massager_ctl.core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from massager_ctl.devices.native.codec import (
    Ack,
    Decoder,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    encode,
)
from massager_ctl.devices.native.driver import NativeDevice
from massager_ctl.session.clock import run_virtual
from massager_ctl.transport.memory import MemoryLink

CAPS = Capabilities(
    zones=frozenset(BACK_ZONES),
    techniques=frozenset({Technique.KNEAD, Technique.ROLL}),
    intensity_steps=5,
    speed_steps=3,
    widths=frozenset({Width.NARROW, Width.WIDE}),
    airbag_zones=frozenset({Zone.ARMS, Zone.CALVES}),
    airbag_levels=3,
    heat_levels=(Heat.LOW,),
)
RUNNING = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS}),
    intensity=3,
    speed=2,
    width=Width.WIDE,
    airbags=((Zone.ARMS, 2),),
    heat=Heat.LOW,
)


class Peer:
    """A chair's firmware in a few lines, with knobs to make it misbehave."""

    def __init__(
        self,
        link: MemoryLink,
        *,
        answer_hello: bool = True,
        info_version: int = 1,
        deadman_ms: int | None = None,
        nak_hello: NakCode | None = None,
        drop_set_acks: int = 0,
        nak_set: NakCode | None = None,
        drop_stop_acks: int = 0,
        status_after_stop: bool = True,
        stop_really_stops: bool = True,
        garbage_only: bool = False,
    ) -> None:
        self.transport = link.device
        self.decoder = Decoder()
        self.received: list[tuple[float, object]] = []
        self.state = DeviceState()
        self.answer_hello = answer_hello
        self.info_version = info_version
        self.deadman_ms = deadman_ms
        self.nak_hello = nak_hello
        self.drop_set_acks = drop_set_acks
        self.nak_set = nak_set
        self.drop_stop_acks = drop_stop_acks
        self.status_after_stop = status_after_stop
        self.stop_really_stops = stop_really_stops
        self.garbage_only = garbage_only
        self.status_seq = 0
        link.device.set_receiver(self._on_bytes)

    def of(self, kind: type) -> list:
        return [m for _, m in self.received if isinstance(m, kind)]

    def send(self, msg) -> None:
        self.send_raw(encode(msg))

    def send_raw(self, data: bytes) -> None:
        asyncio.get_running_loop().create_task(self.transport.write(data))

    def status(self, seq: int | None = None, **kw) -> Status:
        return Status(running=not self.state.is_stopped, state=self.state, **kw)

    def push_status(self, **kw) -> None:
        self.send(StatusReport(self.status_seq, self.status(**kw)))
        self.status_seq = (self.status_seq + 1) & 0xFF

    def _on_bytes(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        if self.garbage_only:
            self.send_raw(b"\x00\xffOK\r\nERR 17\r\n" * 2)
            return
        for msg in self.decoder.feed(data):
            self.received.append((now, msg))
            self._handle(msg)

    def _handle(self, msg) -> None:
        if isinstance(msg, Hello):
            if self.nak_hello is not None:
                self.send(Nak(msg.seq, self.nak_hello))
            elif self.answer_hello:
                deadman = self.deadman_ms or msg.deadman_ms
                self.send(Info(msg.seq, self.info_version, deadman, "scripted", CAPS))
        elif isinstance(msg, SetState):
            if self.nak_set is not None:
                self.send(Nak(msg.seq, self.nak_set))
                return
            self.state = msg.state  # executed even when the ACK is lost on the way
            if self.drop_set_acks:
                self.drop_set_acks -= 1
                return
            self.send(Ack(msg.seq))
        elif isinstance(msg, Stop):
            if self.stop_really_stops:
                self.state = DeviceState()
            if self.drop_stop_acks:
                self.drop_stop_acks -= 1
                return
            self.send(Ack(msg.seq))
            if self.status_after_stop:
                self.push_status()
        elif isinstance(msg, GetStatus):
            self.send(StatusReport(msg.seq, self.status()))


def scenario(body, **peer_kw):
    """Run ``body(device, peer, link)`` in virtual time on a fresh link."""

    async def main():
        # No link delay: MemoryLink delivers same-instant writes out of order when
        # delay_s > 0 (reported to the lead); call_soon delivery keeps them in order.
        link = MemoryLink()
        peer = Peer(link, **peer_kw)
        device = NativeDevice(link.host, name="test-chair")
        return await body(device, peer, link)

    return run_virtual(main())


def now() -> float:
    return asyncio.get_running_loop().time()


# --- handshake -------------------------------------------------------------------


def test_handshake_stores_capabilities_model_and_deadman():
    async def body(device, peer, link):
        await device.connect()
        return device, peer, link

    device, peer, link = scenario(body)
    assert device.connected and link.host.opened
    assert device.capabilities == CAPS
    assert device.model == "scripted"
    assert peer.of(Hello) == [Hello(0, 1, 1500)]
    assert device.deadman_ms == 1500
    assert device.keepalive_s == pytest.approx(0.5)


def test_the_deadman_in_force_is_the_devices_answer():
    """A device that keeps a shorter deadman than asked is heard a third of it apart
    (a longer one is refused: tests/test_deadman_kept.py)."""

    async def body(device, peer, link):
        await device.connect()
        return device.deadman_ms, device.keepalive_s

    assert scenario(body, deadman_ms=600) == (600, pytest.approx(0.2))


def test_requested_deadman_goes_into_hello():
    async def main():
        link = MemoryLink()
        peer = Peer(link)
        device = NativeDevice(link.host, deadman_ms=900)
        await device.connect()
        return peer.of(Hello), device.keepalive_s

    hellos, keepalive = run_virtual(main())
    assert hellos == [Hello(0, 1, 900)]
    assert keepalive == pytest.approx(0.3)


def test_no_answer_is_a_timeout_naming_the_device():
    async def body(device, peer, link):
        t0 = now()
        with pytest.raises(DeviceTimeout) as err:
            await device.connect()
        return err.value, now() - t0, peer, link

    err, took, peer, link = scenario(body, answer_hello=False)
    text = str(err)
    assert "test-chair" in text and "\n" not in text
    assert took == pytest.approx(1.5)  # 3 tries x 0.5 s
    assert peer.of(Hello) == [Hello(0, 1, 1500)] * 3  # the same frame, resent
    assert not link.host.opened  # the link is closed again


def test_garbage_only_peer_does_not_speak_the_protocol():
    async def body(device, peer, link):
        with pytest.raises(DeviceError) as err:
            await device.connect()
        return err.value

    err = scenario(body, garbage_only=True)
    assert not isinstance(err, DeviceTimeout)
    assert "does not speak the massager-ctl native protocol" in str(err)
    assert "test-chair" in str(err)


def test_hello_refused_names_the_nak_code():
    async def body(device, peer, link):
        with pytest.raises(DeviceError) as err:
            await device.connect()
        return err.value

    err = scenario(body, nak_hello=NakCode.UNSUPPORTED)
    assert "UNSUPPORTED" in str(err) and not isinstance(err, DeviceTimeout)


def test_other_protocol_version_is_refused():
    async def body(device, peer, link):
        with pytest.raises(DeviceError, match="v2"):
            await device.connect()
        return device.connected

    assert scenario(body, info_version=2) is False


def test_a_late_info_after_a_resend_is_accepted():
    async def main():
        link = MemoryLink(delay_s=0.7)  # longer than one reply timeout
        peer = Peer(link)
        device = NativeDevice(link.host)
        await device.connect()
        return device.model, len(peer.of(Hello))

    model, hellos = run_virtual(main())
    assert model == "scripted"
    assert hellos >= 2


def test_capabilities_before_connect_is_an_error():
    async def body(device, peer, link):
        with pytest.raises(DeviceError):
            _ = device.capabilities
        with pytest.raises(DeviceError):
            await device.apply(RUNNING)
        return True

    assert scenario(body)


# --- SET -----------------------------------------------------------------------------


def test_set_is_acknowledged():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        await device.apply(RUNNING)
        return now() - t0, peer

    took, peer = scenario(body)
    assert peer.of(SetState) == [SetState(1, RUNNING)]
    assert peer.state == RUNNING
    assert took < 0.1


def test_set_is_resent_when_the_ack_is_lost():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        await device.apply(RUNNING)
        return now() - t0, peer, link

    took, peer, link = scenario(body, drop_set_acks=1)
    sets = peer.of(SetState)
    assert sets == [SetState(1, RUNNING), SetState(1, RUNNING)]  # same seq: a resend
    frames = [data for _, data in link.host.writes if data == encode(SetState(1, RUNNING))]
    assert len(frames) == 2
    assert 0.5 <= took < 0.6


def test_set_gives_up_after_the_retries():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        with pytest.raises(DeviceTimeout) as err:
            await device.apply(RUNNING)
        return now() - t0, peer, err.value

    took, peer, err = scenario(body, drop_set_acks=99)
    assert len(peer.of(SetState)) == 3
    assert took == pytest.approx(0.02 + 1.5, abs=0.01)  # 20 ms behind HELLO (section 9), 3 x 0.5 s
    assert "test-chair" in str(err) and "SET" in str(err)


def test_nak_is_a_device_error_naming_the_code():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        with pytest.raises(DeviceError) as err:
            await device.apply(RUNNING)
        return err.value, now() - t0, peer

    err, took, peer = scenario(body, nak_set=NakCode.BAD_VALUE)
    assert not isinstance(err, DeviceTimeout)
    assert "BAD_VALUE" in str(err)
    assert took < 0.1
    assert len(peer.of(SetState)) == 1  # a refusal is not resent


@pytest.mark.parametrize(
    "state",
    [
        DeviceState(technique=Technique.SHIATSU, intensity=1),  # technique not offered
        DeviceState(zones=frozenset({Zone.FEET})),  # zone not reached
        DeviceState(intensity=6),
        DeviceState(speed=4),
        DeviceState(width=Width.MEDIUM),
        DeviceState(airbags=((Zone.SEAT, 1),)),  # no seat airbag
        DeviceState(airbags=((Zone.ARMS, 4),)),
        DeviceState(heat=Heat.HIGH),
    ],
)
def test_states_beyond_the_capabilities_are_refused_before_sending(state):
    async def body(device, peer, link):
        await device.connect()
        with pytest.raises(ValueError):
            await device.apply(state)
        await asyncio.sleep(0.1)
        return peer.of(SetState)

    assert scenario(body) == []


# --- disconnects ------------------------------------------------------------------------


def test_disconnect_mid_wait_fails_fast():
    async def body(device, peer, link):
        reasons = []
        device.events.disconnect.append(reasons.append)
        await device.connect()
        apply = asyncio.ensure_future(device.apply(RUNNING))
        await asyncio.sleep(0.1)
        t0 = now()
        link.cut("cable pulled")
        with pytest.raises(DeviceDisconnected) as err:
            await apply
        took = now() - t0
        with pytest.raises(DeviceDisconnected):
            await device.apply(RUNNING)
        with pytest.raises(DeviceDisconnected):
            await device.read_status()
        with pytest.raises(DeviceDisconnected):
            await device.keepalive()
        return took, reasons, err.value, device.connected

    took, reasons, err, connected = scenario(body, drop_set_acks=99)
    assert took < 0.01
    assert reasons == ["cable pulled"]
    assert "cable pulled" in str(err)
    assert connected is False


def test_stop_after_the_link_is_lost_is_not_confirmed():
    async def body(device, peer, link):
        await device.connect()
        link.cut("gone")
        t0 = now()
        with pytest.raises(StopNotConfirmed) as err:
            await device.stop()
        return now() - t0, str(err.value)

    took, text = scenario(body)
    assert took < 0.01
    assert "deadman" in text  # tells the user what protects them now


def test_disconnect_closes_the_link_and_fails_waits():
    async def body(device, peer, link):
        await device.connect()
        apply = asyncio.ensure_future(device.apply(RUNNING))
        await asyncio.sleep(0.1)
        await device.disconnect()
        with pytest.raises(DeviceDisconnected):
            await apply
        return link.host.opened, device.connected

    assert scenario(body, drop_set_acks=99) == (False, False)


# --- STOP -----------------------------------------------------------------------------


def test_stop_is_confirmed_by_a_stopped_status():
    async def body(device, peer, link):
        await device.connect()
        await device.apply(RUNNING)
        t0 = now()
        status = await device.stop()
        return status, now() - t0, peer

    status, took, peer = scenario(body)
    assert status.stopped and not status.running
    assert status.state.is_stopped
    assert len(peer.of(Stop)) == 1
    assert took < 0.1


def test_stop_asks_for_status_when_none_comes():
    async def body(device, peer, link):
        await device.connect()
        await device.apply(RUNNING)
        return await device.stop(), peer

    status, peer = scenario(body, status_after_stop=False)
    assert status.stopped
    assert len(peer.of(GetStatus)) >= 1


def test_stop_is_resent_when_its_ack_is_lost():
    async def body(device, peer, link):
        await device.connect()
        await device.apply(RUNNING)
        t0 = now()
        status = await device.stop(timeout=2.0)
        return status, now() - t0, peer

    status, took, peer = scenario(body, drop_stop_acks=1)
    stops = peer.of(Stop)
    assert len(stops) == 2 and stops[0] == stops[1]
    assert status.stopped
    assert 0.5 <= took < 0.6


def test_stop_not_confirmed_when_the_chair_keeps_running():
    async def body(device, peer, link):
        await device.connect()
        await device.apply(RUNNING)
        t0 = now()
        with pytest.raises(StopNotConfirmed) as err:
            await device.stop(timeout=1.0)
        return now() - t0, str(err.value)

    took, text = scenario(body, stop_really_stops=False)
    assert took == pytest.approx(1.0, abs=0.01)
    assert "test-chair" in text


def test_stop_not_confirmed_when_never_acknowledged():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        with pytest.raises(StopNotConfirmed) as err:
            await device.stop(timeout=2.0)
        return now() - t0, peer, str(err.value)

    took, peer, text = scenario(body, drop_stop_acks=99)
    assert took == pytest.approx(2.0, abs=0.01)
    assert len(peer.of(Stop)) == 4  # resent every reply timeout until the deadline
    assert "not acknowledged" in text


def test_stop_pre_empts_a_waiting_set():
    async def body(device, peer, link):
        await device.connect()
        apply = asyncio.ensure_future(device.apply(RUNNING))
        await asyncio.sleep(0.05)
        t0 = now()
        status = await device.stop()
        took = now() - t0
        with pytest.raises(DeviceError, match="STOP"):
            await apply
        return status, took

    status, took = scenario(body, drop_set_acks=99)
    assert status.stopped
    assert took < 0.1  # did not wait for the SET's retries


# --- status, heartbeat, events --------------------------------------------------------------


def test_read_status_returns_the_answer_to_its_request():
    async def body(device, peer, link):
        await device.connect()
        await device.apply(RUNNING)
        peer.push_status(fault=None)  # a periodic one in flight must not confuse it
        status = await device.read_status()
        return status, peer.of(GetStatus)

    status, asks = scenario(body)
    assert status.state == RUNNING and status.running
    assert asks == [GetStatus(2)]


def test_read_status_times_out():
    async def main():
        link = MemoryLink()
        peer = Peer(link)
        device = NativeDevice(link.host)
        await device.connect()
        link.device.set_receiver(lambda data: None)  # the chair goes deaf
        t0 = now()
        with pytest.raises(DeviceTimeout):
            await device.read_status(timeout=1.2)
        return now() - t0, peer

    took, _ = run_virtual(main())
    assert took == pytest.approx(1.2, abs=0.01)


def test_keepalive_sends_a_heartbeat_and_waits_for_nothing():
    async def body(device, peer, link):
        await device.connect()
        t0 = now()
        await device.keepalive()
        took = now() - t0
        await asyncio.sleep(0.05)
        return took, peer.of(Heartbeat)

    took, beats = scenario(body)
    assert took <= 0.02 + 1e-6  # at most the 20 ms gap behind HELLO (section 9)
    assert beats == [Heartbeat(1)]


def test_every_status_is_an_event_and_faults_are_reported_once():
    async def body(device, peer, link):
        statuses, faults = [], []
        device.events.status.append(statuses.append)
        device.events.fault.append(faults.append)
        await device.connect()
        peer.push_status()
        peer.push_status(fault="heater over temperature")
        peer.push_status(fault="heater over temperature")
        peer.push_status()
        peer.push_status(fault="roller stalled")
        await asyncio.sleep(0.05)
        return statuses, faults

    statuses, faults = scenario(body)
    assert len(statuses) == 5
    assert faults == ["scripted: heater over temperature", "scripted: roller stalled"]


def test_unsolicited_nak_is_a_fault_event():
    async def body(device, peer, link):
        faults = []
        device.events.fault.append(faults.append)
        await device.connect()
        peer.send(Nak(77, NakCode.BUSY))
        await asyncio.sleep(0.05)
        return faults

    (fault,) = scenario(body)
    assert "77" in fault and "BUSY" in fault


def test_a_failing_listener_does_not_break_the_link():
    async def body(device, peer, link):
        def broken(_status):
            raise RuntimeError("listener bug")

        device.events.status.append(broken)
        await device.connect()
        peer.push_status()
        await device.apply(RUNNING)
        return await device.read_status()

    assert scenario(body).state == RUNNING


def test_garbage_between_replies_is_survived():
    async def body(device, peer, link):
        await device.connect()
        peer.send_raw(b"\xa5\xff\x00noise\xa5")
        await device.apply(RUNNING)
        return device.decoder.bad_frames

    assert scenario(body) >= 1


def test_a_stop_confirmation_sent_before_the_ack_does_not_count():
    """Only a STATUS after the STOP's ACK confirms it (an old "stopped" report must not)."""

    async def main():
        link = MemoryLink()
        peer = Peer(link, drop_stop_acks=99, stop_really_stops=False)
        device = NativeDevice(link.host)
        await device.connect()
        stop = asyncio.ensure_future(device.stop(timeout=1.0))
        await asyncio.sleep(0.1)
        peer.send(StatusReport(9, Status(running=False, state=DeviceState())))
        with pytest.raises(StopNotConfirmed):
            await stop
        return True

    assert run_virtual(main())
