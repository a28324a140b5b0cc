"""How `status --watch` shows a stream of statuses: only what changed.

On a terminal the status is redrawn in place (the same lines, rewritten); otherwise a
line is printed only when the status differs from the last one printed; with --json a
``status`` record only when the status's JSON differs, and an ``end`` record at the end.
Everything shown comes from the Status object (its ``to_dict`` and the text made from
it), so what a device reports, including "unknown", is shown as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

import click

from .context import CliContext


class StatusWatchPrinter:
    def __init__(
        self,
        cli: CliContext,
        text_of: Callable[[Any], str],
        stream: TextIO | None = None,
    ) -> None:
        self.cli = cli
        self.text_of = text_of
        self.stream = stream or sys.stdout
        self.tty = not cli.json and bool(getattr(self.stream, "isatty", lambda: False)())
        self.updates = 0  # statuses received
        self.shown = 0  # of which shown (changed)
        self._last: Any = None
        self._drawn_lines = 0

    def __call__(self, status: Any) -> None:
        self.updates += 1
        if self.cli.json:
            data = status.to_dict()
            if data != self._last:
                self._last = data
                self.shown += 1
                self.cli.record("status", data)
            return
        text = self.text_of(status)
        if text == self._last:
            return
        self._last = text
        self.shown += 1
        if self.tty:
            lines = text.splitlines()
            out = ""
            if self._drawn_lines:
                out += f"\x1b[{self._drawn_lines}F"  # to the start of the first line drawn
            out += "".join(f"\x1b[2K{line}\n" for line in lines)
            if self._drawn_lines > len(lines):  # clear what the longer status left below
                out += "\x1b[2K\n" * (self._drawn_lines - len(lines))
                out += f"\x1b[{self._drawn_lines - len(lines)}F"
            self.stream.write(out)
            self.stream.flush()
            self._drawn_lines = len(lines)
        else:
            click.echo(text.replace("\n", "; "), file=self.stream)

    def end(self) -> None:
        if self.cli.json:
            self.cli.record("end", {"updates": self.updates, "changes": self.shown})
