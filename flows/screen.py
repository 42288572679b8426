"""The ``screen`` flow: candidates -> descriptors -> predictions -> ranking -> results store.

The flow is thin: every task calls a function of :mod:`screening.pipeline` and every
read or write of the store is a :class:`~screening.store.ResultStore` method. It runs from
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
5. the flow reads the run back from the store, ranks it (the structure-aware conductivity in place
   of the composition model's where the structure tier gave one) and writes the scores; the
   simulation tier, when asked for, then simulates the best and the run is ranked again;
6. artifacts: the top-N table, a markdown summary of the funnel, a Pareto plot (a failure
   to write them is logged, it does not fail a finished run).

Steps 2 to 4 run in the subflow ``screen tiers``, started with
``screen_tiers.with_options(task_runner=...)`` for the runner the run options ask for
(threads, or Dask). Every run ends ``completed`` (a run with no candidate too, with a
note saying why) or ``failed`` with the error text in ``runs.error``.

Only the flow process writes to the store (DuckDB has one writer); tasks return tables.
Writes are keyed by (run_id, candidate_id), so a crashed run started again with the
same ``run_id`` finds its finished chunks in the cache, rewrites them without duplicates
and goes on where it stopped, in the same process or a new one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from screening import display, pipeline, run_scope
from screening.columns import PASSES, SIGMA, error_column
from screening.errors import RunConflictError
from screening.pipeline import RunOptions, ScreenParameters
from screening.pipeline.report import LABEL_TOP, premise_note
from screening.ranking import resolve_preset
from screening.shortlist import held_back_text, shortlist
from screening.store import ResultStore

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
    store = ResultStore(params.run.store_path)
    best = ranked.sort_values("rank").head(params.simulation_top_k)
    structures = pipeline.candidate_source(params).structures(list(best["candidate_id"]))
    settings = {"md_steps": params.md_steps}
    futures = simulation_candidate.map(
        candidate_id=list(best["candidate_id"]), structure=structures, potential=unmapped(params.potential),
        settings=unmapped(settings),
    )  # fmt: skip
    n_failed = 0
    for future in futures:
        table = future.result()
        store.write("simulation", run_id, table)
        n_failed += int(table[error_column("simulation")].notna().sum())
    return {"in": len(best), "out": len(best) - n_failed, "failed": n_failed}


@flow(name="screen relax", log_prints=True)
def screen_relax(params: ScreenParameters, run_id: str, ranked: pd.DataFrame) -> dict:
    """Tier 'relax': MLIP e_hull (relaxation only, batched where the potential allows) of the best ``mlip_relax_top_k``.

    Rows go to the store's ``simulation`` table (the simulation tier, run after it, replaces
    the rows of its own candidates); the re-ranking then gates and ranks on the MLIP e_hull.
    """
    store = ResultStore(params.run.store_path)
    best = ranked.sort_values("rank").head(params.mlip_relax_top_k)
    structures = pipeline.candidate_source(params).structures(list(best["candidate_id"]))
    table = pipeline.relax_tier(best, structures, params.potential)
    store.write("simulation", run_id, table)
    n_failed = int(table["simulation_error"].notna().sum())
    return {"in": len(best), "out": len(best) - n_failed, "failed": n_failed}


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


def check_resume(store: ResultStore, params: ScreenParameters) -> None:
    """Refuse (RunConflictError) to resume ``params.run.run_id`` when that run was started with other screening parameters."""
    run_id = params.run.run_id
    previous = store.run_parameters(run_id) if run_id else None
    if previous is None:
        return
    old, new = pipeline.screen_spec(previous), pipeline.screen_spec(params)
    if old != new:
        differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differ)
        raise RunConflictError(
            f"run {run_id!r} in {store.path} was started with other parameters ({detail}); "
            "resume it with the same parameters, or give another run_id"
        )


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
    store = ResultStore(params.run.store_path)
    funnel: dict[str, dict] = {}
    timings: dict[str, float] = {}
    counts = {"in": 0, "failed": 0, "chunks": 0, "cached": 0}
    window = 2 * params.run.max_workers
    # a run with no stored row yet appends its chunks (candidate ids are unique within a run):
    # no lookup of earlier rows, whose cost grows with the table; a resumed run replaces
    fresh = store.query("SELECT count(*) AS n FROM candidates WHERE run_id = ?", [run_id])["n"].item() == 0

    def write_composition(index: int, future) -> None:
        tables = future.result()
        store.write_many(run_id, {name: tables[name] for name in ("candidates", "descriptors", "predictions")}, replace=not fresh)
        counts["in"] += len(tables["candidates"])
        counts["failed"] += int(tables["candidates"]["error"].notna().sum())
        counts["chunks"] += 1
        counts["cached"] += _is_cached(future)
        logger.info("chunk %d stored: %d candidates so far", index, counts["in"])
        for callback in list(_chunk_callbacks):
            callback(index, counts["in"])

    t = time.perf_counter()
    pending: list[tuple[int, object]] = []
    chunks: Iterable[pd.DataFrame] = pipeline.candidate_source(params).frames()
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
        best = store.best_predicted(run_id, params.stability_top_k)
        pieces = list(_chunks(best, max(1, min(params.run.chunk_size, 200))))
        stability = stability_chunk.with_options(cache_result_in_memory=_in_memory(params.run))
        futures = stability.map(index=range(len(pieces)), candidates=pieces, digest=unmapped(digest))
        n_failed = n_cached = 0
        for future in futures:
            table = future.result()
            store.write("stability", run_id, table)
            n_failed += int(table[error_column("stability")].notna().sum())
            n_cached += _is_cached(future)
        funnel["stability"] = {"in": len(best), "out": len(best) - n_failed, "failed": n_failed}
        timings["stability_s"] = round(time.perf_counter() - t, 3)
        timings["stability_chunks"] = len(pieces)
        timings["stability_cached_chunks"] = n_cached
    if "structure" in params.tiers and n_in:
        funnel["structure"] = _structure_tier(params, store, run_id, digest, timings)
    return {"funnel": funnel, "timings": timings}


def _structure_tier(params: ScreenParameters, store: ResultStore, run_id: str, digest: str, timings: dict) -> dict:
    """The structure tier on the best ``structure_top_k`` candidates, written to the store's ``structure`` table chunk by chunk.

    The pool is the run ranked after the stability tier with the conductivity gates off
    (:func:`screening.pipeline.structure_pool`); its structures come from the run's source in one
    pass (an enumerated source is walked once), a structure that cannot be had being its row's error.
    """
    t = time.perf_counter()
    pool = pipeline.structure_pool(_rank(params, store, run_id, pool=True), params.structure_top_k)
    rows = store.run_table(run_id, columns=["formula", "source"], ids=pool["candidate_id"].tolist())
    rows = pool[["candidate_id"]].merge(rows, on="candidate_id", how="left")
    rows["source"] = rows["source"].astype(object)
    if rows.empty:  # no candidate passed the stability gates
        return {"in": 0, "out": 0, "failed": 0}
    try:
        structures = pipeline.candidate_source(params).structures(rows["candidate_id"].tolist())
    except Exception as exc:  # the source itself failed: every row says so, the run goes on
        structures = [f"{i}: structures of source {params.source!r} could not be read ({type(exc).__name__}: {exc})"
                      for i in rows["candidate_id"]]  # fmt: skip
    timings["structure_fetch_s"] = round(time.perf_counter() - t, 3)
    starts = range(0, len(rows), STRUCTURE_CHUNK)
    pieces = [rows.iloc[i : i + STRUCTURE_CHUNK].reset_index(drop=True) for i in starts]
    parts = [structures[i : i + STRUCTURE_CHUNK] for i in starts]
    task = structure_chunk.with_options(cache_result_in_memory=_in_memory(params.run))
    futures = task.map(index=range(len(pieces)), candidates=pieces, structures=parts, digest=unmapped(digest))
    n_failed = n_cached = 0
    for future in futures:
        table = future.result()
        store.write("structure", run_id, table)
        n_failed += int(table["structure_log10_sigma_S_cm"].isna().sum())
        n_cached += _is_cached(future)
    timings["structure_s"] = round(time.perf_counter() - t, 3)
    timings["structure_chunks"] = len(pieces)
    timings["structure_cached_chunks"] = n_cached
    return {"in": len(rows), "out": len(rows) - n_failed, "failed": n_failed}


def _empty_note(params: ScreenParameters) -> str:
    pool = f", element pool {params.elements}" if params.elements else ""
    where = f" in {params.cif_glob!r}" if params.source == "file" else ""
    return (f"No candidates: source {params.source!r}{where} gives none of the families {params.families}{pool}. "
            "The run is complete and empty.")  # fmt: skip


def _tiers_and_ranking(
    params: ScreenParameters, store: ResultStore, run_id: str, digest: str, timings: dict
) -> tuple[pd.DataFrame, dict, str | None]:
    """The tiers (subflow on the run's task runner) and the ranking of a run; fills ``timings``.

    Returns the ranked table, the funnel counts and a note when the run has no candidate.
    """
    runner = task_runner_for(params.run)
    tiers = screen_tiers.with_options(task_runner=runner)(params=params, run_id=run_id, digest=digest)
    funnel = tiers["funnel"]
    timings.update(tiers["timings"])
    t = time.perf_counter()
    ranked = _rank(params, store, run_id)
    if "relax" in params.tiers and len(ranked):
        timings["rank_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        funnel["relax"] = screen_relax(params=params, run_id=run_id, ranked=ranked[["candidate_id", "rank"]])
        timings["relax_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ranked = _rank(params, store, run_id)  # again, gated and ranked on the MLIP e_hull where it exists
    if "simulation" in params.tiers and len(ranked):
        timings["rank_s"] = round(timings.get("rank_s", 0.0) + time.perf_counter() - t, 3)
        t = time.perf_counter()
        funnel["simulation"] = screen_simulation.with_options(task_runner=task_runner_for(params.run))(
            params=params, run_id=run_id, ranked=ranked[["candidate_id", "rank"]]
        )
        timings["simulation_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ranked = _rank(params, store, run_id)  # again, with the simulated numbers where they exist
    if len(ranked):
        store.write("scores", run_id, pipeline.score_table(ranked))
        ranked = _with_report_details(params, store, run_id, ranked)
    for gate in ranked.attrs.get("gate_funnel", []):  # one funnel stage per gate, over the rows that entered it
        if gate["applied"]:
            bounds = f"{'' if gate['min'] is None else gate['min']}..{'' if gate['max'] is None else gate['max']}"
            funnel[f"gate {gate['gate']} in [{bounds}]"] = {k: gate[k] for k in ("in", "failed", "unchecked")} | {"out": gate["remaining"]}
    funnel["ranking"] = {"in": len(ranked), "out": int(ranked[PASSES].sum()) if len(ranked) else 0, "failed": 0}
    if params.run.per_prototype and len(ranked):  # the table's diversity cap: how many passing rows it holds back
        held = shortlist(ranked, params.top_n, params.run.per_prototype)[1]
        passing = funnel["ranking"]["out"]
        funnel[f"table: at most {params.run.per_prototype} per prototype"] = {
            "in": passing, "out": passing - held["beyond_cap"], "failed": held["beyond_cap"]}
    timings["rank_s"] = round(timings.get("rank_s", 0.0) + time.perf_counter() - t, 3)
    return ranked, funnel, (_empty_note(params) if not funnel["composition"]["in"] else None)


def _release_freed_memory() -> None:
    """Give the memory tier 0's many short-lived tables freed back to the system (glibc ``malloc_trim``).

    glibc keeps freed blocks in each thread's arena, so after tier 0 the process holds
    hundreds of MB it no longer uses, on top of which the ranking's read would come; a
    no-op where there is no glibc.
    """
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rank(params: ScreenParameters, store: ResultStore, run_id: str, pool: bool = False) -> pd.DataFrame:
    """The run's table ranked under its preset, with the structure-aware and simulated conductivities in place of
    the composition model's where they exist (and measured conductivities, with ``use_measured``).

    ``pool``: the ranking that chooses the structure tier's candidates: on the tiers before it only (a resumed
    run, whose structure and simulation rows are stored already, chooses the same candidates, so its chunks
    come from the cache), every gate on the conductivity off (the structure estimate may lift a candidate
    over the floor the composition model put it under).
    """
    _release_freed_memory()
    columns = pipeline.ranking_columns(params.filters, measured=params.use_measured)
    table = store.run_table(run_id, columns=columns, ordered=False)
    if pool:
        table = table.drop(columns=[c for c in table.columns if c.startswith(("structure_", "mlip_"))])
    table = pipeline.use_simulated(pipeline.use_structure(table))
    if params.use_measured:
        table = pipeline.use_measured(table)
    filters = dict(params.filters)
    if pool:
        gates = {**resolve_preset(params.preset).gates, **filters}
        filters.update({c: (None, None) for c in gates if c.startswith(SIGMA)})
    # unsorted (``rank`` gives the order): sorting would copy every column of a 10^6-row run
    return pipeline.rank_funnel(
        table, weights=params.weights.chosen(), filters=filters, preset=params.preset, kappa=params.kappa,
        e_hull_z=params.e_hull_z, sort=False,
    )


def _with_report_details(params: ScreenParameters, store: ResultStore, run_id: str, ranked: pd.DataFrame) -> pd.DataFrame:
    """The report's columns (formula, prototype ...) added for the rows it shows: the best that passed the gates."""
    shown = max(params.top_n, LABEL_TOP)  # the top table and the Pareto plot's labels
    best = ranked.loc[ranked[PASSES].astype(bool), ["candidate_id", "rank"]].nsmallest(shown, "rank")
    capped, _ = shortlist(ranked, params.top_n, params.run.per_prototype)  # the table's rows under the per-prototype cap
    best = pd.concat([best, capped[["candidate_id", "rank"]]]).drop_duplicates("candidate_id")
    details = store.run_table(run_id, columns=pipeline.report_columns(), ids=best["candidate_id"].tolist())
    return pipeline.with_details(ranked, details)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While a run is open, SIGTERM raises SystemExit (so the run is marked failed) instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from prefect import get_client
    from prefect.runtime import flow_run

    if not flow_run.id:
        return None, None
    name = flow_run.name or "screen"
    if not name.endswith(f"-{run_id}"):  # a new run id, or a name given in the UI: append the store's run id
        name = f"{_run_name()}-{run_id}"
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=name)
    return str(flow_run.id), name


