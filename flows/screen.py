"""The ``screen`` flow: candidates -> descriptors -> predictions -> ranking -> results store.

The flow is thin: every task calls a function of :mod:`screening.pipeline`, and the run's
life in the store (start or resume, chunk writes, ranking, notes, finish or fail) is one
:class:`screening.pipeline.ScreenRun` that the flow calls in a few steps. Process plumbing
(signals, Prefect's temporary server, memory trimming, flow-run names) is
:mod:`flows.runtime`; the artifacts are :mod:`flows.artifacts`. It runs from
the Prefect UI (``make ui``: a form drawn from :class:`ScreenParameters`, with the run
options as a section), from the command line (``screening screen ...`` or
``python -m flows.screen``) and from Python (``screen(ScreenParameters(limit=10))``).

How a run is organised:

1. refused before any work when a trained model is missing or when ``run.run_id`` names
   a run started with other screening parameters;
2. the candidates stream in chunks of ``run.chunk_size``
   (:meth:`screening.pipeline.CandidateSource.frames`); each chunk goes through the
   composition tier in a task (``.submit``, a bounded window in flight), cached under
   :func:`screening.pipeline.chunk_key` (the candidates' ids and canonical values plus the
   fingerprint of code, models and datasets), persisted under ``$PREFECT_HOME/storage``;
   the flow writes each finished chunk to the store at once;
3. the stability tier (``.map`` over chunks) on the best ``stability_top_k`` candidates;
4. the structure tier (``.map`` over chunks of 25) on the best ``structure_top_k`` of the run ranked
   after the stability tier (conductivity gates off: :func:`screening.pipeline.structure_pool`),
   their structures from the run's candidate source, cached under the chunk's ids;
5. the flow reads the run back from the store and ranks it (the structure-aware conductivity in place
   of the composition model's where the structure tier gave one); the relax tier (a default tier)
   relaxes the best ``mlip_relax_top_k`` of the table as shown with the MLIP, in cached chunks, and
   the run is ranked again on their MLIP e_hull; the simulation tier, when asked for, then
   simulates the best and the run is ranked again; the scores are written;
6. artifacts: the top-N table, a markdown summary of the funnel, a Pareto plot (a failure
   to write them is logged, it does not fail a finished run).

Steps 2 to 4 run in the subflow ``screen tiers``, started with
``screen_tiers.with_options(task_runner=...)`` for the runner the run options ask for
(threads, or Dask). Every run ends ``completed`` (a run with no candidate too, with a
note saying why) or ``failed`` with the error text in ``runs.error``; Ctrl-C or SIGTERM
ends it ``failed`` with a one-line ``interrupted by signal ...`` and its finished chunks kept.

Only the flow process writes to the store (DuckDB has one writer); tasks return tables.
Writes are keyed by (run_id, candidate_id), so a crashed run started again with the
same ``run_id`` finds its finished chunks in the cache, rewrites them without duplicates
and goes on where it stopped, in the same process or a new one.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from flows import artifacts, runtime
from screening import pipeline
from screening.columns import error_column
from screening.pipeline import RunOptions, ScreenParameters, ScreenRun
from screening.pipeline.run import check_resume

__all__ = [
    "ScreenParameters",
    "RunOptions",
    "screen",
    "screen_tiers",
    "run_screen",
    "composition_chunk",
    "stability_chunk",
    "structure_chunk",
    "on_chunk_stored",
    "task_runner_for",
    "check_resume",
]

#: columns of a candidate chunk that its composition results depend on (the cache key)
_COMPOSITION_KEY_COLUMNS = list(pipeline.CANDIDATE_COLUMNS)
#: columns of a stability chunk that its results depend on
_STABILITY_KEY_COLUMNS = ["candidate_id", "formula", "formation_energy_eV_atom", "formation_energy_eV_atom_std"]
#: columns of a structure chunk that its results depend on (a candidate id names its structure within a source:
#: the enumerated parent and substitutions, the OBELiX entry, or the file's structure hash and path)
_STRUCTURE_KEY_COLUMNS = ["candidate_id", "formula", "source"]
#: candidates per structure-tier task (about 0.5-1 s each): small enough to spread over the workers
STRUCTURE_CHUNK = 25
#: columns of a relax chunk that its results depend on: the structure's (above) and the potential with its version
_RELAX_KEY_COLUMNS = [*_STRUCTURE_KEY_COLUMNS, "potential", "potential_version"]
#: candidates per relax-tier task (seconds to a minute each on CPU): one torch-sim batch, a resume point, a progress step
RELAX_CHUNK = 8

ChunkCallback = Callable[[int, int], None]
_chunk_callbacks: list[ChunkCallback] = []


@contextmanager
def on_chunk_stored(callback: ChunkCallback) -> Iterator[None]:
    """Call ``callback(chunk_index, n_candidates_stored)`` after each composition chunk is written to the store.

    For tests and monitoring (e.g. raise to simulate a crash, sleep to let a test kill
    the process). The callback runs in the flow's process; an exception it raises fails the run.
    """
    _chunk_callbacks.append(callback)
    try:
        yield
    finally:
        _chunk_callbacks.remove(callback)


@functools.lru_cache(maxsize=16)
def _tier_digest(tier: str, run_digest: str) -> str:
    """The fingerprint of the code one tier runs (its modules only), models and data; once per run and process."""
    return pipeline.tier_digest(tier)


def _composition_key(context, parameters: dict) -> str:
    digest = _tier_digest("composition", parameters["digest"])
    return pipeline.chunk_key("composition", digest, parameters["candidates"], _COMPOSITION_KEY_COLUMNS)


def _stability_key(context, parameters: dict) -> str:
    digest = _tier_digest("stability", parameters["digest"])
    return pipeline.chunk_key("stability", digest, parameters["candidates"], _STABILITY_KEY_COLUMNS)


def _structure_key(context, parameters: dict) -> str:
    digest = _tier_digest("structure", parameters["digest"])
    return pipeline.chunk_key("structure", digest, parameters["candidates"], _STRUCTURE_KEY_COLUMNS)


_TASK_OPTIONS = dict(persist_result=True, retries=2, retry_delay_seconds=1)


def _in_memory(options: RunOptions) -> bool:
    """Whether Prefect keeps the tier tasks' results in memory until the flow ends.

    By default it does: about 3 KB a candidate, 3 GB for 10^6. Results are persisted (the
    resume cache) under ``PREFECT_HOME/storage`` anyway, so a run on this machine (threads,
    or a local Dask cluster) reads each one back from there and keeps none. A run on an
    external scheduler (``dask_address``) keeps them: its workers may be other machines,
    whose storage the flow cannot read.
    """
    return bool(options.dask_address)


@task(name="composition tier", task_run_name="composition tier: chunk {index}", cache_key_fn=_composition_key, **_TASK_OPTIONS)
def composition_chunk(index: int, candidates: pd.DataFrame, digest: str) -> dict[str, pd.DataFrame]:
    """Tier 0 of one chunk (``digest``, the fingerprint of code, models and data, is part of the cache key)."""
    return pipeline.composition_tier(candidates)


@task(name="stability tier", task_run_name="stability tier: chunk {index}", cache_key_fn=_stability_key, **_TASK_OPTIONS)
def stability_chunk(index: int, candidates: pd.DataFrame, digest: str) -> pd.DataFrame:
    """The stability tier of one chunk of (candidate_id, formula, predicted formation energy)."""
    return pipeline.stability_tier(candidates)


@task(name="structure tier", task_run_name="structure tier: chunk {index}", cache_key_fn=_structure_key, **_TASK_OPTIONS)
def structure_chunk(index: int, candidates: pd.DataFrame, structures: list, digest: str) -> pd.DataFrame:
    """The structure tier of one chunk (candidate_id, formula, source) with its structures (or their error texts)."""
    return pipeline.structure_tier(candidates, structures)


def _simulation_key(context, parameters: dict) -> str:
    from screening.simulation import cache_key

    structure = parameters["structure"]
    if isinstance(structure, str):  # no structure: the error text is the key
        return hashlib.sha256(structure.encode()).hexdigest()
    return "simulation-" + cache_key(structure, parameters["potential"], settings=parameters["settings"])


@task(name="simulation tier", task_run_name="simulation tier: {candidate_id}", cache_key_fn=_simulation_key, persist_result=True)
def simulation_candidate(candidate_id: str, structure, potential: str, settings: dict) -> pd.DataFrame:
    """Tier 2 of one candidate: ordering, relaxation, MLIP e_hull and MD transport (cached by structure, potential version, settings)."""
    return pipeline.simulation_tier(pd.DataFrame({"candidate_id": [candidate_id]}), [structure], potential, settings)


@flow(name="screen simulation", log_prints=True)
def screen_simulation(params: ScreenParameters, run_id: str, ranked: pd.DataFrame) -> dict:
    """The simulation tier on the best ``simulation_top_k`` ranked candidates, written to the store's ``simulation`` table."""
    run = ScreenRun.attach(params, run_id)
    best = ranked.sort_values("rank").head(params.simulation_top_k)
    structures = run.source.structures(list(best["candidate_id"]))
    settings = {"md_steps": params.md_steps}
    futures = simulation_candidate.map(
        candidate_id=list(best["candidate_id"]), structure=structures, potential=unmapped(params.potential),
        settings=unmapped(settings),
    )  # fmt: skip
    n_failed = 0
    for future in futures:
        table = future.result()
        run.write("simulation", table)
        n_failed += int(table[error_column("simulation")].notna().sum())
    return {"in": len(best), "out": len(best) - n_failed, "failed": n_failed}


