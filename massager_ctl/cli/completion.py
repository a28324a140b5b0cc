"""Shell completion of values (click's completion, docs/cli.md "Shell completion"), and a
Choice that guesses what a mistyped word meant.

Completes profile names (and files: a profile argument may be a path), device URIs, model
names, zones (also after a comma, and before ``=`` for airbags), people and programs. Each
function imports what it needs when called: completion runs a fresh process per TAB.
"""

from __future__ import annotations

import difflib
from typing import Any

import click
from click.shell_completion import CompletionItem


def _cli(ctx: click.Context | None) -> Any:
    """The command's CliContext; while completing (the group's callback does not run then),
    one made from the global options typed so far."""
    from pathlib import Path

    from .context import CliContext

    found = ctx.find_object(CliContext) if ctx is not None else None
    if found is not None:
        return found
    params = ctx.find_root().params if ctx is not None else {}
    config = params.get("config_path")
    return CliContext(
        device=params.get("device"),
        config_path=Path(config) if config else None,
        person_option=params.get("person"),
    )


def profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Profile names (the user's and the shipped ones), then files: a path works too."""
    names: list[CompletionItem] = []
    if "/" not in incomplete:
        try:
            from ..profile.library import list_profiles

            seen = set()
            for entry in list_profiles(_cli(ctx).config):
                if entry.name.startswith(incomplete) and entry.name not in seen:
                    seen.add(entry.name)
                    names.append(CompletionItem(entry.name, help=entry.source))
        except Exception:  # noqa: BLE001 - a broken config must not break the shell's TAB
            pass
    return [*names, CompletionItem(incomplete, type="file")]


def models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from ..devices.registry import MODELS

    return [CompletionItem(name, help=m.title) for name, m in MODELS.items() if name.startswith(incomplete)]


def devices(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``sim:MODEL`` for every simulated model, and the schemes of real devices."""
    from ..devices.registry import MODELS

    uris = [f"sim:{name}" for name, m in MODELS.items() if m.simulator and "sim" in m.schemes]
    uris += ["sim:", "serial:", "ble:"]
    return [CompletionItem(u) for u in uris if u.startswith(incomplete)]


def _zone_names() -> list[str]:
    from ..core.vocabulary import Zone

    return Zone.names()


def zone_list(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """ZONE[,ZONE...]: the zone being typed after the last comma."""
    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    return [CompletionItem(prefix + z) for z in _zone_names() if z.startswith(last)]


def airbag(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """ZONE=PCT: the zone, with its ``=``."""
    if "=" in incomplete:
        return []
    return [CompletionItem(f"{z}=") for z in _zone_names() if z.startswith(incomplete)]


def people(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    try:
        names = sorted(_cli(ctx).config.people)
    except Exception:  # noqa: BLE001 - as above
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def programs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    try:
        from ..connection.open import model_named_by

        definition = model_named_by(_cli(ctx).device_uri or "sim:")
        caps = definition.static_capabilities() if definition is not None else None
        can_start = definition is not None and hasattr(definition.load("driver"), "run_program")
        found = caps.programs if caps is not None and can_start else ()
    except Exception:  # noqa: BLE001 - as above
        return []
    return [CompletionItem(p) for p in found if p.startswith(incomplete)]


class GuessingChoice(click.Choice):  # type: ignore[type-arg]  # generic in new click only; no runtime subscript
    """A Choice whose error guesses the word meant: ``'kned' is not one of ...; did you mean 'knead'?``"""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            if not close:
                raise
            # click's message is Final: the same error again, with the guess added.
            message = f"{exc.message.rstrip('.')}; did you mean {close[0]!r}?"
            raise click.BadParameter(message, exc.ctx, exc.param, exc.param_hint) from exc
