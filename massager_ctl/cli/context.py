"""What every command gets from the global options: the CLI context object.

Commands take it with ``@pass_cli``::

    @click.command()
    @pass_cli
    def status(cli: CliContext) -> None:
        uri = cli.device_uri      # --device, else the config's device, else None
        if cli.json: cli.echo_json({...})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class CliContext:
    device: str | None = None  # --device URI
    config_path: Path | None = None  # --config FILE (None: env var or default place)
    json: bool = False  # --json
    verbosity: int = 0  # -v count
    simulate_ble: bool = False  # --simulate-ble: ble: URIs and scan use simulated devices
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

    def echo_json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout."""
        import json

        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


#: Decorator giving a command the CliContext (a default one when run outside the group).
pass_cli = click.make_pass_decorator(CliContext, ensure=True)
