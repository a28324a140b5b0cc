"""Worked examples of native protocol v1 frames, with a field-by-field breakdown.

docs/protocol.md shows these; tests/test_native_codec.py checks that every
hex dump in the document is exactly what :func:`..native.encode` produces, so
the document cannot drift from the code. Regenerate the snippets with::

    python -m massager_ctl.devices.native.examples
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from ...core.capabilities import Capabilities
from ...core.status import DeviceState, Status
from ...core.vocabulary import Heat, Technique, Width, Zone
from .codec import (
    HEAT_CODES,
    TECHNIQUE_CODES,
    UNKNOWN_TEMP,
    UNKNOWN_U16,
    WIDTH_CODES,
    ZONE_CODES,
    Ack,
    GetStatus,
    Heartbeat,
    Hello,
    Info,
    Message,
    MsgType,
    Nak,
    NakCode,
    SetState,
    StatusReport,
    Stop,
    crc16,
    encode,
    encode_body,
    stuff,
)

EXAMPLE_CAPS = Capabilities(
    zones=frozenset({Zone.NECK, Zone.SHOULDERS, Zone.UPPER_BACK, Zone.MID_BACK, Zone.LOWER_BACK, Zone.SEAT}),
    techniques=frozenset({Technique.KNEAD, Technique.SHIATSU, Technique.TAP, Technique.ROLL}),
    intensity_steps=5,
    speed_steps=3,
    widths=frozenset(Width),
    airbag_zones=frozenset({Zone.SHOULDERS, Zone.ARMS, Zone.CALVES}),
    airbag_levels=3,
    heat_levels=(Heat.LOW, Heat.HIGH),
    chair_timer_s=(600, 900, 1200),
)

EXAMPLE_STATE = DeviceState(
    technique=Technique.KNEAD,
    zones=frozenset({Zone.SHOULDERS, Zone.UPPER_BACK}),
    intensity=3,
    speed=2,
    width=Width.MEDIUM,
    airbags=((Zone.ARMS, 2),),
    heat=Heat.LOW,
)

#: name -> (what it shows, message). Order is the order of a typical session.
EXAMPLES: dict[str, tuple[str, Message]] = {
    "hello": ("Host opens the session, proposes a 1500 ms deadman", Hello(0, 1, 1500)),
    "info": (
        "Device answers HELLO seq 0",
        Info(0, 1, 1500, "MC-Sim 1", EXAMPLE_CAPS),
    ),
    "set": (
        "Host sets knead on shoulders + upper back, arm airbags, low heat",
        SetState(1, EXAMPLE_STATE),
    ),
    "ack": ("Device accepts SET seq 1", Ack(1)),
    "ack_escaped": (
        "Device accepts SET seq 165: SEQ is 0xA5, so it is sent escaped",
        Ack(165),
    ),
    "status": (
        "Periodic STATUS (device's own counter 17) while running",
        StatusReport(
            17,
            Status(
                running=True,
                state=EXAMPLE_STATE,
                roller_position=0.25,
                airbag_pressure=((Zone.ARMS, 45.5),),
                heater_temp_c=38.5,
                remaining_s=540,
            ),
        ),
    ),
    "nak": (
        "Device refuses a SET seq 2 that asked for intensity 9 (it has 5 steps)",
        Nak(2, NakCode.BAD_VALUE),
    ),
    "heartbeat": ("Host has nothing to say for 500 ms: heartbeat", Heartbeat(3)),
    "stop": ("Host stops everything", Stop(4)),
    "ack_stop": ("Device accepts STOP seq 4", Ack(4)),
    "get_status": ("Host asks for a status now", GetStatus(5)),
    "status_stopped": (
        "Device answers GET_STATUS seq 5: stopped, arm airbag still venting",
        StatusReport(
            5,
            Status(
                running=False,
                state=DeviceState(),
                roller_position=0.25,
                airbag_pressure=((Zone.ARMS, 3.0),),
                heater_temp_c=37.9,
                remaining_s=None,
            ),
        ),
    ),
    "status_fault": (
        "Device stopped itself: the deadman expired",
        StatusReport(
            18,
            Status(running=False, state=DeviceState(), fault="deadman"),
        ),
    ),
}


E = TypeVar("E", bound=Enum)


def _h(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _names(codes: Mapping[E, int], mask: int, offset: int) -> str:
    """The names a mask lists: bit ``c - offset`` for code ``c`` (offset 0: zones, where code 0,
    the neck, is bit 0; offset 1: techniques, widths, heat, where code 0 has no bit)."""
    picked = [k.value for k, c in codes.items() if c >= offset and mask & (1 << (c - offset))]
    return ", ".join(picked) or "none"


def _state_fields(state: DeviceState) -> list[tuple[bytes, str]]:
    tech = TECHNIQUE_CODES[state.technique] if state.technique else 0
    zmask = sum(1 << ZONE_CODES[z] for z in state.zones)
    width = WIDTH_CODES[state.width] if state.width else 0
    out = [
        (bytes((tech,)), f"technique = {state.technique.value if state.technique else 'none'}"),
        (zmask.to_bytes(2, "big"), f"zones = {_names(ZONE_CODES, zmask, 0)}"),
        (bytes((state.intensity,)), f"intensity = {state.intensity}"),
        (bytes((state.speed,)), f"speed = {state.speed}"),
        (bytes((width,)), f"width = {state.width.value if state.width else 'not given'}"),
        (bytes((HEAT_CODES[state.heat],)), f"heat = {state.heat.value}"),
        (bytes((len(state.airbags),)), f"airbag count = {len(state.airbags)}"),
    ]
    for zone, level in state.airbags:
        out.append((bytes((ZONE_CODES[zone], level)), f"airbag {zone.value} = level {level}"))
    return out


def _status_fields(status: Status) -> list[tuple[bytes, str]]:
    running = 1 if status.running else 0
    out = [(bytes((running,)), f"flags: running = {running}")]
    out += _state_fields(status.state)
    if status.roller_position is None:
        out.append((UNKNOWN_U16.to_bytes(2, "big"), "roller position unknown"))
    else:
        raw = round(status.roller_position * 1000)
        text = f"roller position = {raw}/1000 (0 = neck, 1000 = seat)"
        out.append((raw.to_bytes(2, "big"), text))
    if status.heater_temp_c is None:
        out.append((UNKNOWN_TEMP.to_bytes(2, "big"), "heater temperature unknown"))
    else:
        raw = round(status.heater_temp_c * 10)
        out.append((raw.to_bytes(2, "big", signed=True), f"heater = {raw} x 0.1 C = {raw / 10} C"))
    if status.remaining_s is None:
        out.append((UNKNOWN_U16.to_bytes(2, "big"), "remaining time: no chair timer running"))
    else:
        out.append((status.remaining_s.to_bytes(2, "big"), f"remaining = {status.remaining_s} s"))
    count = len(status.airbag_pressure)
    out.append((bytes((count,)), f"pressure count = {count}"))
    for zone, pressure in status.airbag_pressure:
        raw = round(pressure * 10)
        text = f"pressure {zone.value} = {raw} x 0.1 % = {pressure} %"
        out.append((bytes((ZONE_CODES[zone],)) + raw.to_bytes(2, "big"), text))
    if status.fault:
        text_bytes = status.fault.encode()
        out.append((bytes((len(text_bytes),)), f"fault text length = {len(text_bytes)}"))
        out.append((text_bytes, f'fault text "{status.fault}" (UTF-8)'))
    else:
        out.append((b"\x00", "fault text length = 0: no fault"))
    return out


def _info_fields(msg: Info) -> list[tuple[bytes, str]]:
    c = msg.capabilities
    zmask = sum(1 << ZONE_CODES[z] for z in c.zones)
    amask = sum(1 << ZONE_CODES[z] for z in c.airbag_zones)
    tmask = sum(1 << (TECHNIQUE_CODES[t] - 1) for t in c.techniques)
    wmask = sum(1 << (WIDTH_CODES[w] - 1) for w in c.widths)
    hmask = sum(1 << (HEAT_CODES[h] - 1) for h in c.heat_levels)
    model = msg.model.encode()
    out = [
        (bytes((msg.version,)), f"version = {msg.version}"),
        (msg.deadman_ms.to_bytes(2, "big"), f"deadman = {msg.deadman_ms} ms"),
        (zmask.to_bytes(2, "big"), f"roller zones = {_names(ZONE_CODES, zmask, 0)}"),
        (bytes((tmask,)), f"techniques = {_names(TECHNIQUE_CODES, tmask, 1)}"),
        (bytes((c.intensity_steps,)), f"intensity steps = {c.intensity_steps}"),
        (bytes((c.speed_steps,)), f"speed steps = {c.speed_steps}"),
        (bytes((wmask,)), f"widths = {_names(WIDTH_CODES, wmask, 1)}"),
        (amask.to_bytes(2, "big"), f"airbag zones = {_names(ZONE_CODES, amask, 0)}"),
        (bytes((c.airbag_levels,)), f"airbag levels = {c.airbag_levels}"),
        (bytes((hmask,)), f"heat levels = {_names(HEAT_CODES, hmask, 1)}"),
        (bytes((len(c.chair_timer_s),)), f"chair timer count = {len(c.chair_timer_s)}"),
    ]
    for s in c.chair_timer_s:
        out.append((s.to_bytes(2, "big"), f"timer {s} s"))
    out.append((bytes((len(model),)), f"model length = {len(model)}"))
    out.append((model, f'model "{msg.model}" (UTF-8)'))
    for label, items in (("recline motor", c.recline_motors), ("program", c.programs)):
        out.append((bytes((len(items),)), f"{label} count = {len(items)}"))
        for item in items:
            raw = item.encode()
            out.append((bytes((len(raw),)) + raw, f'{label} "{item}"'))
    return out


def annotate(msg: Message) -> list[tuple[bytes, str]]:
    """The frame for ``msg`` cut into fields as sent (escaped), each with a description."""
    kind, body = encode_body(msg)
    inner = bytes((2 + len(body), kind, msg.seq)) + body
    fields = [
        (b"\xa5", "START"),
        (inner[:1], f"LEN = {inner[0]} (TYPE + SEQ + {len(body)} body bytes)"),
        (inner[1:2], f"TYPE = {MsgType(kind).name}"),
        (inner[2:3], f"SEQ = {msg.seq}"),
    ]
    if isinstance(msg, Hello):
        fields += [
            (bytes((msg.version,)), f"version = {msg.version}"),
            (msg.deadman_ms.to_bytes(2, "big"), f"deadman = {msg.deadman_ms} ms"),
        ]
    elif isinstance(msg, Info):
        fields += _info_fields(msg)
    elif isinstance(msg, SetState):
        fields += _state_fields(msg.state)
    elif isinstance(msg, StatusReport):
        fields += _status_fields(msg.status)
    elif isinstance(msg, Nak):
        fields.append((bytes((msg.code,)), f"code = {msg.code.name}"))
    crc = crc16(inner)
    fields.append((crc.to_bytes(2, "big"), f"CRC-16/CCITT-FALSE of LEN..BODY = 0x{crc:04X}"))
    wire = [fields[0]]
    for raw, text in fields[1:]:
        sent = stuff(raw)
        wire.append((sent, text if sent == raw else f"{text} (escaped on the wire)"))
    return wire


def markdown(name: str) -> str:
    """The doc snippet for one example: one-line frame, then the field breakdown."""
    _, msg = EXAMPLES[name]
    width = max(len(_h(raw)) for raw, _ in annotate(msg) if len(raw) <= 4)
    lines = []
    for raw, text in annotate(msg):
        for k in range(0, len(raw), 8):  # long text fields wrap, 8 bytes a line
            chunk = raw[k : k + 8]
            lines.append(f"{_h(chunk):<{width}}  {text if k == 0 else '...'}")
    return (
        f"<!-- frame: {name} -->\n```text\n{_h(encode(msg))}\n```\n\n"
        f"<!-- fields: {name} -->\n```text\n" + "\n".join(lines) + "\n```\n"
    )


def main() -> None:
    for name, (title, _) in EXAMPLES.items():
        print(f"#### {title}\n")
        print(markdown(name))


if __name__ == "__main__":
    main()
