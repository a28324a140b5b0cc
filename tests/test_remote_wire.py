"""The wire format between `serve` and its clients: faithful both ways, strict on input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.core.status import DeviceState, Status
from massager_ctl.core.vocabulary import Heat, Technique, Width, Zone
from massager_ctl.profile import load_plan
from massager_ctl.profile.library import shipped_dir
from massager_ctl.remote import wire
from massager_ctl.session.runner import SessionReport

PROFILES = sorted(shipped_dir().glob("*.toml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_a_plan_survives_the_wire_instant_for_instant(path):
    plan = load_plan(path)
    back = wire.plan_from_dict(json.loads(json.dumps(wire.plan_to_dict(plan))))
    assert back.duration_ms == plan.duration_ms and back.limits == plan.limits
    assert back.boundaries_ms() == plan.boundaries_ms()
    for t in range(0, plan.duration_ms, 250):
        assert back.state_at(t) == plan.state_at(t), t
        assert back.is_ramping(t) == plan.is_ramping(t)


def test_a_status_and_a_report_survive_the_wire():
    status = Status(
        running=True,
        state=DeviceState(
            Technique.KNEAD, frozenset({Zone.SHOULDERS}), 3, 2, Width.WIDE, ((Zone.CALVES, 2),), Heat.LOW
        ),
        roller_position=0.25,
        airbag_pressure=((Zone.CALVES, 40.0),),
        heater_temp_c=31.5,
        remaining_s=90,
        extra={"confirmed": False},
    )
    assert wire.status_from_dict(json.loads(json.dumps(wire.status_to_dict(status)))) == status
    back = wire.status_from_dict(wire.status_to_dict(status))
    assert back.extra == {"confirmed": False}
    report = SessionReport("stopped", 1234, 5.5, status, True, True, "m", ["w"], [], 1)
    again = wire.report_from_dict(json.loads(json.dumps(wire.report_to_dict(report))))
    assert (again.reason, again.plan_ms, again.stop_status, again.warnings, again.reconnects) == (
        "stopped",
        1234,
        status,
        ["w"],
        1,
    )


@pytest.mark.parametrize(
    "plan",
    [
        [],
        {"roller": "x"},
        {"roller": [{"start_ms": -1, "duration_ms": 5}]},
        {"roller": [{"start_ms": 0, "duration_ms": 10**12}]},
        {"roller": [{"start_ms": 0, "duration_ms": 5, "intensity": [0, 500, "linear"]}]},
        {"roller": [{"start_ms": 0, "duration_ms": 5, "intensity": [0, 50, "wobbly"]}]},
        {"roller": [{"start_ms": 0, "duration_ms": 5, "technique": "punch"}]},
        {"roller": [{"start_ms": 0, "duration_ms": 10}, {"start_ms": 5, "duration_ms": 10}]},
        {"airbag": [{"start_ms": 0, "duration_ms": 5, "levels": [["calves"]]}]},
        {"heat": [{"start_ms": 0, "duration_ms": 5, "level": "scorching"}]},
        {"limits": {"max_intensity": 150}},
        {"limits": {"max_intensity": 10**400}},  # JSON's whole numbers have no size limit
        {"roller": [{"start_ms": 0, "duration_ms": 5, "intensity": [0, 10**400, "linear"]}]},
        {"name": 5},
    ],
)
def test_a_malformed_plan_is_one_wire_error(plan):
    with pytest.raises(wire.WireError) as err:
        wire.plan_from_dict(plan)
    assert "\n" not in str(err.value)


def test_a_status_of_unknown_state_stays_unknown_over_the_wire():
    """A device that does not report its state (HF8, Pulsetto, a silent Theragun) sends
    every state key as "unknown": a client reads it as unknown, not as an error."""
    status = Status(running=None, heater_temp_c=30.0, extra={"confirmed": False, "why": "no answer"})
    back = wire.status_from_dict(json.loads(json.dumps(wire.status_to_dict(status))))
    assert back.running is None and not back.known and not back.confirmed and not back.stopped
    assert back.heater_temp_c == 30.0 and back.extra["why"] == "no answer"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    ["start_ms", "duration_ms", "name", "technique", "zones", "intensity", "levels", "level"]
)
steps = st.dictionaries(keys, json_values, max_size=6)
plans = st.fixed_dictionaries(
    {},
    optional={
        "roller": st.lists(steps, max_size=3) | json_values,
        "airbag": st.lists(steps, max_size=3),
        "heat": st.lists(steps, max_size=3),
        "limits": json_values,
        "name": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(plans)
def test_whatever_a_client_sends_is_a_plan_or_a_wire_error(data):
    try:
        plan = wire.plan_from_dict(data)
    except wire.WireError:
        return
    for t in (0, plan.duration_ms // 2, max(0, plan.duration_ms - 1)):
        plan.state_at(t)
