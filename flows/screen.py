"""The ``screen`` flow: candidates -> descriptors -> predictions -> ranking -> results store.

The flow is thin: every task calls a function of :mod:`screening.pipeline`. It runs from
the Prefect UI (``make ui``: a form drawn from :class:`ScreenParameters`), from the
command line (``screening screen ...`` or ``python -m flows.screen``) and from Python
(``screen(ScreenParameters(limit=10))``).

How a run is organised:

1. the candidates stream in chunks of ``chunk_size`` (:func:`screening.pipeline.iter_candidate_frames`);
2. each chunk goes through the composition tier in a task (retried on failure, its
   result cached on its inputs and the task's source, persisted under
   ``$PREFECT_HOME/storage``); the flow writes each finished chunk to the store at once;
3. the stability tier runs, chunked the same way, on the best ``stability_top_k``
   candidates by predicted conductivity;
4. the flow reads the run back from the store, ranks it and writes the scores;
5. artifacts: the top-N table, a markdown summary of the funnel, a Pareto plot.

Only the flow process writes to the store (DuckDB has one writer); tasks return tables.
Writes are keyed by (run_id, candidate_id), so a crashed run started again with the
same ``run_id`` finds its finished chunks in the cache, rewrites them without duplicates
and goes on where it stopped.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterable, Iterator

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.task_runners import ThreadPoolTaskRunner

from screening import pipeline
from screening.pipeline import ScreenParameters
from screening.store import ResultStore

__all__ = ["ScreenParameters", "screen", "composition_chunk", "stability_chunk", "SimulatedCrash"]

#: test hook: the flow raises :class:`SimulatedCrash` after writing this many chunks
CRASH_ENV = "SCREENING_TEST_CRASH_AFTER_CHUNKS"
#: test hook: the flow sleeps this many seconds after each stored chunk (so a test can kill it mid-run)
PAUSE_ENV = "SCREENING_TEST_PAUSE_AFTER_CHUNK_S"

_TASK_OPTIONS = dict(
    cache_policy=INPUTS + TASK_SOURCE,
    persist_result=True,
    retries=2,
    retry_delay_seconds=1,
)


class SimulatedCrash(RuntimeError):
    """Raised by the crash test hook (``SCREENING_TEST_CRASH_AFTER_CHUNKS``)."""


@task(name="composition tier", task_run_name="composition tier: chunk {index}", **_TASK_OPTIONS)
def composition_chunk(index: int, candidates: pd.DataFrame, model_version: str) -> dict[str, pd.DataFrame]:
    """Tier 0 of one chunk (``model_version``, the hashes of the trained models, is part of the cache key)."""
    return pipeline.composition_tier(candidates)


@task(name="stability tier", task_run_name="stability tier: chunk {index}", **_TASK_OPTIONS)
def stability_chunk(index: int, candidates: pd.DataFrame) -> pd.DataFrame:
    """The stability tier of one chunk of (candidate_id, formula)."""
    return pipeline.stability_tier(candidates)


def _task_runner(params: ScreenParameters):
    if params.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if params.dask_address:
            return DaskTaskRunner(address=params.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": params.max_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        )
    return ThreadPoolTaskRunner(max_workers=params.max_workers)


def _run_chunks(runner, task_, arguments: Iterable[dict], window: int, on_result: Callable[[int, object], None]) -> None:
    """Submit ``task_`` once per argument dict, at most ``window`` in flight; hand each result to ``on_result`` in order."""
    pending: list[tuple[int, object]] = []
    for i, kwargs in enumerate(arguments):
        pending.append((i, runner.submit(task_, parameters=kwargs)))
        if len(pending) >= window:
            j, future = pending.pop(0)
            on_result(j, future.result())
    for j, future in pending:
        on_result(j, future.result())


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size].reset_index(drop=True)


@flow(name="screen", log_prints=True, persist_result=True)
def screen(params: ScreenParameters = ScreenParameters()) -> str:
    """Screen candidates end to end into the results store and return the run id.

    Give the ``run_id`` of a crashed run to resume it: finished chunks come from the cache.
    """
    logger = get_run_logger()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    crash_after = int(os.environ.get(CRASH_ENV, "0") or 0)
    pause_s = float(os.environ.get(PAUSE_ENV, "0") or 0)
    store = ResultStore(params.store_path)
    versions = pipeline.model_versions()
    run_id = store.start_run(params.model_dump(), flow="screen", run_id=params.run_id, model_versions=versions)
    logger.info("run %s -> %s", run_id, store.path)
    funnel: dict[str, dict] = {}
    n_in = n_failed = 0
    n_chunks_written = 0

    with _task_runner(params) as runner:
        # ---- tier 0 on every candidate, written chunk by chunk
        t = time.perf_counter()

        def write_composition(index: int, tables: dict[str, pd.DataFrame]) -> None:
            nonlocal n_in, n_failed, n_chunks_written
            for name in ("candidates", "descriptors", "predictions"):
                store.write(name, run_id, tables[name])
            n_in += len(tables["candidates"])
            n_failed += int(tables["candidates"]["error"].notna().sum())
            n_chunks_written += 1
            logger.info("chunk %d stored: %d candidates so far", index, n_in)
            if pause_s:
                time.sleep(pause_s)
            if crash_after and n_chunks_written >= crash_after:
                raise SimulatedCrash(f"test hook {CRASH_ENV}={crash_after}: crashing after {n_chunks_written} chunks")

        arguments = (
            {"index": i, "candidates": chunk, "model_version": ",".join(f"{k}={v}" for k, v in versions.items())}
            for i, chunk in enumerate(pipeline.iter_candidate_frames(params))
        )
        _run_chunks(runner, composition_chunk, arguments, 2 * params.max_workers, write_composition)
        timings["composition_s"] = round(time.perf_counter() - t, 3)
        funnel["composition"] = {"in": n_in, "out": n_in - n_failed, "failed": n_failed}

        # ---- stability tier on the best K by predicted conductivity
        if "stability" in params.tiers and n_in:
            t = time.perf_counter()
            limit = f"LIMIT {int(params.stability_top_k)}" if params.stability_top_k else ""
            best = store.query(
                "SELECT c.candidate_id, c.formula, p.* EXCLUDE (run_id, candidate_id) "
                "FROM candidates c JOIN predictions p USING (run_id, candidate_id) "
                f"WHERE run_id = ? AND c.error IS NULL AND p.log10_sigma_S_cm IS NOT NULL "
                f"ORDER BY p.log10_sigma_S_cm DESC, c.candidate_id {limit}",
                [run_id],
            )
            n_stab_failed = 0

            def write_stability(index: int, table: pd.DataFrame) -> None:
                nonlocal n_stab_failed
                store.write("stability", run_id, table)
                n_stab_failed += int(table["stability_error"].notna().sum())

            size = max(1, min(params.chunk_size, 200))
            arguments = ({"index": i, "candidates": c} for i, c in enumerate(_chunks(best, size)))
            _run_chunks(runner, stability_chunk, arguments, 2 * params.max_workers, write_stability)
            funnel["stability"] = {"in": len(best), "out": len(best) - n_stab_failed, "failed": n_stab_failed}
            timings["stability_s"] = round(time.perf_counter() - t, 3)

    # ---- rank the whole run from the store
    t = time.perf_counter()
    table = store.query(
        "SELECT * EXCLUDE (run_id) FROM candidates c JOIN predictions p USING (run_id, candidate_id) "
        "LEFT JOIN stability s USING (run_id, candidate_id) WHERE run_id = ?",
        [run_id],
    )
    ranked = pipeline.rank_funnel(table, weights=params.weights, filters=params.filters)
    store.write("scores", run_id, ranked[["candidate_id", "passes_filters", "pareto_rank", "score", "rank"]])
    funnel["ranking"] = {"in": len(ranked), "out": int(ranked["passes_filters"].sum()), "failed": 0}
    timings["rank_s"] = round(time.perf_counter() - t, 3)
    timings["total_s"] = round(time.perf_counter() - t_start, 3)
    store.finish_run(run_id, timings=timings)

    _artifacts(params, store, run_id, ranked, funnel, timings)
    return run_id


def _artifacts(params: ScreenParameters, store: ResultStore, run_id: str, ranked: pd.DataFrame, funnel: dict, timings: dict) -> None:
    """The top-N table, the funnel summary with the Pareto plot, and a printout."""
    show = ["rank", "candidate_id", "formula", "family", "log10_sigma_S_cm", "log10_sigma_S_cm_std", "measured_log10_sigma_S_cm",
            "window_low_V", "window_high_V", "e_rxn_li_eV_atom", "e_hull_eV_atom", "K_IC_MPa_m05", "G_over_G_Li",
            "pareto_rank", "score"]  # fmt: skip
    best = ranked[ranked["passes_filters"]].head(params.top_n)
    best = best[[c for c in show if c in best]]
    rows = best.round(3).astype(object).where(best.notna(), "").to_dict("records")  # no NaN in the UI table
    create_table_artifact(key="top-candidates", table=rows, description=f"best {len(rows)} of run {run_id}")
    png = pipeline.pareto_plot(ranked, store.path.parent / "plots" / f"{run_id}_pareto.png")
    extra = ""
    if png is not None:
        encoded = base64.b64encode(png.read_bytes()).decode()
        extra = f"\n## Pareto plot\n\n![Pareto plot](data:image/png;base64,{encoded})\n\nFile: `{png}`\n"
    timing_text = ", ".join(f"{k} {v}" for k, v in timings.items())
    errors = store.query("SELECT error FROM candidates WHERE run_id = ?", [run_id])["error"]
    summary = pipeline.funnel_markdown(run_id, funnel, errors, str(store.path), extra=f"\nTimings (s): {timing_text}\n{extra}")
    create_markdown_artifact(key="screen-summary", markdown=summary, description=f"funnel of run {run_id}")
    print(f"run {run_id}: {funnel}, results in {store.path}")
    if len(best):
        print(best.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    screen()
