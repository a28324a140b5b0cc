"""Who sits in the chair: --person, else $MASSAGER_CTL_PERSON (without click: cli/fast.py)."""

from __future__ import annotations

import os

#: Who sits in the chair, when --person is not given.
PERSON_ENV = "MASSAGER_CTL_PERSON"


def person_name(option: str | None) -> str | None:
    """``option`` (--person), else $MASSAGER_CTL_PERSON, else None. Unchecked: the caller
    checks it against the config's [people] (``config.person(name)``)."""
    return option or os.environ.get(PERSON_ENV, "").strip() or None
