"""The simulated Bluetooth LE units ``--simulate-ble`` puts on the air, built from the
model definitions.

Each family lists its units beside its models (``SIMULATED_BLE``, see
:mod:`massager_ctl.devices.simulated_ble`); here each becomes a
:class:`~massager_ctl.sim.ble_backend.SimDeviceSpec` for the simulated radio: its
advertised service and GATT table from the model's ``BleLayout``, its firmware from the
model's simulator. This lives in the connection layer because it reads the registry,
which the simulator machinery below must not.
"""

from __future__ import annotations

from typing import get_args

from bleak.assigned_numbers import CharacteristicPropertyName

from ..devices.model import ModelDefinition
from ..devices.registry import MODELS, simulated_ble_units
from ..devices.simulated_ble import GattCharacteristic, SimulatedBleUnit
from ..sim.ble_backend import Advertisement, SimCharacteristic, SimDeviceSpec, SimService
from ..transport.ble_layout import NOTIFY_PROPS, BleLayout

_PROPERTY_NAMES: frozenset[str] = frozenset(get_args(CharacteristicPropertyName))


def property_names(unit: str, names: tuple[str, ...]) -> tuple[CharacteristicPropertyName, ...]:
    """A unit's property words, checked against bleak's (a misspelt one is an error)."""
    unknown = [n for n in names if n not in _PROPERTY_NAMES]
    if unknown:
        raise ValueError(f"simulated BLE unit {unit}: unknown characteristic properties {unknown}")
    return tuple(n for n in names if n in _PROPERTY_NAMES)  # type: ignore[misc]  # narrowed above


def write_properties(response: bool | None) -> tuple[CharacteristicPropertyName, ...]:
    """The properties of a characteristic a layout endpoint writes: only the mode the
    layout forces, or both when the driver chooses."""
    if response is None:
        return ("write-without-response", "write")
    return ("write",) if response else ("write-without-response",)


def gatt_for(layout: BleLayout, offered: tuple[GattCharacteristic, ...] = ()) -> SimService:
    """The service a unit of ``layout`` serves: one characteristic per endpoint (named
    by UUID), or, for a probed layout, the ``offered`` table a real unit exposes."""
    probed = any(e.uuid is None for e in layout.endpoints)
    label = layout.title or layout.service
    if probed != bool(offered):
        raise ValueError(
            f"BLE layout {label}: "
            + (
                "its roles are probed, so the unit must state the characteristics it offers"
                if probed
                else "every endpoint has a UUID: the table comes from the layout, not the unit"
            )
        )
    if offered:
        notify_name = next(e.name for e in layout.endpoints if e.notify)
        write_name = next(e.name for e in layout.endpoints if not e.notify)
        chars = tuple(
            SimCharacteristic(
                c.uuid,
                property_names(label, c.properties),
                endpoint=notify_name if set(c.properties) & set(NOTIFY_PROPS) else write_name,
            )
            for c in offered
        )
    else:
        chars = tuple(
            SimCharacteristic(
                e.uuid or "",
                ("notify",) if e.notify else write_properties(e.response),
                endpoint=e.name,
            )
            for e in layout.endpoints
        )
    return SimService(layout.service, chars)


def spec_for(unit: SimulatedBleUnit, definition: ModelDefinition) -> SimDeviceSpec:
    """A simulated peripheral from a family's unit data and its model's definition
    (``ModelDefinition``: its BLE layout, simulator and title)."""
    layout = definition.ble
    if layout is None or definition.simulator is None:
        raise ValueError(
            f"simulated BLE unit {unit.name!r}: model {definition.name} has no BLE layout or simulator"
        )
    return SimDeviceSpec(
        unit.address,
        Advertisement(unit.name, (layout.service,), manufacturer_data=unit.manufacturer_data, rssi=unit.rssi),
        (gatt_for(layout, unit.gatt),),
        definition.simulator,
        options=(("model", definition.name),),
        title=definition.title,
    )


def default_devices() -> list[SimDeviceSpec]:
    """The seeded simulated devices: every family's ``SIMULATED_BLE`` units, built from
    their models' definitions (see :mod:`massager_ctl.devices.simulated_ble`)."""
    return [spec_for(unit, MODELS[unit.model]) for unit in simulated_ble_units()]
