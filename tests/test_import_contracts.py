"""The layer contracts of pyproject.toml (``[tool.importlinter]``) hold.

The same check as ``lint-imports`` in ``.ci/run``, here so that ``pytest`` alone catches
a crossed layer. It runs in a child process: import-linter configures logging with
``dictConfig``, which would disable this process's loggers for every later test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_the_layer_contracts_hold():
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(PYPROJECT), "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
