"""The example notebooks run from top to bottom, draw a plot, and are stored without outputs."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def _build_script():
    spec = importlib.util.spec_from_file_location("build_notebooks", Path(__file__).parents[1] / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_what_build_notebooks_writes():
    """notebooks/*.ipynb hold exactly the cells of scripts/build_notebooks.py (edit the script, then run it)."""
    built = _build_script().NOTEBOOK_CELLS
    assert {p.name for p in NOTEBOOKS} == set(built)
    for path in NOTEBOOKS:
        stored = nbformat.read(path, as_version=4).cells
        expected = built[path.name]
        assert [(c.cell_type, c.source) for c in stored] == [(c.cell_type, c.source) for c in expected], (
            f"{path.name} differs from scripts/build_notebooks.py: run `python scripts/build_notebooks.py`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_plots(path, tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENING_RESULTS_PATH", str(tmp_path / "screening.duckdb"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook draws no plot"
    if path.name == "explore_screen.ipynb":  # the notebook names the run it shows: id, name and preset
        first = "".join(o.get("text", "") for o in nb.cells[1]["outputs"] if o.output_type == "stream")
        assert re.search(r"run \S+ \(enumerated-.*-300-balanced[^)]*\), preset balanced", first), first
    if path.name == "descriptors.ipynb":  # the last cell shows the batch with an error row for the unknown element
        assert "Xx" in nb.cells[-1]["outputs"][-1]["data"]["text/plain"]
