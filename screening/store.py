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
``_top_rows``, ``_top_runs`` (internal)
    the first ``_TOP_ROWS`` rows of each run in rank order (``ranked`` columns), and the
    number of scored rows of each run cached there: :meth:`ResultStore.top` reads these
    instead of looking up ids in the wide tables. :meth:`ResultStore.write` rebuilds a
    run's rows in the same transaction as any change to that run, so they are never stale
    (a change made with plain SQL outside ``write`` is not seen by them: call
    ``ResultStore.refresh_top(run_id)`` after one).

Writes are idempotent: writing a candidate again for the same run replaces its row, so a
run that is resumed after a crash ends with no duplicate. Each call opens and closes its
own connection, so several processes can take turns on one file.

Reads keep no connection open between calls either: opening one costs about 10 ms on a
200 MB file, while a connection held open would lock other processes out of writing
(DuckDB allows one writing process or several reading ones, not both) and would make
writes from the same process fail. ``top()`` opens one read-only connection per call.
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

# rows of each run kept in rank order in _top_rows; top(n) with n (matching rows) within
# this prefix reads only _top_rows, anything else falls back to the wide tables
_TOP_ROWS = 2000
_ORDER = "ORDER BY rank NULLS LAST, candidate_id"


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
            fresh = not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = '_top_runs'").fetchone()
            con.execute("CREATE TABLE IF NOT EXISTS _top_runs (run_id VARCHAR, n_scores BIGINT)")
            self._refresh_view(con)
            if fresh:  # a store written by an older version: cache its scored runs once
                for (run,) in con.execute("SELECT DISTINCT run_id FROM scores").fetchall():
                    _refresh_top(con, run)

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
        con.execute(f"CREATE OR REPLACE VIEW ranked AS {_ranked_sql(con, ids=False)} ORDER BY c.run_id, s.rank NULLS LAST")
        # _top_rows has the columns of the view (added as the view grows)
        con.execute("CREATE TABLE IF NOT EXISTS _top_rows AS SELECT * FROM ranked LIMIT 0")
        have = {r[0] for r in con.execute("DESCRIBE _top_rows").fetchall()}
        for name, sql_type, *_ in con.execute("DESCRIBE ranked").fetchall():
            if name not in have:
                con.execute(f"ALTER TABLE _top_rows ADD COLUMN {_quote(name)} {sql_type}")

    def refresh_top(self, run_id: str) -> None:
        """Rebuild the cached best rows of ``run_id`` (``write`` does it; for changes made with plain SQL)."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            _refresh_top(con, run_id)
            con.execute("COMMIT")

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
            if added:
                self._refresh_view(con)
            con.register("incoming", frame)
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"DELETE FROM {table} WHERE run_id = ? AND candidate_id IN (SELECT candidate_id FROM incoming)", [run_id]
            )
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            _refresh_top(con, run_id)
            con.execute("COMMIT")
            con.unregister("incoming")
        return len(frame)

    # ---------------------------------------------------------------- reading

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL against the store and return a DataFrame (read-only connection)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()

    def latest_run(self, status: str = "completed") -> str | None:
        """Id of the most recently started run with this status."""
        with self.connect(read_only=True) as con:
            return _latest_run(con, status)

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
        with self.connect(read_only=True) as con:  # one connection for every query of the call
            run_id = run_id or _latest_run(con)
            if run_id is None:
                return pd.DataFrame()
            cols = ", ".join(_quote(c[0]) for c in con.execute("SELECT * FROM ranked LIMIT 0").description)
            where, params = ["run_id = $run"], {"run": run_id}
            if family:
                where.append("family = $family")
                params["family"] = family
            if min_window_V is not None:
                where.append("window_width_V >= $window")
                params["window"] = float(min_window_V)
            if passes_filters:
                where.append("passes_filters")
            # 1. the cached rank-ordered prefix of the run: right when it holds n matches or the whole run
            cached = con.execute("SELECT n_scores FROM _top_runs WHERE run_id = $run", {"run": run_id}).fetchone()
            if cached is not None:
                frame = con.execute(f"SELECT {cols} FROM _top_rows WHERE {' AND '.join(where)} {_ORDER} LIMIT {int(n)}", params).df()
                if len(frame) == n or cached[0] <= _TOP_ROWS:
                    return frame
            # 2. ids from the narrow tables, then the wide rows of those ids
            joins = []
            if family:
                joins.append("JOIN (SELECT run_id, candidate_id, family FROM candidates) c USING (run_id, candidate_id)")
            if min_window_V is not None:
                joins.append("JOIN (SELECT run_id, candidate_id, window_width_V FROM stability) t USING (run_id, candidate_id)")
            ids = [r[0] for r in con.execute(
                f"SELECT candidate_id FROM scores {' '.join(joins)} WHERE {' AND '.join(where)} {_ORDER} LIMIT {int(n)}", params
            ).fetchall()]  # fmt: skip
            return con.execute(f"{_ranked_sql(con, ids=True)} {_ORDER}", {"run": run_id, "ids": ids}).df()

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

    # --- run bookkeeping used by flows/screen.py (added by the pipeline work; keep this block together)

    def _run_columns(self, con: duckdb.DuckDBPyConnection) -> None:
        """Add the ``error`` (why a run failed) and ``note`` (e.g. why it is empty) columns to ``runs`` if missing."""
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS error VARCHAR")
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS note VARCHAR")

    def run_parameters(self, run_id: str) -> dict | None:
        """The parameters a run was started with (a dict), or None when the store has no run ``run_id``."""
        row = self.query("SELECT parameters FROM runs WHERE run_id = ?", [run_id])
        if row.empty:
            return None
        value = row["parameters"].iloc[0]
        return json.loads(value) if isinstance(value, str) else dict(value or {})

    def fail_run(self, run_id: str, error: str, timings: Mapping | None = None) -> None:
        """Mark a run ``failed`` with the error text (one line) and its counts so far."""
        self.finish_run(run_id, status="failed", timings=timings)
        with self.connect() as con:
            self._run_columns(con)
            con.execute("UPDATE runs SET error = ? WHERE run_id = ?", [str(error)[:4000], run_id])

    def set_run_note(self, run_id: str, note: str | None) -> None:
        """Record a note on a run (e.g. why it screened no candidate); None clears it, and clears an old error."""
        with self.connect() as con:
            self._run_columns(con)
            con.execute("UPDATE runs SET note = ?, error = NULL WHERE run_id = ?", [note, run_id])

    def best_predicted(self, run_id: str, k: int | None = None) -> pd.DataFrame:
        """Candidate id, formula and predictions of the ``k`` error-free rows of a run with the highest predicted
        ``log10_sigma_S_cm`` (all of them when ``k`` is None), best first, ties by id."""
        limit = f"LIMIT {int(k)}" if k else ""
        return self.query(
            "SELECT c.candidate_id, c.formula, p.* EXCLUDE (run_id, candidate_id) "
            "FROM candidates c JOIN predictions p USING (run_id, candidate_id) "
            "WHERE run_id = ? AND c.error IS NULL AND p.log10_sigma_S_cm IS NOT NULL "
            f"ORDER BY p.log10_sigma_S_cm DESC, c.candidate_id {limit}",
            [run_id],
        )

    def run_table(self, run_id: str) -> pd.DataFrame:
        """Candidates, predictions and stability of one run joined by ``candidate_id`` (no ``run_id`` column)."""
        return self.query(
            "SELECT * EXCLUDE (run_id) FROM candidates c JOIN predictions p USING (run_id, candidate_id) "
            "LEFT JOIN stability s USING (run_id, candidate_id) WHERE run_id = ? ORDER BY candidate_id",
            [run_id],
        )

    def run_errors(self, run_id: str) -> pd.Series:
        """The ``error`` text of every candidate of a run (None where the row is fine)."""
        has_error = "error" in set(self.query("DESCRIBE candidates")["column_name"])
        column = "error" if has_error else "NULL AS error"
        return self.query(f"SELECT {column} FROM candidates WHERE run_id = ? ORDER BY candidate_id", [run_id])["error"]

def _is_unstorable(series: pd.Series) -> bool:
    """True for object columns holding structures or other non-scalar objects."""
    sample = series.dropna().head(5)
    return any(not isinstance(v, (str, bool, int, float, np.generic)) for v in sample)


def _latest_run(con: duckdb.DuckDBPyConnection, status: str = "completed") -> str | None:
    row = con.execute("SELECT run_id FROM runs WHERE status = ? ORDER BY started_at DESC LIMIT 1", [status]).fetchone()
    return None if row is None else str(row[0])


_ALIASES = (("c", "candidates"), ("d", "descriptors"), ("t", "stability"), ("p", "predictions"), ("s", "scores"))


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


def query(sql: str, path: str | Path | None = None) -> pd.DataFrame:
    """Run SQL against the results store; see :class:`ResultStore`."""
    return ResultStore(path).query(sql)


def top(n: int = 20, path: str | Path | None = None, **kwargs) -> pd.DataFrame:
    """The best ranked candidates of the latest completed run; see :meth:`ResultStore.top`."""
    return ResultStore(path).top(n, **kwargs)
