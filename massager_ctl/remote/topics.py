"""The MQTT topics of ``serve`` (docs/mqtt.md lists each with its payload). No I/O.

Under ``<base>/<node>/`` (default base ``massager-ctl``, node = the host's node id):

    status                      online | offline, retained; the will says offline
    request                     JSON requests from other hosts (the control protocol)
    ping, pong                  a second service with this node id finds the first
    sync                        a private marker (the end of the retained configs)
    <device>/availability       online | offline, retained: the device's link
    <device>/state              JSON, retained: what dashboards show
    <device>/event              JSON events: session started / ended, warnings, link
    <device>/progress           JSON progress of the job playing
    <device>/error              JSON: a command that was refused, and why
    <device>/set/<command>      commands (Home Assistant's command topics)

Replies to requests go to the ``reply_to`` topic a client names, which must be under
``<base>/client/``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Commands on <device>/set/<command>.
COMMANDS = (
    "start",
    "profile",
    "program",
    "stop",
    "pause",
    "resume",
    "skip",
    "intensity_cap",
    "heat",
    "recline",
    "sit_up",
    "zero_gravity",
)
ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True)
class Topics:
    base: str
    node: str

    @property
    def root(self) -> str:
        return f"{self.base}/{self.node}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    @property
    def request(self) -> str:
        return f"{self.root}/request"

    @property
    def ping(self) -> str:
        return f"{self.root}/ping"

    @property
    def pong(self) -> str:
        return f"{self.root}/pong"

    @property
    def sync(self) -> str:
        return f"{self.root}/sync"

    @property
    def client_root(self) -> str:
        return f"{self.base}/client"

    def device(self, name: str, leaf: str) -> str:
        return f"{self.root}/{name}/{leaf}"

    def command(self, name: str, command: str) -> str:
        return f"{self.root}/{name}/set/{command}"

    @property
    def all_commands(self) -> str:
        return f"{self.root}/+/set/+"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """(device, command) of a command topic, else None."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] != "set":
            return None
        return parts[0], parts[2]

    def parse_device_topic(self, topic: str) -> tuple[str, str] | None:
        """(device, leaf) of ``<root>/<device>/<leaf>``, else None."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 2:
            return None
        return parts[0], parts[1]
