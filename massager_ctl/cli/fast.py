"""The read commands answered without click: ``devices`` and ``profile list``.

Importing click costs more than starting Python itself, so :func:`run` (called by
:mod:`.entry` before click is imported) answers exactly these forms itself::

    devices         devices --json         --json devices
    profile list    profile list --json    --json profile list

Anything else (another option, a shell completion, no standard output, an output that is
not UTF-8) returns None and goes to click. The output, errors and exit codes are the click
commands' own, byte for byte: tests/test_cli_fast_read.py runs each form both ways and
compares. Import only os and sys here; a command imports what it needs when it runs.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs more than this module saves
if TYPE_CHECKING:
    from collections.abc import Callable

#: click's shell-completion variable for prog_name "massager-ctl" (as in entry.py).
COMPLETE_VAR = "_MASSAGER_CTL_COMPLETE"


def _devices(json: bool) -> int:
    from .devices_text import DEVICES_JSON, DEVICES_TEXT

    return _write(DEVICES_JSON if json else DEVICES_TEXT)


def _profile_list(json: bool) -> int:
    import time

    started = time.monotonic()  # the error record's "t" counts from here, as CliContext's does
    from ..core.errors import MassagerError

    try:
        from ..config import load_config
        from .logs import setup_logging

        setup_logging(0)  # as the click group does: a config others can change is warned of
        from .person import person_name
        from .profile_list import listing

        config = load_config(None)
        person = person_name(None)
        if person is not None:
            config.person(person)  # an unknown name is a ConfigError, with a guess
        text = listing(config, person, json=json)
    except MassagerError as exc:
        return _error(exc, str(exc), exc.exit_code, json, started)
    except Exception as exc:  # the click group's last resort, said the same way
        text = str(exc)
        described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return _error(exc, f"unexpected error: {described}", 1, json, started)
    return _write(text)


def _error(exc: BaseException, message: str, exit_code: int, json: bool, started: float) -> int:
    """As cli/main.py's report_error says an error (without -v, its logging stays silent)."""
    if json:
        import time

        from .output import to_json_line

        data = {"type": "error", "t": round(time.monotonic() - started, 3), "error": message}
        data["exit_code"] = exit_code
        problems = getattr(exc, "problems", None) or []
        if problems and all(hasattr(p, "to_dict") for p in problems):
            data["problems"] = [p.to_dict() for p in problems]
        try:
            sys.stdout.write(to_json_line(data) + "\n")
            sys.stdout.flush()
            return exit_code
        except OSError as err:  # stdout broken too: the error goes to stderr after all
            _silence_stdout()
            message += f" (and the output cannot be written: {err.strerror or err})"
    lines = [f"massager-ctl: {line}\n" for line in message.splitlines() or [""]]
    if exit_code != 2:  # 2 is bad input: its message says what to fix
        lines.append("massager-ctl: rerun with -v for details\n")
    sys.stderr.write("".join(lines))
    sys.stderr.flush()
    return exit_code


#: command words -> what answers them (given whether --json was typed); returns the exit code
COMMANDS: dict[tuple[str, ...], Callable[[bool], int]] = {
    ("devices",): _devices,
    ("profile", "list"): _profile_list,
}


def run(argv: list[str]) -> int | None:
    """Run ``argv`` (the arguments after the program name) if it is a form answered here:
    its exit code. None: not one of them, let click run it."""
    if COMPLETE_VAR in os.environ or not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return None
    words = tuple(argv)
    json = "--json" in words[:1] + words[-1:]
    if words[:1] == ("--json",):
        words = words[1:]
    elif words[-1:] == ("--json",):
        words = words[:-1]
    command = COMMANDS.get(words)  # None for a --json left in: twice, or in the middle
    return None if command is None else command(json)


def _utf8(stream: object) -> bool:
    """Whether ``stream`` writes UTF-8, as click's echo then does too. On another encoding
    click writes in its own way (UTF-8 in place of ASCII, say): it is left to click."""
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False


def _write(text: str) -> int:
    """Write ``text`` to standard output as click's echo does; a broken output is handled
    as the click group handles it (cli/main.py): a closed pipe ends quietly, exit 1; a full
    disk or an I/O error is said on stderr, exit 1."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: quiet, as click does
        _silence_stdout()
        return 1
    except OSError as err:  # a full disk, an I/O error: said on stderr
        return _fail(f"cannot write the output: {err.strerror or err}")
    except ValueError as err:  # a closed stdout
        return _fail(f"unexpected error: {type(err).__name__}: {err}")
    return 0


def _fail(message: str) -> int:
    _silence_stdout()
    sys.stderr.write(f"massager-ctl: {message}\nmassager-ctl: rerun with -v for details\n")
    return 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
