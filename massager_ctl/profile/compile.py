"""Profile -> Plan: unroll repeat blocks and lay each track out back to back.

Compiling is deterministic (same profile, equal plan) and only ever sees a
checked Profile, whose length and step count were bounded before expansion.
Ramps stay ramps (start, end, curve): nothing is pre-sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..core.vocabulary import MAX_PROFILE_MS, MAX_PROFILE_STEPS
from ..plan import AirbagStep, HeatStep, Plan, RollerStep, Step
from .errors import Problem, ProfileError
from .model import AirbagEntry, E, HeatEntry, Profile, RepeatBlock, RollerEntry

S = TypeVar("S", bound=Step)


def _roller(e: RollerEntry, start_ms: int, source: str) -> RollerStep:
    return RollerStep(
        start_ms=start_ms,
        duration_ms=e.duration_ms,
        name=e.name,
        source=source,
        technique=e.technique,
        zones=e.zones,
        intensity=e.intensity,
        speed=e.speed,
        width=e.width,
    )


def _airbag(e: AirbagEntry, start_ms: int, source: str) -> AirbagStep:
    return AirbagStep(
        start_ms=start_ms,
        duration_ms=e.duration_ms,
        name=e.name,
        source=source,
        zones=e.zones,
        pressure=e.pressure,
    )


def _heat(e: HeatEntry, start_ms: int, source: str) -> HeatStep:
    return HeatStep(start_ms=start_ms, duration_ms=e.duration_ms, name=e.name, source=source, level=e.level)


def _lay_out(items: tuple[E | RepeatBlock[E], ...], make: Callable[[E, int, str], S]) -> tuple[S, ...]:
    """Entries back to back from t=0; each block's steps ``repeat`` times over."""
    out: list[S] = []
    t = 0
    for item in items:
        if isinstance(item, RepeatBlock):
            n = item.repeat
            for r in range(1, n + 1):
                suffix = f" (repeat {r} of {n})"
                for step in item.steps:
                    out.append(make(step, t, step.where + suffix))
                    t += step.duration_ms
        else:
            out.append(make(item, t, item.where))
            t += item.duration_ms
    return tuple(out)


def compile_profile(profile: Profile) -> Plan:
    """The plan a profile describes. Raises nothing for a Profile from parse_profile."""
    if profile.step_count > MAX_PROFILE_STEPS or profile.duration_ms > MAX_PROFILE_MS:
        # Only reachable with a hand-built Profile: parsing refuses these first.
        file = profile.path.name if profile.path else "<profile>"
        raise ProfileError(
            [
                Problem(
                    file,
                    "",
                    "segment",
                    f"segment, airbag and heat expand to {profile.step_count:,} steps lasting "
                    f"{profile.duration_ms:,} ms; a profile may have at most {MAX_PROFILE_STEPS:,} "
                    f"steps and last at most {MAX_PROFILE_MS:,} ms",
                )
            ]
        )
    return Plan(
        name=profile.name,
        description=profile.description,
        benefit=profile.benefit,
        author=profile.author,
        roller=_lay_out(profile.roller, _roller),
        airbag=_lay_out(profile.airbag, _airbag),
        heat=_lay_out(profile.heat, _heat),
        limits=profile.limits,
    )
