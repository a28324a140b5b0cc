"""docs/safety.md's table of what each device does without its host is each model's
safety facts (ModelDefinition.safety), rendered: this test fails when the two differ.

``python tests/test_safety_doc.py`` rewrites the table from the definitions.
"""

from __future__ import annotations

import re
from pathlib import Path

from massager_ctl.devices.model import ModelDefinition, OnLinkLoss, SafetyFacts, StopConfirmation
from massager_ctl.devices.registry import MODELS

DOC = Path(__file__).resolve().parent.parent / "docs" / "safety.md"
BEGIN = "<!-- safety-facts: begin (generated from each ModelDefinition.safety; tests/test_safety_doc.py) -->"
END = "<!-- safety-facts: end -->"

CONFIRMED_BY = {
    StopConfirmation.ACK_AND_STATUS: "ACK, then a STATUS showing it stopped",
    StopConfirmation.STATUS: "its status (sent by itself or asked for) showing it stopped",
    StopConfirmation.REPLY: "its answer after the stop (no levels in it)",
    StopConfirmation.NONE: "**not confirmed**: sent only",
}


def _minutes(seconds: tuple[int, ...]) -> str:
    return "/".join(f"{s // 60}" for s in seconds) + " min"


def _without_host(facts: SafetyFacts) -> str:
    if facts.on_link_loss is OnLinkLoss.STOPS_BY_DEADMAN:
        return f"its **deadman** stops it {facts.deadman_s:g} s after the host's last frame"
    if facts.on_link_loss is OnLinkLoss.STOPS_AT_CHAIR_TIMER:
        return f"runs on until **its own session timer** ({_minutes(facts.chair_timer_s)}) ends the session"
    return "**keeps running**: nothing known stops it"


def _row(models: list[ModelDefinition]) -> str:
    facts = models[0].safety
    names = ", ".join(f"`{m.name}`" for m in models)
    cells = (
        f"{models[0].protocol}: {names}",
        _without_host(facts),
        f"every {facts.status_every_s:g} s" if facts.status_every_s else "none",
        CONFIRMED_BY[facts.stop_confirmed_by],
        facts.link_loss_note(),
    )
    return "| " + " | ".join(cells) + " |"


def render() -> str:
    """The table: one row per run of models (registry order) of one family with the same facts."""
    groups: list[list[ModelDefinition]] = []
    for model in MODELS.values():
        last = groups[-1][0] if groups else None
        if last is not None and (last.protocol, last.safety) == (model.protocol, model.safety):
            groups[-1].append(model)
        else:
            groups.append([model])
    head = (
        "| models | without the host | status of its own | a stop is confirmed by "
        "| the link-loss error says |\n"
        "|---|---|---|---|---|"
    )
    return "\n".join([BEGIN, head, *(_row(g) for g in groups), END])


def _block(text: str) -> str:
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    assert found, f"{DOC}: no generated safety-facts table between {BEGIN!r} and {END!r}"
    return found.group(0)


def test_the_safety_doc_table_is_the_models_facts():
    expected = render()
    assert _block(DOC.read_text(encoding="utf-8")) == expected, (
        "docs/safety.md's table differs from the models' safety facts; "
        f"run `python tests/test_safety_doc.py` to rewrite it as:\n{expected}"
    )


def test_every_model_is_in_the_table():
    table = _block(DOC.read_text(encoding="utf-8"))
    assert all(f"`{name}`" in table for name in MODELS)


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(text.replace(_block(text), render()), encoding="utf-8")
    print(f"rewrote the safety-facts table in {DOC}")
