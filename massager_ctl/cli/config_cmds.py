"""``massager-ctl config path|show|set|unset``: the user config file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .context import CliContext, pass_cli

if TYPE_CHECKING:
    from pathlib import Path


@click.group()
def config() -> None:
    """Show and change the user config (device and safety caps).

    \b
    Keys:
      device               device URI used when --device is not given
      profiles_dir         folder of your own profiles
      caps.max_intensity   0..100 %
      caps.max_speed       0..100 %
      caps.max_airbag      0..100 % pressure
      caps.max_heat        off | low | high
      caps.slew_per_s      % per second, above 0, at most 100
      caps.max_session     duration, at most "4h"
      caps.heat_auto_off   duration, at most "4h"
      history.enabled      true | false: keep a history of sessions
      history.keep         sessions kept, older ones pruned (default 1000)
      people.NAME.KEY      a person's caps (any caps key) and favourites
    """


def _path(cli: CliContext) -> Path:
    from ..config import config_path

    return config_path(cli.config_path)


@config.command("path")
@pass_cli
def path_cmd(cli: CliContext) -> None:
    """Print where the config file is (it may not exist yet)."""
    p = _path(cli)
    if cli.json:
        cli.echo_json({"path": str(p), "exists": p.is_file()})
    else:
        click.echo(str(p))


@config.command("show")
@pass_cli
def show(cli: CliContext) -> None:
    """Print the effective config, as TOML: the file's values over the defaults.

    The output is a valid config file: keys at their default say so in a comment, keys
    that are not set are commented out."""
    from ..config import show_value

    cfg = cli.config
    serve = _serve_table(cfg.path)
    if cli.json:
        data = cfg.to_dict()
        data["people"] = {name: p.to_dict() for name, p in cfg.people.items()}
        if serve:
            data["serve"] = serve
        cli.echo_json(data)
        return
    state = "" if cfg.path.is_file() else "  (no file yet: all defaults)"
    click.echo(f"# {cfg.path}{state}")
    section = ""
    for key, value in cfg.values().items():
        table, _, name = key.rpartition(".")
        if table != section:
            click.echo(f"\n[{table}]")
            section = table
        if value is None:
            click.echo(f'# {name or key} = ""  # not set')
            continue
        note = "" if key in cfg.explicit else "  # default"
        click.echo(f"{name or key} = {show_value(value)}{note}")
    for person in cfg.people.values():
        click.echo(f"\n[people.{person.name}]")
        for key, value in person.caps.items():
            click.echo(f"{key} = {show_value(value)}")
        if person.favourites:
            click.echo(f"favourites = {show_value(list(person.favourites))}")
    if serve:  # `massager-ctl serve`'s table, as written (checked when serve reads it)
        click.echo("\n[serve]")
        for key, value in serve.items():
            if not isinstance(value, dict):
                click.echo(f"{key} = {show_value(value)}")
        devices = serve.get("devices")
        if isinstance(devices, dict):
            click.echo("\n[serve.devices]")
            for key, value in devices.items():
                click.echo(f"{key} = {show_value(value)}")


def _serve_table(path: Path) -> dict[str, Any] | None:
    """The config's ``[serve]`` table with any password in its MQTT URL hidden, or None."""
    from ..config import read_raw

    table = (read_raw(path) or {}).get("serve")
    if not isinstance(table, dict):
        return None
    shown = dict(table)
    mqtt = shown.get("mqtt")
    if isinstance(mqtt, str):
        shown["mqtt"] = _hide_password(mqtt)
    return shown


def _hide_password(url: str) -> str:
    """``mqtt://user:secret@host`` -> ``mqtt://user:***@host``; anything else as it is."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


@config.command("set")
@click.argument("key")
@click.argument("value")
@pass_cli
def set_cmd(cli: CliContext, key: str, value: str) -> None:
    """Set KEY to VALUE (checked first; the file is rewritten atomically).

    Other keys, and the comments and layout of the file, are kept.
    """
    from ..config import set_value, show_value

    p = _path(cli)
    written = set_value(key, value, p)
    if cli.json:
        cli.echo_json({"path": str(p), "key": key, "value": written})
    else:
        click.echo(f"{key} = {show_value(written)}  ({p})")


@config.command("unset")
@click.argument("key")
@pass_cli
def unset_cmd(cli: CliContext, key: str) -> None:
    """Remove KEY from the file: it goes back to its default."""
    from ..config import unset_value

    p = _path(cli)
    removed = unset_value(key, p)
    if cli.json:
        cli.echo_json({"path": str(p), "key": key, "removed": removed})
    elif removed:
        click.echo(f"{key} removed; it is back to its default  ({p})")
    else:
        click.echo(f"{key} was not set  ({p})")
