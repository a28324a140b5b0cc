"""Pictures: every shipped profile is drawn (CI writes them), with and without a device;
a past session against its plan; a clear message without matplotlib."""

from __future__ import annotations

import builtins
import json

import pytest
from click.testing import CliRunner

from massager_ctl.cli.main import main
from massager_ctl.profile.library import shipped_dir

SHIPPED = sorted(p.stem for p in shipped_dir().glob("*.toml"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MASSAGER_CTL_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MASSAGER_CTL_SIM_TRACE", raising=False)
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_is_drawn(env, name):
    for suffix in (".png", ".svg"):
        out = env / f"{name}{suffix}"
        result = invoke("profile", "plot", name, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 5_000
    assert (env / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert (env / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_with_a_device_it_draws_what_that_device_gets(env):
    plain, on_gun = env / "plain.svg", env / "gun.svg"
    assert invoke("profile", "plot", "quick", "-o", str(plain)).exit_code == 0
    result = invoke("profile", "plot", "quick", "-o", str(on_gun), "--device", "sim:theragun-pro", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["device"] == "theragun-pro"
    assert "theragun-pro" in on_gun.read_text() and "theragun-pro" not in plain.read_text()


def test_a_past_session_is_drawn_against_its_plan(env):
    assert invoke("run", "quick", "--time-scale", "max").exit_code == 0
    out = env / "session.png"
    result = invoke("history", "plot", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 5_000
    assert invoke("history", "plot", "99", "-o", str(out)).exit_code == 2


def test_without_matplotlib_a_clear_message(env, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = invoke("profile", "plot", "quick", "-o", str(env / "q.png"))
    assert result.exit_code == 2
    assert result.stderr == (
        "massager-ctl: plots need matplotlib, which is not installed: pip install 'massager-ctl[plot]'\n"
    )


def test_a_picture_needs_a_known_format(env):
    result = invoke("profile", "plot", "quick", "-o", str(env / "q.gif"))
    assert result.exit_code == 2 and "write the picture as .svg, .png or .pdf" in result.stderr
