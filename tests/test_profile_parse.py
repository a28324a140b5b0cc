"""Profile text -> Profile: what is accepted, and the exact words of every refusal."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from profile_samples import HEAD, SEGMENT, VALID

from massager_ctl.core.errors import MassagerError
from massager_ctl.core.vocabulary import Benefit, Curve, Heat, Technique, Width, Zone
from massager_ctl.plan import Level, PlanLimits
from massager_ctl.profile import (
    Problem,
    Profile,
    ProfileError,
    RepeatBlock,
    RollerEntry,
    load_profile,
    parse_profile,
)
from massager_ctl.profile.parse import parse_profile_bytes
from massager_ctl.profile.toml_reader import MAX_PROFILE_CHARS

BROKEN = Path(__file__).parent / "broken_profiles"

ZONES = "neck, shoulders, upper_back, mid_back, lower_back, seat, arms, thighs, calves, feet"
TECHNIQUES = "knead, shiatsu, tap, knock, roll, vibrate"
BENEFITS = "back-pain, flexibility, stress, posture, circulation, relaxation"
TOP = "format, name, description, benefit, author, limits, defaults, segment, airbag, heat"

#: Every broken profile and the exact lines `massager-ctl profile check` must print for it.
EXPECTED: dict[str, list[str]] = {
    "01_syntax_error.toml": [
        "01_syntax_error.toml: line 11, column 12: Invalid value",
    ],
    "02_unknown_keys.toml": [
        '02_unknown_keys.toml: benfit is not a top-level key; did you mean "benefit"?',
        f"02_unknown_keys.toml: colour is not a top-level key; use {TOP}",
        '02_unknown_keys.toml: segment 1 "knead": intensty is not a segment key; did you mean "intensity"?',
        '02_unknown_keys.toml: segment 1 "knead": speeed is not a segment key; did you mean "speed"?',
        '02_unknown_keys.toml: segment 1 "knead": intensity is missing; set it here or in '
        "[defaults] (0..100 or a ramp)",
        f"02_unknown_keys.toml: benefit is missing; write one of {BENEFITS}",
    ],
    "03_intensity_above_100.toml": [
        '03_intensity_above_100.toml: segment 2 "shoulders": intensity 140 is above 100',
    ],
    "04_ramp_out_of_range.toml": [
        '04_ramp_out_of_range.toml: segment 1 "build": intensity.from -5 is below 0',
        '04_ramp_out_of_range.toml: segment 1 "build": intensity.to 120 is above 100',
        '04_ramp_out_of_range.toml: segment 1 "build": speed.curve "smooth" is not one of '
        "linear, ease-in, ease-out, ease-in-out",
    ],
    "05_bad_zone.toml": [
        '05_bad_zone.toml: segment 1 "shoulder work" step 2: zones "sholders" is not a zone; '
        'did you mean "shoulders"?',
        f'05_bad_zone.toml: segment 1 "shoulder work" step 2: zones "elbows" is not a zone; use {ZONES}',
        '05_bad_zone.toml: segment 1 "shoulder work" step 2: zones "neck" is listed twice',
    ],
    "06_bad_durations.toml": [
        '06_bad_durations.toml: segment 1: duration "2 mins" is not a duration; '
        'write e.g. "90s", "2m30s", "1h" or "500ms"',
        '06_bad_durations.toml: segment 2: duration "30s2m" is not a duration; '
        "units go from largest to smallest (h, m, s, ms), each once",
        '06_bad_durations.toml: segment 3: duration "0s" is too short; the least is 1ms',
        "06_bad_durations.toml: segment 4: duration 90 is a number, not a duration; "
        'write it as text with a unit, e.g. "90s"',
        '06_bad_durations.toml: segment 5: duration "5h" is longer than 4h, the most a profile may last',
    ],
    "07_missing_duration.toml": [
        '07_missing_duration.toml: segment 1 "knead": duration is missing; write e.g. duration = "2m"',
        '07_missing_duration.toml: heat 1: duration is missing; write e.g. duration = "5m"',
    ],
    "08_repeat_out_of_range.toml": [
        '08_repeat_out_of_range.toml: segment 1 "too many": repeat 5000 is above 1000; '
        "a block repeats 1..1000 times",
        '08_repeat_out_of_range.toml: segment 2 "none": repeat 0 is below 1; a block repeats 1..1000 times',
        '08_repeat_out_of_range.toml: segment 3 "half": repeat 2.5 is not a whole number; '
        "a block repeats 1..1000 times",
    ],
    "09_longer_than_4h.toml": [
        '09_longer_than_4h.toml: segment 1 "marathon": repeat 100 of a 3m pass lasts 5h; '
        "a profile may last at most 4h",
    ],
    "10_nested_repeat.toml": [
        '10_nested_repeat.toml: segment 1 "outer" step 1 "inner": repeat is not allowed in a '
        "block step; blocks do not nest",
        '10_nested_repeat.toml: segment 1 "outer" step 1 "inner": steps is not allowed in a '
        "block step; blocks do not nest",
    ],
    "11_rest_with_technique.toml": [
        '11_rest_with_technique.toml: segment 1 "pause": technique is not allowed with '
        "rest = true; a rest keeps the rollers still",
        '11_rest_with_technique.toml: segment 1 "pause": intensity is not allowed with '
        "rest = true; a rest keeps the rollers still",
    ],
    "12_bool_as_number.toml": [
        "12_bool_as_number.toml: segment 1: intensity true is true/false, not a number; "
        "write 0..100 or a ramp such as { from = 10, to = 40 }",
        "12_bool_as_number.toml: segment 1: speed.from false is true/false, not a number; write 0..100",
    ],
    "13_nan_and_inf.toml": [
        "13_nan_and_inf.toml: segment 1: intensity nan is not a number; write 0..100",
        "13_nan_and_inf.toml: segment 1: speed inf is above 100",
        "13_nan_and_inf.toml: airbag 1: pressure.to -inf is below 0",
    ],
    "14_zones_wrong_type.toml": [
        '14_zones_wrong_type.toml: segment 1: zones "upper_back" is text, not a list; '
        'write zones = ["upper_back"]',
        "14_zones_wrong_type.toml: segment 2: zones { upper_back = true } is a table, "
        'not a list; write zones = ["upper_back"]',
        f"14_zones_wrong_type.toml: segment 3: zones is empty; list at least one of {ZONES}",
        "14_zones_wrong_type.toml: segment 4: zones 3 is a number, not a zone name",
    ],
    "15_bad_benefit.toml": [
        f'15_bad_benefit.toml: benefit "sleep" is not one of {BENEFITS}',
        "15_bad_benefit.toml: author 42 is a number, not text",
    ],
    "16_format_2.toml": [
        "16_format_2.toml: format 2 is not supported; this version of massager-ctl reads format = 1 only",
    ],
    "17_limits_violated.toml": [
        "17_limits_violated.toml: defaults: intensity 70 is above limits.max_intensity 60",
        "17_limits_violated.toml: segment 2: intensity.to 65 is above limits.max_intensity 60",
        '17_limits_violated.toml: limits: max_length "10m" is shorter than the profile, which lasts 12m',
    ],
    "18_several_errors.toml": [
        "18_several_errors.toml: name is empty; write some text in quotes",
        '18_several_errors.toml: segment 1 "warm-up": technique "rol" is not one of '
        f'{TECHNIQUES}; did you mean "roll"?',
        '18_several_errors.toml: segment 1 "warm-up": zones "lowerback" is not a zone; '
        'did you mean "lower_back"?',
        '18_several_errors.toml: segment 1 "warm-up": width "extra-wide" is not one of narrow, medium, wide',
        '18_several_errors.toml: segment 2 "work": intensity is not allowed in a repeat '
        "block; set it in the block's steps",
        '18_several_errors.toml: segment 2 "work" step 1: intensity "high" is text, not a '
        "number; write 0..100 or a ramp such as { from = 10, to = 40 }",
        "18_several_errors.toml: airbag 1: pressure is missing; listed zones need a pressure "
        "(0..100 or a ramp)",
        '18_several_errors.toml: heat 1: level "hot" is not one of off, low, high',
    ],
    "19_too_many_steps.toml": [
        '19_too_many_steps.toml: segment 1 "flicker": repeat 1000 of 101 steps makes '
        "101,000 steps; a profile may have at most 100,000",
    ],
    "20_tracks_wrong_shape.toml": [
        "20_tracks_wrong_shape.toml: heat 5 is a number, not a list of tables; write each entry as [[heat]]",
        "20_tracks_wrong_shape.toml: limits [60] is a list, not a table; write a [limits] section",
        "20_tracks_wrong_shape.toml: segment is a single table, not a list of tables; "
        "write [[segment]] with two brackets",
    ],
    "21_airbag_and_heat.toml": [
        '21_airbag_and_heat.toml: airbag 1 "calf squeeze": pressure is missing; listed zones '
        "need a pressure (0..100 or a ramp)",
        "21_airbag_and_heat.toml: airbag 2: pressure is set but no zones are listed; "
        "list the zones to inflate, or leave pressure out to vent",
        '21_airbag_and_heat.toml: airbag 3: presure is not an airbag key; did you mean "pressure"?',
        "21_airbag_and_heat.toml: airbag 3: pressure is missing; listed zones need a pressure "
        "(0..100 or a ramp)",
        '21_airbag_and_heat.toml: heat 1 "warm": level is missing; write level = "off", "low" or "high"',
        '21_airbag_and_heat.toml: heat 2: level "medium" is not one of off, low, high',
        "21_airbag_and_heat.toml: heat 2: intensity is not a heat key; use name, duration, level",
    ],
    "22_defaults_and_limits_keys.toml": [
        "22_defaults_and_limits_keys.toml: limits: max_intensity 120 is above 100",
        "22_defaults_and_limits_keys.toml: limits: max_lenght is not a [limits] key; "
        'did you mean "max_length"?',
        "22_defaults_and_limits_keys.toml: defaults: duration is not a [defaults] key; "
        "use technique, zones, intensity, speed, width",
        '22_defaults_and_limits_keys.toml: defaults: technique "kned" is not one of '
        f'{TECHNIQUES}; did you mean "knead"?',
        "22_defaults_and_limits_keys.toml: defaults: width 3 is a number, not text; "
        "write one of narrow, medium, wide",
    ],
    "23_not_utf8.toml": [
        "23_not_utf8.toml: line 2, column 12: cannot read: the file is not UTF-8 text (byte 0xe9)",
    ],
    "24_control_characters.toml": [
        '24_control_characters.toml: name "Red \\u001b[31m alert" holds a control character; remove it',
        '24_control_characters.toml: segment 1 "tab\\there": name "tab\\there" holds a control '
        "character; remove it",
    ],
    "25_block_shape.toml": [
        '25_block_shape.toml: segment 1 "no steps": steps is missing; a repeat block needs '
        "[[segment.steps]] entries",
        '25_block_shape.toml: segment 2 "empty steps": steps is empty; a repeat block needs '
        "at least one [[segment.steps]]",
        '25_block_shape.toml: segment 3 "steps not a list": steps is a single table, not a list '
        "of tables; write [[segment.steps]] with two brackets",
    ],
}


def problems_of(text: str, file: str = "t.toml") -> list[str]:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, file)
    return [str(p) for p in info.value.problems]


# --- the broken profiles ------------------------------------------------------------


def test_every_broken_profile_has_expected_lines():
    files = sorted(p.name for p in BROKEN.glob("*.toml"))
    assert files == sorted(EXPECTED)
    assert len(files) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_profile_lists_exact_problems(name):
    with pytest.raises(ProfileError) as info:
        load_profile(BROKEN / name)
    err = info.value
    assert [str(p) for p in err.problems] == EXPECTED[name]
    assert str(err) == "\n".join(EXPECTED[name])
    assert err.exit_code == 2
    assert isinstance(err, MassagerError)
    for p in err.problems:
        assert p.file == name
        assert p.where or p.key


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n != "23_not_utf8.toml"))
def test_parse_profile_of_the_text_gives_the_same_problems(name):
    text = (BROKEN / name).read_text(encoding="utf-8")
    assert problems_of(text, name) == EXPECTED[name]


def test_problem_parts_for_a_segment_error():
    with pytest.raises(ProfileError) as info:
        load_profile(BROKEN / "03_intensity_above_100.toml")
    (p,) = info.value.problems
    assert p == Problem(
        "03_intensity_above_100.toml", 'segment 2 "shoulders"', "intensity", "intensity 140 is above 100"
    )
    assert p.to_dict() == {
        "file": "03_intensity_above_100.toml",
        "where": 'segment 2 "shoulders"',
        "key": "intensity",
        "message": "intensity 140 is above 100",
        "text": '03_intensity_above_100.toml: segment 2 "shoulders": intensity 140 is above 100',
    }


def test_problem_parts_for_top_level_and_syntax_errors():
    with pytest.raises(ProfileError) as info:
        load_profile(BROKEN / "15_bad_benefit.toml")
    first = info.value.problems[0]
    assert (first.where, first.key) == ("", "benefit")
    assert str(first) == f'15_bad_benefit.toml: benefit "sleep" is not one of {BENEFITS}'
    with pytest.raises(ProfileError) as info:
        load_profile(BROKEN / "01_syntax_error.toml")
    (p,) = info.value.problems
    assert (p.where, p.key, p.message) == ("line 11, column 12", None, "Invalid value")


def test_ramp_key_is_dotted():
    with pytest.raises(ProfileError) as info:
        load_profile(BROKEN / "04_ramp_out_of_range.toml")
    assert [p.key for p in info.value.problems] == ["intensity.from", "intensity.to", "speed.curve"]


# --- reading files ------------------------------------------------------------------


def test_missing_file_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "nowhere.toml")
    assert str(info.value) == "nowhere.toml: cannot read: No such file or directory"


def test_folder_is_a_profile_error(tmp_path):
    folder = tmp_path / "x.toml"
    folder.mkdir()
    with pytest.raises(ProfileError) as info:
        load_profile(folder)
    assert str(info.value) == "x.toml: cannot read: it is a folder, not a file"


def test_load_profile_sets_path_and_uses_the_file_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + SEGMENT, encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.path == path
    assert parse_profile(HEAD + SEGMENT).path is None
    path.write_text(HEAD + SEGMENT.replace("30", "300"), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == "mine.toml: segment 1: intensity 300 is above 100"


def test_byte_order_mark_and_crlf_are_accepted():
    data = ("\ufeff" + HEAD + SEGMENT).replace("\n", "\r\n").encode("utf-8")
    assert parse_profile_bytes(data, "win.toml").name == "Test"


def test_default_file_name_in_messages():
    with pytest.raises(ProfileError) as info:
        parse_profile("format = 1\nname = 5\n")
    assert info.value.problems[0].file == "<profile>"
    assert str(info.value).splitlines()[0] == "<profile>: name 5 is a number, not text"


# --- hostile input: bounded work, located errors ----------------------------------------


def test_text_longer_than_the_limit_is_refused_unparsed():
    text = HEAD + "# " + "x" * MAX_PROFILE_CHARS
    assert problems_of(text) == [
        f"t.toml: the profile is {len(text):,} characters long; at most {MAX_PROFILE_CHARS:,} are allowed"
    ]


def test_key_with_many_dotted_parts_is_refused_before_parsing():
    # tomllib's cost grows with the square of the parts: 200 000 parts would exhaust memory.
    text = HEAD + "\n" + "a." * 200_000 + "b = 1\n"
    assert problems_of(text) == [
        "t.toml: line 6, column 1: this key has more than 8 dotted parts; a profile needs no more than 2"
    ]


def test_dots_inside_strings_and_comments_are_not_keys():
    text = HEAD.replace('description = "For the tests."', 'description = "a.b.c.d.e.f.g.h.i.j.k. ..."')
    text += "# 1.2.3.4.5.6.7.8.9.10\n" + SEGMENT
    assert parse_profile(text).description == "a.b.c.d.e.f.g.h.i.j.k. ..."


def test_deep_nesting_is_a_located_problem():
    text = HEAD + "x = " + "[" * 5000 + "]" * 5000 + "\n"
    (line,) = problems_of(text)
    assert line.startswith("t.toml: line 5, column ")
    assert line.endswith(": lists or tables nest too deeply to read")


def test_integer_too_long_to_convert_is_a_located_problem():
    text = HEAD + "x = " + "9" * 5000 + "\n"
    assert problems_of(text) == ["t.toml: line 5, column 5: this number is too long to read"]


def test_huge_hex_integer_is_shown_without_converting_it():
    text = HEAD + SEGMENT.replace("intensity = 30", "intensity = 0x" + "f" * 5000)
    assert problems_of(text) == ["t.toml: segment 1: intensity <a huge number> is above 100"]


def test_absurd_duration_digits_are_refused():
    text = HEAD + SEGMENT.replace('"1m"', '"' + "9" * 400 + 'h"')
    (line,) = problems_of(text)
    assert line.startswith('t.toml: segment 1: duration "9999')
    assert line.endswith('is not a duration; write e.g. "90s", "2m30s", "1h" or "500ms"')


def test_long_values_are_shortened_in_messages():
    text = HEAD + SEGMENT.replace('"roll"', '"' + "r" * 500 + '"')
    (line,) = problems_of(text)
    assert len(line) < 200
    assert line.startswith('t.toml: segment 1: technique "rrrrr')


def test_oversized_block_is_refused_without_expanding_it():
    steps = '\n[[segment.steps]]\nduration = "1ms"\nrest = true\n' * 1000
    text = HEAD + '\n[[segment]]\nname = "big"\nrepeat = 1000\n' + steps
    tracemalloc.start()
    try:
        lines = problems_of(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [
        't.toml: segment 1 "big": repeat 1000 of 1000 steps makes 1,000,000 steps; '
        "a profile may have at most 100,000"
    ]
    # A million expanded steps would need hundreds of MB; checking needs a few.
    assert peak < 10_000_000


# --- whole-profile bounds -------------------------------------------------------------


def rest_segments(*durations: str) -> str:
    return "".join(f'\n[[segment]]\nduration = "{d}"\nrest = true\n' for d in durations)


def test_exactly_four_hours_is_allowed_and_one_ms_more_is_not():
    assert parse_profile(HEAD + rest_segments("2h", "2h")).duration_ms == 4 * 3600 * 1000
    assert problems_of(HEAD + rest_segments("2h", "2h", "1ms")) == [
        "t.toml: segment entries last 4h1ms in all; a profile may last at most 4h"
    ]


def test_each_track_is_bounded_on_its_own():
    heat = "".join('\n[[heat]]\nduration = "3h"\nlevel = "low"\n' for _ in range(2))
    assert problems_of(HEAD + SEGMENT + heat) == [
        "t.toml: heat entries last 6h in all; a profile may last at most 4h"
    ]


def test_steps_are_counted_over_all_tracks():
    def block(track: str, n: int, step: str) -> str:
        steps = f'\n[[{track}.steps]]\nduration = "1ms"\n{step}\n' * n
        return f"\n[[{track}]]\nrepeat = 1000\n{steps}"

    text = HEAD + block("segment", 60, "rest = true") + block("airbag", 41, "zones = []")
    assert problems_of(text) == [
        "t.toml: segment and airbag entries expand to 101,000 steps in all; "
        "a profile may have at most 100,000"
    ]
    text = HEAD + block("segment", 60, "rest = true") + block("airbag", 40, "zones = []")
    assert parse_profile(text).step_count == 100_000


def test_limits_max_length_counts_the_longest_track():
    text = HEAD + '[limits]\nmax_length = "2m"\n' + SEGMENT
    text += '\n[[heat]]\nduration = "3m"\nlevel = "low"\n'
    assert problems_of(text) == [
        't.toml: limits: max_length "2m" is shorter than the profile, which lasts 3m'
    ]


# --- what a valid profile holds -------------------------------------------------------


def test_valid_profile_fields():
    p = parse_profile(VALID, "evening.toml")
    assert isinstance(p, Profile)
    assert (p.format, p.name, p.description, p.benefit, p.author) == (
        1,
        "Evening unwind",
        "Slow rolls, then shoulder work.",
        Benefit.STRESS,
        "tests",
    )
    assert p.limits == PlanLimits(max_intensity=60.0, max_length_ms=20 * 60_000)
    assert p.path is None
    assert len(p.roller) == 3 and p.segments is p.roller
    assert len(p.airbag) == 2 and len(p.heat) == 1


def test_entries_are_kept_unexpanded_with_defaults_applied():
    p = parse_profile(VALID)
    warm, rest, block = p.roller
    assert warm == RollerEntry(
        where='segment 1 "warm-up"',
        name="warm-up",
        duration_ms=120_000,
        technique=Technique.ROLL,
        zones=frozenset({Zone.UPPER_BACK, Zone.MID_BACK}),
        intensity=Level(10.0, 35.0, Curve.EASE_IN_OUT),
        speed=Level.constant(40),  # from [defaults]
        width=Width.WIDE,  # from [defaults]
    )
    assert rest == RollerEntry(where="segment 2", name="rest", duration_ms=20_000)
    assert rest.is_rest
    assert isinstance(block, RepeatBlock)
    assert (block.where, block.name, block.repeat, len(block.steps)) == (
        'segment 3 "shoulder work"',
        "shoulder work",
        3,
        2,
    )
    knead, tap = block.steps
    assert knead.where == 'segment 3 "shoulder work" step 1 "knead"'
    assert knead.width is Width.NARROW and knead.speed == Level.constant(40)
    assert tap.where == 'segment 3 "shoulder work" step 2'
    assert tap.name == "tap"  # default name: the technique
    assert tap.duration_ms == 1500
    assert tap.speed == Level.constant(70) and tap.width is Width.WIDE
    assert (block.pass_ms, block.duration_ms, block.step_count) == (41_500, 124_500, 6)


def test_airbag_and_heat_entries():
    p = parse_profile(VALID)
    vented, squeeze = p.airbag
    assert (vented.name, vented.zones, vented.pressure) == ("airbags", frozenset(), Level(0, 0))
    assert squeeze.where == 'airbag 2 "calf squeeze"'
    assert squeeze.zones == frozenset({Zone.CALVES, Zone.FEET})
    assert squeeze.pressure == Level(20.0, 45.0, Curve.EASE_IN)
    (heat,) = p.heat
    assert (heat.name, heat.level, heat.duration_ms) == ("heat low", Heat.LOW, 300_000)


def test_profile_totals_are_arithmetic():
    p = parse_profile(VALID)
    assert p.track_ms("roller") == 120_000 + 20_000 + 3 * 41_500
    assert p.duration_ms == 300_000  # the heat track is the longest
    assert p.step_count == 2 + 6 + 2 + 1


def test_speed_and_width_defaults_without_a_defaults_table():
    (seg,) = parse_profile(HEAD + SEGMENT).roller
    assert seg.speed == Level.constant(50) and seg.width is Width.MEDIUM
    assert seg.name == "roll"


def test_defaults_can_supply_required_keys():
    text = HEAD + '[defaults]\ntechnique = "knead"\nzones = ["neck"]\nintensity = 20\n'
    text += '\n[[segment]]\nduration = "1m"\n\n[[segment]]\nduration = "1m"\ntechnique = "tap"\n'
    first, second = parse_profile(text).roller
    assert (first.technique, first.zones, first.intensity) == (
        Technique.KNEAD,
        frozenset({Zone.NECK}),
        Level.constant(20),
    )
    assert second.technique is Technique.TAP and second.zones == frozenset({Zone.NECK})


def test_accepted_number_forms():
    text = HEAD + SEGMENT.replace("intensity = 30", "intensity = 0\nspeed = 100.0")
    text += '\n[[segment]]\nrepeat = 2.0\n[[segment.steps]]\nduration = "1s"\nrest = false\n'
    text += 'technique = "tap"\nzones = ["seat"]\nintensity = 12.5\n'
    p = parse_profile(text)
    assert p.roller[0].intensity == Level.constant(0) and p.roller[0].speed == Level.constant(100)
    assert p.roller[1].repeat == 2 and p.roller[1].steps[0].intensity == Level.constant(12.5)


def test_within_one_segment_every_bad_key_is_reported():
    text = HEAD + (
        '\n[[segment]]\nduration = "x"\ntechnique = "y"\nzones = ["z"]\nintensity = -1\n'
        'speed = 101\nwidth = "w"\nname = ""\nfoo = 1\n'
    )
    keys = [line.split(": ")[2].split(" ")[0] for line in problems_of(text)]
    assert keys == ["duration", "technique", "zones", "intensity", "speed", "width", "name", "foo"]


def test_names_are_bounded_and_single_line():
    long = "n" * 81
    text = HEAD.replace('name = "Test"', f'name = "{long}"') + SEGMENT.replace(
        "[[segment]]", '[[segment]]\nname = "two\\nlines"'
    )
    assert problems_of(text) == [
        "t.toml: name is 81 characters long; at most 80 are allowed",
        't.toml: segment 1 "two\\nlines": name "two\\nlines" holds a control character; remove it',
    ]
    assert parse_profile(HEAD.replace('name = "Test"', f'name = "{long[:80]}"') + SEGMENT)


def test_rest_must_be_a_boolean_and_then_nothing_is_reported_missing():
    text = HEAD + '\n[[segment]]\nduration = "1m"\nrest = "yes"\n'
    assert problems_of(text) == ['t.toml: segment 1: rest "yes" is text, not true or false']


def test_missing_top_level_keys_and_segments():
    assert problems_of("format = 1\n") == [
        't.toml: name is missing; give the profile a name, e.g. name = "Evening unwind"',
        "t.toml: description is missing; say in a sentence what the profile is for",
        f"t.toml: benefit is missing; write one of {BENEFITS}",
        "t.toml: segment is missing; a profile needs at least one [[segment]]",
    ]
    assert problems_of(HEAD + "segment = []\n") == [
        "t.toml: segment is empty; a profile needs at least one [[segment]]"
    ]
    assert problems_of('name = "x"\ndescription = ""\nbenefit = "stress"\n' + SEGMENT) == [
        "t.toml: format is missing; start the file with format = 1"
    ]


def test_entries_that_are_not_tables():
    text = HEAD + 'segment = [1, "two"]\n'
    assert problems_of(text) == [
        "t.toml: segment 1: 1 is a number, not a table; write it as [[segment]]",
        't.toml: segment 2: "two" is text, not a table; write it as [[segment]]',
    ]


def test_did_you_mean_in_blocks_and_ramps():
    text = HEAD + (
        '\n[[segment]]\nrepat = 2\nsteps = [{ duration = "1s", rest = true }]\n'
        '\n[[segment]]\nduration = "1s"\ntechnique = "tap"\nzones = ["neck"]\n'
        "intensity = { from = 1, too = 2 }\n"
    )
    assert problems_of(text) == [
        't.toml: segment 1: repat is not a repeat block key; did you mean "repeat"?',
        "t.toml: segment 1: repeat is missing; a block with steps needs repeat = 1..1000",
        't.toml: segment 2: intensity.too is not a ramp key; did you mean "to"?',
        "t.toml: segment 2: intensity.to is missing; a ramp needs from and to, e.g. "
        "intensity = { from = 10, to = 40 }",
    ]


def test_dates_and_datetimes_are_wrong_types():
    text = HEAD + SEGMENT.replace('"1m"', "1979-05-27T07:32:00")
    assert problems_of(text) == [
        "t.toml: segment 1: duration 1979-05-27T07:32:00 is a date-time, not a duration; "
        'write it as text with a unit, e.g. "90s" or "2m30s"'
    ]


# --- the examples in docs/profiles.md are real --------------------------------------

DOCS = Path(__file__).parent.parent / "docs" / "profiles.md"


def doc_blocks(lang: str) -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    return [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith(lang + "\n")]


def test_docs_worked_example_is_a_valid_15_minute_profile():
    from massager_ctl.profile import compile_profile

    example = doc_blocks("toml")[0]
    profile = parse_profile(example, "example.toml")
    plan = compile_profile(profile)
    assert profile.benefit is Benefit.BACK_PAIN
    assert plan.duration_ms == 15 * 60_000
    assert (len(plan.roller), len(plan.airbag), len(plan.heat)) == (15, 21, 2)


def test_docs_error_example_prints_what_the_docs_say():
    broken = doc_blocks("toml")[1]
    shown = doc_blocks("text")[1].splitlines()
    assert problems_of(broken, "shoulders.toml") == shown


def test_docs_error_gallery_uses_real_messages(tmp_path):
    messages = set()
    for name in EXPECTED:
        with pytest.raises(ProfileError) as info:
            load_profile(BROKEN / name)
        messages |= {p.message for p in info.value.problems}
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "relax.toml")
    messages |= {p.message for p in info.value.problems}
    for line in doc_blocks("text")[2].splitlines():
        assert line.startswith("relax.toml: ")
        assert any(line.endswith(": " + m) for m in messages), line
