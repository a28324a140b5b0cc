"""The device families massager-ctl knows, and their models by name.

Each family is one package under ``massager_ctl/devices/`` whose ``models`` module
defines ``MODELS``, a tuple of :class:`~.model.ModelDefinition`. Adding a family is
one folder plus one line in :data:`FAMILIES` (docs/devices.md, "Adding a device").
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..core.errors import UsageError
from .model import ModelDefinition
from .simulated_ble import SimulatedBleUnit

#: The family packages, in the order their models are listed (and tried on a scan).
FAMILIES: tuple[str, ...] = ("native", "rongtai", "nlr", "theragun", "pulsetto")


def _family_models(family: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{family}.models")


def _load_models() -> dict[str, ModelDefinition]:
    models: dict[str, ModelDefinition] = {}
    for family in FAMILIES:
        for definition in _family_models(family).MODELS:
            if definition.name in models:
                raise RuntimeError(f"device model {definition.name!r} is defined twice")
            models[definition.name] = definition
    return models


MODELS: dict[str, ModelDefinition] = _load_models()

DEFAULT_SIM_MODEL = "sim-chair"


def get_model(name: str) -> ModelDefinition:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown device model {name!r}; known models: {', '.join(MODELS)}") from None


def simulated_ble_units() -> tuple[SimulatedBleUnit, ...]:
    """The units the simulated radio puts on the air: every family's ``SIMULATED_BLE``
    (in its models module, beside its models), in :data:`FAMILIES` order."""
    units: list[SimulatedBleUnit] = []
    for family in FAMILIES:
        for unit in getattr(_family_models(family), "SIMULATED_BLE", ()):
            definition = MODELS.get(unit.model)
            if definition is None or definition.ble is None or definition.simulator is None:
                raise RuntimeError(
                    f"simulated BLE unit {unit.name!r} of family {family}: model {unit.model!r} "
                    "is not a BLE model with a simulator"
                )
            units.append(unit)
    return tuple(units)
