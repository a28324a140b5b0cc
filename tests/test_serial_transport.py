"""SerialTransport on a real pty with real pyserial (no mocks of pyserial).

These run on the real clock (a pty cannot run in virtual time), with short
timeouts and event-based waits. They run on the default (selector) loop, where
the transport reads through ``loop.add_reader``; the reader-thread fallback
(Windows' proactor loop) is exercised on a loop whose ``add_reader`` raises
NotImplementedError.

What a pty cannot show, and so these tests do not claim:

* baud timing: a pty moves bytes as fast as the kernel copies them;
* data bits and parity: Linux ptys force CS8 and no parity in their termios,
  so only pyserial's own record of them is checked;
* 1.5 stop bits as such: POSIX termios has no 1.5, pyserial sets CSTOPB
  (2 stop bits) for it; the test checks CSTOPB, i.e. what a real UART would get;
* modem lines (DTR/RTS/CTS): a pty has none; RTS/CTS flow control is checked
  only as the CRTSCTS flag.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest

pytest.importorskip("serial")
termios = pytest.importorskip("termios")

from massager_ctl.core.errors import DeviceDisconnected, DeviceError, DeviceTimeout  # noqa: E402
from massager_ctl.devices.registry import MODELS  # noqa: E402
from massager_ctl.transport import serial as serial_module  # noqa: E402
from massager_ctl.transport.pty import PtyPort  # noqa: E402
from massager_ctl.transport.serial import SerialSettings, SerialTransport  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")


def run(coro, timeout: float = 10.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def pty_port():
    port = PtyPort()
    yield port
    port.unplug()


async def wait_for(predicate, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def cflags(transport: SerialTransport):
    attrs = termios.tcgetattr(transport.handle.fd)
    return attrs  # iflag, oflag, cflag, lflag, ispeed, ospeed, cc


# ------------------------------------------------------------------ settings


def test_settings_validate_and_describe():
    hf8 = MODELS["nlr-hf8"].serial
    assert hf8.describe() == "115200 8N1.5, no flow control, lines end with '\\r'"
    assert hf8.bits_per_byte == 10.5
    assert hf8.wire_time_s(6) == pytest.approx(6 * 10.5 / 115200)
    assert SerialSettings(9600, 7, "E", 2, rtscts=True).describe() == "9600 7E2, RTS/CTS flow control"
    from massager_ctl.connection.serial import serial_models

    for definition in serial_models():  # every serial model has its whole line set
        line = definition.serial_settings()
        assert isinstance(line, SerialSettings)
        if definition.protocol in ("native", "rongtai"):
            assert line.describe() == "115200 8N1, no flow control", definition.name
    for bad in (
        dict(stopbits=3),
        dict(parity="X"),
        dict(bytesize=9),
        dict(baudrate=0),
        dict(baudrate=True),
        dict(baudrate=115200.0),
    ):
        with pytest.raises(ValueError):
            SerialSettings(**bad)


def test_full_line_settings_reach_the_port(pty_port):
    """Baud rate, stop bits and flow control land in the port's termios, not just the baud."""

    async def main():
        settings = SerialSettings(57600, 7, "E", 2, xonxoff=True, rtscts=True)
        t = SerialTransport(pty_port.path, settings)
        await t.open()
        try:
            iflag, _, cflag, _, ispeed, ospeed, _ = cflags(t)
            assert ispeed == ospeed == termios.B57600
            assert cflag & termios.CSTOPB
            assert cflag & termios.CRTSCTS
            assert iflag & termios.IXON and iflag & termios.IXOFF
            # The pty forces 8 data bits and no parity; pyserial configured what we asked.
            h = t.handle
            assert (h.bytesize, h.parity, h.stopbits) == (7, "E", 2)
        finally:
            await t.close()

        t = SerialTransport(pty_port.path, SerialSettings())  # 115200 8N1, no flow control
        await t.open()
        try:
            iflag, _, cflag, _, ispeed, _, _ = cflags(t)
            assert ispeed == termios.B115200
            assert not cflag & termios.CSTOPB
            assert not cflag & termios.CRTSCTS
            assert not iflag & termios.IXON
        finally:
            await t.close()

    run(main())