def _relax_key(context, parameters: dict) -> str:
    digest = _tier_digest("relax", parameters["digest"])
    return pipeline.chunk_key("relax", digest, parameters["candidates"], _RELAX_KEY_COLUMNS)


@task(name="relax tier", task_run_name="relax tier: chunk {index}", cache_key_fn=_relax_key, persist_result=True)
def relax_chunk(index: int, candidates: pd.DataFrame, structures: list, digest: str) -> pd.DataFrame:
    """The relax tier of one chunk (candidate_id, formula, source, potential and its version) with its structures."""
    return pipeline.relax_tier(candidates, structures, str(candidates["potential"].iloc[0]))


@flow(name="screen relax", log_prints=True)
def screen_relax(params: ScreenParameters, run_id: str, ranked: pd.DataFrame, digest: str = "") -> dict:
    """Tier 'relax': MLIP e_hull (relaxation only, batched where the potential allows) of the best ``mlip_relax_top_k``.

    The candidates are the first ``mlip_relax_top_k`` rows of the run's table as it is shown
    (:func:`screening.shortlist.shortlist`: passing the gates, at most ``per_prototype`` of one
    prototype), so the relaxations go to the shortlist a user reads. Chunks of
    :data:`RELAX_CHUNK` are cached tasks (a resumed run relaxes nothing twice). Rows go to the
    store's ``simulation`` table (the simulation tier, run after it, replaces the rows of its own
    candidates); the re-ranking then gates and ranks on the MLIP e_hull. Without the mlip extra
    the tier is skipped: the returned counts carry a ``note`` saying so, which becomes the run's note.
    """
    from screening.shortlist import shortlist
    from screening.simulation.potentials import potential_version

    logger = get_run_logger()
    run = ScreenRun.attach(params, run_id)
    try:
        version = potential_version(params.potential)
    except Exception as exc:  # the mlip extra is not installed: the screen goes on without the tier
        note = f"relax tier skipped: {exc}"
        logger.warning(note)
        return {"in": 0, "out": 0, "failed": 0, "note": note}
    best = shortlist(ranked, params.mlip_relax_top_k, params.run.per_prototype)[0]
    if best.empty:
        return {"in": 0, "out": 0, "failed": 0}
    rows, structures = run.tier_input(best["candidate_id"].tolist())
    rows = rows.assign(potential=params.potential, potential_version=version)
    n_failed = n_cached = n_chunks = 0
    for index, start in enumerate(range(0, len(rows), RELAX_CHUNK)):
        part = rows.iloc[start : start + RELAX_CHUNK].reset_index(drop=True)
        state = relax_chunk(index=index, candidates=part, structures=structures[start : start + RELAX_CHUNK], digest=digest,
                            return_state=True)  # fmt: skip
        table = state.result()
        run.write("simulation", table)
        n_failed += int(table[error_column("simulation")].notna().sum())
        n_cached += state.name == "Cached"
        n_chunks += 1
        logger.info("relax tier: %d of %d candidates relaxed", min(start + RELAX_CHUNK, len(rows)), len(rows))
    return {"in": len(rows), "out": len(rows) - n_failed, "failed": n_failed, "chunks": n_chunks, "cached": n_cached}


