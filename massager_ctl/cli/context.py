"""What every command gets from the global options: the CLI context object.

Commands take it with ``@pass_cli``::

    @click.command()
    @pass_cli
    def status(cli: CliContext) -> None:
        uri = cli.device_uri      # --device, else the config's device, else None
        if cli.json: cli.echo_json({...})

JSON output is one compact JSON value per line (docs/cli.md, "JSON output"): a
command that answers once prints one line (:meth:`CliContext.echo_json`); a command
that streams prints one record per line, each an object with a ``type`` and a time
``t`` (:meth:`CliContext.record`), the last of type ``end`` (or ``error``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .output import to_json_line

if TYPE_CHECKING:
    from ..config import Config
    from ..session.limits import SafetyLimits


@dataclass
class CliContext:
    device: str | None = None  # --device URI
    config_path: Path | None = None  # --config FILE (None: env var or default place)
    json: bool = False  # --json
    verbosity: int = 0  # -v count
    simulate_ble: bool = False  # --simulate-ble: ble: URIs and scan use simulated devices
    person_option: str | None = None  # --person NAME
    #: When the command started (time.monotonic()): records' ``t`` counts from here.
    started: float = field(default_factory=time.monotonic, repr=False)
    _config: Config | None = field(default=None, init=False, repr=False)

    @property
    def config(self) -> Config:
        """The user config, loaded on first use (a bad file raises ConfigError then)."""
        if self._config is None:
            from ..config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def device_uri(self) -> str | None:
        """--device if given, else the config's ``device`` (the config is only read then)."""
        if self.device:
            return self.device
        return self.config.device

    @property
    def person(self) -> str | None:
        """--person, else $MASSAGER_CTL_PERSON, else None; checked against the config's
        [people] (an unknown name is a ConfigError, with a guess)."""
        from .person import person_name

        name = person_name(self.person_option)
        if name is not None:
            self.config.person(name)
        return name

    @property
    def limits(self) -> SafetyLimits:
        """The caps in force: the config's, tightened by the person's (if one is chosen)."""
        return self.config.limits_for(self.person)

    def echo_json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout: compact, on one line."""
        click.echo(to_json_line(data))

    def record(self, type_: str, data: dict[str, Any] | None = None, *, t: float | None = None) -> None:
        """Print one record of a JSON stream: ``{"type": type_, "t": seconds, **data}``.

        ``t`` is seconds since the command started (wall clock) unless the caller gives
        its own (a session's records count on the session's clock, virtual or scaled)."""
        if t is None:
            t = time.monotonic() - self.started
        click.echo(to_json_line({"type": type_, "t": round(t, 3), **(data or {})}))


#: Decorator giving a command the CliContext (a default one when run outside the group).
pass_cli = click.make_pass_decorator(CliContext, ensure=True)