def test_hf8_one_and_a_half_stop_bits(pty_port):
    """The HF8's 1.5 stop bits: pyserial keeps 1.5, POSIX termios gets CSTOPB (2)."""

    async def main():
        t = SerialTransport(pty_port.path, MODELS["nlr-hf8"].serial)
        await t.open()
        try:
            assert t.handle.stopbits == 1.5
            _, _, cflag, _, ispeed, _, _ = cflags(t)
            assert cflag & termios.CSTOPB
            assert ispeed == termios.B115200
        finally:
            await t.close()

    run(main())


# ------------------------------------------------------------------ bytes


def test_bytes_flow_both_ways_in_order_whatever_the_chunking(pty_port):
    async def main():
        await pty_port.device.open()
        at_device = bytearray()
        at_host = bytearray()
        pty_port.device.set_receiver(at_device.extend)
        t = SerialTransport(pty_port.path)
        t.set_receiver(at_host.extend)
        await t.open()
        try:
            payload = bytes(range(256)) * 40  # 10 KiB, every byte value (raw line, no translation)
            await t.write(payload)
            for i in range(0, 300, 1):  # the device answers one byte at a time
                await pty_port.device.write(bytes([i % 256]))
                if i % 50 == 0:
                    await asyncio.sleep(0.002)
            await wait_for(lambda: len(at_device) >= len(payload) and len(at_host) >= 300)
            assert bytes(at_device) == payload
            assert bytes(at_host) == bytes(i % 256 for i in range(300))
            assert t.tx_bytes == len(payload) and t.rx_bytes == 300
        finally:
            await t.close()

    run(main())


# ------------------------------------------------------------------ open errors


def test_busy_port_is_refused_by_the_exclusive_open(pty_port):
    async def main():
        first = SerialTransport(pty_port.path)
        await first.open()
        try:
            second = SerialTransport(pty_port.path)
            with pytest.raises(DeviceError, match="busy: another program has it open"):
                await second.open()
            assert not second.is_open
        finally:
            await first.close()
        again = SerialTransport(pty_port.path)  # free once the first lets go
        await again.open()
        await again.close()

    run(main())


@pytest.mark.parametrize(
    "path, message",
    [
        ("/dev/ttyUSB-massager-ctl-missing", "does not exist"),
        ("/dev/null", "is not a serial device"),
        (__file__, "is not a serial device"),
        (os.path.dirname(__file__), "is not a serial device"),
    ],
)
def test_open_errors_are_one_clear_line(path, message):
    async def main():
        t = SerialTransport(path, open_timeout_s=2.0)
        started = time.monotonic()
        with pytest.raises(DeviceError) as info:
            await t.open()
        assert time.monotonic() - started < 2.0
        text = str(info.value)
        assert message in text and path in text and "\n" not in text
        assert not isinstance(info.value, DeviceTimeout)

    run(main())


def test_open_has_a_timeout_and_a_late_open_is_closed(pty_port):
    class SlowOpen(SerialTransport):
        def _open_blocking(self):
            time.sleep(0.4)  # a driver that takes its time (runs in the transport's thread)
            return super()._open_blocking()

    async def main():
        t = SlowOpen(pty_port.path, open_timeout_s=0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceTimeout, match="did not open within 0.1 s"):
            await t.open()
        assert loop.time() - started < 0.35
        await asyncio.sleep(0.6)  # the late open finished meanwhile and must have been closed
        other = SerialTransport(pty_port.path)
        await other.open()  # would be "busy" if the late handle still held the lock
        await other.close()

    run(main())


def test_write_has_a_timeout_when_nobody_reads(pty_port):
    """Nobody reads the device side: the pty fills up and the write times out (no loss)."""

    async def main():
        lost = []
        t = SerialTransport(pty_port.path, write_timeout_s=0.2)
        t.on_disconnect(lost.append)
        await t.open()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(DeviceTimeout, match="timed out"):
                await t.write(b"x" * 1_000_000)
            assert loop.time() - started < 1.0
            assert not lost and not t.lost
        finally:
            await t.close()

    run(main())


# ------------------------------------------------------------------ unplug


