"""Drawing a plan in the terminal (pure functions, plans built by hand)."""

from __future__ import annotations

import pytest

from massager_ctl.cli.timeline import (
    LABEL_WIDTH,
    format_level,
    format_zones,
    render_segments,
    render_timeline,
    spark,
)
from massager_ctl.core.vocabulary import Curve, Heat, Technique, Zone
from massager_ctl.plan import AirbagStep, HeatStep, Level, Plan, RollerStep

S = 1000


def roller(start_s, dur_s, technique, intensity, zones=(Zone.MID_BACK,), name="seg"):
    level = intensity if isinstance(intensity, Level) else Level.constant(intensity)
    return RollerStep(
        start_ms=start_s * S,
        duration_ms=dur_s * S,
        name=name,
        source=name,
        technique=technique,
        zones=frozenset(zones),
        intensity=level,
        speed=Level.constant(50),
    )


def airbag(start_s, dur_s, pressure, zones=(Zone.CALVES,), name="air"):
    level = pressure if isinstance(pressure, Level) else Level.constant(pressure)
    return AirbagStep(
        start_ms=start_s * S,
        duration_ms=dur_s * S,
        name=name,
        source=name,
        zones=frozenset(zones),
        pressure=level,
    )


def heat(start_s, dur_s, level, name="heat"):
    return HeatStep(start_ms=start_s * S, duration_ms=dur_s * S, name=name, source=name, level=level)


def rows(lines):
    """Track rows by label, without the label column."""
    return {line[:LABEL_WIDTH].strip(): line[LABEL_WIDTH:] for line in lines[1:]}


@pytest.mark.parametrize(
    ("value", "cell"),
    [(0, " "), (-3, " "), (0.1, "▁"), (12.5, "▁"), (12.6, "▂"), (50, "▄"), (99, "█"), (100, "█"), (180, "█")],
)
def test_spark(value, cell):
    assert spark(value) == cell


def make_plan():
    # 60 s: knead at 100 % for 30 s then rest; airbag ramp 0 -> 100 over 60 s;
    # heat high 20 s, low 20 s, off 20 s.
    return Plan(
        name="t",
        roller=(
            roller(0, 30, Technique.KNEAD, 100),
            RollerStep(start_ms=30 * S, duration_ms=30 * S, name="rest", source="rest"),
        ),
        airbag=(airbag(0, 60, Level(0, 100)),),
        heat=(heat(0, 20, Heat.HIGH), heat(20, 20, Heat.LOW), heat(40, 20, Heat.OFF)),
    )


def test_tracks_are_sampled_per_column():
    lines = render_timeline(make_plan(), width=40)  # 30 columns of 2 s
    r = rows(lines)
    assert r["roller"] == "█" * 15
    assert r["technique"] == "K" * 15
    assert r["heat"] == "█" * 10 + "░" * 10 + "·" * 10
    air = r["airbag"]
    assert len(air) == 30
    assert air[0] == "▁" and air[-1] == "█"
    levels = ["▁▂▃▄▅▆▇█".index(c) for c in air]
    assert levels == sorted(levels)  # a rising ramp never drops


def test_axis_labels_and_ticks():
    lines = render_timeline(make_plan(), width=40)
    labels, ruler = lines[0][LABEL_WIDTH:], lines[1][LABEL_WIDTH:]
    assert lines[1].startswith("time")
    assert labels.startswith("0")
    assert labels.rstrip().endswith("1m")
    assert "30s" in labels
    assert ruler[0] == "┬" and ruler[-1] == "┬" and ruler[15] == "┬"
    assert set(ruler) == {"┬", "─"}


def test_legend_names_only_the_techniques_used():
    lines = render_timeline(make_plan(), width=60)
    legend = " ".join(lines[6:])
    assert "K knead" in legend
    assert "roll" not in legend
    assert "░ low" in legend


def test_width_is_respected_and_clamped_to_40():
    plan = make_plan()
    for width in (40, 57, 120, 200):
        lines = render_timeline(plan, width=width)
        assert max(len(line) for line in lines) <= width
        assert len(rows(lines)["heat"]) == width - LABEL_WIDTH
    assert render_timeline(plan, width=10) == render_timeline(plan, width=40)


