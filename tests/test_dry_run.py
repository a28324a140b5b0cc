"""The dry run: a profile through session, governor, mapping and writer, against no device."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import dry_run
from massager_ctl.config import load_config
from massager_ctl.core.vocabulary import Heat
from massager_ctl.devices.dry_run import DryRunDevice
from massager_ctl.devices.mapping import CapabilityError
from massager_ctl.devices.native.reference import REFERENCE_CAPABILITIES
from massager_ctl.profile import load_plan
from massager_ctl.profile.library import resolve_profile
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.governor import SafetyGovernor
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import Session
from massager_ctl.session.writer import Writer


def test_a_script_sees_every_write_then_the_stop_in_virtual_time():
    writes, stops = [], []
    report = dry_run("quick", on_write=lambda t, s: writes.append((t, s)), on_stop=stops.append)
    assert report.reason == "finished" and report.plan_ms == 180_000
    assert writes and len(stops) == 1
    times = [t for t, _ in writes]
    assert times == sorted(times) and times[-1] <= stops[0] <= 181
    assert any(s.technique is not None and s.intensity > 0 for _, s in writes)


def test_the_governor_caps_what_a_dry_run_would_send():
    writes = []
    dry_run(
        "quick",
        limits=SafetyLimits(max_intensity=30, max_heat=Heat.OFF),
        on_write=lambda t, s: writes.append(s),
    )
    steps = REFERENCE_CAPABILITIES.intensity_steps
    assert writes and max(s.intensity for s in writes) <= int(0.30 * steps)
    assert all(s.heat is Heat.OFF for s in writes)


def test_strict_refuses_what_the_reference_chair_lacks_and_warns_otherwise():
    with pytest.raises(CapabilityError):
        dry_run(_thigh_plan(), strict=True)
    warnings = []
    report = dry_run(_thigh_plan(), on_warning=warnings.append)
    assert report.reason == "finished" and any("thighs" in w for w in warnings)


def _thigh_plan():
    from massager_ctl.core.target import STOPPED
    from massager_ctl.core.vocabulary import Technique, Zone
    from massager_ctl.session.runner import manual_plan

    return manual_plan(STOPPED.with_(technique=Technique.KNEAD, zones={Zone.THIGHS}, intensity=40), 5000)


def test_the_device_records_writes_for_a_session_of_ones_own():
    plan = load_plan(resolve_profile("quick", load_config()))

    async def main():
        device = DryRunDevice()
        writer = Writer(device)
        report = await Session(device, writer, SafetyGovernor(), plan).run()
        await writer.close()
        return device, report, asyncio.get_running_loop().time()

    device, report, _ = run_virtual(main())
    assert report.stop_confirmed
    assert device.writes[-1][1] is None  # the stop, last
    assert all(state is not None for _, state in device.writes[:-1])


# -- the chosen device (issue 15: a dry run renders for the device it names) -------------


def test_a_dry_run_renders_through_the_named_models_capabilities_and_gap():
    from massager_ctl.devices.registry import get_model

    rongtai = get_model("rongtai-rt8600s").static_capabilities()
    writes, warnings = [], []
    dry_run(
        "quick",
        device="sim:rongtai-rt8600s",
        on_write=lambda t, s: writes.append((t, s)),
        on_warning=warnings.append,
    )
    assert max(s.intensity for _, s in writes) <= rongtai.intensity_steps
    assert all(s.technique in rongtai.techniques for _, s in writes if s.technique)
    times = [t for t, _ in writes]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= get_model("rongtai-rt8600s").min_write_gap_s - 1e-9
    # a massage gun has no airbags, rollers or heat: what it will really get
    gun, notes = [], []
    dry_run("quick", device="theragun-pro", on_write=lambda t, s: gun.append(s), on_warning=notes.append)
    assert all(not s.airbags and s.heat is Heat.OFF for s in gun)
    assert any("no airbag" in n for n in notes)


def test_a_dry_run_refuses_a_device_whose_model_only_connecting_tells():
    from massager_ctl.core.errors import UsageError

    with pytest.raises(UsageError, match="model=NAME"):
        dry_run("quick", device="ble:AA:BB:CC:DD:EE:FF")
    with pytest.raises(UsageError, match="only when connected"):
        dry_run("quick", device="serial:/dev/null?model=native")
