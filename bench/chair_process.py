"""A simulated chair in a process of its own, served on a pty, that says when it heard the host.

Benchmarks start it to measure at the chair as a real chair would be placed: its own
processor (here, its own process and event loop), its own end of a serial line.

    python bench/chair_process.py [MODEL]      # default sim-chair

Prints one JSON line ``{"port": "/dev/pts/N"}`` once it serves. When its standard input
closes (the benchmark is done with it), it closes the port and prints one JSON line
``{"frames": [[t, kind, technique], ...]}``: the loop time (``time.monotonic()``, one clock
for every process on the machine) at which it decoded each host frame, the frame's type,
and for a SET the technique it asked for.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from massager_ctl.cli.simulate_cmds import serve_on_pty
from massager_ctl.core.recent import RecentLog
from massager_ctl.devices.native.codec import SetState
from massager_ctl.devices.registry import MODELS


async def serve(model: str) -> None:
    loop = asyncio.get_running_loop()
    port, sim = await serve_on_pty(MODELS[model])
    received = getattr(sim, "received", None)
    if isinstance(received, RecentLog):
        sim.received = RecentLog(10**7)  # keep every frame of this measurement
    print(json.dumps({"port": port.path, "pid": os.getpid()}), flush=True)
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    await done
    loop.remove_reader(sys.stdin.fileno())
    frames = []
    for t, msg in getattr(sim, "received", ()):
        technique = msg.state.technique.value if isinstance(msg, SetState) and msg.state.technique else None
        frames.append([t, type(msg).__name__, technique])
    await sim.close()
    port.unplug()
    print(json.dumps({"frames": frames}), flush=True)


class ChairProcess:
    """Start ``bench/chair_process.py`` and read its port; :meth:`finish` returns its frames."""

    def __init__(self, model: str = "sim-chair") -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), model],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = json.loads(self.proc.stdout.readline())["port"]
        self.uri = f"serial:{self.port}?model={model}"

    def finish(self) -> list[tuple[float, str, str | None]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        self.proc.wait(timeout=10)
        return [tuple(f) for f in json.loads(line)["frames"]]  # type: ignore[misc]


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1] if len(sys.argv) > 1 else "sim-chair"))
