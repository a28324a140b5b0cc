"""JSON lines as every command prints them, without click (cli/fast.py uses it too)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the fast path does without importing it
if TYPE_CHECKING:
    from typing import Any


def to_json_line(data: Any) -> str:
    """One compact line of JSON (no newlines inside: the contract is one value per line)."""
    import json

    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
