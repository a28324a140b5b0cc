"""Reading untrusted profile TOML safely, every failure turned into a located Problem.

The limits themselves (regular file, size, dotted-key parts, nesting, over-long numbers,
UTF-8 with an optional byte-order mark) live in :mod:`massager_ctl.core.toml_text`, where
the config reader uses the same ones; this module puts them in a profile's words.
"""

from __future__ import annotations

from typing import Any

from ..core.toml_text import (
    MAX_KEY_PARTS,
    MAX_TOML_CHARS,
    PARSER,
    TomlTextError,
    line_col,
    long_dotted_key,
    parse_limited,
)
from .errors import Problem, ProfileError

__all__ = ["MAX_KEY_PARTS", "MAX_PROFILE_CHARS", "PARSER", "line_col", "long_dotted_key", "read_toml"]

#: Longest profile text accepted, in characters (a hand-written one is a few kB).
MAX_PROFILE_CHARS = MAX_TOML_CHARS


def profile_error(file: str, exc: TomlTextError) -> ProfileError:
    """A reading failure as the one located problem of a ProfileError."""
    message = exc.message
    if message.startswith(f"this key has more than {MAX_KEY_PARTS} dotted parts"):
        message += "; a profile needs no more than 2"
    return ProfileError([Problem(file, exc.where, None, message)])


def read_toml(text: str, file: str) -> dict[str, Any]:
    """Parse TOML with limits; raises ProfileError (one located problem) on failure."""
    try:
        return parse_limited(text, what="the profile", max_chars=MAX_PROFILE_CHARS)
    except TomlTextError as exc:
        raise profile_error(file, exc) from None
