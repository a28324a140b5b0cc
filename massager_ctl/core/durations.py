"""Human durations: "90s", "2m30s", "1h", "500ms" <-> integer milliseconds.

The one place durations are read: profiles, the config, the command line's
``--for`` and the scripting API's ``duration=`` all come through here.
"""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_ORDER = ["h", "m", "s", "ms"]


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> int:
    """Parse a human duration into whole milliseconds.

    Units h, m, s and ms, largest first, each at most once: "1h", "2m30s",
    "90s", "1.5s", "250ms". Raises DurationError with a message that says
    what is allowed.
    """
    if not isinstance(text, str):
        raise DurationError(f'{text!r} is not a duration; write it as text such as "90s" or "2m30s"')
    s = text.strip().replace(" ", "")
    if not s:
        raise DurationError('empty duration; write e.g. "90s", "2m30s" or "1h"')
    pos = 0
    total = 0.0
    last = -1
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        unit = m.group(2)
        rank = _ORDER.index(unit)
        if rank <= last:
            raise DurationError(f'"{_short(text)}": units must go from largest to smallest, each once')
        last = rank
        total += float(m.group(1)) * _UNIT_MS[unit]
        pos = m.end()
    if pos != len(s) or last < 0:
        raise DurationError(f'"{_short(text)}" is not a duration; write e.g. "90s", "2m30s", "1h" or "500ms"')
    if not total <= MAX_DURATION_MS:  # (also catches an overflow to inf)
        raise DurationError(f'"{_short(text)}" is far too long; no duration here may exceed a year')
    return int(round(total))


def parse_length(value: str | int | float) -> int:
    """A length of time above 0, in whole milliseconds: text ("5m", "90s") as
    :func:`parse_duration` reads it, or a number of seconds (scripts).

    Raises DurationError with a message that says what is allowed."""
    if (
        isinstance(value, bool)
        or not isinstance(value, str | int | float)
        or (not isinstance(value, str) and not math.isfinite(value))
    ):
        raise DurationError(f'{value!r} is not a length of time; give seconds, or text such as "5m"')
    try:
        ms = parse_duration(value) if isinstance(value, str) else int(round(value * 1000))
    except OverflowError:  # absurdly many digits
        raise DurationError(f"{value!r} is too long") from None
    if ms <= 0:
        raise DurationError(f"{value!r} is too short; it must be longer than 0")
    return ms


#: Longer than anything a duration may mean here (sessions stop at 4 h): parsing stops there.
MAX_DURATION_MS = 366 * 24 * 3_600_000


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_duration(ms: int | float) -> str:
    """Format milliseconds as the shortest human duration ("2m30s")."""
    ms = int(round(ms))
    if ms == 0:
        return "0s"
    out = []
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    for unit in ("h", "m", "s"):
        n, ms = divmod(ms, _UNIT_MS[unit])
        if n:
            out.append(f"{n}{unit}")
    if ms:
        out.append(f"{ms}ms")
    return sign + "".join(out)