def task_runner_for(options: RunOptions):
    """The Prefect task runner the run options ask for: a thread pool, or Dask (a local cluster or ``dask_address``)."""
    if options.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if options.dask_address:
            return DaskTaskRunner(address=options.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": options.max_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        )
    return ThreadPoolTaskRunner(max_workers=options.max_workers)


def _digest() -> str:
    """Fingerprint of everything a chunk's result depends on besides its rows (library, models, data, this flow)."""
    here = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return pipeline.fingerprint_digest({**pipeline.fingerprint(), "flow": here})


def _is_cached(future) -> bool:
    state = getattr(future, "state", None)
    return bool(state is not None and state.name == "Cached")


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size].reset_index(drop=True)


@flow(name="screen tiers", log_prints=True)
def screen_tiers(params: ScreenParameters, run_id: str, digest: str) -> dict:
    """The composition tier on every candidate and the stability tier on the best, written to the store chunk by chunk.

    Returns ``{"funnel": ..., "timings": ...}`` (counts per stage, seconds and cached chunks per tier).
    """
    logger = get_run_logger()
    run = ScreenRun.attach(params, run_id)
    funnel: dict[str, dict] = {}
    timings: dict[str, float] = {}
    counts = {"in": 0, "failed": 0, "chunks": 0, "cached": 0}
    window = 2 * params.run.max_workers

    def write_composition(index: int, future) -> None:
        n, n_failed = run.write_composition(future.result())
        counts["in"] += n
        counts["failed"] += n_failed
        counts["chunks"] += 1
        counts["cached"] += _is_cached(future)
        logger.info("chunk %d stored: %d candidates so far", index, counts["in"])
        for callback in list(_chunk_callbacks):
            callback(index, counts["in"])

    t = time.perf_counter()
    pending: list[tuple[int, object]] = []
    chunks: Iterable[pd.DataFrame] = run.source.frames()
    composition = composition_chunk.with_options(cache_result_in_memory=_in_memory(params.run))
    for i, chunk in enumerate(chunks):
        pending.append((i, composition.submit(index=i, candidates=chunk, digest=digest)))
        if len(pending) >= window:
            write_composition(*pending.pop(0))
    for i, future in pending:
        write_composition(i, future)
    n_in = counts["in"]
    funnel["composition"] = {"in": n_in, "out": n_in - counts["failed"], "failed": counts["failed"]}
    timings["composition_s"] = round(time.perf_counter() - t, 3)
    timings["composition_chunks"] = counts["chunks"]
    timings["composition_cached_chunks"] = counts["cached"]

    if "stability" in params.tiers and n_in:
        t = time.perf_counter()
        best = run.best_predicted(params.stability_top_k)
        pieces = list(_chunks(best, max(1, min(params.run.chunk_size, 200))))
        stability = stability_chunk.with_options(cache_result_in_memory=_in_memory(params.run))
        futures = stability.map(index=range(len(pieces)), candidates=pieces, digest=unmapped(digest))
        n_failed = n_cached = 0
        for future in futures:
            table = future.result()
            run.write("stability", table)
            n_failed += int(table[error_column("stability")].notna().sum())
            n_cached += _is_cached(future)
        funnel["stability"] = {"in": len(best), "out": len(best) - n_failed, "failed": n_failed}
        timings["stability_s"] = round(time.perf_counter() - t, 3)
        timings["stability_chunks"] = len(pieces)
        timings["stability_cached_chunks"] = n_cached
    if "structure" in params.tiers and n_in:
        funnel["structure"] = _structure_tier(run, digest, timings)
    return {"funnel": funnel, "timings": timings}


