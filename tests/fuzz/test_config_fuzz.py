"""The config loader fed generated and damaged files: a Config, or a ConfigError that says where.

``load_config(path)`` must either load the file or raise :class:`ConfigError` (a
UsageError: exit code 2, one clear line per problem) in which every problem starts with
the file's path and then says where: ``line N, column M`` for TOML syntax, the dotted key
(or table) for a bad value or an unknown key, or ``cannot read`` for bytes that are not
text. Never another exception, never a traceback.

Documents are generated (known keys, near misses, nested tables, every TOML value type,
edge values) and then damaged byte by byte (seeded). tests/test_profile_fuzz.py does the
same for profiles.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import tomllib

import pytest
import tomli_w

from massager_ctl.config import KEYS, ConfigError, load_config
from massager_ctl.core.errors import UsageError

GENERATED = 2_500
DAMAGED = 6_000

TOP_KEYS = ["device", "profiles_dir"]
CAP_KEYS = [k.split(".", 1)[1] for k in KEYS if k.startswith("caps.")]
NEAR_MISSES = [
    "devise",
    "profile_dir",
    "cap",
    "max_intensty",
    "max-intensity",
    "MAX_HEAT",
    "slew",
    "heat_autooff",
    "max_sesion",
    "caps ",
    "",
    " ",
    "é",
    "a.b",
]

TEXTS = [
    "",
    " ",
    "sim:",
    "sim:sim-chair",
    "serial:/dev/ttyUSB0",
    "low",
    "high",
    "off",
    "warm",
    "Low",
    "5m",
    "90s",
    "2m30s",
    "4h",
    "4h1s",
    "0s",
    "-3s",
    "1e3m",
    "∞",
    "5m5m",
    "500ms",
    "99999999999h",
    "~/massage",
    "relative/folder",
    "/abs/folder",
    "\x00",
    "a\nb",
    "\t",
    "ü" * 40,
    "x" * 500,
]
NUMBERS = [
    0,
    1,
    50,
    99.9,
    100,
    100.0001,
    101,
    -1,
    -0.0,
    1e308,
    -1e308,
    2**63 - 1,
    -(2**63),
    math.inf,
    -math.inf,
    math.nan,
    0.5,
    1e-300,
]


def value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 0:
        return rng.choice(TEXTS)
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind == 2:
        return rng.randint(-1000, 1000)
    if kind == 3:
        return rng.uniform(-200, 200)
    if kind == 4:
        return rng.random() < 0.5
    if kind == 5:
        return rng.choice(
            [dt.date(2024, 2, 29), dt.time(12, 30), dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)]
        )
    if kind == 6:
        return "".join(rng.choice("abc 5msh.:/~-_é\\\"'") for _ in range(rng.randint(0, 12)))
    if kind == 7:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(CAP_KEYS + NEAR_MISSES): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def good_value(key: str, rng: random.Random):
    """A value the loader must accept (so generated files are often valid)."""
    if key in ("max_intensity", "max_speed", "max_airbag"):
        return rng.choice([0, 100, rng.randint(0, 100), round(rng.uniform(0, 100), 2)])
    if key == "slew_per_s":
        return rng.choice([100, rng.randint(1, 100), round(rng.uniform(0.1, 100), 2)])
    if key == "max_heat":
        return rng.choice(["off", "low", "high"])
    if key in ("max_session", "heat_auto_off"):
        return rng.choice(["1s", "5m", "2m30s", "4h", "90s", "1h30m"])
    if key == "device":
        return rng.choice(["sim:", "sim:sim-chair", "serial:/dev/ttyUSB0"])
    return rng.choice(["~/massage", "profiles", "/tmp/massage"])


def document(rng: random.Random) -> dict:
    """Known keys, mostly with good values; now and then a bad value, a near miss, a
    wrong shape (so about half the files are valid)."""
    bad = 0.12

    def pick(key):
        return value(rng) if rng.random() < bad else good_value(key, rng)

    doc: dict = {k: pick(k) for k in TOP_KEYS if rng.random() < 0.5}
    if rng.random() < 0.8:
        caps = {k: pick(k) for k in CAP_KEYS if rng.random() < 0.4}
        if rng.random() < 0.05:
            caps[rng.choice(NEAR_MISSES)] = value(rng)
        doc["caps"] = caps if rng.random() < 0.97 else value(rng)
    if rng.random() < 0.05:
        doc[rng.choice(NEAR_MISSES)] = value(rng) if rng.random() < 0.5 else {"x": value(rng)}
    return doc


def text_of(doc: dict) -> bytes:
    try:
        return tomli_w.dumps(doc).encode("utf-8")
    except (TypeError, ValueError):  # nan/inf or a type tomli-w refuses: write by hand
        lines = []
        for k, v in doc.items():
            if not isinstance(v, dict):
                lines.append(f"{_key(k)} = {_toml(v)}")
        for k, v in doc.items():
            if isinstance(v, dict):
                lines.append(f"[{_key(k)}]")
                lines += [f"{_key(kk)} = {_toml(vv)}" for kk, vv in v.items()]
        return "\n".join(lines).encode("utf-8")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else '"' + k.replace('"', '\\"') + '"'


def _toml(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    try:
        return tomli_w.dumps({"v": v})[4:].strip()
    except (TypeError, ValueError):
        return '"?"'


def damage(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        if kind == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 1:
            b.insert(rng.randrange(len(b) + 1), rng.choice(b"[]=\"'#\n.=,{}\\ \t\r0-+e"))
        elif kind == 2 and b:
            del b[rng.randrange(len(b))]
        elif kind == 3:
            b = b[: rng.randrange(len(b) + 1)]
        elif kind == 4:
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.choice(
                [
                    b"\xff\xfe",
                    b"\xef\xbb\xbf",
                    b"\x00",
                    b"\xc3",
                    "é".encode(),
                    b"[caps]\n",
                    b"[[caps]]\n",
                    b"device = 1\n",
                    b'"""',
                ]
            )
        elif kind == 5 and b:
            i = rng.randrange(len(b))
            b[i:i] = b[i : i + rng.randint(1, 20)]
        else:
            b = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    return bytes(b)


