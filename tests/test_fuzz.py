"""Fuzzing the public API with hypothesis (seeded, about a minute in all).

Formulas (``composition_table``, ``predict``), CIF text (``read_structure``,
``describe_table``), ranking weights and filters (``rank``) and SQL strings
(``ResultStore.query``). What must hold for every generated input:

* no exception escapes other than the project's own (:class:`ScreeningError` subclasses);
* a batch keeps one row per input, and the known-good rows in it keep their numbers;
* no file outside the test's temporary folders changes (the repository included).

Known defects found here in other parts of the code are marked ``xfail`` with the reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.errors import QueryError, ScreeningError

REPO = Path(__file__).resolve().parents[1]
SEED_CIF = REPO / "seeds" / "Li3YCl6_P-3m1.cif"

# derandomize: the same examples every run; no example database written into the repository
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

ELEMENTS = ["Li", "Na", "Y", "In", "Zr", "Cl", "Br", "I", "S", "P", "O", "N", "F", "La", "Ti", "Ge", "Al", "Xx", "Q", "H", "He"]

# a formula-like string: element symbols with optional counts, plus noise
formula_parts = st.tuples(st.sampled_from(ELEMENTS), st.one_of(st.just(""), st.integers(0, 60).map(str), st.sampled_from(
    ["0.5", "1e3", "-1", "nan", "inf", "(", ")", "1/2", ".", "  "])))  # fmt: skip
formulas = st.one_of(
    st.lists(formula_parts, min_size=0, max_size=6).map(lambda parts: "".join(e + n for e, n in parts)),
    st.text(max_size=20),
)

GOOD = "Li3YCl6"

_IGNORED = {".git", ".prefect", ".hypothesis", "results", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv", "node_modules"}


def _repo_snapshot() -> dict[Path, tuple[int, int]]:
    snap = {}
    for path in REPO.rglob("*"):
        if any(part in _IGNORED for part in path.relative_to(REPO).parts):
            continue
        if path.is_file():
            stat = path.stat()
            snap[path] = (stat.st_mtime_ns, stat.st_size)
    return snap


@pytest.fixture(scope="module", autouse=True)
def repository_unchanged():
    """No file of the repository (outside results/ and caches) changes while the fuzz tests run."""
    before = _repo_snapshot()
    yield
    after = _repo_snapshot()
    changed = sorted(str(p.relative_to(REPO)) for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"fuzzing changed files in the repository: {changed[:10]}"


# ------------------------------------------------------------------ formulas


@settings(FUZZ, max_examples=150)
@given(batch=st.lists(formulas, max_size=5))
def test_composition_table_keeps_every_row(batch):
    from screening.descriptors.composition import composition_table

    table = composition_table([GOOD, *batch])
    assert len(table) == len(batch) + 1
    assert table["error"].iloc[0] is None
    assert table["formula"].tolist()[1:] == batch
    bad = table["error"].notna()
    assert all(isinstance(e, str) and e for e in table.loc[bad, "error"])


@settings(FUZZ, max_examples=12)
@given(batch=st.lists(st.one_of(formulas, st.none(), st.integers(-3, 3)), min_size=1, max_size=3))
def test_predict_keeps_every_row(batch):
    import screening

    frame = screening.predict([GOOD, *batch], stability=False)
    assert len(frame) == len(batch) + 1
    first = frame.iloc[0]
    assert first["error"] is None and math.isfinite(first["log10_sigma_S_cm"])
    assert first["log10_sigma_S_cm_lo80"] <= first["log10_sigma_S_cm"] <= first["log10_sigma_S_cm_hi80"]


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param(["Xx2"]),
        pytest.param([None]),
        pytest.param([]),
    ],
)
def test_predict_all_bad_or_empty_batch_returns_a_frame(batch):
    import screening

    frame = screening.predict(batch)
    assert len(frame) == len(batch) and frame["error"].notna().all()


# ------------------------------------------------------------------ CIF text

_seed_lines = SEED_CIF.read_text().splitlines()


@st.composite
def cif_texts(draw):
    """The seed CIF with lines dropped, numbers replaced, truncated, or random text."""
    kind = draw(st.sampled_from(["drop", "number", "truncate", "random"]))
    lines = list(_seed_lines)
    if kind == "drop":
        for index in sorted(draw(st.sets(st.integers(0, len(lines) - 1), max_size=8)), reverse=True):
            del lines[index]
    elif kind == "number":
        for _ in range(draw(st.integers(1, 4))):
            index = draw(st.integers(0, len(lines) - 1))
            words = lines[index].split()
            if words:
                words[-1] = draw(st.sampled_from(["-1", "0", "nan", "1e9", "abc", "-0.5", "2.0", "?", "."]))
                lines[index] = " ".join(words)
    elif kind == "truncate":
        lines = lines[: draw(st.integers(0, len(lines)))]
    else:
        return draw(st.text(max_size=200))
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=40)
@given(text=cif_texts())
def test_read_structure_raises_only_structure_errors(text, tmp_path):
    from screening.structures import read_structure

    path = tmp_path / "fuzz.cif"
    path.write_text(text)
    try:
        structure = read_structure(path)
    except ScreeningError:
        return
    assert len(structure) > 0


@settings(FUZZ, max_examples=12)
@given(text=cif_texts())
def test_describe_table_keeps_every_file(text, tmp_path):
    from screening.descriptors import describe_table

    path = tmp_path / "fuzz.cif"
    path.write_text(text)
    table = describe_table([str(SEED_CIF), str(path)], pbar=False)
    assert len(table) == 2 and table["error"].iloc[0] is None


# ------------------------------------------------------------- weights, filters

OBJECTIVES = ["log10_sigma_S_cm", "window_width_V", "window_low_V", "e_rxn_li_eV_atom", "K_IC_MPa_m05", "cost_usd_per_kg"]


def _table(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.normal(size=n) for c in OBJECTIVES})
    table.loc[3, "window_width_V"] = np.nan
    table["candidate_id"] = [f"c{i}" for i in range(n)]
    return table


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
bound = st.one_of(st.none(), st.floats(min_value=-10, max_value=10, allow_nan=False))


@settings(FUZZ, max_examples=100)
@given(
    weights=st.dictionaries(st.sampled_from(OBJECTIVES), finite, max_size=6),
    filters=st.dictionaries(st.sampled_from(OBJECTIVES), st.tuples(bound, bound), max_size=3),
    kappa=st.floats(0, 5),
)
def test_rank_keeps_every_row_for_valid_weights_and_filters(weights, filters, kappa):
    from screening.ranking import rank

    filters = {k: (lo, hi) if lo is None or hi is None or lo <= hi else (hi, lo) for k, (lo, hi) in filters.items()}
    if weights and not any(weights.values()):  # every weight 0: refused with a message, the table untouched
        with pytest.raises(ScreeningError, match="every weight is 0"):
            rank(_table(), weights=weights, filters=filters, kappa=kappa)
        return
    ranked = rank(_table(), weights=weights, filters=filters, kappa=kappa)
    assert sorted(ranked["candidate_id"]) == sorted(_table()["candidate_id"])
    assert ranked["rank"].tolist() == sorted(ranked["rank"])


@settings(FUZZ, max_examples=60)
@given(
    weights=st.dictionaries(st.one_of(st.sampled_from(OBJECTIVES), st.text(max_size=8)), st.floats(), max_size=4),
    filters=st.dictionaries(st.one_of(st.sampled_from(OBJECTIVES), st.text(max_size=8)), st.tuples(st.floats(), st.floats()), max_size=3),
)
def test_rank_raises_only_screening_errors(weights, filters):
    """Any weights and filters: a ranking of every row, or a ScreeningError that names the offending key."""
    from screening.ranking import rank

    table = _table()
    try:
        ranked = rank(table, weights=weights, filters=filters)
    except ScreeningError as exc:
        assert any(repr(k) in str(exc) for k in [*weights, *filters]), str(exc)
    else:
        assert sorted(ranked["candidate_id"]) == sorted(table["candidate_id"])
        assert ranked["rank"].tolist() == sorted(ranked["rank"])
        assert ranked.loc[ranked["passes_gates"], "score"].notna().all()


# ------------------------------------------------------------------------ SQL

SQL_PIECES = [
    "SELECT", "*", "formula", "FROM", "ranked", "candidates", "runs", "WHERE", "1=1", ";", "--", "/*", "*/", "'", '"',
    "COPY", "(SELECT 1)", "TO", "'{tmp}/out.csv'", "read_csv('/etc/passwd')", "read_text('/etc/hostname')", "glob('/*')",
    "ATTACH", "'{tmp}/other.duckdb'", "AS", "x", "INSTALL", "httpfs", "LOAD", "SET", "enable_external_access", "=", "true",
    "EXPORT DATABASE", "'{tmp}/dump'", "DELETE", "DROP TABLE", "CREATE TABLE t AS", "PRAGMA", "CALL", "EXPLAIN", "LIMIT 1",
    "UNION ALL", "VALUES (1)", "(", ")", ",", "$1", "?", "'https://example.invalid/x.csv'", "checkpoint", "\n",
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    from screening.store import ResultStore

    store = ResultStore(tmp_path_factory.mktemp("fuzz_store") / "s.duckdb")
    run = store.start_run({}, run_id="r1")
    store.write("candidates", run, pd.DataFrame({"candidate_id": ["a", "b"], "formula": ["LiCl", "Li3YCl6"]}))
    store.write("scores", run, pd.DataFrame({"candidate_id": ["a", "b"], "passes_gates": [True, True], "rank": [2, 1]}))
    store.finish_run(run)
    return store



@settings(FUZZ, max_examples=300)
@given(pieces=st.lists(st.sampled_from(SQL_PIECES), max_size=12), noise=st.text(max_size=10))
def test_query_raises_only_query_errors_and_writes_nothing(snapshot, fuzz_store, pieces, noise):
    tmp = fuzz_store.path.parent
    sql = " ".join(pieces).replace("{tmp}", str(tmp)) + noise
    before = snapshot(tmp)
    try:
        fuzz_store.query(sql)
    except QueryError:
        pass
    assert snapshot(tmp) == before
    assert fuzz_store.query("SELECT count(*) AS n FROM candidates")["n"].item() == 2
