"""Serial ports for ``massager-ctl scan``, each marked with the known model it matches.

A port matches a model when its USB VID:PID is one of the model's
``recognise.usb_ids``, or its description, product or manufacturer contains
one of the model's ``recognise.port_descriptions`` (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..devices.model import ModelDefinition
from ..devices.registry import MODELS
from .found import Found


def _texts(info: Any) -> list[str]:
    return [
        t.lower()
        for t in (
            getattr(info, "description", None),
            getattr(info, "product", None),
            getattr(info, "manufacturer", None),
        )
        if t and t != "n/a"
    ]


def match_models(info: Any) -> list[ModelDefinition]:
    """The serial-reachable models a ``list_ports`` entry matches (best evidence first)."""
    by_id: list[ModelDefinition] = []
    by_text: list[ModelDefinition] = []
    vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
    texts = _texts(info)
    for definition in MODELS.values():
        if not definition.reachable_on_serial:
            continue
        rec = definition.recognise
        if vid is not None and (vid, pid) in rec.usb_ids:
            by_id.append(definition)
        elif any(word.lower() in text for word in rec.port_descriptions for text in texts):
            by_text.append(definition)
    return by_id or by_text


def found_from_ports(ports: Iterable[Any], *, include_all: bool = False) -> list[Found]:
    """Scan rows from ``serial.tools.list_ports`` entries.

    Without ``include_all`` only USB ports and ports matching a model are
    listed (built-in UARTs with nothing on them are left out).
    """
    rows: list[Found] = []
    for info in ports:
        matches = match_models(info)
        vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
        if not include_all and vid is None and not matches:
            continue
        details: dict[str, Any] = {}
        if vid is not None:
            details["vid_pid"] = f"{vid:04x}:{pid or 0:04x}"
        for key in ("serial_number", "manufacturer", "product", "location", "hwid"):
            value = getattr(info, key, None)
            if value and value != "n/a":
                details[key] = value
        model = matches[0].name if len(matches) == 1 else None
        if len(matches) > 1:
            details["could_be"] = [m.name for m in matches]
        if model is not None:
            details["line"] = matches[0].serial_settings().describe()
        uri = f"serial:{info.device}" + (f"?model={model}" if model else "")
        description = getattr(info, "description", None)
        name = description if description and description != "n/a" else info.device
        rows.append(Found("serial", uri, name, info.device, model, None, details))
    rows.sort(key=lambda f: (f.model is None, f.address))
    return rows


def scan_serial(*, include_all: bool = False) -> list[Found]:
    """The serial ports on this computer (needs pyserial)."""
    from serial.tools import list_ports

    return found_from_ports(list_ports.comports(), include_all=include_all)
