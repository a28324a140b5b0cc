"""Where profiles live: the shipped ones and the user's own folder.

A profile is referred to by a path (``./mine.toml``) or by a bare name
(``quick`` or ``quick.toml``). Names are looked up in the user's folder first
(``Config.profiles_dir``), then among the shipped profiles, so a user profile
with the same name as a shipped one takes its place.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..core.errors import UsageError

if TYPE_CHECKING:
    from ..config import Config

Source = Literal["shipped", "user"]

SUFFIX = ".toml"


@dataclass(frozen=True)
class ProfileEntry:
    name: str  # the file name without .toml: what you type
    path: Path
    source: Source
    shadowed: bool = False  # a user profile of the same name hides this one

    @property
    def name_problem(self) -> str | None:
        """Why this file's name cannot be a profile name (None: it can)."""
        return name_problem(self.name)


def name_problem(name: str) -> str | None:
    """A profile name (a file name) that would mislead when shown: control characters,
    characters that change the text's direction, or nothing visible at all."""
    from .show import direction_control, has_control, has_visible

    if has_control(name, False):
        return "the file name holds a control character; rename the file"
    bidi = direction_control(name)
    if bidi is not None:
        return f"the file name holds a character that changes the text's direction ({bidi}); rename the file"
    if not has_visible(name):
        return "the file name shows nothing (only invisible characters); rename the file"
    return None


def shown_name(name: str) -> str:
    """A profile name safe to print: invisible and direction characters escaped."""
    from .show import quote

    return quote(name, 80)[1:-1] if name_problem(name) else name


def shipped_dir() -> Path:
    """The folder of shipped profiles.

    In a wheel it is ``massager_ctl/shipped_profiles`` (force-included from the
    top-level ``profiles/`` folder); in a source checkout or editable install it is
    ``<repo>/profiles``.
    """
    installed = Path(__file__).resolve().parents[1] / "shipped_profiles"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "profiles"


def _scan(folder: Path, source: Source) -> list[ProfileEntry]:
    try:
        names = os.listdir(folder)
    except OSError:  # missing or unreadable folder: no profiles there
        return []
    out = []
    for n in names:
        p = folder / n
        if n.startswith(".") or not n.endswith(SUFFIX) or not p.is_file():
            continue
        out.append(ProfileEntry(n[: -len(SUFFIX)], p, source))
    return sorted(out, key=lambda e: e.name)


def list_profiles(config: Config) -> list[ProfileEntry]:
    """Every profile: the user's first, then the shipped ones, each sorted by name.

    Shipped profiles hidden by a user profile of the same name are listed with
    ``shadowed=True``.
    """
    user = _scan(config.profiles_dir, "user")
    taken = {e.name for e in user}
    shipped = [
        ProfileEntry(e.name, e.path, e.source, shadowed=e.name in taken)
        for e in _scan(shipped_dir(), "shipped")
    ]
    return user + shipped


def _bare_name(ref: str) -> str | None:
    """``quick`` or ``quick.toml`` -> ``quick``; None if ``ref`` looks like a path."""
    if not ref or "/" in ref or os.sep in ref or (os.altsep and os.altsep in ref):
        return None
    if ref in (".", ".."):
        return None
    return ref[: -len(SUFFIX)] if ref.endswith(SUFFIX) else ref


def resolve_profile(ref: str | os.PathLike[str], config: Config) -> Path:
    """The file a profile reference means.

    ``ref`` is a path to an existing file, or a bare name looked up in the user's
    folder, then among the shipped profiles. Raises UsageError (naming the
    available profiles) when nothing matches.
    """
    text = os.fspath(ref)
    shown = shown_name(text)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    name = _bare_name(text)
    if name is None:
        if path.is_dir():
            raise UsageError(f"{shown}: is a folder, not a profile file")
        if path.exists():  # a FIFO, a device, a socket: reading one could block for ever
            raise UsageError(f"{shown}: is not a regular file, so not a profile file")
        raise UsageError(f"{shown}: no such file")
    problem = name_problem(name)
    if problem is not None:
        raise UsageError(f"{shown}: not a profile name: {problem.replace('the file name', 'it')}")
    entries = [e for e in list_profiles(config) if not e.shadowed and e.name_problem is None]
    for entry in entries:
        if entry.name == name:
            return entry.path
    available = [e.name for e in entries]
    close = difflib.get_close_matches(name, available, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    listing = ", ".join(available) if available else "none"
    raise UsageError(f"{shown}: no such file or profile name{hint} (available: {listing})")
