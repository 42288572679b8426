"""The store's schema: tables, the ``ranked`` view and its cached best rows, and how a frame is made storable.

Module-level SQL helpers of :mod:`screening.store` (which re-exports the public names):
the schema version and its migrations, the ``ranked`` view's select, the rebuild of the
``_top_rows`` cache inside a write's transaction, and the preparation of a DataFrame for a
keyed table (``run_id``, no objects, no infinities, deprecated names renamed).

The tables' columns come from :mod:`screening.columns`: a store has every registered
column, with its type, in its tier's table from its creation (:func:`registered_columns`),
so the ``ranked`` view has each of them before any run wrote it; a column a run writes that
is not registered (a Magpie statistic, an MD temperature's ``mlip_*_<T>K``) is added when
first written, with the type of its values. Migrations are a versioned list
(:data:`MIGRATIONS`, the version in ``meta.schema_version``), applied in one transaction
when a store of an older version is opened for writing; ``meta.columns`` records the
registry's digest, so a column registered since is created without a version bump.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from screening import columns
from screening._version import __version__
from screening.errors import StoreError, UnknownValueError
from screening.run_scope import LATEST_VIEW_SQL

#: version of the store's tables and view; bump it with a step in :data:`MIGRATIONS` (the ``meta`` table records it)
SCHEMA_VERSION = 7

#: columns the ``ranked`` view always has (NULL until a run writes them), with their SQL types: every registered column
VIEW_COLUMNS = columns.sql_types()

#: the columns :meth:`ResultStore.top` returns by default (those the view has), in this order
TOP_COLUMNS = list(columns.TOP_COLUMNS)

#: deprecated names the ``ranked`` view keeps for users' SQL: old name -> the column it reads
VIEW_ALIASES = columns.deprecated_names()


_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    flow VARCHAR,
    status VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    parameters JSON,
    code_version VARCHAR,
    git_commit VARCHAR,
    model_versions JSON,
    dataset_checksums JSON,
    timings JSON,
    n_candidates INTEGER,
    n_errors INTEGER,
    flow_run_id VARCHAR,
    flow_run_name VARCHAR
)
"""

#: columns added to ``runs`` after its first version (a store written by an older version gets them)
_RUNS_ADDED = {"flow_run_id": "VARCHAR", "flow_run_name": "VARCHAR"}

#: the tables keyed by ``(run_id, candidate_id)``: one a tier (:data:`screening.columns.TIER_TABLES`)
_KEYED_TABLES = ("candidates", "descriptors", "stability", "predictions", "structure", "simulation", "scores")

#: text columns with few distinct values that run_table(columns=...) returns as categoricals
_CATEGORICAL = ("family", "source", "prototype", "parent", "e_hull_source", "window_source")

# rows of each run kept in rank order in _top_rows; top(n) with n (matching rows) within
# this prefix reads only _top_rows, anything else falls back to the wide tables
_TOP_ROWS = 2000
_ORDER = "ORDER BY rank NULLS LAST, candidate_id"


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(series):
        return "BIGINT"
    if pd.api.types.is_float_dtype(series):
        return "DOUBLE"
    return "VARCHAR"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The store's schema version (0 before the ``meta`` table); a StoreError when newer than the code."""
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'meta'").fetchone():
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    stored = row[0] if row else 0
    try:
        version = int(stored)
    except (TypeError, ValueError):
        raise StoreError(f"{path}: meta.schema_version {stored!r} is not an integer: not a store this code wrote") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: store schema version {version} is newer than this code's ({SCHEMA_VERSION}, screening "
            f"{__version__}): upgrade screening to read it"
        )
    return version


# ---------------------------------------------------------------- creation and migrations


