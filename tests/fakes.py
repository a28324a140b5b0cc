"""A recording device for control-layer unit tests (the simulator covers the bytes)."""

from __future__ import annotations

import asyncio

from massager_ctl.core.capabilities import Capabilities
from massager_ctl.core.errors import DeviceDisconnected
from massager_ctl.core.status import DEVICE_STOPPED, DeviceState, Status
from massager_ctl.core.vocabulary import BACK_ZONES, Heat, Technique, Width, Zone
from massager_ctl.devices.base import Device

FULL_CAPS = Capabilities(
    zones=frozenset(BACK_ZONES),
    techniques=frozenset(Technique),
    intensity_steps=100,
    speed_steps=100,
    widths=frozenset(Width),
    airbag_zones=frozenset(Zone),
    airbag_levels=100,
    heat_levels=(Heat.LOW, Heat.HIGH),
)


class RecordingDevice(Device):
    """Applies states instantly (or after ``apply_delay_s``) and remembers them with times."""

    def __init__(
        self,
        caps: Capabilities = FULL_CAPS,
        *,
        apply_delay_s: float = 0.0,
        min_write_gap_s: float = 0.0,
        keepalive_s: float | None = None,
    ) -> None:
        super().__init__()
        self._caps = caps
        self.apply_delay_s = apply_delay_s
        self.min_write_gap_s = min_write_gap_s
        self.keepalive_s = keepalive_s
        self.applied: list[tuple[float, DeviceState]] = []
        self.keepalives: list[float] = []
        self.stops: list[float] = []
        self.current = DEVICE_STOPPED
        self.in_flight = 0
        self.max_in_flight = 0
        self.lost = False
        self.link_loss_note = "test device: state unknown"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def model(self) -> str:
        return "recording"

    async def connect(self) -> None:
        pass

    async def apply(self, state: DeviceState) -> None:
        if self.lost:
            raise DeviceDisconnected("gone")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.apply_delay_s:
                await asyncio.sleep(self.apply_delay_s)
            self.current = state
            self.applied.append((asyncio.get_running_loop().time(), state))
        finally:
            self.in_flight -= 1

    async def stop(self, timeout: float = 2.0) -> Status:
        if self.lost:
            raise DeviceDisconnected("gone")
        self.current = DEVICE_STOPPED
        self.stops.append(asyncio.get_running_loop().time())
        return Status(running=False, state=DEVICE_STOPPED)

    async def read_status(self, timeout: float = 2.0) -> Status:
        return Status(running=not self.current.is_stopped, state=self.current)

    async def keepalive(self) -> None:
        self.keepalives.append(asyncio.get_running_loop().time())

    async def disconnect(self) -> None:
        pass

    def lose_link(self, reason: str = "test cut") -> None:
        self.lost = True
        self.events.emit_disconnect(reason)

    @property
    def connected(self) -> bool:
        return not self.lost
