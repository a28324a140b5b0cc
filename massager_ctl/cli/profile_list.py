"""What `massager-ctl profile list` prints, without click.

Both the click command (cli/profile_cmds.py) and the fast path (cli/fast.py, which answers
`profile list` without importing click) print :func:`listing`, so they print the same.
Also the summaries and problem lines `profile check` and `profile show` share.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the fast path does without importing it
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config
    from ..plan import Plan

#: The widest drawing `profile show` makes (wider would only grow the output, not the detail).
MAX_SHOW_WIDTH = 1000


def listing(config: Config, person: str | None, *, json: bool) -> str:
    """The whole output of `profile list` (``json``: its JSON line) for ``config``, marking
    ``person``'s favourites. A profile that does not load is listed with its first problem."""
    from ..core.errors import MassagerError
    from ..profile import load_plan
    from ..profile.library import list_profiles, shown_name

    favourites = config.person(person).favourites if person else ()
    items = []
    for entry in list_profiles(config):
        item: dict[str, Any] = {
            "id": entry.name,
            "path": str(entry.path),
            "source": entry.source,
            "shadowed": entry.shadowed,
            "favourite": entry.name in favourites and not entry.shadowed,
        }
        if entry.name_problem is not None:
            line = f"{shown_name(entry.path.name)}: {entry.name_problem}"
            item.update(ok=False, problems=[{"message": entry.name_problem, "text": line}], _lines=[line])
            items.append(item)
            continue
        try:
            plan = load_plan(entry.path)
        except MassagerError as exc:
            lines, dicts = problem_lines_and_dicts(exc, entry.path.name)
            item.update(ok=False, problems=dicts, _lines=lines)
        else:
            item.update(ok=True, **plan_summary(plan), problems=[])
        items.append(item)

    if json:
        from .output import to_json_line

        return to_json_line([{k: v for k, v in i.items() if not k.startswith("_")} for i in items]) + "\n"
    if not items:
        return "no profiles found\n"
    rows = []
    for i in items:
        source = i["source"] + (" (hidden by user)" if i["shadowed"] else "")
        if i["ok"]:
            star = "*" if i["favourite"] else ""
            rows.append(
                [i["id"] + star, i["benefit"] or "-", i["duration"], source, first_line(i["description"])]
            )
        else:
            more = len(i["problems"]) - 1
            text = "error: " + i["_lines"][0] + (f" (+{more} more)" if more else "")
            rows.append([i["id"], "-", "-", source, text])
    header = ["NAME", "BENEFIT", "LENGTH", "SOURCE", "DESCRIPTION"]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    room = max(20, terminal_width() - sum(widths) - 2 * 4)
    out = []
    for r in [header, *rows]:
        cells = [r[c].ljust(widths[c]) for c in range(4)] + [clip(r[4], room)]
        out.append("  ".join(cells).rstrip() + "\n")
    if favourites:
        out.append(f"* {person}'s favourites (massager-ctl --person {person} run plays the first)\n")
    return "".join(out)


def problem_lines_and_dicts(exc: Exception, display: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Lines for people and dicts for JSON, from a ProfileError (or any MassagerError)."""
    problems = getattr(exc, "problems", None)
    if problems:
        from ..profile.errors import problem_lines

        return problem_lines(problems), [
            p.to_dict() if hasattr(p, "to_dict") else {"message": str(p)} for p in problems
        ]
    message = str(exc)
    if message.startswith(display + ": "):
        message = message[len(display) + 2 :]
    line = f"{display}: {message}"
    return [line], [{"file": display, "where": "", "key": None, "message": message, "text": line}]


def plan_summary(plan: Plan) -> dict[str, Any]:
    from ..core.durations import format_duration

    return {
        "name": plan.name,
        "benefit": plan.benefit.value if plan.benefit else None,
        "author": plan.author,
        "description": plan.description,
        "duration": format_duration(plan.duration_ms),
        "duration_ms": plan.duration_ms,
        "steps": plan.step_count,
    }


def first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def terminal_width() -> int:
    """The terminal's width (COLUMNS first), within reason: COLUMNS=100000000 is not a terminal."""
    import shutil

    return max(1, min(MAX_SHOW_WIDTH, shutil.get_terminal_size((80, 24)).columns))


def clip(text: str, width: int) -> str:
    if width <= 1:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"
