"""Session profiles: TOML files -> validated Profile -> Plan.

>>> from massager_ctl.profile import load_plan
>>> plan = load_plan("profiles/quick.toml")  # doctest: +SKIP
"""

from __future__ import annotations

import os

from ..plan import Plan
from .compile import compile_profile
from .errors import Problem, ProfileError
from .model import AirbagEntry, HeatEntry, Profile, RepeatBlock, RollerEntry
from .parse import load_profile, parse_profile


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read, check and compile the profile at ``path``. Raises ProfileError."""
    return compile_profile(load_profile(path))


__all__ = [
    "AirbagEntry",
    "HeatEntry",
    "Problem",
    "Profile",
    "ProfileError",
    "RepeatBlock",
    "RollerEntry",
    "compile_profile",
    "load_plan",
    "load_profile",
    "parse_profile",
]