@flow(name="screen", flow_run_name=_run_name, log_prints=True, persist_result=True)
def screen(params: ScreenParameters = ScreenParameters()) -> str:
    """Screen candidates end to end into the results store and return the run id.

    Give the ``run.run_id`` of a crashed run to resume it (with the same screening
    parameters): finished chunks come from the cache.
    """
    logger = get_run_logger()
    t_start = time.perf_counter()
    params = _confined(params)
    store = ResultStore(params.run.store_path)
    check_resume(store, params)
    from screening.surrogates import MODEL_NAMES

    versions = pipeline.model_versions(names=tuple(MODEL_NAMES))  # a missing model: refused here, with `make train`
    digest = _digest()
    earlier = _identical_run(store, params, digest)
    if earlier is not None:  # the same screen on the same code, models and data: its rows, not a copy
        _name_flow_run(earlier.run_id)  # this flow run is named after the run it shows
        _reused_artifacts(params, store, earlier)
        return earlier.run_id
    run_id = store.start_run(params.model_dump(mode="json"), flow="screen", run_id=params.run.run_id, model_versions=versions)
    run_scope.record_fingerprint(store, run_id, digest)
    store.set_flow_run(run_id, *_name_flow_run(run_id))
    logger.info("run %s -> %s", run_id, store.path)
    timings: dict[str, float] = {}
    with _terminate_as_exit():
        try:
            ranked, funnel, note = _tiers_and_ranking(params, store, run_id, digest, timings)
            timings["total_s"] = round(time.perf_counter() - t_start, 3)
            store.set_run_note(run_id, note)
            store.finish_run(run_id, timings=timings)
        except BaseException as exc:
            try:
                store.fail_run(run_id, f"{type(exc).__name__}: {exc}", timings=timings)
            except Exception as store_exc:  # the store itself is the problem (disk, lock): keep the original error
                logger.error("run %s failed and could not be marked failed: %s", run_id, store_exc)
            raise
    if note:
        logger.warning("run %s: %s", run_id, note)
    try:
        _artifacts(params, store, run_id, ranked, funnel, timings, note or "")
    except OSError as exc:  # disk full, permissions: the run's results are stored, only the report is missing
        logger.warning("run %s completed, but its report could not be written: %s", run_id, exc)
    return run_id


