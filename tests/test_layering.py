"""The library never reaches up into the app, and no module imports itself through others (issue 26, item 2).

``screening`` is the library: it never imports ``flows`` (the Prefect app) nor Prefect. The
import graph of both packages, read from the source (function-level imports too, imports
under ``if TYPE_CHECKING:`` not), has no cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("screening", "flows")


def _modules() -> dict[str, Path]:
    """Every module of :data:`PACKAGES`: dotted name -> file."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of :data:`PACKAGES` that module ``name`` imports (at any level of the file)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def target(dotted: str) -> str | None:
        while dotted and dotted not in modules:  # ``screening.pipeline.rank_funnel`` -> ``screening.pipeline``
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(target(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                found.add(target(f"{module}.{alias.name}"))
        elif (  # importlib.import_module("flows.screen") is an import too
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(target(node.args[0].value))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return {m for m in found if m and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_the_graph_walker_finds_a_cycle_and_a_lazy_import():
    """The walker itself: a cycle of two modules is found; imports inside functions and under TYPE_CHECKING count."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    modules = {"screening.x": Path("x.py"), "screening.y": Path("y.py")}
    tree = "def f():\n    from screening.y import g\n\nif TYPE_CHECKING:\n    import screening.z\n"
    tmp = ROOT / ".pytest_cache" / "layering_probe.py"
    tmp.parent.mkdir(exist_ok=True)
    tmp.write_text(tree)
    assert _imports("screening.x", tmp, {**modules, "screening.z": Path("z.py")}) == {"screening.y", "screening.z"}


#: cycles that arrived with other branches' merges at the end of the session (function-level imports both ways),
#: not yet broken: listed so that the test still fails on any new one. Remove an entry when its cycle is broken.
KNOWN_CYCLES: list[list[str]] = []  # (both that came with the end-of-session merges are broken: ranking passes
#  why_text its labels; the conductivity data moved to screening.training.data)


def test_no_import_cycle_in_screening_or_flows():
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_screening_module_imports_flows_or_prefect():
    """Read from the source: no module of ``screening`` names ``flows`` or ``prefect`` in any import."""
    modules = _modules()
    offenders = {}
    for name, path in modules.items():
        if not name.startswith("screening"):
            continue
        upward = {m for m in _imports(name, path, modules) if m.startswith("flows")}
        tree = ast.parse(path.read_text())
        prefect = {
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, (ast.Import, ast.ImportFrom))
            for a in n.names
            if ((n.module or "") if isinstance(n, ast.ImportFrom) else a.name).split(".")[0] == "prefect"
        }
        if upward or prefect:
            offenders[name] = sorted(upward | prefect)
    assert not offenders, offenders


_IMPORT_ALL = """
import importlib, pkgutil, sys
import screening
skipped = []
for info in pkgutil.walk_packages(screening.__path__, "screening."):
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as exc:  # an optional extra (the mlip tier's torch, ...) that is not installed
        if (exc.name or "").split(".")[0] in ("screening", "flows"):
            raise
        skipped.append(info.name)
upward = sorted(m for m in sys.modules if m == "flows" or m.startswith("flows.") or m == "prefect" or m.startswith("prefect."))
assert not upward, upward
print(len([m for m in sys.modules if m.startswith("screening")]), "screening modules imported; skipped:", skipped)
"""


def test_importing_every_screening_module_imports_no_flows_module():
    """The check anyone can run: import every submodule of ``screening``; ``sys.modules`` has no ``flows`` (nor Prefect)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # the timeout bounds a hang (a loaded 2-core machine took minutes to import torch), it is no performance claim
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[0]) > 50, done.stdout
