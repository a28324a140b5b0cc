"""The systemd user unit in docs/ is one systemd accepts (where systemd-analyze exists)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "docs" / "massager-ctl.service"


def test_the_unit_file_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    text = UNIT.read_text()
    assert "ExecStart=%h/.local/bin/massager-ctl serve" in text
    # verify checks that the program exists: point it at this environment's massager-ctl
    program = Path(sys.executable).parent / "massager-ctl"
    if not program.exists():
        pytest.skip("massager-ctl is not installed in this environment")
    unit = tmp_path / "massager-ctl.service"
    unit.write_text(text.replace("%h/.local/bin/massager-ctl", str(program)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Unknown" not in out and "Invalid" not in out, out


def test_the_unit_stops_the_service_by_sigterm_with_time_to_confirm_the_stops():
    text = UNIT.read_text()
    assert "KillSignal=SIGTERM" in text
    timeout = int(text.split("TimeoutStopSec=")[1].split()[0])
    assert timeout >= 10