def _confined(params: ScreenParameters) -> ScreenParameters:
    """A run of the deployment (the UI's form, the API) writes only inside SCREENING_RESULTS_ROOT; others are not confined."""
    from prefect.runtime import deployment

    if not params.run.store_path or not deployment.id:
        return params
    return params.with_run(store_path=str(pipeline.confined_store_path(params.run.store_path)))


def _identical_run(store: ResultStore, params: ScreenParameters, digest: str) -> run_scope.RunInfo | None:
    """The finished run a new run would copy (same screening parameters, code, models, data), unless a run id is given."""
    if params.run.run_id is not None or not params.run.reuse_identical:
        return None
    return run_scope.identical_run(store, pipeline.screen_spec(params), digest, spec_of=pipeline.screen_spec)


def _reused_artifacts(params: ScreenParameters, store: ResultStore, earlier: run_scope.RunInfo) -> None:
    """Artifacts and a printout that say this flow run computed nothing and show the earlier run's best rows."""
    logger = get_run_logger()
    text = (f"Nothing recomputed: {earlier.label()} was screened with the same parameters on the same code, models and "
            f"data, so this run shows its rows instead of writing a copy (run options: reuse_identical=false for a copy).")  # fmt: skip
    logger.info(text)
    columns = [c for c in display.compact_source_columns(params.preset) if c in store.query("SELECT * FROM ranked LIMIT 0")]
    best = store.top(params.top_n, run_id=earlier.run_id, columns=columns, per_prototype=params.run.per_prototype)
    create_table_artifact(key="top-candidates", table=display.artifact_rows(best, params.preset),
                          description=f"best {len(best)} of {earlier.label()} (passed every gate; reused)")  # fmt: skip
    create_markdown_artifact(key="screen-summary", markdown=f"# Screen `{earlier.run_id}` (reused)\n\n{text}\n",
                             description=f"run {earlier.run_id} reused")  # fmt: skip
    print(text)
    if len(best):
        print(display.render(display.compact_table(best, params.preset), title=earlier.label()), end="")


