"""Bluetooth LE end to end: the real BleakScanner / BleakClient front ends and
bleak_retry_connector over the simulated radio, through massager_ctl.api and the CLI.
Judged from the simulated devices' own state. Virtual time, except the CLI tests
(the CLI's clock is real time; their profiles last two seconds).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from click.testing import CliRunner

from massager_ctl.api import connect
from massager_ctl.cli.main import main as cli_main
from massager_ctl.connection.ble_scan import scan_ble
from massager_ctl.connection.simulated_ble import default_devices
from massager_ctl.core.errors import DeviceDisconnected, DeviceError, UsageError
from massager_ctl.core.vocabulary import Technique, Zone
from massager_ctl.devices.registry import MODELS
from massager_ctl.devices.theragun import codec as tg
from massager_ctl.plan import Level, Plan, RollerStep
from massager_ctl.session.clock import run_virtual
from massager_ctl.session.limits import SafetyLimits
from massager_ctl.session.runner import Session
from massager_ctl.sim.ble_backend import SimulatedRadio
from massager_ctl.transport.ble import normalize_uuid

#: advertised name -> (model, advertised service) of every seeded simulated device
SEEDED = {
    "Pro": ("theragun-pro", "ffe0"),
    "Pulsetto Fit": ("pulsetto", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
    "MCTL-NUS": ("native-nus", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
    "MCTL-FFE0": ("native-ffe0", "ffe0"),
    "RT8600S": ("rongtai-rt8600s", "fff0"),
    "EVOLUTION-1A2B3C": ("infinity-evolution", "fff0"),
}


def short_plan(seconds: float = 30) -> Plan:
    ms = int(seconds * 1000)
    return Plan(
        name="short",
        roller=(
            RollerStep(
                0,
                ms,
                "tap",
                "test",
                Technique.TAP,
                frozenset({Zone.NECK, Zone.UPPER_BACK}),
                Level(20, 60),
                Level.constant(50),
            ),
        ),
    )


# --------------------------------------------------------------------------- scan


def test_scan_finds_every_simulated_model_by_its_real_name_and_service():
    rows = run_virtual(scan_ble(2.0, simulate=True))
    by_name = {r.name: r for r in rows}
    assert set(by_name) == set(SEEDED)
    for name, (model, service) in SEEDED.items():
        row = by_name[name]
        assert row.model == model and row.transport == "ble"
        assert normalize_uuid(service) in row.details["services"]
        assert row.uri == f"ble:{row.address}?model={model}"
        assert row.rssi is not None and -100 < row.rssi < 0


def test_scan_all_lists_unknown_devices_too():
    from massager_ctl.sim.ble_backend import Advertisement, SimDeviceSpec

    stranger = SimDeviceSpec("F0:5E:1A:00:00:77", Advertisement("Kettle", ("180f",)), (), "x:y")

    async def main():
        radio = SimulatedRadio([*default_devices(), stranger])
        from bleak import BleakScanner

        from massager_ctl.connection.ble_scan import found_row

        seen = await BleakScanner.discover(1.0, return_adv=True, backend=radio.scanner_backend)
        return [found_row(d, a) for d, a in seen.values()]

    rows = run_virtual(main())
    kettle = next(r for r in rows if r.name == "Kettle")
    assert kettle.model is None and kettle.uri == "ble:F0:5E:1A:00:00:77"
    # and scan_ble itself filters unknown devices unless asked
    assert all(r.model for r in run_virtual(scan_ble(1.0, simulate=True)))


# --------------------------------------------------------------------------- sessions


@pytest.mark.parametrize("name", list(SEEDED))
def test_a_short_profile_plays_on_each_model_and_the_device_ends_stopped(name):
    async def main():
        async with connect(f"ble:{name}", simulate_ble=True) as chair:
            sim = chair.simulator
            report = await chair.run(short_plan())
            worked = sim.physics.max_intensity_seen
            model = chair.model
            await asyncio.sleep(5)  # motors spin down, airbags vent
        return report, sim, worked, model

    report, sim, worked, model = run_virtual(main())
    assert report.reason == "finished" and report.stop_sent, report
    # As the model's facts say: guns and the Pulsetto cannot report their state, so their
    # stop is sent, not confirmed.
    assert report.stop_confirmed == MODELS[SEEDED[name][0]].safety.can_confirm_stop, report
    assert worked > 0, "the device never ran"
    assert sim.physics.target.is_stopped and sim.physics.stopped
    assert not sim.physics.heat_on
    assert any(e.kind == "stop" or "stop" in str(e.detail).lower() for e in sim.physics.trace)
    expected = SEEDED[name][0]
    assert model == expected or expected.startswith("native")  # native reports its own name


@pytest.mark.parametrize(
    "name, stays_running, says",
    [
        ("Pro", True, "may keep running"),  # unknown whether a gun stops: worst case
        ("Pulsetto Fit", True, "may keep stimulating"),  # no timer of its own
        ("RT8600S", True, "session timer"),  # runs on until its own timer ends the session
        ("MCTL-NUS", False, "deadman"),  # stops itself 1.5 s after the last frame
    ],
)
def test_forced_disconnect_mid_session_is_reported_honestly(name, stays_running, says):
    async def main():
        async with connect(f"ble:{name}", simulate_ble=True) as chair:
            sim = chair.simulator
            task = asyncio.create_task(chair.run(short_plan(60)))
            await asyncio.sleep(20)
            assert sim.physics.motors_on
            chair._opened.link.cut("walked out of range")
            with pytest.raises(DeviceDisconnected) as info:
                await task
            await asyncio.sleep(3)  # a native chair's deadman needs 1.5 s
            still = sim.physics.motors_on
            note = chair.device.link_loss_note
        return str(info.value), still, note, sim

    message, still, note, sim = run_virtual(main())
    assert "lost the link to" in message and "Bluetooth link lost" in message
    assert note in message  # what the person must know: the device's own account
    assert says in message
    assert still == stays_running
    if not stays_running:
        assert sim.physics.stopped


def test_driver_reconnects_after_a_loss():
    async def main():
        async with connect("ble:Pro", simulate_ble=True) as chair:
            link = chair._opened.link
            await chair.set(technique="tap", zones=["neck"], intensity=30, duration="5s")
            await chair.wait()
            link.cut("gone for a moment")
            await asyncio.sleep(0.1)
            lost = chair.device.connected
            await chair.device.connect()  # what --reconnect does: establish_connection again
            await chair.set(technique="tap", zones=["neck"], intensity=30, duration="3s")
            await chair.wait()
            await asyncio.sleep(2)  # spin down
            return lost, link.connections, chair.simulator, chair.device.transport.opens

    lost, connections, sim, opens = run_virtual(main())
    assert lost is False and connections == 2 and opens == 2
    assert sim.physics.stopped and sim.physics.max_rpm_seen > 0


def test_writer_keeps_to_the_model_gap_over_ble_with_the_latest_value():
    """A ramp the session offers 100 times a second reaches the gun's characteristic at
    the model's 100 ms gap, each write the newest value, never a backlog."""
    up_down = []
    t = 0
    for _ in range(3):
        up_down.append(
            RollerStep(
                t, 1000, "up", "r", Technique.TAP, frozenset({Zone.NECK}), Level(0, 100), Level.constant(50)
            )
        )
        up_down.append(
            RollerStep(
                t + 1000,
                1000,
                "down",
                "r",
                Technique.TAP,
                frozenset({Zone.NECK}),
                Level(100, 0),
                Level.constant(50),
            )
        )
        t += 2000
    up_down.append(
        RollerStep(
            t,
            1000,
            "hold",
            "r",
            Technique.TAP,
            frozenset({Zone.NECK}),
            Level.constant(37),
            Level.constant(50),
        )
    )
    plan = Plan(name="ramp", roller=tuple(up_down))

    async def main():
        limits = SafetyLimits(slew_per_s=100)  # the most any limits allow
        async with connect("ble:Pro", simulate_ble=True, limits=limits) as chair:
            peripheral = chair._opened.link
            session = Session(chair.device, chair.writer, chair.governor, plan, tick_s=0.01)
            start = len(peripheral.writes)
            report = await session.run()
            writes = list(peripheral.writes[start:])
            return report, writes, chair.writer.stats, session._t0, peripheral.spec.latency_s

    report, writes, stats, t0, latency = run_virtual(main())
    assert report.reason == "finished"
    assert all(w.response for w in writes)
    speeds = [(w.t, c.rpm) for w in writes if (c := tg.decode_command(w.data)).kind == "speed"]
    *running, (_, stop_rpm) = speeds
    assert stop_rpm == 0
    assert stats.submitted >= 600 and stats.max_waiting == 1
    assert stats.coalesced > 400  # the session offered far more than the link took
    times = [t for t, _ in running]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # The model's gap, plus the write's own round trip: never closer, never stalled.
    assert min(gaps) >= 0.1 - 1e-6
    ramp_gaps = [g for t, g in zip(times, gaps, strict=False) if t - t0 < 6.0]
    assert max(ramp_gaps) <= 0.1 + 2 * latency + 0.011
    assert 45 <= len(running) <= 70  # ~6 s of ramps at ~9 writes a second: no flood

    def offered(t: float) -> float:  # the plan's intensity at loop time t
        p = (t - t0) * 1000
        if p >= 6000:  # up from 0 at the slew limit (100 %/s), then held
            return min(37.0, (p - 6000) / 10)
        c = p % 2000
        return c / 10 if c < 1000 else 100 - (c - 1000) / 10

    for t, rpm in running[1:]:
        sent_at = t - latency  # the backend notes arrival; the writer sent it one hop earlier
        step = tg.step_for_rpm(rpm, 100, 3616)
        # The newest value at the moment of writing (within one 10 ms tick), not a stale one.
        assert abs(step - offered(sent_at)) <= 2.5, (round(sent_at - t0, 3), step, offered(sent_at))
    assert running[-1][1] == tg.rpm_for_step(37, 100, 3616)  # the latest value arrived


