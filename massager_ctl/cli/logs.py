"""Logging on stderr as every command sets it up (-v, -vv), without click (cli/fast.py too)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the fast path does without importing it
if TYPE_CHECKING:
    from typing import TextIO

LOGGER_NAME = "massager_ctl"


def setup_logging(verbosity: int) -> None:
    """-v: info, -vv: debug, to stderr (the stream in use at the time of each record)."""
    import logging
    import sys

    class _StderrHandler(logging.StreamHandler["TextIO"]):
        _massager_cli = True  # marks the handler this function added (found again below)

        @property
        def stream(self) -> TextIO:  # follow sys.stderr (e.g. when a test runner swaps it)
            return sys.stderr

        @stream.setter
        def stream(self, value: TextIO) -> None:
            pass

    logger = logging.getLogger(LOGGER_NAME)
    handler = next((h for h in logger.handlers if getattr(h, "_massager_cli", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("massager-ctl: %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    if verbosity >= 2:  # -vv: every frame; the wall-clock time of each line tells their pace
        handler.setFormatter(
            logging.Formatter(
                "massager-ctl: %(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S"
            )
        )
    else:
        handler.setFormatter(logging.Formatter("massager-ctl: %(levelname)s %(name)s: %(message)s"))
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logger.setLevel(level)
    handler.setLevel(level)
