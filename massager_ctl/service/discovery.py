"""Home Assistant MQTT discovery configs for one served device. Pure: no I/O.

One retained config per entity (per-entity discovery, which every Home Assistant
release with MQTT discovery reads) at

    <prefix>/<component>/massager_ctl_<node>/<device>_<key>/config

Facts this follows, from Home Assistant's MQTT docs (home-assistant/home-assistant.io
``source/_integrations/mqtt.markdown`` and the ``button``, ``select``, ``number``,
``switch`` and ``sensor`` MQTT pages) and its discovery code (home-assistant/core
``homeassistant/components/mqtt/discovery.py``, ``schemas.py``):

* node and object ids hold only ``[a-zA-Z0-9_-]``: ours are checked to that;
* ``unique_id`` makes the entity registry keep the entity (and its entity id) and lets
  the ``device`` block group the entities; ours never change for a (node, device, key);
* ``availability`` (a list, mode ``all``): the node's status (with the service's will)
  and the device's link; never together with ``availability_topic``;
* a select's state must be one of its ``options``; "None" resets it to unknown;
* a number's ``min`` defaults to 1, so ours is given (0);
* an ``enum`` sensor needs ``options`` and neither a unit nor a state class; duration
  and temperature sensors give a unit their device class accepts (``s``, ``°C``).

Every command Home Assistant sends carries the time it was sent (``command_template``),
so a command that comes late (queued while the broker was away) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..remote.topics import Topics
from ..remote.wire import JsonObject

#: The states the "state" sensor takes (its enum options).
STATES = ("offline", "idle", "playing", "paused", "program", "stopping")
#: Wraps every command in {"value": ..., "ts": unix time} (see module docstring).
COMMAND_TEMPLATE = '{"value": {{ value | to_json }}, "ts": {{ as_timestamp(now()) }}}'
COMPONENTS = ("button", "select", "number", "switch", "sensor")


@dataclass(frozen=True)
class DeviceInfo:
    """What discovery needs to know about one served device."""

    name: str
    model: str
    model_title: str
    programs: tuple[str, ...]
    moves: tuple[str, ...]
    heat: bool
    max_intensity: float
    profiles: tuple[str, ...]


def node_object(node: str) -> str:
    """The discovery topic's node level for our node."""
    return f"massager_ctl_{node}"


def unique_id(node: str, device: str, key: str) -> str:
    return f"massager_ctl_{node}_{device}_{key}"


def config_topic(prefix: str, component: str, node: str, device: str, key: str) -> str:
    return f"{prefix}/{component}/{node_object(node)}/{device}_{key}/config"


def our_configs_filter(prefix: str, node: str) -> str:
    """A subscription matching every config this node could have published."""
    return f"{prefix}/+/{node_object(node)}/+/config"


def discovery_configs(prefix: str, topics: Topics, info: DeviceInfo, version: str) -> dict[str, JsonObject]:
    """topic -> config payload for every entity of the device."""
    node, dev = topics.node, info.name
    state = topics.device(dev, "state")
    device_block = {
        "identifiers": [f"massager_ctl_{node}_{dev}"],
        "name": dev,
        "model": info.model_title or info.model,
        "manufacturer": "massager-ctl",
        "sw_version": version,
    }
    common = {
        "device": device_block,
        "origin": {"name": "massager-ctl", "sw_version": version},
        "availability": [
            {"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"},
            {
                "topic": topics.device(dev, "availability"),
                "payload_available": "online",
                "payload_not_available": "offline",
            },
        ],
        "availability_mode": "all",
        "qos": 1,
    }
    out: dict[str, JsonObject] = {}

    def add(component: str, key: str, name: str, **options: Any) -> None:
        payload = {"name": name, "unique_id": unique_id(node, dev, key), **common, **options}
        if "command_topic" in payload:
            payload["command_template"] = COMMAND_TEMPLATE
            payload["retain"] = False
        out[config_topic(prefix, component, node, dev, key)] = payload

    def command(key: str) -> str:
        return topics.command(dev, key)

    def button(key: str, name: str, icon: str) -> None:
        add("button", key, name, command_topic=command(key), payload_press="PRESS", icon=icon)

    if info.profiles:
        add(
            "select",
            "profile",
            "Profile",
            command_topic=command("profile"),
            state_topic=state,
            value_template="{{ value_json.profile_selected if value_json.profile_selected else 'None' }}",
            options=list(info.profiles),
            icon="mdi:playlist-play",
        )
        button("start", "Start", "mdi:play")
    if info.programs:
        add(
            "select",
            "program",
            "Chair program",
            command_topic=command("program"),
            state_topic=state,
            value_template="{{ value_json.program if value_json.program else 'None' }}",
            options=list(info.programs),
            icon="mdi:seat-recline-extra",
        )
    button("stop", "Stop", "mdi:stop")
    button("pause", "Pause", "mdi:pause")
    button("resume", "Resume", "mdi:play-pause")
    button("skip", "Skip segment", "mdi:skip-next")
    add(
        "number",
        "intensity_cap",
        "Intensity cap",
        command_topic=command("intensity_cap"),
        state_topic=state,
        value_template="{{ value_json.intensity_cap }}",
        min=0,
        max=info.max_intensity,
        step=5,
        mode="slider",
        unit_of_measurement="%",
        entity_category="config",
        icon="mdi:speedometer-slow",
    )
    if info.heat:
        add(
            "switch",
            "heat",
            "Heat",
            command_topic=command("heat"),
            state_topic=state,
            value_template="{{ value_json.heat_on }}",
            payload_on="ON",
            payload_off="OFF",
            icon="mdi:heat-wave",
        )
    moves = {
        "recline": ("Recline", "mdi:seat-recline-extra"),
        "sit_up": ("Sit up", "mdi:seat-recline-normal"),
        "zero_gravity": ("Zero gravity", "mdi:seat-flat"),
    }
    for key in info.moves:
        button(key, *moves[key])

    def sensor(key: str, name: str, template: str, **options: Any) -> None:
        add("sensor", key, name, state_topic=state, value_template=template, **options)

    sensor(
        "state",
        "State",
        "{{ value_json.state }}",
        device_class="enum",
        options=list(STATES),
        icon="mdi:massage",
    )
    sensor("segment", "Segment", "{{ value_json.segment }}", icon="mdi:format-list-numbered")
    sensor(
        "time_remaining",
        "Time remaining",
        "{{ value_json.remaining_s if value_json.remaining_s is not none else 'None' }}",
        device_class="duration",
        unit_of_measurement="s",
    )
    sensor(
        "intensity",
        "Intensity",
        "{{ value_json.intensity }}",
        unit_of_measurement="%",
        state_class="measurement",
        icon="mdi:gauge",
    )
    if info.heat:
        sensor(
            "heater_temperature",
            "Heater temperature",
            "{{ value_json.heater_temp_c if value_json.heater_temp_c is not none else 'None' }}",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
        )
    sensor("airbags", "Airbags", "{{ value_json.airbags }}", icon="mdi:balloon")
    sensor(
        "last_end",
        "Last session end",
        "{{ value_json.last_end if value_json.last_end else 'None' }}",
        icon="mdi:flag-checkered",
    )
    sensor(
        "last_error",
        "Last refused command",
        "{{ value_json.last_error }}",
        entity_category="diagnostic",
        icon="mdi:alert-circle-outline",
    )
    return out