# --------------------------------------------------------------------------- errors


def test_unknown_name_and_bad_options_are_clear():
    with pytest.raises(DeviceError, match=r"no Bluetooth LE device 'Nope' found .*simulated devices: "):
        run_virtual(_open("ble:Nope?scan=1"))
    with pytest.raises(UsageError, match="needs an address or an advertised name"):
        run_virtual(_open("ble:"))
    with pytest.raises(UsageError, match="not known for model theragun-pro"):
        run_virtual(_open("ble:Pro?side=left"))
    with pytest.raises(UsageError, match="not reached over Bluetooth LE"):
        run_virtual(_open("ble:Pro?model=sim-chair"))
    with pytest.raises(UsageError, match="scan= must be"):
        run_virtual(_open("ble:Pro?scan=0"))


def test_model_option_overrides_recognition():
    async def main():
        async with connect("ble:F0:5E:1A:7A:6E:01?model=theragun-prime", simulate_ble=True) as chair:
            return chair.model, chair.device.max_rpm

    assert run_virtual(main()) == ("theragun-prime", 3584)


def test_wrong_model_forced_on_a_device_fails_at_connect_not_later():
    async def main():
        async with connect("ble:Pro?model=pulsetto", simulate_ble=True):
            pass

    with pytest.raises(DeviceError, match="no GATT service 6e400001"):
        run_virtual(main())


