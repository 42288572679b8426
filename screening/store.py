"""The results store: an embedded DuckDB file that users query as ranked tables.

Tables (every row keyed by ``run_id`` and, below ``runs``, ``candidate_id``):

``runs``
    one row a screening run: parameters, code version, model versions, dataset
    checksums, timings, status.
``candidates``
    what was screened: ``formula``, ``family``, ``source``, ``prototype``, ``parent``,
    ``error`` (why a row has no numbers).
``descriptors``, ``stability``, ``predictions``
    wide tables of numbers, columns named with their units; new columns are added as
    they appear (a later version may compute more). ``stability`` holds the stability
    tier, which a run computes for its best candidates only.
``scores``
    ``passes_filters``, ``pareto_rank``, ``score``, ``rank``.
``ranked`` (view)
    all of the above joined, ordered by run and rank.

Writes are idempotent: writing a candidate again for the same run replaces its row, so a
run that is resumed after a crash ends with no duplicate. Each call opens and closes its
own connection, so several processes can take turns on one file.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from screening import __version__
from screening.config import get_settings

__all__ = ["ResultStore", "query", "top"]

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
    n_errors INTEGER
)
"""

_KEYED_TABLES = ("candidates", "descriptors", "stability", "predictions", "scores")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except Exception:
        return None


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


