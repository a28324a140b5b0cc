"""Checking single profile values: numbers, ramps, durations, names, choices, zones.

A :class:`ValueChecker` collects problems instead of raising, so a whole file
can be checked in one pass. Each ``check_*`` method returns the converted
value, or :data:`INVALID` after recording what was wrong with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import Enum
from typing import Final, TypeVar, cast

from ..core.durations import DurationError, format_duration, parse_duration
from ..core.vocabulary import MAX_PROFILE_MS, PERCENT_MAX, PERCENT_MIN, Curve, Zone
from ..plan import Level
from .errors import Problem
from .show import (
    close_match,
    did_you_mean,
    direction_control,
    has_control,
    has_visible,
    is_number,
    kind,
    quote,
    show,
    show_key,
)


class Invalid(Enum):
    """The type of :data:`INVALID`: one member, so ``x is INVALID`` narrows ``x`` for a type checker."""

    INVALID = "INVALID"


#: Stands for a value that was wrong (and has been reported).
INVALID: Final = Invalid.INVALID

E = TypeVar("E", bound=Enum)

MAX_NAME_CHARS = 80
REPEAT_MIN = 1
REPEAT_MAX = 1000
RAMP_KEYS = ("from", "to", "curve")
PERCENT = f"{PERCENT_MIN}..{PERCENT_MAX}"
RAMP_EXAMPLE = "{ from = 10, to = 40 }"

_LOOKUP: dict[type[Enum], dict[str, Enum]] = {}
_NAMES: dict[type[Enum], list[str]] = {}
_ZONE_NAMES = [z.value for z in Zone]
_ZONE_BY_NAME = {z.value: z for z in Zone}


def _lookup(enum: type[E]) -> dict[str, E]:
    table = _LOOKUP.get(enum)
    if table is None:
        table = _LOOKUP[enum] = {m.value: m for m in enum}
        _NAMES[enum] = list(table)
    # The cache is keyed by the enum class, so this table holds members of ``enum`` only.
    return cast("dict[str, E]", table)


def fmt_ms(ms: int) -> str:
    return format_duration(ms)


class ValueChecker:
    """Checks values and collects the problems of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.max_intensity: float | None = None  # from [limits], once checked
        self.max_intensity_text = ""
        self._durations: dict[str, int | None] = {}
        self._levels: dict[float, Level] = {}
        self._zone_sets: dict[tuple[object, ...], frozenset[Zone]] = {}

    def add(self, where: str, key: str | None, message: str) -> Invalid:
        self.problems.append(Problem(self.file, where, key, message))
        return INVALID

    def unknown(
        self,
        where: str,
        key: str,
        noun: str,
        allowed: Iterable[str],
        hint_from: Iterable[str] | None = None,
        prefix: str = "",
    ) -> None:
        """Report ``prefix + key`` as not allowed here, with a did-you-mean when one is close."""
        shown = show_key(prefix + key)
        match = close_match(key, hint_from or allowed)
        if match:
            self.add(where, prefix + key, f'{shown} is not {noun}; did you mean "{match}"?')
        else:
            self.add(where, prefix + key, f"{shown} is not {noun}; use {', '.join(allowed)}")

    # -- text -----------------------------------------------------------------

    def check_text(
        self,
        where: str,
        key: str,
        value: object,
        *,
        nonempty: bool,
        max_chars: int | None,
        multiline: bool,
    ) -> str | Invalid:
        if not isinstance(value, str):
            return self.add(where, key, f"{key} {show(value)} is {kind(value)}, not text")
        if nonempty and not value.strip():
            return self.add(where, key, f"{key} is empty; write some text in quotes")
        if max_chars is not None and len(value) > max_chars:
            return self.add(
                where,
                key,
                f"{key} is {len(value)} characters long; at most {max_chars} are allowed",
            )
        if has_control(value, multiline):
            return self.add(where, key, f"{key} {show(value)} holds a control character; remove it")
        bidi = direction_control(value)
        if bidi is not None:
            return self.add(
                where,
                key,
                f"{key} {show(value)} holds a character that changes the text's direction ({bidi}); "
                "remove it",
            )
        if nonempty and not has_visible(value):
            return self.add(
                where, key, f"{key} {show(value)} shows nothing (only invisible characters); write some text"
            )
        return value

    def check_name(self, where: str, value: object) -> str | Invalid:
        return self.check_text(where, "name", value, nonempty=True, max_chars=MAX_NAME_CHARS, multiline=False)

    # -- numbers and ramps ------------------------------------------------------

    def check_percent(self, where: str, key: str, value: object, *, ramp_ok: bool) -> float | Invalid:
        """A number 0..100 -> float. bool, nan and inf are refused."""
        if not is_number(value):
            return self._not_a_percent(where, key, value, ramp_ok=ramp_ok)
        if value != value:  # nan
            return self.add(where, key, f"{key} nan is not a number; write {PERCENT}")
        if value < PERCENT_MIN:
            return self.add(where, key, f"{key} {show(value)} is below {PERCENT_MIN}")
        if value > PERCENT_MAX:
            return self.add(where, key, f"{key} {show(value)} is above {PERCENT_MAX}")
        return float(value)

    def _not_a_percent(self, where: str, key: str, value: object, *, ramp_ok: bool) -> Invalid:
        also = f" or a ramp such as {RAMP_EXAMPLE}" if ramp_ok else ""
        return self.add(
            where,
            key,
            f"{key} {show(value)} is {kind(value)}, not a number; write {PERCENT}{also}",
        )

    def _capped(self, where: str, key: str, value: object, cap: bool) -> float | Invalid:
        """A number 0..100 that must also respect [limits].max_intensity when ``cap``."""
        got = self.check_percent(where, key, value, ramp_ok=False)
        if cap and got is not INVALID and self.max_intensity is not None:
            if got > self.max_intensity:
                return self.add(
                    where,
                    key,
                    f"{key} {show(value)} is above limits.max_intensity {self.max_intensity_text}",
                )
        return got

    def check_level(self, where: str, key: str, value: object, *, cap: bool = False) -> Level | Invalid:
        """A number 0..100 or a ramp table { from, to, curve } -> Level."""
        if not isinstance(value, dict):
            if not is_number(value):
                return self._not_a_percent(where, key, value, ramp_ok=True)
            got = self._capped(where, key, value, cap)
            if got is INVALID:
                return got
            level = self._levels.get(got)
            if level is None:
                level = self._levels[got] = Level.constant(got)
            return level
        ok = True
        for k in value:
            if k not in RAMP_KEYS:
                self.unknown(where, k, "a ramp key", RAMP_KEYS, prefix=f"{key}.")
                ok = False
        ends: list[float | Invalid] = []
        for end in ("from", "to"):
            dotted = f"{key}.{end}"
            if end not in value:
                self.add(
                    where,
                    dotted,
                    f"{dotted} is missing; a ramp needs from and to, e.g. {key} = {RAMP_EXAMPLE}",
                )
                ok = False
                continue
            got = self._capped(where, dotted, value[end], cap)
            ok = ok and got is not INVALID
            ends.append(got)
        curve: Curve | Invalid = Curve.LINEAR
        if "curve" in value:
            curve = self.check_choice(where, f"{key}.curve", value["curve"], Curve)
            ok = ok and curve is not INVALID
        if not ok:
            return INVALID
        start, stop = ends
        if start is INVALID or stop is INVALID or curve is INVALID:
            return INVALID  # not reached when ok; it tells the type checker so
        return Level(start, stop, curve)

    def check_repeat(self, where: str, value: object) -> int | Invalid:
        """A whole number 1..1000 (2.0 is taken as 2)."""
        what = f"a block repeats {REPEAT_MIN}..{REPEAT_MAX} times"
        if not is_number(value):
            return self.add(where, "repeat", f"repeat {show(value)} is {kind(value)}, not a number; {what}")
        if isinstance(value, float) and not value.is_integer():
            return self.add(where, "repeat", f"repeat {show(value)} is not a whole number; {what}")
        if value < REPEAT_MIN:
            return self.add(where, "repeat", f"repeat {show(value)} is below {REPEAT_MIN}; {what}")
        if value > REPEAT_MAX:
            return self.add(where, "repeat", f"repeat {show(value)} is above {REPEAT_MAX}; {what}")
        return int(value)

    # -- words ------------------------------------------------------------------

    def check_choice(self, where: str, key: str, value: object, enum: type[E]) -> E | Invalid:
        """One of an enum's words -> the member."""
        table = _lookup(enum)
        if isinstance(value, str):
            member = table.get(value)
            if member is not None:
                return member
        names = _NAMES[enum]
        if not isinstance(value, str):
            return self.add(
                where,
                key,
                f"{key} {show(value)} is {kind(value)}, not text; write one of {', '.join(names)}",
            )
        return self.add(
            where,
            key,
            f"{key} {show(value)} is not one of {', '.join(names)}{did_you_mean(value, names)}",
        )

    def check_zones(
        self, where: str, key: str, value: object, *, allow_empty: bool
    ) -> frozenset[Zone] | Invalid:
        """A list of zone names, no duplicates -> frozenset[Zone]."""
        if isinstance(value, list):
            try:
                cached = self._zone_sets.get(tuple(value))
            except TypeError:  # unhashable items: a list or table inside
                cached = None
            if cached is not None:
                return cached
        else:
            example = f"[{show(value)}]" if isinstance(value, str) else '["upper_back"]'
            return self.add(
                where,
                key,
                f"{key} {show(value)} is {kind(value)}, not a list; write {key} = {example}",
            )
        if not value and not allow_empty:
            return self.add(where, key, f"{key} is empty; list at least one of {', '.join(_ZONE_NAMES)}")
        out: list[Zone] = []
        ok = True
        for item in value:
            zone = _ZONE_BY_NAME.get(item) if isinstance(item, str) else None
            if zone is None:
                ok = False
                if not isinstance(item, str):
                    self.add(where, key, f"{key} {show(item)} is {kind(item)}, not a zone name")
                    continue
                close = close_match(item, _ZONE_NAMES)
                if close:
                    self.add(where, key, f'{key} {show(item)} is not a zone; did you mean "{close}"?')
                else:
                    self.add(
                        where,
                        key,
                        f"{key} {show(item)} is not a zone; use {', '.join(_ZONE_NAMES)}",
                    )
            elif zone in out:
                ok = False
                self.add(where, key, f"{key} {show(item)} is listed twice")
            else:
                out.append(zone)
        if not ok:
            return INVALID
        zones = frozenset(out)
        if len(self._zone_sets) < 1000:
            self._zone_sets[tuple(value)] = zones
        return zones

    # -- durations --------------------------------------------------------------

    def check_duration(self, where: str, key: str, value: object) -> int | Invalid:
        """A duration text ("90s", "2m30s") -> ms, at least 1 ms and at most 4 h."""
        if not isinstance(value, str):
            if is_number(value) and math.isfinite(value) and value > 0:
                suggestion = f'e.g. "{show(value)}s"'
            else:
                suggestion = 'e.g. "90s" or "2m30s"'
            return self.add(
                where,
                key,
                f"{key} {show(value)} is {kind(value)}, not a duration; write it as text with a "
                f"unit, {suggestion}",
            )
        ms = self._durations.get(value, INVALID)
        if ms is INVALID:
            ms = self._parse_duration(value)
            if len(self._durations) < 10_000:
                self._durations[value] = ms
        if ms is None:
            return self.add(
                where,
                key,
                f'{key} {show(value)} is not a duration; write e.g. "90s", "2m30s", "1h" or "500ms"',
            )
        if ms < 0:
            return self.add(
                where,
                key,
                f"{key} {show(value)} is not a duration; units go from largest to smallest "
                "(h, m, s, ms), each once",
            )
        if ms == 0:
            return self.add(where, key, f"{key} {show(value)} is too short; the least is 1ms")
        if ms > MAX_PROFILE_MS:
            return self.add(
                where,
                key,
                f"{key} {show(value)} is longer than {fmt_ms(MAX_PROFILE_MS)}, the most a profile may last",
            )
        return ms

    @staticmethod
    def _parse_duration(text: str) -> int | None:
        """ms; None if not a duration, -1 if its units are out of order."""
        if len(text) > 100:  # no real duration is this long
            return None
        try:
            return parse_duration(text)
        except DurationError as exc:
            return -1 if "largest" in str(exc) else None
        except (OverflowError, ValueError):  # absurdly many digits
            return MAX_PROFILE_MS + 1


def where_with_name(base: str, table: dict[str, object]) -> str:
    """'segment 3' -> 'segment 3 "shoulder work"' when the table has a text name."""
    name = table.get("name")
    return f"{base} {quote(name, MAX_NAME_CHARS)}" if isinstance(name, str) else base