async def _open(uri):
    async with connect(uri, simulate_ble=True):
        pass


@pytest.mark.skipif(
    os.path.exists("/var/run/dbus/system_bus_socket"),
    reason="this computer has a D-Bus system bus: a real scan would run",
)
def test_no_radio_at_all_is_one_line_with_a_hint():
    with pytest.raises(DeviceError, match="Bluetooth is not available .*--simulate-ble"):
        run_virtual(_open_real("ble:Pro?scan=1"))


async def _open_real(uri):
    async with connect(uri):
        pass


def test_every_ble_model_has_a_layout_and_a_seeded_device():
    ble_models = {n for n, m in MODELS.items() if "ble" in m.schemes and m.ble is not None}
    seeded = {model for model, _ in SEEDED.values()}
    # Elite and Prime share the Pro's protocol; the RT6923's advertised name is unknown.
    assert ble_models - seeded <= {"theragun-elite", "theragun-prime", "rongtai-rt6923"}
    assert seeded <= ble_models


# --------------------------------------------------------------------------- the CLI


SHORT_PROFILE = """\
format = 1
name = "Short tap"
description = "Two seconds of tapping, for tests."
benefit = "relaxation"

[[segment]]
name = "tap"
duration = "2s"
technique = "tap"
zones = ["upper_back"]
intensity = 30
"""


