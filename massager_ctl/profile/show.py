"""Showing profile values in messages the way they were written in TOML."""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Iterable
from typing import TypeGuard

from ..core.toml_text import DIRECTION_CONTROLS, INVISIBLE, unsafe_char

_BARE_KEY = re.compile(r"[A-Za-z0-9_.-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def quote(text: str, limit: int = 60) -> str:
    """``text`` as a TOML basic string, control characters escaped, cut at ``limit``."""
    out = []
    for ch in text[:limit]:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or unsafe_char(ch):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + ('..."' if len(text) > limit else '"')


def show_key(key: str) -> str:
    """A key as written: bare when it can be, else quoted."""
    return key if len(key) <= 40 and _BARE_KEY.fullmatch(key) else quote(key, 40)


def _show(value: object, depth: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 64:  # str() of a huge int is slow or refused
            return "-<a huge number>" if value < 0 else "<a huge number>"
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, list):
        if depth >= 2:
            return "[...]"
        items = [_show(v, depth + 1) for v in value[:4]]
        if len(value) > 4:
            items.append("...")
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        if depth >= 2:
            return "{...}"
        items = [f"{show_key(k)} = {_show(v, depth + 1)}" for k, v in list(value.items())[:4]]
        if len(value) > 4:
            items.append("...")
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return f"<{type(value).__name__}>"


def show(value: object) -> str:
    """``value`` as it would be written in TOML, shortened for a message."""
    text = _show(value, 0)
    return text if len(text) <= 70 else text[:66] + " ..."


def kind(value: object) -> str:
    """What sort of TOML value ``value`` is, in words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, _dt.datetime):
        return "a date-time"
    if isinstance(value, _dt.date):
        return "a date"
    if isinstance(value, _dt.time):
        return "a time"
    return "something else"


def is_number(value: object) -> TypeGuard[int | float]:
    """int or float, but not bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The allowed word closest to ``word``, if any is close enough."""
    if len(word) > 40:
        return None
    found = difflib.get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean "x"?' or ''."""
    match = close_match(word, choices)
    return f'; did you mean "{match}"?' if match else ""


def has_control(text: str, allow_newlines: bool) -> bool:
    """Does ``text`` hold a control character (which could upset a terminal)?"""
    pattern = _CONTROL_BUT_NEWLINES if allow_newlines else _CONTROL
    return pattern.search(text) is not None


def direction_control(text: str) -> str | None:
    """The first direction-changing character in ``text``, as ``U+202E``; else None."""
    m = DIRECTION_CONTROLS.search(text)
    return f"U+{ord(m.group()):04X}" if m else None


def has_visible(text: str) -> bool:
    """Does ``text`` show anything? (Zero-width characters, spaces, fillers do not.)"""
    import unicodedata

    for ch in text:
        if ch.isspace() or ch in INVISIBLE:
            continue
        if unicodedata.category(ch) in ("Cf", "Cc", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"):
            continue
        return True
    return False
