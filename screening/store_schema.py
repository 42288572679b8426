"""The store's schema: tables, the ``ranked`` view and its cached best rows, and how a frame is made storable.

Module-level SQL helpers of :mod:`screening.store` (which re-exports the public names):
the schema version and the view's guaranteed columns, the ``ranked`` view's select, the
rebuild of the ``_top_rows`` cache inside a write's transaction, and the preparation of a
DataFrame for a keyed table (``run_id``, no objects, no infinities).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from screening._version import __version__
from screening.errors import StoreError, UnknownValueError

#: version of the store's tables and view; bump it when they change (the ``meta`` table records it)
SCHEMA_VERSION = 6  # 3: the simulation table; 4: runs.flow_run_id / flow_run_name; 5: the ranked values in scores; 6: ranked_latest

#: columns the ``ranked`` view always has (NULL until a run writes them), with their SQL types
VIEW_COLUMNS = {
    "formula": "VARCHAR", "family": "VARCHAR", "source": "VARCHAR", "prototype": "VARCHAR", "parent": "VARCHAR",
    "error": "VARCHAR", "log10_sigma_S_cm": "DOUBLE", "log10_sigma_S_cm_std": "DOUBLE", "log10_sigma_S_cm_lo80": "DOUBLE",
    "log10_sigma_S_cm_hi80": "DOUBLE", "conductivity_train_distance": "DOUBLE", "formation_energy_eV_atom": "DOUBLE", "e_hull_eV_atom": "DOUBLE",
    "e_hull_eV_atom_std": "DOUBLE", "e_hull_source": "VARCHAR", "window_low_V": "DOUBLE", "window_high_V": "DOUBLE",
    "window_width_V": "DOUBLE", "e_rxn_li_eV_atom": "DOUBLE", "G_VRH_GPa": "DOUBLE", "K_VRH_GPa": "DOUBLE",
    "K_IC_MPa_m05": "DOUBLE", "G_over_G_Li": "DOUBLE", "cost_usd_per_kg": "DOUBLE",
    "ranked_log10_sigma_S_cm": "DOUBLE", "conductivity_source": "VARCHAR", "ranked_e_hull_eV_atom": "DOUBLE",
    "e_hull_ranked_source": "VARCHAR",
}  # fmt: skip

#: the columns :meth:`ResultStore.top` returns by default (those the view has), in this order
TOP_COLUMNS = ["rank", "candidate_id", "formula", "family", "prototype", "score", "pareto_rank", "log10_sigma_S_cm",
               "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80", "conductivity_train_distance", "ranked_log10_sigma_S_cm",
               "conductivity_source",
               "e_hull_eV_atom", "e_hull_source", "ranked_e_hull_eV_atom", "e_hull_ranked_source", "window_low_V",
               "window_high_V", "window_width_V", "e_rxn_li_eV_atom", "K_IC_MPa_m05", "G_over_G_Li", "cost_usd_per_kg",
               "parent", "error"]  # fmt: skip


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

_KEYED_TABLES = ("candidates", "descriptors", "stability", "predictions", "simulation", "scores")

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
    try:
        version = int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise StoreError(f"{path}: meta.schema_version {row[0]!r} is not an integer: not a store this code wrote") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: store schema version {version} is newer than this code's ({SCHEMA_VERSION}, screening "
            f"{__version__}): upgrade screening to read it"
        )
    return version


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
    frame = frame.drop(columns=drop).assign(run_id=run_id)
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


_ALIASES = (("c", "candidates"), ("d", "descriptors"), ("t", "stability"), ("p", "predictions"), ("m", "simulation"), ("s", "scores"))


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
        if alias == "s":  # the core columns no table has yet: NULL, so the view's schema is complete
            select += [f"CAST(NULL AS {t}) AS {_quote(c)}" for c, t in VIEW_COLUMNS.items() if c not in seen]
        source = table
        if ids:  # one scan of each table for the ids
            source = f"(SELECT * FROM {table} WHERE run_id = $run AND candidate_id IN (SELECT unnest($ids::VARCHAR[])))"
        sources.append(f"{source} {alias}" if alias == "c" else f"LEFT JOIN {source} {alias} USING (run_id, candidate_id)")
    return f"SELECT {', '.join(select)} FROM {' '.join(sources)}"


def _refresh_top(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Rebuild the cached first ``_TOP_ROWS`` ranked rows of ``run_id`` (inside the caller's transaction)."""
    con.execute("DELETE FROM _top_rows WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM _top_runs WHERE run_id = ?", [run_id])
    n_scores = con.execute("SELECT count(*) FROM scores WHERE run_id = ?", [run_id]).fetchone()[0]
    if not n_scores:
        return
    ids = [r[0] for r in con.execute(f"SELECT candidate_id FROM scores WHERE run_id = ? {_ORDER} LIMIT {_TOP_ROWS}", [run_id]).fetchall()]
    con.execute(f"INSERT INTO _top_rows BY NAME {_ranked_sql(con, ids=True)}", {"run": run_id, "ids": ids})
    con.execute("INSERT INTO _top_runs VALUES (?, ?)", [run_id, n_scores])
