"""What user SQL may do: one read-only statement on a connection without file or network access.

:meth:`screening.store.ResultStore.query` checks the text with :func:`check_sql` and runs
it on a DuckDB connection opened read-only with :data:`SANDBOX`, so a query can read the
store's tables and views and nothing else: no ``COPY``/``EXPORT`` to files, no
``read_csv``/``read_text``/``glob`` of other files, no ``ATTACH``, no ``INSTALL``/``LOAD``
of extensions, no ``SET`` (the configuration is locked), one statement per call.
"""

from __future__ import annotations

import duckdb

from screening.errors import QueryError

__all__ = ["SANDBOX", "USER_STATEMENTS", "check_sql", "first_line"]

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
