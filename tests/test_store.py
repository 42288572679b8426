"""The results store: idempotent keyed writes, schema growth, queries, top(), Parquet export."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from screening import store as store_module
from screening.store import ResultStore


def test_rewriting_a_chunk_leaves_no_duplicate(small_store):
    frame = pd.DataFrame({"candidate_id": ["c0", "c1"], "log10_sigma_S_cm": [-1.0, -1.5]})
    small_store.write("predictions", "r1", frame)
    small_store.write("predictions", "r1", frame)
    got = small_store.query("SELECT candidate_id, log10_sigma_S_cm FROM predictions WHERE run_id = 'r1' ORDER BY 1")
    assert got["candidate_id"].is_unique and len(got) == 6
    assert got.set_index("candidate_id").loc["c0", "log10_sigma_S_cm"] == -1.0


def test_new_columns_are_added_and_appear_in_the_view(small_store):
    small_store.write("descriptors", "r1", pd.DataFrame({"candidate_id": ["c0"], "new_feature_eV": [1.25], "flag": [True]}))
    row = small_store.query("SELECT new_feature_eV, flag FROM ranked WHERE candidate_id = 'c0'")
    assert row.iloc[0].tolist() == [1.25, True]


def test_infinities_are_stored_as_null_and_objects_dropped(small_store):
    small_store.write("descriptors", "r1", pd.DataFrame({"candidate_id": ["c1"], "x": [np.inf], "obj": [object()]}))
    row = small_store.query("SELECT * FROM descriptors WHERE candidate_id = 'c1'")
    assert pd.isna(row["x"].iloc[0]) and "obj" not in row


def test_top_orders_and_filters(small_store):
    assert small_store.top(3)["formula"].tolist() == ["Li7P3S11", "Li6PS5Cl", "Li2ZrCl6"]
    assert small_store.top(10, family="halide")["formula"].tolist() == ["Li2ZrCl6", "Li3YCl6", "Li3InCl6"]
    assert small_store.top(10, min_window_V=2.5)["formula"].tolist() == ["Li2ZrCl6", "Li3YCl6"]
    assert len(small_store.top(10)) == 5  # the failed row does not pass the filters
    assert len(small_store.top(10, passes_filters=False)) == 6
    with pytest.raises(ValueError, match="at least 1"):
        small_store.top(0)


def test_module_level_helpers(small_store):
    df = store_module.query("SELECT count(*) AS n FROM ranked", path=small_store.path)
    assert int(df["n"].iloc[0]) == 6
    assert store_module.top(1, path=small_store.path)["formula"].tolist() == ["Li7P3S11"]


def test_runs_record_provenance(small_store):
    run = small_store.query("SELECT * FROM runs").iloc[0]
    assert run["status"] == "completed" and run["n_candidates"] == 6 and run["n_errors"] == 1
    assert run["code_version"] and "obelix" in run["dataset_checksums"]


def test_parquet_export_round_trips(small_store, tmp_path):
    paths = small_store.export_parquet(tmp_path / "pq")
    names = {p.stem for p in paths}
    assert names >= {"runs", "candidates", "descriptors", "stability", "predictions", "scores", "ranked"}
    ranked = duckdb.sql(f"SELECT * FROM '{tmp_path / 'pq' / 'ranked.parquet'}'").df()
    assert len(ranked) == 6 and ranked["rank"].tolist() == sorted(ranked["rank"])


def test_unknown_table_and_missing_key_are_refused(small_store):
    with pytest.raises(ValueError, match="expected one of"):
        small_store.write("nope", "r1", pd.DataFrame({"candidate_id": ["a"]}))
    with pytest.raises(ValueError, match="no candidate_id"):
        small_store.write("predictions", "r1", pd.DataFrame({"x": [1]}))


_WRITER = """
import sys
import pandas as pd
from screening.store import ResultStore
path, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = ResultStore(path)
s.start_run({}, run_id=run)
for start in range(0, n, 10):
    ids = [f"{run}-{i}" for i in range(start, start + 10)]
    s.write("candidates", run, pd.DataFrame({"candidate_id": ids, "formula": "LiCl"}))
    s.query("SELECT count(*) FROM ranked")
s.finish_run(run)
"""


def test_two_processes_write_at_once(tmp_path):
    path = str(tmp_path / "shared.duckdb")
    ResultStore(path)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, path, run, "200"], stderr=subprocess.PIPE, text=True) for run in "ab"]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    counts = ResultStore(path).query("SELECT run_id, count(*) AS n, count(DISTINCT candidate_id) AS u FROM candidates GROUP BY 1 ORDER BY 1")
    assert counts.to_dict("records") == [{"run_id": "a", "n": 200, "u": 200}, {"run_id": "b", "n": 200, "u": 200}]
    assert ResultStore(path).query("SELECT status FROM runs")["status"].tolist() == ["completed", "completed"]


@pytest.mark.parametrize("cached_rows", [0, 2, 2000])
def test_top_is_the_same_with_or_without_the_cached_prefix(small_store, monkeypatch, cached_rows):
    monkeypatch.setattr(store_module, "_TOP_ROWS", cached_rows)
    small_store.refresh_top("r1")
    test_top_orders_and_filters(small_store)
    assert small_store.top(10, passes_filters=False)["formula"].tolist()[-1] == "Li3PS4"
    assert list(small_store.top(2).columns) == list(small_store.query("SELECT * FROM ranked LIMIT 0").columns)


def test_top_follows_later_writes(small_store):
    small_store.write("scores", "r1", pd.DataFrame({"candidate_id": ["c5"], "passes_filters": [True], "rank": [0]}))
    assert small_store.top(1)["formula"].tolist() == ["Li3PS4"]
    small_store.write("candidates", "r1", pd.DataFrame({"candidate_id": ["c5"], "formula": ["Li3PS4"], "family": ["halide"]}))
    assert small_store.top(1, family="halide")["formula"].tolist() == ["Li3PS4"]
    small_store.write("predictions", "r1", pd.DataFrame({"candidate_id": ["c5"], "new_col": [7.0]}))
    assert small_store.top(1)["new_col"].tolist() == [7.0]


def test_a_store_from_an_older_version_gets_its_cache(small_store):
    with duckdb.connect(str(small_store.path)) as con:
        con.execute("DROP TABLE _top_runs")
        con.execute("DROP TABLE _top_rows")
    store = ResultStore(small_store.path)
    assert store.query("SELECT n_scores FROM _top_runs")["n_scores"].tolist() == [6]
    assert store.top(3)["formula"].tolist() == ["Li7P3S11", "Li6PS5Cl", "Li2ZrCl6"]