def test_unplug_is_one_clean_disconnect(pty_port):
    async def main():
        reasons: list[str] = []
        t = SerialTransport(pty_port.path)
        t.on_disconnect(reasons.append)
        await t.open()
        loop = asyncio.get_running_loop()
        started = loop.time()
        pty_port.unplug()  # close the master: the cable is pulled
        await wait_for(lambda: reasons, timeout=1.0)
        assert loop.time() - started < 0.5
        assert t.lost and not t.is_open
        assert reasons[0].startswith(f"serial port {pty_port.path} went away")
        with pytest.raises(DeviceDisconnected):
            await t.write(b"M00\r")
        await t.close()
        await asyncio.sleep(0.1)
        assert len(reasons) == 1  # once, whatever follows

    run(main())
    assert not [th for th in threading.enumerate() if th.name == f"serial reader {pty_port.path}"]


def test_close_is_not_a_disconnect_and_stops_the_reader(pty_port):
    async def main():
        reasons: list[str] = []
        t = SerialTransport(pty_port.path)
        t.on_disconnect(reasons.append)
        await t.open()
        await t.close()
        await asyncio.sleep(0.1)
        assert not reasons and not t.lost and not t.is_open
        with pytest.raises(DeviceError, match="not open"):
            await t.write(b"x")

    run(main())
    assert not [th for th in threading.enumerate() if th.name == f"serial reader {pty_port.path}"]


def test_reopen_the_same_path_after_the_port_comes_back(tmp_path):
    """/dev/serial/by-id style: a stable symlink that goes with the device when it is
    unplugged and comes back, pointing at its new node, when it is plugged in again.

    The link is removed while the device is away, as udev does: a link left pointing at
    the freed /dev/pts/N would reach whatever pty takes that number next (here the
    ``stranger``; in a full run, any other test's or process's pty)."""
    link = tmp_path / "usb-NLR_HF8-if00"
    first = PtyPort()
    os.symlink(first.path, link)
    second: PtyPort | None = None
    stranger: PtyPort | None = None

    async def main():
        nonlocal second, stranger
        reasons: list[str] = []
        received = bytearray()
        t = SerialTransport(str(link))
        t.on_disconnect(reasons.append)
        t.set_receiver(received.extend)
        await t.open()
        first.unplug()
        os.unlink(link)
        await wait_for(lambda: t.lost)
        stranger = PtyPort()  # usually takes first's freed number: it must not be reached

        async def plug_back_in():
            nonlocal second
            await asyncio.sleep(0.3)
            second = PtyPort()
            os.symlink(second.path, link)

        replug = asyncio.create_task(plug_back_in())
        await t.reopen(within_s=3.0, retry_every_s=0.05)
        await replug
        assert t.is_open and not t.lost and t.opens == 2
        await second.device.open()
        await second.device.write(b"back")
        await wait_for(lambda: bytes(received) == b"back")
        await t.close()
        assert len(reasons) == 1

    try:
        run(main())
    finally:
        for port in (first, second, stranger):
            if port is not None:
                port.unplug()


def test_reopen_gives_up_at_its_deadline(pty_port, tmp_path):
    """The port goes away for good. It is opened by a by-id style link, which goes with the
    device as udev removes it: /dev/pts/N itself is no stable name, the next pty opened
    anywhere on the machine (the ``stranger`` here) may take the freed number."""
    link = tmp_path / "usb-NLR_HF8-if00"
    os.symlink(pty_port.path, link)
    stranger: PtyPort | None = None

    async def main():
        nonlocal stranger
        t = SerialTransport(str(link))
        await t.open()
        pty_port.unplug()
        os.unlink(link)
        await wait_for(lambda: t.lost)
        stranger = PtyPort()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceDisconnected, match="gave up reopening after 0.3 s"):
            await t.reopen(within_s=0.3, retry_every_s=0.05)
        assert loop.time() - started < 1.0

    try:
        run(main())
    finally:
        if stranger is not None:
            stranger.unplug()


# ------------------------------------------------------------------ reading on the loop


def reader_threads(path: str) -> list[threading.Thread]:
    return [th for th in threading.enumerate() if th.name == f"serial reader {path}"]


def fd_registered(loop: asyncio.AbstractEventLoop, fd: int) -> bool:
    try:
        loop._selector.get_key(fd)  # a selector loop's own record of what it watches
    except KeyError:
        return False
    return True


