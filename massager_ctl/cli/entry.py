"""The ``massager-ctl`` entry point: prints the top-level help without importing click.

Importing click alone costs several times the start-up of Python itself, so
``massager-ctl --help`` (or ``-h``) and nothing else prints the help pre-rendered in
:mod:`.help_text`, provided click would render it at the same width;
``massager-ctl --version`` alone prints the version line click would print; and
:mod:`.fast` answers ``devices`` and ``profile list``. Everything else (and any
doubt) goes to the click group in :mod:`.main`. Import only os and sys here.
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


def _flush_output(done: SystemExit) -> None:
    """Flush standard output before exiting: a full disk or a closed file is said on stderr
    (exit 1), not left to the interpreter's shutdown (a traceback-like note, exit 120)."""
    stream = sys.stdout
    try:
        if stream is not None:
            stream.flush()
    except BrokenPipeError:  # `| head`: quiet, as click does
        _silence_stdout()
    except (OSError, ValueError) as err:
        _silence_stdout()
        reason = getattr(err, "strerror", None) or str(err)
        sys.stderr.write(f"massager-ctl: cannot write the output: {reason}\n")
        if not done.code:
            done.code = 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _print_version() -> bool:
    """``massager-ctl --version`` alone: what click's version option prints, without click."""
    if sys.argv[1:] != ["--version"] or COMPLETE_VAR in os.environ or sys.stdout is None:
        return False
    from .. import __version__

    try:
        sys.stdout.write(f"massager-ctl, version {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: quiet, as click does
        _silence_stdout()
        sys.exit(1)
    return True


def main() -> None:
    """Run massager-ctl with sys.argv; exits the process."""
    if _print_stored_help() or _print_version():
        sys.exit(0)
    from .fast import run as run_fast  # `devices` and `profile list`, without click

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    try:
        # First, before click and the rest are imported: from here on, every signal
        # that would end or pause the process stops the device first (cli/signals.py).
        from . import signals

        signals.install()
    except KeyboardInterrupt:  # Ctrl-C before the guard was in place: nothing runs yet
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing
        sys.stderr.write("massager-ctl: interrupted (SIGINT)\n")
        sys.exit(130)
    try:
        from .main import main as cli_main

        try:
            cli_main(prog_name="massager-ctl")
        except SystemExit as done:
            _flush_output(done)
            raise
    except signals.Signalled as exc:
        code = signals.end_quietly(exc)
        signals.block_all()
        sys.exit(code)
    except SystemExit:
        # The command is over (any device stopped and closed): a signal now must not
        # turn its exit code into a kill (-15) while the interpreter shuts down.
        signals.block_all()
        raise
    signals.uninstall()  # returned without exiting (only when called from Python): hand back
