"""The control socket: JSON lines over a Unix socket only this user can open.

Each line a client sends is one request object (docs/control.md)::

    {"id": 1, "op": "run", "device": "chair", "profile": "quick"}

and each request gets one reply line with the same id::

    {"id": 1, "ok": true, "result": {"job": {"id": 3, "kind": "profile", "name": "quick"}}}
    {"id": 1, "ok": false, "error": "chair: profile 'quick' is playing; stop it first", "kind": "device"}

Events arrive as lines without an id (``{"event": "status", "device": "chair", ...}``)
for the devices a client watches (``watch``) and for the jobs it started. Requests run
concurrently, so a ``stop`` is never queued behind a slow request. A job started over
a connection is stopped when that connection closes (a client killed mid-session
leaves no chair running), unless it was started with ``"detach": true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from ..core.errors import DeviceError, MassagerError, SafetyError, UsageError
from ..remote.paths import ensure_private_dir
from ..remote.wire import JsonObject
from .dispatch import Dispatcher
from .served import ServedDevice

log = logging.getLogger(__name__)

#: Longest request line (a plan of a long profile is tens of kB).
LINE_LIMIT = 4 * 1024 * 1024
#: Events waiting for a slow client; beyond that, status and progress events are dropped
#: (replies and session events never are).
QUEUE_LIMIT = 1000
DROPPABLE = ("status", "progress")


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, SafetyError):
        return "safety"
    if isinstance(exc, UsageError):
        return "usage"
    if isinstance(exc, DeviceError):
        return "device"
    return "error"


class Connection:
    def __init__(
        self, server: ControlServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.watching: set[str] = set()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.dropped = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: JsonObject, *, droppable: bool = False) -> None:
        if droppable and self.queue.qsize() >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self.queue.put_nowait((json.dumps(message, separators=(",", ":")) + "\n").encode())

    def on_event(self, event: JsonObject) -> None:
        job_id = (event.get("job") or {}).get("id")
        mine = job_id is not None and job_id in self.server.owned.get(self, ())
        if mine or event["device"] in self.watching:
            self.send(event, droppable=event.get("event") in DROPPABLE)

    async def pump(self) -> None:
        while True:
            data = await self.queue.get()
            if data is None:
                return
            self.writer.write(data)
            await self.writer.drain()


class ControlServer:
    def __init__(self, dispatcher: Dispatcher, devices: dict[str, ServedDevice], path: Path) -> None:
        self.dispatcher = dispatcher
        self.devices = devices
        self.path = path
        self.connections: set[Connection] = set()
        self.owned: dict[Connection, set[int]] = {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        ensure_private_dir(self.path.parent)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise UsageError(
                    f"a massager-ctl service already runs here (control socket {self.path}); "
                    "stop it first, or give this one its own MASSAGER_CTL_RUNTIME_DIR"
                )
            self.path.unlink()  # left behind by a service that was killed
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(self.path), limit=LINE_LIMIT
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        for served in self.devices.values():
            served.listeners.append(self._on_event)
        log.info("control socket: %s", self.path)

    def _on_event(self, event: JsonObject) -> None:
        for conn in list(self.connections):
            conn.on_event(event)

    async def close(self) -> None:
        for served in self.devices.values():
            if self._on_event in served.listeners:
                served.listeners.remove(self._on_event)
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.writer.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self.connections.add(conn)
        pump = asyncio.get_running_loop().create_task(conn.pump())
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    conn.send(
                        {"ok": False, "error": f"request line above {LINE_LIMIT} bytes", "kind": "usage"}
                    )
                    break
                except ConnectionError:
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                task = asyncio.get_running_loop().create_task(self._request(conn, line))
                conn.tasks.add(task)
                task.add_done_callback(conn.tasks.discard)
        finally:
            self.connections.discard(conn)
            await self._orphaned(conn)
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pump, 1.0)
            pump.cancel()
            writer.close()

    async def _request(self, conn: Connection, line: bytes) -> None:
        rid: Any = None
        try:
            try:
                request = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"not a JSON line: {exc.msg if hasattr(exc, 'msg') else exc}") from None
            if isinstance(request, dict):
                rid = request.get("id")
            op = request.get("op") if isinstance(request, dict) else None
            result = await self.dispatcher.handle(request, owner=conn)
            if op == "watch" and result["device"] not in conn.watching:
                conn.watching.add(result["device"])
                self.devices[result["device"]].status_watchers += 1
            elif op == "unwatch" and result["device"] in conn.watching:
                conn.watching.discard(result["device"])
                self.devices[result["device"]].status_watchers -= 1
            job = result.get("job")
            if job and not request.get("detach"):
                self.owned.setdefault(conn, set()).add(job["id"])
            conn.send({"id": rid, "ok": True, "result": result})
        except MassagerError as exc:
            conn.send({"id": rid, "ok": False, "error": str(exc), "kind": error_kind(exc)})
        except Exception as exc:  # noqa: BLE001 - one line to the client, the trace to the log
            log.exception("request failed")
            conn.send({"id": rid, "ok": False, "error": f"unexpected error: {exc}", "kind": "error"})

    async def _orphaned(self, conn: Connection) -> None:
        """The client went away: stop what it started and still plays."""
        owned = self.owned.pop(conn, set())
        for name in conn.watching:
            self.devices[name].status_watchers -= 1
        conn.watching.clear()
        for served in self.devices.values():
            job = served.job
            if job is not None and job.owner is conn and job.id in owned:
                log.warning(
                    "%s: the client that started %s %r left; stopping it", served.name, job.kind, job.name
                )
                try:
                    await served.stop()
                except MassagerError as exc:
                    log.error("%s: stop after the client left: %s", served.name, exc)


def _answers(path: Path) -> bool:
    """Is a service listening on this socket? (A leftover file refuses connections.)"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True
