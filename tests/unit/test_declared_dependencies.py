"""Every module the package imports at module level is the standard library, modelchip itself, or a
runtime dependency declared in pyproject.toml: a package installed only transitively (click, once pulled
in by typer, which now vendors it) is gone on a fresh machine and `make run` fails there."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
IMPORT_NAMES = {"PyYAML": "yaml"}  # distribution name -> import name, where they differ


def _declared_imports() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    return {IMPORT_NAMES.get(name, name.lower().replace("-", "_")) for name in names}


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_module_level_imports_are_declared_dependencies() -> None:
    allowed = _declared_imports() | set(sys.stdlib_module_names) | {"modelchip", "__future__"}
    undeclared = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "src" / "modelchip").rglob("*.py")
        for name in _module_level_imports(path)
        if name not in allowed
    }
    assert undeclared == set()


def test_the_declared_set_is_read_from_pyproject() -> None:
    declared = _declared_imports()
    assert {"numpy", "pydantic", "yaml", "typer", "rich", "matplotlib"} <= declared
    assert "click" not in declared
