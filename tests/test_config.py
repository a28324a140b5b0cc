"""The user config file: defaults, checks with exact messages, atomic writes, the CLI."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from massager_ctl import config as cfgmod
from massager_ctl.cli.main import main
from massager_ctl.config import (
    ENV_VAR,
    KEYS,
    Config,
    ConfigError,
    config_path,
    load_config,
    set_value,
    unset_value,
)
from massager_ctl.core.errors import UsageError
from massager_ctl.core.vocabulary import Heat
from massager_ctl.session.limits import SafetyLimits


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Keep every test away from the real per-user config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV_VAR, raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- loading ---------------------------------------------------------------------


def test_missing_file_gives_defaults(tmp_path):
    p = tmp_path / "nope" / "config.toml"
    cfg = load_config(p)
    assert cfg == Config(
        device=None,
        limits=SafetyLimits(),
        profiles_dir=tmp_path / "xdg" / "massager-ctl" / "profiles",
        path=p,
    )
    assert cfg.explicit == frozenset()
    assert not p.exists()


def test_default_place_is_the_app_dir(tmp_path):
    assert config_path() == tmp_path / "xdg" / "massager-ctl" / "config.toml"


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
@pytest.mark.parametrize("xdg", [True, False])
def test_app_dir_is_where_click_puts_it(monkeypatch, tmp_path, platform, xdg):
    """config.app_dir does without click (so `profile list` starts fast), in click's place."""
    import sys

    import click.utils

    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(click.utils, "WIN", platform == "win32")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    if not xdg:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        monkeypatch.delenv("APPDATA")
    assert cfgmod.app_dir() == Path(click.utils.get_app_dir("massager-ctl"))


def test_env_var_overrides_default_and_option_overrides_env(tmp_path, monkeypatch):
    env_file = write(tmp_path / "env.toml", 'device = "from-env:"\n')
    opt_file = write(tmp_path / "opt.toml", 'device = "from-option:"\n')
    monkeypatch.setenv(ENV_VAR, str(env_file))
    assert config_path() == env_file
    assert load_config().device == "from-env:"
    assert load_config(opt_file).device == "from-option:"


def test_empty_env_var_means_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    assert config_path() == tmp_path / "xdg" / "massager-ctl" / "config.toml"


def test_full_file_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    p = write(
        tmp_path / "c" / "config.toml",
        """
device = "serial:/dev/ttyUSB0"
profiles_dir = "mine"

[caps]
max_intensity = 60
max_speed = 70.5
max_airbag = 40
max_heat = "low"
slew_per_s = 10
max_session = "45m"
heat_auto_off = "15m"

[history]
enabled = false
keep = 50
""",
    )
    cfg = load_config(p)
    assert (cfg.history_enabled, cfg.history_keep) == (False, 50)
    assert cfg.device == "serial:/dev/ttyUSB0"
    assert cfg.profiles_dir == tmp_path / "c" / "mine"  # relative to the config's folder
    assert cfg.limits == SafetyLimits(
        max_intensity=60,
        max_speed=70.5,
        max_airbag=40,
        max_heat=Heat.LOW,
        slew_per_s=10,
        max_session_s=45 * 60,
        heat_auto_off_s=15 * 60,
    )
    assert cfg.explicit == frozenset(KEYS)


def test_profiles_dir_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    p = write(tmp_path / "config.toml", 'profiles_dir = "~/massage"\n')
    assert load_config(p).profiles_dir == tmp_path / "home" / "massage"


