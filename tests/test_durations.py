"""The one duration parser: profiles, the config, `--for` and the API's ``duration=``."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.api import connect
from massager_ctl.core.durations import DurationError, format_duration, parse_duration, parse_length
from massager_ctl.core.errors import UsageError
from massager_ctl.session.clock import run_virtual


@pytest.mark.parametrize(
    "text,ms", [("90s", 90_000), ("2m30s", 150_000), ("1h", 3_600_000), ("1.5s", 1500), ("250ms", 250)]
)
def test_parse_duration_reads_units_largest_first(text, ms):
    assert parse_duration(text) == ms
    assert parse_duration(format_duration(ms)) == ms


@pytest.mark.parametrize("text", ["30s2m", "2 mins", "", "5", "1m1m"])
def test_parse_duration_refuses_what_is_not_a_duration(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize("value,ms", [("5m", 300_000), (90, 90_000), (1.5, 1500), (0.001, 1)])
def test_parse_length_takes_text_or_seconds(value, ms):
    assert parse_length(value) == ms


@pytest.mark.parametrize(
    "value,message",
    [
        ("0s", "too short"),
        (0, "too short"),
        (-5, "too short"),
        (float("nan"), "not a length of time"),
        (float("inf"), "not a length of time"),
        (True, "not a length of time"),
        (None, "not a length of time"),
        ("soon", "not a duration"),
        ("1" * 400 + "s", "too long"),
    ],
)
def test_parse_length_refuses_with_a_message(value, message):
    with pytest.raises(DurationError, match=message):
        parse_length(value)


def test_the_api_reads_duration_through_the_same_parser():
    async def main():
        async with connect("sim:") as chair:
            for bad in ("soon", 0, "0s", -1):
                with pytest.raises(UsageError, match="duration"):
                    await chair.set(heat="low", duration=bad)
            await chair.set(heat="low", duration="2s")
            start = asyncio.get_running_loop().time()
            report = await chair.wait()
            return report, asyncio.get_running_loop().time() - start

    report, took = run_virtual(main())
    assert report.reason == "finished" and report.plan_ms == 2000 and took < 3


def test_the_cli_reads_for_through_the_same_parser(cli):
    for bad in ("soon", "0s", "30s2m"):
        result = cli("set", "--heat", "low", "--for", bad)
        assert result.exit_code == 2 and "--for" in result.output + result.stderr, result.output
        assert "Traceback" not in result.output
    result = cli("--json", "set", "--heat", "low", "--for", "1m30s", "--time-scale", "max")
    assert result.exit_code == 0
    assert '"plan_ms":90000' in result.stdout.splitlines()[-1]  # the end record
