"""A simulator reads the host's bytes with its own code: never its family's codec or driver.

A simulator that decodes frames with the driver's codec only proves that the codec agrees
with itself. Each family's ``sim.py``, and every module of its own family that it imports
(directly or through another), must stay clear of that family's ``codec`` and ``driver``.
``native`` is exempt: it is our own protocol, and its reference simulator shares the spec on
purpose. Read from the source text (the AST), so that an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import massager_ctl.devices
from massager_ctl.devices.registry import FAMILIES

DEVICES = Path(massager_ctl.devices.__file__).parent
PACKAGE = "massager_ctl.devices"
#: Our own protocol: the reference simulator shares the spec by design.
EXEMPT = frozenset({"native"})
#: Families whose simulator still reads with the driver's codec (a debt, named here so that the
#: test says so; strict: the mark must go when the debt is paid).
KNOWN_DEBT: dict[str, str] = {}


def _module_path(module: str) -> Path | None:
    """The file of ``massager_ctl.devices.<family>.<name>`` if it is one of ours, else None."""
    if not module.startswith(PACKAGE + "."):
        return None
    rel = module[len(PACKAGE) + 1 :].split(".")
    path = DEVICES.joinpath(*rel)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _imports(module: str, path: Path) -> set[str]:
    """Every module ``module`` (at ``path``) names in an import, as an absolute name."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # ``from . import codec`` names a module, not an attribute
            found.update(
                f"{base}.{alias.name}" for alias in node.names if _module_path(f"{base}.{alias.name}")
            )
    return found


def family_imports(family: str) -> dict[str, set[str]]:
    """Each module of ``family`` reached from its ``sim``: the modules of the family it imports."""
    root = f"{PACKAGE}.{family}"
    seen: dict[str, set[str]] = {}
    todo = [f"{root}.sim"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_path(module)
        assert path is not None, module
        own = {m for m in _imports(module, path) if m == root or m.startswith(root + ".")}
        seen[module] = own
        todo.extend(m for m in own if _module_path(m) is not None)
    return seen


def _families() -> list[object]:
    out: list[object] = []
    for family in FAMILIES:
        if family in EXEMPT or not (DEVICES / family / "sim.py").is_file():
            continue
        marks = [pytest.mark.xfail(reason=KNOWN_DEBT[family], strict=True)] if family in KNOWN_DEBT else []
        out.append(pytest.param(family, marks=marks, id=family))
    return out


@pytest.mark.parametrize("family", _families())
def test_simulator_imports_neither_codec_nor_driver_of_its_family(family: str) -> None:
    forbidden = {f"{PACKAGE}.{family}.codec", f"{PACKAGE}.{family}.driver"}
    offenders = {
        module: sorted(own & forbidden) for module, own in family_imports(family).items() if own & forbidden
    }
    assert not offenders, f"{family}: the simulator reads with the driver's code: {offenders}"


def test_every_family_with_a_simulator_is_checked_or_exempt_by_name() -> None:
    with_sim = {p.parent.name for p in DEVICES.glob("*/sim.py")}
    assert with_sim <= set(FAMILIES), "a family folder with a simulator is missing from FAMILIES"
    assert EXEMPT <= with_sim and set(KNOWN_DEBT) <= with_sim


def test_the_check_sees_imports_however_they_are_written(tmp_path: Path) -> None:
    """The reader resolves relative, ``from . import x`` and absolute imports, and ones in functions."""
    src = tmp_path / "probe.py"
    src.write_text(
        "from .codec import a\n"
        "from . import driver\n"
        "import massager_ctl.devices.nlr.codec\n"
        "def f():\n"
        "    from ..theragun import codec\n",
        encoding="utf-8",
    )
    names = _imports(f"{PACKAGE}.pulsetto.probe", src)
    assert {
        f"{PACKAGE}.pulsetto.codec",
        f"{PACKAGE}.pulsetto.driver",
        f"{PACKAGE}.nlr.codec",
        f"{PACKAGE}.theragun.codec",
    } <= names
