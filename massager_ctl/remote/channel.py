"""The client end of the control socket: requests with ids, replies, events.

:class:`SocketChannel` sends one JSON line per request and matches each reply to its
request by id; lines without an id are events, handed to ``on_event``. If the service
goes away, every waiting request fails with DeviceDisconnected and ``on_closed`` is
called once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import DeviceDisconnected, DeviceError, MassagerError, SafetyError, UsageError
from .wire import JsonObject

LINE_LIMIT = 4 * 1024 * 1024


def error_from_reply(reply: JsonObject) -> MassagerError:
    kind = reply.get("kind")
    message = str(reply.get("error") or "the service refused the request")
    if kind == "usage":
        return UsageError(message)
    if kind == "safety":
        return SafetyError(message)
    return DeviceError(message)


def result_of(reply: JsonObject) -> JsonObject:
    """A reply's result object; its error raised as what it says."""
    if not reply.get("ok"):
        raise error_from_reply(reply)
    result = reply.get("result")
    return result if isinstance(result, dict) else {}


class Channel:
    """What a RemoteChair talks through (the control socket or MQTT)."""

    #: the service's label for the device's host, used in messages
    where: str = "the service"

    def __init__(self) -> None:
        self.on_event: Callable[[JsonObject], None] = lambda event: None
        self.on_closed: Callable[[str], None] = lambda reason: None
        self.closed: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JsonObject]] = {}

    def _new_request(self) -> tuple[int, asyncio.Future[JsonObject]]:
        """A request id and the future its reply will resolve; refused once closed."""
        if self.closed is not None:
            raise DeviceDisconnected(self.closed)
        rid = next(self._ids)
        future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        return rid, future

    def _answered(self, rid: int, reply: JsonObject) -> None:
        """The reply to request ``rid`` arrived (ignored if nobody waits for it any more)."""
        future = self._pending.pop(rid, None)
        if future is not None and not future.done():
            future.set_result(reply)

    def _closed(self, reason: str) -> None:
        """The link is gone: every waiting request fails with ``reason``, once."""
        if self.closed is not None:
            return
        self.closed = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DeviceDisconnected(reason))
        self._pending.clear()
        self.on_closed(reason)

    async def request(self, op: str, **args: Any) -> JsonObject:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SocketChannel(Channel):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: Path) -> None:
        super().__init__()
        self.reader = reader
        self.writer = writer
        self.where = f"the service on {path}"
        self._task = asyncio.get_running_loop().create_task(self._read(), name="control socket")

    @classmethod
    async def open(cls, path: Path) -> SocketChannel:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError):
            raise UsageError(
                f"no massager-ctl service runs here (no control socket at {path}); "
                "start one with `massager-ctl serve`"
            ) from None
        except OSError as exc:
            raise DeviceError(f"cannot open the control socket {path}: {exc.strerror or exc}") from None
        return cls(reader, writer, path)

    async def _read(self) -> None:
        reason = "the service closed the connection"
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(message, dict):
                    continue
                rid = message.get("id")
                if isinstance(rid, int) and "ok" in message:
                    self._answered(rid, message)
                elif "event" in message:
                    self.on_event(message)
        except (ConnectionError, ValueError) as exc:
            reason = f"lost the connection to the service: {exc}"
        finally:
            self._closed(reason)

    async def request(self, op: str, **args: Any) -> JsonObject:
        rid, future = self._new_request()
        message = {"id": rid, "op": op, "ts": round(time.time(), 3), **args}
        try:
            self.writer.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            self._pending.pop(rid, None)
            raise DeviceDisconnected(f"lost the connection to the service: {exc}") from None
        reply = await future
        return result_of(reply)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._closed("closed")
