"""Run scope: every read shows one run (the latest completed by default) and names it; unknown run ids,
families and columns are usage errors (exit status 2) listing the valid values; an identical re-run
reuses the earlier run's rows instead of writing a copy."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from screening.cli import main
from screening.errors import UnknownValueError
from screening.store import ResultStore

FORMULAS = ["Li3YCl6", "Li3InCl6", "Li2ZrCl6", "Li6PS5Cl", "Li7P3S11", "(La0.55Li0.45)(Ti0.9Al0.1)O3"]


def _write_run(store: ResultStore, run_id: str, preset: str, started: str, shift: float) -> None:
    store.start_run({"source": "obelix", "families": ["halide", "sulfide", "oxide"], "limit": 6, "preset": preset}, run_id=run_id)
    ids = [f"{run_id}-c{i}" for i in range(6)]
    store.write("candidates", run_id, pd.DataFrame({
        "candidate_id": ids, "formula": FORMULAS, "family": ["halide"] * 3 + ["sulfide"] * 2 + ["oxide"],
        "prototype": ["Li3YCl6", "Li3InCl6", "Li2ZrCl6", "argyrodite", "Li7P3S11", "perovskite"],
    }))  # fmt: skip
    sigma = np.array([-3.0, -3.2, -4.0, -2.5, -2.2, -3.3]) + shift
    store.write("predictions", run_id, pd.DataFrame({
        "candidate_id": ids, "log10_sigma_S_cm": sigma, "log10_sigma_S_cm_lo80": sigma - 2.123456, "log10_sigma_S_cm_hi80": sigma + 2.0,
        "K_IC_MPa_m05": [0.312345, 0.3, 0.35, 0.2, 0.21, 1.5],
    }))  # fmt: skip
    store.write("stability", run_id, pd.DataFrame({
        "candidate_id": ids, "window_low_V": [0.62, 2.62, 2.0, 1.71, 2.3, 1.1], "window_high_V": [4.2, 4.3, 3.9, 2.2, 2.4, np.inf],
        "e_hull_eV_atom": [0.000885, 0.0, 1.16e-08, 0.02, 0.05, 0.03],
    }))  # fmt: skip
    store.write("scores", run_id, pd.DataFrame({
        "candidate_id": ids, "passes_gates": [True] * 6, "pareto_rank": [1, 2, 1, 1, 1, 1],
        "score": [0.5, 0.1, 0.2, 0.9, 1.0, 0.3], "rank": [3, 6, 5, 2, 1, 4],
    }))  # fmt: skip
    store.finish_run(run_id)
    with store.connect() as con:
        con.execute("UPDATE runs SET started_at = ? WHERE run_id = ?", [datetime.fromisoformat(started), run_id])


@pytest.fixture()
def three_runs(tmp_path) -> ResultStore:
    """A store with three completed runs; ``r-new`` (li-metal-anode) is the latest."""
    store = ResultStore(tmp_path / "three.duckdb")
    _write_run(store, "r-old", "balanced", "2026-01-01 10:00", 0.0)
    _write_run(store, "r-new", "li-metal-anode", "2026-03-01 10:00", 0.5)
    _write_run(store, "r-mid", "balanced", "2026-02-01 10:00", -0.5)
    return store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_top_names_the_latest_run_and_fits_160_columns(three_runs, capsys):
    code, out, err = run(capsys, "--store", str(three_runs.path), "top")
    assert code == 0, err
    first = out.splitlines()[0]
    assert "r-new" in first and "obelix-halide+sulfide+oxide-6-li-metal-anode-r-new" in first and "li-metal-anode" in first
    assert "r-old" not in out and "r-mid" not in out
    assert max(len(line) for line in out.splitlines()) <= 160
    # the compact table: about ten columns, units in headers, one format per quantity, the preset's reaction energy
    assert "log10 σ (S/cm)" in out and "(eV/atom)" in out and "E_rxn Li" in out
    assert "0.001" in out and "0.000885" not in out and "1.16e-08" not in out and "-2.1 [-4.3, -0.2]" not in out
    assert "-1.7 [-3.8, 0.3]" in out  # Li7P3S11 of r-new: -2.2 + 0.5, interval to one decimal


def test_top_of_an_older_run_and_the_python_helper_say_which_run(three_runs, capsys):
    code, out, _ = run(capsys, "--store", str(three_runs.path), "top", "--run-id", "r-old", "-n", "2")
    assert code == 0 and "run r-old" in out.splitlines()[0] and "preset balanced" in out.splitlines()[0]
    frame = three_runs.top(3)
    assert frame.attrs["run"]["run_id"] == "r-new" and frame.attrs["run"]["preset"] == "li-metal-anode"


def test_ranked_latest_is_the_latest_completed_run(three_runs):
    rows = three_runs.query("SELECT DISTINCT run_id FROM ranked_latest")
    assert rows["run_id"].tolist() == ["r-new"]
    assert len(three_runs.query("SELECT * FROM ranked")) == 18


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--run-id", "nosuchrun"], ["nosuchrun", "r-new", "r-mid", "r-old"]),
        (["--family", "halid"], ["halid", "halide", "oxide", "sulfide"]),
        (["--columns", "window_with_V"], ["window_with_V", "window_width_V"]),
    ],
)
def test_unknown_values_exit_2_with_the_valid_ones(three_runs, capsys, argv, named):
    code, out, err = run(capsys, "--store", str(three_runs.path), "top", *argv)
    assert code == 2 and out == "" and err.startswith("error:") and all(n in err for n in named)


def test_unknown_run_id_in_the_library_lists_the_runs(three_runs):
    with pytest.raises(UnknownValueError) as info:
        three_runs.top(run_id="nosuchrun")
    assert info.value.valid == ["r-new", "r-mid", "r-old"]


def test_runs_lines_are_short_and_wide_has_the_parameters(three_runs, capsys):
    code, out, _ = run(capsys, "--store", str(three_runs.path), "runs")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 160 and "r-mid" in out
    code, out, _ = run(capsys, "--store", str(three_runs.path), "runs", "--wide")
    assert "preset=li-metal-anode" in out
    code, out, _ = run(capsys, "--store", str(three_runs.path), "runs", "--format", "json")
    assert json.loads(json.loads(out)[0]["parameters"])["preset"] == "balanced"


def test_an_older_store_gets_the_latest_view(three_runs):
    with three_runs.connect() as con:
        con.execute("DROP VIEW ranked_latest")
        con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    store = ResultStore(three_runs.path)
    assert store.query("SELECT DISTINCT run_id FROM ranked_latest")["run_id"].tolist() == ["r-new"]


@pytest.mark.slow
def test_an_identical_rerun_reuses_the_earlier_rows(tmp_path):
    """`make run` twice: the second run computes nothing and writes no copy; it names the run it shows."""
    from flows.screen import ScreenParameters, screen

    path = str(tmp_path / "twice.duckdb")
    params = ScreenParameters(limit=20, chunk_size=10, tiers=["composition"], store_path=path)
    first = screen(params)
    second = screen(params)
    store = ResultStore(path)
    assert second == first and store.query("SELECT count(*) AS n FROM runs")["n"].item() == 1
    assert store.query("SELECT count(*) AS n FROM candidates")["n"].item() == 20
    third = screen(params.with_run(reuse_identical=False))  # asked for: a copy under a new id
    assert third != first and store.query("SELECT count(*) AS n FROM candidates")["n"].item() == 40
    other = screen(ScreenParameters(limit=20, chunk_size=10, tiers=["composition"], preset="li-metal-anode", store_path=path))
    assert other not in (first, third)
