"""Host processes for the fault tests: `massager-ctl run` under signals, `simulate` on a pty.

Real processes, real signals, real time (scaled for `run` on ``sim:``). Each helper
returns what happened; the tests judge it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from bounds import POINTS, SIGNAL_EXIT_S, SIGNAL_TIME_SCALE
from fault_kit import (
    CAPS_CONFIG_TOML,
    SEGMENT_MS,
    SIM_MODELS,
    cap_steps,
    definition,
    scenario_profile_toml,
)

#: Every signal a person or a system sends to end or pause a command, with the exit code
#: docs/safety.md documents (128 + n). SIGTSTP (Ctrl-Z) suspends the process once the
#: device is stopped; after SIGCONT (`fg`) it says the session ended and exits 148.
SIGNALS: dict[str, tuple[int, int]] = {
    "SIGINT": (signal.SIGINT, 130),
    "SIGTERM": (signal.SIGTERM, 143),
    "SIGHUP": (signal.SIGHUP, 129),
    "SIGQUIT": (signal.SIGQUIT, 131),
    "SIGUSR1": (signal.SIGUSR1, 138),
    "SIGUSR2": (signal.SIGUSR2, 140),
    "SIGTSTP": (signal.SIGTSTP, 148),
}
#: A signal case is one name, or two joined by "+": the second comes while the first one's
#: stop is under way, and must neither cut it short nor change the exit code. (A host
#: whose set-up is frozen out of the collector's walk exits about 10 ms after a signal on
#: a device with no stop to wait for: the gap is shorter than that.)
DOUBLE_GAP_S = 0.005
#: Wall-clock ceiling for any one process in these tests (a hang is a failure, not a wait).
PROCESS_TIMEOUT_S = 60.0
#: How many host processes run at once (a loaded 2-core machine must not starve them).
CONCURRENT = 8


#: How the processes that take Ctrl-Z are started: each in a process group of its own, whose
#: parent (this test) is in another group of the same session, so the group is never
#: orphaned. (If it were - a test run started detached, its parent gone - the kernel would
#: send a stopped member SIGHUP and SIGCONT at once, and Ctrl-Z would seem not to suspend.)
#: No terminal to read from either: a background group reading one would be stopped.
JOB_CONTROL: dict[str, object] = {"process_group": 0, "stdin": asyncio.subprocess.DEVNULL}


def signals_of(case: str) -> list[str]:
    return case.split("+")


def expected_code(case: str) -> int:
    return SIGNALS[signals_of(case)[0]][1]


def process_state(pid: int) -> str:
    """The kernel's one-letter state of ``pid`` ("T" stopped, "S" sleeping, ...)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        import subprocess

        out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
        return out.stdout.strip()[:1]


async def wait_for_state(pid: int, state: str, timeout: float) -> bool:
    """Poll until ``pid`` is in ``state``; False if it was not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_state(pid) == state:
            return True
        await asyncio.sleep(0.02)
    return False


def catches(pid: int, signum: int) -> bool:
    """The process has a handler for ``signum`` (Linux: /proc/PID/status SigCgt)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def _files(tmp_path: Path, model: str, tag: str) -> tuple[Path, Path, Path]:
    caps = definition(model).static_capabilities()
    profile = tmp_path / f"{tag}.toml"
    profile.write_text(scenario_profile_toml(caps), encoding="utf-8")
    # One config per run: the runs start together, and rewriting a shared file could hand
    # a process that is just starting an empty config (no caps) to read.
    config = tmp_path / f"{tag}.config.toml"
    config.write_text(CAPS_CONFIG_TOML, encoding="utf-8")
    return profile, config, tmp_path / f"{tag}.trace.json"


def _env(trace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MASSAGER_CTL_SIM_TRACE"] = str(trace)
    env.pop("MASSAGER_CTL_CONFIG", None)
    return env


def _segment_and_offset(point: str) -> tuple[int, float]:
    """Which segment event (1-based) to wait for, then how many plan seconds after it."""
    t = POINTS[point]
    index = int(t * 1000 // SEGMENT_MS)
    return index + 1, t - index * SEGMENT_MS / 1000


async def _wait_for_segment(proc, index: int, lines: list[str]) -> None:
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), PROCESS_TIMEOUT_S)
        if not raw:
            raise AssertionError(f"the run ended before segment {index}: {lines}")
        line = raw.decode(errors="replace").strip()
        lines.append(line)
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "segment" and event.get("index") == index:
            return


