"""Three terminals, as a new user would: `serve` in one, `status --watch` and `stop` in a
second while `run quick` plays from a third. Real processes, the real control socket."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import pytest
from servekit import cli_env, spawn

from massager_ctl.remote.paths import control_socket_path

pytestmark = pytest.mark.slow
LIMIT_S = 60


def ask(op: str, **args) -> dict:
    """One request on the control socket, blocking (the test is a plain process here)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(control_socket_path()))
        s.sendall((json.dumps({"id": 1, "op": op, **args}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, "the service closed the connection"
            data += chunk
    reply = json.loads(data)
    assert reply["ok"], reply
    return reply["result"]


def wait_for(condition, what: str, limit: float = LIMIT_S) -> None:
    end = time.monotonic() + limit
    while True:
        try:
            if condition():
                return
        except (OSError, AssertionError):
            pass
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=LIMIT_S)
    return proc.returncode, out, err


def test_serve_then_watch_and_stop_from_a_second_terminal_while_a_third_plays(tmp_path):
    trace = tmp_path / "sim-trace.json"
    server = spawn(
        tmp_path, "serve", "--time-scale", "10", env=cli_env(tmp_path, MASSAGER_CTL_SIM_TRACE=str(trace))
    )
    try:
        wait_for(lambda: server.poll() is None and ask("devices")["devices"][0]["linked"], "serve to link")

        player = spawn(tmp_path, "run", "quick")  # the third terminal
        wait_for(lambda: ask("status", device="chair")["snapshot"]["state"] == "playing", "quick to play")

        code, out, err = finish(spawn(tmp_path, "status", "--watch", "--count", "3"))  # the second
        assert code == 0, err
        assert "going through it" in err
        lines = out.strip().splitlines()
        assert len(lines) == 3 and all(line.startswith("running: yes") for line in lines), out

        code, out, err = finish(spawn(tmp_path, "stop"))  # the second again
        assert code == 0, err
        assert "stopped (confirmed by the device)" in out

        code, out, err = finish(player)
        assert code == 0, err
        assert "Quick tour: stopped at" in err and "device stopped (confirmed)" in err
        assert ask("status", device="chair")["status"]["stopped"] is True
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        code, _, err = finish(server)
    assert code == 0, err
    assert "every device was told to stop" in err
    final = json.loads(trace.read_text())
    assert final["target_stopped"] and not final["motors_on"] and not final["heat_on"]


def test_sigterm_stops_a_chair_that_plays_for_another_terminal(tmp_path):
    trace = tmp_path / "sim-trace.json"
    server = spawn(
        tmp_path, "serve", "--time-scale", "10", env=cli_env(tmp_path, MASSAGER_CTL_SIM_TRACE=str(trace))
    )
    try:
        wait_for(lambda: server.poll() is None and ask("devices")["devices"][0]["linked"], "serve to link")
        ask("run", device="chair", profile="quick", detach=True)
        wait_for(lambda: ask("status", device="chair")["snapshot"]["state"] == "playing", "quick to play")
        server.send_signal(signal.SIGTERM)
        code, _, err = finish(server)
    finally:
        if server.poll() is None:
            server.kill()
    assert code == 0, err
    final = json.loads(trace.read_text())
    assert final["target_stopped"] and not final["motors_on"], final
    assert any(e["kind"] == "stop" for e in final["trace"])