def _structure_tier(run: ScreenRun, digest: str, timings: dict) -> dict:
    """The structure tier on the best ``structure_top_k`` candidates, written to the store's ``structure`` table chunk by chunk.

    The pool is the run ranked after the stability tier with the conductivity gates off
    (:func:`screening.pipeline.structure_pool`); its structures come from the run's source in one
    pass (an enumerated source is walked once), a structure that cannot be had being its row's error.
    """
    params = run.params
    t = time.perf_counter()
    pool = pipeline.structure_pool(run.rank(pool=True), params.structure_top_k)
    rows, structures = run.tier_input(pool["candidate_id"].tolist())
    if rows.empty:  # no candidate passed the stability gates
        return {"in": 0, "out": 0, "failed": 0}
    timings["structure_fetch_s"] = round(time.perf_counter() - t, 3)
    starts = range(0, len(rows), STRUCTURE_CHUNK)
    pieces = [rows.iloc[i : i + STRUCTURE_CHUNK].reset_index(drop=True) for i in starts]
    parts = [structures[i : i + STRUCTURE_CHUNK] for i in starts]
    task = structure_chunk.with_options(cache_result_in_memory=_in_memory(params.run))
    futures = task.map(index=range(len(pieces)), candidates=pieces, structures=parts, digest=unmapped(digest))
    n_failed = n_cached = 0
    for future in futures:
        table = future.result()
        run.write("structure", table)
        n_failed += int(table["structure_log10_sigma_S_cm"].isna().sum())
        n_cached += _is_cached(future)
    timings["structure_s"] = round(time.perf_counter() - t, 3)
    timings["structure_chunks"] = len(pieces)
    timings["structure_cached_chunks"] = n_cached
    return {"in": len(rows), "out": len(rows) - n_failed, "failed": n_failed}


