"""The results store: idempotent keyed writes, schema growth, queries, top(), Parquet export."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from screening import store as store_module
from screening import store_schema
from screening.errors import QueryError, StoreError
from screening.store import ResultStore


def test_rewriting_a_chunk_leaves_no_duplicate(small_store):
    frame = pd.DataFrame({"candidate_id": ["c0", "c1"], "log10_sigma_S_cm": [-1.0, -1.5]})
    small_store.write("predictions", "r1", frame)
    small_store.write("predictions", "r1", frame)
    got = small_store.query("SELECT candidate_id, log10_sigma_S_cm FROM predictions WHERE run_id = 'r1' ORDER BY 1")
    assert got["candidate_id"].is_unique and len(got) == 6
    assert got.set_index("candidate_id").loc["c0", "log10_sigma_S_cm"] == -1.0


def test_write_many_is_one_transaction_and_append_mode_skips_the_lookup(small_store):
    tables = {
        "candidates": pd.DataFrame({"candidate_id": ["n0", "n1"], "formula": ["LiCl", "LiBr"]}),
        "predictions": pd.DataFrame({"candidate_id": ["n0", "n1"], "log10_sigma_S_cm": [-6.0, np.inf]}),
    }
    assert small_store.write_many("r2", tables, replace=False) == {"candidates": 2, "predictions": 2}
    got = small_store.query("SELECT c.candidate_id, log10_sigma_S_cm FROM candidates c JOIN predictions USING (run_id, candidate_id) "
                            "WHERE run_id = 'r2' ORDER BY 1")  # fmt: skip
    assert got["candidate_id"].tolist() == ["n0", "n1"] and pd.isna(got["log10_sigma_S_cm"].iloc[1])
    small_store.write_many("r2", tables)  # replace (the default): still one row each
    assert small_store.query("SELECT count(*) AS n FROM predictions WHERE run_id = 'r2'")["n"].item() == 2
    # a table that cannot be written fails the whole call: nothing of it is stored
    with pytest.raises(ValueError, match="no candidate_id"):
        small_store.write_many("r3", {"candidates": tables["candidates"], "predictions": pd.DataFrame({"x": [1.0]})})
    assert small_store.query("SELECT count(*) AS n FROM candidates WHERE run_id = 'r3'")["n"].item() == 0


def test_run_table_reads_only_the_columns_asked_for(small_store):
    whole = small_store.run_table("r1")
    part = small_store.run_table("r1", columns=["log10_sigma_S_cm", "window_width_V", "formula", "family", "not_a_column"])
    assert list(part.columns) == ["candidate_id", "log10_sigma_S_cm", "window_width_V", "formula", "family"]
    assert isinstance(part["family"].dtype, pd.CategoricalDtype)  # few distinct labels: one category each, not a string a row
    pd.testing.assert_frame_equal(part.astype({"family": object}), whole[list(part.columns)])


def test_run_table_has_the_composition_descriptors_the_ranking_reads(small_store):
    """``cost_usd_per_kg`` lives in ``descriptors``: the ranking of a stored run reads it through run_table
    (it was left out of the join, so the cost objective silently dropped out of every flow's ranking)."""
    from screening.pipeline import ranking_columns

    ids = [f"c{i}" for i in range(6)]
    small_store.write("descriptors", "r1", pd.DataFrame({"candidate_id": ids, "cost_usd_per_kg": [10.0, 20, 30, 40, 50, 60]}))
    assert "cost_usd_per_kg" in ranking_columns()
    part = small_store.run_table("r1", columns=ranking_columns())
    assert part["cost_usd_per_kg"].tolist() == [10.0, 20, 30, 40, 50, 60]
    assert small_store.run_table("r1")["cost_usd_per_kg"].notna().all()


def test_a_write_that_runs_out_of_its_memory_limit_is_done_again_without_one(small_store):
    before = small_store.query("SELECT count(*) AS n FROM candidates")["n"].item()
    frame = pd.DataFrame({"candidate_id": [f"m{i}" for i in range(20000)], "formula": ["Li3YCl6"] * 20000, "x": np.arange(20000.0)})
    assert small_store.write_many("r9", {"candidates": frame}, memory_limit="1MB") == {"candidates": 20000}
    assert small_store.query("SELECT count(*) AS n FROM candidates")["n"].item() == before + 20000  # once, not twice


def test_run_table_reads_the_candidates_asked_for_in_any_order_when_unordered(small_store):
    whole = small_store.run_table("r1")
    ids = whole["candidate_id"].tolist()[::2]
    some = small_store.run_table("r1", columns=["formula"], ids=ids)
    assert some["candidate_id"].tolist() == sorted(ids)
    assert small_store.run_table("r1", columns=["formula"], ids=[]).empty
    unordered = small_store.run_table("r1", columns=["formula"], ordered=False)
    assert sorted(unordered["candidate_id"]) == sorted(ids + whole["candidate_id"].tolist()[1::2])


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
    assert len(small_store.top(10, passes_gates=False)) == 6
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
    monkeypatch.setattr(store_schema, "_TOP_ROWS", cached_rows)
    small_store.refresh_top("r1")
    test_top_orders_and_filters(small_store)
    assert small_store.top(10, passes_gates=False)["formula"].tolist()[-1] == "Li3PS4"
    view = list(small_store.query("SELECT * FROM ranked LIMIT 0").columns)
    assert list(small_store.top(2, columns="all").columns) == view
    assert list(small_store.top(2).columns) == [c for c in store_module.TOP_COLUMNS if c in view]


def test_top_follows_later_writes(small_store):
    # a frame of older code, with the deprecated name: stored as passes_gates
    small_store.write("scores", "r1", pd.DataFrame({"candidate_id": ["c5"], "passes_filters": [True], "rank": [0]}))
    assert small_store.top(1)["formula"].tolist() == ["Li3PS4"]
    small_store.write("candidates", "r1", pd.DataFrame({"candidate_id": ["c5"], "formula": ["Li3PS4"], "family": ["halide"]}))
    assert small_store.top(1, family="halide")["formula"].tolist() == ["Li3PS4"]
    small_store.write("predictions", "r1", pd.DataFrame({"candidate_id": ["c5"], "new_col": [7.0]}))
    assert small_store.top(1, columns="all")["new_col"].tolist() == [7.0]


def test_a_store_from_an_older_version_gets_its_cache(small_store):
    with duckdb.connect(str(small_store.path)) as con:
        con.execute("DROP TABLE _top_runs")
        con.execute("DROP TABLE _top_rows")
        con.execute("DROP TABLE meta")  # stores before the schema version had none
    store = ResultStore(small_store.path)
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == [str(store_module.SCHEMA_VERSION)]
    assert store.query("SELECT n_scores FROM _top_runs")["n_scores"].tolist() == [6]
    assert store.top(3)["formula"].tolist() == ["Li7P3S11", "Li6PS5Cl", "Li2ZrCl6"]



@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/root/*')",
        "ATTACH '{tmp}/y.duckdb' AS y",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "EXPORT DATABASE '{tmp}/dump'",
        "SELECT 1; COPY (SELECT 1) TO '{tmp}/two.csv'",
        "SELECT 1; SELECT 2",
        "COPY (SELECT 'x') TO '{store}'",
        "DELETE FROM candidates",
        "CREATE TABLE t AS SELECT 1",
        "",
        "   ",
        "-- only a comment",
        "/* a block comment */",
        "SELEC nonsense",
    ],
)
def test_user_sql_is_refused_and_changes_nothing(snapshot, small_store, tmp_path, sql):
    sql = sql.format(tmp=tmp_path, store=small_store.path)
    before = snapshot(tmp_path)
    with pytest.raises(QueryError):
        small_store.query(sql)
    assert snapshot(tmp_path) == before
    assert small_store.query("SELECT count(*) AS n FROM candidates")["n"].item() == 6


