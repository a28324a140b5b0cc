"""Where profiles are found: shipped folder, the user's folder, names and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from massager_ctl.config import Config
from massager_ctl.core.errors import UsageError
from massager_ctl.profile import library
from massager_ctl.profile.library import (
    ProfileEntry,
    list_profiles,
    resolve_profile,
    shipped_dir,
)
from massager_ctl.session.limits import SafetyLimits

REPO = Path(__file__).resolve().parents[1]


def make_config(profiles_dir: Path) -> Config:
    return Config(
        device=None,
        limits=SafetyLimits(),
        profiles_dir=profiles_dir,
        path=profiles_dir.parent / "config.toml",
    )


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name in ("quick", "relaxation", "stress"):
        (folder / f"{name}.toml").write_text("# shipped\n")
    monkeypatch.setattr(library, "shipped_dir", lambda: folder)
    return folder


@pytest.fixture
def user(tmp_path):
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "mine.toml").write_text("# user\n")
    (folder / "quick.toml").write_text("# user quick\n")
    (folder / ".hidden.toml").write_text("")
    (folder / "notes.txt").write_text("")
    (folder / "folder.toml").mkdir()
    return folder


def test_shipped_dir_holds_the_repo_profiles():
    """Editable install: the repo's folder itself; wheel install: the copy packed in the wheel."""
    names = sorted(p.name for p in shipped_dir().glob("*.toml"))
    assert names == sorted(p.name for p in (REPO / "profiles").glob("*.toml"))
    if shipped_dir() != REPO / "profiles":
        for path in shipped_dir().glob("*.toml"):
            assert path.read_bytes() == (REPO / "profiles" / path.name).read_bytes()


def test_shipped_dir_prefers_the_installed_copy(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "massager_ctl"
    (pkg / "profile").mkdir(parents=True)
    (pkg / "shipped_profiles").mkdir()
    monkeypatch.setattr(library, "__file__", str(pkg / "profile" / "library.py"))
    assert shipped_dir() == pkg / "shipped_profiles"


def test_list_user_first_then_shipped_with_shadowing(shipped, user):
    entries = list_profiles(make_config(user))
    assert entries == [
        ProfileEntry("mine", user / "mine.toml", "user"),
        ProfileEntry("quick", user / "quick.toml", "user"),
        ProfileEntry("quick", shipped / "quick.toml", "shipped", shadowed=True),
        ProfileEntry("relaxation", shipped / "relaxation.toml", "shipped"),
        ProfileEntry("stress", shipped / "stress.toml", "shipped"),
    ]


def test_missing_user_folder_lists_only_shipped(shipped, tmp_path):
    entries = list_profiles(make_config(tmp_path / "nope"))
    assert [e.name for e in entries] == ["quick", "relaxation", "stress"]
    assert {e.source for e in entries} == {"shipped"}


def test_resolve_an_existing_path(shipped, user, tmp_path, monkeypatch):
    f = tmp_path / "elsewhere.toml"
    f.write_text("")
    assert resolve_profile(str(f), make_config(user)) == f
    monkeypatch.chdir(tmp_path)
    assert resolve_profile("elsewhere.toml", make_config(user)) == Path("elsewhere.toml")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("mine", "user/mine.toml"),
        ("mine.toml", "user/mine.toml"),
        ("quick", "user/quick.toml"),
        ("stress.toml", "shipped/stress.toml"),
        ("relaxation", "shipped/relaxation.toml"),
    ],
)
def test_resolve_names_user_first(shipped, user, tmp_path, monkeypatch, ref, expected):
    monkeypatch.chdir(tmp_path / "user")  # a bare name that is also a file here still works
    got = resolve_profile(ref, make_config(user))
    assert got.resolve() == (tmp_path / expected).resolve()


def test_unknown_name_lists_what_is_available(shipped, user):
    with pytest.raises(UsageError) as info:
        resolve_profile("quik", make_config(user))
    assert str(info.value) == (
        'quik: no such file or profile name; did you mean "quick"? '
        "(available: mine, quick, relaxation, stress)"
    )
    assert info.value.exit_code == 2


def test_missing_path_and_folder(shipped, user, tmp_path):
    with pytest.raises(UsageError) as info:
        resolve_profile(str(tmp_path / "x" / "nope.toml"), make_config(user))
    assert str(info.value) == f"{tmp_path / 'x' / 'nope.toml'}: no such file"
    with pytest.raises(UsageError) as info:
        resolve_profile(str(user), make_config(user))
    assert str(info.value) == f"{user}: is a folder, not a profile file"