def test_a_selector_loop_reads_through_add_reader_with_no_reader_thread(pty_port):
    async def main():
        await pty_port.device.open()
        received = bytearray()
        t = SerialTransport(pty_port.path)
        t.set_receiver(received.extend)
        await t.open()
        loop = asyncio.get_running_loop()
        fd = t.handle.fd
        try:
            assert t.reading_on_loop
            assert fd_registered(loop, fd)
            assert not reader_threads(pty_port.path)
            await pty_port.device.write(b"status")
            await wait_for(lambda: bytes(received) == b"status")
            assert t.rx_bytes == 6
        finally:
            await t.close()
        assert not t.reading_on_loop and not fd_registered(loop, fd)

    run(main())


def test_bytes_split_across_reads_arrive_in_order(pty_port, monkeypatch):
    """Reads of a few bytes each (a frame split across many reads) keep every byte in order."""
    monkeypatch.setattr(serial_module, "READ_CHUNK", 7)

    async def main():
        await pty_port.device.open()
        chunks: list[bytes] = []
        t = SerialTransport(pty_port.path)
        t.set_receiver(chunks.append)
        await t.open()
        try:
            assert t.reading_on_loop
            sent = bytearray()
            for i in range(40):  # frames of 1..120 bytes, some bursts back to back
                frame = bytes((i * 31 + k) % 256 for k in range(1 + (i * 37) % 120))
                await pty_port.device.write(frame)
                sent += frame
                if i % 5 == 0:
                    await asyncio.sleep(0.002)
            await wait_for(lambda: sum(map(len, chunks)) >= len(sent))
            assert b"".join(chunks) == bytes(sent)
            assert max(map(len, chunks)) <= 7 and len(chunks) >= len(sent) // 7
            assert t.rx_bytes == len(sent)
        finally:
            await t.close()

    run(main())


def test_unplug_while_reading_on_the_loop_is_one_disconnect_and_unregisters(pty_port):
    async def main():
        await pty_port.device.open()
        reasons: list[str] = []
        received = bytearray()
        t = SerialTransport(pty_port.path)
        t.on_disconnect(reasons.append)
        t.set_receiver(received.extend)
        await t.open()
        loop = asyncio.get_running_loop()
        fd = t.handle.fd
        assert t.reading_on_loop
        await pty_port.device.write(b"before")
        await wait_for(lambda: bytes(received) == b"before")
        pty_port.unplug()
        await wait_for(lambda: reasons, timeout=1.0)
        assert reasons == [
            f"serial port {pty_port.path} went away: it reports data ready but "
            "has none; unplugged or powered off?"
        ]
        assert t.lost and not t.is_open and not t.reading_on_loop
        assert not fd_registered(loop, fd)  # no busy loop on a descriptor that stays readable
        await asyncio.sleep(0.1)
        with pytest.raises(DeviceDisconnected):
            await t.write(b"x")
        await t.close()
        assert len(reasons) == 1

    run(main())


def test_a_write_that_finds_the_port_gone_is_one_disconnect(pty_port):
    """Unplugged before the loop noticed: the write on the loop fails (EIO), once."""

    async def main():
        reasons: list[str] = []
        t = SerialTransport(pty_port.path)
        t.on_disconnect(reasons.append)
        await t.open()
        assert t.reading_on_loop
        pty_port.unplug()
        with pytest.raises(DeviceDisconnected, match="went away: write failed"):
            await t.write(b"M00\r")  # no turn of the loop since the unplug
        assert len(reasons) == 1 and reasons[0].startswith(f"serial port {pty_port.path} went away")
        assert t.lost and not t.is_open
        await asyncio.sleep(0.1)  # the readable descriptor was unregistered: no second event
        await t.close()
        assert len(reasons) == 1

    run(main())


def test_short_writes_go_out_on_the_loop_without_the_executor(pty_port):
    async def main():
        await pty_port.device.open()
        at_device = bytearray()
        pty_port.device.set_receiver(at_device.extend)
        t = SerialTransport(pty_port.path)
        await t.open()
        submitted = []
        executor = t._executor
        real_submit = executor.submit
        executor.submit = lambda *a, **k: submitted.append(a) or real_submit(*a, **k)
        try:
            for i in range(20):
                await t.write(b"HB%02d\r" % i)
            await wait_for(lambda: len(at_device) >= 100)
            assert bytes(at_device) == b"".join(b"HB%02d\r" % i for i in range(20))
            assert not submitted and t.tx_bytes == 100
        finally:
            await t.close()

    run(main())