def test_query_takes_parameters_and_one_trailing_semicolon(small_store):
    got = small_store.query("SELECT formula FROM ranked WHERE family = ? ORDER BY rank;", ["halide"])
    assert got["formula"].tolist() == ["Li2ZrCl6", "Li3YCl6", "Li3InCl6"]


def test_reading_never_writes_the_store(snapshot, small_store, tmp_path):
    before = snapshot(tmp_path)
    store = ResultStore(small_store.path, read_only=True)
    store.query("SELECT * FROM ranked")
    store.top(3)
    store.top(3, columns="all")
    store.runs()
    store.latest_run()
    store_module.query("SELECT 1", path=small_store.path)
    store_module.top(1, path=small_store.path)
    ResultStore(small_store.path)  # a writable open of a current store writes nothing either
    assert snapshot(tmp_path) == before


def test_a_read_only_file_and_folder_can_be_read(small_store, tmp_path):
    folder = small_store.path.parent
    small_store.path.chmod(0o444)
    folder.chmod(0o555)
    try:
        store = ResultStore(small_store.path, read_only=True)
        assert store.top(1)["formula"].tolist() == ["Li7P3S11"]
        assert store.runs()["run_id"].tolist() == ["r1"]
        assert len(store.query("SELECT * FROM ranked")) == 6
        out = tmp_path.parent / f"{tmp_path.name}_export"
        assert {p.stem for p in store.export_parquet(out)} == {"runs", *store_module._KEYED_TABLES, "ranked"}
    finally:
        folder.chmod(0o755)
        small_store.path.chmod(0o644)