class ResultStore:
    """A DuckDB results store at ``path`` (default: ``SCREENING_RESULTS_PATH`` or ``results/screening.duckdb``)."""

    def __init__(self, path: str | Path | None = None, retries: int = 50):
        self.path = Path(path or get_settings().results_path)
        self.retries = retries
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.execute(_RUNS_DDL)
            for table in _KEYED_TABLES:
                extra = ", passes_filters BOOLEAN, pareto_rank INTEGER, score DOUBLE, rank INTEGER" if table == "scores" else ""
                con.execute(f"CREATE TABLE IF NOT EXISTS {table} (run_id VARCHAR, candidate_id VARCHAR{extra})")
            self._refresh_view(con)

    # ------------------------------------------------------------- connections

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed on exit; waits while another process holds the file."""
        delay = 0.05
        for attempt in range(self.retries):
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:  # the file is locked by another process
                if attempt == self.retries - 1 or "lock" not in str(exc).lower():
                    raise
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)
        try:
            yield con
        finally:
            con.close()

    def _refresh_view(self, con: duckdb.DuckDBPyConnection) -> None:
        cols = {t: [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()] for t in _KEYED_TABLES}
        select = ["c.*"]
        seen = set(cols["candidates"])
        joins = []
        for alias, table in (("d", "descriptors"), ("t", "stability"), ("p", "predictions"), ("s", "scores")):
            extra = [c for c in cols[table] if c not in seen]
            seen.update(extra)
            select += [f"{alias}.{_quote(c)}" for c in extra]
            joins.append(f"LEFT JOIN {table} {alias} USING (run_id, candidate_id)")
        con.execute(
            f"CREATE OR REPLACE VIEW ranked AS SELECT {', '.join(select)} FROM candidates c {' '.join(joins)} "
            "ORDER BY c.run_id, s.rank NULLS LAST"
        )

    # ------------------------------------------------------------------ runs

    def start_run(self, parameters: Mapping, flow: str = "screen", run_id: str | None = None, model_versions: Mapping | None = None) -> str:
        """Record the start of a run (or re-open it when ``run_id`` already exists) and return its id."""
        from screening.datasets import dataset_checksums

        run_id = run_id or uuid.uuid4().hex[:12]
        with self.connect() as con:
            exists = con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if exists:
                con.execute("UPDATE runs SET status = 'running' WHERE run_id = ?", [run_id])
            else:
                con.execute(
                    "INSERT INTO runs (run_id, flow, status, started_at, parameters, code_version, git_commit, "
                    "model_versions, dataset_checksums) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        flow,
                        datetime.now(timezone.utc).replace(tzinfo=None),
                        json.dumps(dict(parameters), default=str),
                        __version__,
                        _git_commit(),
                        json.dumps(dict(model_versions or {}), default=str),
                        json.dumps(dataset_checksums()),
                    ],
                )
        return run_id

    def finish_run(self, run_id: str, status: str = "completed", timings: Mapping | None = None) -> None:
        """Mark a run finished and record its counts and timings."""
        with self.connect() as con:
            has_error = "error" in {r[0] for r in con.execute("DESCRIBE candidates").fetchall()}
            n, n_err = con.execute(
                f"SELECT count(*), {'count(error)' if has_error else '0'} FROM candidates WHERE run_id = ?", [run_id]
            ).fetchone()
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, timings = ?, n_candidates = ?, n_errors = ? WHERE run_id = ?",
                [status, datetime.now(timezone.utc).replace(tzinfo=None), json.dumps(dict(timings or {})), n, n_err, run_id],
            )

    # ---------------------------------------------------------------- writing

    def write(self, table: str, run_id: str, frame: pd.DataFrame) -> int:
        """Write rows of ``frame`` (must have ``candidate_id``) into ``table`` for ``run_id``.

        Rows already stored for the same run and candidate are replaced; columns the table
        does not have yet are added. Returns the number of rows written.
        """
        if table not in _KEYED_TABLES:
            raise ValueError(f"table={table!r}: expected one of {_KEYED_TABLES}")
        if "candidate_id" not in frame:
            raise ValueError(f"writing {table}: the frame has no candidate_id column")
        frame = frame.copy()
        frame["run_id"] = run_id
        frame = frame.drop(columns=[c for c in frame.columns if frame[c].dtype == object and _is_unstorable(frame[c])])
        for c in frame.columns:
            if frame[c].dtype.kind == "f":
                frame[c] = frame[c].replace([np.inf, -np.inf], np.nan)
        with self.connect() as con:
            have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            added = False
            for c in frame.columns:
                if c not in have:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(c)} {_sql_type(frame[c])}")
                    added = True
            con.register("incoming", frame)
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"DELETE FROM {table} WHERE run_id = ? AND candidate_id IN (SELECT candidate_id FROM incoming)", [run_id]
            )
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.execute("COMMIT")
            con.unregister("incoming")
            if added:
                self._refresh_view(con)
        return len(frame)

    # ---------------------------------------------------------------- reading

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL against the store and return a DataFrame (read-only connection)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()

    def latest_run(self, status: str = "completed") -> str | None:
        """Id of the most recently started run with this status."""
        row = self.query("SELECT run_id FROM runs WHERE status = ? ORDER BY started_at DESC LIMIT 1", [status])
        return None if row.empty else str(row.iloc[0, 0])

    def top(
        self,
        n: int = 20,
        run_id: str | None = None,
        family: str | None = None,
        min_window_V: float | None = None,
        passes_filters: bool = True,
    ) -> pd.DataFrame:
        """The ``n`` best ranked candidates of a run (default: the latest completed run)."""
        if n < 1:
            raise ValueError(f"n={n}: must be at least 1")
        run_id = run_id or self.latest_run()
        if run_id is None:
            return pd.DataFrame()
        # pick the ids on the narrow tables first, then read the wide rows of those ids only
        joins, where, params = [], ["s.run_id = ?"], [run_id]
        if family:
            joins.append("JOIN candidates c USING (run_id, candidate_id)")
            where.append("c.family = ?")
            params.append(family)
        if min_window_V is not None:
            joins.append("JOIN stability t USING (run_id, candidate_id)")
            where.append("t.window_width_V >= ?")
            params.append(float(min_window_V))
        if passes_filters:
            where.append("s.passes_filters")
        ids = self.query(
            f"SELECT candidate_id FROM scores s {' '.join(joins)} WHERE {' AND '.join(where)} ORDER BY s.rank LIMIT {int(n)}",
            params,
        )["candidate_id"].tolist()
        if not ids:
            return self.query("SELECT * FROM ranked LIMIT 0")
        marks = ", ".join("?" * len(ids))
        tables = " ".join(
            f"LEFT JOIN (SELECT * FROM {t} WHERE run_id = ? AND candidate_id IN ({marks})) {a} USING (run_id, candidate_id)"
            for t, a in (("descriptors", "d"), ("stability", "t"), ("predictions", "p"), ("scores", "s"))
        )
        cols = ", ".join(_quote(c) for c in self.query("SELECT * FROM ranked LIMIT 0").columns)
        sql = (
            f"SELECT {cols} FROM (SELECT * FROM candidates WHERE run_id = ? AND candidate_id IN ({marks})) c {tables} ORDER BY rank"
        )
        return self.query(sql, [run_id, *ids] * 5)

    def export_parquet(self, directory: str | Path) -> list[Path]:
        """Write every table and the ranked view to Parquet files in ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        with self.connect(read_only=True) as con:
            for table in ("runs", *_KEYED_TABLES, "ranked"):
                path = directory / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM {table}) TO '{path.as_posix()}' (FORMAT parquet)")
                paths.append(path)
        return paths


def _is_unstorable(series: pd.Series) -> bool:
    """True for object columns holding structures or other non-scalar objects."""
    sample = series.dropna().head(5)
    return any(not isinstance(v, (str, bool, int, float, np.generic)) for v in sample)


def query(sql: str, path: str | Path | None = None) -> pd.DataFrame:
    """Run SQL against the results store; see :class:`ResultStore`."""
    return ResultStore(path).query(sql)


def top(n: int = 20, path: str | Path | None = None, **kwargs) -> pd.DataFrame:
    """The best ranked candidates of the latest completed run; see :meth:`ResultStore.top`."""
    return ResultStore(path).top(n, **kwargs)
