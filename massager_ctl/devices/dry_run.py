"""A device that sends nothing: what a session would write, handed to a callback.

``run --dry-run`` (and :func:`massager_ctl.api.dry_run`) play a plan through the
session, governor, mapping and writer against this device, in virtual time. It
stands in for one model (its capabilities and write gap; by default the reference
chair), so mapping works as on that device; every state the writer hands it is passed, with the
loop time, to ``on_write`` and kept in :attr:`writes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..core.capabilities import Capabilities
from ..core.status import DEVICE_STOPPED, DeviceState, Status
from .base import Device
from .native.reference import REFERENCE_CAPABILITIES, REFERENCE_MODEL


class DryRunDevice(Device):
    """Records what would be written; always reports itself stopped."""

    min_write_gap_s = 0.02

    def __init__(
        self,
        *,
        on_write: Callable[[float, DeviceState], None] | None = None,
        on_stop: Callable[[float], None] | None = None,
        capabilities: Capabilities = REFERENCE_CAPABILITIES,
        model: str = f"{REFERENCE_MODEL} (dry run)",
        min_write_gap_s: float = 0.02,
    ) -> None:
        super().__init__()
        self.min_write_gap_s = min_write_gap_s
        self._capabilities = capabilities
        self._model = model
        self.on_write = on_write
        self.on_stop = on_stop
        #: (loop time, state) of every write; a stop is recorded as (time, None).
        self.writes: list[tuple[float, DeviceState | None]] = []

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def model(self) -> str:
        return self._model

    async def connect(self) -> None:
        pass

    async def apply(self, state: DeviceState) -> None:
        t = asyncio.get_running_loop().time()
        self.writes.append((t, state))
        if self.on_write is not None:
            self.on_write(t, state)

    async def stop(self, timeout: float = 2.0) -> Status:
        t = asyncio.get_running_loop().time()
        self.writes.append((t, None))
        if self.on_stop is not None:
            self.on_stop(t)
        return Status(state=DEVICE_STOPPED)

    async def read_status(self, timeout: float = 2.0) -> Status:
        return Status(state=DEVICE_STOPPED)

    async def disconnect(self) -> None:
        pass
