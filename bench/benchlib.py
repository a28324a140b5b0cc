"""Shared bits of the benchmarks: the machine line, percentiles, and a result record.

Every benchmark prints its figures for people, each with the command that made it and
the machine it ran on; with ``--json`` it also prints one JSON line (the last line of
its output) that bench/run_all.py reads.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )


def command() -> str:
    """How this benchmark was started (as a person would type it)."""
    args = [a for a in sys.argv[1:] if a != "--json"]
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0]), *args])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def header() -> None:
    print(f"command: {command()}")
    print(f"machine: {machine()}")


def emit_json(enabled: bool, **result) -> None:
    """The machine-readable record (last line of output) for bench/run_all.py."""
    if enabled:
        result.setdefault("command", command())
        result.setdefault("machine", machine())
        print(json.dumps(result))


def load() -> str:
    """The machine's load average now (the figures that need an idle machine say so)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def summary(values_ms: list[float]) -> str:
    """p50 / p99 / max of a list of milliseconds, as the benchmarks print them."""
    if not values_ms:
        return "no samples"
    return (
        f"p50 {percentile(values_ms, 0.5):.3f} ms, p99 {percentile(values_ms, 0.99):.3f} ms, "
        f"max {max(values_ms):.3f} ms"
    )


def at_chair_errors(
    started_at: float, boundaries_ms: list[int], duration_ms: int, set_times: list[float]
) -> tuple[list[float], int]:
    """How late each step boundary reached the chair, in ms: for every boundary inside the
    plan, the first SET the chair decoded at or after the boundary's deadline (plan start
    + boundary), minus that deadline. Times are loop times of one clock (the monotonic
    clock is shared by processes on one machine). Returns (errors, boundaries that got no
    SET within 0.5 s: the state did not change there)."""
    import bisect

    sets = sorted(set_times)
    errors: list[float] = []
    silent = 0
    for b in boundaries_ms:
        if not 0 < b < duration_ms:
            continue
        due = started_at + b / 1000
        i = bisect.bisect_left(sets, due - 1e-6)
        if i < len(sets) and sets[i] - due < 0.5:
            errors.append(max(0.0, sets[i] - due) * 1000)
        else:
            silent += 1
    return errors, silent


class SetTimes(list):  # type: ignore[type-arg]
    """Stands in for a simulated chair's ``received`` log during a measurement: keeps only
    the time of each SET it decoded (plain floats: nothing for the garbage collector to
    walk, however many chairs), so every boundary of a long run can be judged."""

    total = 0

    def append(self, item: object) -> None:
        from massager_ctl.devices.native.codec import SetState

        t, msg = item  # type: ignore[misc]
        self.total += 1
        if isinstance(msg, SetState):
            super().append(t)
