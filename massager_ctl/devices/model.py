"""A device model as data: what it is called, how to recognise it, what it can do,
which driver speaks to it, what its transport needs, what keeps it safe, and (if
there is one) which simulator stands in for it.

Each family's ``models.py`` defines its models with these; :mod:`.registry` lists the
families. Drivers and simulators are named by import string and loaded only when a
device is opened, so reading the registry imports neither.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..core.capabilities import Capabilities
from ..core.tolerance import StatusTolerance

if TYPE_CHECKING:
    from ..transport.serial_settings import SerialSettings


@dataclass(frozen=True)
class Recognise:
    """How discovery tells this model apart (used by `scan` once transports land)."""

    ble_names: tuple[str, ...] = ()  # advertised-name prefixes
    #: Advertised names that start with one of these, however they go on ("Pulsetto" matches
    #: "PulsettoLite"): a name distinctive enough that advertised services never rule it out.
    ble_name_prefixes: tuple[str, ...] = ()
    ble_services: tuple[str, ...] = ()
    #: (Bluetooth SIG company ID, prefix of its manufacturer data) pairs
    ble_manufacturer: tuple[tuple[int, bytes], ...] = ()
    usb_ids: tuple[tuple[int, int], ...] = ()  # (VID, PID)
    port_descriptions: tuple[str, ...] = ()


class OnLinkLoss(Enum):
    """What the device does once its host is gone (link lost, host killed or hung)."""

    #: Keeps its last state until someone switches it off; also said of a device
    #: not known to stop by itself (the worst case is assumed).
    KEEPS_RUNNING = "keeps-running"
    #: Stops itself after a period without a valid frame from the host.
    STOPS_BY_DEADMAN = "stops-by-deadman"
    #: Runs on until its own session timer, which the driver set at the start, ends.
    STOPS_AT_CHAIR_TIMER = "stops-at-chair-timer"


class StopConfirmation(Enum):
    """How the host learns that a stop it sent took."""

    NONE = "none"  # it does not: the stop is sent, never confirmed
    REPLY = "reply"  # the device answers after the stop, but the answer carries no levels
    STATUS = "status"  # the device's status (its own, or asked for) shows it stopped
    ACK_AND_STATUS = "ack+status"  # the stop is acknowledged, then the status shows it stopped


@dataclass(frozen=True)
class SafetyFacts:
    """What protects the person when the host cannot act, as far as the model is known.

    The drivers' link-loss messages (:meth:`link_loss_note`), the fault tests'
    expectations and docs/safety.md's table are read from these.
    """

    on_link_loss: OnLinkLoss
    stop_confirmed_by: StopConfirmation
    #: The deadman period the host asks for (the device's answer is in force); None: no deadman.
    deadman_s: float | None = None
    #: Session lengths of the chair's own timer, which the driver sets at every session's
    #: start (a timer only the chair's remote sets does not count); (): none.
    chair_timer_s: tuple[int, ...] = ()
    #: The device reports its state on its own about this often; None: it does not.
    status_every_s: float | None = None
    #: Said after what stops the device when the link is lost: what else happens, or,
    #: for a device that keeps running, what it does and what the person should do.
    link_loss: str = ""

    def __post_init__(self) -> None:
        kind = self.on_link_loss
        if (self.deadman_s is not None) != (kind is OnLinkLoss.STOPS_BY_DEADMAN):
            raise ValueError("a deadman period goes with stops-by-deadman, and only with it")
        if bool(self.chair_timer_s) != (kind is OnLinkLoss.STOPS_AT_CHAIR_TIMER):
            raise ValueError("chair timer lengths go with stops-at-chair-timer, and only with it")
        if kind is OnLinkLoss.KEEPS_RUNNING and not self.link_loss:
            raise ValueError("a device that keeps running must say what the person should do")

    def to_dict(self) -> dict[str, Any]:
        return {
            "on_link_loss": self.on_link_loss.value,
            "stop_confirmed_by": self.stop_confirmed_by.value,
            "deadman_s": self.deadman_s,
            "chair_timer_s": list(self.chair_timer_s),
            "status_every_s": self.status_every_s,
            "link_loss": self.link_loss_note(),
        }

    @property
    def can_confirm_stop(self) -> bool:
        return self.stop_confirmed_by is not StopConfirmation.NONE

    def link_loss_note(self, *, deadman_s: float | None = None, timer_s: int | None = None) -> str:
        """What a person must know when the link drops: what stops the device now
        (the deadman period or chair timer in force, if the driver knows it)."""
        kind = self.on_link_loss
        if kind is OnLinkLoss.STOPS_BY_DEADMAN:
            first = f"its deadman stops it after {deadman_s or self.deadman_s:g} s without frames"
        elif kind is OnLinkLoss.STOPS_AT_CHAIR_TIMER:
            timer = (
                f"{timer_s // 60} min"
                if timer_s
                else "/".join(f"{s // 60}" for s in self.chair_timer_s) + " min"
            )
            first = f"the chair's own session timer ({timer}, set at the start) ends the session"
        else:
            return self.link_loss
        return f"{first}; {self.link_loss}" if self.link_loss else first


#: What a model that states nothing is taken to be: the worst case.
UNKNOWN_SAFETY = SafetyFacts(
    OnLinkLoss.KEEPS_RUNNING, StopConfirmation.NONE, link_loss="its state is unknown: check the device"
)


@dataclass(frozen=True)
class ModelDefinition:
    name: str
    title: str
    protocol: str
    schemes: tuple[str, ...]  # URI schemes that reach it: sim, serial, ble
    driver: str  # "module:Class", called (transport, min_write_gap_s=..., name=...)
    capabilities: Capabilities | None = None  # None: the device reports its own at connect
    simulator: str | None = None  # "module:Class", called (transport, faults=...)
    min_write_gap_s: float = 0.02
    keepalive: str = ""
    recognise: Recognise = field(default_factory=Recognise)
    notes: str = ""
    serial: Any = None  # transport.serial.SerialSettings: line settings for serial: URIs
    ble: Any = None  # transport.ble.BleLayout: service, characteristics, write response
    safety: SafetyFacts = UNKNOWN_SAFETY  # what stops it without the host, how a stop is confirmed
    #: How far its own status may read above what was sent before a session stops it as
    #: disobedient (session/verify.py); None: its status echoes what was sent, nothing to verify.
    status_tolerance: StatusTolerance | None = None

    def load(self, attr: str) -> Any:
        module, _, name = getattr(self, attr).partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def reachable_on_serial(self) -> bool:
        """``serial`` is one of its schemes, or it speaks the native protocol and is not tied
        to another transport (``sim-chair``: the native protocol runs over any byte stream)."""
        if "serial" in self.schemes:
            return True
        return self.protocol == "native" and "ble" not in self.schemes

    def serial_settings(self) -> SerialSettings:
        """Its line settings on a serial port: its own ``serial``, else the native protocol's
        115200 8N1."""
        from ..transport.serial_settings import NATIVE_SERIAL, SerialSettings

        if self.serial is None:
            return NATIVE_SERIAL
        if not isinstance(self.serial, SerialSettings):
            raise TypeError(f"model {self.name}: serial= must be a SerialSettings")
        return self.serial

    def static_capabilities(self) -> Capabilities | None:
        """What the model can do as far as it is known without connecting (None: the
        device reports its own at connect)."""
        return self.capabilities

    def to_dict(self) -> dict[str, Any]:
        caps = self.static_capabilities()
        return {
            "name": self.name,
            "title": self.title,
            "protocol": self.protocol,
            "schemes": list(self.schemes),
            "min_write_gap_ms": round(self.min_write_gap_s * 1000),
            "keepalive": self.keepalive,
            "capabilities": caps.to_dict() if caps else "reported by the device at connect",
            "notes": self.notes,
            "safety": self.safety.to_dict(),
        }
