"""What a family's simulated Bluetooth LE units are, as data beside its models.

A family whose devices can be simulated over BLE lists, in its ``models.py``,
``SIMULATED_BLE``: one :class:`SimulatedBleUnit` per unit the simulated radio
(:mod:`massager_ctl.sim.ble_backend`, ``--simulate-ble``) puts on the air. A unit
names its model and says only what the model's definition does not: where it is
and what it advertises. Everything else comes from the model's definition: the
advertised service is its ``BleLayout``'s, the GATT table is built from the
layout's endpoints (write endpoints get the write properties their ``response``
allows, notify endpoints ``notify``), and the firmware is the model's simulator.

A layout whose roles are probed (``BleLayout.probed``: no UUIDs fixed, e.g. FFE0
UART modules) says nothing about which characteristic does what; there, and
only there, the unit states the table a real unit exposes (``gatt``), taken from
the device's facts.

Plain data: the registry imports the family's ``models.py``, so nothing here
imports bleak or a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GattCharacteristic:
    """One characteristic a real unit exposes: its UUID and bleak's property names
    (``read``, ``write``, ``write-without-response``, ``notify``, ``indicate``)."""

    uuid: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class SimulatedBleUnit:
    model: str  # the ModelDefinition's name
    address: str
    name: str  # the advertised local name
    rssi: int = -60
    #: (Bluetooth SIG company ID, data) pairs it advertises
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()
    #: The characteristics of the layout's service a real unit exposes; only for
    #: probed layouts (otherwise the table is built from the layout's endpoints).
    gatt: tuple[GattCharacteristic, ...] = ()