@pytest.fixture
def new_user(tmp_path, monkeypatch):
    """A person with no config and no radio."""
    monkeypatch.setenv("MASSAGER_CTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_cli_scan_with_simulated_radio(new_user):
    result = CliRunner().invoke(cli_main, ["--simulate-ble", "scan", "--timeout", "0.5"])
    assert result.exit_code == 0, result.output
    for name, (model, _) in SEEDED.items():
        assert name in result.output and model in result.output
    result = CliRunner().invoke(cli_main, ["--simulate-ble", "--json", "scan", "--timeout", "0.5"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["type"] == "end" and all(d["type"] == "device" for d in lines[:-1])
    assert {d["name"] for d in lines if d.get("transport") == "ble"} == set(SEEDED)


def test_cli_run_status_stop_on_a_simulated_gun(new_user, monkeypatch):
    profile = new_user / "short.toml"
    profile.write_text(SHORT_PROFILE)
    trace = new_user / "trace.json"
    monkeypatch.setenv("MASSAGER_CTL_SIM_TRACE", str(trace))
    runner = CliRunner()
    result = runner.invoke(cli_main, ["--simulate-ble", "--device", "ble:Pro", "run", str(profile)])
    assert result.exit_code == 0, result.output
    final = json.loads(trace.read_text())
    assert final["target_stopped"] and not final["motors_on"]
    kinds = [e["kind"] for e in final["trace"] if e["kind"] != "query"]
    assert "command" in kinds and kinds[-1] == "stop"
    assert final["max_intensity_seen"] == 30

    result = runner.invoke(cli_main, ["--simulate-ble", "--device", "ble:Pro", "--json", "status"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["running"] is False

    result = runner.invoke(cli_main, ["--simulate-ble", "--device", "ble:Pro", "stop"])
    assert result.exit_code == 0, result.output


def test_cli_ble_without_simulation_or_radio_is_one_line(new_user):
    if os.path.exists("/var/run/dbus/system_bus_socket"):
        pytest.skip("this computer has a D-Bus system bus: a real scan would run")
    result = CliRunner().invoke(cli_main, ["--device", "ble:Pro?scan=1", "status"])
    assert result.exit_code == 1
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert lines[0].startswith("massager-ctl: Bluetooth is not available")
    assert "Traceback" not in result.output


def test_a_chair_sending_status_of_the_wrong_length_fails_at_connect_with_a_clear_error():
    from bleak.backends.device import BLEDevice

    from massager_ctl.transport.ble import BleTransport

    definition = MODELS["rongtai-rt8600s"]

    async def main():
        radio = SimulatedRadio(default_devices())
        peripheral = radio.by_name("RT8600S")
        # e.g. another firmware's status (1 byte and 10-12 bytes are this chair's own
        # info frames, taken as they come)
        peripheral.mangle = lambda frame: frame[:13]
        await peripheral.power_on()
        transport = BleTransport(
            BLEDevice(peripheral.address, "RT8600S", {}),
            definition.ble,
            name="RT8600S",
            backend=radio.client_backend,
        )
        device = definition.load("driver")(transport, min_write_gap_s=0.15, name=definition.name)
        try:
            await device.connect()
        finally:
            await radio.close()

    with pytest.raises(DeviceError) as info:
        run_virtual(main())
    text = str(info.value)
    assert "notification of 13 bytes" in text and "or 17 bytes" in text
    assert "\n" not in text


@pytest.mark.parametrize("name", ["Pro", "Pulsetto Fit", "RT8600S", "MCTL-FFE0"])
def test_fault_injector_disconnect_reaches_the_ble_link(name):
    from massager_ctl.sim.faults import FaultInjector

    async def main():
        faults = FaultInjector()
        faults.at(15.0, "disconnect")
        async with connect(f"ble:{name}", simulate_ble=True, faults=faults) as chair:
            with pytest.raises(DeviceDisconnected, match="lost the link"):
                await chair.run(short_plan(60))
            return chair._opened.link.cuts, chair.device.connected

    cuts, connected = run_virtual(main())
    assert cuts == ["fault injection: link cut"] and not connected


def test_missing_ble_packages_are_a_usage_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bleak_retry_connector" else real(name, *a),
    )
    with pytest.raises(UsageError, match="pip install bleak-retry-connector"):
        run_virtual(_open("ble:Pro"))
