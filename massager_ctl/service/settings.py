"""What ``massager-ctl serve`` serves, and where: the ``[serve]`` table of the config.

```toml
[serve]
node_id = "living-room"            # this host on the broker (default: the host name)
mqtt = "mqtts://broker.lan:8883"   # optional: the MQTT bridge and Home Assistant discovery
mqtt_ca_file = "/etc/ssl/certs/broker-ca.pem"   # TLS: the broker's CA (mqtts://)
discovery_prefix = "homeassistant" # Home Assistant's discovery prefix
base_topic = "massager-ctl"        # our topics: <base_topic>/<node_id>/<device>/...

[serve.devices]                    # name = device URI (default: chair = the config's device)
chair = "sim:"
recliner = "serial:/dev/ttyUSB0?model=rt8600s"
```

MQTT credentials: in the URL (``mqtt://user:pass@host``), or, better, kept out of files
and process lists, in ``MASSAGER_CTL_MQTT_USERNAME`` / ``MASSAGER_CTL_MQTT_PASSWORD``.
Command-line options win over the file, the environment over the URL.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..core.errors import UsageError

USERNAME_ENV = "MASSAGER_CTL_MQTT_USERNAME"
PASSWORD_ENV = "MASSAGER_CTL_MQTT_PASSWORD"
#: MQTT topic levels and Home Assistant ids take these characters only.
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KEYS = ("node_id", "mqtt", "mqtt_ca_file", "discovery_prefix", "base_topic", "devices")


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        """The broker's address without credentials (for logs and errors)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class ServeSettings:
    devices: dict[str, str]
    node_id: str
    mqtt: MqttSettings | None = None
    discovery_prefix: str = "homeassistant"
    base_topic: str = "massager-ctl"


def default_node_id() -> str:
    """The host name, cut to what topics and ids may hold."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname().split(".")[0]).strip("-")
    return (name or "host")[:64]


def check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise UsageError(
            f"{what} {value!r}: use 1 to 64 letters, digits, '-' or '_' "
            "(it becomes an MQTT topic level and part of Home Assistant ids)"
        )
    return value


def check_topic(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or any(c in value for c in "+#\0")
        or value.startswith("/")
        or value.endswith("/")
    ):
        raise UsageError(f"{what} {value!r}: a topic without wildcards (+, #) or leading/trailing '/'")
    return value


def parse_mqtt_url(
    text: str, *, ca_file: str | None = None, env: Mapping[str, str] = os.environ
) -> MqttSettings:
    """``mqtt[s]://[user[:pass]@]host[:port]``; credentials from the environment win."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--mqtt {_hide(text)}: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UsageError(f"--mqtt {_hide(text)}: write mqtt://host[:port] or mqtts://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"--mqtt {_hide(text)}: only a broker address, no path or options")
    tls = parts.scheme == "mqtts"
    username = env.get(USERNAME_ENV) or (unquote(parts.username) if parts.username else None)
    password = env.get(PASSWORD_ENV) or (unquote(parts.password) if parts.password else None)
    ca = None
    if ca_file:
        ca = Path(ca_file).expanduser()
        if not ca.is_file():
            raise UsageError(f"mqtt_ca_file {ca}: no such file")
        if not tls:
            raise UsageError("mqtt_ca_file is for TLS: use an mqtts:// broker address")
    return MqttSettings(parts.hostname, port or (8883 if tls else 1883), tls, username, password, ca)


def _hide(text: str) -> str:
    """The URL with any password blanked (it is printed in errors)."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", text)


def parse_device_arg(text: str) -> tuple[str, str]:
    name, sep, uri = text.partition("=")
    if not sep or not uri:
        raise UsageError(f"{text!r}: write NAME=URI, e.g. chair=sim: or recliner=serial:/dev/ttyUSB0")
    return check_id(name, "device name"), uri


def load_settings(
    raw: object,
    *,
    config_device: str | None,
    device_args: tuple[str, ...] = (),
    mqtt: str | None = None,
    node_id: str | None = None,
    ca_file: str | None = None,
    discovery_prefix: str | None = None,
) -> ServeSettings:
    """The ``[serve]`` table (``raw``, may be None) with the command line over it."""
    table = raw or {}
    if not isinstance(table, dict):
        raise UsageError("serve: write the service settings under a [serve] header")
    unknown = set(table) - set(KEYS)
    if unknown:
        raise UsageError(f"serve: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(KEYS)}")
    devices: dict[str, str] = {}
    if device_args:
        for arg in device_args:
            name, uri = parse_device_arg(arg)
            if name in devices:
                raise UsageError(f"device name {name!r} given twice")
            devices[name] = uri
    else:
        listed = table.get("devices", {})
        if not isinstance(listed, dict):
            raise UsageError("serve.devices: a table of name = device URI")
        for name, uri in listed.items():
            check_id(name, "serve.devices name")
            if not isinstance(uri, str) or not uri.strip():
                raise UsageError(f"serve.devices.{name}: write the device URI in quotes")
            devices[name] = uri.strip()
    if not devices:
        devices = {"chair": config_device or "sim:"}
    node = node_id if node_id is not None else table.get("node_id", default_node_id())
    url = mqtt if mqtt is not None else table.get("mqtt")
    ca = ca_file if ca_file is not None else table.get("mqtt_ca_file")
    if url is not None and not isinstance(url, str):
        raise UsageError("serve.mqtt: write the broker address in quotes")
    return ServeSettings(
        devices=devices,
        node_id=check_id(node, "node id"),
        mqtt=parse_mqtt_url(url, ca_file=ca) if url else None,
        discovery_prefix=check_topic(
            discovery_prefix or table.get("discovery_prefix", "homeassistant"), "discovery_prefix"
        ),
        base_topic=check_topic(table.get("base_topic", "massager-ctl"), "base_topic"),
    )
