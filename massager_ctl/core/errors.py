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


class SafetyError(MassagerError):
    """The safety governor refused a request (e.g. a session above the length cap)."""

    exit_code = 2


class StopNotConfirmed(DeviceError):
    """A stop was sent but the device never confirmed it stopped."""


class LimitError(SafetyError, ValueError):
    """A safety limit that is not a finite number in its range (NaN, infinite, negative,
    too large): refused wherever it comes in, so that no value can switch a cap off."""