def run_screen(params: ScreenParameters | dict | None = None) -> str:
    """Validate ``params`` (a model, a dict in nested or flat form, or None for the defaults) and run :func:`screen`."""
    if not isinstance(params, ScreenParameters):
        params = ScreenParameters.model_validate(params or {})
    return screen(params)


def _artifacts(
    params: ScreenParameters, store: ResultStore, run_id: str, ranked: pd.DataFrame, funnel: dict, timings: dict, note: str
) -> None:
    """The top-N table, the funnel summary with the Pareto plot, and a printout."""
    best, held = shortlist(ranked, params.top_n, params.run.per_prototype) if len(ranked) else (ranked, {})
    label = store.run_info(run_id).label()
    note = " ".join(t for t in (note, premise_note(ranked, params.preset), held_back_text(held, len(best))) if t)
    rows = pipeline.top_table(ranked, params.top_n, params.preset, params.run.per_prototype) if len(ranked) else []  # no NaN
    create_table_artifact(key="top-candidates", table=rows, description=f"best {len(rows)} of {label} (passed every gate)")
    png = None
    if len(ranked):
        png = pipeline.pareto_plot(ranked, store.path.parent / "plots" / f"{run_id}_pareto.png", preset=params.preset,
                                   weights=params.weights.chosen() or None, title=label)  # fmt: skip
    extra = ""
    if png is not None:
        encoded = base64.b64encode(png.read_bytes()).decode()
        extra = f"\n## Pareto plot\n\n![Pareto plot](data:image/png;base64,{encoded})\n\nFile: `{png}`\n"
    timing_text = ", ".join(f"{k} {v}" for k, v in timings.items())
    outputs = (f"\nAll results: `screening --store {store.path} top -n 50 --run-id {run_id}`, any SQL with "
               f"`screening --store {store.path} query ...`, Parquet files with `screening --store {store.path} export DIR`.\n")  # fmt: skip
    summary = pipeline.funnel_markdown(
        run_id, funnel, store.run_errors(run_id), str(store.path), extra=f"\nTimings (s): {timing_text}\n{outputs}{extra}", note=note,
        run_label=label,
    )
    create_markdown_artifact(key="screen-summary", markdown=summary, description=f"funnel of run {run_id}")
    print(f"run {run_id}: {funnel}, results in {store.path}")
    if note:
        print(note)
    if len(best):
        print(display.render(display.compact_table(best, params.preset), title=label), end="")


if __name__ == "__main__":
    run_screen()