def test_every_bad_value_is_reported_with_exact_messages(tmp_path):
    p = write(
        tmp_path / "config.toml",
        """
device = ""
profiles_dir = 3

[caps]
max_intensity = 140
max_speed = -5
max_airbag = true
max_heat = "hgih"
slew_per_s = 0
max_session = "5h"
heat_auto_off = "soon"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(p)
    err = info.value
    assert isinstance(err, UsageError) and err.exit_code == 2
    assert str(err).splitlines() == [
        f'{p}: device: "" is empty; write a device URI',
        f"{p}: profiles_dir: 3 is not a string; write a folder path in quotes",
        f"{p}: caps.max_intensity: 140 is above 100",
        f"{p}: caps.max_speed: -5 is below 0",
        f"{p}: caps.max_airbag: true is not a number",
        f'{p}: caps.max_heat: "hgih" is not one of off, low, high; did you mean "high"?',
        f"{p}: caps.slew_per_s: 0 is too low; it must be above 0 (and at most 100)",
        f'{p}: caps.max_session: "5h" is above "4h"',
        f'{p}: caps.heat_auto_off: "soon" is not a duration; write e.g. "90s", "2m30s", "1h" or "500ms"',
    ]
    assert len(err.problems) == 9


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_intensity = 100.5", "caps.max_intensity: 100.5 is above 100"),
        ("max_intensity = nan", "caps.max_intensity: nan is not a number"),
        ("max_speed = inf", "caps.max_speed: inf is not a number"),
        ('max_speed = "fast"', 'caps.max_speed: "fast" is not a number'),
        ("slew_per_s = 101", "caps.slew_per_s: 101 is above 100"),
        ('max_session = "0s"', 'caps.max_session: "0s" is too short; it must be longer than 0'),
        ('max_session = "4h1s"', 'caps.max_session: "4h1s" is above "4h"'),
        ("max_heat = 2", "caps.max_heat: 2 is not one of off, low, high"),
        (
            "heat_auto_off = 600",
            'caps.heat_auto_off: 600 is not a duration; write it as text such as "90s" or "2m30s"',
        ),
    ],
)
def test_single_bad_cap(tmp_path, line, message):
    p = write(tmp_path / "config.toml", f"[caps]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(info.value) == f"{p}: {message}"


def test_limits_at_the_edges_are_fine(tmp_path):
    p = write(
        tmp_path / "config.toml",
        '[caps]\nmax_intensity = 0\nmax_speed = 100\nslew_per_s = 100\nmax_session = "4h"\n',
    )
    lim = load_config(p).limits
    assert (lim.max_intensity, lim.max_speed, lim.slew_per_s) == (0, 100, 100)
    assert lim.max_session_s == 4 * 3600


def test_unknown_keys_get_a_did_you_mean(tmp_path):
    p = write(
        tmp_path / "config.toml",
        'devise = "sim:"\nmax_intensity = 50\ncolour = "blue"\n[caps]\nmax_intensty = 50\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(p)
    lines = str(info.value).splitlines()
    assert lines[0] == f'{p}: devise: unknown key; did you mean "device"?'
    assert lines[1] == f'{p}: max_intensity: unknown key; did you mean "caps.max_intensity"?'
    assert lines[2].startswith(f"{p}: colour: unknown key; known keys are device, profiles_dir,")
    assert lines[3] == f'{p}: caps.max_intensty: unknown key; did you mean "caps.max_intensity"?'


def test_caps_must_be_a_table(tmp_path):
    p = write(tmp_path / "config.toml", "caps = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(info.value) == f"{p}: caps: 3 is not a table; write the caps under a [caps] header"


def test_toml_syntax_error_names_line_and_column(tmp_path):
    p = write(tmp_path / "config.toml", '[caps]\nmax_intensity = 50\nmax_heat "low"\n')
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: line 3, column 10: ")
    assert "(at line" not in msg


def test_unreadable_config_is_a_clear_error(tmp_path):
    folder = tmp_path / "config.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert str(info.value) == f"{folder}: cannot read: it is a folder, not a file"
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'device = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(p)


# -- writing ---------------------------------------------------------------------


def test_set_creates_the_file_and_folder(tmp_path):
    p = tmp_path / "new" / "dir" / "config.toml"
    assert set_value("caps.max_intensity", "60", p) == 60
    assert tomllib.loads(p.read_text()) == {"caps": {"max_intensity": 60}}
    assert load_config(p).limits.max_intensity == 60


def test_set_keeps_every_other_key(tmp_path):
    p = write(
        tmp_path / "config.toml",
        '# my settings\ndevice = "sim:"\n\n[caps]\nmax_speed = 70\nmax_heat = "low"\nmax_session = "45m"\n',
    )
    set_value("caps.max_intensity", "55.5", p)
    set_value("profiles_dir", "~/massage", p)
    assert tomllib.loads(p.read_text()) == {
        "device": "sim:",
        "profiles_dir": "~/massage",
        "caps": {"max_speed": 70, "max_heat": "low", "max_session": "45m", "max_intensity": 55.5},
    }
    set_value("caps.max_speed", "65", p)  # replaces, keeps the rest
    assert tomllib.loads(p.read_text())["caps"]["max_speed"] == 65
    assert tomllib.loads(p.read_text())["device"] == "sim:"


def test_set_keeps_keys_it_does_not_know(tmp_path):
    p = write(tmp_path / "config.toml", '[caps]\nmax_intensty = 50\n[extra]\nnote = "x"\n')
    set_value("device", "sim:", p)
    data = tomllib.loads(p.read_text())
    assert data == {"device": "sim:", "caps": {"max_intensty": 50}, "extra": {"note": "x"}}


def test_set_relative_profiles_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "cfg" / "config.toml"
    assert set_value("profiles_dir", "mine", p) == str(tmp_path / "mine")


def test_set_checks_the_value_first_and_writes_nothing_when_bad(tmp_path):
    p = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        set_value("caps.max_intensity", "140", p)
    assert str(info.value) == "caps.max_intensity: 140 is above 100"
    with pytest.raises(ConfigError) as info:
        set_value("caps.max_intensity", "nan", p)
    assert str(info.value) == 'caps.max_intensity: "nan" is not a number'
    with pytest.raises(ConfigError) as info:
        set_value("caps.max_intensty", "40", p)
    assert str(info.value) == 'caps.max_intensty: unknown key; did you mean "caps.max_intensity"?'
    assert not p.exists()


def test_set_values_are_typed(tmp_path):
    p = tmp_path / "config.toml"
    set_value("caps.max_heat", "off", p)
    set_value("caps.slew_per_s", "12.5", p)
    set_value("caps.heat_auto_off", "10m", p)
    caps = tomllib.loads(p.read_text())["caps"]
    assert caps == {"max_heat": "off", "slew_per_s": 12.5, "heat_auto_off": "10m"}
    lim = load_config(p).limits
    assert (lim.max_heat, lim.slew_per_s, lim.heat_auto_off_s) == (Heat.OFF, 12.5, 600)


def test_corrupted_file_is_refused_and_left_unchanged(tmp_path):
    original = b'device = "sim:"\n[caps\nmax_intensity = 50\n'
    p = tmp_path / "config.toml"
    p.write_bytes(original)
    with pytest.raises(ConfigError) as info:
        set_value("caps.max_intensity", "60", p)
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{p}: line 2, column ")
    assert lines[-1] == f"{p}: not changed; fix the file by hand or remove it first"
    with pytest.raises(ConfigError):
        unset_value("device", p)
    assert p.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]


def test_write_is_atomic_when_replace_fails(tmp_path, monkeypatch):
    p = write(tmp_path / "config.toml", 'device = "sim:"\n')
    before = p.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(cfgmod.os, "replace", broken_replace)
    with pytest.raises(ConfigError, match=r"cannot write: disk on fire \(.*\); not changed"):
        set_value("caps.max_intensity", "60", p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]  # no temp file left behind


def test_write_goes_through_a_temp_file_and_keeps_permissions(tmp_path, monkeypatch):
    p = write(tmp_path / "config.toml", 'device = "sim:"\n')
    p.chmod(0o600)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src), Path(dst), Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(cfgmod.os, "replace", spy)
    set_value("caps.max_intensity", "60", p)
    ((src, dst, text),) = seen
    assert src.parent == p.parent and src != p and dst == p
    assert "max_intensity = 60" in text
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]


def test_unset(tmp_path):
    p = write(tmp_path / "config.toml", 'device = "sim:"\n[caps]\nmax_intensity = 50\n')
    assert unset_value("caps.max_intensity", p) is True
    assert tomllib.loads(p.read_text()) == {"device": "sim:"}  # empty [caps] dropped
    assert unset_value("caps.max_intensity", p) is False
    assert unset_value("device", p) is True
    assert tomllib.loads(p.read_text()) == {}


def test_unset_can_remove_a_typo_but_rejects_unknown_absent_keys(tmp_path):
    p = write(tmp_path / "config.toml", "[caps]\nmax_intensty = 50\nmax_speed = 40\n")
    assert unset_value("caps.max_intensty", p) is True
    assert load_config(p).limits.max_speed == 40
    with pytest.raises(ConfigError) as info:
        unset_value("caps.max_sped", p)
    assert str(info.value) == 'caps.max_sped: unknown key; did you mean "caps.max_speed"?'


# -- the config commands ------------------------------------------------------


def run(*args, **kwargs):
    return CliRunner().invoke(main, list(args), **kwargs)


def test_cli_path_follows_option_and_env(tmp_path, monkeypatch):
    r = run("config", "path")
    assert r.exit_code == 0
    assert r.stdout.strip() == str(tmp_path / "xdg" / "massager-ctl" / "config.toml")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.toml"))
    assert run("config", "path").stdout.strip() == str(tmp_path / "env.toml")
    r = run("--config", str(tmp_path / "opt.toml"), "--json", "config", "path")
    assert json.loads(r.stdout) == {"path": str(tmp_path / "opt.toml"), "exists": False}


def test_cli_set_show_unset(tmp_path):
    p = str(tmp_path / "config.toml")
    r = run("--config", p, "config", "set", "caps.max_intensity", "60")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("caps.max_intensity = 60")
    r = run("--config", p, "config", "set", "device", "sim:")
    assert r.exit_code == 0
    r = run("--config", p, "--json", "config", "show")
    shown = json.loads(r.stdout)
    assert shown["device"] == "sim:"
    assert shown["caps"]["max_intensity"] == 60
    assert shown["caps"]["max_speed"] == 100  # default
    assert shown["caps"]["max_session"] == "30m"
    assert shown["explicit"] == ["caps.max_intensity", "device"]
    r = run("--config", p, "config", "show")
    assert "max_intensity = 60\n" in r.stdout
    assert "max_speed = 100  # default" in r.stdout
    r = run("--config", p, "config", "unset", "caps.max_intensity")
    assert r.exit_code == 0
    r = run("--config", p, "--json", "config", "show")
    assert json.loads(r.stdout)["caps"]["max_intensity"] == 100


def test_cli_bad_value_is_one_line_and_exit_2(tmp_path):
    p = tmp_path / "config.toml"
    r = run("--config", str(p), "config", "set", "caps.max_intensity", "140")
    assert r.exit_code == 2
    assert r.stderr == "massager-ctl: caps.max_intensity: 140 is above 100\n"
    assert r.stdout == ""
    assert not p.exists()
    r = run("--config", str(p), "--json", "config", "set", "caps.max_heat", "warm")
    assert r.exit_code == 2
    data = json.loads(r.stdout)
    assert data["type"] == "error" and data["exit_code"] == 2
    assert data["error"] == 'caps.max_heat: "warm" is not one of off, low, high'


def test_cli_show_with_a_broken_file_lists_every_problem(tmp_path):
    p = write(tmp_path / "config.toml", "[caps]\nmax_intensity = 140\nmax_speed = -1\n")
    r = run("--config", str(p), "config", "show")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        f"massager-ctl: {p}: caps.max_intensity: 140 is above 100",
        f"massager-ctl: {p}: caps.max_speed: -1 is below 0",
    ]
    assert "Traceback" not in r.output


def test_cli_set_refuses_a_corrupted_file(tmp_path):
    p = write(tmp_path / "config.toml", "[caps\n")
    r = run("--config", str(p), "config", "set", "device", "sim:")
    assert r.exit_code == 2
    assert "not changed" in r.stderr
    assert p.read_text() == "[caps\n"


def test_config_help_lists_every_key():
    r = run("config", "--help")
    assert r.exit_code == 0
    for key in KEYS:
        assert key in r.stdout
