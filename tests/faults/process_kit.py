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

SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}
#: Wall-clock ceiling for any one process in these tests (a hang is a failure, not a wait).
PROCESS_TIMEOUT_S = 60.0


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


async def _signal_run(model: str, point: str, signame: str, tmp_path: Path) -> dict:
    sig, _ = SIGNALS[signame]
    profile, config, trace = _files(tmp_path, model, f"{signame}-{point}")
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
        env=_env(trace),
    )
    lines: list[str] = []
    try:
        segment, offset = _segment_and_offset(point)
        await _wait_for_segment(proc, segment, lines)
        await asyncio.sleep(offset / SIGNAL_TIME_SCALE)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
        took = time.monotonic() - sent
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {
        "point": point,
        "code": proc.returncode,
        "took": took,
        "stderr": err.decode(errors="replace"),
        "stdout": "\n".join(lines) + out.decode(errors="replace"),
        "trace": json.loads(trace.read_text()) if trace.exists() else None,
    }


def _judge(model: str, signame: str, result: dict) -> list[str]:
    _, code = SIGNALS[signame]
    caps = definition(model).static_capabilities()
    found = []
    trace = result["trace"]
    if result["code"] != code:
        found.append(f"exit code {result['code']}, not {code}")
    if result["took"] > SIGNAL_EXIT_S:
        found.append(f"took {result['took']:.2f} s to stop and exit (bound {SIGNAL_EXIT_S} s)")
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
    """(point, signal name) pairs, each its own process, all at once."""
    results = await asyncio.gather(*(_signal_run(model, point, signame, tmp_path) for point, signame in runs))
    for (_, signame), result in zip(runs, results, strict=True):
        result["signal"] = signame
    return results


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
        _, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
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
        found = _judge(model, result["signal"], result)
        if found:
            failures.append(
                f"{result['signal']} @ {result['point']}: "
                + "; ".join(found)
                + f"\n    stderr: {result['stderr'].strip()[-600:]}"
            )
    return "\n".join(failures)


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
