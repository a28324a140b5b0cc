"""`scan` over Bluetooth LE: which devices are around, and which model each one is.

Recognition (:func:`recognise_ble`) reads a model's ``Recognise`` entry:

* ``ble_manufacturer`` - (company ID, data prefix) pairs: the strongest sign;
* ``ble_names`` - advertised names: the name equals the entry, or starts with
  it where the entry ends in a separator (``"EVOLUTION-"``) or the name goes
  on with one (``"Pulsetto"`` matches ``"Pulsetto Fit"``; ``"Pro"`` does not
  match ``"ProBook"``). A model that lists names needs a name match (or a
  manufacturer match);
* ``ble_name_prefixes`` - a name that starts with the entry, however it goes on
  (``"Pulsetto"`` matches ``"PulsettoLite"``): a name distinctive enough that the
  services advertised never rule the model out;
* ``ble_services`` - advertised service UUIDs: they confirm a name match, and
  an advertisement that lists services but none of the model's rules it out
  (unless its name matched a ``ble_name_prefixes`` entry: a device may advertise
  other services than the one it is driven through, the advertisement having
  room for few). A model listing only services is matched by them alone.

The best-scoring model wins (manufacturer 4, name 2, service 1); ties go to
the model defined first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..devices.model import ModelDefinition
from ..devices.registry import MODELS
from ..transport.ble import ble_error, normalize_uuid, require_bleak
from .found import Found

log = logging.getLogger(__name__)


def name_matches(name: str, entry: str) -> bool:
    if not name or not entry:
        return False
    if name == entry:
        return True
    if not name.startswith(entry):
        return False
    return not entry[-1].isalnum() or not name[len(entry)].isalnum()


def model_score(
    definition: ModelDefinition,
    name: str | None,
    services: Iterable[str],
    manufacturer_data: Mapping[int, bytes],
) -> int:
    """How well an advertisement fits ``definition`` (0: not at all)."""
    if "ble" not in definition.schemes:
        return 0
    r = definition.recognise
    services = {normalize_uuid(s) for s in services}
    mfr_hit = any(
        cid in manufacturer_data and bytes(manufacturer_data[cid]).startswith(prefix)
        for cid, prefix in r.ble_manufacturer
    )
    prefix_hit = bool(name) and any((name or "").startswith(p) for p in r.ble_name_prefixes)
    name_hit = prefix_hit or any(name_matches(name or "", n) for n in r.ble_names)
    svc_hit = any(normalize_uuid(s) in services for s in r.ble_services)
    if r.ble_names or r.ble_name_prefixes or r.ble_manufacturer:
        if not (name_hit or mfr_hit):
            return 0
    elif not svc_hit:
        return 0
    if r.ble_services and services and not (svc_hit or mfr_hit or prefix_hit):
        return 0  # it lists its services, and none is this model's
    return 4 * mfr_hit + 2 * name_hit + svc_hit


def recognise_ble(
    name: str | None,
    services: Iterable[str] = (),
    manufacturer_data: Mapping[int, bytes] | None = None,
    models: Iterable[ModelDefinition] | None = None,
) -> ModelDefinition | None:
    """The known model an advertisement belongs to, or None."""
    services = list(services)
    manufacturer_data = manufacturer_data or {}
    best, best_score = None, 0
    for definition in MODELS.values() if models is None else models:
        score = model_score(definition, name, services, manufacturer_data)
        if score > best_score:
            best, best_score = definition, score
    return best


def found_row(device: Any, adv: Any) -> Found:
    """A scan result row for one bleak (BLEDevice, AdvertisementData) pair."""
    name = adv.local_name or device.name or ""
    definition = recognise_ble(name, adv.service_uuids, adv.manufacturer_data)
    uri = f"ble:{device.address}"
    if definition is not None:
        uri += f"?model={definition.name}"
    details: dict[str, Any] = {"services": [normalize_uuid(s) for s in adv.service_uuids]}
    if adv.manufacturer_data:
        details["manufacturer_data"] = {
            f"0x{k:04X}": bytes(v).hex() for k, v in adv.manufacturer_data.items()
        }
    if definition is not None:
        details["title"] = definition.title
    return Found(
        transport="ble",
        uri=uri,
        name=name,
        address=device.address,
        model=definition.name if definition is not None else None,
        rssi=adv.rssi,
        details=details,
    )


async def scan_ble(timeout: float, *, include_all: bool = False, simulate: bool = False) -> list[Found]:
    """Listen for BLE advertisements for ``timeout`` seconds.

    Returns devices matching a known model (all devices with ``include_all``),
    recognised ones first, strongest signal first. ``simulate`` listens to the
    simulated radio instead (no adapter needed). Raises DeviceError (one line)
    when there is no usable adapter.
    """
    if not timeout > 0:
        raise ValueError("scan timeout must be above 0 s")
    require_bleak()
    from bleak import BleakScanner

    radio = None
    kwargs: dict[str, Any] = {}
    if simulate:
        from ..sim.ble_backend import SimulatedRadio
        from .simulated_ble import default_devices

        radio = SimulatedRadio(default_devices())
        kwargs["backend"] = radio.scanner_backend
    try:
        seen = await asyncio.wait_for(
            BleakScanner.discover(timeout=timeout, return_adv=True, **kwargs), timeout + 15.0
        )
    except TimeoutError:
        raise ble_error(TimeoutError("the Bluetooth scan did not end"), "scan") from None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - bleak and D-Bus raise many kinds
        raise ble_error(exc, "scan") from exc
    finally:
        if radio is not None:
            await radio.close()
    rows = [found_row(device, adv) for device, adv in seen.values()]
    if not include_all:
        rows = [r for r in rows if r.model is not None]
    rows.sort(key=lambda r: (r.model is None, -(r.rssi if r.rssi is not None else -999), r.address))
    return rows
