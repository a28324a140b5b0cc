"""A status says what is known: unknown is "unknown" (text and JSON), never "stopped";
``confirmed`` is always in the JSON."""

from __future__ import annotations

from massager_ctl.cli.session_cmds import _status_text
from massager_ctl.core.status import DEVICE_STOPPED, UNKNOWN, DeviceState, Status
from massager_ctl.core.vocabulary import Technique, Zone

RUNNING = DeviceState(Technique.KNEAD, frozenset({Zone.SHOULDERS}), intensity=3, speed=1)


def test_a_status_nobody_read_is_unknown_not_stopped():
    status = Status(running=None, extra={"battery_pct": 80})
    assert not status.known and not status.stopped and not status.confirmed
    d = status.to_dict()
    for key in ("running", "stopped", "technique", "zones", "intensity", "speed", "width", "airbags", "heat"):
        assert d[key] == UNKNOWN, key
    assert d["confirmed"] is False
    text = _status_text(status)
    assert "running: unknown" in text and "stopped" not in text and "rollers" not in text
    assert "battery: 80 %" in text


def test_a_status_built_from_what_was_sent_says_so():
    status = Status(running=True, state=RUNNING, extra={"confirmed": False})
    d = status.to_dict()
    assert d["running"] is True and d["confirmed"] is False
    assert "as sent by this host, not confirmed by the device" in _status_text(status)


def test_a_status_read_from_the_device_is_confirmed():
    status = Status(running=False, state=DEVICE_STOPPED)
    d = status.to_dict()
    assert d["stopped"] is True and d["confirmed"] is True
    assert _status_text(status).startswith("running: no (stopped)\n")