def test_writes_behind_a_long_write_keep_their_order(pty_port):
    """A write too big for the driver's buffer finishes in the executor; the writes after
    it must queue behind it, not slip onto the line through the loop first."""

    async def main():
        await pty_port.device.open()
        at_device = bytearray()
        pty_port.device.set_receiver(at_device.extend)
        t = SerialTransport(pty_port.path, write_timeout_s=5.0)
        await t.open()
        try:
            big = bytes(range(256)) * 1024  # 256 KiB: far more than a pty buffers
            tails = [b"<tail %d>" % i for i in range(10)]
            await asyncio.gather(t.write(big), *(t.write(tail) for tail in tails))
            expected = big + b"".join(tails)
            await wait_for(lambda: len(at_device) >= len(expected), timeout=5.0)
            assert bytes(at_device) == expected
            assert t.tx_bytes == len(expected)
            # Once the executor is idle again, writes go out on the loop once more.
            await t.write(b"again")
            await wait_for(lambda: bytes(at_device).endswith(b"again"))
        finally:
            await t.close()

    run(main(), timeout=20.0)


def test_a_write_waits_for_the_rest_of_an_earlier_write_even_with_room_on_the_line(pty_port):
    """The port has room again, but the rest of an earlier write has not gone out yet (the
    executor is still busy): the next write must wait its turn, not take the room."""

    async def main():
        at_device = bytearray()
        pty_port.device.set_receiver(at_device.extend)
        t = SerialTransport(pty_port.path, write_timeout_s=5.0)
        await t.open()
        gate = threading.Event()
        t._executor.submit(gate.wait, 5.0)  # the transport's thread is held up for a moment
        try:
            big = bytes(range(256)) * 1024  # more than the pty takes: the rest is queued
            first = asyncio.create_task(t.write(big))
            await asyncio.sleep(0.01)
            assert not first.done()
            await pty_port.device.open()  # the device reads: the line has room again
            await wait_for(lambda: at_device)
            await asyncio.sleep(0.05)
            second = asyncio.create_task(t.write(b"<after>"))
            await asyncio.sleep(0.05)
            gate.set()
            await asyncio.gather(first, second)
            expected = big + b"<after>"
            await wait_for(lambda: len(at_device) >= len(expected), timeout=5.0)
            assert bytes(at_device) == expected
        finally:
            gate.set()
            await t.close()

    run(main(), timeout=20.0)


# ------------------------------------------------------------------ the thread fallback


class NoAddReaderLoop(asyncio.SelectorEventLoop):
    """Stands in for Windows' proactor loop: no add_reader (but for the simulated
    device's end of the pty, which is not under test here)."""

    allowed: frozenset[int] = frozenset()

    def add_reader(self, fd, callback, *args):
        if fd not in self.allowed:
            raise NotImplementedError
        return super().add_reader(fd, callback, *args)


