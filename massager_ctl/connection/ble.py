"""``ble:`` URIs: find the device, recognise its model, build its driver on a BleTransport.

* ``ble:AA:BB:CC:DD:EE:FF`` - by address (a UUID on macOS);
* ``ble:NAME`` - the first device advertising exactly that name (case does
  not matter), e.g. ``ble:Pro`` or ``ble:Pulsetto Fit``;
* ``?model=NAME`` - skip recognition (for a device whose advertisement says
  too little); ``?scan=SECONDS`` - how long to look for it (default 10);
  any other option goes to the driver if it takes it (e.g. ``?side=left``
  for the Pulsetto).

With ``simulate_ble`` the simulated radio of :mod:`massager_ctl.sim.ble_backend`
stands in for the adapter: the simulated device's firmware starts in this
process, :attr:`OpenedDevice.simulator` is it, and closing stops it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import DeviceError, UsageError
from ..devices.model import ModelDefinition
from ..devices.registry import MODELS, get_model
from ..transport.ble import BleLayout, BleTransport, ble_error, require_bleak
from .uri import DeviceURI

if TYPE_CHECKING:  # bleak and the simulated radio are imported where they are used
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from ..sim.ble_backend import SimulatedRadio
    from .open import OpenedDevice

    _Match = Callable[[BLEDevice, AdvertisementData], bool]

log = logging.getLogger(__name__)

DEFAULT_SCAN_S = 10.0
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
_APPLE_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def is_address(target: str) -> bool:
    return bool(_ADDRESS.match(target) or _APPLE_UUID.match(target))


def _matcher(target: str) -> _Match:
    if is_address(target):
        wanted = target.lower()
        return lambda device, adv: device.address.lower() == wanted
    wanted = target.casefold()
    return lambda device, adv: (adv.local_name or device.name or "").casefold() == wanted


async def find_ble_device(
    target: str, timeout: float, scanner_kwargs: dict[str, Any]
) -> tuple[BLEDevice, AdvertisementData] | tuple[None, None]:
    """The first (BLEDevice, AdvertisementData) matching ``target``, or (None, None)."""
    from bleak import BleakScanner

    match = _matcher(target)
    found: tuple[BLEDevice, AdvertisementData] | None = None
    try:
        # Starting and stopping the scanner are bounded too (a stuck adapter must not hang).
        async with asyncio.timeout(timeout + 10.0):
            async with BleakScanner(**scanner_kwargs) as scanner:
                adverts = scanner.advertisement_data()
                try:
                    async with asyncio.timeout(timeout):
                        async for device, adv in adverts:
                            if match(device, adv):
                                found = (device, adv)
                                break
                except TimeoutError:
                    pass
                finally:
                    await adverts.aclose()
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise DeviceError(f"{target}: the Bluetooth adapter did not start or stop scanning") from None
    except Exception as exc:  # noqa: BLE001 - bleak / D-Bus: one line out
        raise ble_error(exc, target) from exc
    return found if found is not None else (None, None)


def _ble_models() -> str:
    return ", ".join(n for n, m in MODELS.items() if "ble" in m.schemes and m.ble is not None)


def _driver_options(definition: ModelDefinition, driver: Any, options: dict[str, str]) -> dict[str, str]:
    if not options:
        return {}
    params = inspect.signature(driver).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    reserved = {"transport", "min_write_gap_s", "name"}
    unknown = [k for k in options if k in reserved or (k not in params and not takes_any)]
    if unknown:
        known = [
            n for n, p in params.items() if n not in reserved and p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        raise UsageError(
            f"ble: option(s) {', '.join(unknown)} are not known for model {definition.name} "
            f"(it takes: {', '.join(['model', 'scan', *known])})"
        )
    return dict(options)


async def open_ble(parsed: DeviceURI, *, faults: Any = None, simulate_ble: bool = False) -> OpenedDevice:
    """Open a ``ble:`` URI (see the module docstring). Does not connect yet."""
    require_bleak()
    target = parsed.target.strip()
    if not target:
        raise UsageError(
            "ble: needs an address or an advertised name, e.g. ble:AA:BB:CC:DD:EE:FF or "
            "ble:Pro; `massager-ctl scan` lists what is around"
        )
    options = dict(parsed.options)
    model_name = options.pop("model", None)
    scan_text = options.pop("scan", None)
    try:
        scan_s = DEFAULT_SCAN_S if scan_text is None else float(scan_text)
    except ValueError:
        raise UsageError(f"ble: scan={scan_text!r} is not a number of seconds") from None
    if not 0 < scan_s <= 300:
        raise UsageError("ble: scan= must be above 0 and at most 300 seconds")
    definition = get_model(model_name) if model_name else None
    if definition is not None and ("ble" not in definition.schemes or definition.ble is None):
        raise UsageError(
            f"model {definition.name} is not reached over Bluetooth LE; BLE models: {_ble_models()}"
        )

    radio: SimulatedRadio | None = None
    scanner_kwargs: dict[str, Any] = {}
    client_backend: type | None = None
    if simulate_ble:
        from ..sim.ble_backend import SimulatedRadio
        from .simulated_ble import default_devices

        radio = SimulatedRadio(default_devices())
        scanner_kwargs["backend"] = radio.scanner_backend
        client_backend = radio.client_backend
    elif faults is not None:
        log.warning("fault injection applies to simulated devices only; ignored for %s", parsed)

    try:
        return await _open(
            parsed, target, definition, options, scan_s, radio, scanner_kwargs, client_backend, faults
        )
    except BaseException:
        if radio is not None:
            await radio.close()
        raise


async def _open(
    parsed: DeviceURI,
    target: str,
    definition: ModelDefinition | None,
    options: dict[str, str],
    scan_s: float,
    radio: SimulatedRadio | None,
    scanner_kwargs: dict[str, Any],
    client_backend: type | None,
    faults: Any,
) -> OpenedDevice:
    from .open import SIM_TRACE_ENV, OpenedDevice, write_sim_trace

    device, adv = await find_ble_device(target, scan_s, scanner_kwargs)
    if device is None or adv is None:  # both or neither
        hint = "is it switched on, near, and not connected to a phone?"
        if radio is not None:
            names = ", ".join(p.name for p in radio.peripherals.values() if p.name)
            hint = f"simulated devices: {names}"
        raise DeviceError(f"no Bluetooth LE device {target!r} found in {scan_s:g} s ({hint})")
    name = adv.local_name or device.name or device.address
    if definition is None:
        from .ble_scan import recognise_ble

        definition = recognise_ble(name, adv.service_uuids, adv.manufacturer_data)
        if definition is None or definition.ble is None:
            raise DeviceError(
                f"{name} ({device.address}) is not a device model massager-ctl knows; if you know "
                f"what it is, add ?model=NAME (BLE models: {_ble_models()})"
            )
    layout = definition.ble
    if not isinstance(layout, BleLayout):
        raise DeviceError(f"model {definition.name} has no usable BLE layout")

    async def find_again() -> BLEDevice | None:
        found, _ = await find_ble_device(device.address, scan_s, scanner_kwargs)
        return found

    transport = BleTransport(
        device,
        layout,
        name=name,
        backend=client_backend,
        device_finder=find_again,
    )
    driver_class = definition.load("driver")
    extra = _driver_options(definition, driver_class, options)
    driver = driver_class(
        transport, min_write_gap_s=definition.min_write_gap_s, name=definition.name, **extra
    )
    simulator = None
    closers: list[Callable[[], Any]] = []
    link = None
    if radio is not None:
        link = radio.peripheral(device.address)
        simulator = await link.power_on(faults=faults)
        closers.append(radio.close)
    opened = OpenedDevice(driver, definition, simulator, closers)
    opened.link = link
    trace_path = os.environ.get(SIM_TRACE_ENV)
    if simulator is not None and trace_path:
        opened.closers.insert(0, lambda: write_sim_trace(simulator, trace_path))
    log.info("%s: %s at %s, model %s", parsed, name, device.address, definition.name)
    return opened
