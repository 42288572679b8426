"""The walking skeleton end to end: candidates with a broken CIF, descriptors, model, ranking, store."""

import pytest

from screening import pipeline
from screening.datasets import obelix_cif_text
from screening.ranking import rank
from screening.store import ResultStore


@pytest.fixture
def cif_dir(tmp_path):
    (tmp_path / "good.cif").write_text(obelix_cif_text(pipeline.obelix_candidates(with_structures=False)["parent"][0]))
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 5.0\nthis is not a CIF loop\n")
    (tmp_path / "empty.cif").write_text("")
    return tmp_path


def test_broken_cif_becomes_an_error_row(cif_dir):
    cands = pipeline.cif_candidates(sorted(cif_dir.glob("*.cif")))
    by_file = cands.set_index("parent")
    assert by_file.loc["good.cif", "error"] is None
    assert "broken.cif" in by_file.loc["broken.cif", "error"]
    assert "empty.cif" in by_file.loc["empty.cif", "error"]
    assert cands["candidate_id"].is_unique


def test_pipeline_end_to_end(cif_dir, tmp_path):
    cands = pipeline.cif_candidates(sorted(cif_dir.glob("*.cif")))
    comp = pipeline.describe_compositions(cands)
    stab = pipeline.describe_stability(cands)
    pred = pipeline.predict_properties(cands)
    errors = pipeline.merge_errors(cands, comp, stab)
    table = cands.drop(columns=["structure"]).assign(error=errors).merge(stab.drop(columns="error"), on="candidate_id")
    table = table.merge(pred, on="candidate_id")
    ranked = rank(table)
    good = ranked[ranked["parent"] == "good.cif"].iloc[0]
    assert good["passes_gates"] and good["rank"] == 1
    assert -15 < good["log10_sigma_S_cm"] < 0 and good["log10_sigma_S_cm_std"] > 0
    bad = ranked[ranked["parent"] == "broken.cif"].iloc[0]
    assert not bad["passes_gates"] and "broken.cif" in bad["error"]

    store = ResultStore(tmp_path / "store.duckdb")
    run = store.start_run({"test": True})
    store.write("candidates", run, table[["candidate_id", "formula", "source", "parent", "error"]])
    store.write("predictions", run, pred)
    store.write("scores", run, ranked[["candidate_id", "passes_gates", "pareto_rank", "score", "rank"]])
    store.finish_run(run)
    top = store.top(5)
    assert list(top["parent"]) == ["good.cif"]
    runs = store.query("SELECT status, n_candidates, n_errors FROM runs")
    assert runs.iloc[0].tolist() == ["completed", 3, 2]

