"""The user config: one TOML file with the device to use and the user's safety caps.

Where it lives, first match wins: the ``--config FILE`` option, the
``MASSAGER_CTL_CONFIG`` environment variable, ``<app dir>/config.toml`` where the app
dir is ``click.get_app_dir("massager-ctl")`` (``~/.config/massager-ctl`` on Linux).

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
```

A missing file means the defaults. A bad file is a :class:`ConfigError` that lists
every problem. :func:`set_value` and :func:`unset_value` rewrite the file atomically,
keep every other key, and refuse to touch a file that is not valid TOML. Comments in
the file are not kept when it is rewritten.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .core.durations import DurationError, format_duration, parse_duration
from .core.errors import UsageError
from .core.vocabulary import Heat
from .session.limits import HARD_MAX_SESSION_S, SafetyLimits

APP_NAME = "massager-ctl"
ENV_VAR = "MASSAGER_CTL_CONFIG"
CONFIG_FILENAME = "config.toml"


class ConfigError(UsageError):
    """The config file (or a value for it) is wrong. Lists every problem, one per line."""

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        prefix = f"{path}: " if path is not None else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


# -- where ------------------------------------------------------------------


def app_dir() -> Path:
    """The per-user folder of massager-ctl (config file and profiles)."""
    import click

    return Path(click.get_app_dir(APP_NAME))


def default_config_path() -> Path:
    return app_dir() / CONFIG_FILENAME


def config_path(explicit: str | os.PathLike | None = None) -> Path:
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
        }

    def to_dict(self) -> dict:
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
            "explicit": sorted(self.explicit),
        }


def _plain_number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# -- values: check and convert ------------------------------------------------


def show_value(value: object) -> str:
    """A value the way it was written: strings in quotes, TOML booleans, tables by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    return str(value)


def _number(value: object) -> tuple[float | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{show_value(value)} is not a number"
    if not math.isfinite(value):
        return None, f"{show_value(value)} is not a number"
    return float(value), None


def _percent(value: object) -> str | None:
    x, err = _number(value)
    if err:
        return err
    if x < 0:
        return f"{show_value(value)} is below 0"
    if x > 100:
        return f"{show_value(value)} is above 100"
    return None


def _slew(value: object) -> str | None:
    x, err = _number(value)
    if err:
        return err
    if x <= 0:
        return f"{show_value(value)} is too low; it must be above 0 (and at most 100)"
    if x > 100:
        return f"{show_value(value)} is above 100"
    return None


def _heat(value: object) -> str | None:
    if isinstance(value, str) and value in Heat.names():
        return None
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, Heat.names(), n=1)
        if close:
            hint = f'; did you mean "{close[0]}"?'
    return f"{show_value(value)} is not one of {', '.join(Heat.names())}{hint}"


_MAX_DURATION_TEXT = format_duration(HARD_MAX_SESSION_S * 1000)


def _duration(value: object) -> str | None:
    try:
        ms = parse_duration(value)  # type: ignore[arg-type]
    except DurationError as exc:
        return str(exc)
    if ms <= 0:
        return f"{show_value(value)} is too short; it must be longer than 0"
    if ms > HARD_MAX_SESSION_S * 1000:
        return f'{show_value(value)} is above "{_MAX_DURATION_TEXT}"'
    return None


def _device(value: object) -> str | None:
    if not isinstance(value, str):
        return f"{show_value(value)} is not a string; write a device URI in quotes"
    if not value.strip():
        return f"{show_value(value)} is empty; write a device URI"
    return None


def _folder(value: object) -> str | None:
    if not isinstance(value, str):
        return f"{show_value(value)} is not a string; write a folder path in quotes"
    if not value.strip():
        return f"{show_value(value)} is empty; write a folder path"
    return None


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
    )
}

_TABLES = {"caps"}
#: Tables read and checked elsewhere: ``[serve]`` by massager_ctl.service.settings.
OTHER_TABLES = {"serve"}


def unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, list(KEYS), n=1, cutoff=0.6)
    if close:
        return f'{key}: unknown key; did you mean "{close[0]}"?'
    return f"{key}: unknown key; known keys are {', '.join(KEYS)}"


def check_value(key: str, value: object) -> str | None:
    """Problem text (``"caps.max_intensity: 140 is above 100"``) or None if fine."""
    spec = KEYS.get(key)
    if spec is None:
        return unknown_key_message(key)
    err = spec.check(value)
    return f"{key}: {err}" if err else None


