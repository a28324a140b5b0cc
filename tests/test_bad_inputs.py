"""A table of bad inputs: each gets clear lines and an exit code, never "unexpected error"
nor a traceback ("unexpected error" is kept for real bugs).

Every row is one hostile or mistaken use of the command line - a number that is not one,
a file that is not a file, a device that is the terminal itself, a folder that is not
there, output that cannot be written - taken from the hardening issue and widened to
their kind. The in-process rows run through click's test runner (exceptions not caught,
so a crash fails the row); the rows that need a real process (a full disk as stdout) run
one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN = ("unexpected error", "Traceback", "Aborted!")


@dataclass
class Case:
    id: str
    args: list[str]
    codes: tuple[int, ...] = (2,)
    #: (tmp_path) -> extra args replacing "{x}" in ``args``, environment, etc.
    setup: Callable[[Path], dict] | None = None
    words: str = ""  # a fragment the output must hold
    env: dict[str, str] = field(default_factory=dict)


def _fifo(tmp: Path) -> dict:
    path = tmp / "pipe.toml"
    os.mkfifo(path)
    return {"x": str(path)}


def _folder(tmp: Path) -> dict:
    path = tmp / "folder.toml"
    path.mkdir()
    return {"x": str(path)}


def _named(name: str) -> Callable[[Path], dict]:
    def setup(tmp: Path) -> dict:
        folder = tmp / "profiles"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.toml").write_text("format = 1\n", encoding="utf-8")
        (tmp / "config.toml").write_text(f'profiles_dir = "{folder}"\n', encoding="utf-8")
        return {"x": name}

    return setup


def _repeated(tmp: Path) -> dict:
    path = tmp / "many.toml"
    seg = '[[segment]]\nname = "a"\ntechnique = "knead"\nzones = ["neck"]\nduration = "1s"\nintensity = 300\n'
    path.write_text('format = 1\nname = "x"\ndescription = "d"\nbenefit = "relaxation"\n' + seg * 3000)
    return {"x": str(path)}


def _config(text: str) -> Callable[[Path], dict]:
    def setup(tmp: Path) -> dict:
        (tmp / "config.toml").write_text(text, encoding="utf-8")
        return {}

    return setup


def _fifo_config(tmp: Path) -> dict:
    (tmp / "config.toml").unlink(missing_ok=True)
    os.mkfifo(tmp / "config.toml")
    return {}


NINES = "9" * 400

CASES = [
    # numbers that are not numbers, or not in range
    Case("run max-intensity nan", ["run", "quick", "--max-intensity", "nan"]),
    Case("run max-intensity huge", ["run", "quick", "--max-intensity", "1e400"]),
    Case("run time-scale 1e-9", ["run", "quick", "--time-scale", "1e-9"]),
    Case("run time-scale 1e-6", ["run", "quick", "--time-scale", "1e-6"]),
    Case("run time-scale word", ["run", "quick", "--time-scale", "fast"]),
    Case("set for overflows", ["set", "-t", "knead", "-z", "neck", "-i", "20", "--for", NINES + "h"]),
    Case("set for nonsense", ["set", "-t", "knead", "-z", "neck", "-i", "20", "--for", "5x"]),
    Case("set for negative", ["set", "-t", "knead", "-z", "neck", "-i", "20", "--for", "-5s"]),
    Case("set for empty", ["set", "-t", "knead", "-z", "neck", "-i", "20", "--for", ""]),
    Case("set airbag without level", ["set", "--airbag", "calves"]),
    Case("set airbag word level", ["set", "--airbag", "calves=lots"]),
    Case("set airbag nan", ["set", "--airbag", "calves=nan"]),
    Case("set airbag unknown zone", ["set", "--airbag", "elbow=30"]),
    Case("set nothing", ["set"]),
    Case("set speed inf", ["set", "-t", "knead", "-z", "neck", "-i", "30", "-s", "inf"]),
    Case("program minutes 0", ["program", "relax", "--minutes", "0"]),
    Case("scan timeout nan", ["scan", "--timeout", "nan"]),
    Case("profile show width huge", ["profile", "show", "quick", "--width", "100000000"]),
    Case("profile show width 0", ["profile", "show", "quick", "--width", "0"]),
    Case("status count 0", ["status", "--count", "0"]),
    # devices that are not devices
    Case("device empty scheme", ["--device", "bogus:", "status"]),
    Case("device unknown model", ["--device", "sim:nomodel", "status"]),
    Case("serial without port", ["--device", "serial:", "status"]),
    Case("serial missing port", ["--device", "serial:/nonexistent/tty?model=native", "status"], (1,)),
    Case("serial unknown model", ["--device", "serial:/dev/null?model=nope", "status"]),
    Case("serial bad baud", ["--device", "serial:/dev/null?model=native&baud=fast", "status"]),
    Case("serial bad option", ["--device", "serial:/dev/null?model=native&speed=1", "status"]),
    Case("serial bad long_deadman", ["--device", "serial:/dev/null?model=native&long_deadman=x", "status"]),
    Case(
        "serial is our terminal",
        ["--device", "serial:/dev/tty?model=native", "status"],
        words="the terminal massager-ctl runs in",
    ),
    Case("serial is a regular file", ["--device", "serial:/etc/hostname?model=native", "status"], (1, 2)),
    Case("ble without target", ["--simulate-ble", "--device", "ble:", "status"]),
    Case("ble bad scan", ["--simulate-ble", "--device", "ble:Pro?scan=nan", "status"]),
    # files that are not files
    Case("run a FIFO profile", ["run", "{x}"], setup=_fifo, words="not a regular file"),
    Case("check a FIFO profile", ["profile", "check", "{x}"], setup=_fifo, words="not a regular file"),
    Case("show a FIFO profile", ["profile", "show", "{x}"], setup=_fifo, words="not a regular file"),
    Case("run /dev/zero", ["run", "/dev/zero"], words="not a regular file"),
    Case("run a folder", ["run", "{x}"], setup=_folder),
    Case("run a missing file", ["run", "./nowhere.toml"], words="no such file"),
    Case("a name with a right-to-left override", ["profile", "show", "{x}"], setup=_named("\u202eevil")),
    Case("a name of zero-width spaces", ["run", "{x}"], setup=_named("\u200b\u200b")),
    Case(
        "a mistake repeated 3000 times",
        ["profile", "check", "{x}"],
        setup=_repeated,
        words="more of the same",
    ),
    # the config
    Case("config a FIFO", ["config", "show"], setup=_fifo_config, words="FIFO"),
    Case("config /dev/zero", ["--config", "/dev/zero", "config", "show"], words="character device"),
    Case("config dotted key", ["config", "show"], setup=_config("a" + ".a" * 30_000 + " = 1\n")),
    Case("config nan cap", ["config", "show"], setup=_config("[caps]\nmax_intensity = nan\n")),
    Case("config huge cap", ["config", "show"], setup=_config(f"[caps]\nmax_intensity = {NINES}\n")),
    Case("config set nan", ["config", "set", "caps.slew_per_s", "nan"]),
    Case("config set huge duration", ["config", "set", "caps.max_session", NINES + "h"]),
    Case("config set unknown long key", ["config", "set", "x" * 5000, "1"]),
    Case("config set escape key", ["config", "set", "\x1b[2Jcaps", "1"]),
    # places that are not there
    Case("simulate link into a missing folder", ["simulate", "sim-chair", "--link", "/nonexistent/dir/port"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_bad_input_is_a_clear_error_never_a_crash(cli, case, json_mode, monkeypatch):
    extra = case.setup(cli.tmp) if case.setup else {}
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    args = [a.replace("{x}", extra.get("x", "")) for a in case.args]
    result = cli(*(["--json", *args] if json_mode else args))
    out = result.output
    for bad in FORBIDDEN:
        assert bad not in out, out
    assert result.exit_code in case.codes, out
    assert out.strip(), "no word at all"
    if case.words and not json_mode:
        assert case.words in out, out
    if not json_mode:  # (JSON lists every problem, for programs)
        assert len(out.splitlines()) <= 60, f"{len(out.splitlines())} lines"
    assert "\x1b" not in out and "\u202e" not in out, "terminal controls printed raw"
    if json_mode and "Usage:" not in out:
        # (click's usage errors stay text; everything of ours is JSON on stdout)
        data = json.loads(result.stdout)
        if isinstance(data, dict) and "error" in data:
            assert data["exit_code"] == result.exit_code and data["error"]


def test_status_watch_on_a_device_that_reports_nothing_by_itself(cli):
    """--watch asks every --interval, so a pad that never reports on its own is watched
    too: what it cannot tell is said as unknown (it used to end in "unexpected error")."""
    result = cli("--device", "sim:nlr-hf8", "status", "--watch", "--count", "2", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    # (not a terminal: only changes are printed, and the second read changed nothing)
    assert lines and all(line.startswith("running: unknown") for line in lines)
    assert "unexpected error" not in result.output


def test_a_trace_into_a_missing_folder_is_a_warning_not_a_failure(cli, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_SIM_TRACE", "/nonexistent/dir/trace.json")
    result = cli("run", "quick", "--time-scale", "max")
    assert result.exit_code == 0, result.output
    assert "could not write the simulator trace" in result.output
    assert "unexpected error" not in result.output


def test_a_read_only_config_folder_is_one_line(cli, monkeypatch):
    """(Tests may run as root, which ignores permissions: the failure is made where the
    write meets it.)"""
    import errno

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # config imports it where it writes
    result = cli("config", "set", "caps.max_intensity", "50")
    assert result.exit_code == 2
    assert "cannot write: Read-only file system" in result.output
    assert "unexpected error" not in result.output


FULL_DISK = [["devices"], ["--json", "devices"], ["profile", "show", "quick"], ["--json", "config", "show"]]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", FULL_DISK, ids=[" ".join(a) for a in FULL_DISK])
def test_output_to_a_full_disk_is_one_line_on_stderr(args, tmp_path):
    env = dict(os.environ, MASSAGER_CTL_CONFIG=str(tmp_path / "config.toml"))
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "massager_ctl", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
            timeout=60,
        )
    assert proc.returncode == 1
    assert "cannot write the output: No space left on device" in proc.stderr
    for bad in FORBIDDEN + ("Exception ignored",):
        assert bad not in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) <= 2, proc.stderr
