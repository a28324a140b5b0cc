"""What is wrong with a profile, said so a person can fix it.

A :class:`Problem` is one mistake at one place; a :class:`ProfileError`
carries every problem found in a file, so the user fixes them all in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import MassagerError, condensed


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile, with where it is.

    ``where`` is '' for top-level keys and whole-file problems, otherwise a
    place such as ``segment 4 "shoulders"``, ``segment 3 "x" step 2``,
    ``airbag 1``, ``limits`` or ``line 3, column 5``. ``key`` is the key at
    fault (``intensity``, ``intensity.from``) or None for syntax and read
    errors. ``message`` starts with the key when there is one.
    """

    file: str
    where: str
    key: str | None
    message: str

    def __str__(self) -> str:
        if self.where:
            return f"{self.file}: {self.where}: {self.message}"
        return f"{self.file}: {self.message}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "file": self.file,
            "where": self.where,
            "key": self.key,
            "message": self.message,
            "text": str(self),
        }


class ProfileError(MassagerError):
    """A profile could not be read or is not valid. Carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(problem_lines(self.problems))


def problem_lines(problems: list[Problem]) -> list[str]:
    """The problems as lines for a person, a repeated mistake counted rather than repeated
    (``.problems`` keeps them all)."""
    if not problems:
        return []
    prefix = f"{problems[0].file}: "
    return condensed([str(p) for p in problems], [f"{p.key}\0{p.message}" for p in problems], prefix)
