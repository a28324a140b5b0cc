"""`serve`'s settings: the [serve] table, the command line, MQTT addresses and credentials."""

from __future__ import annotations

import pytest

from massager_ctl.config import load_config
from massager_ctl.core.errors import UsageError
from massager_ctl.remote.mqtt_channel import parse_remote_uri
from massager_ctl.service.settings import load_settings, parse_mqtt_url


def test_defaults_serve_the_configs_device_as_chair():
    s = load_settings(None, config_device=None)
    assert s.devices == {"chair": "sim:"} and s.mqtt is None
    assert s.discovery_prefix == "homeassistant" and s.base_topic == "massager-ctl"
    s = load_settings(None, config_device="serial:/dev/ttyUSB0?model=rt8600s")
    assert s.devices == {"chair": "serial:/dev/ttyUSB0?model=rt8600s"}


def test_the_table_and_the_command_line_over_it():
    table = {
        "node_id": "living-room",
        "mqtt": "mqtt://broker.lan",
        "devices": {"chair": "sim:", "recliner": "sim:rongtai-rt8600s"},
    }
    s = load_settings(table, config_device=None)
    assert s.node_id == "living-room" and s.devices["recliner"] == "sim:rongtai-rt8600s"
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.tls) == ("broker.lan", 1883, False)
    s = load_settings(
        table, config_device=None, device_args=("desk=sim:",), node_id="office", mqtt="mqtts://b"
    )
    assert s.devices == {"desk": "sim:"} and s.node_id == "office"
    assert (s.mqtt.port, s.mqtt.tls) == (8883, True)


@pytest.mark.parametrize(
    ("table", "kwargs", "message"),
    [
        ({"nodeid": "x"}, {}, "unknown keys nodeid"),
        ({"node_id": "living room"}, {}, "node id"),
        ({"node_id": "a/b"}, {}, "node id"),
        ({"devices": {"my chair": "sim:"}}, {}, "serve.devices name"),
        ({"devices": {"chair": 3}}, {}, "in quotes"),
        ({"devices": "sim:"}, {}, "a table of name"),
        ({"base_topic": "massager/#"}, {}, "wildcards"),
        ({}, {"device_args": ("chair",)}, "NAME=URI"),
        ({}, {"device_args": ("a=sim:", "a=sim:")}, "given twice"),
        ({}, {"discovery_prefix": "/ha"}, "discovery_prefix"),
    ],
)
def test_bad_settings_are_one_clear_line(table, kwargs, message):
    with pytest.raises(UsageError, match=message) as err:
        load_settings(table, config_device=None, **kwargs)
    assert "\n" not in str(err.value)


def test_mqtt_credentials_from_the_environment_win_and_passwords_are_never_printed():
    env = {"MASSAGER_CTL_MQTT_USERNAME": "envuser", "MASSAGER_CTL_MQTT_PASSWORD": "envpass"}
    s = parse_mqtt_url("mqtt://urluser:urlpass@h:1884", env=env)
    assert (s.username, s.password, s.port) == ("envuser", "envpass", 1884)
    s = parse_mqtt_url("mqtt://u%40x:p%3Aw@h", env={})
    assert (s.username, s.password) == ("u@x", "p:w")
    assert "p:w" not in repr(s) and "urlpass" not in s.url
    with pytest.raises(UsageError) as err:
        parse_mqtt_url("mqtt://user:hunter2@h/some/path", env={})
    assert "hunter2" not in str(err.value)
    for bad in ("http://h", "mqtt://", "mqtt://h:notaport", "mqtt://h?x=1"):
        with pytest.raises(UsageError):
            parse_mqtt_url(bad, env={})


def test_a_ca_file_is_for_tls_and_must_exist(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert parse_mqtt_url("mqtts://h", ca_file=str(ca), env={}).ca_file == ca
    with pytest.raises(UsageError, match="mqtts://"):
        parse_mqtt_url("mqtt://h", ca_file=str(ca), env={})
    with pytest.raises(UsageError, match="no such file"):
        parse_mqtt_url("mqtts://h", ca_file=str(tmp_path / "missing.pem"), env={})


def test_other_commands_read_a_config_with_a_serve_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        'device = "sim:"\n[caps]\nmax_intensity = 50\n[serve]\nnode_id = "x"\n[serve.devices]\nc = "sim:"\n'
    )
    config = load_config(path)
    assert config.limits.max_intensity == 50
    assert not any(k.startswith("serve") for k in config.values())


def test_remote_uris():
    t = parse_remote_uri("mqtt://broker.lan/living-room/chair", env={})
    assert (t.host, t.port, t.node, t.device, t.base) == (
        "broker.lan",
        1883,
        "living-room",
        "chair",
        "massager-ctl",
    )
    t = parse_remote_uri("mqtts://u:p@b:8884/n?base=mc&ca_file=/x.pem", env={})
    assert (t.tls, t.port, t.node, t.device, t.base, t.ca_file) == (True, 8884, "n", "", "mc", "/x.pem")
    assert (t.username, t.password) == ("u", "p")
    for bad in ("mqtt://b", "mqtt://b/n/d/x", "mqtt://b/n/d?colour=red"):
        with pytest.raises(UsageError):
            parse_remote_uri(bad, env={})
