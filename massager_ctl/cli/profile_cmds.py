"""``massager-ctl profile list|check|show``: find, validate and look at profiles.

Only click is imported at module level; the parser and plan are imported when a
command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import completion
from .context import CliContext, pass_cli
from .profile_list import MAX_SHOW_WIDTH, plan_summary, problem_lines_and_dicts, terminal_width

if TYPE_CHECKING:
    from ..core.status import DeviceState
    from ..plan import Plan, Step


@click.group()
def profile() -> None:
    """List, check, show and plot session profiles."""


def _resolve(ref: str, cli: CliContext) -> Path:
    """A path to an existing file as is; otherwise a name (the config is read only then)."""
    from ..profile.library import resolve_profile

    path = Path(ref).expanduser()
    if path.is_file():
        return path
    return resolve_profile(ref, cli.config)


# -- list ----------------------------------------------------------------------


@profile.command("list")
@pass_cli
def list_cmd(cli: CliContext) -> None:
    """List the shipped profiles and your own (from the config's profiles_dir).

    A profile that does not load is listed with its first problem.
    """
    from .profile_list import listing

    click.echo(listing(cli.config, cli.person, json=cli.json), nl=False)


# -- check ---------------------------------------------------------------------


def _cap_warnings(cli: CliContext, plan: Plan, display: str) -> list[str]:
    """What `run` would refuse under the user's (or the person's) caps: a profile longer
    than the session cap. Nothing when the config cannot be read (check reports profiles)."""
    from ..core.errors import MassagerError, SafetyError
    from ..session.governor import SafetyGovernor

    try:
        limits = cli.limits
    except MassagerError:
        return []
    length_s = plan.duration_ms / 1000
    if plan.limits.max_length_ms is not None:
        limits = limits.tightened(max_length_s=plan.limits.max_length_ms / 1000)
    try:
        SafetyGovernor(limits).check_length(length_s, display)
    except SafetyError as exc:
        return [f"{exc}; `run` refuses it as it is"]
    return []


@profile.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE...", shell_complete=completion.profiles)
@pass_cli
def check(cli: CliContext, files: tuple[str, ...]) -> None:
    """Check profiles (paths or names) and report every problem.

    Prints "ok <file>: ..." for good profiles and one line per problem for bad
    ones. A good profile that your caps would refuse (longer than your session cap) gets
    a warning line. Exit code 0 when all are fine, 2 otherwise.
    """
    from ..core.errors import MassagerError
    from ..profile import load_plan

    results = []
    all_ok = True
    for ref in files:
        result: dict[str, Any] = {"ref": ref, "id": None, "path": None}
        display = Path(ref).name or ref
        try:
            path = _resolve(ref, cli)
            result["path"] = str(path)
            result["id"] = path.stem
            display = path.name
            plan = load_plan(path)
        except MassagerError as exc:
            all_ok = False
            lines, dicts = problem_lines_and_dicts(exc, display)
            result.update(ok=False, problems=dicts)
            if not cli.json:
                for line in lines:
                    click.echo(line)
        else:
            summary = plan_summary(plan)
            warnings = _cap_warnings(cli, plan, display)
            result.update(ok=True, problems=[], **summary, warnings=warnings)
            if not cli.json:
                click.echo(
                    f"ok {display}: {summary['name']}, {summary['duration']}, {summary['steps']} steps"
                )
                for warning in warnings:
                    click.echo(f"warning: {warning}")
        results.append(result)
    if cli.json:
        cli.echo_json(results)
    if not all_ok:
        click.get_current_context().exit(2)


# -- show ----------------------------------------------------------------------


def _step_dict(step: Step) -> dict[str, Any]:
    from ..core.vocabulary import Zone
    from ..plan import AirbagStep, HeatStep, RollerStep

    order = list(Zone)
    out: dict[str, Any] = {
        "start_ms": step.start_ms,
        "duration_ms": step.duration_ms,
        "name": step.name,
        "source": step.source,
    }
    if isinstance(step, RollerStep):
        out.update(
            technique=step.technique.value if step.technique else None,
            zones=[z.value for z in sorted(step.zones, key=order.index)],
            intensity=step.intensity.to_dict(),
            speed=step.speed.to_dict(),
            width=step.width.value,
        )
    elif isinstance(step, AirbagStep):
        out.update(
            zones=[z.value for z in sorted(step.zones, key=order.index)],
            pressure=step.pressure.to_dict(),
        )
    elif isinstance(step, HeatStep):
        out.update(level=step.level.value)
    return out


def _limits_text(plan: Plan) -> str:
    from ..core.durations import format_duration

    parts = []
    if plan.limits.max_intensity is not None:
        parts.append(f"max intensity {plan.limits.max_intensity:g} %")
    if plan.limits.max_length_ms is not None:
        parts.append(f"max length {format_duration(plan.limits.max_length_ms)}")
    return ", ".join(parts) if parts else "none"


@profile.command("show")
@click.argument("file", shell_complete=completion.profiles)
@click.option(
    "--width",
    type=click.IntRange(1, MAX_SHOW_WIDTH),
    help=f"Width of the drawing in columns (default: the terminal's; 40 to {MAX_SHOW_WIDTH}).",
)
@pass_cli
def show(cli: CliContext, file: str, width: int | None) -> None:
    """Show a profile (path or name): summary, timeline of each track, and its steps."""
    import textwrap

    from ..profile import load_plan
    from .timeline import MIN_WIDTH, render_segments, render_timeline

    path = _resolve(file, cli)
    plan = load_plan(path)
    summary = plan_summary(plan)

    if cli.json:
        from ..core.durations import format_duration

        limits = plan.limits
        data = {"id": path.stem, "path": str(path), **summary}
        data["limits"] = {
            "max_intensity": limits.max_intensity,
            "max_length_ms": limits.max_length_ms,
            "max_length": (
                format_duration(limits.max_length_ms) if limits.max_length_ms is not None else None
            ),
        }
        data["tracks"] = {name: [_step_dict(s) for s in steps] for name, steps in plan.tracks().items()}
        cli.echo_json(data)
        return

    width = max(MIN_WIDTH, min(MAX_SHOW_WIDTH, width or terminal_width()))
    label = 13
    click.echo(f"{plan.name}  ({path})")
    rows = [
        ("benefit", summary["benefit"] or "-"),
        ("author", plan.author or "-"),
        ("length", f"{summary['duration']}  ({summary['steps']} steps)"),
        ("limits", _limits_text(plan)),
    ]
    for key, value in rows:
        click.echo(f"{key:<{label}}{value}")
    description = " ".join(plan.description.split()) or "-"
    wrapped = textwrap.wrap(description, max(20, width - label)) or ["-"]
    click.echo(f"{'description':<{label}}{wrapped[0]}")
    for line in wrapped[1:]:
        click.echo(" " * label + line)
    click.echo()
    for line in render_timeline(plan, width):
        click.echo(line)
    click.echo()
    for line in render_segments(plan):
        click.echo(line)


# -- plot ----------------------------------------------------------------------


@profile.command("plot")
@click.argument("file", shell_complete=completion.profiles)
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="FILE.svg, .png or .pdf",
)
@click.option(
    "--device",
    "device",
    metavar="URI",
    help="Also draw what this device will get (its model's capabilities, mapping and caps).",
    shell_complete=completion.devices,
)
@pass_cli
def plot(cli: CliContext, file: str, output: str, device: str | None) -> None:
    """Draw every track of a profile (path or name) into FILE: intensity with a band per
    technique, airbags, heat; with --device (or the global --device), what that device gets."""
    from ..plot import plot_plan
    from ..profile import load_plan

    plan = load_plan(_resolve(file, cli))
    device = device or cli.device
    writes = caps = name = None
    if device:
        from ..api import dry_run
        from ..connection.open import model_named_by

        collected: list[tuple[float, DeviceState]] = []
        dry_run(plan, limits=cli.limits, device=device, on_write=lambda t, s: collected.append((t, s)))
        definition = model_named_by(device)
        assert definition is not None  # dry_run refused it otherwise
        writes, caps, name = collected, definition.static_capabilities(), definition.name
    written = plot_plan(plan, output, device_writes=writes, capabilities=caps, device_name=name)
    if cli.json:
        cli.echo_json({"id": Path(file).stem, "name": plan.name, "path": str(written), "device": name})
    else:
        click.echo(f"wrote {written}")