async def _signal_run(model: str, point: str, case: str, tmp_path: Path) -> dict:
    names = signals_of(case)
    tag = case.replace("+", "-then-")
    profile, config, trace = _files(tmp_path, model, f"{tag}-{point}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "--json",
        "--config",
        str(config),
        "--device",
        f"sim:{model}",
        "run",
        str(profile),
        "--time-scale",
        f"{SIGNAL_TIME_SCALE:g}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        **JOB_CONTROL,
        env=_env(trace),
    )
    lines: list[str] = []
    suspended: bool | None = None
    said_while_suspended = ""
    try:
        segment, offset = _segment_and_offset(point)
        await _wait_for_segment(proc, segment, lines)
        await asyncio.sleep(offset / SIGNAL_TIME_SCALE)
        sent = time.monotonic()
        proc.send_signal(SIGNALS[names[0]][0])
        for name in names[1:]:
            await asyncio.sleep(DOUBLE_GAP_S)
            try:
                proc.send_signal(SIGNALS[name][0])
            except ProcessLookupError:
                pass  # it had already stopped the device and exited: nothing left to cut short
        if names[0] == "SIGTSTP":
            # Suspended only once the device is stopped: by then it has said so.
            suspended = await wait_for_state(proc.pid, "T", SIGNAL_EXIT_S)
            took = time.monotonic() - sent
            said_while_suspended = await _read_available(proc.stderr)
            proc.send_signal(signal.SIGCONT)
        out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
        if names[0] != "SIGTSTP":
            took = time.monotonic() - sent
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {
        "point": point,
        "signal": case,
        "code": proc.returncode,
        "took": took,
        "suspended": suspended,
        "said_while_suspended": said_while_suspended,
        "stderr": said_while_suspended + err.decode(errors="replace"),
        "stdout": "\n".join(lines) + out.decode(errors="replace"),
        "trace": json.loads(trace.read_text()) if trace.exists() else None,
    }


async def _read_available(stream, quiet_s: float = 0.2) -> str:
    """What ``stream`` holds now (reads until it has been quiet for ``quiet_s``)."""
    chunks = []
    while True:
        try:
            chunk = await asyncio.wait_for(stream.read(65536), quiet_s)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


#: What the host must never say after a signal: that a second signal cut its stop short
#: (the false "stop failed" a double Ctrl-C printed), or a crash. (A stop that really timed
#: out - on a machine so loaded that the scaled 2 s are not enough - may say so.)
FALSE_ALARMS = (
    "stop failed (KeyboardInterrupt",
    "stop failed (CancelledError",
    "Traceback",
    "unexpected error",
    "Aborted!",
)


def _judge(model: str, result: dict) -> list[str]:
    case = result["signal"]
    code = expected_code(case)
    caps = definition(model).static_capabilities()
    found = []
    trace = result["trace"]
    if result["code"] != code:
        found.append(f"exit code {result['code']}, not {code}")
    if result["took"] > SIGNAL_EXIT_S:
        found.append(f"took {result['took']:.2f} s to stop and exit (bound {SIGNAL_EXIT_S} s)")
    if result["suspended"] is False:
        found.append(f"not suspended within {SIGNAL_EXIT_S} s of Ctrl-Z")
    if result["suspended"] and "device was stopped first" not in result["said_while_suspended"]:
        found.append(
            "suspended without saying the device was stopped first: "
            f"{result['said_while_suspended'].strip()[-300:]!r}"
        )
    for alarm in FALSE_ALARMS:
        if alarm in result["stderr"]:
            found.append(f"stderr says {alarm!r}")
    if trace is None:
        found.append(
            "no simulator trace: the process died without closing the simulator, "
            "so nothing stopped the device"
        )
        return found
    if not trace["target_stopped"] or trace["motors_on"] or trace["heat_on"]:
        found.append(f"the device was left running: {trace}")
    if trace["max_intensity_seen"] > cap_steps(caps):
        found.append(f"intensity {trace['max_intensity_seen']} seen, cap {cap_steps(caps)}")
    # By mid-segment every model is running (a slow start - a chair powering up, a
    # stimulator's start sequence - may still be under way at the early point: then the
    # signal interrupts the start, which must end stopped all the same).
    if POINTS[result["point"]] >= POINTS["mid-segment"] and not any(
        e["kind"] == "command" for e in trace["trace"]
    ):
        found.append("the device was never commanded: nothing was interrupted")
    return found


async def signal_runs(model: str, runs, tmp_path: Path) -> list[dict]:
    """(point, signal case) pairs, each its own process, CONCURRENT at a time."""
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(point: str, case: str) -> dict:
        async with gate:
            return await _signal_run(model, point, case, tmp_path)

    return await asyncio.gather(*(one(point, case) for point, case in runs))


