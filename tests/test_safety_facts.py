"""Each model's safety facts (ModelDefinition.safety): stated for every model, consistent
in themselves, and what the drivers say when the link is lost."""

from __future__ import annotations

import pytest

from massager_ctl.devices.model import UNKNOWN_SAFETY, OnLinkLoss, SafetyFacts, StopConfirmation
from massager_ctl.devices.registry import MODELS


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_states_its_own_safety_facts(name):
    facts = MODELS[name].safety
    assert facts is not UNKNOWN_SAFETY, f"{name}: no SafetyFacts: it would be taken to keep running"
    assert facts.link_loss_note()  # a person is always told something


def test_facts_that_contradict_themselves_are_refused():
    with pytest.raises(ValueError, match="deadman"):
        SafetyFacts(OnLinkLoss.KEEPS_RUNNING, StopConfirmation.NONE, deadman_s=1.5, link_loss="x")
    with pytest.raises(ValueError, match="deadman"):
        SafetyFacts(OnLinkLoss.STOPS_BY_DEADMAN, StopConfirmation.STATUS)
    with pytest.raises(ValueError, match="chair timer"):
        SafetyFacts(OnLinkLoss.STOPS_AT_CHAIR_TIMER, StopConfirmation.STATUS)
    with pytest.raises(ValueError, match="chair timer"):
        SafetyFacts(OnLinkLoss.STOPS_BY_DEADMAN, StopConfirmation.STATUS, deadman_s=1, chair_timer_s=(600,))
    with pytest.raises(ValueError, match="what the person should do"):
        SafetyFacts(OnLinkLoss.KEEPS_RUNNING, StopConfirmation.NONE)


def test_the_link_loss_note_names_what_is_in_force():
    deadman = SafetyFacts(OnLinkLoss.STOPS_BY_DEADMAN, StopConfirmation.ACK_AND_STATUS, deadman_s=1.5)
    assert deadman.link_loss_note() == "its deadman stops it after 1.5 s without frames"
    assert deadman.link_loss_note(deadman_s=3) == "its deadman stops it after 3 s without frames"
    timer = SafetyFacts(
        OnLinkLoss.STOPS_AT_CHAIR_TIMER, StopConfirmation.STATUS, chair_timer_s=(600, 1200), link_loss="more"
    )
    assert timer.link_loss_note() == (
        "the chair's own session timer (10/20 min, set at the start) ends the session; more"
    )
    assert timer.link_loss_note(timer_s=1200).startswith("the chair's own session timer (20 min,")


@pytest.mark.parametrize("name", list(MODELS))
def test_the_driver_says_on_link_loss_what_its_model_states(name):
    """The link-loss message (each driver's link_loss_note, said after "lost the link to
    ...;") is read from the model's facts, with the deadman period or chair timer the
    driver has in force."""
    from massager_ctl.transport.memory import MemoryLink

    definition = MODELS[name]
    device = definition.load("driver")(
        MemoryLink().host, min_write_gap_s=definition.min_write_gap_s, name=name
    )
    deadman_ms = getattr(device, "deadman_ms", None)
    expected = definition.safety.link_loss_note(
        deadman_s=deadman_ms / 1000 if deadman_ms else None, timer_s=getattr(device, "timer_s", None)
    )
    assert device.link_loss_note == expected
