"""The MQTT bridge: the service's devices on a broker, and on Home Assistant.

On every (re)connection it says the node is online (retained; its will says offline
if it dies), clears discovery configs it published before and no longer owns (ghost
entities), publishes a retained discovery config per entity (:mod:`.discovery`), each
device's availability and state, and listens for commands. It republishes all of it
when Home Assistant announces it has (re)started, so entities never stay unavailable
after a Home Assistant restart. Each device's state is published every second.

Commands are obeyed only as they are sent, never late: a retained command (replayed by
the broker to a new subscriber) is refused and cleared; the session is clean (the
broker queues nothing for us while we are away); a command that carries its sending
time (Home Assistant's always do, see :mod:`.discovery`) is refused when older than
:data:`MAX_COMMAND_AGE_S`. Stop is the exception to the age rule: a late stop is still
a stop. A command that is refused, for any reason, is said on ``<device>/error`` and in
the state's ``last_error``; it never moves anything.

If the broker goes away, nothing else does: sessions go on and end on time through
their own governors; the bridge keeps trying to reconnect (backoff up to 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Coroutine
from typing import Any, TypeGuard

import aiomqtt

from .. import __version__
from ..core.errors import MassagerError, UsageError
from ..devices.registry import MODELS
from ..remote.topics import OFFLINE, ONLINE, Topics
from ..remote.wire import JsonObject
from .discovery import DeviceInfo, discovery_configs, our_configs_filter
from .dispatch import Dispatcher
from .served import ServedDevice
from .settings import ServeSettings

log = logging.getLogger(__name__)

#: Commands older than this (by the time they carry) are refused, except stop.
MAX_COMMAND_AGE_S = 5.0
#: State topics are republished this often (service clock).
PUBLISH_EVERY_S = 1.0
#: Progress is published at most this often, besides at each new segment.
PROGRESS_EVERY_S = 1.0
#: After Home Assistant says it is online, wait this long before republishing.
BIRTH_DELAY_S = 2.0
#: How long to listen for another service answering to our node id (real seconds).
PING_WAIT_S = 1.0
#: ... and when the node's status says a service is online (it may be busy).
PING_WAIT_ONLINE_S = 5.0
KEEPALIVE_S = 15
CONNECT_TIMEOUT_S = 10.0
BUTTONS = ("start", "pause", "resume", "skip", "recline", "sit_up", "zero_gravity")
#: Requests that change nothing may be as old as they like.
READ_ONLY_OPS = ("hello", "devices", "profiles", "status", "watch", "unwatch", "stop")


class MqttBridge:
    def __init__(
        self,
        settings: ServeSettings,
        devices: dict[str, ServedDevice],
        dispatcher: Dispatcher,
        *,
        time_scale: float = 1.0,
        publish_every_s: float = PUBLISH_EVERY_S,
        birth_delay_s: float = BIRTH_DELAY_S,
    ) -> None:
        assert settings.mqtt is not None
        self.settings = settings
        self.mqtt = settings.mqtt
        self.devices = devices
        self.dispatcher = dispatcher
        self.topics = Topics(settings.base_topic, settings.node_id)
        self.prefix = settings.discovery_prefix
        self.time_scale = time_scale
        self.publish_every_s = publish_every_s
        self.birth_delay_s = birth_delay_s
        self.token = secrets.token_hex(6)
        # Our own client id: a fixed one would let two services (or a restart racing
        # the old session) keep kicking each other off the broker (MQTT-3.1.4-2).
        self.client_id = f"massager-ctl-{settings.node_id}-{self.token}"
        self.client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.published_configs: dict[str, JsonObject] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._progress_at: dict[str, tuple[float, Any]] = {}
        self._closing = False
        self._sweep: set[str] | None = None
        self._sync_token = ""
        for served in devices.values():
            served.listeners.append(self._on_event)

    # -- the client ------------------------------------------------------------------------

    def _new_client(self, *, identifier: str | None = None, will: bool = True) -> aiomqtt.Client:
        tls = None
        if self.mqtt.tls:
            tls = aiomqtt.TLSParameters(ca_certs=str(self.mqtt.ca_file) if self.mqtt.ca_file else None)
        return aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username,
            password=self.mqtt.password,
            identifier=identifier or self.client_id,
            will=aiomqtt.Will(self.topics.status, OFFLINE, qos=1, retain=True) if will else None,
            tls_params=tls,
            keepalive=KEEPALIVE_S,
            timeout=CONNECT_TIMEOUT_S * self.time_scale,
            clean_session=True,
        )

    async def check_node_free(self) -> None:
        """Refuse to start if another live service answers to our node id on this broker.

        A live one has left ``online`` retained on the node's status topic: then its
        answer is awaited longer (:data:`PING_WAIT_ONLINE_S`: it may be busy); with no
        such sign, :data:`PING_WAIT_S`. An ``online`` left by a service that died with
        no will delivered yet gets no answer, and does not stop us."""
        loop = asyncio.get_running_loop()
        t = self.topics
        try:
            async with self._new_client(identifier=f"{self.client_id}-probe", will=False) as probe:
                await probe.subscribe([(t.pong, 1), (t.status, 1)])
                await probe.publish(t.ping, json.dumps({"token": self.token}), qos=1)
                deadline = loop.time() + PING_WAIT_S * self.time_scale
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline) as window:
                        async for message in probe.messages:
                            if str(message.topic) == t.status:
                                if _text(message.payload) == ONLINE:
                                    window.reschedule(loop.time() + PING_WAIT_ONLINE_S * self.time_scale)
                                continue
                            other = _json(message.payload) or {}
                            if other.get("token") not in (None, self.token):
                                raise UsageError(
                                    f"node id {self.settings.node_id!r} is already served on "
                                    f"{self.mqtt.url} (by {other.get('host', '?')}, pid "
                                    f"{other.get('pid', '?')}); give this service its own --node-id"
                                )
        except aiomqtt.MqttError as exc:
            log.warning("MQTT: cannot reach %s yet (%s); will keep trying", self.mqtt.url, exc)

    async def run(self) -> None:
        """Stay connected (reconnecting with backoff) until closed."""
        delay = 1.0
        publisher = asyncio.get_running_loop().create_task(self._publish_states(), name="mqtt states")
        try:
            while not self._closing:
                client = self._new_client()
                try:
                    async with client:
                        self.client = client
                        await self._on_connect(client)
                        delay = 1.0
                        async for message in client.messages:
                            self._spawn(self._on_message(message))
                except aiomqtt.MqttError as exc:
                    if self._closing:
                        return
                    log.warning(
                        "MQTT: cannot connect to %s (%s); retrying in %.0f s", self.mqtt.url, exc, delay
                    )
                finally:
                    self.client = None
                    self.connected.clear()
                await asyncio.sleep(delay)  # on the service clock: sped up with --time-scale
                delay = min(delay * 2, 30.0)
        finally:
            publisher.cancel()

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        t = self.topics
        self._sweep = set()
        self._sync_token = secrets.token_hex(6)
        await client.subscribe(
            [
                (t.all_commands, 1),
                (t.request, 1),
                (t.ping, 1),
                (t.sync, 1),
                (f"{self.prefix}/status", 1),
                (our_configs_filter(self.prefix, t.node), 1),
            ]
        )
        await client.publish(t.status, ONLINE, qos=1, retain=True)
        await self.publish_all(client)
        # The retained configs arrive first; the marker after them ends the sweep.
        await client.publish(t.sync, self._sync_token, qos=1)
        self.connected.set()
        log.info("MQTT: connected to %s as node %s", self.mqtt.url, t.node)

    async def publish_all(self, client: aiomqtt.Client) -> None:
        """Discovery configs, availability and state of every device (retained)."""
        configs: dict[str, JsonObject] = {}
        for served in self.devices.values():
            configs.update(discovery_configs(self.prefix, self.topics, self._info(served), __version__))
        self.published_configs = configs
        for topic, payload in configs.items():
            await client.publish(topic, json.dumps(payload), qos=1, retain=True)
        await client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        for served in self.devices.values():
            await self._publish_availability(client, served)
            await self._publish_state(client, served)

    def _info(self, served: ServedDevice) -> DeviceInfo:
        definition = MODELS.get(served.model)
        caps = served.capabilities
        return DeviceInfo(
            name=served.name,
            model=served.model,
            model_title=getattr(definition, "title", "") if definition else "",
            programs=served.programs,
            moves=served.moves(),
            heat=bool(caps and caps.has_heat),
            max_intensity=served.limits.max_intensity,
            profiles=tuple(served.profile_names()),
        )

    async def _publish_availability(self, client: aiomqtt.Client, served: ServedDevice) -> None:
        topic = self.topics.device(served.name, "availability")
        await client.publish(topic, ONLINE if served.linked else OFFLINE, qos=1, retain=True)

    async def _publish_state(self, client: aiomqtt.Client, served: ServedDevice) -> None:
        payload = json.dumps(served.snapshot(), separators=(",", ":"))
        await client.publish(self.topics.device(served.name, "state"), payload, qos=0, retain=True)

    async def _publish_states(self) -> None:
        """Each device's state once per period, the devices spread over the period: a
        burst of publishes (each a socket write) would delay the sessions' step
        boundaries on a busy host (bench/bench_serve_mqtt.py)."""
        while True:
            devices = list(self.devices.values())
            gap = self.publish_every_s / max(1, len(devices))
            for served in devices:
                await asyncio.sleep(gap)
                client = self.client
                if client is None or not self.connected.is_set():
                    continue
                try:
                    await self._publish_state(client, served)
                except aiomqtt.MqttError:
                    continue

    # -- events from the devices ----------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _publish_soon(self, topic: str, payload: Any, *, qos: int = 1, retain: bool = False) -> None:
        client = self.client
        if client is None or not self.connected.is_set():
            return

        async def publish() -> None:
            try:
                await client.publish(topic, payload, qos=qos, retain=retain)
            except aiomqtt.MqttError as exc:
                log.debug("MQTT: publish to %s failed: %s", topic, exc)

        self._spawn(publish())

    def _state_soon(self, served: ServedDevice) -> None:
        self._publish_soon(
            self.topics.device(served.name, "state"),
            json.dumps(served.snapshot(), separators=(",", ":")),
            qos=0,
            retain=True,
        )

    def _on_event(self, event: JsonObject) -> None:
        kind = event.get("event")
        served = self.devices.get(event.get("device", ""))
        if served is None or kind == "status":
            return
        if kind == "progress":
            loop_now = asyncio.get_running_loop().time()
            segment = (event.get("progress") or {}).get("segment_index")
            last = self._progress_at.get(served.name)
            if last is not None and last[1] == segment and loop_now - last[0] < PROGRESS_EVERY_S:
                return
            self._progress_at[served.name] = (loop_now, segment)
            self._publish_soon(self.topics.device(served.name, "progress"), json.dumps(event), qos=0)
            return  # the state follows within the second
        if kind == "link":
            self._publish_soon(
                self.topics.device(served.name, "availability"),
                ONLINE if event.get("up") else OFFLINE,
                retain=True,
            )
        self._publish_soon(self.topics.device(served.name, "event"), json.dumps(event))
        self._state_soon(served)

    # -- messages from the broker ------------------------------------------------------------------

    async def _on_message(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        t = self.topics
        try:
            if topic == f"{self.prefix}/status":
                if _text(message.payload) == "online":
                    await self._home_assistant_started()
            elif topic == t.ping:
                other = _json(message.payload) or {}
                if other.get("token") != self.token:
                    reply = {"token": self.token, "host": socket.gethostname(), "pid": os.getpid()}
                    self._publish_soon(t.pong, json.dumps(reply))
            elif topic == t.sync:
                if _text(message.payload) == self._sync_token:
                    await self._end_sweep()
            elif topic.endswith("/config"):
                if self._sweep is not None and message.retain and message.payload:
                    self._sweep.add(topic)
            elif topic == t.request:
                await self._on_request(message)
            else:
                parsed = t.parse_command(topic)
                if parsed is not None:
                    await self._on_command(parsed[0], parsed[1], message)
        except Exception:  # noqa: BLE001 - one bad message must not end the bridge
            log.exception("MQTT: handling %s failed", topic)

    async def _home_assistant_started(self) -> None:
        """Home Assistant (re)started: configs, availability and state again, after a
        short pause (it subscribes right after its birth message)."""
        await asyncio.sleep(self.birth_delay_s)
        client = self.client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self.publish_all(client)
            log.info("MQTT: Home Assistant came online; discovery republished")

    async def _end_sweep(self) -> None:
        """Clear retained configs under our node that we no longer publish (a device
        or an entity that went away), so Home Assistant drops them instead of keeping
        ghosts; then stop listening to our own configs."""
        seen, self._sweep = self._sweep or set(), None
        client = self.client
        if client is None:
            return
        for topic in sorted(seen - set(self.published_configs)):
            log.info("MQTT: clearing a discovery config we no longer own: %s", topic)
            await client.publish(topic, b"", qos=1, retain=True)
        with contextlib.suppress(aiomqtt.MqttError):
            await client.unsubscribe(our_configs_filter(self.prefix, self.topics.node))

    def _refuse(self, served: ServedDevice | None, command: str, payload: str, error: str) -> None:
        log.warning("MQTT: refused %s %r: %s", command, payload[:80], error)
        if served is None:
            return
        served.last_error = error
        report = {"command": command, "payload": payload[:200], "error": error, "ts": round(time.time(), 3)}
        self._publish_soon(self.topics.device(served.name, "error"), json.dumps(report))
        self._state_soon(served)

    async def _on_command(self, device: str, command: str, message: aiomqtt.Message) -> None:
        served = self.devices.get(device)
        raw = _text(message.payload)
        if message.retain:
            # Replayed by the broker, not sent now: never obeyed. Cleared, so it cannot
            # fire anywhere else either.
            if raw:
                self._publish_soon(str(message.topic), b"", retain=True)
                self._refuse(
                    served, command, raw, "ignored a retained command: commands are obeyed only when sent"
                )
            return
        if not raw:
            return  # the empty message that clears a retained command
        if served is None:
            log.warning("MQTT: a command for unknown device %r", device)
            return
        value: Any = raw
        sent_at = None
        if raw.startswith("{"):
            data = _json(message.payload)
            if not isinstance(data, dict) or "value" not in data:
                return self._refuse(served, command, raw, 'a JSON command is {"value": ..., "ts": ...}')
            value, sent_at = data["value"], data.get("ts")
            if sent_at is not None and not _is_time(sent_at):
                return self._refuse(served, command, raw, "ts must be a Unix time in seconds")
        if sent_at is not None and command != "stop":
            age = time.time() - sent_at
            if age > MAX_COMMAND_AGE_S:
                return self._refuse(
                    served,
                    command,
                    raw,
                    f"sent {age:.0f} s ago; commands older than {MAX_COMMAND_AGE_S:g} s are not obeyed",
                )
            if age < -MAX_COMMAND_AGE_S:
                return self._refuse(
                    served,
                    command,
                    raw,
                    "sent from the future: are this host's and the sender's clocks in sync?",
                )
        try:
            await self._obey(served, command, value)
        except MassagerError as exc:
            return self._refuse(served, command, raw, str(exc))
        if served.last_error:
            served.last_error = ""
        self._state_soon(served)

    async def _obey(self, served: ServedDevice, command: str, value: Any) -> None:
        if command in BUTTONS and command != "start" and value != "PRESS":
            raise UsageError(f"{command}: a button; send PRESS")
        if command == "stop":
            await served.stop()
        elif command == "start":
            name = served.selected_profile if value == "PRESS" else value
            if not name:
                raise UsageError("choose a profile first (the Profile select), or send its name to start")
            served.run(served.plan_for(name))
        elif command == "profile":
            served.plan_for(value)
            served.selected_profile = value
        elif command == "program":
            if not isinstance(value, str):
                raise UsageError("program: send the program's name")
            served.program(value)
        elif command == "pause":
            served.pause()
        elif command == "resume":
            served.resume()
        elif command == "skip":
            served.skip()
        elif command == "intensity_cap":
            served.set_intensity_cap(_number(value))
        elif command == "heat":
            if value not in ("ON", "OFF"):
                raise UsageError("heat: send ON or OFF")
            await served.set_heat(value == "ON")
        elif command in ("recline", "sit_up", "zero_gravity"):
            await served.move(command)
        else:
            raise UsageError(f"unknown command {command!r}")

    async def _on_request(self, message: aiomqtt.Message) -> None:
        """A request from another host (``mqtt://`` URIs): the control protocol, with
        a ``reply_to`` under ``<base>/client/`` and a ``ts``."""
        if message.retain:
            self._publish_soon(str(message.topic), b"", retain=True)
            return
        request = _json(message.payload)
        if not isinstance(request, dict):
            return
        reply_to = request.pop("reply_to", None)
        if (
            not isinstance(reply_to, str)
            or not reply_to.startswith(self.topics.client_root + "/")
            or any(c in reply_to for c in "+#")
        ):
            log.warning("MQTT: a request without a valid reply_to; ignored")
            return
        rid = request.get("id")
        sent_at = request.get("ts")
        try:
            if request.get("op") not in READ_ONLY_OPS:
                if not _is_time(sent_at):
                    raise UsageError("a request over MQTT carries ts, its Unix sending time")
                age = time.time() - sent_at
                if abs(age) > MAX_COMMAND_AGE_S:
                    raise UsageError(
                        f"request sent {age:.0f} s ago; older than {MAX_COMMAND_AGE_S:g} s is not obeyed"
                    )
            result = await self.dispatcher.handle(request, owner=None)
            reply = {"id": rid, "ok": True, "result": result}
        except MassagerError as exc:
            from .control import error_kind

            reply = {"id": rid, "ok": False, "error": str(exc), "kind": error_kind(exc)}
        except Exception as exc:  # noqa: BLE001 - one line to the client (as on the socket), the trace to the log
            log.exception("MQTT: request failed")
            reply = {"id": rid, "ok": False, "error": f"unexpected error: {exc}", "kind": "error"}
        client = self.client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(reply_to, json.dumps(reply), qos=1)

    # -- leaving ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Publish the last states, the devices offline and the node offline (a clean
        disconnect discards the will, so it is said here)."""
        self._closing = True
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=2.0 * self.time_scale)
        client = self.client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError):
            for served in self.devices.values():
                await self._publish_state(client, served)
                await client.publish(
                    self.topics.device(served.name, "availability"), OFFLINE, qos=1, retain=True
                )
            await client.publish(self.topics.status, OFFLINE, qos=1, retain=True)


def _is_time(value: object) -> TypeGuard[float]:
    """A Unix time in seconds: a finite number (JSON lets NaN through, and NaN is
    neither old nor new, so it would pass any age check)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _text(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode("utf-8", "replace").strip()
    return "" if payload is None else str(payload).strip()


def _json(payload: Any) -> Any:
    try:
        return json.loads(_text(payload))
    except ValueError:
        return None


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise UsageError(f"{value!r} is not a number") from None
