"""Which run a read of the store shows, and how it is named.

Every read that shows ranked rows (``screening top``, :meth:`ResultStore.top`, the
notebooks, a run's artifacts) shows one run, the latest completed one unless a run id is
given, and says which: :class:`RunInfo` carries its id, name and preset. A run id, family,
preset or column that does not exist is an :class:`~screening.errors.UnknownValueError`
listing the valid values (the command line's exit status 2), never an empty table.

A screen started again with the same parameters on the same code, models and data
(:func:`identical_run`) would only copy an earlier run's rows out of the cache: the flow
reuses that run instead (``RunOptions.reuse_identical``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import duckdb

from screening.errors import UnknownValueError

__all__ = ["RunInfo", "run_info", "screen_name", "check_choice", "record_fingerprint", "identical_run", "LATEST_VIEW_SQL"]

#: the ``ranked_latest`` view: the ``ranked`` rows of the latest completed run only
LATEST_VIEW_SQL = (
    "CREATE OR REPLACE VIEW ranked_latest AS SELECT * FROM ranked WHERE run_id = "
    "(SELECT run_id FROM runs WHERE status = 'completed' ORDER BY started_at DESC LIMIT 1)"
)

#: how many run ids an unknown-run error lists (the latest first)
LISTED_RUNS = 10


@dataclass(frozen=True)
class RunInfo:
    """A run as a reader sees it: ``run_id``, ``name`` (the Prefect flow run's, else from its parameters), its preset."""

    run_id: str
    name: str
    preset: str
    status: str
    started_at: str
    n_candidates: int | None

    def label(self) -> str:
        """One line naming the run: ``run 3f2a9c (obelix-...-balanced-3f2a9c), preset balanced, started 2026-12-03 08:46``."""
        count = "" if self.n_candidates is None else f", {self.n_candidates:,} candidates"
        return f"run {self.run_id} ({self.name}), preset {self.preset}, {self.status} {self.started_at}{count}"

    def as_dict(self) -> dict:
        return asdict(self)


def screen_name(parameters: Mapping) -> str:
    """The name of a screen from its parameters: ``<source>-<families>-<budget>-<preset>`` (the flow run's name without the id)."""
    families = parameters.get("families") or ["sulfide", "halide", "oxide"]
    return f"{parameters.get('source') or 'obelix'}-{'+'.join(families)}-{parameters.get('limit') or 'all'}-{parameters.get('preset') or 'balanced'}"


def _parameters(value) -> dict:
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value or {})


def _info(row) -> RunInfo:
    run_id, status, started_at, parameters, n_candidates, flow_run_name = row
    p = _parameters(parameters)
    name = flow_run_name or f"{screen_name(p)}-{run_id}"
    started = started_at.strftime("%Y-%m-%d %H:%M") if hasattr(started_at, "strftime") else str(started_at or "")
    return RunInfo(str(run_id), name, str(p.get("preset") or "balanced"), str(status), started, n_candidates)


_SELECT = "SELECT run_id, status, started_at, parameters, n_candidates, flow_run_name FROM runs"


def run_info(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> RunInfo | None:
    """The run ``run_id`` (default: the latest completed one; None when there is none).

    Raises UnknownValueError, listing the latest run ids with their names, when the store
    has no run ``run_id``.
    """
    if run_id is None:
        row = con.execute(f"{_SELECT} WHERE status = 'completed' ORDER BY started_at DESC LIMIT 1").fetchone()
        return None if row is None else _info(row)
    row = con.execute(f"{_SELECT} WHERE run_id = ?", [run_id]).fetchone()
    if row is not None:
        return _info(row)
    rows = con.execute(f"{_SELECT} ORDER BY started_at DESC LIMIT {LISTED_RUNS + 1}").fetchall()
    listed = [f"{r.run_id} ({r.name}, {r.status})" for r in map(_info, rows[:LISTED_RUNS])]
    more = " ..." if len(rows) > LISTED_RUNS else ""
    valid = "; ".join(listed) + more if listed else "none (the store has no run)"
    raise UnknownValueError(f"no run {run_id!r} in the store; runs (latest first): {valid}", valid=[r[0] for r in rows])


def check_choice(what: str, value: str, valid: Iterable[str]) -> str:
    """``value`` if it is one of ``valid``, else UnknownValueError: ``unknown family 'halid'; families are ...``."""
    valid = list(valid)
    if value not in valid:
        raise UnknownValueError(f"unknown {what} {value!r}; valid: {', '.join(map(str, valid))}", valid=valid)
    return value


def record_fingerprint(store, run_id: str, digest: str) -> None:
    """Store the fingerprint of code, models and data a run was computed with (``runs.fingerprint``)."""
    with store.connect() as con:
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS fingerprint VARCHAR")
        con.execute("UPDATE runs SET fingerprint = ? WHERE run_id = ?", [digest, run_id])


def identical_run(store, spec: Mapping, digest: str, spec_of=None) -> RunInfo | None:
    """The latest completed run with the screening parameters ``spec`` and the fingerprint ``digest``, or None.

    ``spec_of(parameters) -> spec`` turns a stored parameter dict into a spec
    (:func:`screening.pipeline.screen_spec`). Such a run holds exactly the rows a new run
    would compute (every chunk would come from the cache): the flow shows it instead of
    writing a copy.
    """
    with store.connect(read_only=True) as con:
        if "fingerprint" not in {r[0] for r in con.execute("DESCRIBE runs").fetchall()}:
            return None
        rows = con.execute(
            f"{_SELECT} WHERE status = 'completed' AND fingerprint = ? ORDER BY started_at DESC", [digest]
        ).fetchall()
    for row in rows:
        stored = _parameters(row[3])
        if (spec_of(stored) if spec_of else stored) == dict(spec):
            return _info(row)
    return None
