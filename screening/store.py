"""The results store: an embedded DuckDB file that users query as ranked tables.

Tables (every row keyed by ``run_id`` and, below ``runs``, ``candidate_id``):

``runs``
    one row a screening run: parameters, code version, model versions, dataset
    checksums, timings, status.
``candidates``
    what was screened: ``formula``, ``family``, ``source``, ``prototype``, ``parent``,
    ``error`` (why a row has no numbers).
``descriptors``, ``stability``, ``predictions``
    wide tables of numbers, columns named with their units; a column that is not
    registered (a Magpie statistic, an MD temperature's) is added when first written. ``stability`` holds the stability
    tier, which a run computes for its best candidates only.
``structure``
    the structure tier's descriptors, BVSE barriers and structure-aware conductivity.
``scores``
    the ranking's columns (:data:`screening.columns.SCORE_COLUMNS`): ``passes_gates``,
    ``gate_failed``, ``missing``, ``complete``, ``monroe_newman_pass``, ``pareto_rank``,
    ``score``, ``rank``, and the numbers the ranking used where a tier may replace another's: ``ranked_log10_sigma_S_cm`` with
    ``conductivity_source`` (``composition``, ``structure``, ``simulation`` or ``measured``), ``ranked_e_hull_eV_atom``
    with ``e_hull_ranked_source`` (``reference``, ``predicted`` or ``simulation``). The
    tiers' own numbers keep their names (``log10_sigma_S_cm``, ``e_hull_eV_atom``, ``mlip_*``).
``ranked`` (view)
    all of the above joined, ordered by run and rank. Every column of the registry
    (:mod:`screening.columns`; :data:`VIEW_COLUMNS`) exists, with its type, in its tier's
    table from the store's creation, NULL until a run writes it, so queries written for a
    finished run also work on a new store. ``passes_filters`` is a deprecated alias of
    ``passes_gates`` kept for old SQL.
``meta``
    ``key``, ``value``: the store's ``schema_version`` (:data:`SCHEMA_VERSION`) and the
    registry's digest (``columns``). Code refuses a store whose schema is newer than it
    knows; an older store is migrated (:data:`screening.store_schema.MIGRATIONS`) when it is
    next opened, for writing or, where the file may be written, for reading.
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

Reads (``ResultStore(path, read_only=True)``, what the ``query``, ``top``, ``runs`` and
``export`` commands use) never write (except the one upgrade of a store an older version wrote): the view and the caches are kept current by the
writes, so a store whose file and folder are read-only can be read. User SQL
(:meth:`ResultStore.query`) runs on a separate sandboxed connection: read-only, one
``SELECT`` statement, no file or network access, no extensions, settings locked.

Reads keep no connection open between calls either: opening one costs about 10 ms on a
200 MB file, while a connection held open would lock other processes out of writing
(DuckDB allows one writing process or several reading ones, not both) and would make
writes from the same process fail. ``top()`` opens one read-only connection per call.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from screening import __version__, store_schema
from screening.config import get_settings
from screening.errors import QueryError, StoreError
from screening.run_claim import claim_run, current_owner
from screening.run_scope import RunInfo, check_choice, run_info
from screening.sql_guard import SANDBOX as _SANDBOX
from screening.sql_guard import QueryLimits, check_sql, run_bounded
from screening.sql_guard import first_line as _first_line
from screening.store_schema import (  # noqa: F401  (SCHEMA_VERSION ... _KEYED_TABLES: the store's public and test names)
    _CATEGORICAL,
    _KEYED_TABLES,
    _ORDER,
    _RUNS_ADDED,
    _RUNS_DDL,
    SCHEMA_VERSION,
    TOP_COLUMNS,
    VIEW_COLUMNS,
    _prepared,
    _quote,
    _ranked_sql,
    _refresh_top,
    _schema_version,
    _sql_type,
    _top_columns,
)

__all__ = ["ResultStore", "query", "top", "check_sql", "SCHEMA_VERSION", "TOP_COLUMNS", "VIEW_COLUMNS"]

logger = logging.getLogger(__name__)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except Exception:
        return None


class ResultStore:
    """A DuckDB results store at ``path`` (default: ``SCREENING_RESULTS_PATH`` or ``results/screening.duckdb``)."""

    def __init__(self, path: str | Path | None = None, retries: int = 50, read_only: bool = False):
        """Open (``read_only=False``: create or upgrade) the store at ``path``.

        ``read_only=True`` writes nothing and raises :class:`~screening.errors.StoreError`
        when there is no store at ``path``. Either way a store whose schema is newer than
        this code is refused with a StoreError.
        """
        self.path = Path(path or get_settings().results_path)
        self.retries = retries
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise StoreError(f"no store at {self.path}: run `screening screen` first, or check --store / SCREENING_RESULTS_PATH")
            with self.connect(read_only=True) as con:
                older = _schema_version(con, self.path) < SCHEMA_VERSION  # a store newer than the code: StoreError
                current = not older and store_schema.is_current(con, self.path)
            if not current:
                self._upgrade_for_reading(required=older)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.path.parent}: {exc.strerror or exc}") from exc
        with self.connect() as con:
            if not store_schema.is_current(con, self.path):
                old = store_schema.migrate(con, self.path)  # tables, view and caches are then kept current by the writes
                if old:
                    logger.info("%s: store upgraded from schema version %s to %s", self.path, old, SCHEMA_VERSION)

    def _upgrade_for_reading(self, required: bool) -> None:
        """A read of a store an older version wrote: upgrade it once (its columns renamed, the registered ones created)
        when the file may be written; else a StoreError saying so when its schema version is older (``required``), or
        nothing when it only lacks columns registered since. Reads of a current store never write."""
        import os

        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent, os.W_OK):
            if not required:
                return
            raise StoreError(f"{self.path}: written by an older version of screening and read-only here: open it once "
                             "where it may be written (e.g. `screening runs` as its owner) to upgrade it")  # fmt: skip
        ResultStore(self.path, retries=self.retries)  # opened for writing: migrated

    # ------------------------------------------------------------- connections

    @contextmanager
    def connect(self, read_only: bool = False, config: Mapping | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed on exit; waits while another process holds the file.

        ``config``: DuckDB settings for this connection. A file that cannot be opened raises
        :class:`~screening.errors.StoreError`.
        """
        if (read_only or self.read_only) and not self.path.is_file():
            raise StoreError(f"no store at {self.path}")
        delay = 0.05
        for attempt in range(self.retries):
            try:
                con = duckdb.connect(str(self.path), read_only=read_only or self.read_only, config=dict(config or {}))
                break
            except duckdb.Error as exc:  # locked by another process (wait), or not a DuckDB file
                locked = isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
                if attempt == self.retries - 1 or not locked:
                    raise StoreError(f"{self.path}: cannot open the store ({_first_line(exc)})") from exc
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)
        try:
            yield con
        finally:
            con.close()

    def _refresh_view(self, con: duckdb.DuckDBPyConnection) -> None:
        store_schema.refresh_view(con)

    def refresh_top(self, run_id: str) -> None:
        """Rebuild the cached best rows of ``run_id`` (``write`` does it; for changes made with plain SQL)."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            _refresh_top(con, run_id)
            con.execute("COMMIT")

    # ------------------------------------------------------------------ runs

    def start_run(self, parameters: Mapping, flow: str = "screen", run_id: str | None = None, model_versions: Mapping | None = None) -> str:
        """Record the start of a run (or re-open it when ``run_id`` already exists) and return its id.

        The run is claimed for this process (:mod:`screening.run_claim`): a run id that a live
        process is computing is refused with :class:`~screening.errors.RunInUseError`.
        """
        from screening.datasets import dataset_checksums

        run_id = run_id or uuid.uuid4().hex[:12]
        with self.connect() as con:
            if not claim_run(con, run_id, str(self.path)):  # a run being computed by a live process: RunInUseError
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                con.execute(
                    "INSERT INTO runs (run_id, flow, status, started_at, parameters, code_version, git_commit, "
                    "model_versions, dataset_checksums, claim_owner, claimed_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        flow,
                        now,
                        json.dumps(dict(parameters), default=str),
                        __version__,
                        _git_commit(),
                        json.dumps(dict(model_versions or {}), default=str),
                        json.dumps(dataset_checksums()),
                        current_owner(),
                        now,
                    ],
                )
        return run_id

    def set_flow_run(self, run_id: str, flow_run_id: str | None, flow_run_name: str | None) -> None:
        """Record the Prefect flow run (id and name) that computes ``run_id``."""
        with self.connect() as con:
            con.execute("UPDATE runs SET flow_run_id = ?, flow_run_name = ? WHERE run_id = ?", [flow_run_id, flow_run_name, run_id])

    def finish_run(self, run_id: str, status: str = "completed", timings: Mapping | None = None) -> None:
        """Mark a run finished and record its counts and timings."""
        with self.connect() as con:
            has_error = "error" in {r[0] for r in con.execute("DESCRIBE candidates").fetchall()}
            n, n_err = con.execute(
                f"SELECT count(*), {'count(error)' if has_error else '0'} FROM candidates WHERE run_id = ?", [run_id]
            ).fetchall()[0]
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, timings = ?, n_candidates = ?, n_errors = ? WHERE run_id = ?",
                [status, datetime.now(timezone.utc).replace(tzinfo=None), json.dumps(dict(timings or {})), n, n_err, run_id],
            )

    # ---------------------------------------------------------------- writing

    def write(self, table: str, run_id: str, frame: pd.DataFrame, replace: bool = True) -> int:
        """Write rows of ``frame`` (must have ``candidate_id``) into ``table`` for ``run_id``.

        Rows already stored for the same run and candidate are replaced (``replace=False``:
        appended, for a caller that knows they are new); columns the table does not have yet
        are added. Returns the number of rows written.
        """
        return self.write_many(run_id, {table: frame}, replace=replace)[table]

    def write_many(
        self, run_id: str, frames: Mapping[str, pd.DataFrame], replace: bool = True, memory_limit: str | None = None
    ) -> dict[str, int]:
        """Write several tables of one run (e.g. a chunk's ``candidates``, ``descriptors`` and
        ``predictions``) in one connection and one transaction: all of them or none.

        ``replace=True`` (the default) first deletes the rows of the same run and candidates,
        so writing again never duplicates; ``replace=False`` skips that lookup, whose cost
        grows with the table, for a caller that knows its rows are new (a fresh run whose
        candidate ids are unique). Returns the rows written per table.

        The write runs under DuckDB memory limit ``memory_limit`` (default
        :data:`WRITE_MEMORY_LIMIT`; DuckDB spills to disk beyond it); a write that still
        runs out of it (refreshing the top-rows cache of a 10^6-row run) is done again
        without a limit, in a new transaction.
        """
        prepared = {table: _prepared(table, run_id, frame) for table, frame in frames.items()}
        try:
            self._write_prepared(run_id, prepared, replace, memory_limit or WRITE_MEMORY_LIMIT)
        except duckdb.OutOfMemoryException:  # nothing was committed: again with DuckDB's own limit
            self._write_prepared(run_id, prepared, replace, None)
        return {table: len(frame) for table, frame in prepared.items()}

    def _write_prepared(self, run_id: str, prepared: Mapping[str, pd.DataFrame], replace: bool, memory_limit: str | None) -> None:
        with self.connect(config={"memory_limit": memory_limit} if memory_limit else None) as con:
            added = False
            for table, frame in prepared.items():
                have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
                for c in frame.columns:
                    if c not in have:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(c)} {_sql_type(frame[c])}")
                        added = True
            if added:
                self._refresh_view(con)
            con.execute("BEGIN TRANSACTION")
            for table, frame in prepared.items():
                con.register("incoming", frame)
                if replace:
                    con.execute(
                        f"DELETE FROM {table} WHERE run_id = ? AND candidate_id IN (SELECT candidate_id FROM incoming)", [run_id]
                    )
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")
            _refresh_top(con, run_id)
            con.execute("COMMIT")

    # ---------------------------------------------------------------- reading

    def query(
        self, sql: str, params: list | dict | None = None, categories: Sequence[str] = (), limits: QueryLimits | None = None,
        bounded: bool = True,
    ) -> pd.DataFrame:
        """Run one SELECT statement against the store and return its rows as a DataFrame.

        The SQL runs on a separate connection that is read-only, cannot read or write any
        file other than the store, cannot attach databases, install or load extensions, or
        change settings. Anything else (several statements, COPY, ATTACH, INSTALL, SET, an
        empty or comment-only string) raises :class:`~screening.errors.QueryError` before
        it runs; so does SQL that fails (unknown column, ...). ``params`` fill ``?`` or
        ``$name`` placeholders. ``categories``: text columns to return as pandas categoricals
        (read through Arrow: a 10^6-row result with few distinct values per column takes a
        fraction of the memory of one Python string a row).

        ``limits`` (default :meth:`QueryLimits.from_settings`, ``SCREENING_QUERY_*``): the query
        runs under DuckDB memory and thread limits and a wall-clock timeout (a QueryError
        when it exceeds one) and returns at most ``max_rows`` rows (``frame.attrs["truncated"]``
        says when more were cut). ``bounded=False``: none of these, for the library's own
        reads of a whole run (10^6 rows).
        """
        check_sql(sql)
        bounds = (limits or QueryLimits.from_settings()) if bounded else None
        with self.connect(read_only=True, config=bounds.config() if bounds is not None else _SANDBOX) as con:
            try:
                if bounds is not None:
                    return run_bounded(con, sql, params, bounds, categories)
                if not categories:
                    return con.execute(sql, params or []).df()
                table = con.execute(sql, params or []).arrow()
                table = table.read_all() if hasattr(table, "read_all") else table  # a reader in newer DuckDB
                wanted = [c for c in categories if c in table.column_names]
                return table.to_pandas(categories=wanted, self_destruct=True, split_blocks=True)
            except duckdb.PermissionException as exc:
                raise QueryError(f"refused: the query reads or writes outside the store ({_first_line(exc)})") from exc
            except duckdb.Error as exc:
                raise QueryError(_first_line(exc)) from exc

    def latest_run(self, status: str = "completed") -> str | None:
        """Id of the most recently started run with this status."""
        with self.connect(read_only=True) as con:
            return _latest_run(con, status)

    def runs(self) -> pd.DataFrame:
        """The runs, oldest first: id, status, start, duration (s), counts, parameters and timings (dicts), versions."""
        with self.connect(read_only=True) as con:
            frame = con.execute(
                "SELECT run_id, flow, status, started_at, finished_at, "
                "round(epoch(finished_at) - epoch(started_at), 1) AS duration_s, n_candidates, n_errors, "
                "parameters, timings, code_version, git_commit, flow_run_name, flow_run_id FROM runs ORDER BY started_at"
            ).df()
        for col in ("parameters", "timings"):
            frame[col] = [json.loads(v) if isinstance(v, str) and v else {} for v in frame[col]]
        return frame

    def run_info(self, run_id: str | None = None) -> RunInfo | None:
        """The run ``run_id`` (default: the latest completed one) with its name and preset; None when the store has none.

        An unknown ``run_id`` raises :class:`~screening.errors.UnknownValueError` listing the runs.
        """
        with self.connect(read_only=True) as con:
            return run_info(con, run_id)

    def top(
        self,
        n: int = 20,
        run_id: str | None = None,
        family: str | None = None,
        min_window_V: float | None = None,
        passes_gates: bool = True,
        columns: str | Sequence[str] = "default",
        per_prototype: int = 0,
    ) -> pd.DataFrame:
        """The ``n`` best ranked candidates of a run (default: the latest completed run), best first.

        ``per_prototype``: at most this many of one parent prototype (``prototype_rank``,
        :mod:`screening.shortlist`; 0: no cap; rows without a prototype are never capped).

        ``columns``: ``"default"`` (:data:`TOP_COLUMNS`: identity, rank and score,
        conductivity with its 80% interval, e_hull and its source, window, K_IC, cost),
        ``"all"`` (every column of the ``ranked`` view) or a list of column names.
        An empty DataFrame when the store has no completed run. The run shown is in
        ``frame.attrs["run"]`` (:meth:`RunInfo.as_dict`: id, name, preset, ...).

        An unknown run id, a family no run of the store has, or a column the view does not
        have raises :class:`~screening.errors.UnknownValueError` listing the valid values.
        """
        if n < 1:
            raise ValueError(f"n={n}: must be at least 1")
        with self.connect(read_only=True) as con:  # one connection for every query of the call
            info = run_info(con, run_id)
            if info is None:
                return pd.DataFrame()
            frame = self._top(con, info.run_id, n, family, min_window_V, passes_gates, columns, per_prototype)
        frame.attrs["run"] = info.as_dict()
        return frame

    def _top(self, con, run_id: str, n: int, family, min_window_V, passes_gates: bool, columns, per_prototype: int = 0) -> pd.DataFrame:
        if family:
            families = [r[0] for r in con.execute("SELECT DISTINCT family FROM candidates WHERE family IS NOT NULL ORDER BY 1").fetchall()]
            check_choice("family", family, families)
        wanted = _top_columns([c[0] for c in con.execute("SELECT * FROM ranked LIMIT 0").description], columns)
        cols = ", ".join(_quote(c) for c in wanted)
        where = ["run_id = $run"]
        params: dict[str, object] = {"run": run_id}
        if family:
            where.append("family = $family")
            params["family"] = family
        if min_window_V is not None:
            where.append("window_width_V >= $window")
            params["window"] = float(min_window_V)
        if passes_gates:
            where.append("passes_gates")
        if per_prototype < 0:
            raise ValueError(f"per_prototype={per_prototype}: must be >= 0 (0: no cap)")
        if per_prototype and "prototype_rank" in {r[0] for r in con.execute("DESCRIBE scores").fetchall()}:
            where.append("(prototype_rank IS NULL OR prototype_rank <= $cap)")  # (a run ranked before the column: no cap)
            params["cap"] = int(per_prototype)
        # 1. the cached rank-ordered prefix of the run: right when it holds n matches or the whole run
        cached = None
        if con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = '_top_runs'").fetchone():
            cached = con.execute("SELECT n_scores FROM _top_runs WHERE run_id = $run", {"run": run_id}).fetchone()
        if cached is not None:
            frame = con.execute(f"SELECT {cols} FROM _top_rows WHERE {' AND '.join(where)} {_ORDER} LIMIT {int(n)}", params).df()
            if len(frame) == n or cached[0] <= store_schema._TOP_ROWS:
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
        return con.execute(f"SELECT {cols} FROM ({_ranked_sql(con, ids=True)}) {_ORDER}", {"run": run_id, "ids": ids}).df()

    def export_parquet(self, directory: str | Path) -> list[Path]:
        """Write every table and the ranked view to Parquet files in ``directory``; returns their paths.

        The files are ``<table>.parquet`` (readable with ``pandas.read_parquet``). The store
        is only read; the path goes to DuckDB as a parameter, never inside the SQL text.
        """
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the export folder {directory}: {exc.strerror or exc}") from exc
        paths = []
        with self.connect(read_only=True) as con:
            for table in ("runs", *_KEYED_TABLES, "ranked"):
                path = directory / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM {table}) TO $path (FORMAT parquet)", {"path": str(path)})
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
            bounded=False,
        )

    def run_table(
        self, run_id: str, columns: Sequence[str] | None = None, ordered: bool = True, ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Candidates, composition descriptors, predictions, stability, structure and simulation of one run joined by ``candidate_id``
        (no ``run_id`` column), ordered by ``candidate_id`` (``ordered=False``: in no particular
        order, which spares DuckDB the sort of every row; the ranking does not need it).
        ``ids``: only these candidates.

        ``columns``: only these (``candidate_id`` always; names no table has are skipped), each
        from the first of those tables that has it, and the labels of few values (``family``,
        ``source``, ``prototype``, ``parent``) as categoricals: a run of 10^6 rows then costs
        its needed columns, not every column of every table.
        """
        tables = (("c", "candidates"), ("d", "descriptors"), ("p", "predictions"), ("s", "stability"), ("r", "structure"),
                  ("m", "simulation"))  # fmt: skip
        select = "* EXCLUDE (run_id)"
        if columns is not None:
            wanted = list(dict.fromkeys(["candidate_id", *columns]))
            with self.connect(read_only=True) as con:
                where: dict[str, str] = {}
                for alias, table in tables:
                    for (name,) in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall():
                        where.setdefault(name, alias)
            select = ", ".join("candidate_id" if c == "candidate_id" else f"{where[c]}.{_quote(c)}" for c in wanted if c in where)
        return self.query(
            f"SELECT {select} FROM candidates c LEFT JOIN descriptors d USING (run_id, candidate_id) "
            "JOIN predictions p USING (run_id, candidate_id) LEFT JOIN stability s USING (run_id, candidate_id) LEFT JOIN structure r USING (run_id, candidate_id) "
            "LEFT JOIN simulation m USING (run_id, candidate_id) "
            "WHERE run_id = ?" + ("" if ids is None else " AND list_contains(?, candidate_id)")
            + (" ORDER BY candidate_id" if ordered else ""),
            [run_id] if ids is None else [run_id, [str(i) for i in ids]],
            categories=_CATEGORICAL if columns is not None else (),
            bounded=False,
        )

    def run_errors(self, run_id: str) -> pd.Series:
        """The ``error`` text of every candidate of a run (None where the row is fine)."""
        has_error = "error" in set(self.query("DESCRIBE candidates")["column_name"])
        column = "error" if has_error else "NULL AS error"
        return self.query(f"SELECT {column} FROM candidates WHERE run_id = ? ORDER BY candidate_id", [run_id], bounded=False)["error"]

#: DuckDB's memory for a write (it spills to disk beyond): without a limit its buffers took
#: about 700 MB more for each 10,000-row chunk written into a 700 MB store, 180 MB with it
WRITE_MEMORY_LIMIT = "256MB"


def _latest_run(con: duckdb.DuckDBPyConnection, status: str = "completed") -> str | None:
    row = con.execute("SELECT run_id FROM runs WHERE status = ? ORDER BY started_at DESC LIMIT 1", [status]).fetchone()
    return None if row is None else str(row[0])



def query(sql: str, path: str | Path | None = None) -> pd.DataFrame:
    """Run one SELECT against the results store (opened read-only); see :meth:`ResultStore.query`."""
    return ResultStore(path, read_only=True).query(sql)


def top(n: int = 20, path: str | Path | None = None, **kwargs) -> pd.DataFrame:
    """The best ranked candidates of the latest completed run (store opened read-only); see :meth:`ResultStore.top`."""
    return ResultStore(path, read_only=True).top(n, **kwargs)
