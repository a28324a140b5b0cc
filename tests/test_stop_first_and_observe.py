"""Every stop reaches the device, and watching never changes it (issue 12), for every family
whose stop is not a toggle: native, nlr (HF8), theragun, pulsetto.

* Stop first: ``massager_ctl.stop(uri)`` (what ``massager-ctl stop`` runs) puts the stop's
  bytes on the line before it waits on anything the device says. Each device here never
  answers identification (every frame it sends is lost): the stop bytes still arrive at
  the device within 100 ms, measured where the device receives them, in virtual time.
* Observe: ``massager_ctl.observe(uri)`` (what ``massager-ctl status`` runs) sends only
  queries; a device running on its own (started at its remote, its button, another
  program) is still running after ten seconds of watching and after the chair closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import massager_ctl
from massager_ctl import api
from massager_ctl.connection.open import OpenedDevice
from massager_ctl.core.errors import StopNotConfirmed
from massager_ctl.core.status import DeviceState
from massager_ctl.core.vocabulary import Heat, Technique, Zone
from massager_ctl.devices.native.codec import Decoder, GetStatus, Stop, encode
from massager_ctl.devices.nlr.codec import all_off
from massager_ctl.devices.theragun.codec import STATUS_QUERY, STOP_FRAME
from massager_ctl.session.clock import run_virtual
from massager_ctl.sim.faults import FaultInjector

RUNNING = DeviceState(
    technique=Technique.KNEAD, zones=frozenset({Zone.SHOULDERS}), intensity=5, speed=2, heat=Heat.LOW
)


# --- starting each device "on its own", and what its stop looks like on the line ------------


def _start_chair(sim: Any, now: float) -> None:
    sim.remote(RUNNING)


def _start_pad(sim: Any, now: float) -> None:
    for motor in range(8):
        sim.physics.set(motor, 180, now)


def _start_gun(sim: Any, now: float) -> None:
    sim.physics.set_speed(2000, now - 10.0, "its own button, ten seconds ago")  # spun up


def _start_pulsetto(sim: Any, now: float) -> None:
    body = sim.physics
    body.running, body.intensity = True, 6
    body.record(now, "command", "started at the device")


def _running(sim: Any) -> bool:
    return bool(sim.physics.motors_on)


FAMILIES: dict[str, tuple[Callable[[Any, float], None], bytes]] = {
    # uri: (start it on its own, the first bytes of its stop)
    "sim:sim-chair": (_start_chair, encode(Stop(0))),
    "sim:nlr-hf8": (_start_pad, b"".join(all_off())),
    "sim:theragun-pro": (_start_gun, STOP_FRAME),
    "sim:pulsetto": (_start_pulsetto, b"+\n"),
}


def _tapping(monkeypatch: pytest.MonkeyPatch, start: Callable[[Any, float], None]) -> dict[str, Any]:
    """Make api's open_device start the device on its own and record, with their times,
    the bytes that reach the device's end of the link."""
    seen: dict[str, Any] = {"arrivals": []}
    real_open = api.open_device

    async def open_device(uri: str | None = None, **kwargs: Any) -> OpenedDevice:
        opened = await real_open(uri, **kwargs)
        loop = asyncio.get_running_loop()
        end = opened.link.device
        deliver = end._receiver

        def tap(data: bytes) -> None:
            seen["arrivals"].append((loop.time(), bytes(data)))
            deliver(data)

        end.set_receiver(tap)
        start(opened.simulator, loop.time())
        seen["sim"] = opened.simulator
        return opened

    monkeypatch.setattr(api, "open_device", open_device)
    return seen


# --- stop first ---------------------------------------------------------------------------


@pytest.mark.parametrize("uri", list(FAMILIES))
def test_a_device_that_never_answers_still_gets_its_stop_within_100_ms(uri, monkeypatch):
    start, stop_bytes = FAMILIES[uri]
    seen = _tapping(monkeypatch, start)
    faults = FaultInjector()
    faults.drop_outgoing()  # whatever the device says never arrives: no identification

    async def main():
        t0 = asyncio.get_running_loop().time()
        try:
            status = await massager_ctl.stop(uri, faults=faults)
        except StopNotConfirmed as exc:
            status = exc
        return t0, status

    t0, outcome = run_virtual(main())
    first_at, first = seen["arrivals"][0]
    assert first.startswith(stop_bytes), (first, stop_bytes)  # nothing went out before it
    assert first_at - t0 <= 0.1
    assert not _running(seen["sim"])  # and the device did stop
    if uri == "sim:sim-chair":
        assert isinstance(outcome, StopNotConfirmed)  # a chair that reports must confirm
    else:
        assert not outcome.confirmed  # sent; the device said nothing to confirm it


