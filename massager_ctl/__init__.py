"""massager-ctl: play session profiles on massage chairs, through one safety governor.

Scripting entry point::

    async with massager_ctl.connect("sim:") as chair:
        await chair.run("quick")

``massager_ctl.observe(uri)`` only looks; ``await massager_ctl.stop(uri)`` stops a
device now. They are imported lazily so that ``import massager_ctl`` (and the CLI's
start-up) stays cheap.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: every command imports this package, and typing
# costs about as much as starting Python does. mypy reads this name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:  # imported lazily at run time, by __getattr__ below
    from typing import Any

    from .api import connect

__version__ = "0.1.0"
__all__ = ["connect", "observe", "stop", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("connect", "observe", "stop"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'massager_ctl' has no attribute {name!r}")
