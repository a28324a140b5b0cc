"""The config is read and written as carefully as a profile: it sets the safety caps.

Reading: the same limits as profiles (massager_ctl/core/toml_text.py) - a regular file
only, a size limit, no key of many dotted parts, no deep nesting, a byte-order mark
allowed. Writing: atomic, through a symlink to its target, under a lock so concurrent
writers lose nothing, folders 0700 whatever the umask; a warning when others could
change it. Every failure is a ConfigError (one line each), never a hang or a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import pytest

from massager_ctl import config as cfgmod
from massager_ctl.config import ConfigError, load_config, set_value, unset_value

REPO = Path(__file__).resolve().parents[1]


def _load_within(path, seconds: float = 5.0):
    """load_config(path) in a thread; fail (not hang) if it takes longer than ``seconds``."""
    result: dict = {}

    def run():
        try:
            result["config"] = load_config(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"reading {path} did not end within {seconds} s"
    return result


# ----------------------------------------------------------------------------- reading


def test_a_fifo_config_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    result = _load_within(fifo)
    error = result.get("error")
    assert isinstance(error, ConfigError), result
    assert str(error) == f"{fifo}: cannot read: it is a FIFO (named pipe), not a regular file"


def test_dev_zero_as_the_config_is_refused_at_once():
    result = _load_within("/dev/zero")
    error = result.get("error")
    assert isinstance(error, ConfigError), result
    assert "character device, not a regular file" in str(error)


def test_a_30000_part_dotted_key_is_refused_before_parsing(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("a" + ".a" * 30_000 + " = 1\n", encoding="utf-8")
    started = time.monotonic()
    result = _load_within(p)
    assert time.monotonic() - started < 2.0
    assert str(result["error"]) == (
        f"{p}: line 1, column 1: this key has more than 8 dotted parts; a config needs no more than 2"
    )


def test_a_config_too_large_is_refused(tmp_path):
    p = tmp_path / "config.toml"
    p.write_bytes(b"# " + b"x" * cfgmod.MAX_CONFIG_BYTES + b"\n")
    assert "at most 1,000,000 are allowed" in str(_load_within(p)["error"])


@pytest.mark.parametrize(
    "text, words",
    [
        ("x = " + "[" * 100_000, "nest too deeply"),
        ("[caps]\nmax_intensity = 1" + "0" * 5000 + "\n", "this number is too long to read"),
        (
            "[caps]\nmax_intensity = " + "9" * 400 + "\n",
            "caps.max_intensity: <a huge number> is far too large",
        ),
    ],
)
def test_hostile_texts_are_located_problems(tmp_path, text, words):
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    error = _load_within(p)["error"]
    assert isinstance(error, ConfigError) and words in str(error), str(error)


def test_a_byte_order_mark_is_accepted_like_in_profiles(tmp_path):
    p = tmp_path / "config.toml"
    p.write_bytes("\ufeff[caps]\r\nmax_intensity = 40\r\n".encode())
    assert load_config(p).limits.max_intensity == 40


def test_a_repeated_mistake_is_said_three_times_and_counted(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("".join(f"key{i} = 1\n" for i in range(5000)), encoding="utf-8")
    lines = str(_load_within(p)["error"]).splitlines()
    assert len(lines) <= 52, len(lines)
    assert lines[-1] == f"{p}: ... and 4,950 more problems"


def test_control_and_direction_characters_in_a_key_are_escaped(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('"\\u001b[2J\\u202eevil" = 1\n', encoding="utf-8")
    text = str(_load_within(p)["error"])
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\u001b[2J\\u202eevil: unknown key" in text


# ----------------------------------------------------------------------------- writing


def test_set_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "dotfiles" / "massager.toml"
    real.parent.mkdir()
    real.write_text('device = "sim:"\n', encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    set_value("caps.max_intensity", "40", link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert tomllib.loads(real.read_text()) == {"device": "sim:", "caps": {"max_intensity": 40}}
    assert unset_value("device", link) and link.is_symlink()
    assert tomllib.loads(real.read_text()) == {"caps": {"max_intensity": 40}}


def test_set_through_a_dangling_symlink_creates_its_target(tmp_path):
    real = tmp_path / "elsewhere" / "config.toml"
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    set_value("caps.max_speed", "50", link)
    assert link.is_symlink() and tomllib.loads(real.read_text()) == {"caps": {"max_speed": 50}}


EIGHT_KEYS = [
    ("device", "sim:"),
    ("profiles_dir", "/tmp/mine"),
    ("caps.max_intensity", "61"),
    ("caps.max_speed", "62"),
    ("caps.max_airbag", "63"),
    ("caps.max_heat", "low"),
    ("caps.slew_per_s", "20"),
    ("caps.max_session", "40m"),
]


def test_eight_concurrent_writers_in_one_process_lose_no_key(tmp_path, monkeypatch):
    """Each writer is held between its read and its write, so without the lock every one
    would read the same old file and all but one key would be lost."""
    p = tmp_path / "config.toml"
    real_raw = cfgmod._raw_for_update

    def slow_raw(path):
        raw = real_raw(path)
        time.sleep(0.05)
        return raw

    monkeypatch.setattr(cfgmod, "_raw_for_update", slow_raw)
    errors = []

    def write(key, value):
        try:
            set_value(key, value, p)
        except Exception as exc:  # noqa: BLE001 - collected
            errors.append(exc)

    threads = [threading.Thread(target=write, args=kv) for kv in EIGHT_KEYS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    flat = load_config(p).values()
    for key, _ in EIGHT_KEYS:
        assert key in load_config(p).explicit, (key, flat)
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]  # no lock file, no temp file left


def test_eight_concurrent_config_set_processes_lose_no_key(tmp_path):
    p = tmp_path / "config.toml"
    env = {k: v for k, v in os.environ.items() if k != "MASSAGER_CTL_CONFIG"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "massager_ctl", "--config", str(p), "config", "set", key, value],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        for key, value in EIGHT_KEYS
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    explicit = load_config(p).explicit
    assert {key for key, _ in EIGHT_KEYS} <= explicit, explicit


def test_folders_are_made_private_whatever_the_umask(tmp_path):
    p = tmp_path / "a" / "b" / "config.toml"
    old = os.umask(0)
    try:
        set_value("caps.max_intensity", "50", p)
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, oct(folder.stat().st_mode)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "failure, words",
    [
        (PermissionError(errno.EACCES, "Permission denied"), "cannot write: Permission denied"),
        (OSError(errno.EROFS, "Read-only file system"), "cannot write: Read-only file system"),
        (OSError(errno.ENOSPC, "No space left on device"), "cannot write: No space left on device"),
    ],
)
def test_a_folder_that_cannot_be_written_is_one_clear_line(tmp_path, monkeypatch, failure, words):
    """(Tests may run as root, for whom permissions do not stop a write: the failure is
    made where the write would meet it.)"""
    p = tmp_path / "config.toml"
    p.write_text('device = "sim:"\n', encoding="utf-8")

    def refuse(*args, **kwargs):
        raise failure

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # config imports it where it writes
    with pytest.raises(ConfigError) as info:
        set_value("caps.max_intensity", "50", p)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert p.read_text() == 'device = "sim:"\n'


# ------------------------------------------------------------------------ who may write


def test_a_config_others_can_write_is_warned_about(tmp_path, caplog):
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o700)
    p = folder / "config.toml"
    p.write_text("[caps]\nmax_intensity = 40\n", encoding="utf-8")
    p.chmod(0o600)
    folder.chmod(0o700)
    with caplog.at_level(logging.WARNING, logger="massager_ctl"):
        load_config(p)
    assert not caplog.records
    p.chmod(0o666)
    folder.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="massager_ctl"):
        load_config(p)
    said = [r.getMessage() for r in caplog.records]
    assert any("the config file" in m and "anyone can write to it" in m for m in said), said
    assert any("its folder" in m and "chmod go-w" in m for m in said), said


def test_the_cli_prints_the_warning_once_per_place(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    folder.chmod(0o777)
    p = folder / "config.toml"
    env = {k: v for k, v in os.environ.items() if k != "MASSAGER_CTL_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-m", "massager_ctl", "--config", str(p), "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stderr.count("can be changed by other users") == 1, proc.stderr
