"""Errors a user can act on. The CLI prints their message, never a traceback."""

from __future__ import annotations


class MassagerError(Exception):
    """Base of every error massager-ctl reports to a person. Exit code 1."""

    exit_code = 1


class UsageError(MassagerError):
    """Bad arguments or configuration. Exit code 2."""

    exit_code = 2


class DeviceError(MassagerError):
    """The device misbehaved, refused, or could not be reached."""


class DeviceTimeout(DeviceError):
    """A wait on the device ran out of time."""


class DeviceDisconnected(DeviceError):
    """The link to the device was lost."""


class DeviceFault(DeviceError):
    """The device reported a fault (its own fault text, a refusal nobody asked for, or it
    fell silent): the session ended and the device was told to stop."""


class SafetyError(MassagerError):
    """The safety governor refused a request (e.g. a session above the length cap)."""

    exit_code = 2


class StopNotConfirmed(DeviceError):
    """A stop was sent but the device never confirmed it stopped."""


class LimitError(SafetyError, ValueError):
    """A safety limit that is not a finite number in its range (NaN, infinite, negative,
    too large): refused wherever it comes in, so that no value can switch a cap off."""


#: One mistake repeated is shown this many times, then counted.
SAME_SHOWN = 3
#: At most this many problem lines are shown, then the rest counted.
MOST_SHOWN = 50


def condensed(lines: list[str], kinds: list[str], prefix: str = "") -> list[str]:
    """Problem lines for a person: a mistake repeated (the same ``kinds`` entry) is shown
    :data:`SAME_SHOWN` times and then counted, and at most :data:`MOST_SHOWN` lines are
    shown in all, so one mistake in a generated file does not print thousands of lines."""
    out: list[str] = []
    seen: dict[str, int] = {}
    hidden_alike: dict[str, int] = {}
    hidden = 0
    for line, kind in zip(lines, kinds, strict=True):
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] > SAME_SHOWN:
            hidden_alike[kind] = hidden_alike.get(kind, 0) + 1
        elif len(out) < MOST_SHOWN:
            out.append(line)
        else:
            hidden += 1
    alike = sum(hidden_alike.values())
    if alike:
        out.append(
            f"{prefix}... and {alike:,} more of the same mistake{'s' if len(hidden_alike) > 1 else ''}"
        )
    if hidden:
        out.append(f"{prefix}... and {hidden:,} more problems")
    return out
