"""Fuzzing the profile reader: whatever the input, a Profile or a ProfileError, nothing else.

Two generators:

* documents built from strategies that mix valid and invalid keys and values,
  written out with tomli_w;
* valid profile texts mangled by random edits (delete, duplicate, swap, insert).

For each input, ``parse_profile`` must return a Profile that compiles without
error, or raise ProfileError whose problems each name the file and a place.
Any other exception, a slow example (deadline) or a hang (watchdog) fails.
"""

from __future__ import annotations

import contextlib
import signal
import time
from datetime import timedelta

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profile_samples import VALID

from massager_ctl.core.vocabulary import (
    MAX_PROFILE_MS,
    MAX_PROFILE_STEPS,
    Benefit,
    Curve,
    Heat,
    Technique,
    Width,
    Zone,
)
from massager_ctl.profile import ProfileError, compile_profile, parse_profile
from massager_ctl.profile.errors import problem_lines
from massager_ctl.profile.parse import parse_profile_bytes

FILE = "fuzz.toml"
WATCHDOG_S = 5.0

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(milliseconds=1000),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@contextlib.contextmanager
def watchdog(seconds: float = WATCHDOG_S):
    """Fail an example that hangs (the hypothesis deadline only fires after it returns)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise TimeoutError(f"profile reader still busy after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    # An alarm already set is pytest-timeout's (timeout_method = signal): re-arm what is
    # left of it afterwards, or a hang later in the test would never be caught.
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


def check_outcome(read) -> str:
    """Run ``read()``; assert the outcome is a compilable Profile or a well-formed ProfileError."""
    with watchdog():
        try:
            profile = read()
        except ProfileError as err:
            assert err.problems
            assert err.exit_code == 2
            for p in err.problems:
                assert p.file == FILE
                assert p.where or p.key, p
                assert p.message, p
                assert str(p).startswith(FILE + ": ")
                assert p.to_dict()["text"] == str(p)
            assert str(err) == "\n".join(problem_lines(err.problems))  # a repeated mistake counted
            return "error"
        plan = compile_profile(profile)
    assert plan.roller, "a valid profile has at least one segment"
    assert plan.duration_ms == profile.duration_ms <= MAX_PROFILE_MS
    assert plan.step_count == profile.step_count <= MAX_PROFILE_STEPS
    for track in plan.tracks().values():
        t = 0
        for step in track:
            assert step.start_ms == t and step.duration_ms > 0
            t = step.end_ms
    return "ok"


# --- generated documents -------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
junk = st.recursive(
    st.one_of(st.integers(-10, 10**6), st.floats(), st.booleans(), text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


def build(noisy: bool) -> st.SearchStrategy:
    """Profile documents: ``noisy`` ones are mostly wrong, the others mostly right."""
    w = 3 if noisy else 60

    def maybe(valid, weight: int = 1):
        """Mostly ``valid``: junk once in ``w * weight + 1`` draws."""
        return st.integers(0, w * weight).flatmap(lambda i: valid if i else junk)

    def word(enum) -> st.SearchStrategy:
        names = [m.value for m in enum]
        if noisy:  # near misses too
            return maybe(st.sampled_from(names) | st.sampled_from([names[0].upper(), names[0][:-1]]))
        return maybe(st.sampled_from(names))

    if noisy:
        percent = maybe(st.integers(-5, 110) | st.floats(-5, 110) | st.sampled_from([0, 100]))
        times = st.sampled_from(["1s", "90s", "2m30s", "500ms", "1.5s", "1h", "0s", "5h", "30s2m"])
        duration = maybe(times | st.integers(1, 90))
        repeat = maybe(st.integers(-1, 1200) | st.sampled_from([1, 3, 1000]))
        zone_names = [z.value for z in Zone] + ["sholders", "elbow"]
    else:
        percent = maybe(st.integers(0, 100) | st.floats(0, 100))
        duration = maybe(st.sampled_from(["1s", "90s", "2m30s", "500ms", "1.5s", "40m"]))
        repeat = maybe(st.integers(1, 5) | st.just(1000))
        zone_names = [z.value for z in Zone]
    ramp_extra = {"form": percent} if noisy else {}
    ramp = st.fixed_dictionaries(
        {"from": percent, "to": percent}, optional={"curve": word(Curve), **ramp_extra}
    )
    level = maybe(percent | ramp)
    if noisy:
        zones = maybe(st.lists(maybe(st.sampled_from(zone_names), 3), max_size=4))
    else:
        zones = maybe(st.lists(st.sampled_from(zone_names), min_size=1, max_size=4, unique=True))
    long_name = st.just("x" * 90) if noisy else st.nothing()
    name = maybe(
        st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=8).filter(str.strip)
        | long_name,
        3,
    )
    extra = st.dictionaries(
        st.sampled_from(["colour", "intensty", "pressure", "level", "x"]), junk, max_size=1
    )

    def with_extra(base: st.SearchStrategy) -> st.SearchStrategy:
        odds = 2 if noisy else 30
        extras = st.integers(0, odds).flatmap(lambda i: st.just({}) if i else extra)
        return st.builds(lambda d, e: {**d, **e}, base, extras)

    def table(required: dict, optional: dict) -> st.SearchStrategy:
        return with_extra(st.fixed_dictionaries(required, optional=optional))

    segment = (table if noisy else lambda *a: st.nothing())(
        {"duration": duration},
        {
            "name": name,
            "technique": word(Technique),
            "zones": zones,
            "intensity": level,
            "speed": level,
            "width": word(Width),
            "rest": maybe(st.booleans()),
        },
    )
    if not noisy:  # a plain segment with all it needs, or a rest
        segment = st.one_of(
            segment,
            table(
                {
                    "duration": duration,
                    "technique": word(Technique),
                    "zones": zones,
                    "intensity": level,
                },
                {"name": name, "speed": level, "width": word(Width)},
            ),
            table({"duration": duration, "rest": st.just(True)}, {"name": name}),
        )
    if noisy:
        airbag = table({"duration": duration}, {"name": name, "zones": zones, "pressure": level})
    else:
        airbag = table({"duration": duration, "zones": zones, "pressure": level}, {"name": name})
        airbag |= table({"duration": duration}, {"name": name})
    heat = table({"duration": duration, "level": word(Heat)}, {"name": name})

    def block(entry: st.SearchStrategy) -> st.SearchStrategy:
        steps = st.lists(maybe(entry, 2), min_size=0 if noisy else 1, max_size=3)
        return table({"repeat": repeat, "steps": steps}, {"name": name})

    def track(entry: st.SearchStrategy) -> st.SearchStrategy:
        return maybe(st.lists(st.one_of(entry, entry, block(entry)), min_size=1, max_size=4))

    return table(
        {
            "format": maybe(st.just(1), 4),
            "name": name,
            "description": maybe(text, 2),
            "benefit": word(Benefit),
            "segment": track(segment),
        },
        {
            "author": maybe(text),
            "limits": maybe(
                st.fixed_dictionaries({}, optional={"max_intensity": percent, "max_length": duration})
            ),
            "defaults": maybe(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "technique": word(Technique),
                        "zones": zones,
                        "intensity": level,
                        "speed": level,
                        "width": word(Width),
                    },
                )
            ),
            "airbag": track(airbag),
            "heat": track(heat),
        },
    )


noisy_documents = build(noisy=True)
tidy_documents = build(noisy=False)


@pytest.mark.slow  # hundreds of generated profiles
@FUZZ
@given(st.one_of(noisy_documents, tidy_documents))
def test_generated_documents(doc):
    source = tomli_w.dumps(doc)
    check_outcome(lambda: parse_profile(source, FILE))


# --- mangled valid texts -------------------------------------------------------------

SAMPLES = [
    VALID,
    VALID.replace("[[heat]]", '[[heat]]\nname = "h"\n[[heat.steps]]\nrepeat = 2').replace(
        'level = "low"', 'level = "low"\nduration = "1m"'
    ),
]
INSERTS = st.lists(
    st.sampled_from(list("[]{}=\".,'#\n \t0123456789abcdefhmsx_-+e") + ["nan", "inf", "é", "\x00"]),
    min_size=1,
    max_size=6,
).map("".join)


def mangle(data: st.DataObject, source: str) -> str:
    """Apply 1..5 random edits to ``source``, on characters or on whole lines."""
    for _ in range(data.draw(st.integers(1, 5), label="edits")):
        op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "line"]), label="op")
        n = len(source)
        i = data.draw(st.integers(0, n), label="at")
        j = data.draw(st.integers(i, min(n, i + 40)), label="to")
        if op == "delete":
            source = source[:i] + source[j:]
        elif op == "duplicate":
            source = source[:j] + source[i:j] + source[j:]
        elif op == "insert":
            source = source[:i] + data.draw(INSERTS, label="text") + source[i:]
        else:
            lines = source.split("\n")
            a = data.draw(st.integers(0, len(lines) - 1), label="line a")
            b = data.draw(st.integers(0, len(lines) - 1), label="line b")
            if op == "swap":
                lines[a], lines[b] = lines[b], lines[a]
            elif a == b:
                del lines[a]
            else:
                lines.insert(b, lines[a])
            source = "\n".join(lines)
    return source


@pytest.mark.slow  # hundreds of mangled profiles
@settings(FUZZ, max_examples=600)
@given(st.data())
def test_mangled_texts(data):
    source = mangle(data, data.draw(st.sampled_from(SAMPLES), label="sample"))
    check_outcome(lambda: parse_profile(source, FILE))


@settings(FUZZ, max_examples=300)
@given(st.data())
def test_mangled_bytes(data):
    raw = bytearray(VALID.encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        choice = data.draw(st.sampled_from(["flip", "delete", "insert"]), label="op")
        if choice == "flip":
            raw[i] = data.draw(st.integers(0, 255), label="byte")
        elif choice == "delete":
            del raw[i]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=4), label="bytes")
    check_outcome(lambda: parse_profile_bytes(bytes(raw), FILE))


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=200))
def test_arbitrary_text(source):
    check_outcome(lambda: parse_profile(source, FILE))


def test_generators_reach_both_outcomes():
    """The generators are only useful if they produce valid profiles as well as errors."""
    outcomes: set[str] = set()

    @settings(FUZZ, max_examples=100)
    @given(tidy_documents)
    def run(doc):
        outcomes.add(check_outcome(lambda: parse_profile(tomli_w.dumps(doc), FILE)))

    run()
    assert outcomes == {"ok", "error"}
