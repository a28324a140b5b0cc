"""``serial:PORT[?model=NAME][&baud=N]``: a device on a serial port.

* ``PORT`` is a path (``/dev/ttyUSB0``, ``/dev/serial/by-id/...``, a pty
  from ``massager-ctl simulate``) or a Windows name (``COM3``).
* ``model`` names the device model (``massager-ctl devices``). It may be
  left out when the port's USB id or description matches exactly one model.
* ``baud`` overrides the model's baud rate (for DIY native-protocol boards).
* ``long_deadman=warn`` accepts a native-protocol device that keeps a longer deadman
  than the host asked for (refused by default; docs/safety.md).

The line is opened with the model's whole :class:`SerialSettings`
(``ModelDefinition.serial_settings()``: its own, or the native protocol's
115200 8N1 when it has none), exclusively, and the model's driver speaks
over it.

A model is reachable here when its definition says so
(``ModelDefinition.reachable_on_serial``): ``serial`` is one of its schemes,
or it speaks the native protocol and is not tied to another transport (the
protocol is transport-agnostic: ``sim-chair`` served on a pty by
``massager-ctl simulate`` is reached this way).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..core.errors import DeviceError, UsageError
from ..devices.model import ModelDefinition
from ..devices.registry import MODELS, get_model
from ..transport.serial import SerialSettings
from .uri import DeviceURI

if TYPE_CHECKING:
    from serial.tools.list_ports_common import ListPortInfo

    from .open import OpenedDevice

OPTIONS = ("model", "baud", "long_deadman")


def serial_models() -> list[ModelDefinition]:
    """The models a ``serial:`` URI can name."""
    return [m for m in MODELS.values() if m.reachable_on_serial]


def _model_list() -> str:
    return ", ".join(m.name for m in serial_models())


def _port_info(port: str) -> ListPortInfo | None:
    """The list_ports entry for ``port`` (following symlinks), or None."""
    try:
        from serial.tools import list_ports
    except ImportError:
        return None
    wanted = os.path.realpath(port) if port.startswith("/") else port
    for info in list_ports.comports():
        device = os.path.realpath(info.device) if info.device.startswith("/") else info.device
        if device == wanted or info.device == port:
            return info
    return None


def _choose_model(port: str, options: dict[str, str]) -> ModelDefinition:
    name = options.get("model")
    if name:
        definition = get_model(name)
        if not definition.reachable_on_serial:
            raise UsageError(
                f"model {definition.name} is not reached over a serial port "
                f"(it is reached by: {', '.join(s + ':' for s in definition.schemes)}); "
                f"serial models: {_model_list()}"
            )
        return definition
    from .serial_scan import match_models

    info = _port_info(port)
    matches = match_models(info) if info is not None else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        why = f"it matches several models ({', '.join(m.name for m in matches)})"
    elif info is not None and info.vid is not None:
        why = f"its USB id {info.vid:04x}:{info.pid:04x} matches no known model"
    else:
        why = "there is no USB id to recognise it by"
    raise UsageError(
        f"serial:{port}: say which device is on this port, e.g. serial:{port}?model=NAME "
        f"({why}); serial models: {_model_list()}"
    )


def _settings(definition: ModelDefinition, options: dict[str, str]) -> SerialSettings:
    settings = definition.serial_settings()
    baud = options.get("baud")
    if baud is None:
        return settings
    try:
        from dataclasses import replace

        return replace(settings, baudrate=int(baud))
    except ValueError as exc:
        raise UsageError(f"serial: baud={baud!r}: {exc}") from None


def _check_port(port: str) -> None:
    if not port:
        raise UsageError("serial: needs a port, e.g. serial:/dev/ttyUSB0?model=nlr-hf8")
    if port.startswith("/") and not os.path.exists(port):
        raise DeviceError(
            f"serial port {port} does not exist (unplugged? `massager-ctl scan` lists the "
            "serial ports there are)"
        )
    if port.startswith("/") and _is_our_terminal(port):
        raise UsageError(
            f"serial:{port} is the terminal massager-ctl runs in: opened as a device it would be "
            "left raw at the device's baud rate; give the chair's port (`massager-ctl scan` lists them)"
        )


def _is_our_terminal(port: str) -> bool:
    """Is ``port`` this process's terminal (its stdin/out/err, /dev/tty, or its controlling
    terminal)? Opening it as a serial port would take the terminal over."""
    import stat

    try:
        info = os.stat(port)
    except OSError:
        return False
    if not stat.S_ISCHR(info.st_mode):
        return False
    if os.path.realpath(port) == "/dev/tty":
        return True
    ours = set()
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                ours.add(os.fstat(fd).st_rdev)
        except OSError:
            continue
    try:  # the controlling terminal, even with stdio redirected (Linux: tty_nr of /proc/self/stat)
        with open("/proc/self/stat", encoding="ascii") as fh:
            tty_nr = int(fh.read().rsplit(")", 1)[1].split()[4])
        if tty_nr:
            ours.add(tty_nr)
    except (OSError, ValueError, IndexError):
        pass
    return info.st_rdev in ours


async def open_serial(parsed: DeviceURI, *, faults: Any = None, simulate_ble: bool = False) -> OpenedDevice:
    """Build (not connect) the device on ``serial:PORT[?model=NAME]``."""
    from ..transport.serial import SerialTransport
    from .open import OpenedDevice

    unknown = sorted(set(parsed.options) - set(OPTIONS))
    if unknown:
        raise UsageError(
            f"{parsed.text}: unknown option(s) {', '.join(unknown)} (serial: takes {', '.join(OPTIONS)})"
        )
    port = parsed.target
    _check_port(port)
    definition = _choose_model(port, parsed.options)
    try:
        import serial  # noqa: F401
    except ImportError:
        raise UsageError("serial: devices need the Python package 'pyserial'; install it with pip") from None
    driver = definition.load("driver")
    extra = {}
    if "long_deadman" in parsed.options:  # native protocol: accept a longer deadman, warned
        if definition.protocol != "native":
            raise UsageError(f"{parsed.text}: long_deadman= is for native-protocol devices only")
        extra["long_deadman"] = parsed.options["long_deadman"]
    transport = SerialTransport(port, _settings(definition, parsed.options))
    device = driver(transport, min_write_gap_s=definition.min_write_gap_s, name=definition.name, **extra)
    opened = OpenedDevice(device, definition, None, [transport.close])
    opened.link = transport
    return opened
