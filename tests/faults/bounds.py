"""The fault matrix's bounds and facts, as data (tests/faults/*).

Every figure a fault test asserts comes from here or from the model's definition: where
a fault strikes, what each fault does, from when and for how long the device may still
run, and what each protocol family's frames offer (checksum, NAK). What stops a device
by itself when its host is gone (deadman, chair timer, nothing), its deadman period and
timer lengths, and whether it sends status of its own are the model's safety facts
(``ModelDefinition.safety``), read from there. docs/safety.md states the same bounds in
prose, and its table of what the device does is checked against those facts.

How a deadline is computed (fault_kit.run_scenario):

* "self" faults (the host is cut off for good: link dropped, cable pulled, device's link
  side hung, host vanished): the device must be off (motors and heat) by
  ``fault + its own protection``: the deadman period the model's facts state (native:
  1.5 s), or the chair timer the driver set at the session's start, one of the lengths
  the model's facts state (Rongtai: 10/20/30 min).
  A device with neither is expected to keep running: those cases are strict xfails that
  say so (they turn into failures the day a device gains a way to stop itself).
* "host" faults (garbage, corrupted checksums, NAK storm, slow link, status stops): the
  host can still reach the device, so it must be off by ``the moment the session decided
  to stop (plan end or its error) + Fault.bound_s + Protocol.stop_s``.
* Then, in every case, fully stopped (airbags vented) VENT_S later; and never a command
  above LIMITS (in the device's steps, rounded down) seen by the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from massager_ctl.session.limits import SafetyLimits


@dataclass(frozen=True)
class Protocol:
    """What a protocol's frames offer that some faults need (per ``ModelDefinition.protocol``).

    ``checksum_index``: where the checksum byte sits in a frame (None: no checksum);
    ``nak``: the device can refuse a command. (Whether it reports on its own and what
    stops it when the host is gone are the model's safety facts.)
    """

    checksum_index: int | None
    nak: bool
    #: Seconds the host's stop takes to reach the device once the session decides to stop.
    stop_s: float = 0.5
    #: Host-side faults after which this protocol's host cannot stop the device, so the
    #: device's own protection is the bound (said in ``note``).
    host_blind: frozenset[str] = frozenset()
    note: str = ""


#: Frame facts per protocol family. A protocol missing here is assumed to offer
#: everything: its faults run (nothing is skipped for it).
PROTOCOLS: dict[str, Protocol] = {
    "native": Protocol(checksum_index=-1, nak=True, note="CRC-16 last; NAK codes"),
    "rongtai": Protocol(
        checksum_index=-2,
        nak=False,
        stop_s=1.0,
        host_blind=frozenset({"status-stops"}),
        note="7-bit checksum before F1; status every 200 ms (info frames between); keys are toggles "
        "pressed closed-loop on the status, so with no status the driver presses nothing and the "
        "chair timer ends the session",
    ),
    "nlr": Protocol(checksum_index=None, nak=False, note="ASCII lines, no checksum"),
    "theragun": Protocol(checksum_index=1, nak=False, note="AA/BB frames with a sum checksum second"),
    "pulsetto": Protocol(
        checksum_index=None,
        nak=False,
        note="ASCII lines, no checksum; the stop is + - - with no waits (jooray/pulse-libre-desktop main.py)",
    ),
}
UNKNOWN_PROTOCOL = Protocol(checksum_index=-1, nak=True, stop_s=2.0, note="not described in PROTOCOLS")


#: The user's caps in every scenario; no command above them may reach a device.
LIMITS = SafetyLimits(max_intensity=60, max_airbag=60)


#: Where in the session a fault strikes (plan seconds).
POINTS: dict[str, float] = {
    "early": 1.0,  # the intensity is still climbing under the slew limit
    "mid-segment": 4.0,  # a steady segment, nothing being written but keepalives
    "ramp": 12.0,  # the ramp: a new state every tick
    "boundary": 16.0,  # exactly on a step boundary (ramp -> steady)
}

#: Airbags vent with a 1 s time constant: from full to below 2 % takes under 4 s.
VENT_S = 5.0
#: Watcher period: how finely the device's state is sampled.
SAMPLE_S = 0.05
#: How long a device that has no way to stop itself is watched before the test says so.
UNPROTECTED_WATCH_S = 60.0
#: The host's stop timeout (Session and Chair.stop both wait this long for a confirmation).
HOST_STOP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    #: "self": the host is cut off from the device for good, so only the device can stop
    #: itself: the deadline is the fault + the device's own protection (deadman period,
    #: chair timer). "host": the host can still reach the device: the deadline is the
    #: moment the session decided to stop (plan end or its error) + ``bound_s`` + the
    #: protocol's stop time.
    path: str
    bound_s: float = 0.0
    #: The session must ride through the fault and finish (host robustness).
    must_finish: bool = False
    #: What the fault needs (skip with a reason where the model lacks it): "checksum" or
    #: "nak" (the protocol's frames), "status" (the model's facts: status of its own).
    needs: str | None = None


GARBAGE_FOR_S = 5.0
CORRUPT_FOR_S = 1.0
SLOW_LINK_S = 0.3

FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("link-dropped", "every byte lost both ways from now on, no disconnect seen", "self"),
        Fault("cable-pulled", "the link is cut: both ends see a disconnect", "self"),
        Fault(
            "device-stalls",
            "the device's link side hangs: it hears and answers nothing from "
            "now on (its deadman or timer still run)",
            "self",
        ),
        Fault(
            "host-vanished",
            "the host stops dead, no stop sent (its bytes never reach the "
            "device again): the in-process model of SIGKILL",
            "self",
        ),
        Fault(
            "garbage",
            f"random bytes into the host's receive stream every 0.1 s for {GARBAGE_FOR_S:g} s",
            "host",
            must_finish=True,
        ),
        Fault(
            "corrupt-checksums",
            f"every frame's checksum broken, both ways, for {CORRUPT_FOR_S:g} s",
            "host",
            needs="checksum",
        ),
        # A device that NAKs everything, STOP included: the session's stop and the close's stop
        # are refused (2 s each); then the host is silent and the deadman stops the device.
        Fault(
            "nak-storm",
            "the device refuses every request from now on (NAK BUSY)",
            "host",
            bound_s=2 * HOST_STOP_TIMEOUT_S,
            needs="nak",
        ),
        Fault(
            "slow-link",
            f"every byte, both ways, arrives {SLOW_LINK_S:g} s late from now on",
            "host",
            bound_s=SLOW_LINK_S,
            must_finish=True,
        ),
        Fault(
            "status-stops",
            "the device stops sending status (periodic and asked-for)",
            "host",
            needs="status",
        ),
    )
}


# ------------------------------------------------------------------- host processes

#: SIGINT / SIGTERM to a `massager-ctl run` process: it must have stopped the device and
#: exited (130 / 143) within this many seconds of wall time after the signal.
SIGNAL_EXIT_S = 3.0
#: Time scale the signalled `run` processes play at (plan seconds per wall second).
SIGNAL_TIME_SCALE = 8.0
#: SIGKILL of a host on a pty: the simulated chair's deadman must stop it within its
#: period (the model's facts: 1.5 s) of the host's last frame; SIGKILL_SLACK_S allows for
#: a loaded machine.
SIGKILL_SLACK_S = 0.25
