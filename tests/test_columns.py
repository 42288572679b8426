"""The column registry (screening.columns) is the one definition: store schema, view, top, predict, report, glossary."""

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from screening import columns, ranking, store_schema
from screening.pipeline import score_table
from screening.pipeline.report import TOP_TABLE
from screening.pipeline.sources import CANDIDATE_COLUMNS
from screening.store import ResultStore
from screening.surrogates import PREDICT_COLUMNS

README = Path(__file__).resolve().parents[1] / "README.md"


def _types(store: ResultStore, table: str) -> dict[str, str]:
    frame = store.query(f"DESCRIBE {table}")
    return dict(zip(frame["column_name"], frame["column_type"]))


def test_the_lists_come_from_the_registry():
    assert list(PREDICT_COLUMNS) == list(columns.PREDICT_COLUMNS)
    assert list(store_schema.TOP_COLUMNS) == list(columns.TOP_COLUMNS)
    assert store_schema.VIEW_COLUMNS == columns.sql_types()
    assert list(CANDIDATE_COLUMNS) == columns.names("candidates")
    assert set(TOP_TABLE) == set(columns.REPORT_COLUMNS)
    assert columns.filterable() <= ranking.KNOWN_COLUMNS
    assert "passes_filters" not in columns.SCORE_COLUMNS and {"gate_failed", "monroe_newman_pass"} <= set(columns.SCORE_COLUMNS)


def test_every_registered_column_exists_with_its_type_in_a_fresh_store(tmp_path):
    store = ResultStore(tmp_path / "fresh.duckdb")
    for table in set(columns.TIER_TABLES.values()):
        have = _types(store, table)
        wrong = {n: (t, have.get(n)) for n, t in columns.table_columns(table).items() if have.get(n) != t}
        assert not wrong, (table, wrong)
    view = _types(store, "ranked")
    wrong = {n: (t, view.get(n)) for n, t in columns.sql_types().items() if view.get(n) != t}
    assert not wrong
    assert view["passes_filters"] == "BOOLEAN"  # the deprecated alias, for old SQL
    # the columns issue 25 found missing: queryable before any run wrote them
    assert store.query("SELECT gate_failed, monroe_newman_pass, mlip_log10_sigma_S_cm, e_hull_clipped FROM ranked").empty


def test_every_name_in_the_readme_glossary_is_a_column_of_a_fresh_store(tmp_path):
    block = README.read_text().split(columns.GLOSSARY_BEGIN)[1].split(columns.GLOSSARY_END)[0]
    documented = re.findall(r"^\| `([^`]+)` \|", block, flags=re.M)
    assert len(documented) == len(columns.COLUMNS)
    view = set(_types(ResultStore(tmp_path / "g.duckdb"), "ranked"))
    missing = [n for n in documented if n not in view and not columns.get(n).pattern]
    assert not missing


