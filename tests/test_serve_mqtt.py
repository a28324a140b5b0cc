"""`serve --mqtt` against a real Mosquitto broker (Debian's mosquitto, on a free loopback
port with its own config): Home Assistant discovery, commands, safety when the broker
goes away, stale commands, several hosts on one broker.

The service runs in this loop on a sped-up clock (the simulated chair keeps pace); the
"Home Assistant" here is a plain MQTT client that does what Home Assistant does: reads
the retained configs, and publishes to their command topics through their command
templates (rendered here as Home Assistant renders them: the value and the time).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import aiomqtt
import pytest
from servekit import Broker, broker, chair_off, mosquitto, running_service, until  # noqa: F401 - broker is a fixture

from massager_ctl.api import connect
from massager_ctl.core.errors import UsageError
from massager_ctl.service.settings import parse_mqtt_url
from massager_ctl.session.clock import ScaledClock

pytestmark = pytest.mark.slow
SCALE = 20.0
PREFIX = "homeassistant"
TOPIC_RE = re.compile(
    r"^homeassistant/(button|select|number|switch|sensor)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$"
)


def run(coro):
    return ScaledClock(SCALE).run(coro)


class HomeAssistant:
    """A broker client that keeps the last message of every topic and all errors."""

    def __init__(self, port: int) -> None:
        self.client = aiomqtt.Client("127.0.0.1", port, identifier=f"fake-ha-{time.monotonic_ns()}")
        self.last: dict[str, bytes] = {}
        self.retained_at_subscribe: dict[str, bytes] = {}
        self.log: list[tuple[str, bytes, bool]] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> HomeAssistant:
        await self.client.__aenter__()
        await self.client.subscribe([(f"{PREFIX}/#", 1), ("massager-ctl/#", 1)])
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for m in self.client.messages:
            payload = bytes(m.payload or b"")  # type: ignore[arg-type]
            topic = str(m.topic)
            self.last[topic] = payload
            if m.retain:
                self.retained_at_subscribe[topic] = payload
            self.log.append((topic, payload, m.retain))

    def state(self, device: str = "chair", node: str = "test-node") -> dict:
        raw = self.last.get(f"massager-ctl/{node}/{device}/state")
        return json.loads(raw) if raw else {}

    def configs(self) -> dict[str, dict]:
        return {t: json.loads(p) for t, p in self.last.items() if t.endswith("/config") and p}

    def errors(self, device: str = "chair", node: str = "test-node") -> list[dict]:
        topic = f"massager-ctl/{node}/{device}/error"
        return [json.loads(p) for t, p, _ in self.log if t == topic]

    async def send(self, topic: str, value, *, ts: float | None = None, retain: bool = False) -> None:
        """What Home Assistant publishes through the configs' command_template."""
        payload = json.dumps({"value": value, "ts": time.time() if ts is None else ts})
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def press(self, key: str, device: str = "chair", node: str = "test-node", **kw) -> None:
        await self.send(f"massager-ctl/{node}/{device}/set/{key}", "PRESS", **kw)


def cmd(key: str, device: str = "chair", node: str = "test-node") -> str:
    return f"massager-ctl/{node}/{device}/set/{key}"


# -- discovery ----------------------------------------------------------------------------------

DURATION_UNITS = {"d", "h", "min", "s", "ms"}
TEMPERATURE_UNITS = {"°C", "°F", "K"}


