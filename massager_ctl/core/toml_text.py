"""Reading an untrusted TOML file safely: the limits profiles and the config share.

* **The file** must be a regular file (a FIFO would block the reader for ever, a device
  such as /dev/zero would never end); it is opened without blocking and without taking
  a terminal, checked with ``fstat``, and read up to a size limit.
* **The bytes** must be UTF-8; a leading byte-order mark is allowed (editors add one).
* **The text** is size-limited; keys with many dotted parts are refused before parsing
  (tomllib's work on a dotted key grows with the square of its parts, so a short hostile
  line ``a.a.a.a...`` could exhaust memory); deep nesting (RecursionError) and over-long
  integers (ValueError) become located problems, like syntax errors.

Every failure is a :class:`TomlTextError` with a place (``"line 3, column 7"`` or ``""``)
and a message; the profile reader and the config reader turn it into their own errors.
tomli does the parsing when it is installed (a compiled build of the standard library's
tomllib parser), tomllib otherwise.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any

try:
    import tomli as _toml
except ImportError:  # pragma: no cover - tomli is a dependency; tomllib is the same parser
    import tomllib as _toml  # type: ignore[no-redef]

#: The TOML module in use (tomli or tomllib).
PARSER = _toml

#: Longest text accepted, in characters (a hand-written profile is a few kB, a config less).
MAX_TOML_CHARS = 2_000_000
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


class TomlTextError(ValueError):
    """The file, its bytes or its text cannot be read as TOML within the limits."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


# -- showing a piece of it ----------------------------------------------------------

#: Characters that change the direction of the text around them: shown raw, they can
#: make a name read as something else (a right-to-left override turns "gel.toml" around).
DIRECTION_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Characters that show nothing and are not whitespace.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u115f\u1160\u3164\uffa0\u2800\u180e")


def unsafe_char(ch: str) -> bool:
    """Would printing ``ch`` upset a terminal or hide what a message says?"""
    code = ord(ch)
    return (
        code < 0x20
        or 0x7F <= code < 0xA0
        or 0xD800 <= code <= 0xDFFF
        or ch in INVISIBLE
        or DIRECTION_CONTROLS.match(ch) is not None
    )


def printable(text: str, limit: int = 60) -> str:
    """``text`` safe to print in a message: unsafe characters as ``\\uXXXX``, cut at ``limit``."""
    out = "".join(f"\\u{ord(ch):04x}" if unsafe_char(ch) else ch for ch in text[:limit])
    return out + ("..." if len(text) > limit else "")


# -- the file -------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes``.

    Raises FileNotFoundError when there is no file (callers decide what that means) and
    TomlTextError for anything else: not a regular file, too large, unreadable."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise TomlTextError("", "cannot read: it is a folder, not a file") from None
    except OSError as exc:
        raise TomlTextError("", f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TomlTextError("", "cannot read: it is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise TomlTextError("", f"cannot read: it is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise TomlTextError(
                "", f"cannot read: the file is {info.st_size:,} bytes; at most {max_bytes:,} are allowed"
            )
        chunks = []
        size = 0
        while size <= max_bytes:  # (a file may grow while it is read)
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise TomlTextError("", f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise TomlTextError("", f"cannot read: the file is over {max_bytes:,} bytes")
    return data


# -- the bytes ------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 bytes -> text, a leading byte-order mark dropped; TomlTextError if not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head) - (head.rfind(b"\n") + 1) + 1
        raise TomlTextError(
            f"line {line}, column {column}",
            f"cannot read: the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
        ) from None
    return text.removeprefix("\ufeff")


# -- the text -------------------------------------------------------------------


def line_col(text: str, pos: int) -> str:
    """'line L, column C' (1-based) of character ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def long_dotted_key(text: str) -> int | None:
    """Position of a key with more than MAX_KEY_PARTS dotted parts, or None.

    Tokenizes only when some line has that many dots at all, so ordinary
    files cost two fast passes of str.count.
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


def deep_nesting(text: str) -> int:
    """Position where brackets first nest deeper than any profile or config needs."""
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


def syntax_problem(exc: _toml.TOMLDecodeError, text: str) -> tuple[str, str]:
    """(where, message) of a TOML syntax error, in the words of the rest of the program."""
    message = str(exc)
    where = "line 1, column 1"
    m = _AT_LINE.search(message)
    lineno, colno, msg = getattr(exc, "lineno", None), getattr(exc, "colno", None), getattr(exc, "msg", None)
    if lineno and msg:  # tomli >= 2.1
        where = f"line {lineno}, column {colno}"
        message = msg
        if getattr(exc, "pos", 0) >= len(text):
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


def parse_limited(text: str, *, what: str = "the file", max_chars: int = MAX_TOML_CHARS) -> dict[str, Any]:
    """Parse TOML within the limits; TomlTextError (with a place) on any failure."""
    if len(text) > max_chars:
        raise TomlTextError("", f"{what} is {len(text):,} characters long; at most {max_chars:,} are allowed")
    pos = long_dotted_key(text)
    if pos is not None:
        raise TomlTextError(line_col(text, pos), f"this key has more than {MAX_KEY_PARTS} dotted parts")
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise TomlTextError(*syntax_problem(exc, text)) from None
    except RecursionError:
        raise TomlTextError(
            line_col(text, deep_nesting(text)), "lists or tables nest too deeply to read"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        m = _LONG_INT.search(text)
        if m:
            raise TomlTextError(line_col(text, m.start()), "this number is too long to read") from None
        raise TomlTextError("line 1, column 1", f"cannot read the TOML: {exc}") from None
