"""Session history: a row per session, finished in the path that stops the device."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import records, sim_final

from massager_ctl.cli.main import main
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.history import HistoryStore, SessionRecorder
from massager_ctl.history.recorder import MAX_STATES, _thin, plan_samples
from massager_ctl.profile import load_plan
from massager_ctl.profile.library import shipped_dir
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import SessionReport

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MASSAGER_CTL_SIM_TRACE", str(tmp_path / "trace.json"))
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def db_path(env: Path) -> Path:
    return env / "data" / "history.sqlite3"


# -- the store and the recorder -------------------------------------------------------


class _Writer:
    """What the recorder uses of a Writer: its listeners for the states written."""

    def __init__(self) -> None:
        self.on_written: list = []

    def write(self, at: float, state: DeviceState) -> None:
        for listener in self.on_written:
            listener(at, state)


def test_a_recorded_session_reads_back(tmp_path):
    writer = _Writer()
    writer.write(5.0, DeviceState())  # before the session: not its own
    recorder = SessionRecorder(tmp_path / "h.sqlite3", person="anna")
    plan = load_plan(shipped_dir() / "quick.toml")
    session_id = recorder.begin(
        kind="run",
        plan=plan,
        device="sim:",
        model="sim-chair",
        limits=SafetyLimits(max_intensity=40),
        capabilities=None,
        writer=writer,
        profile_id="quick",
        profile_hash="abc",
    )
    assert session_id == 1
    knead = DeviceState(Technique.KNEAD, frozenset({Zone.SHOULDERS}), 4, 2)
    writer.write(1.5, knead)  # no loop: times count from the first state
    writer.write(2.0, DeviceState())
    recorder.end(
        SessionReport(reason="cancelled", plan_ms=500, elapsed_s=0.5, stop_confirmed=True, stop_sent=True)
    )
    record = HistoryStore(tmp_path / "h.sqlite3").get(1)
    assert (record.person, record.profile_id, record.profile_hash, record.end_reason) == (
        "anna",
        "quick",
        "abc",
        "cancelled",
    )
    assert record.caps["max_intensity"] == 40 and record.planned_ms == 180_000
    assert record.states == [
        [0, "knead", "shoulders", 4, 2, None, "", "off"],
        [500, None, "", 0, 0, None, "", "off"],
    ]
    assert record.peak_intensity_step == 4 and record.stop_confirmed is True
    assert max(p[1] for p in record.plan) <= 40  # the plan's curve under the caps in force


def test_a_session_written_elsewhere_has_an_unknown_peak_not_zero(tmp_path):
    """Through a service the states are written in its process: the peak is unknown here."""
    recorder = SessionRecorder(tmp_path / "h.sqlite3")
    recorder.begin(
        kind="run",
        plan=load_plan(shipped_dir() / "quick.toml"),
        device="service:chair",
        model="sim-chair",
        limits=SafetyLimits(),
        capabilities=None,
        writer=None,
    )
    recorder.end(
        SessionReport(reason="finished", plan_ms=500, elapsed_s=0.5, stop_confirmed=True, stop_sent=True)
    )
    record = HistoryStore(tmp_path / "h.sqlite3").get(1)
    assert record.peak_intensity_step is None and record.peak_intensity_pct is None


def test_pruning_keeps_the_newest(tmp_path):
    for _ in range(5):
        recorder = SessionRecorder(tmp_path / "h.sqlite3", keep=3)
        recorder.begin(
            kind="set",
            plan=None,
            device=None,
            model=None,
            limits=SafetyLimits(),
            capabilities=None,
            writer=None,
        )
        recorder.end(SessionReport(reason="finished"))
    assert [r.id for r in HistoryStore(tmp_path / "h.sqlite3").recent()] == [5, 4, 3]


def test_states_are_thinned_to_a_bound_keeping_the_last():
    states = [[i] for i in range(MAX_STATES * 3)]
    thin = _thin(states, MAX_STATES)
    assert len(thin) == MAX_STATES and thin[0] == [0] and thin[-1] == states[-1]


def test_the_plan_curve_has_every_boundary():
    plan = load_plan(shipped_dir() / "quick.toml")
    times = {p[0] for p in plan_samples(plan)}
    assert all(min(b, plan.duration_ms - 1) in times for b in plan.boundaries_ms())


# -- through the CLI -----------------------------------------------------------------


def test_run_records_the_session(env):
    result = invoke("--json", "run", "quick", "--time-scale", "max")
    assert result.exit_code == 0
    start, *_, end = records(result.stdout)
    assert start["history_id"] == end["history_id"] == 1
    (record,) = HistoryStore(db_path(env)).recent()
    assert (record.kind, record.profile_id, record.profile_name) == ("run", "quick", "Quick tour")
    assert record.profile_hash and len(record.profile_hash) == 16
    assert (record.device, record.model, record.end_reason) == ("sim:", "sim-chair", "finished")
    assert record.peak_intensity_pct == 50 and record.stop_confirmed is True  # quick caps itself at 50 %
    assert record.states and record.duration_s == pytest.approx(180, abs=1)
    shown = invoke("history", "show", "1", "--json")
    data = json.loads(shown.stdout)
    assert data["id"] == 1 and data["state_fields"][0] == "t_ms" and len(data["states"]) == len(record.states)
    listed = invoke("history", "list")
    assert "quick" in listed.stdout and "finished, stop confirmed" in listed.stdout
    export = records(invoke("history", "export").stdout)
    assert [r["type"] for r in export] == ["session", "end"] and export[0]["states"]


def test_no_history_and_the_config_switch_record_nothing(env):
    assert invoke("run", "quick", "--time-scale", "max", "--no-history").exit_code == 0
    assert invoke("set", "--heat", "low", "--for", "5s", "--time-scale", "max", "--no-history").exit_code == 0
    assert not db_path(env).exists()
    assert invoke("config", "set", "history.enabled", "false").exit_code == 0
    assert invoke("run", "quick", "--time-scale", "max").exit_code == 0
    assert not db_path(env).exists()
    assert "no sessions recorded yet" in invoke("history", "list").stdout


def test_a_bad_history_file_is_one_line_and_the_session_runs(env):
    db_path(env).parent.mkdir()
    db_path(env).write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    result = invoke("run", "quick", "--time-scale", "max")
    assert result.exit_code == 0
    said = [line for line in result.stderr.splitlines() if "history" in line]
    assert len(said) == 1 and "not recorded" in said[0] and "not a database" in said[0]
    assert "finished (3m); device stopped (confirmed)" in result.stderr
    assert sim_final(env / "trace.json")["target_stopped"]


def test_a_locked_history_file_is_one_line_and_the_session_runs(env):
    db_path(env).parent.mkdir()
    holder = sqlite3.connect(db_path(env), isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = invoke("--json", "run", "quick", "--time-scale", "max")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 0
    lines = records(result.stdout)
    said = [r for r in lines if r["type"] == "warning" and "history" in r["message"]]
    assert len(said) == 1 and "locked" in said[0]["message"]
    assert lines[-1]["type"] == "end" and lines[-1]["reason"] == "finished"


# -- a signal mid-session: the end row is written in the stop path ---------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_end_row_survives_a_signal_mid_session(tmp_path, signum, code):
    env = {
        **os.environ,
        "MASSAGER_CTL_CONFIG": str(tmp_path / "config.toml"),
        "MASSAGER_CTL_DATA": str(tmp_path / "data"),
        "MASSAGER_CTL_SIM_TRACE": str(tmp_path / "trace.json"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "massager_ctl", "run", "quick", "--time-scale", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        started = None
        while time.monotonic() < deadline and started is None:
            time.sleep(0.2)
            if (tmp_path / "data" / "history.sqlite3").exists():
                try:
                    found = HistoryStore(tmp_path / "data" / "history.sqlite3").recent()
                except Exception:  # noqa: BLE001 - created but not ready yet
                    continue
                started = found[0] if found else None
        assert started is not None and started.end_reason is None  # the start row, mid-session
        time.sleep(1.5)  # 6 s of the plan at 4x: some states sent (faster would trip the
        # simulated deadman on a loaded machine: 1.5 s of its time is 375 ms of ours)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    (record,) = HistoryStore(tmp_path / "data" / "history.sqlite3").recent()
    assert record.end_reason == "cancelled" and record.ended_at is not None
    assert record.states and record.stop_sent is True and record.stop_confirmed is True
    assert 0 < record.played_ms < 180_000
    assert sim_final(tmp_path / "trace.json")["target_stopped"]