def check_config(topic: str, c: dict) -> None:
    """Home Assistant's MQTT discovery schema, the parts a config can get wrong
    (home-assistant/core homeassistant/components/mqtt/{schemas,button,select,number,
    switch,sensor}.py; the MQTT docs pages for each platform)."""
    component = topic.split("/")[1]
    assert TOPIC_RE.match(topic), topic
    assert isinstance(c.get("unique_id"), str) and c["unique_id"], topic
    device = c["device"]
    assert device["identifiers"] and all(isinstance(i, str) for i in device["identifiers"])
    assert c["origin"]["name"]
    assert not ("availability" in c and "availability_topic" in c), "mutually exclusive"
    assert all(a["topic"] for a in c["availability"])
    assert c.get("availability_mode") in ("all", "any", "latest")
    for key, value in c.items():
        if key.endswith("topic"):
            assert (
                isinstance(value, str) and "+" not in value and "#" not in value and not value.startswith("~")
            )
    if "command_topic" in c:
        assert c["retain"] is False  # commands Home Assistant sends are never retained
        assert "ts" in c["command_template"] and "value" in c["command_template"]
    required = {
        "button": ("command_topic",),
        "select": ("command_topic", "options"),
        "number": ("command_topic",),
        "switch": ("command_topic",),
        "sensor": ("state_topic",),
    }[component]
    for key in required:
        assert key in c, (topic, key)
    if component == "select":
        assert c["options"] and all(isinstance(o, str) for o in c["options"])
    if component == "number":
        assert c["min"] < c["max"] and c["step"] > 0
        assert c["min"] == 0  # Home Assistant's default is 1: a cap of 0 must be reachable
    if component == "sensor":
        dc = c.get("device_class")
        if dc == "enum":
            assert c["options"] and "unit_of_measurement" not in c and "state_class" not in c
        if dc == "duration":
            assert c["unit_of_measurement"] in DURATION_UNITS
        if dc == "temperature":
            assert c["unit_of_measurement"] in TEMPERATURE_UNITS
    if c.get("entity_category") is not None:
        assert c["entity_category"] in ("config", "diagnostic")


def template_keys(c: dict) -> set[str]:
    return set(re.findall(r"value_json\.(\w+)", c.get("value_template", "")))


