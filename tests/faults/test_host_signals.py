"""The host process interrupted, terminated and killed: real processes, real signals.

SIGINT / SIGTERM: ``massager-ctl run <scenario profile> --time-scale 8`` on
``sim:<model>`` (the simulator lives in that process and, with MASSAGER_CTL_SIM_TRACE
set, writes its final state when it closes). The signal is sent at each point of the
session (timed from the run's own --json segment events); the process must exit 130 /
143 within SIGNAL_EXIT_S of the signal, and the simulator's final state must be
stopped, with no command above the cap ever seen.

SIGKILL: the process and an in-process simulator die together, so the chair is served
by a second process (``massager-ctl simulate MODEL``, on a pty) and the host
(``massager-ctl --device serial:PORT run ...``, real time) is killed. Nothing on the host
can act: the chair's deadman must stop it within its period of the host's last frame.
The simulator process is then ended with SIGTERM and its trace (MASSAGER_CTL_SIM_TRACE)
is read: its clock is the same CLOCK_MONOTONIC as this test's.
"""

from __future__ import annotations

import asyncio

import pytest
from bounds import LIMITS, POINTS, SIGKILL_SLACK_S
from fault_kit import SIM_MODELS, cap_steps, definition, safety
from process_kit import SIGNALS, failures_of, kill_host, pty_models, signal_runs

from massager_ctl.devices.model import OnLinkLoss

# Real processes and signals, on the real clock: the bulk of the suite's time.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", SIM_MODELS)
def test_sigint_and_sigterm_at_every_point_stop_the_device(model, tmp_path):
    """Both signals at the four points: eight processes at once (they mostly wait)."""
    runs = [(point, signame) for signame in SIGNALS for point in POINTS]
    results = asyncio.run(signal_runs(model, runs, tmp_path))
    failures = failures_of(model, results)
    assert not failures, failures


# ------------------------------------------------------------------------- SIGKILL


def _kill_cases():
    for model in pty_models():
        facts = safety(model)
        if facts.on_link_loss is OnLinkLoss.STOPS_BY_DEADMAN:
            yield pytest.param(model, ("early", "mid-segment"), id=model)
        elif facts.on_link_loss is OnLinkLoss.STOPS_AT_CHAIR_TIMER:
            minutes = "/".join(f"{s // 60}" for s in facts.chair_timer_s)
            yield pytest.param(
                model,
                (),
                id=model,
                marks=pytest.mark.skip(
                    reason=f"{model}: bounded by its chair timer ({minutes} min), too long for real "
                    "time; shown in virtual time by test_fault_matrix's host-vanished case"
                ),
            )
        else:
            yield pytest.param(
                model,
                ("early",),
                id=model,
                marks=pytest.mark.xfail(
                    strict=True,
                    raises=AssertionError,
                    reason=f"not protected: {model} has no deadman and no chair timer, so a killed "
                    "host leaves it running (docs/safety.md)",
                ),
            )


@pytest.mark.parametrize("model, points", list(_kill_cases()))
def test_sigkill_of_the_host_the_device_stops_itself(model, points, tmp_path):
    async def main():
        return await asyncio.gather(*(kill_host(model, p, tmp_path) for p in points))

    hard, late = [], []
    for result in asyncio.run(main()):
        trace, killed, point = result["trace"], result["killed_at"], result["point"]
        if trace is None:
            hard.append(f"{point}: the simulator wrote no trace")
            continue
        events = trace["trace"]
        before = [e for e in events if e["t"] <= killed]
        if not before or before[-1]["kind"] != "command":
            hard.append(f"{point}: the chair was not running when the host was killed: {before[-3:]}")
        caps = definition(model).static_capabilities()
        if trace["max_intensity_seen"] > cap_steps(caps, LIMITS.max_intensity):
            hard.append(f"{point}: intensity {trace['max_intensity_seen']} seen, above the cap")
        stops = [e for e in events if e["t"] > killed and e["kind"] == "stop"]
        if not stops:
            late.append(
                f"{point}: nothing stopped the chair after the kill; final state "
                f"{ {k: v for k, v in trace.items() if k != 'trace'} }"
            )
            continue
        stop = stops[0]
        # Heard last at most one keepalive (a third of the deadman) before the kill.
        deadman = safety(model).deadman_s
        lo, hi = killed + deadman * 2 / 3 - SIGKILL_SLACK_S, killed + deadman + SIGKILL_SLACK_S
        if "deadman" not in str(stop["detail"]) or not lo <= stop["t"] <= hi:
            late.append(
                f"{point}: stop {stop} at +{stop['t'] - killed:.3f} s after the kill; "
                f"want the deadman within [{lo - killed:.2f}, {hi - killed:.2f}] s"
            )
        if not trace["target_stopped"] or trace["motors_on"] or trace["heat_on"]:
            late.append(f"{point}: left running: {trace}")
    if hard:
        pytest.fail("\n".join(hard + late), pytrace=False)
    assert not late, "\n".join(late)
