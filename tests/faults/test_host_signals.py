"""The host process interrupted, terminated, suspended and killed: real processes, real signals.

Ending and pausing signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGTSTP):
``massager-ctl run <scenario profile> --time-scale 8`` on ``sim:<model>`` (the simulator
lives in that process and, with MASSAGER_CTL_SIM_TRACE set, writes its final state when
it closes). The signal is sent at each point of the session (timed from the run's own
--json segment events); the process must exit 128 + n within SIGNAL_EXIT_S of the signal
(Ctrl-Z: be suspended within it, having said the device was stopped first, then exit 148
after SIGCONT), and the simulator's final state must be stopped, with no command above
the cap ever seen. A second signal during the stop ("SIGINT+SIGINT") changes nothing.

SIGKILL: the process and an in-process simulator die together, so the chair is served
by a second process (``massager-ctl simulate MODEL``, on a pty) and the host
(``massager-ctl --device serial:PORT run ...``, real time) is killed. Nothing on the host
can act: the chair's deadman must stop it within its period of the host's last frame.
The simulator process is then ended with SIGTERM and its trace (MASSAGER_CTL_SIM_TRACE)
is read: its clock is the same CLOCK_MONOTONIC as this test's.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from bounds import LIMITS, POINTS, SIGKILL_SLACK_S
from fault_kit import SIM_MODELS, cap_steps, definition, safety
from process_kit import SIGNALS, failures_of, kill_host, pty_models, signal_runs, startup_signal

from massager_ctl.devices.model import OnLinkLoss

#: Cases every model gets at every point by default; the rest of SIGNALS run at every
#: point on every model in the slow table, and at one point on the reference chair here.
EVERY_POINT = ("SIGINT", "SIGTERM")
OTHERS = tuple(name for name in SIGNALS if name not in EVERY_POINT)
DOUBLES = ("SIGINT+SIGINT", "SIGTERM+SIGINT", "SIGHUP+SIGTERM", "SIGTSTP+SIGINT")


def _assert_runs(model, runs, tmp_path):
    results = asyncio.run(signal_runs(model, runs, tmp_path))
    failures = failures_of(model, results)
    assert not failures, failures


# Real processes and signals, on the real clock: the bulk of the suite's time.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", SIM_MODELS)
def test_sigint_and_sigterm_at_every_point_stop_the_device(model, tmp_path):
    """Both signals at the four points: eight processes at once (they mostly wait)."""
    _assert_runs(model, [(point, name) for name in EVERY_POINT for point in POINTS], tmp_path)


def test_every_signal_and_a_second_one_stop_the_reference_chair(tmp_path):
    """SIGHUP, SIGQUIT, SIGUSR1/2 and Ctrl-Z mid-ramp, and a second signal during the stop."""
    _assert_runs("sim-chair", [("ramp", name) for name in OTHERS + DOUBLES], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model", SIM_MODELS)
def test_every_signal_at_every_point_stops_the_device(model, tmp_path):
    """The whole table: every signal and every double, at the four points, on every model."""
    runs = [(point, name) for name in OTHERS + DOUBLES for point in POINTS]
    _assert_runs(model, runs, tmp_path)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads SigCgt from /proc (Linux)")
@pytest.mark.parametrize("signame", list(SIGNALS))
def test_a_signal_at_start_up_ends_with_one_line_and_its_exit_code(signame, tmp_path):
    """Sent the moment the process handles it: long before a device (no "Aborted!",
    no traceback, 128 + n)."""
    result = asyncio.run(startup_signal(signame, tmp_path))
    err = result["stderr"]
    assert result["code"] == result["want"], err
    assert result["suspended"] in (None, True), "Ctrl-Z at start-up did not suspend"
    for alarm in ("Traceback", "Aborted!", "unexpected error"):
        assert alarm not in err, err
    assert err.strip().splitlines()[-1].startswith("massager-ctl: "), err


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


def test_the_guard_handles_every_signal_that_would_end_or_pause_the_process():
    """Not only the signals people send by hand: every catchable signal whose default ends
    the process (SIGALRM, SIGXCPU, SIGPWR, the real-time signals...) or suspends it."""
    import signal

    from massager_ctl.cli import signals

    ending = set(signals.ending_signals())
    names = {"SIGHUP", "SIGINT", "SIGQUIT", "SIGABRT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM"}
    names |= {"SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGXFSZ", "SIGPWR", "SIGIO", "SIGSTKFLT"}
    for name in names:
        if hasattr(signal, name):
            assert getattr(signal, name) in ending, name
    if hasattr(signal, "SIGRTMIN"):
        assert set(range(signal.SIGRTMIN, signal.SIGRTMAX + 1)) <= ending
    assert signals.PAUSING == {signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
    for kept in ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGCHLD", "SIGPIPE", "SIGWINCH", "SIGCONT"):
        assert getattr(signal, kept) not in ending, kept
    guard = signals.SignalGuard()
    guard.install()
    try:
        for signum in (*ending, *signals.PAUSING):
            assert signal.getsignal(signum) == guard._handle, signals.signal_name(signum)
    finally:
        guard.uninstall()
    assert signal.getsignal(signal.SIGTERM) != guard._handle


@pytest.mark.slow
def test_every_catchable_ending_signal_stops_the_reference_chair(tmp_path, monkeypatch):
    """The rest of them, each once, mid-ramp, on the reference chair: 128 + n, stopped."""
    import process_kit

    from massager_ctl.cli import signals

    table = dict(process_kit.SIGNALS)
    for signum in signals.ending_signals():
        name = signals.signal_name(signum).replace("+", "PLUS")
        table.setdefault(name, (signum, 128 + signum))
    monkeypatch.setattr(process_kit, "SIGNALS", table)
    runs = [("ramp", name) for name in table if name not in SIGNALS]
    _assert_runs("sim-chair", runs, tmp_path)