async def program_signal_run(model: str, program: str, signame: str, tmp_path: Path) -> dict:
    """``massager-ctl program PROGRAM`` on ``sim:<model>``, signalled a few (chair) seconds
    after the program is running (its own "running" line on stderr)."""
    sig, _ = SIGNALS[signame]
    trace = tmp_path / f"program-{signame}.trace.json"
    env = _env(trace)
    env["MASSAGER_CTL_CONFIG"] = str(tmp_path / "no-config.toml")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "--device",
        f"sim:{model}",
        "program",
        program,
        "--minutes",
        "10",
        "--time-scale",
        f"{SIGNAL_TIME_SCALE:g}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        **JOB_CONTROL,
        env=env,
    )
    lines: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(proc.stderr.readline(), PROCESS_TIMEOUT_S)
            if not raw:
                raise AssertionError(f"the program ended before it ran: {lines}")
            lines.append(raw.decode(errors="replace").strip())
            if f"program {program} running" in lines[-1]:
                break
        await asyncio.sleep(5 / SIGNAL_TIME_SCALE)  # 5 s of the chair's time
        sent = time.monotonic()
        proc.send_signal(sig)
        if signame == "SIGTSTP":
            # Ctrl-Z: suspended only once the chair is stopped; `fg` lets it say so and exit.
            await wait_for_state(proc.pid, "T", PROCESS_TIMEOUT_S)
            took = time.monotonic() - sent
            proc.send_signal(signal.SIGCONT)
        _, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
        if signame != "SIGTSTP":
            took = time.monotonic() - sent
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {
        "code": proc.returncode,
        "took": took,
        "stderr": "\n".join(lines) + "\n" + err.decode(errors="replace"),
        "trace": json.loads(trace.read_text()) if trace.exists() else None,
    }


def failures_of(model: str, results: list[dict]) -> str:
    failures = []
    for result in results:
        found = _judge(model, result)
        if found:
            failures.append(
                f"{result['signal']} @ {result['point']}: "
                + "; ".join(found)
                + f"\n    stderr: {result['stderr'].strip()[-600:]}"
            )
    return "\n".join(failures)


async def startup_signal(signame: str, tmp_path: Path) -> dict:
    """A signal as soon as the process handles it (the guard is in place), long before
    any device: the command must end with its one line and 128 + n, no traceback."""
    signum, code = SIGNALS[signame]
    config = tmp_path / "config.toml"
    config.write_text(CAPS_CONFIG_TOML, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "--config",
        str(config),
        "--device",
        "sim:",
        "run",
        "quick",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        **JOB_CONTROL,
        env=_env(tmp_path / f"startup-{signame}.trace.json"),
    )
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        # Python handles SIGINT from its start; the guard handles all of these at once.
        while time.monotonic() < deadline and not all(catches(proc.pid, n) for n, _ in SIGNALS.values()):
            await asyncio.sleep(0.001)
        proc.send_signal(signum)
        suspended = None
        if signame == "SIGTSTP":
            # Nothing runs yet: Ctrl-Z simply suspends; end it from there with Ctrl-C.
            suspended = await wait_for_state(proc.pid, "T", SIGNAL_EXIT_S)
            code = SIGNALS["SIGINT"][1]
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGCONT)
        out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {
        "signal": signame,
        "code": proc.returncode,
        "want": code,
        "suspended": suspended,
        "stderr": err.decode(errors="replace"),
    }


def pty_models() -> list[str]:
    from massager_ctl.cli.simulate_cmds import pty_models

    return [m.name for m in pty_models() if m.name in SIM_MODELS]


async def _start_simulator(model: str, trace: Path):
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "--json",
        "simulate",
        model,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(trace),
    )
    raw = await asyncio.wait_for(sim.stdout.readline(), PROCESS_TIMEOUT_S)
    try:
        port = json.loads(raw)["port"]
    except (ValueError, KeyError):
        sim.kill()
        err = await sim.stderr.read()
        raise AssertionError(f"simulate printed {raw!r}; stderr {err!r}") from None
    return sim, port


async def kill_host(model: str, point: str, tmp_path: Path) -> dict:
    profile, config, trace = _files(tmp_path, model, f"kill-{point}")
    sim, port = await _start_simulator(model, trace)
    host = None
    try:
        host = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "massager_ctl",
            "--json",
            "--config",
            str(config),
            "--device",
            f"serial:{port}?model={model}",
            "run",
            str(profile),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(tmp_path / "x"),
        )
        lines: list[str] = []
        await _wait_for_segment(host, 1, lines)
        await asyncio.sleep(POINTS[point])  # real time
        killed_at = time.monotonic()
        host.kill()  # SIGKILL: no handler, no finally, no stop
        await host.wait()
        await asyncio.sleep(1.5 + 0.5)  # the deadman period, and a margin
        sim.send_signal(signal.SIGTERM)  # the simulator writes its trace as it closes
        await asyncio.wait_for(sim.wait(), PROCESS_TIMEOUT_S)
    finally:
        for proc in (host, sim):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    return {
        "point": point,
        "killed_at": killed_at,
        "trace": json.loads(trace.read_text()) if trace.exists() else None,
    }