def _table_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> SQL type of a table."""
    return {name: sql_type for name, sql_type, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def _v6_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Versions 1-6 (before the column registry): ``runs`` with its added columns, the keyed tables, the top-rows run list."""
    con.execute(_RUNS_DDL)
    for column, sql_type in _RUNS_ADDED.items():
        con.execute(f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {column} {sql_type}")
    for table in _KEYED_TABLES:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (run_id VARCHAR, candidate_id VARCHAR)")
    con.execute("CREATE TABLE IF NOT EXISTS _top_runs (run_id VARCHAR, n_scores BIGINT)")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")


def _v7_registry(con: duckdb.DuckDBPyConnection) -> None:
    """Version 7: ``scores.passes_filters`` renamed ``passes_gates`` (the view keeps the old name as an alias), every
    registered column created (:func:`registered_columns`) with the new ``structure`` table, the top-rows cache rebuilt
    with the new view's columns."""
    for table in _KEYED_TABLES:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (run_id VARCHAR, candidate_id VARCHAR)")
    have = _table_types(con, "scores")
    if "passes_filters" in have and "passes_gates" in have:
        con.execute("UPDATE scores SET passes_gates = coalesce(passes_gates, passes_filters)")
        con.execute("ALTER TABLE scores DROP COLUMN passes_filters")
    elif "passes_filters" in have:
        con.execute("ALTER TABLE scores RENAME COLUMN passes_filters TO passes_gates")
    registered_columns(con)
    con.execute("DROP TABLE IF EXISTS _top_rows")  # refresh_view makes it again with the view's columns
    con.execute("CREATE OR REPLACE TABLE _top_runs (run_id VARCHAR, n_scores BIGINT)")


#: the store's schema versions: (version, step). A store at version ``v`` gets every step above ``v``, in order, in one
#: transaction, when it is next opened for writing. Add a step (and bump :data:`SCHEMA_VERSION`) for a change that
#: :func:`registered_columns` cannot make alone: a rename, a dropped or retyped column, a new table.
MIGRATIONS = ((6, _v6_tables), (7, _v7_registry))
assert MIGRATIONS[-1][0] == SCHEMA_VERSION


def registered_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every registered column (:func:`screening.columns.table_columns`) its table lacks, with its SQL type.

    A registered column an older version stored as text (``e_hull_clipped`` as 'true'/'false', a column of NULLs) is
    converted to its type (values that do not convert become NULL). Returns the ``table.column`` names changed.
    """
    changed = []
    for table in _KEYED_TABLES:
        have = _table_types(con, table)
        for name, sql_type in columns.table_columns(table).items():
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(name)} {sql_type}")
            elif have[name] == "VARCHAR" and sql_type != "VARCHAR":
                con.execute(f"ALTER TABLE {table} ALTER COLUMN {_quote(name)} SET DATA TYPE {sql_type} "
                            f"USING TRY_CAST({_quote(name)} AS {sql_type})")  # fmt: skip
            else:
                continue
            changed.append(f"{table}.{name}")
    return changed


def registry_fingerprint() -> str:
    """A digest of the registered columns and types: a store whose ``meta.columns`` differs gets the new ones."""
    import hashlib

    return hashlib.sha256(json.dumps(sorted(VIEW_COLUMNS.items())).encode()).hexdigest()[:16]


def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def is_current(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """Whether the store has this code's schema version and registered columns (a StoreError when it is newer)."""
    return _schema_version(con, path) == SCHEMA_VERSION and _meta(con, "columns") == registry_fingerprint()


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Bring the store to :data:`SCHEMA_VERSION` with the registered columns, in one transaction; returns the old version."""
    version = _schema_version(con, path)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DROP VIEW IF EXISTS ranked_latest")  # (made again below: a view over a table being altered)
        con.execute("DROP VIEW IF EXISTS ranked")
        for target, step in MIGRATIONS:
            if version < target:
                step(con)
        registered_columns(con)  # a column registered since (no version bump needed)
        cached = {r[0] for r in con.execute("SELECT run_id FROM _top_runs").fetchall()}
        refresh_view(con)
        for (run,) in con.execute("SELECT DISTINCT run_id FROM scores").fetchall():
            if run not in cached:  # a store written by an older version: cache its scored runs once
                _refresh_top(con, run)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('columns', ?)", [registry_fingerprint()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return version


def refresh_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the ``ranked`` and ``ranked_latest`` views over the tables' current columns, and ``_top_rows`` to match."""
    con.execute(f"CREATE OR REPLACE VIEW ranked AS {_ranked_sql(con, ids=False)} ORDER BY c.run_id, s.rank NULLS LAST")
    con.execute(LATEST_VIEW_SQL)  # the latest completed run's rows (views bind their columns when queried)
    # _top_rows has the columns of the view (added as the view grows)
    con.execute("CREATE TABLE IF NOT EXISTS _top_rows AS SELECT * FROM ranked LIMIT 0")
    have = _table_types(con, "_top_rows")
    for name, sql_type, *_ in con.execute("DESCRIBE ranked").fetchall():
        if name not in have:
            con.execute(f"ALTER TABLE _top_rows ADD COLUMN {_quote(name)} {sql_type}")


def _top_columns(available: list[str], columns: str | Sequence[str]) -> list[str]:
    """The columns ``top`` returns, in order, from the view's ``available`` columns."""
    if isinstance(columns, str):
        if columns == "all":
            return list(available)
        if columns == "default":
            return [c for c in TOP_COLUMNS if c in available]
        raise ValueError(f"columns={columns!r}: expected 'default', 'all' or a list of column names")
    unknown = [c for c in columns if c not in available]
    if unknown:
        shown = [c for c in available if not c.startswith("MagpieData")]
        magpie = len(available) - len(shown)
        raise UnknownValueError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: not in the ranked view, which has "
            f"{', '.join(shown)}" + (f" and {magpie} 'MagpieData ...' columns" if magpie else ""),
            valid=available,
        )
    return list(columns)


