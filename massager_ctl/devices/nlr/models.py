"""Next Level Racing HF8 haptic seat pad (buttplugio/docs.buttplug.io
``stpihkal/protocols/next-level-racing/index.md``; docs/devices.md)."""

from __future__ import annotations

from ...transport.serial_settings import SerialSettings
from ..model import ModelDefinition, OnLinkLoss, Recognise, SafetyFacts, StopConfirmation
from .patterns import NLR_CAPABILITIES

#: USB CDC, 115200 baud, 8 data bits, no parity, 1.5 stop bits, no handshake; lines end with CR.
#: POSIX has no 1.5 stop bits: pyserial sends 2 there (a receiver wanting 1.5 accepts 2).
HF8_SERIAL = SerialSettings(baudrate=115200, bytesize=8, parity="N", stopbits=1.5, line_terminator=b"\r")

#: No deadman or timer is known: the pad keeps its last levels. It sends nothing on its
#: own; a stop is confirmed by its answer to P after the zero commands (no levels in it).
HF8_SAFETY = SafetyFacts(
    OnLinkLoss.KEEPS_RUNNING,
    StopConfirmation.REPLY,
    link_loss="the HF8 has no deadman we know of: its motors may keep their last levels; "
    "switch it off or unplug it",
)

MODELS = (
    ModelDefinition(
        name="nlr-hf8",
        title="Next Level Racing HF8 haptic seat pad (8 vibration motors)",
        protocol="nlr",
        schemes=("sim", "serial"),
        driver="massager_ctl.devices.nlr.driver:NlrDevice",
        capabilities=NLR_CAPABILITIES,
        simulator="massager_ctl.devices.nlr.sim:NlrSim",
        min_write_gap_s=0.05,
        keepalive="none (levels hold until changed; no deadman is known)",
        # UNSURE: the USB VID/PID is not known; only the port's description can match.
        recognise=Recognise(port_descriptions=("HF8", "Next Level Racing")),
        notes=(
            "Vibration motors only: techniques are played as motor patterns (roll = a wave up "
            "the rows, knead = left/right cross-fade, shiatsu = alternating pairs, tap/knock = "
            "pulses, vibrate = steady). UNSURE: the motor numbering (M0/M1 thighs, M2/M3 seat, "
            "M4/M5 back, M6/M7 shoulders, even = right), the P reply format (E<scale>,A<audio>) "
            "and the USB VID/PID. The P reply carries no motor levels: a stop is confirmed by "
            "the pad answering P after the zero commands. No deadman is known."
        ),
        serial=HF8_SERIAL,
        safety=HF8_SAFETY,
    ),
)
