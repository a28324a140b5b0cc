"""Checking the tracks of a profile: entries, repeat blocks, [defaults].

Each track (``[[segment]]``, ``[[airbag]]``, ``[[heat]]``) is a list of
entries and repeat blocks. Blocks are checked without being expanded: their
length and step count are worked out by multiplication.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeAlias, cast

from ..core.vocabulary import MAX_PROFILE_MS, MAX_PROFILE_STEPS, Heat, Technique, Width, Zone
from ..plan import Level
from .model import AirbagEntry, E, HeatEntry, RepeatBlock, RollerEntry
from .show import kind, show
from .values import (
    INVALID,
    PERCENT,
    REPEAT_MAX,
    REPEAT_MIN,
    Invalid,
    ValueChecker,
    fmt_ms,
    where_with_name,
)

ROLLER_KEYS = ("name", "duration", "technique", "zones", "intensity", "speed", "width", "rest")
ROLLER_ONLY_KEYS = ("technique", "zones", "intensity", "speed", "width")
DEFAULT_KEYS = ROLLER_ONLY_KEYS
AIRBAG_KEYS = ("name", "duration", "zones", "pressure")
HEAT_KEYS = ("name", "duration", "level")
BLOCK_KEYS = ("name", "repeat", "steps")
DEFAULT_SPEED = 50.0

_NEEDED = (
    ("technique", ": " + ", ".join(Technique.names())),
    ("zones", ', e.g. zones = ["upper_back"]'),
    ("intensity", f" ({PERCENT} or a ramp)"),
)

#: Checks one entry (where, its table, in a block?) -> (duration ms, entry); INVALID where wrong.
Entry: TypeAlias = Callable[[str, dict[str, object], bool], tuple[int | Invalid, E | Invalid]]


@dataclass
class TrackResult(Generic[E]):
    """A checked track: its items (INVALID where wrong) and totals of what was valid."""

    items: list[E | RepeatBlock[E] | Invalid] = field(default_factory=list)
    total_ms: int = 0  # sum of the valid durations (a lower bound if some were wrong)
    steps: int = 0  # steps after expansion
    too_big_reported: bool = False  # an entry or block was already refused for size


class EntryChecker(ValueChecker):
    """Checks track entries; knows the [defaults] for roller segments."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.defaults: dict[str, object] = {}  # valid default values
        self.defaults_given: set[str] = set()  # keys [defaults] sets, valid or not

    # -- [defaults] -------------------------------------------------------------

    def read_defaults(self, value: object) -> None:
        if not isinstance(value, dict):
            self.add(
                "",
                "defaults",
                f"defaults {show(value)} is {kind(value)}, not a table; write a [defaults] section",
            )
            return
        for key, v in value.items():
            if key not in DEFAULT_KEYS:
                self.unknown("defaults", key, "a [defaults] key", DEFAULT_KEYS)
                continue
            self.defaults_given.add(key)
            got = self._roller_value("defaults", key, v)
            if got is not INVALID:
                self.defaults[key] = got

    def _roller_value(
        self, where: str, key: str, v: object
    ) -> Technique | frozenset[Zone] | Level | Width | Invalid:
        if key == "technique":
            return self.check_choice(where, key, v, Technique)
        if key == "zones":
            return self.check_zones(where, key, v, allow_empty=False)
        if key == "intensity":
            return self.check_level(where, key, v, cap=True)
        if key == "speed":
            return self.check_level(where, key, v)
        return self.check_choice(where, key, v, Width)

    def _nested(self, where: str, d: dict[str, object]) -> bool:
        """Report repeat/steps in a block step; True if there were any.

        Such a step was meant as a block, so its missing keys are not reported.
        """
        found = False
        for key in d:
            if key in ("repeat", "steps"):
                self.add(where, key, f"{key} is not allowed in a block step; blocks do not nest")
                found = True
        return found

    # -- entries ----------------------------------------------------------------

    def roller_entry(
        self, where: str, d: dict[str, object], in_block: bool
    ) -> tuple[int | Invalid, RollerEntry | Invalid]:
        """One [[segment]] or block step -> (duration ms, RollerEntry); INVALID where wrong."""
        nested = in_block and self._nested(where, d)
        ok = True
        rest: bool | None = False
        if "rest" in d:
            given = d["rest"]
            if isinstance(given, bool):
                rest = given
            else:
                self.add(where, "rest", f"rest {show(given)} is {kind(given)}, not true or false")
                rest, ok = None, False
        values: dict[str, object] = {}  # key -> what its checker returned
        duration: int | Invalid = INVALID
        for key, v in d.items():
            if key == "duration":
                duration = self.check_duration(where, key, v)
            elif key in ROLLER_ONLY_KEYS:
                if rest:
                    self.add(
                        where,
                        key,
                        f"{key} is not allowed with rest = true; a rest keeps the rollers still",
                    )
                    ok = False
                else:
                    values[key] = self._roller_value(where, key, v)
                    ok = ok and values[key] is not INVALID
            elif key == "name":
                values[key] = self.check_name(where, v)
                ok = ok and values[key] is not INVALID
            elif key == "rest":
                continue
            elif in_block and key in BLOCK_KEYS:
                continue  # reported by _nested
            else:
                self.unknown(where, key, "a segment key", ROLLER_KEYS)
                ok = False
        if nested:  # meant as a block: its missing keys would only be noise
            return duration, INVALID
        if "duration" not in d:
            self.add(where, "duration", 'duration is missing; write e.g. duration = "2m"')
        if rest is None:  # unclear whether it was meant as a rest: no "missing" noise
            return duration, INVALID
        if not rest:
            for key, example in _NEEDED:
                if key not in d and key not in self.defaults_given:
                    self.add(where, key, f"{key} is missing; set it here or in [defaults]{example}")
                    ok = False
            for key in DEFAULT_KEYS if self.defaults_given else ():
                if key not in values:
                    if key in self.defaults:
                        values[key] = self.defaults[key]
                    elif key in self.defaults_given:
                        ok = False  # the default itself was wrong, and reported there
        if not ok or duration is INVALID:
            return duration, INVALID
        # ok: every value is what its key's checker returns, none INVALID.
        if rest:
            return duration, RollerEntry(where, cast(str, values.get("name", "rest")), duration)
        technique = cast(Technique, values["technique"])
        return duration, RollerEntry(
            where=where,
            name=cast(str, values.get("name", technique.value)),
            duration_ms=duration,
            technique=technique,
            zones=cast("frozenset[Zone]", values["zones"]),
            intensity=cast(Level, values["intensity"]),
            speed=cast("Level | None", values.get("speed")) or Level.constant(DEFAULT_SPEED),
            width=cast(Width, values.get("width", Width.MEDIUM)),
        )

    def airbag_entry(
        self, where: str, d: dict[str, object], in_block: bool
    ) -> tuple[int | Invalid, AirbagEntry | Invalid]:
        """One [[airbag]] or block step -> (duration ms, AirbagEntry); INVALID where wrong."""
        nested = in_block and self._nested(where, d)
        ok = True
        duration: int | Invalid = INVALID
        name: str | Invalid = "airbags"
        zones: frozenset[Zone] | Invalid = frozenset()
        pressure: Level | Invalid | None = None
        for key, v in d.items():
            if key == "duration":
                duration = self.check_duration(where, key, v)
            elif key == "zones":
                zones = self.check_zones(where, key, v, allow_empty=True)
            elif key == "pressure":
                pressure = self.check_level(where, key, v)
            elif key == "name":
                name = self.check_name(where, v)
            elif in_block and key in BLOCK_KEYS:
                continue  # reported by _nested
            else:
                self.unknown(where, key, "an airbag key", AIRBAG_KEYS)
                ok = False
        if nested:  # meant as a block: its missing keys would only be noise
            return duration, INVALID
        if "duration" not in d:
            self.add(where, "duration", 'duration is missing; write e.g. duration = "1m"')
        if zones is not INVALID and zones and "pressure" not in d:
            self.add(
                where,
                "pressure",
                f"pressure is missing; listed zones need a pressure ({PERCENT} or a ramp)",
            )
            ok = False
        if zones is not INVALID and not zones and "pressure" in d:
            self.add(
                where,
                "pressure",
                "pressure is set but no zones are listed; list the zones to inflate, "
                "or leave pressure out to vent",
            )
            ok = False
        if not ok or duration is INVALID or name is INVALID or zones is INVALID or pressure is INVALID:
            return duration, INVALID
        return duration, AirbagEntry(where, name, duration, zones, pressure or Level.constant(0.0))

    def heat_entry(
        self, where: str, d: dict[str, object], in_block: bool
    ) -> tuple[int | Invalid, HeatEntry | Invalid]:
        """One [[heat]] or block step -> (duration ms, HeatEntry); INVALID where wrong."""
        nested = in_block and self._nested(where, d)
        ok = True
        duration: int | Invalid = INVALID
        name: str | Invalid | None = None
        level: Heat | Invalid = INVALID
        for key, v in d.items():
            if key == "duration":
                duration = self.check_duration(where, key, v)
            elif key == "level":
                level = self.check_choice(where, key, v, Heat)
            elif key == "name":
                name = self.check_name(where, v)
            elif in_block and key in BLOCK_KEYS:
                continue  # reported by _nested
            else:
                self.unknown(where, key, "a heat key", HEAT_KEYS)
                ok = False
        if nested:  # meant as a block: its missing keys would only be noise
            return duration, INVALID
        if "duration" not in d:
            self.add(where, "duration", 'duration is missing; write e.g. duration = "5m"')
        if "level" not in d:
            self.add(where, "level", 'level is missing; write level = "off", "low" or "high"')
        if not ok or duration is INVALID or name is INVALID or level is INVALID:
            return duration, INVALID
        return duration, HeatEntry(where, name or f"heat {level.value}", duration, level)

    # -- tracks and blocks ------------------------------------------------------

    def check_track(self, word: str, value: object, entry: Entry[E], keys: tuple[str, ...]) -> TrackResult[E]:
        """A whole track: ``word`` is its TOML name (segment, airbag, heat)."""
        result: TrackResult[E] = TrackResult()
        if isinstance(value, dict):
            self.add(
                "",
                word,
                f"{word} is a single table, not a list of tables; write [[{word}]] with two brackets",
            )
            return result
        if not isinstance(value, list):
            self.add(
                "",
                word,
                f"{word} {show(value)} is {kind(value)}, not a list of tables; write each "
                f"entry as [[{word}]]",
            )
            return result
        for index, d in enumerate(value, 1):
            where = f"{word} {index}"
            if not isinstance(d, dict):
                self.add(where, None, f"{show(d)} is {kind(d)}, not a table; write it as [[{word}]]")
                result.items.append(INVALID)
                continue
            where = where_with_name(where, d)
            item: E | RepeatBlock[E] | Invalid
            ms: int | Invalid
            if "repeat" in d or "steps" in d:
                item, ms, count, too_big = self.check_block(word, where, d, entry, keys)
                result.too_big_reported |= too_big
            else:
                ms, item = entry(where, d, False)
                count = 1
            result.items.append(item)
            if ms is not INVALID:
                result.total_ms += ms
            result.steps += count
        return result

    def check_block(
        self, word: str, where: str, d: dict[str, object], entry: Entry[E], keys: tuple[str, ...]
    ) -> tuple[RepeatBlock[E] | Invalid, int, int, bool]:
        """A repeat block -> (RepeatBlock or INVALID, total ms, step count, refused for size)."""
        ok = True
        name: str | Invalid | None = None
        repeat: int | Invalid = INVALID
        steps: list[E | Invalid] = []
        pass_ms = 0
        for key, v in d.items():
            if key == "repeat":
                repeat = self.check_repeat(where, v)
            elif key == "steps":
                steps, pass_ms = self._block_steps(word, where, v, entry)
            elif key == "name":
                name = self.check_name(where, v)
            elif key in keys:
                self.add(
                    where,
                    key,
                    f"{key} is not allowed in a repeat block; set it in the block's steps",
                )
                ok = False
            else:
                self.unknown(where, key, "a repeat block key", BLOCK_KEYS, BLOCK_KEYS + keys)
                ok = False
        if "repeat" not in d:
            self.add(
                where,
                "repeat",
                f"repeat is missing; a block with steps needs repeat = {REPEAT_MIN}..{REPEAT_MAX}",
            )
        if "steps" not in d:
            self.add(where, "steps", f"steps is missing; a repeat block needs [[{word}.steps]] entries")
        times = 1 if repeat is INVALID else repeat
        total_ms = times * pass_ms
        count = times * max(len(steps), 1)
        too_big = False
        if repeat is not INVALID and total_ms > MAX_PROFILE_MS:
            self.add(
                where,
                "repeat",
                f"repeat {repeat} of a {fmt_ms(pass_ms)} pass lasts {fmt_ms(total_ms)}; a "
                f"profile may last at most {fmt_ms(MAX_PROFILE_MS)}",
            )
            too_big = True
        if repeat is not INVALID and count > MAX_PROFILE_STEPS:
            self.add(
                where,
                "repeat",
                f"repeat {repeat} of {len(steps)} steps makes {count:,} steps; a profile may "
                f"have at most {MAX_PROFILE_STEPS:,}",
            )
            too_big = True
        if not ok or not steps or repeat is INVALID or name is INVALID:
            return INVALID, total_ms, count, too_big
        valid = [s for s in steps if s is not INVALID]
        if len(valid) < len(steps):
            return INVALID, total_ms, count, too_big
        return RepeatBlock(where, name, repeat, tuple(valid)), total_ms, count, too_big

    def _block_steps(
        self, word: str, where: str, value: object, entry: Entry[E]
    ) -> tuple[list[E | Invalid], int]:
        """A block's steps -> (entries, INVALID where wrong; ms of one pass)."""
        if isinstance(value, dict):
            self.add(
                where,
                "steps",
                f"steps is a single table, not a list of tables; write [[{word}.steps]] with two brackets",
            )
            return [INVALID], 0
        if not isinstance(value, list):
            self.add(
                where,
                "steps",
                f"steps {show(value)} is {kind(value)}, not a list of tables; write each step "
                f"as [[{word}.steps]]",
            )
            return [INVALID], 0
        if not value:
            self.add(where, "steps", f"steps is empty; a repeat block needs at least one [[{word}.steps]]")
            return [INVALID], 0
        out: list[E | Invalid] = []
        pass_ms = 0
        for index, d in enumerate(value, 1):
            step_where = f"{where} step {index}"
            if not isinstance(d, dict):
                self.add(
                    step_where,
                    None,
                    f"{show(d)} is {kind(d)}, not a table; write it as [[{word}.steps]]",
                )
                out.append(INVALID)
                continue
            ms, item = entry(where_with_name(step_where, d), d, True)
            if ms is not INVALID:
                pass_ms += ms
            out.append(item)
        return out, pass_ms