def test_samples_at_column_midpoints():
    # 30 s, 30 columns of 1 s: a step covering [0, 0.6 s) shows in column 0 only
    # (its midpoint 0.5 s is inside), one covering [1.0 s, 1.4 s) shows nowhere.
    plan = Plan(
        name="t",
        roller=(
            RollerStep(
                start_ms=0,
                duration_ms=600,
                name="a",
                source="a",
                technique=Technique.TAP,
                zones=frozenset({Zone.NECK}),
                intensity=Level.constant(40),
                speed=Level.constant(40),
            ),
            RollerStep(
                start_ms=1000,
                duration_ms=400,
                name="b",
                source="b",
                technique=Technique.ROLL,
                zones=frozenset({Zone.NECK}),
                intensity=Level.constant(40),
                speed=Level.constant(40),
            ),
            RollerStep(
                start_ms=29_000,
                duration_ms=1000,
                name="c",
                source="c",
                technique=Technique.VIBRATE,
                zones=frozenset({Zone.NECK}),
                intensity=Level.constant(40),
                speed=Level.constant(40),
            ),
        ),
    )
    r = rows(render_timeline(plan, width=40))
    assert r["technique"] == "T" + " " * 28 + "V"


def test_rows_for_missing_tracks_are_left_out():
    plan = Plan(name="t", roller=(roller(0, 120, Technique.ROLL, 30),))
    r = rows(render_timeline(plan, width=50))
    assert "airbag" not in r and "heat" not in r
    assert r["roller"] == "▃" * 40
    assert r["technique"] == "R" * 40


def test_long_plans_get_coarser_ticks_that_do_not_collide():
    plan = Plan(name="t", roller=(roller(0, 4 * 3600, Technique.ROLL, 30),))
    labels = render_timeline(plan, width=40)[0][LABEL_WIDTH:]
    words = labels.split()
    assert words[0] == "0" and words[-1] == "4h"
    assert len(words) >= 3


def test_empty_plan_draws_a_note():
    assert render_timeline(Plan(name="empty"), width=40) == ["(empty plan: nothing to draw)"]


def test_format_level():
    assert format_level(Level.constant(40)) == "40"
    assert format_level(Level.constant(12.5)) == "12.5"
    assert format_level(Level(20, 60, Curve.EASE_IN_OUT)) == "20→60 ease-in-out"
    assert format_level(Level(60, 0)) == "60→0"


def test_format_zones_goes_neck_down():
    assert format_zones({Zone.LOWER_BACK, Zone.NECK, Zone.CALVES}) == "neck,lower_back,calves"
    assert format_zones(set()) == "-"


def test_render_segments_lists_every_step_in_order():
    plan = Plan(
        name="t",
        roller=(
            roller(
                0,
                90,
                Technique.ROLL,
                Level(10, 35, Curve.EASE_IN_OUT),
                name="warm-up",
                zones=(Zone.UPPER_BACK, Zone.MID_BACK),
            ),
            RollerStep(start_ms=90 * S, duration_ms=20 * S, name="pause", source="pause"),
            roller(110, 60, Technique.KNEAD, 50, name="knead", zones=(Zone.SHOULDERS,)),
        ),
        airbag=(airbag(0, 30, 0, zones=(), name="vent"), airbag(30, 30, 40, name="squeeze")),
        heat=(heat(0, 60, Heat.LOW, name="warm"),),
    )
    lines = render_segments(plan)
    assert lines[0] == "segments"
    assert lines[1].split() == ["start", "length", "name", "technique", "zones", "intensity"]
    assert lines[2].split() == [
        "0s",
        "1m30s",
        "warm-up",
        "roll",
        "upper_back,mid_back",
        "10→35",
        "ease-in-out",
    ]
    assert lines[3].split() == ["1m30s", "20s", "pause", "rest", "-", "-"]
    assert lines[4].split() == ["1m50s", "1m", "knead", "knead", "shoulders", "50"]
    i = lines.index("airbags")
    assert lines[i + 2].split() == ["0s", "30s", "vent", "-", "vented"]
    assert lines[i + 3].split() == ["30s", "30s", "squeeze", "calves", "40"]
    j = lines.index("heat")
    assert lines[j + 2].split() == ["0s", "1m", "warm", "low"]
    # the columns line up
    assert len({line.index("name") for line in lines[1:2]}) == 1
    assert lines[2].index("warm-up") == lines[1].index("name") == lines[4].index("knead")
