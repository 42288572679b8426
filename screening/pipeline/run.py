"""One screening run's life in the results store, as one object: :class:`ScreenRun`.

A flow (or a notebook, or a test) calls it in a few steps::

    run = ScreenRun.open(params)             # refused when run_id names a run of other parameters
    run.start(digest, model_versions)        # or: run.identical_run(digest) to reuse a finished one
    for chunk in run.source.frames():        # the tiers, wherever they run, return tables ...
        run.write_composition(composition_tier(chunk))   # ... which the run writes
    run.write("stability", stability_tier(run.best_predicted(k)))
    ranked = run.rank()                      # the run's table ranked under its preset
    ranked = run.finish(ranked)              # scores, report details, funnel, note, completed
    # on any exception: run.fail(exc)      # failed, with a one-line reason for an interrupt

Only the process that holds a run writes to its store (DuckDB has one writer); the tiers
return tables. Writes are keyed by (run_id, candidate_id), so a run started again with
the same ``run_id`` rewrites its finished chunks without duplicates and goes on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from screening import run_scope
from screening.columns import PASSES
from screening.errors import RunConflictError
from screening.pipeline.params import ScreenParameters, screen_spec
from screening.pipeline.ranked import funnel_stages, rank_run, ranking_columns, report_columns, score_table, with_details
from screening.pipeline.report import LABEL_TOP
from screening.pipeline.sources import CandidateSource, candidate_source
from screening.shortlist import shortlist
from screening.store import ResultStore

__all__ = ["ScreenRun", "check_resume", "failure_text"]

#: the longest error text a run keeps for an interrupt (one line)
_MAX_REASON = 300


def check_resume(store: ResultStore, params: ScreenParameters) -> None:
    """Refuse (RunConflictError) to resume ``params.run.run_id`` when that run was started with other screening parameters."""
    run_id = params.run.run_id
    previous = store.run_parameters(run_id) if run_id else None
    if previous is None:
        return
    old, new = screen_spec(previous), screen_spec(params)
    if old != new:
        differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differ)
        raise RunConflictError(
            f"run {run_id!r} in {store.path} was started with other parameters ({detail}); "
            "resume it with the same parameters, or give another run_id"
        )


def failure_text(exc: BaseException) -> str:
    """The ``runs.error`` text of a run that ``exc`` ended.

    An interrupt (KeyboardInterrupt, or a runner's subclass of it for SIGTERM) is one line
    that starts with ``interrupted``; any other error is ``<type>: <message>``.
    """
    if isinstance(exc, KeyboardInterrupt):
        reason = " ".join(str(exc).split()) or "interrupted (KeyboardInterrupt, Ctrl-C)"
        reason = reason if reason.startswith("interrupted") else f"interrupted ({reason})"
        return f"{reason}; finished chunks are kept: start the same run_id again to resume"[:_MAX_REASON]
    return f"{type(exc).__name__}: {exc}"


class ScreenRun:
    """A screening run in a results store: its parameters, source, store and id, and every write it makes.

    Build it with :meth:`open` (a new or resumed run of ``params``) or :meth:`attach` (a run
    already started, e.g. inside a subflow). ``funnel`` and ``timings`` collect the counts
    and seconds of each stage as the caller adds them; :meth:`finish` stores the timings.
    """

    def __init__(self, params: ScreenParameters, store: ResultStore | None = None, run_id: str | None = None) -> None:
        self.params = params
        self.store = store if store is not None else ResultStore(params.run.store_path)
        self.run_id = run_id
        self.funnel: dict[str, dict] = {}
        self.timings: dict[str, float] = {}
        self.note: str | None = None
        self._fresh: bool | None = None

    @classmethod
    def open(cls, params: ScreenParameters, store: ResultStore | None = None) -> ScreenRun:
        """A run of ``params`` in its store, not started yet; refused (RunConflictError) when ``params.run.run_id``
        names a run started with other screening parameters."""
        run = cls(params, store)
        check_resume(run.store, params)
        return run

    @classmethod
    def attach(cls, params: ScreenParameters, run_id: str) -> ScreenRun:
        """The started run ``run_id`` of ``params`` (no check, no write)."""
        return cls(params, run_id=run_id)

    def __repr__(self) -> str:
        return f"ScreenRun(run_id={self.run_id!r}, store={str(self.store.path)!r}, source={self.params.source!r})"

    @property
    def source(self) -> CandidateSource:
        """The run's :class:`~screening.pipeline.sources.CandidateSource` (its candidates and their structures)."""
        return candidate_source(self.params)

    # ------------------------------------------------------------------ start
    def identical_run(self, digest: str) -> run_scope.RunInfo | None:
        """The finished run this one would copy (same screening parameters, code, models, data), unless a run id
        is given or ``reuse_identical`` is off."""
        if self.params.run.run_id is not None or not self.params.run.reuse_identical:
            return None
        return run_scope.identical_run(self.store, screen_spec(self.params), digest, spec_of=screen_spec)

    def start(self, digest: str, model_versions: Mapping | None = None, flow: str = "screen") -> str:
        """Start (or resume, with ``params.run.run_id``) the run, claimed for this process; returns its id.

        ``digest``: the fingerprint of code, models and data (:func:`screening.pipeline.fingerprint_digest`).
        """
        self.run_id = self.store.start_run(self.params.model_dump(mode="json"), flow=flow, run_id=self.params.run.run_id,
                                           model_versions=model_versions)  # fmt: skip
        run_scope.record_fingerprint(self.store, self.run_id, digest)
        return self.run_id

    def set_flow_run(self, flow_run_id: str | None, flow_run_name: str | None) -> None:
        """Record the orchestrator's run (e.g. the Prefect flow run) that computes this run."""
        self.store.set_flow_run(self._id(), flow_run_id, flow_run_name)

    # ------------------------------------------------------------------ writes
    def write_composition(self, tables: Mapping[str, pd.DataFrame]) -> tuple[int, int]:
        """Write one chunk of the composition tier (``candidates``, ``descriptors``, ``predictions``); returns
        (candidates written, those with an error).

        A run with no stored candidate yet appends its chunks (ids are unique within a run): no
        lookup of earlier rows, whose cost grows with the table; a resumed run replaces.
        """
        run_id = self._id()
        if self._fresh is None:
            self._fresh = self.store.query("SELECT count(*) AS n FROM candidates WHERE run_id = ?", [run_id])["n"].item() == 0
        self.store.write_many(run_id, {name: tables[name] for name in ("candidates", "descriptors", "predictions")},
                              replace=not self._fresh)  # fmt: skip
        candidates = tables["candidates"]
        return len(candidates), int(candidates["error"].notna().sum())

    def write(self, table: str, frame: pd.DataFrame) -> int:
        """Write the rows of one tier's table (``stability``, ``simulation`` ...) keyed by ``candidate_id``."""
        return self.store.write(table, self._id(), frame)

    def best_predicted(self, k: int | None) -> pd.DataFrame:
        """The ``k`` error-free candidates with the highest predicted conductivity (the stability tier's input)."""
        return self.store.best_predicted(self._id(), k)

    # ------------------------------------------------------------------ ranking
    def rank(self, pool: bool = False) -> pd.DataFrame:
        """The run's table (the columns its ranking reads) ranked under its parameters (:func:`rank_run`), unsorted.

        ``pool``: the ranking that chooses the structure tier's candidates (see :func:`rank_run`)."""
        columns = ranking_columns(self.params.filters, measured=self.params.use_measured)
        return rank_run(self.store.run_table(self._id(), columns=columns, ordered=False), self.params, pool=pool)

    def run_table(self, columns: list[str], ids: list[str]) -> pd.DataFrame:
        """Columns of some of the run's candidates (from the store), keyed by ``candidate_id``."""
        return self.store.run_table(self._id(), columns=columns, ids=ids)

    def tier_input(self, ids: list[str]) -> tuple[pd.DataFrame, list]:
        """What a structure-based tier works on: the rows (``candidate_id``, ``formula``, ``source``) of ``ids``, in
        that order, and their structures from the run's source.

        A structure the source cannot give is its row's error message (a string, as the source
        returns it); when the source itself fails, every row's message says so and the run goes on.
        """
        rows = pd.DataFrame({"candidate_id": list(ids)}).merge(self.run_table(["formula", "source"], list(ids)),
                                                               on="candidate_id", how="left")  # fmt: skip
        rows["source"] = rows["source"].astype(object)
        if rows.empty:
            return rows, []
        try:
            structures = self.source.structures(rows["candidate_id"].tolist())
        except Exception as exc:  # the source itself failed: every row says so, the run goes on
            structures = [f"{i}: structures of source {self.params.source!r} could not be read ({type(exc).__name__}: {exc})"
                          for i in rows["candidate_id"]]  # fmt: skip
        return rows, structures

    def finish(self, ranked: pd.DataFrame, timings: Mapping | None = None) -> pd.DataFrame:
        """Complete the run: its scores, the report's columns on the rows it shows, the funnel's ranking stages, its
        note (when no candidate came) and ``completed`` with the timings. Returns ``ranked`` with those details."""
        run_id = self._id()
        if len(ranked):
            self.store.write("scores", run_id, score_table(ranked))
            ranked = self._with_report_details(ranked)
        self.funnel.update(funnel_stages(ranked))
        per_prototype = self.params.run.per_prototype
        if per_prototype and len(ranked):  # the table's diversity cap: how many passing rows it holds back
            held = shortlist(ranked, self.params.top_n, per_prototype)[1]
            passing = self.funnel["ranking"]["out"]
            self.funnel[f"table: at most {per_prototype} per prototype"] = {
                "in": passing, "out": passing - held["beyond_cap"], "failed": held["beyond_cap"]}
        if not self.funnel.get("composition", {}).get("in"):
            self.note = _empty_note(self.params)
        self.timings.update(timings or {})
        self.store.set_run_note(run_id, self.note)
        self.store.finish_run(run_id, timings=self.timings)
        return ranked

    def fail(self, exc: BaseException) -> str:
        """Mark the run failed with :func:`failure_text` of ``exc`` (finished chunks stay, for a resume); returns the text."""
        text = failure_text(exc)
        self.store.fail_run(self._id(), text, timings=self.timings)
        return text

    # ------------------------------------------------------------------ reading back
    def label(self) -> str:
        """The run's one-line label (name, id, counts) from the store."""
        info = self.store.run_info(self._id())
        return info.label() if info is not None else str(self.run_id)

    def errors(self) -> pd.Series:
        """The ``error`` text of every candidate of the run (None where the row is fine)."""
        return self.store.run_errors(self._id())

    def _with_report_details(self, ranked: pd.DataFrame) -> pd.DataFrame:
        """The report's columns (formula, prototype ...) added for the rows it shows: the best that passed the gates."""
        shown = max(self.params.top_n, LABEL_TOP)  # the top table and the Pareto plot's labels
        best = ranked.loc[ranked[PASSES].astype(bool), ["candidate_id", "rank"]].nsmallest(shown, "rank")
        capped, _ = shortlist(ranked, self.params.top_n, self.params.run.per_prototype)  # the table's rows under the cap
        best = pd.concat([best, capped[["candidate_id", "rank"]]]).drop_duplicates("candidate_id")
        details = self.store.run_table(self._id(), columns=report_columns(), ids=best["candidate_id"].tolist())
        return with_details(ranked, details)

    def _id(self) -> str:
        if self.run_id is None:
            raise RuntimeError("this ScreenRun is not started: call start() first")
        return self.run_id


def _empty_note(params: ScreenParameters) -> str:
    pool = f", element pool {params.elements}" if params.elements else ""
    where = f" in {params.cif_glob!r}" if params.source == "file" else ""
    return (f"No candidates: source {params.source!r}{where} gives none of the families {params.families}{pool}. "
            "The run is complete and empty.")  # fmt: skip
