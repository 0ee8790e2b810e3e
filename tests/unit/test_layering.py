"""DESIGN.md's layer rule, checked from the source: a layer imports only from layers above it, and the
leaves (cli) are imported by nothing. Imports are read with `ast` (top-level, function-level and
TYPE_CHECKING imports alike), relative imports resolved against the importing package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "modelchip"

# layer -> layers it must not import (DESIGN.md "Data flow and layers").
FORBIDDEN: dict[str, frozenset[str]] = {
    "catalog": frozenset({"deploy", "perf", "validate", "serving", "search", "cli", "report"}),
    "models": frozenset({"deploy", "perf", "validate", "serving", "search", "cli", "report"}),
    "deploy": frozenset({"perf", "validate", "cli"}),
    "perf": frozenset({"validate", "serving", "search", "cli", "report"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module `source` imports (for `from a import b`, both a and a.b)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "modelchip" else None


def _all_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph[name] = imported_modules(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    return graph


GRAPH = _all_imports()


def test_the_scan_sees_the_package() -> None:
    """Guards against a scan that finds nothing and so passes vacuously."""
    assert "modelchip.perf.target" in GRAPH
    assert "modelchip.catalog.schema" in GRAPH["modelchip.perf.target"]
    assert any(_layer(m) == "deploy" for m in GRAPH["modelchip.perf.target"])
    assert "modelchip.cli.app" in GRAPH


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_from_layers_above(layer: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) in FORBIDDEN[layer]
    )
    assert not bad, "layer rule broken:\n" + "\n".join(bad)


def test_nothing_imports_the_cli() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) != "cli"
        for target in targets
        if target == "modelchip.cli" or target.startswith("modelchip.cli.")
    )
    assert not bad, "the CLI is a leaf:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import modelchip.perf.cost", "modelchip.catalog.loader", False, "modelchip.perf.cost"),
        ("from modelchip.perf import cost", "modelchip.catalog.loader", False, "modelchip.perf.cost"),
        ("from ..perf import cost", "modelchip.catalog.loader", False, "modelchip.perf.cost"),
        ("from ..perf.cost import op_cost", "modelchip.catalog.loader", False, "modelchip.perf.cost"),
        ("from .schema import ChipSpec", "modelchip.catalog", True, "modelchip.catalog.schema"),
        ("def f():\n    from modelchip.cli import app\n", "modelchip.perf.x", False, "modelchip.cli.app"),
    ],
)
def test_import_parser(source: str, module: str, is_package: bool, expected: str) -> None:
    assert expected in imported_modules(source, module, is_package)


def test_rule_catches_a_violation() -> None:
    """The checker flags a catalog module that reaches down into perf."""
    targets = imported_modules("from modelchip.perf.cost import op_cost", "modelchip.catalog.bad", False)
    assert any(_layer(t) in FORBIDDEN["catalog"] for t in targets)
