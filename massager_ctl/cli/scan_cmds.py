"""``massager-ctl scan``: serial ports and Bluetooth devices, marked with the model each matches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .context import CliContext, pass_cli
from .params import FiniteFloat

if TYPE_CHECKING:
    from ..connection.found import Found


def _serial_rows(include_all: bool) -> tuple[list[Found], str | None]:
    """(rows, None) or ([], why serial scanning is unavailable)."""
    try:
        from ..connection.serial_scan import scan_serial
    except ImportError as exc:  # pragma: no cover - the module itself is always there
        return [], str(exc)
    try:
        return scan_serial(include_all=include_all), None
    except ModuleNotFoundError as exc:
        return [], f"the Python package {exc.name!r} is not installed (pip install pyserial)"
    except OSError as exc:
        return [], f"listing serial ports failed: {exc}"


async def _ble_rows(timeout: float, include_all: bool, simulate: bool) -> tuple[list[Found], str | None]:
    """(rows, None) or ([], why BLE scanning is unavailable)."""
    try:
        from ..connection.ble_scan import scan_ble
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("massager_ctl"):
            return [], "this version has no Bluetooth support"
        return [], f"the Python package {exc.name!r} is not installed (pip install bleak)"
    except ImportError as exc:
        return [], f"Bluetooth support could not load: {exc}"
    try:
        return await scan_ble(timeout, include_all=include_all, simulate=simulate), None
    except Exception as exc:  # noqa: BLE001 - adapter off, no adapter, no D-Bus ...: say why
        text = str(exc).strip() or type(exc).__name__
        return [], text.splitlines()[0]


def _row_text(row: Found) -> str:
    model = row.model or "-"
    extra = []
    if row.rssi is not None:
        extra.append(f"RSSI {row.rssi}")
    for key in ("vid_pid", "serial_number", "line"):
        if key in row.details:
            extra.append(f"{key.replace('_', ' ')} {row.details[key]}")
    if "could_be" in row.details:
        extra.append("could be " + " or ".join(row.details["could_be"]))
    tail = f"  ({'; '.join(extra)})" if extra else ""
    return f"{row.transport:<6} {model:<19} {row.name}  {row.uri}{tail}"


@click.command()
@click.option(
    "--all", "include_all", is_flag=True, help="List every port and device, not only likely massagers."
)
@click.option(
    "--timeout",
    type=FiniteFloat(0.5, 60),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Seconds to listen for Bluetooth devices.",
)
@pass_cli
def scan(cli: CliContext, include_all: bool, timeout: float) -> None:
    """List serial ports and Bluetooth devices, marking the models they match.

    With --json: a ``device`` record per port or device found (serial ports first,
    as soon as they are listed), then an ``end`` record with what was unavailable.
    """
    import asyncio

    serial_rows, serial_why = _serial_rows(include_all)
    if cli.json:
        for row in serial_rows:
            cli.record("device", row.to_dict())
    ble_rows, ble_why = asyncio.run(_ble_rows(timeout, include_all, cli.simulate_ble))
    rows = serial_rows + ble_rows
    unavailable = {k: v for k, v in (("serial", serial_why), ("ble", ble_why)) if v}
    if cli.json:
        for row in ble_rows:
            cli.record("device", row.to_dict())
        cli.record("end", {"count": len(rows), "unavailable": unavailable})
        return
    for what, why in unavailable.items():
        label = "BLE" if what == "ble" else "serial"
        click.echo(f"massager-ctl: {label} scanning is unavailable: {why}", err=True)
    if not rows:
        hint = "" if include_all else " (--all lists every port and device)"
        click.echo(f"no devices found{hint}")
        return
    for row in rows:
        click.echo(_row_text(row))
