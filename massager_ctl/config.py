"""The user config: one TOML file with the device to use and the user's safety caps.

Where it lives, first match wins: the ``--config FILE`` option, the
``MASSAGER_CTL_CONFIG`` environment variable, ``<app dir>/config.toml`` where the app
dir is click's ``get_app_dir("massager-ctl")`` (``~/.config/massager-ctl`` on Linux).

```toml
device = "sim:"                 # optional device URI
profiles_dir = "~/massage"      # optional; default <app dir>/profiles

[caps]
max_intensity = 60              # 0..100 %
max_speed = 80                  # 0..100 %
max_airbag = 70                 # 0..100 % pressure
max_heat = "low"                # off | low | high
slew_per_s = 20                 # % per second, above 0, at most 100
max_session = "45m"             # duration, at most "4h"
heat_auto_off = "15m"           # duration, at most "4h"

[history]
enabled = true                  # keep a history of sessions (default true)
keep = 1000                     # sessions kept, older ones pruned (default 1000)

[people.anna]                   # a person sharing the chair (--person anna)
max_intensity = 40              # any key of [caps]: only ever tightens [caps]
max_heat = "low"
favourites = ["relaxation", "stress"]
```

A missing file means the defaults. A bad file is a :class:`ConfigError` that lists
every problem. :func:`set_value` and :func:`unset_value` rewrite the file atomically,
keep every other key and the file's comments and layout (tomlkit), and refuse to touch
a file that is not valid TOML.

The config sets the safety caps, so it is guarded like a profile: read with the same
limits (core/toml_text.py: a regular file, a size limit, few dotted key parts, a
byte-order mark allowed), written through a symlink to its target, under a lock on its
folder (concurrent writers lose nothing), into folders made 0700 whatever the umask;
and a warning is logged when other users could change it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from .core.durations import DurationError, format_duration, parse_duration
from .core.errors import UsageError, condensed
from .core.toml_text import (
    TomlTextError,
    decode_text,
    parse_limited,
    printable,
    read_regular_file,
    unsafe_char,
)
from .core.vocabulary import Heat
from .session.limits import HARD_MAX_SESSION_S, SafetyLimits

APP_NAME = "massager-ctl"
#: Sessions the history keeps by default (``history.keep``).
DEFAULT_HISTORY_KEEP = 1000
MAX_HISTORY_KEEP = 1_000_000
ENV_VAR = "MASSAGER_CTL_CONFIG"
CONFIG_FILENAME = "config.toml"


class ConfigError(UsageError):
    """The config file (or a value for it) is wrong. Lists every problem, one per line."""

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        prefix = f"{path}: " if path is not None else ""
        lines = [prefix + p for p in self.problems]
        # a mistake repeated a thousand times is said three times and counted
        super().__init__("\n".join(condensed(lines, list(self.problems), prefix)))


# -- where ------------------------------------------------------------------


def app_dir() -> Path:
    """The per-user folder of massager-ctl (config file and profiles): where click's
    ``get_app_dir`` puts it (tests/test_config.py holds them equal), without importing click
    (`profile list` runs without it)."""
    import sys

    if sys.platform.startswith("win"):
        folder = os.environ.get("APPDATA")
        return Path(os.path.expanduser("~") if folder is None else folder, APP_NAME)
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Application Support"), APP_NAME)
    return Path(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), APP_NAME)


def default_config_path() -> Path:
    return app_dir() / CONFIG_FILENAME


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: ``explicit``, else $MASSAGER_CTL_CONFIG, else the default."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return default_config_path()


# -- the loaded config ------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The effective user config: file values over defaults.

    ``explicit`` holds the dotted keys the file actually sets (for ``config show``).
    """

    device: str | None
    limits: SafetyLimits
    profiles_dir: Path
    path: Path
    explicit: frozenset[str] = field(default=frozenset())
    history_enabled: bool = True
    history_keep: int = DEFAULT_HISTORY_KEEP
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, name: str) -> Person:
        """The person called ``name`` in ``[people]``; a ConfigError (with the names there
        are, and a guess) if there is none."""
        import difflib

        found = self.people.get(name)
        if found is not None:
            return found
        names = sorted(self.people)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        known = f"people in the config: {', '.join(names)}" if names else "the config names no people"
        raise ConfigError([f"no person {name!r} in [people]{hint} ({known}; add [people.{name}])"], self.path)

    def limits_for(self, person: str | None) -> SafetyLimits:
        """The caps for ``person`` (None: the config's): theirs can only tighten [caps]."""
        if person is None:
            return self.limits
        return self.person(person).tighten(self.limits)

    @classmethod
    def defaults(cls, path: Path) -> Config:
        return cls(device=None, limits=SafetyLimits(), profiles_dir=app_dir() / "profiles", path=path)

    def values(self) -> dict[str, object]:
        """Every key with its effective value, as it would be written in the file."""
        lim = self.limits
        return {
            "device": self.device,
            "profiles_dir": str(self.profiles_dir),
            "caps.max_intensity": _plain_number(lim.max_intensity),
            "caps.max_speed": _plain_number(lim.max_speed),
            "caps.max_airbag": _plain_number(lim.max_airbag),
            "caps.max_heat": lim.max_heat.value,
            "caps.slew_per_s": _plain_number(lim.slew_per_s),
            "caps.max_session": format_duration(lim.max_session_s * 1000),
            "caps.heat_auto_off": format_duration(lim.heat_auto_off_s * 1000),
            "history.enabled": self.history_enabled,
            "history.keep": self.history_keep,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the effective config (``config show --json``)."""
        lim = self.limits
        values = self.values()
        return {
            "path": str(self.path),
            "exists": self.path.is_file(),
            "device": self.device,
            "profiles_dir": str(self.profiles_dir),
            "caps": {
                "max_intensity": lim.max_intensity,
                "max_speed": lim.max_speed,
                "max_airbag": lim.max_airbag,
                "max_heat": lim.max_heat.value,
                "slew_per_s": lim.slew_per_s,
                "max_session": values["caps.max_session"],
                "max_session_s": lim.max_session_s,
                "heat_auto_off": values["caps.heat_auto_off"],
                "heat_auto_off_s": lim.heat_auto_off_s,
            },
            "history": {"enabled": self.history_enabled, "keep": self.history_keep},
            "explicit": sorted(self.explicit),
        }


def _plain_number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


@dataclass(frozen=True)
class Person:
    """A person sharing the chair: their own caps (tightening [caps]) and favourite profiles."""

    name: str
    caps: dict[str, object] = field(default_factory=dict)  # "max_intensity" -> 40, as in the file
    favourites: tuple[str, ...] = ()

    def tighten(self, limits: SafetyLimits) -> SafetyLimits:
        out = limits
        # Every cap passed check_value when the file was read: numbers, a heat word, durations.
        for key in ("max_intensity", "max_speed", "max_airbag", "slew_per_s"):
            if key in self.caps:
                out = replace(out, **{key: min(getattr(out, key), float(cast(float, self.caps[key])))})
        if "max_heat" in self.caps:
            heat = Heat(cast(str, self.caps["max_heat"]))
            if heat.rank < out.max_heat.rank:
                out = replace(out, max_heat=heat)
        for key, attr in (("max_session", "max_session_s"), ("heat_auto_off", "heat_auto_off_s")):
            if key in self.caps:
                seconds = parse_duration(cast(str, self.caps[key])) / 1000
                out = replace(out, **{attr: min(getattr(out, attr), seconds)})
        return out

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "caps": dict(self.caps), "favourites": list(self.favourites)}


# -- values: check and convert ------------------------------------------------


def show_value(value: object) -> str:
    """A value the way it was written: strings in quotes, TOML booleans, tables by kind."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 64:  # str() of a huge int is slow or refused
        return "-<a huge number>" if value < 0 else "<a huge number>"
    if isinstance(value, str):  # (direction and zero-width characters escaped too)
        return "".join(
            f"\\u{ord(c):04x}" if unsafe_char(c) else c for c in json.dumps(value, ensure_ascii=False)
        )
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        shown = ", ".join(show_value(v) for v in value[:4]) + (", ..." if len(value) > 4 else "")
        return "[" + shown + "]"
    return str(value)


def _said(value: object) -> str:
    """A value as :func:`show_value` writes it, cut short and safe to print in a message."""
    return printable(show_value(value), 60)


def _number(value: object) -> tuple[float | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{_said(value)} is not a number"
    try:
        x = float(value)
    except OverflowError:  # an integer too large for a float
        return None, f"{_said(value)} is far too large"
    if not math.isfinite(x):
        return None, f"{_said(value)} is not a number"
    return x, None


def _percent(value: object) -> str | None:
    x, err = _number(value)
    if x is None:
        return err
    if x < 0:
        return f"{_said(value)} is below 0"
    if x > 100:
        return f"{_said(value)} is above 100"
    return None


def _slew(value: object) -> str | None:
    x, err = _number(value)
    if x is None:
        return err
    if x <= 0:
        return f"{_said(value)} is too low; it must be above 0 (and at most 100)"
    if x > 100:
        return f"{_said(value)} is above 100"
    return None


def _heat(value: object) -> str | None:
    import difflib

    if isinstance(value, str) and value in Heat.names():
        return None
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, Heat.names(), n=1)
        if close:
            hint = f'; did you mean "{close[0]}"?'
    return f"{_said(value)} is not one of {', '.join(Heat.names())}{hint}"


_MAX_DURATION_TEXT = format_duration(HARD_MAX_SESSION_S * 1000)


def _duration(value: object) -> str | None:
    try:
        ms = parse_duration(value)  # type: ignore[arg-type]  # it refuses non-text itself
    except DurationError as exc:
        return str(exc)
    if ms <= 0:
        return f"{_said(value)} is too short; it must be longer than 0"
    if ms > HARD_MAX_SESSION_S * 1000:
        return f'{_said(value)} is above "{_MAX_DURATION_TEXT}"'
    return None


def _device(value: object) -> str | None:
    if not isinstance(value, str):
        return f"{_said(value)} is not a string; write a device URI in quotes"
    if not value.strip():
        return f"{_said(value)} is empty; write a device URI"
    return None


def _folder(value: object) -> str | None:
    if not isinstance(value, str):
        return f"{_said(value)} is not a string; write a folder path in quotes"
    if not value.strip():
        return f"{_said(value)} is empty; write a folder path"
    return None


def _switch(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    return f"{show_value(value)} is not true or false"


def _count(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{show_value(value)} is not a whole number"
    if not 1 <= value <= MAX_HISTORY_KEEP:
        return f"{show_value(value)} is outside 1..{MAX_HISTORY_KEEP}"
    return None


def _switch_from_text(text: str) -> object:
    words = {
        "true": True,
        "yes": True,
        "on": True,
        "1": True,
        "false": False,
        "no": False,
        "off": False,
        "0": False,
    }
    return words.get(text.strip().lower(), text)


def _number_from_text(text: str) -> object:
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        x = float(t)
    except ValueError:
        return t  # the check reports '"abc" is not a number'
    return x if math.isfinite(x) else t


def _text(text: str) -> object:
    return text


def _folder_from_text(text: str) -> object:
    """A folder given on the command line: relative paths are taken from the current dir."""
    t = text.strip()
    if not t or t.startswith("~") or Path(t).is_absolute():
        return t
    return str(Path(t).resolve())


@dataclass(frozen=True)
class KeySpec:
    key: str  # dotted: "device", "caps.max_intensity"
    check: Callable[[object], str | None]
    from_text: Callable[[str], object]
    help: str


KEYS: dict[str, KeySpec] = {
    spec.key: spec
    for spec in (
        KeySpec("device", _device, _text, "device URI used when --device is not given"),
        KeySpec("profiles_dir", _folder, _folder_from_text, "folder of your own profiles"),
        KeySpec("caps.max_intensity", _percent, _number_from_text, "0..100 %"),
        KeySpec("caps.max_speed", _percent, _number_from_text, "0..100 %"),
        KeySpec("caps.max_airbag", _percent, _number_from_text, "0..100 % pressure"),
        KeySpec("caps.max_heat", _heat, _text, "off | low | high"),
        KeySpec("caps.slew_per_s", _slew, _number_from_text, "% per second, >0, <=100"),
        KeySpec("caps.max_session", _duration, _text, 'duration, at most "4h"'),
        KeySpec("caps.heat_auto_off", _duration, _text, 'duration, at most "4h"'),
        KeySpec("history.enabled", _switch, _switch_from_text, "true | false: keep a history of sessions"),
        KeySpec("history.keep", _count, _number_from_text, f"sessions kept, 1..{MAX_HISTORY_KEEP}"),
    )
}

_TABLES = {"caps", "history"}
#: Tables read and checked elsewhere: ``[serve]`` by massager_ctl.service.settings.
OTHER_TABLES = {"serve"}

#: ``[people.NAME]``: a person's keys are the caps' keys, and their favourite profiles.
PERSON_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _favourites(value: object) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return f'{show_value(value)} is not a list of profile names, e.g. ["relaxation", "stress"]'
    return None


def _favourites_from_text(text: str) -> object:
    return [part.strip() for part in text.split(",") if part.strip()]


PERSON_KEYS: dict[str, KeySpec] = {
    **{name: KEYS[f"caps.{name}"] for name in (k.split(".", 1)[1] for k in KEYS if k.startswith("caps."))},
    "favourites": KeySpec("favourites", _favourites, _favourites_from_text, "profile names, comma separated"),
}


def key_spec(key: str) -> KeySpec | None:
    """The spec of a dotted key: one of :data:`KEYS`, or ``people.NAME.KEY``."""
    spec = KEYS.get(key)
    if spec is not None:
        return spec
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "people" and PERSON_NAME.match(parts[1]):
        return PERSON_KEYS.get(parts[2])
    return None


def unknown_key_message(key: str) -> str:
    import difflib

    parts = key.split(".")
    if len(parts) >= 2 and parts[0] == "people":
        if len(parts) != 3 or not PERSON_NAME.match(parts[1]):
            keys = ", ".join(PERSON_KEYS)
            return f"{key}: write people.NAME.KEY (NAME of letters, digits, - and _; KEY one of {keys})"
        close = difflib.get_close_matches(parts[2][:100], list(PERSON_KEYS), n=1, cutoff=0.6)
        if close:
            return f'{key}: unknown key; did you mean "people.{parts[1]}.{close[0]}"?'
        return f"{key}: unknown key; a person's keys are {', '.join(PERSON_KEYS)}"
    close = difflib.get_close_matches(key[:100], list(KEYS), n=1, cutoff=0.6)
    if close:
        return f'{printable(key)}: unknown key; did you mean "{close[0]}"?'
    return f"{printable(key)}: unknown key; known keys are {', '.join(KEYS)}"


def check_value(key: str, value: object) -> str | None:
    """Problem text (``"caps.max_intensity: 140 is above 100"``) or None if fine."""
    spec = key_spec(key)
    if spec is None:
        return unknown_key_message(key)
    err = spec.check(value)
    return f"{key}: {err}" if err else None


def value_from_text(key: str, text: str) -> object:
    """Convert a command-line value for ``key`` and check it. Raises ConfigError."""
    spec = key_spec(key)
    if spec is None:
        raise ConfigError([unknown_key_message(key)])
    value = spec.from_text(text)
    err = check_value(key, value)
    if err:
        raise ConfigError([err])
    return value


def _flatten(raw: dict[str, Any]) -> tuple[dict[str, object], list[str]]:
    """Dotted key -> value for the known layout, plus problems for the layout itself."""
    flat: dict[str, object] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key == "people":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                problems.append(
                    "people: write each person as a table, e.g. [people.anna] with max_intensity = 40"
                )
                continue
            for name, table in value.items():
                if not table:
                    flat[f"people.{name}"] = {}  # a person with no keys of their own: fine
                for sub, subvalue in table.items():
                    flat[f"people.{name}.{sub}"] = subvalue
            continue
        if key in OTHER_TABLES:
            continue
        if key in _TABLES:
            if not isinstance(value, dict):
                problems.append(
                    f"{key}: {_said(value)} is not a table; write the {key} under a [{key}] header"
                )
                continue
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value
    return flat, problems


def config_from_raw(raw: dict[str, Any], path: Path) -> Config:
    """Check a parsed config file and build the Config. Raises ConfigError with every problem."""
    flat, problems = _flatten(raw)
    for key, value in flat.items():
        if key.startswith("people.") and key.count(".") == 1:
            if not PERSON_NAME.match(key.split(".")[1]):
                problems.append(f"{key}: a person's name is letters, digits, - and _")
            continue
        err = check_value(key, value)
        if err:
            problems.append(err)
    if problems:
        raise ConfigError(problems, path)

    config = Config.defaults(path)
    limits = config.limits
    if "device" in flat:
        config = replace(config, device=str(flat["device"]).strip())
    if "profiles_dir" in flat:
        text = str(flat["profiles_dir"]).strip()
        try:
            folder = Path(text).expanduser()
        except RuntimeError:  # "~name" for a user that does not exist (often a typo of ~/name)
            user = text[1:].split("/", 1)[0]
            raise ConfigError(
                [f'profiles_dir: "{text}": no user "{user}" (did you mean "~/{user}"?)'], path
            ) from None
        if not folder.is_absolute():
            folder = path.parent / folder
        config = replace(config, profiles_dir=folder)
    # Every value passed check_value above: these are numbers, a heat word, duration texts.
    for name in ("max_intensity", "max_speed", "max_airbag", "slew_per_s"):
        if f"caps.{name}" in flat:
            value = float(cast(float, flat[f"caps.{name}"]))
            # name is one of the float fields; mypy cannot see which from a dict.
            limits = replace(limits, **{name: value})  # type: ignore[arg-type]
    if "caps.max_heat" in flat:
        limits = replace(limits, max_heat=Heat(cast(str, flat["caps.max_heat"])))
    if "caps.max_session" in flat:
        limits = replace(limits, max_session_s=parse_duration(cast(str, flat["caps.max_session"])) / 1000)
    if "caps.heat_auto_off" in flat:
        limits = replace(limits, heat_auto_off_s=parse_duration(cast(str, flat["caps.heat_auto_off"])) / 1000)
    if "history.enabled" in flat:
        config = replace(config, history_enabled=bool(flat["history.enabled"]))
    if "history.keep" in flat:
        config = replace(config, history_keep=int(flat["history.keep"]))  # type: ignore[call-overload]
    people: dict[str, Person] = {}
    for name, table in (raw.get("people") or {}).items():
        caps = {k: v for k, v in table.items() if k != "favourites"}
        people[name] = Person(name, caps, tuple(table.get("favourites", ())))
    return replace(
        config, limits=limits, people=people, explicit=frozenset(k for k in flat if k.count(".") < 2)
    )


# -- reading and writing ------------------------------------------------------

#: Largest config file read, in bytes (a real one is a few hundred).
MAX_CONFIG_BYTES = 1_000_000
#: How long `config set` waits for another massager-ctl that is changing the config.
LOCK_WAIT_S = 10.0


def read_raw(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None if there is no file. Raises ConfigError if unreadable or bad TOML.

    The same limits as profiles (core/toml_text.py): a regular file only (a FIFO would
    block, /dev/zero never end), at most MAX_CONFIG_BYTES, UTF-8 with an optional
    byte-order mark, no key of more than a few dotted parts, no deep nesting."""
    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES)
        return parse_limited(decode_text(data), what="the config", max_chars=MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except TomlTextError as exc:
        message = exc.message
        if message.startswith("this key has more than"):
            message += "; a config needs no more than 2"
        raise ConfigError([f"{exc.where}: {message}" if exc.where else message], path) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the user config (``path`` or the env var or the default place); defaults if missing.

    Logs a warning when the config or its folder can be changed by other users (the
    config sets the safety caps)."""
    p = config_path(path)
    raw = read_raw(p)
    warn_if_others_can_write(p)
    if raw is None:
        return Config.defaults(p)
    return config_from_raw(raw, p)


# -- who may change it ------------------------------------------------------------


def _others_can_write(info: os.stat_result) -> str | None:
    """Why users other than this one could change what ``info`` describes; None if none."""
    import stat

    if info.st_mode & stat.S_IWOTH and not (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX):
        return "anyone can write to it"
    if info.st_mode & stat.S_IWOTH:
        return "anyone can add files to it"
    if info.st_mode & stat.S_IWGRP and _group_has_others(info.st_gid):
        return "its group can write to it"
    if hasattr(os, "geteuid") and info.st_uid not in (os.geteuid(), 0):
        return "another user owns it"
    return None


def _group_has_others(gid: int) -> bool:
    """Does group ``gid`` have members other than this user (not a user-private group)?"""
    if not hasattr(os, "getegid"):
        return False
    try:
        import grp
        import pwd

        me = pwd.getpwuid(os.geteuid()).pw_name
        members = set(grp.getgrgid(gid).gr_mem) - {me}
    except (ImportError, KeyError, OSError):
        return gid != os.getegid()
    return bool(members) or gid != os.getegid()


def others_can_write(path: Path) -> list[str]:
    """Warnings when the config (after symlinks), its folder, or the folder of a symlink to
    it could be changed by another local user: they could raise the caps."""
    found = []
    target = Path(os.path.realpath(path))
    places = [(target, "the config file"), (target.parent, "its folder")]
    if target != path and path.is_symlink():
        places.append((path.parent, "the folder of the link to it"))
    for place, what in places:
        try:
            info = place.stat()
        except OSError:
            continue
        why = _others_can_write(info)
        if why:
            found.append(
                f"{path}: {what} ({place}) can be changed by other users: {why}. It sets your "
                f"safety caps; make it yours alone (chmod go-w {place})"
            )
    return found


def warn_if_others_can_write(path: Path) -> None:
    import logging

    for warning in others_can_write(path):
        logging.getLogger(__name__).warning("%s", warning)


# -- writing ----------------------------------------------------------------------------


def _write_target(path: Path) -> Path:
    """Where a write goes: the file a symlink points to (the link itself stays a link)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parent as 0700, whatever the umask.

    (``Path.mkdir(parents=True)`` gives parents the umask's permissions: under umask 000,
    world-writable folders, where another user could replace the config.)"""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, 0o700)
        except FileExistsError:
            continue
        os.chmod(created, 0o700)


class _FolderLock:
    """An exclusive lock on the config's folder for one read-change-write (POSIX flock):
    concurrent `config set`s run one after the other, and no key is lost. Nothing is
    left behind (the folder itself is locked, not a lock file)."""

    def __init__(self, folder: Path, path: Path) -> None:
        self.folder = folder
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> _FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        import time

        fd = os.open(self.folder, os.O_RDONLY)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ConfigError(
                        [f"not changed: another massager-ctl has been changing it for {LOCK_WAIT_S:g} s"],
                        self.path,
                    ) from None
                time.sleep(0.01)
            except OSError:  # a file system without locks: go on unlocked
                break
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # (closing releases the lock)
            self._fd = None


def _cannot_write(exc: OSError, path: Path, where: Path) -> ConfigError:
    reason = exc.strerror or str(exc)
    return ConfigError([f"cannot write: {reason} ({where}); not changed"], path)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same folder, fsync, os.replace.

    A reader sees either the old file or the new one, never a half-written one. A
    symlink is followed: its target is replaced and the link stays. The old file's
    permission bits are kept (a new file is 0600); missing folders are made 0700.
    A failure (a read-only folder, a full disk) is a ConfigError and changes nothing.
    """
    import tempfile

    target = _write_target(path)
    folder = target.parent
    try:
        make_private_folder(folder)
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = None
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _cannot_write(exc, path, folder) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(exc, path, folder) from None
        raise
    try:  # make the rename itself durable; not possible everywhere
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _locked(path: Path) -> _FolderLock:
    target = _write_target(path)
    try:
        make_private_folder(target.parent)
    except OSError as exc:
        raise _cannot_write(exc, path, target.parent) from None
    return _FolderLock(target.parent, path)


def _raw_for_update(path: Path) -> dict[str, Any]:
    try:
        raw = read_raw(path)
    except ConfigError as exc:
        raise ConfigError(
            exc.problems + ["not changed; fix the file by hand or remove it first"], path
        ) from exc
    return raw if raw is not None else {}


def _document(path: Path) -> Any:
    """The file as a tomlkit document (comments and layout kept), once tomllib has read it
    without error (a file that is not valid TOML is refused, untouched)."""
    import tomlkit

    if _raw_for_update(path) == {} and not path.exists():  # read with the reader's limits
        return tomlkit.document()
    # Read again as text for tomlkit: the same guarded read (a regular file, the size
    # limit, an optional byte-order mark), under the caller's lock.
    return tomlkit.parse(decode_text(read_regular_file(path, MAX_CONFIG_BYTES)))


def _table_at(doc: Any, parts: list[str], path: Path, *, create: bool) -> Any:
    """The table holding the last of ``parts`` (made if ``create``), or None if absent."""
    import tomlkit

    container = doc
    for i, part in enumerate(parts[:-1]):
        if part not in container:
            if not create:
                return None
            # [people] only holds [people.NAME] tables: a super table, no header of its own
            container[part] = tomlkit.table(is_super_table=(i == 0 and len(parts) > 2))
        section = container[part]
        if not isinstance(section, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigError(
                [f"{where}: {show_value(section)} is not a table; not changed, fix it by hand"], path
            )
        container = section
    return container


def set_value(key: str, text: str, path: str | os.PathLike[str] | None = None) -> object:
    """Set ``key`` (dotted) to the command-line ``text`` and rewrite the file atomically.

    Returns the value as written. Every other key of the file, its comments and its
    layout are kept (tomlkit edits the document in place). Raises ConfigError for an
    unknown key, a bad value, or a file that is not valid TOML (which is then left
    untouched).
    """
    import tomlkit

    p = config_path(path)
    value = value_from_text(key, text)
    with _locked(p):  # read, change and write as one: concurrent `config set`s lose nothing
        doc = _document(p)
        parts = key.split(".")
        table = _table_at(doc, parts, p, create=True)
        table[parts[-1]] = tomlkit.item(value)
        write_atomic(p, tomlkit.dumps(doc))
    warn_if_others_can_write(p)
    return value


def unset_value(key: str, path: str | os.PathLike[str] | None = None) -> bool:
    """Remove ``key`` from the file (back to its default). Returns False if it was not set.

    Keys that are not known (e.g. a typo in the file) can be removed too. Comments and
    layout are kept; a table left empty is removed.
    """
    import tomlkit

    p = config_path(path)
    if key_spec(key) is None and not p.exists():
        raise ConfigError([unknown_key_message(key)])
    with _locked(p):
        doc = _document(p)
        parts = key.split(".")
        table = _table_at(doc, parts, p, create=False)
        if table is None or parts[-1] not in table:
            if key_spec(key) is None:
                raise ConfigError([unknown_key_message(key)])
            return False
        del table[parts[-1]]
        for depth in range(len(parts) - 1, 0, -1):  # drop tables the removal left empty
            parent = _table_at(doc, parts[:depth], p, create=False)
            name = parts[depth - 1]
            if parent is not None and name in parent and not parent[name]:
                del parent[name]
        write_atomic(p, tomlkit.dumps(doc))
    return True
