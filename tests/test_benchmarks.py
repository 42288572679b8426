"""The benchmark scripts use the public API: no private name of screening/flows, no module attribute set (issue 26)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _ours(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in ("screening", "flows")


def private_uses(source: str) -> list[str]:
    """``from screening.x import _y``, ``module._y`` and ``module.NAME = ...`` on a screening/flows module."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to our modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((a.asname or a.name.split(".")[0]) for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom) and _ours(node.module):
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                modules.add(a.asname or a.name)  # a submodule or an object: its private attributes are private too
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node.ctx, ast.Store):
                found.append(f"line {node.lineno}: sets {node.value.id}.{node.attr}")
    return found


def test_the_check_finds_private_names_and_monkeypatching():
    source = "from screening.chemistry import _parse_formula\nimport screening.store as s\ns.WRITE_MEMORY_LIMIT = '1GB'\ns._x()\n"
    assert len(private_uses(source)) == 3


@pytest.mark.parametrize("path", BENCHMARKS, ids=[p.name for p in BENCHMARKS])
def test_benchmark_uses_the_public_api(path):
    assert private_uses(path.read_text()) == []
