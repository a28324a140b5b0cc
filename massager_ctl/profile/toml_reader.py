"""Reading untrusted TOML text safely, every failure turned into a located Problem.

tomli does the parsing when it is installed (a compiled build of the same
parser as the standard library's tomllib, several times faster on large
files); tomllib otherwise. Around it:

* the text is size-limited;
* keys with many dotted parts are refused before parsing: tomllib's work on a
  dotted key grows with the square of its parts, so a short hostile line
  (``a.a.a.a...``) could otherwise exhaust memory;
* deep nesting (RecursionError) and over-long integers (ValueError) become
  problems with a line and column, like syntax errors.
"""

from __future__ import annotations

import re
from typing import Any

try:
    import tomli as _toml
except ImportError:  # pragma: no cover - tomli is a dependency; tomllib is the same parser
    import tomllib as _toml  # type: ignore[no-redef]  # the same parser and API as tomli

from .errors import Problem, ProfileError

#: The TOML module in use (tomli or tomllib), for reports such as the benchmark's.
PARSER = _toml

#: Longest profile text accepted, in characters (a hand-written one is a few kB).
MAX_PROFILE_CHARS = 2_000_000
#: Most parts a dotted key may have (``intensity.from`` has 2).
MAX_KEY_PARTS = 8
#: Deeper bracket nesting than this is reported as the culprit of a RecursionError.
_NESTING_SHOWN = 50

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*\Z")
_AT_END = re.compile(r"\s*\(at end of document\)\s*\Z")
_KEY_TUPLE = re.compile(r"\(((?:'[A-Za-z0-9_-]+',? ?)+)\)")
# A rough TOML tokenizer, linear in time: each alternative consumes whatever it scans.
_TOKENS = re.compile(
    r"""
    (?P<str>\"\"\"[\s\S]*?(?:\"\"\"|\Z)
        |'''[\s\S]*?(?:'''|\Z)
        |"(?:[^"\\\n]++|\\.)*+"?
        |'[^'\n]*+'?)
    |(?P<comment>\#[^\n]*+)
    |(?P<word>[A-Za-z0-9_+-]++)
    |(?P<dot>\.)
    |(?P<space>[ \t]++)
    |(?P<other>[\s\S])
    """,
    re.VERBOSE,
)
_LONG_INT = re.compile(r"(?<![0-9_])[0-9][0-9_]{3000,}")


def line_col(text: str, pos: int) -> str:
    """'line L, column C' (1-based) of character ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def long_dotted_key(text: str) -> int | None:
    """Position of a key with more than MAX_KEY_PARTS dotted parts, or None.

    Tokenizes only when some line has that many dots at all, so ordinary
    profiles cost two fast passes of str.count.
    """
    if text.count(".") < MAX_KEY_PARTS - 1:
        return None
    if all(line.count(".") < MAX_KEY_PARTS for line in text.split("\n")):
        return None
    parts = 0
    start = 0
    after_dot = False
    for m in _TOKENS.finditer(text):
        group = m.lastgroup
        if group in ("word", "str"):
            if after_dot and parts:
                parts += 1
            else:
                parts, start = 1, m.start()
            after_dot = False
            if parts > MAX_KEY_PARTS:
                return start
        elif group == "dot":
            if after_dot or not parts:
                parts = 0
            after_dot = True
        elif group != "space":
            parts, after_dot = 0, False
    return None


def _deep_nesting(text: str) -> int:
    """Position where brackets first nest deeper than any profile needs."""
    depth = 0
    for m in _TOKENS.finditer(text):
        if m.lastgroup == "other":
            ch = m.group()
            if ch in "[{":
                depth += 1
                if depth > _NESTING_SHOWN:
                    return m.start()
            elif ch in "]}":
                depth = max(0, depth - 1)
    return 0


def _fail(file: str, where: str, message: str) -> ProfileError:
    return ProfileError([Problem(file, where, None, message)])


def _syntax_problem(exc: _toml.TOMLDecodeError, text: str) -> tuple[str, str]:
    message = str(exc)
    where = "line 1, column 1"
    m = _AT_LINE.search(message)
    if getattr(exc, "lineno", None) and getattr(exc, "msg", None):  # tomli >= 2.1
        where = f"line {exc.lineno}, column {exc.colno}"
        message = exc.msg
        if exc.pos >= len(text):
            message += " at the end of the file"
    elif m:
        where = f"line {m.group(1)}, column {m.group(2)}"
        message = message[: m.start()]
    else:
        m = _AT_END.search(message)
        if m:
            where = line_col(text, len(text))
            message = message[: m.start()] + " at the end of the file"
    # "Cannot declare ('segment', 'steps') twice" -> "Cannot declare [segment.steps] twice"
    message = _KEY_TUPLE.sub(
        lambda k: "[" + ".".join(p.strip(" '") for p in k.group(1).split(",") if p.strip()) + "]",
        message,
    )
    return where, message


def read_toml(text: str, file: str) -> dict[str, Any]:
    """Parse TOML with limits; raises ProfileError (one located problem) on failure."""
    if len(text) > MAX_PROFILE_CHARS:
        raise _fail(
            file,
            "",
            f"the profile is {len(text):,} characters long; at most {MAX_PROFILE_CHARS:,} are allowed",
        )
    pos = long_dotted_key(text)
    if pos is not None:
        raise _fail(
            file,
            line_col(text, pos),
            f"this key has more than {MAX_KEY_PARTS} dotted parts; a profile needs no more than 2",
        )
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise _fail(file, *_syntax_problem(exc, text)) from None
    except RecursionError:
        raise _fail(
            file, line_col(text, _deep_nesting(text)), "lists or tables nest too deeply to read"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        m = _LONG_INT.search(text)
        if m:
            raise _fail(file, line_col(text, m.start()), "this number is too long to read") from None
        raise _fail(file, "line 1, column 1", f"cannot read the TOML: {exc}") from None