def _prepared(table: str, run_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` ready for ``table``: a ``run_id`` column, no structures or other objects, no infinities."""
    if table not in _KEYED_TABLES:
        raise ValueError(f"table={table!r}: expected one of {_KEYED_TABLES}")
    if "candidate_id" not in frame:
        raise ValueError(f"writing {table}: the frame has no candidate_id column")
    drop = [c for c in frame.columns if frame[c].dtype == object and _is_unstorable(frame[c])]
    old = {o: n for o, n in VIEW_ALIASES.items() if o in frame}  # a frame of older code (passes_filters): the new name
    drop += [o for o, n in old.items() if n in frame]
    frame = frame.drop(columns=drop).rename(columns=old).assign(run_id=run_id)
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    if floats:
        values = frame[floats].to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(values)
        if bad.any():
            values[bad] = np.nan
            frame[floats] = values
    return frame


def _is_unstorable(series: pd.Series) -> bool:
    """True for object columns holding structures or other non-scalar objects."""
    sample = series.dropna().head(5)
    return any(not isinstance(v, (str, bool, int, float, np.generic)) for v in sample)


_ALIASES = (("c", "candidates"), ("d", "descriptors"), ("t", "stability"), ("p", "predictions"), ("r", "structure"),
            ("m", "simulation"), ("s", "scores"))


def _ranked_sql(con: duckdb.DuckDBPyConnection, ids: bool) -> str:
    """The select of the ``ranked`` view; with ``ids``, of its rows of run ``$run`` and ids ``$ids`` only.

    Every column comes from the first table that has it (``candidates`` first).
    """
    select, seen, sources = [], set(), []
    for alias, table in _ALIASES:
        names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        if alias == "c":
            select.append("c.*")
            seen.update(names)
        else:
            extra = [c for c in names if c not in seen]
            seen.update(extra)
            select += [f"{alias}.{_quote(c)}" for c in extra]
        if alias == "s":  # deprecated names for old SQL (passes_filters: passes_gates)
            select += [f"s.{_quote(new)} AS {_quote(old)}" for old, new in VIEW_ALIASES.items() if new in seen and old not in seen]
        source = table
        if ids:  # one scan of each table for the ids
            source = f"(SELECT * FROM {table} WHERE run_id = $run AND candidate_id IN (SELECT unnest($ids::VARCHAR[])))"
        sources.append(f"{source} {alias}" if alias == "c" else f"LEFT JOIN {source} {alias} USING (run_id, candidate_id)")
    return f"SELECT {', '.join(select)} FROM {' '.join(sources)}"


def _refresh_top(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Rebuild the cached first ``_TOP_ROWS`` ranked rows of ``run_id`` (inside the caller's transaction)."""
    con.execute("DELETE FROM _top_rows WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM _top_runs WHERE run_id = ?", [run_id])
    n_scores = con.execute("SELECT count(*) FROM scores WHERE run_id = ?", [run_id]).fetchall()[0][0]
    if not n_scores:
        return
    ids = [r[0] for r in con.execute(f"SELECT candidate_id FROM scores WHERE run_id = ? {_ORDER} LIMIT {_TOP_ROWS}", [run_id]).fetchall()]
    con.execute(f"INSERT INTO _top_rows BY NAME {_ranked_sql(con, ids=True)}", {"run": run_id, "ids": ids})
    con.execute("INSERT INTO _top_runs VALUES (?, ?)", [run_id, n_scores])
