"""The Prefect flows: resume after a crash, two runs at once, Dask equals threads, bad parameters refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
from pydantic import ValidationError

from flows.screen import CRASH_ENV, ScreenParameters, SimulatedCrash, screen
from screening.store import ResultStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(limit=40, chunk_size=10, tiers=["composition"])


def _stored(store: ResultStore, run_id: str):
    return store.query(
        "SELECT candidate_id, formula, log10_sigma_S_cm, rank FROM ranked WHERE run_id = ? ORDER BY candidate_id", [run_id]
    )


def test_crashed_run_resumes_without_duplicates_or_gaps(tmp_path, monkeypatch):
    path = str(tmp_path / "resume.duckdb")
    params = ScreenParameters(**{**SMALL, "tiers": ["composition", "stability"]}, stability_top_k=3, run_id="crashy", store_path=path)
    monkeypatch.setenv(CRASH_ENV, "2")
    with pytest.raises(SimulatedCrash):
        screen(params)
    store = ResultStore(path)
    half = store.query("SELECT status, (SELECT count(*) FROM candidates) AS n FROM runs").iloc[0]
    assert half["status"] == "running" and half["n"] == 20  # the first two chunks were kept

    monkeypatch.delenv(CRASH_ENV)
    state = screen(params, return_state=True)
    assert state.is_completed()
    resumed = _stored(store, "crashy")
    assert len(resumed) == 40 and resumed["candidate_id"].is_unique and resumed["rank"].notna().all()
    assert store.query("SELECT count(*) AS n FROM stability")["n"].item() == 3
    assert store.query("SELECT status FROM runs")["status"].tolist() == ["completed"]

    # the same screen in one go gives the same table
    fresh = screen(params.model_copy(update={"run_id": "clean"}))
    assert _stored(store, fresh).equals(resumed)


def test_dask_runner_gives_the_same_results(tmp_path):
    path = str(tmp_path / "dask.duckdb")
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):  # compute, do not read the cache
        screen(ScreenParameters(**SMALL, run_id="threads", store_path=path))
        screen(ScreenParameters(**SMALL, run_id="dask", task_runner="dask", max_workers=2, store_path=path))
    store = ResultStore(path)
    a, b = _stored(store, "threads"), _stored(store, "dask")
    assert len(a) == 40 and a.equals(b)


def test_two_runs_at_once_both_complete(tmp_path):
    path = tmp_path / "shared.duckdb"
    procs = []
    for name in ("one", "two"):
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / f"prefect-{name}")}
        env.pop("PREFECT_API_URL", None)
        argv = [sys.executable, "-m", "screening.cli", "--store", str(path), "screen", "--limit", "30", "--chunk-size", "5",
                "--tier", "composition", "--run-id", name]  # fmt: skip
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[-2000:] for o in outputs]
    store = ResultStore(path)
    runs = store.query("SELECT run_id, status, n_candidates FROM runs ORDER BY run_id")
    assert runs.to_dict("records") == [
        {"run_id": "one", "status": "completed", "n_candidates": 30},
        {"run_id": "two", "status": "completed", "n_candidates": 30},
    ]
    counts = store.query("SELECT run_id, count(DISTINCT candidate_id) AS u, count(*) AS n FROM ranked GROUP BY 1 ORDER BY 1")
    assert counts["u"].tolist() == [30, 30] and counts["n"].tolist() == [30, 30]


@pytest.mark.parametrize(
    "bad, where",
    [({"families": []}, "families"), ({"limit": -1}, "limit"), ({"elements": ["Qq"]}, "elements"), ({"tiers": ["md"]}, "tiers")],
)
def test_bad_parameters_refused_before_any_work(bad, where, tmp_path):
    path = tmp_path / "never.duckdb"
    with pytest.raises(ValidationError, match=where):
        ScreenParameters(**bad, store_path=str(path))
    # through the flow: Prefect validates the parameters against the model before the run starts
    with pytest.raises(Exception, match=where):
        screen(params={**bad, "store_path": str(path)})
    assert not path.exists()


def test_parameter_schema_is_a_form_with_descriptions():
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(screen).model_dump()
    fields = schema["definitions"]["ScreenParameters"]["properties"]
    assert {"source", "families", "elements", "limit", "tiers", "weights", "filters", "top_n", "run_id"} <= set(fields)
    assert all(f.get("description") for f in fields.values())
    assert fields["families"]["minItems"] == 1


def test_evaluate_flow_reports_the_cards():
    from flows.evaluate import EvaluateParameters, evaluate

    result = evaluate(EvaluateParameters(rerun=True, tolerance=0.05))
    assert "conductivity_baseline" in result["models"]
    assert result["rerun"]["rows"] > 0 and result["rerun"]["matches_card"]


def test_enumerated_screen_ranks_on_every_objective(tmp_path):
    """Enumerated halides through both tiers: the ranking sees windows, hull and mechanics."""
    path = str(tmp_path / "enum.duckdb")
    params = ScreenParameters(source="enumerated", families=["halide"], limit=30, chunk_size=15, stability_top_k=10,
                              run_id="enum", store_path=path)  # fmt: skip
    screen(params)
    store = ResultStore(path)
    ranked = store.query("SELECT * FROM ranked WHERE run_id = 'enum' ORDER BY rank")
    assert len(ranked) == 30 and ranked["candidate_id"].is_unique
    passed = ranked[ranked["passes_filters"]]
    assert len(passed) == 10  # the stability tier ran on the best 10, and those are ranked
    for col in ("window_width_V", "e_rxn_li_eV_atom", "e_hull_eV_atom", "K_IC_MPa_m05", "cost_usd_per_kg"):
        assert passed[col].notna().all(), col
    assert set(passed["e_hull_source"]) <= {"reference", "predicted"}
    assert (passed["pareto_rank"] >= 1).all() and passed["rank"].tolist() == list(range(1, 11))
    top = store.top(5, run_id="enum")
    assert len(top) == 5 and top["family"].eq("halide").all()


def test_broken_cif_among_the_inputs(tmp_path):
    """A malformed CIF ends as a row whose error names the file; the run completes."""
    from screening.datasets import obelix_cif_text

    (tmp_path / "good.cif").write_text(obelix_cif_text("w87"))  # Li6PS5Br
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n")
    params = ScreenParameters(source="cif", cif_glob=str(tmp_path / "*.cif"), run_id="files",
                              store_path=str(tmp_path / "files.duckdb"))  # fmt: skip
    assert screen(params, return_state=True).is_completed()
    rows = ResultStore(params.store_path).query("SELECT parent, formula, error, passes_filters FROM ranked ORDER BY parent")
    assert rows["parent"].tolist() == ["broken.cif", "good.cif"]
    assert "broken.cif" in rows.loc[0, "error"] and not rows.loc[0, "passes_filters"]
    assert rows.loc[1, "error"] is None and rows.loc[1, "passes_filters"]


def test_run_killed_with_sigkill_resumes(tmp_path):
    """A `screening screen` process killed (SIGKILL) after some chunks are stored; the same run started
    again completes with every candidate exactly once."""
    import signal
    import time

    from flows.screen import PAUSE_ENV

    path = tmp_path / "killed.duckdb"
    argv = [sys.executable, "-m", "screening.cli", "--store", str(path), "screen", "--source", "enumerated", "--family", "halide",
            "--limit", "40", "--chunk-size", "10", "--tier", "composition", "--run-id", "killed"]  # fmt: skip
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), PAUSE_ENV: "3"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    stored = 0
    deadline = time.monotonic() + 240  # a bound on the wait, not a performance claim
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            try:
                stored = ResultStore(path).query("SELECT count(*) AS n FROM candidates")["n"].item()
            except Exception:  # the writer holds the file for a moment
                stored = 0
            if stored >= 10:
                break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    store = ResultStore(path)
    assert store.query("SELECT status FROM runs")["status"].tolist() == ["running"]
    assert 10 <= store.query("SELECT count(*) AS n FROM candidates")["n"].item() < 40

    env.pop(PAUSE_ENV)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert store.query("SELECT status FROM runs")["status"].tolist() == ["completed"]
    rows = store.query("SELECT candidate_id, rank FROM ranked WHERE run_id = 'killed'")
    assert len(rows) == 40 and rows["candidate_id"].is_unique and rows["rank"].notna().all()
