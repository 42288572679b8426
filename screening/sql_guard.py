"""What user SQL may do: one read-only statement on a connection without file or network access.

:meth:`screening.store.ResultStore.query` checks the text with :func:`check_sql` and runs
it on a DuckDB connection opened read-only with :data:`SANDBOX`, so a query can read the
store's tables and views and nothing else: no ``COPY``/``EXPORT`` to files, no
``read_csv``/``read_text``/``glob`` of other files, no ``ATTACH``, no ``INSTALL``/``LOAD``
of extensions, no ``SET`` (the configuration is locked), one statement per call.

It also runs under :class:`QueryLimits` (settings ``SCREENING_QUERY_*``): DuckDB's own
``memory_limit`` and ``threads`` (no spilling to disk), a wall-clock timeout after which a
timer calls the connection's ``interrupt()``, and a cap on the rows returned (the result is
streamed, so ``SELECT * FROM range(100000000)`` reads only the first rows; the frame's
``attrs["truncated"]`` says when it was cut). A campaign found a triple self-join of
``ranked`` at 19.8 GB after 120 s and ``SELECT count(*) FROM range(1000000000000)`` never ending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from screening.errors import QueryError

__all__ = ["SANDBOX", "USER_STATEMENTS", "QueryLimits", "check_sql", "first_line", "run_bounded"]

#: DuckDB settings of the connection that runs user SQL
SANDBOX = {
    "enable_external_access": False,  # no file, URL or ATTACH outside the store
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # no SET/RESET can undo the above
}

#: the statement types user SQL may be (DuckDB ``StatementType`` names; DESCRIBE, SHOW, PRAGMA and SUMMARIZE parse as SELECT)
USER_STATEMENTS = ("SELECT", "EXPLAIN")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_sql(sql: str) -> None:
    """Raise :class:`~screening.errors.QueryError` unless ``sql`` is exactly one SELECT (or EXPLAIN) statement."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError('empty query: give one SELECT statement, e.g. "SELECT formula FROM ranked LIMIT 5"')
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse the query: {first_line(exc)}") from exc
    if not statements:
        raise QueryError("the query has no statement (only comments?): give one SELECT statement")
    if len(statements) > 1:
        raise QueryError(f"one statement at a time: the query has {len(statements)}")
    kind = statements[0].type.name
    if kind not in USER_STATEMENTS:
        raise QueryError(
            f"refused: {kind} statement; `query` runs one SELECT on the store and cannot write files, "
            "attach databases, change settings or install extensions"
        )


@dataclass(frozen=True)
class QueryLimits:
    """Bounds of one user query: DuckDB memory (``"2GB"``), threads, wall-clock seconds and rows returned."""

    memory_limit: str = "2GB"
    threads: int = 2
    timeout_s: float = 60.0
    max_rows: int = 100_000

    @classmethod
    def from_settings(cls) -> QueryLimits:
        """The limits of ``SCREENING_QUERY_MEMORY_LIMIT``, ``_THREADS``, ``_TIMEOUT_S`` and ``_MAX_ROWS``."""
        from screening.config import get_settings

        s = get_settings()
        return cls(s.query_memory_limit, s.query_threads, s.query_timeout_s, s.query_max_rows)

    def config(self) -> dict:
        """DuckDB settings of a bounded sandboxed connection (``temp_directory`` empty: nothing spills to disk)."""
        return {**SANDBOX, "memory_limit": self.memory_limit, "threads": int(self.threads), "temp_directory": ""}


def _fetch(result: duckdb.DuckDBPyConnection, max_rows: int, categories: Sequence[str]) -> tuple[pd.DataFrame, bool]:
    """At most ``max_rows`` rows of an executed query, streamed; and whether there were more."""
    if categories:  # through Arrow, for pandas categoricals
        import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

        reader = result.fetch_record_batch(min(max_rows + 1, 100_000))
        batches, n = [], 0
        for batch in reader:
            batches.append(batch)
            n += batch.num_rows
            if n > max_rows:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
        wanted = [c for c in categories if c in table.column_names]
        return table.slice(0, max_rows).to_pandas(categories=wanted, self_destruct=True, split_blocks=True), n > max_rows
    chunks: list[pd.DataFrame] = []
    n = 0
    while True:
        chunk = result.fetch_df_chunk(1)  # 2048 rows a chunk
        if not len(chunk) and chunks:
            break
        chunks.append(chunk)
        n += len(chunk)
        if not len(chunk) or n > max_rows:
            break
    frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    return frame.iloc[:max_rows].reset_index(drop=True) if n > max_rows else frame, n > max_rows


def run_bounded(
    con: duckdb.DuckDBPyConnection, sql: str, params, limits: QueryLimits, categories: Sequence[str] = ()
) -> pd.DataFrame:
    """Run checked SQL on a connection opened with ``limits.config()``; a :class:`QueryError` when it runs out of
    time or memory. The frame's ``attrs``: ``truncated`` (more rows than ``limits.max_rows``) and ``max_rows``.

    The query runs in a worker thread while this one waits: a Python signal handler cannot run
    while DuckDB holds the calling thread, so Ctrl-C (KeyboardInterrupt, raised here) and the
    timeout both reach the query through ``con.interrupt()``.
    """
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = _fetch(con.execute(sql, params or []), limits.max_rows, categories)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="screening-query", daemon=True)
    deadline = time.monotonic() + limits.timeout_s
    timed_out = False
    worker.start()
    try:
        while worker.is_alive():
            worker.join(max(0.0, min(0.1, deadline - time.monotonic())))
            if worker.is_alive() and not timed_out and time.monotonic() >= deadline:
                timed_out = True
                con.interrupt()
    except KeyboardInterrupt:
        con.interrupt()
        worker.join(10)
        raise
    exc = box.get("error")
    if isinstance(exc, duckdb.InterruptException) and timed_out:
        raise QueryError(
            f"the query ran longer than {limits.timeout_s:g} s and was stopped (SCREENING_QUERY_TIMEOUT_S); "
            "add a LIMIT or a WHERE on run_id"
        ) from exc
    if isinstance(exc, duckdb.OutOfMemoryException):
        raise QueryError(
            f"the query needs more than {limits.memory_limit} of memory and was stopped (SCREENING_QUERY_MEMORY_LIMIT); "
            "add a LIMIT or a WHERE on run_id"
        ) from exc
    if exc is not None:
        raise exc
    frame, cut = box["result"]
    frame.attrs.update(truncated=cut, max_rows=limits.max_rows)
    return frame
