"""Option types that refuse what would slip past a check: NaN, infinities, absurd sizes.

click's FloatRange lets ``nan`` through (NaN compares false with both bounds), and a
cap given as NaN was then ignored without a word. Every number a command takes goes
through one of these, and a bad one is a usage error (exit 2) naming the option.
"""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]  # generic in new click only; no runtime subscript
    """A finite number in ``low..high`` (``low`` itself allowed unless ``low_open``)."""

    name = "number"

    def __init__(self, low: float, high: float, *, low_open: bool = False, what: str = "") -> None:
        self.low, self.high, self.low_open = low, high, low_open
        bound = "above" if low_open else "at least"
        self.what = what or f"a number {bound} {low:g} and at most {high:g}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, bool):
            self.fail(f"{value!r} is not a number; give {self.what}", param, ctx)
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{_short(value)!r} is not a number; give {self.what}", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{_short(value)!r} is not a finite number; give {self.what}", param, ctx)
        if x < self.low or (self.low_open and x == self.low) or x > self.high:
            self.fail(f"{_short(value)} is out of range; give {self.what}", param, ctx)
        return x


def percent() -> FiniteFloat:
    """0..100 %, finite."""
    return FiniteFloat(0.0, 100.0, what="a percentage from 0 to 100")


def _short(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
