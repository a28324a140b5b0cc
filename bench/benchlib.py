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