@pytest.mark.parametrize("uri", list(FAMILIES))
def test_a_stop_to_a_device_that_answers_is_first_on_the_line_and_then_confirmed_if_it_can_be(
    uri, monkeypatch
):
    start, stop_bytes = FAMILIES[uri]
    seen = _tapping(monkeypatch, start)
    status = run_virtual(massager_ctl.stop(uri))
    assert seen["arrivals"][0][1].startswith(stop_bytes)
    assert status.stopped and not _running(seen["sim"])
    # The chair reports its state; the pad answers P after the zeros; the gun's status
    # reply shows it stopped; the Pulsetto cannot say.
    assert status.confirmed == (uri != "sim:pulsetto")


# --- observe ------------------------------------------------------------------------------------


def _only_queries(uri: str, arrivals: list[tuple[float, bytes]]) -> None:
    data = b"".join(d for _, d in arrivals)
    if uri == "sim:sim-chair":
        msgs = Decoder().feed(data)
        assert msgs and all(isinstance(m, GetStatus) for m in msgs), msgs
    elif uri == "sim:nlr-hf8":
        assert data and set(data.split(b"\r")) <= {b"P", b""}, data
    elif uri == "sim:theragun-pro":
        assert data and data == STATUS_QUERY * (len(data) // len(STATUS_QUERY)), data
    else:
        assert data and set(data.split(b"\n")) <= {b"Q", b""}, data


@pytest.mark.parametrize("uri", list(FAMILIES))
def test_watching_for_10_s_changes_nothing(uri, monkeypatch):
    start, _ = FAMILIES[uri]
    seen = _tapping(monkeypatch, start)

    async def main():
        statuses = []
        loop = asyncio.get_running_loop()
        async with massager_ctl.observe(uri) as chair:
            t0 = loop.time()
            async for status in chair.watch(0.5):
                statuses.append(status)
                if loop.time() - t0 >= 10.0:
                    break
            before_close = _running(seen["sim"])
        await asyncio.sleep(5.0)  # long after: no deadman armed, nothing stopped it
        trace = [e.kind for e in seen["sim"].physics.trace]
        return statuses, before_close, _running(seen["sim"]), trace

    statuses, before_close, after, trace = run_virtual(main())
    assert len(statuses) >= 20
    assert before_close and after
    assert "stop" not in trace
    _only_queries(uri, seen["arrivals"])
    if uri in ("sim:nlr-hf8", "sim:pulsetto"):  # they do not report what they run
        assert all(s.running is None and s.to_dict()["running"] == "unknown" for s in statuses)
        assert all(s.to_dict()["confirmed"] is False for s in statuses)
    else:
        assert all(s.running is True and s.confirmed for s in statuses)


def test_an_observing_chair_refuses_to_drive_or_stop():
    async def main():
        async with massager_ctl.observe("sim:") as chair:
            for call in (chair.stop(), chair.set(technique="knead", zones=["shoulders"], intensity=30)):
                with pytest.raises(massager_ctl.api.UsageError, match="observe"):
                    await call
            return chair.simulator.received

    received = run_virtual(main())
    assert received == []  # not even a query: nothing was asked


# --- the CLI, against a chair on a serial line (as a person would) -------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
def test_status_twice_then_watch_on_a_chair_running_its_own_program(cli):
    """`massager-ctl status`, then `status` again, then `status --watch`, against a chair
    whose program was started at its own remote: it is still running after each, and it
    heard nothing but GET_STATUS (no HELLO to arm its deadman, no STOP on the way out)."""
    pytest.importorskip("serial")
    from massager_ctl.cli.simulate_cmds import serve_on_pty
    from massager_ctl.devices.registry import MODELS

    box: dict[str, Any] = {}
    ready = threading.Event()

    def serve() -> None:
        async def main() -> None:
            port, sim = await serve_on_pty(MODELS["sim-chair"])
            sim.remote(RUNNING)
            box.update(port=port, sim=sim, loop=asyncio.get_running_loop(), done=asyncio.Event())
            ready.set()
            await box["done"].wait()
            await sim.close()
            port.unplug()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)

    async def look() -> tuple[DeviceState, list[type]]:
        sim = box["sim"]
        return sim.physics.target, [type(m) for _, m in sim.received]

    def sim_state() -> tuple[DeviceState, list[type]]:
        return asyncio.run_coroutine_threadsafe(look(), box["loop"]).result(5)

    uri = f"serial:{box['port'].path}?model=sim-chair"
    try:
        first = cli("--device", uri, "--json", "status")
        after_first = sim_state()
        second = cli("--device", uri, "--json", "status")
        watch = cli("--device", uri, "status", "--watch", "--count", "3", "--interval", "0.1")
        final = sim_state()
    finally:
        box["loop"].call_soon_threadsafe(box["done"].set)
        thread.join(10)
    for result in (first, second, watch):
        assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(first.stdout)["running"] is True and json.loads(second.stdout)["running"] is True
    assert json.loads(second.stdout)["confirmed"] is True
    assert len([line for line in watch.stdout.splitlines() if line.startswith("running: yes")]) == 3
    assert after_first[0] == RUNNING and final[0] == RUNNING
    assert set(final[1]) == {GetStatus}
