"""The layer contracts of pyproject.toml (``[tool.importlinter]``) hold.

The same check as ``lint-imports`` in ``.ci/run``, here so that ``pytest`` alone catches
a crossed layer.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_layer_contracts_hold():
    # On failure the report (which contract, which import, on which line) is in the captured stdout.
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS, "an import crosses a layer: see the lint-imports report above"
