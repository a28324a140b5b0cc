"""Opening a chair a service owns: ``service:NAME`` and ``mqtt://broker/NODE/DEVICE``.

``service:`` alone means the one device the local service serves. ``mqtt://`` and
``mqtts://`` reach a service on any host through its broker (credentials as for
``serve``: in the URL or ``MASSAGER_CTL_MQTT_USERNAME`` / ``_PASSWORD``, and
``?ca_file=PATH`` for TLS).

:func:`served_name` answers, without an event loop, whether the local service owns a
device URI: the CLI then goes through the service instead of opening the device.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..core.errors import UsageError
from ..session.limits import SafetyLimits
from .chair import RemoteChair, pick_device
from .channel import Channel
from .paths import check_private, control_socket_path

REMOTE_SCHEMES = ("service", "mqtt", "mqtts")


def is_remote(uri: str | None) -> bool:
    return uri is not None and uri.partition(":")[0] in REMOTE_SCHEMES


@asynccontextmanager
async def connect_remote(uri: str, *, limits: SafetyLimits | None = None) -> AsyncIterator[RemoteChair]:
    """A RemoteChair for ``uri``. ``limits``: the caller's caps; a plan sent from here
    is tightened to them (they can only lower what the service allows)."""
    scheme, _, rest = uri.partition(":")
    channel: Channel
    if scheme == "service":
        from .channel import SocketChannel

        path = control_socket_path()
        check_private(path.parent)
        channel = await SocketChannel.open(path)
        name = rest
    elif scheme in ("mqtt", "mqtts"):
        from .mqtt_channel import MqttChannel, parse_remote_uri

        target = parse_remote_uri(uri)
        channel = await MqttChannel.open(target)
        name = target.device
    else:  # pragma: no cover - callers check is_remote
        raise UsageError(f"{uri}: not a service URI")
    try:
        listing = await channel.request("devices")
        devices = listing.get("devices")
        info = pick_device(devices if isinstance(devices, list) else [], name, channel.where)
    except BaseException:
        await channel.close()
        raise
    chair = RemoteChair(channel, info, limits=limits)
    try:
        yield chair
    finally:
        await chair.close()


def served_name(uri: str | None, timeout: float = 1.0) -> str | None:
    """The name under which the local service serves ``uri`` (None: no service, or it
    does not own that device). ``None`` as ``uri`` means the default device: the
    service's only one, if it serves exactly one."""
    try:
        path = control_socket_path()
        check_private(path.parent)
    except UsageError:
        return None
    if not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(b'{"id":1,"op":"devices"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
    except OSError:
        return None
    try:
        listed = json.loads(data)["result"]["devices"]
    except (ValueError, KeyError, TypeError):
        return None
    devices = [d for d in listed if isinstance(d, dict) and isinstance(d.get("name"), str)]
    for d in devices:
        if uri is not None and d.get("uri") == uri:
            return str(d["name"])
    if uri is None and len(devices) == 1:
        return str(devices[0]["name"])
    return None