def test_read_only_open_of_a_missing_store_is_an_error_and_creates_nothing(tmp_path):
    path = tmp_path / "typo" / "nope.duckdb"
    with pytest.raises(StoreError, match="no store at"):
        ResultStore(path, read_only=True)
    assert not path.parent.exists()


def test_a_new_store_has_the_full_ranked_schema(tmp_path):
    store = ResultStore(tmp_path / "new.duckdb")
    view = set(store.query("SELECT * FROM ranked LIMIT 0").columns)
    assert set(store_module.VIEW_COLUMNS) <= view
    assert store.query("SELECT formula, log10_sigma_S_cm, window_low_V FROM ranked ORDER BY rank LIMIT 10").empty
    assert store.top(5).empty


def test_a_store_newer_than_the_code_is_refused(small_store):
    with duckdb.connect(str(small_store.path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(store_module.SCHEMA_VERSION + 1)])
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer than this code"):
            ResultStore(small_store.path, read_only=read_only)


def test_export_path_is_never_spliced_into_sql(small_store, tmp_path):
    target = tmp_path / "injected.txt"
    name = f"x' (FORMAT csv); COPY (SELECT 42) TO '{target}' (FORMAT csv); --"
    small_store.export_parquet(tmp_path / name)
    assert not target.exists()
    assert (tmp_path / name / "ranked.parquet").is_file()


def test_parquet_export_reads_with_pandas(small_store, tmp_path):
    pytest.importorskip("pyarrow")
    small_store.export_parquet(tmp_path / "pq")
    assert len(pd.read_parquet(tmp_path / "pq" / "ranked.parquet")) == 6


def test_top_columns_choice(small_store):
    assert small_store.top(1, columns=["formula", "rank"]).columns.tolist() == ["formula", "rank"]
    with pytest.raises(ValueError, match="not in the ranked view"):
        small_store.top(1, columns=["colour"])


def test_runs_have_parameters_and_timings(small_store):
    small_store.finish_run("r1", timings={"total_s": 1.5})
    run = small_store.runs().iloc[0]
    assert run["parameters"] == {"limit": 6} and run["timings"] == {"total_s": 1.5} and run["duration_s"] >= 0