def _keys_of(data: bytes) -> set[str]:
    """Every key and dotted key the file sets (a problem may name any of them)."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return set()
    keys = set()
    for k, v in raw.items():
        keys.add(k)
        if isinstance(v, dict):
            keys.update(f"{k}.{kk}" for kk in v)
    return keys


LOCATED = re.compile(r"line \d+, column \d+: |cannot read: |.*\(at end of document\)$")


def check(path, data: bytes) -> str:
    """Load ``data`` from ``path``; return "ok" or "error"; fail on anything else."""
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as exc:
        assert isinstance(exc, UsageError) and exc.exit_code == 2
        assert exc.problems, f"a ConfigError with no problems for {data!r}"
        keys = _keys_of(data)
        for problem, line in zip(exc.problems, str(exc).split("\n"), strict=False):
            assert line.startswith(f"{path}: "), f"no file in {line!r}"
            assert LOCATED.match(problem) or any(problem.startswith(f"{k}: ") for k in keys), (
                f"problem without a location: {problem!r}\n  file: {data!r}"
            )
        return "error"
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"load_config raised {type(exc).__name__}: {exc}\n  file: {data!r}")
    return "ok"


@pytest.mark.slow  # thousands of generated files
def test_generated_config_files(tmp_path):
    rng = random.Random("config/generated")
    path = tmp_path / "config.toml"
    seen = {"ok": 0, "error": 0}
    for _ in range(GENERATED):
        seen[check(path, text_of(document(rng)))] += 1
    # Both outcomes are common: the generator is neither always right nor always wrong.
    assert seen["ok"] > GENERATED // 10 and seen["error"] > GENERATED // 10, seen


@pytest.mark.slow  # thousands of damaged files
def test_damaged_config_files(tmp_path):
    rng = random.Random("config/damaged")
    path = tmp_path / "config.toml"
    seen = {"ok": 0, "error": 0}
    for _ in range(DAMAGED):
        seen[check(path, damage(text_of(document(rng)), rng))] += 1
    assert seen["error"] > DAMAGED // 4, seen


def test_a_problem_is_located_by_key_and_by_line(tmp_path):
    """The two kinds of location, spelled out."""
    path = tmp_path / "config.toml"
    path.write_text("[caps]\nmax_intensity = 140\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: caps.max_intensity: 140 is above 100"
    path.write_text("[caps]\nmax_intensity = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config.toml: line 2, column \d+: "):
        load_config(path)


def test_profiles_dir_of_an_unknown_user(tmp_path):
    """Found by this fuzzing: ``~name`` for a user that does not exist made
    ``Path.expanduser`` raise RuntimeError, a traceback instead of a ConfigError."""
    path = tmp_path / "config.toml"
    path.write_text('profiles_dir = "~massage"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="profiles_dir"):
        load_config(path)
