"""BLE coalescing: states offered far faster than a slow link takes them, latest value wins.

The control layer's writer (session/writer.py) keeps at most one state waiting and
writes no faster than the device's minimum gap (75 ms for the BLE UART models, 100 ms
for the massage guns). This feeds it a new state every ``--every`` ms, in real time, for
a device whose writes take ``--write`` ms (a BLE write with response) and measures, for
every state offered, how long until a write carrying that state or a newer one went out:
the latest value must be on its way within one gap. It also checks that nothing queues
(at most one state waiting) and that the very last state is the last one written.

    python bench/bench_coalescing.py            # 10 s at a 5 ms offer rate, 75 ms gap
    python bench/bench_coalescing.py --quick    # 2 s: CI smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import emit_json, header, percentile  # noqa: E402

from massager_ctl.core.capabilities import Capabilities  # noqa: E402
from massager_ctl.core.status import DEVICE_STOPPED, DeviceState, Status  # noqa: E402
from massager_ctl.core.vocabulary import Technique, Zone  # noqa: E402
from massager_ctl.devices.base import Device  # noqa: E402
from massager_ctl.session.clock import RealClock  # noqa: E402
from massager_ctl.session.writer import Writer  # noqa: E402

STEPS = 250
CAPS = Capabilities(
    zones=frozenset({Zone.NECK}),
    techniques=frozenset({Technique.VIBRATE}),
    intensity_steps=STEPS,
    speed_steps=1,
)


class SlowLink(Device):
    """A device whose every write takes ``write_s`` (a BLE write with response)."""

    def __init__(self, gap_s: float, write_s: float) -> None:
        super().__init__()
        self.min_write_gap_s = gap_s
        self.keepalive_s = None
        self.write_s = write_s
        self.written: list[tuple[float, int]] = []  # (time the write went out, value)

    @property
    def capabilities(self):
        return CAPS

    @property
    def model(self):
        return "slow BLE link"

    async def connect(self):
        pass

    async def apply(self, state: DeviceState) -> None:
        self.written.append((asyncio.get_running_loop().time(), state.intensity))
        await asyncio.sleep(self.write_s)

    async def stop(self, timeout: float = 2.0) -> Status:
        return Status(state=DEVICE_STOPPED)

    async def read_status(self, timeout: float = 2.0) -> Status:
        return Status(state=DEVICE_STOPPED)

    async def disconnect(self):
        pass


async def offer(seconds: float, every_s: float, gap_s: float, write_s: float):
    loop = asyncio.get_running_loop()
    device = SlowLink(gap_s, write_s)
    writer = Writer(device)
    writer.start()
    offered: list[tuple[float, int]] = []
    t0 = loop.time()
    k = 0
    while loop.time() - t0 < seconds:
        k += 1
        value = k % STEPS or 1
        state = DeviceState(
            technique=Technique.VIBRATE, zones=frozenset({Zone.NECK}), intensity=value, speed=1
        )
        offered.append((loop.time(), k))
        writer.submit(state)
        await asyncio.sleep(every_s)
    last_offer = loop.time()
    await writer.drain(timeout=5 * gap_s + write_s)
    await writer.close()
    return device, writer, offered, last_offer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 s smoke run")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=5.0, help="ms between offered states")
    ap.add_argument("--gap", type=float, default=75.0, help="the link's minimum gap, ms")
    ap.add_argument("--write", type=float, default=30.0, help="how long one write takes, ms")
    ap.add_argument("--json", action="store_true", help="also print one JSON line for run_all")
    args = ap.parse_args(argv)
    seconds = 2.0 if args.quick else args.seconds
    gap_s, every_s, write_s = args.gap / 1000, args.every / 1000, args.write / 1000

    wall0 = time.perf_counter()
    device, writer, offered, last_offer = RealClock().run(offer(seconds, every_s, gap_s, write_s))
    wall = time.perf_counter() - wall0
    # Written values are k % STEPS: recover the offer index each write carried.
    writes = []
    k_seen = 0
    for t, value in device.written:
        k = next(k for k in range(k_seen + 1, len(offered) + 1) if (k % STEPS or 1) == value)
        writes.append((t, k))
        k_seen = k
    waits = []  # for every offered state: until a write carried it or a newer one
    j = 0
    for t, k in offered:
        while j < len(writes) and writes[j][1] < k:
            j += 1
        waits.append((writes[j][0] - t) * 1000 if j < len(writes) else float("inf"))
    gaps = [(b[0] - a[0]) * 1000 for a, b in zip(writes, writes[1:], strict=False)]
    last_ok = bool(writes) and writes[-1][1] == offered[-1][1]
    allowance_ms = args.gap + args.write + 5.0  # one gap (+ the write in flight, + loop slack)
    worst = max(waits)
    passed = worst <= allowance_ms and writer.stats.max_waiting <= 1 and last_ok

    header()
    print(
        f"offered {len(offered)} states, one every {args.every:g} ms for {seconds:g} s "
        f"(wall {wall:.1f} s); link gap {args.gap:g} ms, each write {args.write:g} ms"
    )
    print(
        f"written {len(writes)}, coalesced {writer.stats.coalesced}, identical skipped "
        f"{writer.stats.identical}, most ever waiting {writer.stats.max_waiting}"
    )
    print(
        f"gap between writes (start to start): min {min(gaps):.1f} ms, median "
        f"{percentile(gaps, 0.5):.1f} ms: the {args.gap:g} ms gap counts from the END of each write "
        f"(its response), so writes start every gap + write time"
    )
    print(
        f"offer -> a write with it or newer: p50 {percentile(waits, 0.5):.1f} ms, p99 "
        f"{percentile(waits, 0.99):.1f} ms, max {worst:.1f} ms  (goal: within one gap, "
        f"<= {allowance_ms:g} ms with the write in flight: {'PASS' if passed else 'FAIL'})"
    )
    print(f"the last state offered was the last written: {'yes' if last_ok else 'NO'}")
    emit_json(
        args.json,
        bench="coalescing",
        offered=len(offered),
        written=len(writes),
        coalesced=writer.stats.coalesced,
        max_waiting=writer.stats.max_waiting,
        min_gap_ms=min(gaps),
        p50_ms=percentile(waits, 0.5),
        p99_ms=percentile(waits, 0.99),
        max_ms=worst,
        allowance_ms=allowance_ms,
        last_is_latest=last_ok,
        passed=passed,
    )
    # A missed goal is a figure (run_all reports it as FAIL); only a writer that broke its
    # contract (a stale last write, a queue longer than one) is a failed run.
    return 0 if last_ok and writer.stats.max_waiting <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
