"""The house keeps its layers: no module of assortopt imports one of a higher layer.

Every import is read with `ast`, those inside functions included, so a lazy import cannot hide a
dependency that runs up the order. The order is the one README.md ("Package layout") gives.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "assortopt"

#: Layer of each top-level module or subpackage of assortopt, bottom (0) to top.
LAYERS: dict[str, int] = {
    "exceptions": 0,
    "ranks": 0,
    "rng": 0,
    "jsonio": 0,
    "instance": 0,
    "streams": 0,
    "solution": 0,
    "columnar": 0,
    "catalogue": 0,
    "commitment": 0,
    "_kernels": 1,
    "_incremental": 1,
    "_bnb_kernels": 1,
    "choice": 2,
    "interop": 2,
    "generators": 3,
    "npzio": 0,
    "truth_families": 3,
    "sampling": 4,
    "simulation": 4,
    "exact": 4,
    "chain_model": 4,
    "truth": 4,
    "planner": 4,
    "solver": 5,
    "plan": 6,
    "bound": 6,
    "stopping": 6,
    "packaging": 7,
    "models": 8,
    "fit": 9,
    "methods": 10,
    "api": 12,
    "gap": 12,
    "report": 12,
    "bench": 13,
    "mpi": 14,
    "cli": 15,
    "__main__": 16,
}


def _unit(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    return rel.parts[0]


def _module_name(path: Path) -> list[str]:
    return ["assortopt", *path.relative_to(PKG).with_suffix("").parts]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level unit of assortopt) of every import of assortopt in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod[:-1]
    if path.name == "__init__.py":
        pkg = mod[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "assortopt" and len(parts) > 1:
                    out.append((node.lineno, parts[1]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                parts = base + (node.module.split(".") if node.module else [])
                if len(parts) == 1:  # "from . import x" at the top: x is the unit
                    out.extend((node.lineno, a.name) for a in node.names)
                    continue
            else:
                parts = (node.module or "").split(".")
                if parts[0] != "assortopt":
                    continue
                if len(parts) == 1:
                    out.extend((node.lineno, a.name) for a in node.names)
                    continue
            out.append((node.lineno, parts[1]))
    return out


FILES = sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG)


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in FILES}
    missing = sorted(units - set(LAYERS))
    assert not missing, f"give these modules a layer in tests/test_layers.py: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_only_look_down(path: Path):
    me = _unit(path)
    up = [
        f"line {line}: {me} (layer {LAYERS[me]}) imports {other} (layer {LAYERS[other]})"
        for line, other in _imports(path)
        if other in LAYERS and other != me and LAYERS[other] > LAYERS[me]
    ]
    assert not up, "\n".join(up)


def _graph() -> dict[str, set[str]]:
    """Module-level graph of assortopt (dotted names), function-level imports included."""
    g: dict[str, set[str]] = {}
    names = {".".join(_module_name(p)).removesuffix(".__init__") for p in PKG.rglob("*.py")}
    for p in PKG.rglob("*.py"):
        me = ".".join(_module_name(p)).removesuffix(".__init__")
        tree = ast.parse(p.read_text(encoding="utf-8"))
        pkg = _module_name(p)[:-1]
        deps = g.setdefault(me, set())
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("assortopt.")]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[: len(pkg) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if not mod.startswith("assortopt"):
                    continue
                # "from pkg import mod" depends on pkg.mod; "from mod import name" on mod
                targets = [
                    f"{mod}.{a.name}" if f"{mod}.{a.name}" in names else mod for a in node.names
                ]
            for t in targets:
                if t in names and t != me:
                    deps.add(t)
    return g


def test_no_import_cycles():
    g = _graph()
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(u: str) -> None:
        seen[u] = 1
        stack.append(u)
        for v in sorted(g.get(u, ())):
            if v.startswith("assortopt") and v.count(".") == 0:
                continue  # the package's own lazy __init__
            if seen.get(v) == 1:
                cycles.append(stack[stack.index(v) :] + [v])
            elif v not in seen:
                visit(v)
        stack.pop()
        seen[u] = 2

    for u in sorted(g):
        if u not in seen:
            visit(u)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
