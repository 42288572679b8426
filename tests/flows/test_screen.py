"""The Prefect flows: resume after a crash, two runs at once, Dask equals threads, bad parameters refused,
run lifecycle (completed, failed, empty, refused resume), cache keys across processes and data changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
from pydantic import ValidationError

from flows.screen import ScreenParameters, on_chunk_stored, screen
from screening.errors import RunConflictError
from screening.store import ResultStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(limit=40, chunk_size=10, tiers=["composition"])


class SimulatedCrash(RuntimeError):
    """Raised by the test's chunk callback to crash a run."""


def _crash_after(n_chunks: int):
    def callback(index: int, n_stored: int) -> None:
        if index + 1 >= n_chunks:
            raise SimulatedCrash(f"crashing after {n_chunks} chunks")

    return callback


def _timings(store: ResultStore, run_id: str) -> dict:
    return json.loads(store.query("SELECT timings FROM runs WHERE run_id = ?", [run_id])["timings"].item())


def _stored(store: ResultStore, run_id: str):
    return store.query(
        "SELECT candidate_id, formula, log10_sigma_S_cm, rank FROM ranked WHERE run_id = ? ORDER BY candidate_id", [run_id]
    )


def test_crashed_run_resumes_without_duplicates_or_gaps(tmp_path):
    path = str(tmp_path / "resume.duckdb")
    params = ScreenParameters(**{**SMALL, "tiers": ["composition", "stability"]}, stability_top_k=3, run_id="crashy", store_path=path)
    with on_chunk_stored(_crash_after(2)), pytest.raises(SimulatedCrash):
        screen(params)
    store = ResultStore(path)
    half = store.query("SELECT status, error, (SELECT count(*) FROM candidates) AS n FROM runs").iloc[0]
    assert half["status"] == "failed" and "SimulatedCrash" in half["error"]
    assert half["n"] == 20  # the first two chunks were kept

    state = screen(params, return_state=True)
    assert state.is_completed()
    resumed = _stored(store, "crashy")
    assert len(resumed) == 40 and resumed["candidate_id"].is_unique and resumed["rank"].notna().all()
    assert store.query("SELECT count(*) AS n FROM stability")["n"].item() == 3
    assert store.query("SELECT status, error FROM runs").to_dict("records") == [{"status": "completed", "error": None}]
    assert _timings(store, "crashy")["composition_cached_chunks"] >= 2  # the stored chunks were not recomputed

    # the same screen in one go gives the same table
    fresh = screen(params.with_run(run_id="clean"))
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
        argv = [sys.executable, "-m", "flows.cli", "--store", str(path), "screen", "--limit", "30", "--chunk-size", "5",
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
    [({"families": []}, "families"), ({"limit": -1}, "limit"), ({"elements": ["Qq"]}, "elements"), ({"tiers": ["md"]}, "tiers"),
     ({"run": {"max_workers": 0}}, "max_workers")],
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
    assert {"source", "families", "elements", "limit", "tiers", "weights", "filters", "top_n", "run"} <= set(fields)
    assert all(f.get("description") for f in fields.values())
    assert fields["families"]["minItems"] == 1
    # how to run it is one section of the same form
    assert "store_path" not in fields and fields["run"]["description"]
    run_fields = schema["definitions"]["RunOptions"]["properties"]
    assert {"run_id", "store_path", "task_runner", "dask_address", "max_workers", "chunk_size", "reuse_identical",
            "per_prototype"} == set(run_fields)  # fmt: skip
    assert all(f.get("description") for f in run_fields.values())
    # human titles, not the field names pydantic would title-case
    for name, field in {**fields, **run_fields}.items():
        assert field.get("title") and field["title"] != name.replace("_", " ").title(), name


def test_the_form_has_a_weight_field_per_objective_with_its_direction_and_refuses_others():
    from prefect.utilities.callables import parameter_schema

    from screening.ranking import OBJECTIVES, PRESETS

    schema = parameter_schema(screen).model_dump()
    weights = schema["definitions"]["ObjectiveWeights"]
    assert set(weights["properties"]) == set(OBJECTIVES) and weights["additionalProperties"] is False
    for column, field in weights["properties"].items():
        better = "higher is better" if OBJECTIVES[column].direction > 0 else "lower is better"
        assert better in field["title"], column
        # a plain number input (no type toggle), its bounds in allOf where the form's validator reads them
        assert field["type"] == "number" and "anyOf" not in field, column
        assert {"minimum": 0.0}.items() <= field["allOf"][0].items()
    preset = schema["definitions"]["ScreenParameters"]["properties"]["preset"]
    assert set(preset.get("enum") or schema["definitions"][preset["$ref"].split("/")[-1]]["enum"]) == set(PRESETS)
    assert "kappa" in schema["definitions"]["ScreenParameters"]["properties"]


def test_evaluate_flow_reports_the_cards():
    from flows.evaluate import EvaluateParameters, evaluate

    result = evaluate(EvaluateParameters(rerun=True, tolerance=0.05))
    assert {"conductivity", "conductivity_structure"} <= set(result["models"])
    assert result["rerun"]["rows"] > 0 and result["rerun"]["matches_card"]


def test_enumerated_screen_ranks_on_every_objective(tmp_path):
    """Enumerated halides through both tiers: the ranking sees windows, hull and mechanics."""
    path = str(tmp_path / "enum.duckdb")
    params = ScreenParameters(source="enumerated", families=["halide"], limit=30, chunk_size=15, stability_top_k=10,
                              tiers=["composition", "stability"], run_id="enum", store_path=path)  # fmt: skip
    screen(params)
    store = ResultStore(path)
    ranked = store.query("SELECT * FROM ranked WHERE run_id = 'enum' ORDER BY rank")
    assert len(ranked) == 30 and ranked["candidate_id"].is_unique
    passed = ranked[ranked["passes_gates"]]
    stable = ranked[ranked["e_hull_eV_atom"].notna()]
    assert len(stable) == 10  # the stability tier ran on the best 10 ...
    # ... and those inside the gates are ranked; the others failed a gate, not the run
    inside = (stable["e_hull_eV_atom"] <= 0.1) & (stable["log10_sigma_S_cm_hi80"] >= -5.0)
    assert set(passed["candidate_id"]) == set(stable.loc[inside, "candidate_id"]) and len(passed) > 0
    for col in ("window_width_V", "e_rxn_li_eV_atom", "e_hull_eV_atom", "K_IC_MPa_m05", "cost_usd_per_kg"):
        assert passed[col].notna().all(), col
    assert set(passed["e_hull_source"]) <= {"reference", "predicted"}
    assert (passed["pareto_rank"] >= 1).all() and passed["rank"].tolist() == list(range(1, len(passed) + 1))
    top = store.top(5, run_id="enum")
    assert len(top) == min(5, len(passed)) and top["family"].eq("halide").all()
    # each stored model's distance to its training data, the conductivity's in the default top table
    assert top["conductivity_train_distance"].between(0, 2).all()
    for col in ("formation_energy_train_distance", "moduli_train_distance"):
        assert ranked[col].between(0, 2).all(), col


def test_broken_cif_among_the_inputs(tmp_path):
    """A malformed CIF ends as a row whose error names the file; the run completes."""
    from screening.datasets import obelix_cif_text

    (tmp_path / "good.cif").write_text(obelix_cif_text("w87"))  # Li6PS5Br
    (tmp_path / "good_copy.cif").write_text(obelix_cif_text("w87"))  # the same structure again: a row of its own
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n")
    params = ScreenParameters(source="file", cif_glob=str(tmp_path / "*.cif"), tiers=["composition", "stability"], run_id="files",
                              store_path=str(tmp_path / "files.duckdb"))  # fmt: skip
    assert screen(params, return_state=True).is_completed()
    rows = ResultStore(params.store_path).query("SELECT parent, formula, error, passes_gates FROM ranked ORDER BY parent")
    assert rows["parent"].tolist() == ["broken.cif", "good.cif", "good_copy.cif"]
    assert "broken.cif" in rows.loc[0, "error"] and not rows.loc[0, "passes_gates"]
    assert rows.loc[1:, "error"].isna().all() and rows.loc[1:, "passes_gates"].all()


_SLOW_CHUNKS = """
import sys, time
from flows.screen import on_chunk_stored, run_screen
with on_chunk_stored(lambda index, n: time.sleep(float(sys.argv[1]))):
    print("run_id:", run_screen(dict(source="enumerated", families=["halide"], limit=40, chunk_size=10,
                                     tiers=["composition"], run_id="killed", store_path=sys.argv[2])))
"""


def test_run_killed_with_sigkill_resumes_in_a_new_process_from_its_finished_chunks(tmp_path):
    """A screen process killed (SIGKILL) after some chunks are stored; the same run started again in a new
    process (another hash seed, so floats may differ in the last bits) reuses every finished chunk and
    completes with every candidate exactly once."""
    import signal
    import time

    path = tmp_path / "killed.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONHASHSEED": "1"}
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-c", _SLOW_CHUNKS, "3", str(path)]
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
    assert store.query("SELECT status FROM runs")["status"].tolist() == ["running"]  # SIGKILL cannot be caught
    n_stored = store.query("SELECT count(*) AS n FROM candidates")["n"].item()
    assert 10 <= n_stored < 40

    env["PYTHONHASHSEED"] = "2"
    done = subprocess.run([sys.executable, "-c", _SLOW_CHUNKS, "0", str(path)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert store.query("SELECT status FROM runs")["status"].tolist() == ["completed"]
    rows = store.query("SELECT candidate_id, rank FROM ranked WHERE run_id = 'killed'")
    assert len(rows) == 40 and rows["candidate_id"].is_unique and rows["rank"].notna().all()
    assert _timings(store, "killed")["composition_cached_chunks"] >= n_stored // 10


def test_terminated_run_is_marked_failed(tmp_path):
    """SIGTERM (a scheduler stopping the job) ends the run `failed` with the signal, not `running` forever."""
    import signal
    import time

    path = tmp_path / "terminated.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_CHUNKS, "3", str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240  # a bound on the wait, not a performance claim
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if path.exists() and ResultStore(path).query("SELECT count(*) AS n FROM candidates")["n"].item() >= 10:
                break
        except Exception:  # the writer holds the file for a moment
            pass
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be terminated"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) != 0
    run = ResultStore(path).query("SELECT status, error FROM runs").iloc[0]
    assert run["status"] == "failed" and "signal 15" in run["error"]


def test_run_with_no_candidates_completes_empty_and_says_why(tmp_path, monkeypatch):
    from screening.config import get_settings

    path = str(tmp_path / "empty.duckdb")
    monkeypatch.setenv("SCREENING_RESULTS_PATH", path)  # the store when the run options name none
    get_settings.cache_clear()
    try:
        run_id = screen(ScreenParameters(source="enumerated", families=["nitride"], run_id="none"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    store = ResultStore(path)
    run = store.query("SELECT status, n_candidates, note, error FROM runs WHERE run_id = ?", [run_id]).iloc[0]
    assert run["status"] == "completed" and run["n_candidates"] == 0 and run["error"] is None
    assert "No candidates" in run["note"] and "nitride" in run["note"]
    assert store.query("SELECT count(*) AS n FROM ranked WHERE run_id = 'none'")["n"].item() == 0


def test_resuming_with_other_parameters_is_refused(tmp_path):
    path = str(tmp_path / "conflict.duckdb")
    screen(ScreenParameters(**SMALL, run_id="r", store_path=path))
    with pytest.raises(RunConflictError, match=r"run 'r'.*limit: 40 -> 50"):
        screen(ScreenParameters(**{**SMALL, "limit": 50}, run_id="r", store_path=path))
    store = ResultStore(path)
    assert store.query("SELECT status, n_candidates FROM runs").to_dict("records") == [{"status": "completed", "n_candidates": 40}]
    # how it runs may change on resume (another chunk size, more workers)
    assert screen(ScreenParameters(**{**SMALL, "chunk_size": 20}, max_workers=1, run_id="r", store_path=path)) == "r"


def test_composition_only_run_ranks_in_a_store_that_held_a_stability_run(tmp_path):
    path = str(tmp_path / "mixed.duckdb")
    screen(ScreenParameters(limit=10, chunk_size=10, stability_top_k=5, tiers=["composition", "stability", "structure"],
                            run_id="with-stability", store_path=path))  # fmt: skip
    screen(ScreenParameters(**SMALL, run_id="composition-only", store_path=path))
    ranked = ResultStore(path).query("SELECT * FROM ranked WHERE run_id = 'composition-only'")
    assert len(ranked) == 40 and ranked["window_width_V"].isna().all()
    # ranked as if alone: the window and hull gates of the other run do not apply, the conductivity gate does
    expected = ranked["error"].isna() & (ranked["log10_sigma_S_cm_hi80"] >= -5.0)
    assert expected.sum() > 10 and ranked["passes_gates"].tolist() == expected.tolist()
    assert ranked["rank"].notna().all()


def test_a_run_that_fails_is_marked_failed_with_its_error(tmp_path, monkeypatch):
    from screening.pipeline import ranked

    def broken(*args, **kwargs):
        raise RuntimeError("ranking broke")

    monkeypatch.setattr(ranked, "rank_funnel", broken)  # (where rank_run, which the flow calls, finds it)
    path = str(tmp_path / "failed.duckdb")
    state = screen(ScreenParameters(**SMALL, run_id="f", store_path=path), return_state=True)
    assert state.is_failed()
    run = ResultStore(path).query("SELECT status, error, finished_at FROM runs").iloc[0]
    assert run["status"] == "failed" and "RuntimeError: ranking broke" in run["error"] and run["finished_at"] is not None


def test_full_disk_while_writing_the_plot_does_not_fail_a_finished_run(tmp_path, monkeypatch):
    import errno

    from matplotlib.figure import Figure

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", no_space)
    path = str(tmp_path / "full.duckdb")
    state = screen(ScreenParameters(limit=10, chunk_size=10, stability_top_k=5, run_id="full", store_path=path), return_state=True)
    assert state.is_completed()
    assert ResultStore(path).query("SELECT status FROM runs")["status"].tolist() == ["completed"]


def test_changed_dataset_recomputes_and_unchanged_reuses_the_cache(tmp_path, monkeypatch):
    import hashlib
    import shutil
    import uuid

    from screening.config import get_settings

    path = str(tmp_path / "cache.duckdb")
    params = ScreenParameters(limit=10, chunk_size=10, stability_top_k=4, store_path=path)
    screen(params.with_run(run_id="first"))
    screen(params.with_run(run_id="same"))
    store = ResultStore(path)
    assert _timings(store, "same")["composition_cached_chunks"] == 1 and _timings(store, "same")["stability_cached_chunks"] == 1

    data = tmp_path / "datasets"  # the bundled data plus one file, with a regenerated checksum list
    shutil.copytree(get_settings().data_dir, data)
    # content unique to this test run: the Prefect result store outlives the test session, and
    # the same "changed" data in an earlier session would rightly be a cache hit
    (data / "extra.csv").write_text(f"formula,value\nLiCl,1\n# {uuid.uuid4()}\n")
    with open(data / "SHA256SUMS", "a") as sums:
        sums.write(f"{hashlib.sha256((data / 'extra.csv').read_bytes()).hexdigest()}  extra.csv\n")
    monkeypatch.setenv("SCREENING_DATA_DIR", str(data))
    get_settings.cache_clear()
    try:
        screen(params.with_run(run_id="new-data"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    changed = _timings(store, "new-data")
    assert changed["composition_cached_chunks"] == 0 and changed["stability_cached_chunks"] == 0


def test_flow_runs_are_named_after_the_screen(tmp_path):
    from prefect import get_client

    state = screen(ScreenParameters(**SMALL, run_id="named", store_path=str(tmp_path / "n.duckdb")), return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name == "obelix-sulfide+halide+oxide-40-balanced-named"  # source, families, budget, preset, run id
    stored = ResultStore(str(tmp_path / "n.duckdb")).runs().iloc[0]
    assert stored["flow_run_name"] == run.name and stored["flow_run_id"] == str(run.id)
    # without a run id the store's generated one ends the name
    state = screen(ScreenParameters(**SMALL, store_path=str(tmp_path / "n.duckdb")), return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name == f"obelix-sulfide+halide+oxide-40-balanced-{state.result()}"


def test_known_materials_ranked_on_their_measured_conductivity_when_asked(tmp_path):
    path = str(tmp_path / "measured.duckdb")
    screen(ScreenParameters(**SMALL, run_id="model", store_path=path))
    screen(ScreenParameters(**SMALL, run_id="measured", use_measured=True, store_path=path))
    rows = ResultStore(path).query("SELECT run_id, candidate_id, measured_log10_sigma_S_cm, log10_sigma_S_cm, "
                                   "ranked_log10_sigma_S_cm, conductivity_source, rank FROM ranked ORDER BY run_id, candidate_id")
    model, measured = rows[rows["run_id"] == "model"], rows[rows["run_id"] == "measured"]
    assert (model["conductivity_source"] == "composition").all()
    assert model["ranked_log10_sigma_S_cm"].equals(model["log10_sigma_S_cm"])
    known = measured["measured_log10_sigma_S_cm"].notna().to_numpy()
    assert known.sum() >= 30  # OBELiX rows carry their measurement
    assert (measured["conductivity_source"][known] == "measured").all()
    assert (measured["ranked_log10_sigma_S_cm"][known] == measured["measured_log10_sigma_S_cm"][known]).all()
    assert measured["log10_sigma_S_cm"].reset_index(drop=True).equals(model["log10_sigma_S_cm"].reset_index(drop=True))  # prediction kept
    assert measured["rank"].tolist() != model["rank"].tolist()