def value_from_text(key: str, text: str) -> object:
    """Convert a command-line value for ``key`` and check it. Raises ConfigError."""
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigError([unknown_key_message(key)])
    value = spec.from_text(text)
    err = check_value(key, value)
    if err:
        raise ConfigError([err])
    return value


def _flatten(raw: dict) -> tuple[dict[str, object], list[str]]:
    """Dotted key -> value for the known layout, plus problems for the layout itself."""
    flat: dict[str, object] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key in OTHER_TABLES:
            continue
        if key in _TABLES:
            if not isinstance(value, dict):
                problems.append(
                    f"{key}: {show_value(value)} is not a table; write the {key} under a [{key}] header"
                )
                continue
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value
    return flat, problems


def config_from_raw(raw: dict, path: Path) -> Config:
    """Check a parsed config file and build the Config. Raises ConfigError with every problem."""
    flat, problems = _flatten(raw)
    for key, value in flat.items():
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
    for name in ("max_intensity", "max_speed", "max_airbag", "slew_per_s"):
        if f"caps.{name}" in flat:
            limits = replace(limits, **{name: float(flat[f"caps.{name}"])})  # type: ignore[arg-type]
    if "caps.max_heat" in flat:
        limits = replace(limits, max_heat=Heat(flat["caps.max_heat"]))
    if "caps.max_session" in flat:
        limits = replace(limits, max_session_s=parse_duration(flat["caps.max_session"]) / 1000)
    if "caps.heat_auto_off" in flat:
        limits = replace(limits, heat_auto_off_s=parse_duration(flat["caps.heat_auto_off"]) / 1000)
    return replace(config, limits=limits, explicit=frozenset(flat))


# -- reading and writing ------------------------------------------------------

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def read_raw(path: Path) -> dict | None:
    """The parsed file, or None if there is no file. Raises ConfigError if unreadable or bad TOML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(["cannot read: it is a folder, not a file"], path) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror or exc}"], path) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(["cannot read: not UTF-8 text"], path) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_AT.search(msg)
        if m:
            msg = f"line {m.group(1)}, column {m.group(2)}: {msg[: m.start()]}"
        raise ConfigError([msg], path) from exc


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the user config (``path`` or the env var or the default place); defaults if missing."""
    p = config_path(path)
    raw = read_raw(p)
    if raw is None:
        return Config.defaults(p)
    return config_from_raw(raw, p)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same folder, fsync, os.replace.

    A reader sees either the old file or the new one, never a half-written one.
    The old file's permission bits are kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible everywhere
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _raw_for_update(path: Path) -> dict:
    try:
        raw = read_raw(path)
    except ConfigError as exc:
        raise ConfigError(
            exc.problems + ["not changed; fix the file by hand or remove it first"], path
        ) from exc
    return raw if raw is not None else {}


def _dump(raw: dict) -> str:
    import tomli_w

    return tomli_w.dumps(raw)


def set_value(key: str, text: str, path: str | os.PathLike | None = None) -> object:
    """Set ``key`` (dotted) to the command-line ``text`` and rewrite the file atomically.

    Returns the value as written. Every other key of the file is kept (comments are not).
    Raises ConfigError for an unknown key, a bad value, or a file that is not valid TOML
    (which is then left untouched).
    """
    p = config_path(path)
    value = value_from_text(key, text)
    raw = _raw_for_update(p)
    table, _, sub = key.rpartition(".")
    if table:
        section = raw.get(table)
        if section is None:
            section = raw[table] = {}
        elif not isinstance(section, dict):
            raise ConfigError(
                [f"{table}: {show_value(section)} is not a table; not changed, fix it by hand"], p
            )
        section[sub] = value
    else:
        raw[key] = value
    write_atomic(p, _dump(raw))
    return value


def unset_value(key: str, path: str | os.PathLike | None = None) -> bool:
    """Remove ``key`` from the file (back to its default). Returns False if it was not set.

    Keys that are not known (e.g. a typo in the file) can be removed too.
    """
    p = config_path(path)
    raw = _raw_for_update(p)
    table, _, sub = key.rpartition(".")
    if table:
        section = raw.get(table)
        present = isinstance(section, dict) and sub in section
    else:
        section = raw
        present = key in raw
    if not present:
        if key not in KEYS:
            raise ConfigError([unknown_key_message(key)])
        return False
    del section[sub if table else key]  # type: ignore[index,union-attr]
    if table and not section:
        del raw[table]
    write_atomic(p, _dump(raw))
    return True
