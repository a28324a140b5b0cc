"""Profile text (TOML, format 1) -> a checked :class:`Profile`.

Profiles come from anywhere, so nothing in them is trusted: there are no
includes and nothing is executed, the text is size-limited, and the work done
is linear in its length. Repeat blocks are *not* expanded here: their length
and step count are multiplied out and refused when too big, before anything
is built.

Every mistake found is reported, not just the first, each as a
:class:`Problem` saying where it is and what is allowed instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from ..core.toml_text import TomlTextError, decode_text, read_regular_file
from ..core.vocabulary import MAX_PROFILE_MS, MAX_PROFILE_STEPS, Benefit
from ..plan import PlanLimits
from .entries import AIRBAG_KEYS, HEAT_KEYS, ROLLER_KEYS, EntryChecker, TrackResult
from .errors import Problem, ProfileError
from .model import Profile
from .show import is_number, kind, show
from .toml_reader import MAX_PROFILE_CHARS, profile_error, read_toml
from .values import INVALID, MAX_NAME_CHARS, fmt_ms

T = TypeVar("T")

SUPPORTED_FORMAT = 1
TOP_KEYS = (
    "format",
    "name",
    "description",
    "benefit",
    "author",
    "limits",
    "defaults",
    "segment",
    "airbag",
    "heat",
)
LIMIT_KEYS = ("max_intensity", "max_length")
TRACK_WORDS = ("segment", "airbag", "heat")

_MISSING = (
    ("name", 'name is missing; give the profile a name, e.g. name = "Evening unwind"'),
    ("description", "description is missing; say in a sentence what the profile is for"),
    ("benefit", "benefit is missing; write one of " + ", ".join(Benefit.names())),
    ("segment", "segment is missing; a profile needs at least one [[segment]]"),
)


class _DocumentChecker(EntryChecker):
    """Checks a whole parsed document."""

    def check_format(self, doc: dict[str, Any]) -> None:
        fmt = doc.get("format", INVALID)
        if fmt is INVALID:
            self.add("", "format", f"format is missing; start the file with format = {SUPPORTED_FORMAT}")
        elif is_number(fmt) and fmt != SUPPORTED_FORMAT:
            # Written for another version: its other keys would only be noise.
            raise ProfileError(
                [
                    Problem(
                        self.file,
                        "",
                        "format",
                        f"format {show(fmt)} is not supported; this version of massager-ctl reads "
                        f"format = {SUPPORTED_FORMAT} only",
                    )
                ]
            )
        elif not is_number(fmt):
            self.add(
                "",
                "format",
                f"format {show(fmt)} is {kind(fmt)}, not a number; write format = {SUPPORTED_FORMAT}",
            )

    def check_limits(self, value: object) -> PlanLimits:
        if not isinstance(value, dict):
            self.add(
                "",
                "limits",
                f"limits {show(value)} is {kind(value)}, not a table; write a [limits] section",
            )
            return PlanLimits()
        max_intensity = max_length = None
        for key, v in value.items():
            if key == "max_intensity":
                got = self.check_percent("limits", key, v, ramp_ok=False)
                if got is not INVALID:
                    max_intensity = self.max_intensity = got
                    self.max_intensity_text = show(v)
            elif key == "max_length":
                got = self.check_duration("limits", key, v)
                if got is not INVALID:
                    max_length = got
            else:
                self.unknown("limits", key, "a [limits] key", LIMIT_KEYS)
        return PlanLimits(max_intensity=max_intensity, max_length_ms=max_length)

    def check_bounds(
        self, doc: dict[str, Any], tracks: dict[str, TrackResult[Any]], limits: PlanLimits
    ) -> None:
        """4 h, 100 000 steps and [limits].max_length, by arithmetic, never by expanding."""
        if not any(t.too_big_reported for t in tracks.values()):
            for word, track in tracks.items():
                if track.total_ms > MAX_PROFILE_MS:
                    self.add(
                        "",
                        word,
                        f"{word} entries last {fmt_ms(track.total_ms)} in all; a profile may "
                        f"last at most {fmt_ms(MAX_PROFILE_MS)}",
                    )
            steps = sum(t.steps for t in tracks.values())
            if steps > MAX_PROFILE_STEPS:
                words = list(tracks)
                listed = " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
                self.add(
                    "",
                    words[0],
                    f"{listed} entries expand to {steps:,} steps in all; a profile may have at most "
                    f"{MAX_PROFILE_STEPS:,}",
                )
        length_ms = max((t.total_ms for t in tracks.values()), default=0)
        if limits.max_length_ms is not None and length_ms > limits.max_length_ms:
            self.add(
                "limits",
                "max_length",
                f"max_length {show(doc['limits']['max_length'])} is shorter than the profile, "
                f"which lasts {fmt_ms(length_ms)}",
            )

    def check(self, doc: dict[str, Any], path: Path | None) -> Profile:
        self.check_format(doc)
        # [limits] and [defaults] change how segments are checked, so they are
        # checked first; their problems are still listed in file order.
        early: dict[str, list[Problem]] = {}

        def aside(key: str, fn: Callable[[object], T], value: object) -> T:
            start = len(self.problems)
            result = fn(value)
            early[key] = self.problems[start:]
            del self.problems[start:]
            return result

        limits = aside("limits", self.check_limits, doc["limits"]) if "limits" in doc else None
        if "defaults" in doc:
            aside("defaults", self.read_defaults, doc["defaults"])

        entry_checks = {
            "segment": (self.roller_entry, ROLLER_KEYS),
            "airbag": (self.airbag_entry, AIRBAG_KEYS),
            "heat": (self.heat_entry, HEAT_KEYS),
        }
        values: dict[str, object] = {}
        tracks: dict[str, TrackResult[Any]] = {}
        for key, value in doc.items():
            if key == "format":
                continue
            if key in early:
                self.problems.extend(early[key])
            elif key == "name":
                values[key] = self.check_text(
                    "", key, value, nonempty=True, max_chars=MAX_NAME_CHARS, multiline=False
                )
            elif key in ("description", "author"):
                values[key] = self.check_text("", key, value, nonempty=False, max_chars=None, multiline=True)
            elif key == "benefit":
                values[key] = self.check_choice("", key, value, Benefit)
            elif key in entry_checks:
                tracks[key] = self.check_track(key, value, *entry_checks[key])
            else:
                self.unknown("", key, "a top-level key", TOP_KEYS)

        for key, message in _MISSING:
            if key not in doc:
                self.add("", key, message)
        if doc.get("segment") == []:
            self.add("", "segment", "segment is empty; a profile needs at least one [[segment]]")
        tracks = {w: tracks[w] for w in TRACK_WORDS if w in tracks}  # fixed order
        self.check_bounds(doc, tracks, limits or PlanLimits())

        if self.problems:
            raise ProfileError(self.problems)
        # No problems: every key _MISSING names is there, and no value is INVALID.

        def items(word: str) -> tuple[Any, ...]:
            return tuple(tracks[word].items) if word in tracks else ()

        return Profile(
            format=SUPPORTED_FORMAT,
            name=cast(str, values["name"]),
            description=cast(str, values["description"]),
            benefit=cast(Benefit, values["benefit"]),
            author=cast(str, values.get("author", "")),
            limits=limits or PlanLimits(),
            roller=items("segment"),
            airbag=items("airbag"),
            heat=items("heat"),
            path=path,
        )


def _parse(text: str, file: str, path: Path | None) -> Profile:
    if not isinstance(text, str):
        raise TypeError(f"profile text must be str, not {type(text).__name__}")
    doc = read_toml(text, file)
    return _DocumentChecker(file).check(doc, path)


def parse_profile(text: str, file: str = "<profile>") -> Profile:
    """Check profile text and return the Profile; raise ProfileError listing every problem.

    ``file`` is the name used in messages (e.g. ``"relax.toml"``).
    """
    return _parse(text, file, None)


def decode_profile_bytes(data: bytes, file: str) -> str:
    """Bytes -> text: UTF-8, a leading byte-order mark allowed; else ProfileError."""
    if len(data) > 4 * MAX_PROFILE_CHARS:
        raise ProfileError(
            [
                Problem(
                    file,
                    "",
                    None,
                    f"cannot read: the file is {len(data):,} bytes; a profile may be at most "
                    f"{MAX_PROFILE_CHARS:,} characters",
                )
            ]
        )
    try:
        return decode_text(data)
    except TomlTextError as exc:
        raise profile_error(file, exc) from None


def parse_profile_bytes(data: bytes, file: str = "<profile>") -> Profile:
    """Like parse_profile, for the raw bytes of a file."""
    return _parse(decode_profile_bytes(data, file), file, None)


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and check the profile file at ``path``. Every failure is a ProfileError."""
    p = Path(path)
    file = p.name or os.fspath(path)
    try:
        # A regular file only (a FIFO would block for ever, /dev/zero never end), size-limited.
        data = read_regular_file(p, 4 * MAX_PROFILE_CHARS)
    except FileNotFoundError as exc:
        raise ProfileError([Problem(file, "", None, f"cannot read: {exc.strerror or exc}")]) from None
    except TomlTextError as exc:
        raise profile_error(file, exc) from None
    return _parse(decode_profile_bytes(data, file), file, p)