def run_without_add_reader(pty_port, coro, timeout: float = 10.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    def new_loop():
        loop = NoAddReaderLoop()
        loop.allowed = frozenset({pty_port.master_fd})
        return loop

    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(bounded())


def test_without_add_reader_a_reader_thread_reads_and_writes_use_the_executor(pty_port):
    async def main():
        await pty_port.device.open()
        at_device = bytearray()
        at_host = bytearray()
        pty_port.device.set_receiver(at_device.extend)
        t = SerialTransport(pty_port.path)
        t.set_receiver(at_host.extend)
        await t.open()
        try:
            assert not t.reading_on_loop
            assert len(reader_threads(pty_port.path)) == 1
            await t.write(b"M00\r")
            for i in range(200):
                await pty_port.device.write(bytes([i]))
            await wait_for(lambda: len(at_host) >= 200 and len(at_device) >= 4)
            assert bytes(at_host) == bytes(range(200)) and bytes(at_device) == b"M00\r"
        finally:
            await t.close()
        assert not reader_threads(pty_port.path)

    run_without_add_reader(pty_port, main())


def test_without_add_reader_an_unplug_is_one_disconnect(pty_port):
    async def main():
        reasons: list[str] = []
        t = SerialTransport(pty_port.path)
        t.on_disconnect(reasons.append)
        await t.open()
        assert not t.reading_on_loop and reader_threads(pty_port.path)
        pty_port.unplug()
        await wait_for(lambda: reasons, timeout=1.0)
        assert reasons[0].startswith(f"serial port {pty_port.path} went away")
        with pytest.raises(DeviceDisconnected):
            await t.write(b"x")
        await t.close()
        await asyncio.sleep(0.1)
        assert len(reasons) == 1

    run_without_add_reader(pty_port, main())
    deadline = time.monotonic() + 1.0
    while reader_threads(pty_port.path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not reader_threads(pty_port.path)


def test_the_project_clock_loops_read_on_the_loop(pty_port):
    from massager_ctl.session.clock import ScaledClock

    async def main():
        await pty_port.device.open()
        received = bytearray()
        t = SerialTransport(pty_port.path)
        t.set_receiver(received.extend)
        await t.open()
        try:
            assert t.reading_on_loop and not reader_threads(pty_port.path)
            await pty_port.device.write(b"ok")
            await wait_for(lambda: bytes(received) == b"ok")
        finally:
            await t.close()

    ScaledClock(1.0).run(asyncio.wait_for(main(), 10.0))


# ------------------------------------------------------------------ scan


def _port(device, description="n/a", vid=None, pid=None, **more):
    from serial.tools.list_ports_common import ListPortInfo

    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    info.vid, info.pid = vid, pid
    for key, value in more.items():
        setattr(info, key, value)
    return info


def test_scan_marks_the_model_a_port_matches():
    from massager_ctl.connection.serial_scan import found_from_ports

    ports = [
        _port("/dev/ttyS0"),  # a built-in UART with nothing known about it
        _port("/dev/ttyACM0", "HF8 Haptic Gaming Pad", 0x1234, 0x5678, serial_number="A1"),
        _port("/dev/ttyUSB0", "USB-Serial Controller", 0x067B, 0x2303),
    ]
    rows = found_from_ports(ports)
    assert [r.address for r in rows] == ["/dev/ttyACM0", "/dev/ttyUSB0"]  # matches first
    hf8, other = rows
    assert hf8.model == "nlr-hf8" and hf8.uri == "serial:/dev/ttyACM0?model=nlr-hf8"
    assert hf8.details["vid_pid"] == "1234:5678" and hf8.details["serial_number"] == "A1"
    assert hf8.details["line"].startswith("115200 8N1.5")
    assert other.model is None and other.uri == "serial:/dev/ttyUSB0"
    assert other.details["vid_pid"] == "067b:2303"
    everything = found_from_ports(ports, include_all=True)
    assert "/dev/ttyS0" in [r.address for r in everything]
    assert all(r.transport == "serial" for r in everything)


def test_scan_serial_runs_on_this_computer():
    from massager_ctl.connection.serial_scan import scan_serial

    rows = scan_serial(include_all=True)
    assert all(r.uri.startswith("serial:") and r.address for r in rows)


def test_scan_command_still_lists_serial_ports_when_ble_cannot_scan(monkeypatch, tmp_path):
    """Adapter off, or no Bluetooth module at all: one line saying why, serial ports listed."""
    from click.testing import CliRunner

    from massager_ctl.cli.main import main
    from massager_ctl.connection import serial_scan
    from massager_ctl.connection.found import Found

    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    row = Found("serial", "serial:/dev/ttyACM0?model=nlr-hf8", "HF8", "/dev/ttyACM0", "nlr-hf8")
    monkeypatch.setattr(serial_scan, "scan_serial", lambda include_all=False: [row])

    async def adapter_off(timeout, include_all=False, simulate=False):
        raise RuntimeError("Bluetooth adapter hci0 is powered off\nmore detail")

    import massager_ctl.connection.ble_scan as ble_scan

    monkeypatch.setattr(ble_scan, "scan_ble", adapter_off)
    result = CliRunner().invoke(main, ["scan", "--timeout", "0.5"])
    assert result.exit_code == 0, result.output
    assert "serial:/dev/ttyACM0?model=nlr-hf8" in result.stdout
    assert result.stderr.count("\n") == 1
    assert "BLE scanning is unavailable: Bluetooth adapter hci0 is powered off" in result.stderr

    monkeypatch.setitem(sys.modules, "massager_ctl.connection.ble_scan", None)
    result = CliRunner().invoke(main, ["scan", "--json"])
    assert result.exit_code == 0, result.output
    import json

    device, end = (json.loads(line) for line in result.stdout.splitlines())
    assert device["type"] == "device" and device["model"] == "nlr-hf8"
    assert end["type"] == "end" and "Bluetooth" in end["unavailable"]["ble"]
