"""Command latency over a serial line: driver call -> the simulator applied it.

Serves a model's simulator on a pty and drives it through the real serial
path (driver -> SerialTransport: a non-blocking write on the event loop, and
replies read on the loop through add_reader -> pty -> simulator), in real time. For each
command it takes the loop time just before the driver call and the loop time
the simulator recorded when it applied the command (same process, same
clock), and prints median / p99 / max next to the command's time on the wire
at the model's line settings (bits per frame / baud).

A pty does NOT enforce baud timing: it moves bytes as fast as the kernel
copies them. The measured figure is the software path (syscalls,
the event loop); a real line adds at least the wire time, plus what the USB
adapter adds (USB full-speed frames are 1 ms; some adapters buffer for a
"latency timer", 16 ms by default on FTDI chips).

    python bench/bench_serial_latency.py            # 500 commands per model
    python bench/bench_serial_latency.py --quick    # 50 commands, smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys

from massager_ctl.cli.simulate_cmds import serve_on_pty
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Width, Zone
from massager_ctl.devices.registry import MODELS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


async def _open(model: str):
    from massager_ctl.connection.open import open_device

    port, sim = await serve_on_pty(MODELS[model])
    opened = await open_device(f"serial:{port.path}?model={model}")
    await opened.device.connect()
    return port, sim, opened


async def _wait(predicate, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the simulator never applied the command")
        await asyncio.sleep(0.0002)


async def bench_nlr(n: int) -> tuple[list[float], int]:
    """HF8: vibrate on the seat at alternating levels: two motor lines per command."""
    port, sim, opened = await _open("nlr-hf8")
    loop = asyncio.get_running_loop()
    latencies = []
    frame = 0
    try:
        for i in range(n):
            level = 100 + (i % 2)
            state = DeviceState(Technique.VIBRATE, frozenset({Zone.SEAT}), intensity=level, speed=5)
            before = len(sim.physics.history)
            t0 = loop.time()
            await opened.device.apply(state)
            # Motor 3 is the second line of the write: the command is in when it is applied.
            await _wait(lambda b=before: any(m == 3 for _, m, _ in list(sim.physics.history)[b:]))
            t_applied = next(t for t, m, _ in list(sim.physics.history)[before:] if m == 3)
            latencies.append(t_applied - t0)
            frame = len(b"M2100\rM3100\r")
        await opened.device.stop()
    finally:
        await opened.device.disconnect()
        await opened.close()
        await sim.close()
        port.unplug()
    return latencies, frame


async def bench_native(n: int) -> tuple[list[float], int]:
    """Native protocol (sim-chair): SET frames; applied = when the chair decoded the SET."""
    from massager_ctl.devices.native.codec import SetState, encode
    from massager_ctl.devices.native.driver import FRAME_GAP_S

    port, sim, opened = await _open("sim-chair")
    loop = asyncio.get_running_loop()
    latencies = []
    frame = 0
    try:
        for i in range(n):
            # Each command after the protocol's minimum gap between host frames (docs/protocol.md
            # §9) since the last one (the connect's too), or it would measure the driver waiting
            # out the gap, not the software path.
            await asyncio.sleep(FRAME_GAP_S + 0.005)
            state = DeviceState(
                Technique.KNEAD, frozenset({Zone.SHOULDERS}), intensity=2 + i % 2, speed=3, width=Width.MEDIUM
            )
            before = sim.received.total  # (the log keeps only its newest entries)
            t0 = loop.time()
            await opened.device.apply(state)  # returns on the ACK
            await _wait(lambda b=before: any(isinstance(m, SetState) for _, m in sim.received.since(b)))
            sets = [t for t, msg in sim.received.since(before) if isinstance(msg, SetState)]
            latencies.append(sets[0] - t0)
            frame = len(encode(SetState(seq=0, state=state)))
        await opened.device.stop()
    finally:
        await opened.device.disconnect()
        await opened.close()
        await sim.close()
        port.unplug()
    return latencies, frame


def report(model: str, latencies: list[float], frame_bytes: int) -> None:
    settings = MODELS[model].serial_settings()
    wire_ms = settings.wire_time_s(frame_bytes) * 1000
    ms = [x * 1000 for x in latencies]
    print(f"{model}: {len(ms)} commands over a pty, line {settings.describe()}")
    print(
        f"  measured call -> applied: median {statistics.median(ms):.3f} ms, "
        f"p99 {percentile(ms, 0.99):.3f} ms, max {max(ms):.3f} ms"
    )
    print(
        f"  wire time of one command ({frame_bytes} bytes x {settings.bits_per_byte:g} bits / "
        f"{settings.baudrate} baud): {wire_ms:.3f} ms  (a pty does not enforce it)"
    )
    if settings.stopbits == 1.5:
        posix = frame_bytes * (settings.bits_per_byte + 0.5) / settings.baudrate * 1000
        print(f"  (POSIX has no 1.5 stop bits: pyserial sends 2 there, {posix:.3f} ms)")
    print(
        f"  expected on a real line: at least median {statistics.median(ms) + wire_ms:.3f} ms "
        "plus the USB adapter's own latency"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 commands per model (smoke run)")
    parser.add_argument("-n", type=int, default=None, help="commands per model (default 500)")
    args = parser.parse_args()
    n = args.n or (50 if args.quick else 500)
    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for model, bench in (("nlr-hf8", bench_nlr), ("sim-chair", bench_native)):
        latencies, frame = asyncio.run(bench(n))
        report(model, latencies, frame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
