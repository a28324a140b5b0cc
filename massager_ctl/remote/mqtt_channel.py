"""The client end over MQTT: ``mqtt://[user:pass@]broker[:port]/NODE/DEVICE``.

Requests go to ``<base>/<NODE>/request`` with a ``reply_to`` topic of this client's own
(``<base>/client/<random id>/reply``) and the time they were sent; the service replies
there. The device's ``event``, ``progress`` and ``state`` topics give the same events as
the control socket (a state message carries the device's last status). Options after
``?``: ``base`` (the service's base topic) and ``ca_file`` (TLS, with ``mqtts://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import aiomqtt

from ..core.errors import DeviceDisconnected, DeviceError, UsageError
from .channel import Channel, result_of
from .topics import Topics
from .wire import JsonObject

USERNAME_ENV = "MASSAGER_CTL_MQTT_USERNAME"
PASSWORD_ENV = "MASSAGER_CTL_MQTT_PASSWORD"
#: How long a request waits for the service's answer.
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RemoteTarget:
    host: str
    port: int
    tls: bool
    node: str
    device: str
    base: str = "massager-ctl"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @property
    def where(self) -> str:
        return f"node {self.node} on {'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_remote_uri(uri: str, env: Mapping[str, str] | None = None) -> RemoteTarget:
    import os

    env = os.environ if env is None else env
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{uri}: {exc}") from None
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or len(path) not in (1, 2):
        raise UsageError(f"{uri}: write mqtt://broker[:port]/NODE/DEVICE (DEVICE may be left out)")
    options = dict(parse_qsl(parts.query))
    unknown = set(options) - {"base", "ca_file"}
    if unknown:
        raise UsageError(f"{uri}: unknown options {', '.join(sorted(unknown))} (known: base, ca_file)")
    tls = parts.scheme == "mqtts"
    return RemoteTarget(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        node=path[0],
        device=path[1] if len(path) == 2 else "",
        base=options.get("base", "massager-ctl"),
        username=env.get(USERNAME_ENV) or (unquote(parts.username) if parts.username else None),
        password=env.get(PASSWORD_ENV) or (unquote(parts.password) if parts.password else None),
        ca_file=options.get("ca_file"),
    )


class MqttChannel(Channel):
    def __init__(self, client: aiomqtt.Client, target: RemoteTarget, client_id: str) -> None:
        super().__init__()
        self.client = client
        self.target = target
        self.topics = Topics(target.base, target.node)
        self.where = target.where
        self.reply_to = f"{self.topics.client_root}/{client_id}/reply"
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, target: RemoteTarget) -> MqttChannel:
        client_id = f"massager-ctl-client-{secrets.token_hex(6)}"
        tls = None
        if target.tls:
            if target.ca_file and not Path(target.ca_file).is_file():
                raise UsageError(f"ca_file {target.ca_file}: no such file")
            tls = aiomqtt.TLSParameters(ca_certs=target.ca_file)
        client = aiomqtt.Client(
            target.host,
            target.port,
            username=target.username,
            password=target.password,
            identifier=client_id,
            tls_params=tls,
            keepalive=15,
            timeout=REQUEST_TIMEOUT_S,
            clean_session=True,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise DeviceError(f"cannot reach the MQTT broker for {target.where}: {exc}") from None
        channel = cls(client, target, client_id)
        root = channel.topics.root
        await client.subscribe(
            [
                (channel.reply_to, 1),
                (f"{root}/+/event", 1),
                (f"{root}/+/progress", 0),
                (f"{root}/+/state", 0),
                (channel.topics.status, 1),
            ]
        )
        channel._task = asyncio.get_running_loop().create_task(channel._read(), name="mqtt channel")
        return channel

    async def _read(self) -> None:
        reason = "lost the connection to the MQTT broker"
        try:
            async for message in self.client.messages:
                self._dispatch(message)
        except aiomqtt.MqttError as exc:
            reason = f"lost the connection to the MQTT broker: {exc}"
        finally:
            self._closed(reason)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        try:
            data = json.loads(message.payload.decode("utf-8", "replace") or "null")
        except ValueError:
            data = None
        if topic == self.reply_to:
            rid = data.get("id") if isinstance(data, dict) else None
            if isinstance(data, dict) and isinstance(rid, int):
                self._answered(rid, data)
            return
        if topic == self.topics.status:
            return
        parsed = self.topics.parse_device_topic(topic)
        if parsed is None or not isinstance(data, dict):
            return
        device, leaf = parsed
        if leaf in ("event", "progress"):
            self.on_event(data)
        elif leaf == "state" and isinstance(data.get("status"), dict) and not message.retain:
            self.on_event({"event": "status", "device": device, "status": data["status"]})

    async def request(self, op: str, **args: Any) -> JsonObject:
        rid, future = self._new_request()
        message = {"id": rid, "op": op, "reply_to": self.reply_to, "ts": round(time.time(), 3), **args}
        if op in ("watch", "unwatch"):  # every event of the node arrives anyway
            self._pending.pop(rid, None)
            return {}
        try:
            await self.client.publish(self.topics.request, json.dumps(message), qos=1)
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise DeviceError(
                f"no answer from {self.where} within {REQUEST_TIMEOUT_S:g} s; is "
                f"`massager-ctl serve --node-id {self.target.node}` running there?"
            ) from None
        except aiomqtt.MqttError as exc:
            raise DeviceDisconnected(f"lost the connection to the MQTT broker: {exc}") from None
        finally:
            self._pending.pop(rid, None)
        return result_of(reply)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.client.__aexit__(None, None, None)
        self._closed("closed")
