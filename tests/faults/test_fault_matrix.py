"""The fault matrix: every simulated model x every fault x several points of a session.

Each case plays a short plan through the whole control path against the model's own
simulator (virtual time), injects one fault, and judges the outcome from the
SIMULATOR's state only: the device is off (motors, heat) by the fault's deadline and
fully stopped (airbags vented) VENT_S later, never was commanded above the cap, and
the host never claimed a confirmed stop while the device still ran. The deadlines are
data in bounds.py (see its docstring); the harness is fault_kit.py.

A model joins the matrix when its simulator lands (it has a ``sim:`` URI). A case is
skipped only when the fault cannot exist for the protocol (no checksum to corrupt, no
NAK, no status of its own); a device whose model's safety facts say it keeps running
once cut off from its host is a strict xfail that says so.
"""

from __future__ import annotations

import pytest
from bounds import FAULTS
from fault_kit import (
    SIM_MODELS,
    definition,
    judge,
    points_for,
    problems,
    run_guarded,
    run_scenario,
    safety,
    skip_reason,
    unprotected,
)


def _cases():
    for model in SIM_MODELS:
        for fault in FAULTS.values():
            reason = skip_reason(model, fault)
            if reason is not None:
                yield pytest.param(
                    model, fault.name, "-", id=f"{model}-{fault.name}", marks=pytest.mark.skip(reason=reason)
                )
                continue
            for point in points_for(model, fault):
                marks = []
                if unprotected(model, fault):
                    marks.append(
                        pytest.mark.xfail(
                            strict=True,
                            raises=AssertionError,
                            reason=(
                                f"not protected: {model} ({definition(model).protocol}) has no "
                                "deadman and no chair timer, so once its host is cut off it keeps "
                                f"running: {safety(model).link_loss_note()} (docs/safety.md)"
                            ),
                        )
                    )
                yield pytest.param(model, fault.name, point, id=f"{model}-{fault.name}-{point}", marks=marks)


@pytest.mark.parametrize("model, fault, point", list(_cases()))
def test_fault(model, fault, point):
    judge(run_guarded(run_scenario(model, fault, point)))


def test_every_simulated_model_is_in_the_matrix():
    """The registry decides who is tested: no model with a ``sim:`` URI is left out."""
    from massager_ctl.devices.registry import MODELS

    simulated = {n for n, m in MODELS.items() if m.simulator and "sim" in m.schemes}
    assert simulated and simulated == set(SIM_MODELS)
    assert "sim-chair" in SIM_MODELS


def test_a_broken_bound_is_caught():
    """The judge is not a rubber stamp: a deadline before the device's stop is a failure."""
    out = run_guarded(run_scenario("sim-chair", "cable-pulled", "mid-segment"))
    assert problems(out) == ([], [])
    out.deadline = out.t_fault + 0.5  # the deadman takes 1.5 s: 0.5 s is too short
    assert "motors or heat still on at the deadline" in problems(out)[1]
    out.cap_steps -= 1
    assert any("above the cap" in p for p in problems(out)[0])