def _tiers_and_ranking(run: ScreenRun, digest: str) -> pd.DataFrame:
    """The tiers (subflows on the run's task runner) and the ranking of a started run (again after the simulation
    tier, when it runs); fills ``run.funnel`` and ``run.timings``. Returns the ranked table, unsorted."""
    params = run.params
    tiers = screen_tiers.with_options(task_runner=task_runner_for(params.run))(params=params, run_id=run.run_id, digest=digest)
    run.funnel.update(tiers["funnel"])
    run.timings.update(tiers["timings"])
    t = time.perf_counter()
    runtime.release_freed_memory()  # tier 0's freed tables, before the ranking's read
    ranked = run.rank()
    if "relax" in params.tiers and len(ranked):
        run.timings["rank_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        shown = [c for c in ("candidate_id", "rank", "passes_gates", "prototype", "prototype_rank") if c in ranked]
        relaxed = screen_relax(params=params, run_id=run.run_id, ranked=ranked[shown], digest=digest)
        run.note = relaxed.pop("note", None) or run.note
        run.timings["relax_chunks"] = relaxed.pop("chunks", 0)
        run.timings["relax_cached_chunks"] = relaxed.pop("cached", 0)
        run.funnel["relax"] = relaxed
        run.timings["relax_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ranked = run.rank()  # again, gated and ranked on the MLIP e_hull where it exists
    if "simulation" in params.tiers and len(ranked):
        run.timings["rank_s"] = round(run.timings.get("rank_s", 0.0) + time.perf_counter() - t, 3)
        t = time.perf_counter()
        run.funnel["simulation"] = screen_simulation.with_options(task_runner=task_runner_for(params.run))(
            params=params, run_id=run.run_id, ranked=ranked[["candidate_id", "rank"]]
        )
        run.timings["simulation_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ranked = run.rank()  # again, with the simulated numbers where they exist
    run.timings["rank_s"] = round(run.timings.get("rank_s", 0.0) + time.perf_counter() - t, 3)
    return ranked


def _run_name() -> str:
    """The flow run's name, after the screen: ``obelix-sulfide+halide+oxide-all-balanced`` (plus ``-<run id>`` when given)."""
    from prefect.runtime import flow_run

    raw = flow_run.parameters.get("params")
    try:
        p = raw if isinstance(raw, ScreenParameters) else ScreenParameters.model_validate(raw or {})
    except ValueError:
        return "screen-invalid-parameters"
    name = f"{p.source}-{'+'.join(p.families)}-{p.limit or 'all'}-{p.preset}"
    return f"{name}-{p.run.run_id}" if p.run.run_id else name


def _name_flow_run(run_id: str) -> tuple[str | None, str | None]:
    """Give this flow run the screen's name ending in the store's ``run_id``; return its id and name."""
    from prefect.runtime import flow_run

    name = flow_run.name or "screen"
    if not name.endswith(f"-{run_id}"):  # a new run id, or a name given in the UI: append the store's run id
        name = f"{_run_name()}-{run_id}"
    return runtime.name_flow_run(name)


@flow(name="screen", flow_run_name=_run_name, log_prints=True, persist_result=True)
def screen(params: ScreenParameters = ScreenParameters()) -> str:
    """Screen candidates end to end into the results store and return the run id.

    Give the ``run.run_id`` of a crashed run to resume it (with the same screening
    parameters): finished chunks come from the cache.
    """
    logger = get_run_logger()
    t_start = time.perf_counter()
    params = _confined(params)
    run = ScreenRun.open(params)  # refused when run_id names a run of other parameters
    from screening.surrogates import MODEL_NAMES

    versions = pipeline.model_versions(names=tuple(MODEL_NAMES))  # a missing model: refused here, with `make train`
    digest = _digest()
    earlier = run.identical_run(digest)
    if earlier is not None:  # the same screen on the same code, models and data: its rows, not a copy
        _name_flow_run(earlier.run_id)  # this flow run is named after the run it shows
        artifacts.reused_artifacts(params, run, earlier)
        return earlier.run_id
    run_id = run.start(digest, versions)
    run.set_flow_run(*_name_flow_run(run_id))
    logger.info("run %s -> %s", run_id, run.store.path)
    with runtime.interrupts_raise():  # Ctrl-C, SIGTERM: the run is marked failed ("interrupted by signal ...")
        try:
            ranked = _tiers_and_ranking(run, digest)
            ranked = run.finish(ranked, timings={"total_s": round(time.perf_counter() - t_start, 3)})
        except BaseException as exc:
            try:
                text = run.fail(exc)
                logger.error("run %s failed: %s", run_id, text.splitlines()[0] if text else type(exc).__name__)
            except Exception as store_exc:  # the store itself is the problem (disk, lock): keep the original error
                logger.error("run %s failed and could not be marked failed: %s", run_id, store_exc)
            raise
    if run.note:
        logger.warning("run %s: %s", run_id, run.note)
    try:
        artifacts.run_artifacts(run, ranked)
    except OSError as exc:  # disk full, permissions: the run's results are stored, only the report is missing
        logger.warning("run %s completed, but its report could not be written: %s", run_id, exc)
    return run_id


def _confined(params: ScreenParameters) -> ScreenParameters:
    """A run of the deployment (the UI's form, the API) writes only inside SCREENING_RESULTS_ROOT; others are not confined."""
    from prefect.runtime import deployment

    if not params.run.store_path or not deployment.id:
        return params
    return params.with_run(store_path=str(pipeline.confined_store_path(params.run.store_path)))


def run_screen(params: ScreenParameters | dict | None = None) -> str:
    """Validate ``params`` (a model, a dict in nested or flat form, or None for the defaults) and run :func:`screen`."""
    if not isinstance(params, ScreenParameters):
        params = ScreenParameters.model_validate(params or {})
    with runtime.protected_temporary_server():  # Ctrl-C in a terminal does not kill Prefect's server under the flow
        return screen(params)


if __name__ == "__main__":
    run_screen()