def test_the_readme_glossary_is_current(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text(README.read_text())
    assert not columns.write_glossary(copy), "README glossary is stale: run `python -m screening.columns`"
    copy.write_text(copy.read_text().replace("| `formula` |", "| `formula_old` |"))
    assert columns.write_glossary(copy) and "`formula_old`" not in copy.read_text()


def test_the_ranking_stores_its_verdict_columns_and_they_are_queryable(tmp_path):
    table = pd.DataFrame({
        "candidate_id": ["a", "b", "c"], "formula": ["Li3PS4", "Li3InCl6", "Li2O"],
        columns.SIGMA: [-3.0, -4.0, -9.0], columns.SIGMA_HI80: [-2.0, -3.0, -8.0], columns.E_HULL: [0.0, 0.3, 0.0],
        "window_width_V": [1.0, 2.0, 3.0], "G_over_G_Li": [3.0, 1.0, np.nan],
    })  # fmt: skip
    store = ResultStore(tmp_path / "r.duckdb")
    run = store.start_run({})
    store.write("candidates", run, table[["candidate_id", "formula"]])
    store.write("scores", run, score_table(ranking.rank(table, weights={columns.SIGMA: 1.0})))
    got = store.query("SELECT candidate_id, passes_gates, passes_filters, gate_failed, monroe_newman_pass FROM ranked "
                      "ORDER BY candidate_id").set_index("candidate_id")  # fmt: skip
    assert got.loc["b", "gate_failed"] == columns.E_HULL and not got.loc["b", "passes_gates"]
    assert (got["passes_gates"] == got["passes_filters"]).all()
    assert got["monroe_newman_pass"].tolist()[:2] == [True, False] and pd.isna(got.loc["c", "monroe_newman_pass"])
    assert _types(store, "scores")["gate_failed"] == "VARCHAR"


def test_e_hull_clipped_is_boolean_in_the_store_and_its_parquet(tmp_path):
    store = ResultStore(tmp_path / "b.duckdb")
    run = store.start_run({})
    store.write("candidates", run, pd.DataFrame({"candidate_id": ["a", "b", "c"]}))
    clipped = pd.DataFrame({"candidate_id": ["a", "b", "c"], "e_hull_clipped": pd.array([True, False, None], dtype="boolean")})
    store.write("stability", run, clipped)
    assert _types(store, "stability")["e_hull_clipped"] == "BOOLEAN"
    store.export_parquet(tmp_path / "out")
    import pyarrow.parquet as pq

    assert str(pq.read_schema(tmp_path / "out" / "ranked.parquet").field("e_hull_clipped").type) == "bool"
    frame = pd.read_parquet(tmp_path / "out" / "ranked.parquet", dtype_backend="numpy_nullable")
    assert pd.api.types.is_bool_dtype(frame["e_hull_clipped"])
    # the mean issue 25 could not take (the strings 'true'/'false'), also with pandas' default dtypes
    assert frame["e_hull_clipped"].mean() == pytest.approx(0.5)
    assert pd.read_parquet(tmp_path / "out" / "ranked.parquet")["e_hull_clipped"].mean() == pytest.approx(0.5)


def test_the_stability_table_gives_e_hull_clipped_as_booleans():
    from screening.descriptors.stability import stability_table

    table = stability_table(["Li3PS4", "Li2O"], np.array([-1.2, -2.1]), np.array([0.05, 0.05]))
    assert pd.api.types.is_bool_dtype(table["e_hull_clipped"])


def _old_store(path: Path) -> None:
    """A store as schema 6 wrote it: ``scores.passes_filters``, ``e_hull_clipped`` as text, no registered empty columns."""
    with duckdb.connect(str(path)) as con:
        con.execute(store_schema._RUNS_DDL)
        con.execute("ALTER TABLE runs ADD COLUMN claim_owner VARCHAR")
        con.execute("ALTER TABLE runs ADD COLUMN claimed_at TIMESTAMP")
        con.execute("INSERT INTO runs (run_id, flow, status, started_at, parameters) "
                    "VALUES ('old', 'screen', 'completed', now()::TIMESTAMP, '{}')")  # fmt: skip
        con.execute("CREATE TABLE candidates (run_id VARCHAR, candidate_id VARCHAR, formula VARCHAR, family VARCHAR, error VARCHAR)")
        con.execute("INSERT INTO candidates VALUES ('old', 'a', 'Li3PS4', 'sulfide', NULL), ('old', 'b', 'Li2O', 'oxide', NULL)")
        for table in ("descriptors", "predictions", "simulation"):
            con.execute(f"CREATE TABLE {table} (run_id VARCHAR, candidate_id VARCHAR)")
        con.execute("CREATE TABLE stability (run_id VARCHAR, candidate_id VARCHAR, e_hull_clipped VARCHAR, window_low_V DOUBLE)")
        con.execute("INSERT INTO stability VALUES ('old', 'a', 'true', 1.5), ('old', 'b', 'false', 0.0)")
        con.execute("CREATE TABLE scores (run_id VARCHAR, candidate_id VARCHAR, passes_filters BOOLEAN, pareto_rank INTEGER, "
                    "score DOUBLE, rank INTEGER)")  # fmt: skip
        con.execute("INSERT INTO scores VALUES ('old', 'a', true, 1, 0.9, 1), ('old', 'b', false, 0, NULL, 2)")
        con.execute("CREATE VIEW ranked AS SELECT * FROM candidates c LEFT JOIN scores s USING (run_id, candidate_id)")
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO meta VALUES ('schema_version', '6')")


def test_a_store_of_schema_6_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    _old_store(path)
    store = ResultStore(path)
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == [str(store_schema.SCHEMA_VERSION)]
    scores = _types(store, "scores")
    assert "passes_filters" not in scores and scores["passes_gates"] == "BOOLEAN" and "gate_failed" in scores
    assert _types(store, "stability")["e_hull_clipped"] == "BOOLEAN"
    rows = store.query("SELECT candidate_id, formula, passes_gates, passes_filters, e_hull_clipped, window_low_V, rank, mlip_Ea_eV "
                       "FROM ranked ORDER BY candidate_id")  # fmt: skip
    assert rows["formula"].tolist() == ["Li3PS4", "Li2O"] and rows["rank"].tolist() == [1, 2]
    assert rows["passes_gates"].tolist() == [True, False] == rows["passes_filters"].tolist()
    assert rows["e_hull_clipped"].tolist() == [True, False] and rows["window_low_V"].tolist() == [1.5, 0.0]
    assert rows["mlip_Ea_eV"].isna().all()
    assert store.top(5)["formula"].tolist() == ["Li3PS4"]  # passes_gates only, from the rebuilt cache
    assert store.top(5, passes_gates=False)["formula"].tolist() == ["Li3PS4", "Li2O"]
    ResultStore(path)  # opening again: nothing left to do
    assert len(store.query("SELECT * FROM scores")) == 2


def test_a_read_only_open_of_an_old_store_upgrades_it_once(tmp_path):
    path = tmp_path / "old.duckdb"
    _old_store(path)
    frame = ResultStore(path, read_only=True).top(5)
    assert frame["formula"].tolist() == ["Li3PS4"]


def test_a_column_registered_later_is_created_without_a_version_bump(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    ResultStore(path)
    extra = columns.Column("new_thing_eV", "DOUBLE", "eV", "stability", "a column added to the registry later")
    monkeypatch.setitem(columns.COLUMNS, extra.name, extra)
    monkeypatch.setattr(store_schema, "VIEW_COLUMNS", columns.sql_types())
    store = ResultStore(path)
    assert _types(store, "stability")["new_thing_eV"] == "DOUBLE" and "new_thing_eV" in _types(store, "ranked")


def test_row_errors_have_one_name_a_tier():
    frame = pd.DataFrame({"candidate_id": ["a"], "error": ["bad formula"]})
    assert list(columns.tier_errors(frame, "stability").columns) == ["candidate_id", "stability_error"]
    assert columns.error_column("candidates") == "error" and columns.error_column("simulation") == "simulation_error"
    with pytest.raises(ValueError, match="tier='nope'"):
        columns.error_column("nope")
    for tier in ("prediction", "stability", "structure", "simulation"):
        assert columns.get(columns.error_column(tier)).tier == tier


def test_unknown_column_is_an_error_naming_it():
    with pytest.raises(KeyError, match="no_such_column"):
        columns.get("no_such_column")


def test_top_columns_choices_are_the_registry(small_store, capsys):
    from screening.cli import main

    assert main(["--store", str(small_store.path), "top", "--columns", "gate_failed,monroe_newman_pass", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "gate_failed" in header and "monroe_newman_pass" in header  # registered: there before a run wrote them
    assert main(["--store", str(small_store.path), "top", "--columns", "window_with_V"]) == 2
    err = capsys.readouterr().err
    assert "window_with_V" in err and "window_width_V" in err  # the nearest registered name


def test_each_tier_writes_its_registered_columns_into_its_own_table():
    """A column written to another table than its tier's would read NULL in the view (the registered one comes first)."""
    from screening.pipeline import tiers

    candidates = pd.DataFrame({"candidate_id": ["a", "b"], "formula": ["Li6PS5Cl", "Xx2O"], "source": "enumerated"})
    tables = tiers.composition_tier(candidates)
    tables["stability"] = tiers.stability_tier(tables["candidates"].merge(tables["predictions"], on="candidate_id"))
    for table, frame in tables.items():
        names = [c for c in frame.columns if c not in ("candidate_id",) and not c.startswith("MagpieData")]
        assert not [c for c in names if c not in columns.COLUMNS], table  # every stored column registered
        assert not {c: columns.get(c).table for c in names if columns.get(c).table != table}, table
    assert tables["stability"]["stability_error"].notna().tolist() == [False, True]  # the one rename of row errors
