"""One process at a time computes a run: an atomic claim of the run id in the store's ``runs`` table.

Two ``screening screen --run-id same`` started together (a double-click in the UI, a
retried CLI call) used to both decide "fresh, append" and duplicate every row. Now
:meth:`~screening.store.ResultStore.start_run` claims the run in the same write
connection in which it creates or re-opens it: the row records its owner (``claim_owner``:
host, process id, process start time, thread) and a run that is ``running`` under an owner
that is still alive is refused with :class:`~screening.errors.RunInUseError` naming the run id.

The claim is atomic because DuckDB lets one process at a time open the file for writing
(the other waits in :meth:`~screening.store.ResultStore.connect`), and within a process
two transactions updating the same row conflict. A claim is stale, and taken over, when its
owner is gone: a process that was killed (SIGKILL leaves the run ``running``), or a pid that
was reused by a process started later, or (in the same process) a thread that has ended.
An owner on another host cannot be checked from here: it counts as alive (the message says so).
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timezone

import duckdb

from screening.errors import RunInUseError

__all__ = ["CLAIM_COLUMNS", "claim_run", "current_owner", "owner_alive"]

#: columns of ``runs`` that hold the claim (added when missing)
CLAIM_COLUMNS = {"claim_owner": "VARCHAR", "claimed_at": "TIMESTAMP"}


def _process_start(pid: int) -> float | None:
    """Start time of process ``pid`` (seconds since the epoch, rounded to 0.01 s), None when there is none."""
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, ValueError):
        return None


def current_owner() -> str:
    """This thread of this process as a claim owner: ``host:pid:start:thread``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}:{threading.get_ident()}"


def owner_alive(owner: str | None) -> bool:
    """Whether the claim ``owner`` (from :func:`current_owner`) may still be computing its run.

    False for an empty owner, a dead process, a pid reused by a newer process, or the
    calling thread itself or an ended thread of this process; True for an owner on another host.
    """
    if not owner:
        return False
    try:
        host, pid_text, start_text, thread_text = owner.rsplit(":", 3)
        pid, thread = int(pid_text), int(thread_text)
    except ValueError:
        return False  # not written by this code: nothing to protect
    if host != socket.gethostname():
        return True
    start = _process_start(pid)
    if start is None or start_text != str(start):
        return False
    if pid == os.getpid():  # this process: alive while that thread runs, and it is not us
        return thread != threading.get_ident() and thread in {t.ident for t in threading.enumerate()}
    return True


def claim_run(con: duckdb.DuckDBPyConnection, run_id: str, where: str) -> bool:
    """Claim ``run_id`` for this thread on the open write connection ``con``; True when the run already existed.

    Raises :class:`~screening.errors.RunInUseError` when the run is ``running`` under a live
    owner (``where``, the store's path, goes into the message). An existing run becomes
    ``running`` under this owner; a new run id is left to the caller to insert (with
    :func:`current_owner`), in the same connection.
    """
    for column, sql_type in CLAIM_COLUMNS.items():
        con.execute(f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {column} {sql_type}")
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute("SELECT status, claim_owner, claimed_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is not None:
            status, owner, since = row
            if status == "running" and owner_alive(owner):
                host, pid = (owner.rsplit(":", 3) + ["?", "?"])[:2]
                raise RunInUseError(
                    f"run {run_id!r} in {where} is being computed by another process (pid {pid} on {host}, since {since}): "
                    "wait until it ends, or give another run_id"
                )
            con.execute(
                "UPDATE runs SET status = 'running', claim_owner = ?, claimed_at = ? WHERE run_id = ?",
                [current_owner(), datetime.now(timezone.utc).replace(tzinfo=None), run_id],
            )
        con.execute("COMMIT")
    except duckdb.TransactionException as exc:  # another thread of this process claimed it first
        _rollback(con)
        raise RunInUseError(f"run {run_id!r} in {where} is being claimed by another thread: give another run_id") from exc
    except BaseException:
        _rollback(con)
        raise
    return row is not None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # no transaction left to roll back (a failed COMMIT ends it)
        pass
