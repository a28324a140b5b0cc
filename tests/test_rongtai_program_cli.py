"""`massager-ctl program`: a chair's built-in auto programs from the command line."""

from __future__ import annotations

import json

from conftest import sim_final


def test_list_names_the_chairs_programs(cli):
    result = cli("--device", "sim:rongtai-rt8600s", "program", "--list")
    assert result.exit_code == 0
    assert result.stdout.split() == [
        "recovery",
        "stretch",
        "relax",
        "pain-relief",
        "upper-body",
        "lower-body",
    ]


def test_list_asks_a_chair_the_uri_does_not_name_by_looking_only(cli):
    """A BLE name does not say the model: the chair is asked, on a connection that only
    looks (the programs come from the model it turns out to be)."""
    result = cli("--simulate-ble", "--device", "ble:RT8600S", "program", "--list")
    assert result.exit_code == 0, result.output
    assert "relax" in result.stdout.split()


def test_a_device_without_programs_is_a_clear_error(cli):
    for args in (("program", "--list"), ("program", "relax")):
        result = cli("--device", "sim:", *args)
        assert result.exit_code == 2
        assert "has no built-in programs" in result.stderr
        assert "Traceback" not in result.output


def test_unknown_program_and_bad_length_refused(cli):
    result = cli("--device", "sim:rongtai-rt8600s", "program", "nap")
    assert result.exit_code == 2 and "it has: recovery" in result.stderr
    result = cli(
        "--device", "sim:rongtai-rt8600s", "program", "relax", "--minutes", "15", "--time-scale", "max"
    )
    assert result.exit_code == 2 and "10, 20, 30 min" in result.stderr


def test_program_longer_than_the_session_cap_refused(cli):
    (cli.tmp / "config.toml").write_text('[caps]\nmax_session = "15m"\n')
    result = cli("--device", "sim:rongtai-rt8600s", "program", "relax", "--time-scale", "max")
    assert result.exit_code == 2
    assert "session cap" in result.stderr
    assert not cli.trace.exists()  # refused before anything was connected


def test_program_runs_until_the_chairs_own_timer(cli):
    result = cli(
        "--device", "sim:rongtai-rt8600s", "program", "relax", "--minutes", "10", "--time-scale", "max"
    )
    assert result.exit_code == 0, result.output
    assert "ended by the chair's own timer after 10:0" in result.stderr
    assert "device stopped (confirmed)" in result.stderr
    final = sim_final(cli.trace)
    assert final["target_stopped"] and not final["motors_on"] and not final["heat_on"]
    expired = [e for e in final["trace"] if e["kind"] == "timer" and e["detail"] == "expired"]
    assert len(expired) == 1 and 600 <= expired[0]["t"] <= 605
    assert any(e["kind"] == "timer" and e["detail"] == "set 10 min" for e in final["trace"])


def test_program_json_result(cli):
    result = cli("--json", "--device", "sim:rongtai-rt6923", "program", "stretch", "--time-scale", "max")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["type"] == "start" and lines[0]["model"] == "rongtai-rt6923"
    data = lines[-1]
    assert data["type"] == "end"
    assert data["program"] == "stretch" and data["stop_confirmed"] is True
    assert data["length_s"] == 1200 and 1200 <= data["elapsed_s"] <= 1210
    assert data["reason"] == "finished" and data["message"] == "ended by the chair's own timer"


def test_help_states_the_apis_default_length(cli):
    from massager_ctl.cli.program_cmds import DEFAULT_PROGRAM_MIN
    from massager_ctl.session.program import DEFAULT_PROGRAM_S

    assert DEFAULT_PROGRAM_MIN * 60 == DEFAULT_PROGRAM_S
    assert f"default {DEFAULT_PROGRAM_MIN}" in cli("program", "--help").output


def test_the_session_cap_is_the_governors_in_the_cli_too(cli):
    """Length = cap: stopped at the cap, before the chair's own timer, and said so."""
    (cli.tmp / "config.toml").write_text('[caps]\nmax_session = "10m"\n')
    result = cli(
        "--device", "sim:rongtai-rt8600s", "program", "relax", "--minutes", "10", "--time-scale", "max"
    )
    assert result.exit_code == 0, result.output
    assert "session reached the 10m cap" in result.stderr
    assert "device stopped (confirmed)" in result.stderr
    final = sim_final(cli.trace)
    assert final["target_stopped"] and not final["motors_on"]
    assert not any(e["kind"] == "timer" and e["detail"] == "expired" for e in final["trace"])
