"""A log that keeps only its most recent entries: memory stays flat however long it runs.

Simulators, links and the writer keep logs of what went by, for tests, traces and
benchmarks. A simulated chair runs for hours (it is the default device), and an unbounded
log grows with every frame: megabytes an hour, and more for the garbage collector to walk
at every full collection. :class:`RecentLog` is a list (indexing and slicing work as
before) that trims its oldest entries once it holds a quarter more than ``keep``, and
counts everything it was given in :attr:`total`.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class RecentLog(list[T]):
    """A list of at most ``keep * 5 / 4`` entries: the newest; :attr:`total` counts all."""

    def __init__(self, keep: int) -> None:
        if keep < 1:
            raise ValueError(f"a log must keep at least one entry, not {keep!r}")
        super().__init__()
        self.keep = keep
        self.total = 0
        self._limit = keep + max(1, keep // 4)

    def append(self, item: T) -> None:
        super().append(item)
        self.total += 1
        if len(self) > self._limit:  # trimmed in chunks: appending stays O(1) on average
            del self[: len(self) - self.keep]

    def since(self, total: int) -> list[T]:
        """The entries appended after the log's :attr:`total` was ``total`` (those still kept)."""
        return list(self[max(0, len(self) - (self.total - total)) :]) if self.total > total else []
