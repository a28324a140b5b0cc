"""The ``massager-ctl`` entry point: prints the top-level help without importing click.

Importing click alone costs several times the start-up of Python itself, so
``massager-ctl --help`` (or ``-h``) and nothing else prints the help pre-rendered in
:mod:`.help_text`, provided click would render it at the same width, and
``massager-ctl --version`` alone prints the version line click would print. Everything else
(and any doubt) goes to the click group in :mod:`.main`. Import only os and sys here.
"""

from __future__ import annotations

import os
import sys

#: click's shell-completion variable for prog_name "massager-ctl".
COMPLETE_VAR = "_MASSAGER_CTL_COMPLETE"


def help_width() -> int:
    """The width click's HelpFormatter uses when nothing forces one (click 8.5).

    ``max(min(shutil.get_terminal_size().columns, 80) - 2, 50)``, with
    shutil.get_terminal_size done by hand (importing shutil costs more than this saves).
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__  # None where there is no console
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 80
        except (AttributeError, ValueError, OSError):
            columns = 80
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def _print_stored_help() -> bool:
    """Print the pre-rendered help if it is what click would print; False if not sure."""
    if sys.argv[1:] not in (["--help"], ["-h"]) or COMPLETE_VAR in os.environ:
        return False
    if sys.stdout is None:
        return False
    from .help_text import HELP_TEXT, HELP_WIDTH

    if help_width() != HELP_WIDTH:
        return False
    try:
        sys.stdout.write(HELP_TEXT)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `| head -1`: quiet, exit 1, as click does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    return True


def _print_version() -> bool:
    """``massager-ctl --version`` alone: what click's version option prints, without click."""
    if sys.argv[1:] != ["--version"] or COMPLETE_VAR in os.environ or sys.stdout is None:
        return False
    from .. import __version__

    try:
        sys.stdout.write(f"massager-ctl, version {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    return True


def main() -> None:
    """Run massager-ctl with sys.argv; exits the process."""
    if _print_stored_help() or _print_version():
        sys.exit(0)
    from .main import main as cli_main

    cli_main(prog_name="massager-ctl")
