"""Shared test setup: the tests folder on sys.path (for fakes), and the CLI fixture."""

import gc
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from massager_ctl.cli.main import main  # noqa: E402


@pytest.fixture(autouse=True)
def _private_data_folder(tmp_path_factory, monkeypatch):
    """Sessions a test plays are recorded in a history of its own, never the user's
    (child processes inherit it through the environment)."""
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def _private_runtime_dir(monkeypatch, tmp_path_factory):
    """Every test gets its own runtime folder: a `massager-ctl serve` running on this
    machine (its control socket) is never reached by a test, and tests never meet."""
    import tempfile

    # Short: a Unix socket path holds about 100 bytes; pytest's tmp paths can be longer.
    folder = tempfile.mkdtemp(prefix="mc-")
    monkeypatch.setenv("MASSAGER_CTL_RUNTIME_DIR", folder)
    yield
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke massager-ctl with a private config and a simulator trace file (cli.trace)."""
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    trace = tmp_path / "sim-trace.json"
    monkeypatch.setenv("MASSAGER_CTL_SIM_TRACE", str(trace))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    invoke.trace = trace
    invoke.tmp = tmp_path
    return invoke


def records(stdout: str) -> list[dict]:
    """Every line of a command's JSON output, parsed (each must be one JSON object)."""
    out = []
    for line in stdout.splitlines():
        data = json.loads(line)
        assert isinstance(data, dict), line
        out.append(data)
    return out


def sim_final(trace: Path) -> dict:
    """The simulated device's final state, as it wrote it on closing."""
    return json.loads(trace.read_text())


@pytest.fixture(autouse=True)
def _unfreeze_after_each_test():
    """The CLI freezes what set-up built (massager_ctl.api.freeze_setup) in its own process;
    commands run in this one by the ``cli`` fixture: hand it all back to the collector."""
    yield
    gc.unfreeze()