def test_discovery_configs_appear_and_match_the_schema(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            bridge = service.bridge
            await until(lambda: bridge.connected.is_set(), what="the bridge")
            async with HomeAssistant(broker.port) as ha:
                expected = set(bridge.published_configs)
                await until(lambda: expected <= set(ha.configs()), what="every config")
                await until(lambda: ha.state().get("state") == "idle", what="the state")
                return ha.configs(), ha.state(), ha.retained_at_subscribe

    configs, state, retained = run(main())
    assert all(t in retained for t in configs), "configs are retained"
    components = {t.split("/")[1] for t in configs}
    assert components == {"button", "select", "number", "switch", "sensor"}
    ids = [c["unique_id"] for c in configs.values()]
    assert len(ids) == len(set(ids))
    for topic, c in configs.items():
        check_config(topic, c)
        missing = template_keys(c) - set(state)
        assert not missing, f"{topic} reads {missing}, which the state lacks"
        if c.get("options") and c.get("device_class") == "enum":
            assert state["state"] in c["options"]
    names = {c["name"] for c in configs.values()}
    assert {"Profile", "Start", "Stop", "Pause", "Resume", "Skip segment", "Intensity cap", "Heat"} <= names
    assert {"State", "Segment", "Time remaining", "Intensity", "Heater temperature", "Airbags"} <= names
    assert "Last session end" in names
    profile = next(c for c in configs.values() if c["name"] == "Profile")
    assert "quick" in profile["options"]
    cap = next(c for c in configs.values() if c["name"] == "Intensity cap")
    assert cap["max"] == 100 and cap["unit_of_measurement"] == "%"
    assert retained["massager-ctl/test-node/status"] == b"online"
    assert retained["massager-ctl/test-node/chair/availability"] == b"online"


def test_a_chair_with_programs_and_moves_gets_their_entities(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(
            {"recliner": "sim:rongtai-rt8600s"}, tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE
        ) as service:
            bridge = service.bridge
            await until(lambda: bridge.connected.is_set(), what="the bridge")
            return bridge.published_configs, service.devices["recliner"].programs

    configs, programs = run(main())
    for topic, c in configs.items():
        check_config(topic, c)
    by_name = {c["name"]: c for c in configs.values()}
    assert by_name["Chair program"]["options"] == list(programs) and programs
    assert {"Recline", "Sit up", "Zero gravity"} <= set(by_name)


# -- commands ------------------------------------------------------------------------------------


def test_start_a_profile_watch_it_move_cap_it_and_stop_it(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            steps = served.capabilities.intensity_steps
            await until(lambda: service.bridge.connected.is_set(), what="the bridge")
            async with HomeAssistant(broker.port) as ha:
                await ha.send(cmd("profile"), "quick")
                await until(lambda: ha.state().get("profile_selected") == "quick", what="the selection")
                await ha.press("start")
                await until(
                    lambda: ha.state().get("state") == "playing" and ha.state().get("segment"), what="playing"
                )
                first = ha.state()
                await until(
                    lambda: ha.state().get("segment") == "knead", timeout=120, what="the second segment"
                )
                later = ha.state()
                await until(
                    lambda: sim.physics.target.intensity > round(steps * 0.2), what="above the cap-to-be"
                )
                await ha.send(cmd("intensity_cap"), 20)
                await until(
                    lambda: sim.physics.target.intensity <= round(steps * 0.2), what="the cap to bite"
                )
                await until(
                    lambda: ha.state().get("intensity_cap") == 20 and ha.state()["intensity"] <= 20,
                    what="the cap and the capped intensity in the state",
                )
                capped = ha.state()
                await ha.press("stop")
                await until(lambda: ha.state().get("state") == "idle", what="idle")
                return first, later, capped, ha.state(), chair_off(sim), ha.errors()

    first, later, capped, end, stopped, errors = run(main())
    assert errors == []
    assert first["profile"] == "Quick tour" and first["segment"] == "warm-up"
    assert later["remaining_s"] < first["remaining_s"]
    assert capped["intensity"] <= 20
    assert end["last_end"] == "stopped" and stopped


def test_bad_payloads_get_an_error_message_and_move_nothing(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            sim = service.devices["chair"].opened.simulator
            await until(lambda: service.bridge.connected.is_set(), what="the bridge")
            async with HomeAssistant(broker.port) as ha:
                bad = [
                    (cmd("intensity_cap"), "lots"),
                    (cmd("intensity_cap"), 250),
                    (cmd("start"), "no-such-profile"),
                    (cmd("start"), "../../../etc/passwd"),
                    (cmd("start"), "PRESS"),  # nothing selected
                    (cmd("heat"), "MAYBE"),
                    (cmd("pause"), "PRESS"),  # nothing plays
                    (cmd("program"), "shiatsu-deluxe"),  # this chair has none
                    (cmd("launch"), "PRESS"),
                ]
                for topic, value in bad:
                    await ha.send(topic, value)
                await ha.client.publish(cmd("intensity_cap"), b"{not json", qos=1)
                # NaN is neither old nor new: it must not pass the age check
                await ha.client.publish(cmd("start"), b'{"value": "quick", "ts": NaN}', qos=1)
                await until(lambda: len(ha.errors()) == len(bad) + 2, what="an error for each")
                await until(lambda: ha.state().get("last_error"), what="last_error in the state")
                return (
                    ha.errors(),
                    sim.physics.max_intensity_seen,
                    sim.physics.heat_on,
                    service.devices["chair"].job,
                )

    errors, seen, heat_on, job = run(main())
    assert all(e["error"] and "\n" not in e["error"] and "Traceback" not in e["error"] for e in errors)
    assert seen == 0 and not heat_on and job is None


def test_a_stale_retained_command_is_ignored_and_cleared(tmp_path, broker):  # noqa: F811
    async def main():
        # Someone's script left a retained "start" (the Tasmota foot-gun) before we started.
        async with aiomqtt.Client("127.0.0.1", broker.port) as other:
            await other.publish(cmd("start"), "quick", qos=1, retain=True)
            await other.publish(cmd("heat"), "ON", qos=1, retain=True)
        async with HomeAssistant(broker.port) as ha:
            async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
                served = service.devices["chair"]
                await until(lambda: len(ha.errors()) == 2, what="both refused")
                # A command queued somewhere and delivered late (it says when it was sent).
                await ha.send(cmd("heat"), "ON", ts=time.time() - 60)
                await until(lambda: len(ha.errors()) == 3, what="the late one refused")
                # Cleared: a fresh subscriber finds no retained command.
                async with aiomqtt.Client("127.0.0.1", broker.port) as late:
                    await late.subscribe("massager-ctl/test-node/chair/set/#")
                    got = []
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.5 * SCALE):
                            async for m in late.messages:
                                got.append(str(m.topic))
                return served.job, served.last_end.reason, served.opened.simulator.physics, got, ha.errors()

    job, last_end, physics, retained_left, errors = run(main())
    assert job is None and last_end == "" and physics.max_intensity_seen == 0 and not physics.heat_on
    assert retained_left == []
    assert ["retained" in e["error"] for e in errors] == [True, True, False]
    assert "60 s ago" in errors[2]["error"]


def test_a_late_stop_is_still_a_stop(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            sim = service.devices["chair"].opened.simulator
            await until(lambda: service.bridge.connected.is_set(), what="the bridge")
            async with HomeAssistant(broker.port) as ha:
                await ha.send(cmd("start"), "quick")
                await until(lambda: sim.physics.motors_on, what="the chair to start")
                await ha.send(cmd("stop"), "PRESS", ts=time.time() - 600)
                await until(
                    lambda: service.devices["chair"].job is None and sim.physics.stopped, what="stopped"
                )

    run(main())


def test_home_assistant_restarting_gets_discovery_and_state_again(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            await until(lambda: service.bridge.connected.is_set(), what="the bridge")
            async with HomeAssistant(broker.port) as ha:
                await until(lambda: ha.configs(), what="configs")
                ha.log.clear()
                await ha.client.publish(f"{PREFIX}/status", "online", qos=1)  # its birth message
                topics = set(service.bridge.published_configs)
                await until(
                    lambda: (
                        topics <= {t for t, _, _ in ha.log}
                        and "massager-ctl/test-node/chair/availability" in {t for t, _, _ in ha.log}
                    ),
                    what="everything again",
                )

    run(main())


def test_configs_this_node_no_longer_owns_are_cleared(tmp_path, broker):  # noqa: F811
    ghost = f"{PREFIX}/button/massager_ctl_test-node/sofa_stop/config"
    other_node = f"{PREFIX}/button/massager_ctl_elsewhere/chair_stop/config"

    async def main():
        async with aiomqtt.Client("127.0.0.1", broker.port) as old:
            for topic in (ghost, other_node):
                await old.publish(topic, json.dumps({"name": "Stop", "unique_id": topic}), qos=1, retain=True)
        async with HomeAssistant(broker.port) as ha:
            async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE):
                await until(lambda: ha.last.get(ghost) == b"", what="the ghost cleared")
        async with HomeAssistant(broker.port) as fresh:  # what Home Assistant finds on its next start
            await until(lambda: other_node in fresh.retained_at_subscribe, what="the retained configs")
            return fresh.retained_at_subscribe

    retained = run(main())
    assert ghost not in retained  # gone for good (an empty retained message deletes it)
    assert other_node in retained  # another node's configs are not ours to clear


# -- the broker goes away ----------------------------------------------------------------------------


def test_broker_killed_mid_session_the_session_still_ends_stopped_on_time(tmp_path, broker):  # noqa: F811
    async def main():
        async with running_service(tmp=tmp_path, mqtt_port=broker.port, time_scale=SCALE) as service:
            served = service.devices["chair"]
            sim = served.opened.simulator
            await until(lambda: service.bridge.connected.is_set(), what="the bridge")
            reports = []
            served.listeners.append(
                lambda e: reports.append(e["report"]) if e.get("state") == "ended" else None
            )
            loop = asyncio.get_running_loop()
            async with HomeAssistant(broker.port) as ha:
                await ha.send(cmd("start"), "quick")
                await until(lambda: sim.physics.motors_on, what="the chair to start")
                started = loop.time()
            broker.kill()
            await until(lambda: not service.bridge.connected.is_set(), what="the bridge to notice")
            await until(lambda: served.job is None, timeout=120, what="the session to end")
            ended = loop.time()
            broker.start()  # it comes back: the bridge reconnects and says how it ended
            await until(lambda: service.bridge.connected.is_set(), what="reconnected")
            async with HomeAssistant(broker.port) as ha:
                await until(lambda: ha.state().get("last_end") in ("finished", "cap"), what="the last end")
            return reports, ended - started, chair_off(sim)

    reports, took, stopped = run(main())
    # quick's own [limits] max_length is its length: on a busy host the session cap may
    # end it a hair before the plan does; either way, on time and stopped
    assert reports[-1]["reason"] in ("finished", "cap") and reports[-1]["stop_confirmed"]
    assert reports[-1]["plan_ms"] >= 179_000
    assert 179 <= took <= 185  # quick lasts 3 minutes (service clock)
    assert stopped


# -- many hosts, one broker ---------------------------------------------------------------------------


def test_two_services_on_one_broker_each_with_its_node_id(tmp_path, broker, monkeypatch):  # noqa: F811
    async def main():
        second_socket = Path(tmp_path / "b.sock")
        async with (
            running_service(tmp=tmp_path, mqtt_port=broker.port, node="alpha", time_scale=SCALE) as a,
            running_service(
                tmp=tmp_path, mqtt_port=broker.port, node="beta", time_scale=SCALE, socket_path=second_socket
            ) as b,
        ):
            await until(lambda: a.bridge.connected.is_set() and b.bridge.connected.is_set(), what="both")
            sim_a = a.devices["chair"].opened.simulator
            sim_b = b.devices["chair"].opened.simulator
            async with HomeAssistant(broker.port) as ha:
                topics = set(a.bridge.published_configs) | set(b.bridge.published_configs)
                await until(lambda: topics <= set(ha.configs()), what="both nodes' configs")
                ids = [c["unique_id"] for c in ha.configs().values()]
                # The CLI and API on any host: a session on beta, started from "elsewhere".
                async with connect(f"mqtt://127.0.0.1:{broker.port}/beta/chair") as remote:
                    task = asyncio.ensure_future(remote.run("quick"))
                    await until(lambda: sim_b.physics.motors_on, what="beta's chair to start")
                    assert not sim_a.physics.motors_on
                    status = await remote.status()
                    assert status.running
                    await remote.stop()
                    report = await task
                # the same node id a third time is refused, not fought over
                with pytest.raises(UsageError, match="already served"):
                    async with running_service(
                        tmp=tmp_path,
                        mqtt_port=broker.port,
                        node="alpha",
                        time_scale=SCALE,
                        socket_path=Path(tmp_path / "c.sock"),
                    ):
                        pass
                alive = a.bridge.connected.is_set() and b.bridge.connected.is_set()
                return ids, report, chair_off(sim_b), alive

    ids, report, stopped, alive = run(main())
    assert len(ids) == len(set(ids))
    assert any("alpha" in i for i in ids) and any("beta" in i for i in ids)
    assert report.reason == "stopped" and report.stop_confirmed and stopped
    assert alive


# -- TLS and credentials --------------------------------------------------------------------------


def tls_broker(folder: Path) -> tuple[Broker, Path]:
    """A broker that takes only TLS (a throwaway CA) and only user chair / password s3cret."""
    if mosquitto() is None or shutil.which("openssl") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("needs mosquitto, mosquitto_passwd and openssl")

    def run_tool(*args: str) -> None:
        subprocess.run(list(args), cwd=folder, check=True, capture_output=True, timeout=60)

    key = ["-newkey", "rsa:2048", "-nodes"]
    run_tool(
        "openssl",
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ca",
    )
    run_tool("openssl", "req", *key, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run_tool(
        "openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip
    run_tool("mosquitto_passwd", "-b", "-c", "passwords", "chair", "s3cret")
    server = Broker(folder)
    server.conf.write_text(
        f"listener {server.port} 127.0.0.1\n"
        # started by root, mosquitto becomes user "mosquitto", who cannot read these files
        f"user {getpass.getuser()}\n"
        f"cafile {folder / 'ca.pem'}\ncertfile {folder / 'srv.pem'}\nkeyfile {folder / 'srv.key'}\n"
        f"allow_anonymous false\npassword_file {folder / 'passwords'}\npersistence false\nlog_dest stderr\n"
    )
    return server, folder / "ca.pem"


def test_tls_with_a_ca_file_and_credentials_from_the_environment(tmp_path, monkeypatch):
    server, ca = tls_broker(tmp_path)
    server.start()
    try:
        monkeypatch.setenv("MASSAGER_CTL_MQTT_USERNAME", "chair")
        monkeypatch.setenv("MASSAGER_CTL_MQTT_PASSWORD", "s3cret")
        good = parse_mqtt_url(f"mqtts://127.0.0.1:{server.port}", ca_file=str(ca))
        untrusted = parse_mqtt_url(f"mqtts://127.0.0.1:{server.port}")  # the system's CAs only
        wrong = dataclasses.replace(good, password="guess")

        async def main():
            results = []
            for settings in (good, untrusted, wrong):
                async with running_service(tmp=tmp_path, mqtt=settings, time_scale=SCALE) as service:
                    try:
                        await until(lambda: service.bridge.connected.is_set(), timeout=5, what="TLS")
                        results.append(True)
                    except AssertionError:
                        results.append(False)
                    if results[-1]:
                        uri = f"mqtts://127.0.0.1:{server.port}/test-node/chair?ca_file={ca}"
                        async with connect(uri) as remote:  # credentials from the environment
                            results.append((await remote.status()).stopped)
            return results

        assert run(main()) == [True, True, False, False]
    finally:
        server.kill()
