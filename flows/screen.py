"""The ``screen`` flow: candidates -> descriptors -> predictions -> ranking -> results store.

The flow is thin: every task calls a function of ``screening.pipeline``; the work itself
knows nothing of Prefect. Run it from the command line (``python -m flows.screen``), from
the Prefect UI (``make ui``) or from Python (``screen(ScreenParameters(...))``).
"""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel, Field, field_validator

from screening import pipeline
from screening.ranking import DEFAULT_WEIGHTS, rank
from screening.store import ResultStore


class ScreenParameters(BaseModel):
    """What to screen and how to rank it (the form the Prefect UI draws)."""

    source: Literal["obelix"] = Field("obelix", description="candidate source: the OBELiX structures")
    cif_glob: str | None = Field(None, description="extra CIF/POSCAR files to screen, as a glob pattern")
    limit: int | None = Field(None, ge=1, description="screen only the first N candidates (None: all)")
    top_n: int = Field(20, ge=1, le=1000, description="how many of the best candidates to print and show")
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS), description="ranking weights per objective")
    store_path: str | None = Field(None, description="DuckDB results file (default: results/screening.duckdb)")

    @field_validator("cif_glob")
    @classmethod
    def _glob_matches(cls, value: str | None) -> str | None:
        if value and not glob.glob(value):
            raise ValueError(f"cif_glob={value!r} matches no file")
        return value


@task(name="load candidates")
def load_candidates(params: ScreenParameters) -> pd.DataFrame:
    frames = [pipeline.obelix_candidates()]
    if params.cif_glob:
        frames.append(pipeline.cif_candidates(glob.glob(params.cif_glob)))
    candidates = pd.concat(frames, ignore_index=True)
    if params.limit:
        candidates = candidates.head(params.limit)
    return candidates


@task(name="composition descriptors")
def composition_step(candidates: pd.DataFrame) -> pd.DataFrame:
    return pipeline.describe_compositions(candidates)


@task(name="stability descriptors")
def stability_step(candidates: pd.DataFrame) -> pd.DataFrame:
    logger = get_run_logger()
    step = max(1, len(candidates) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            logger.info("stability descriptors: %d/%d", done, total)

    return pipeline.describe_stability(candidates, progress=progress)


@task(name="predict conductivity")
def predict_step(candidates: pd.DataFrame) -> pd.DataFrame:
    return pipeline.predict_conductivity(candidates)


@flow(name="screen", log_prints=True)
def screen(params: ScreenParameters = ScreenParameters()) -> str:
    """Screen candidates end to end and write the ranked table to the results store; returns the run id."""
    logger = get_run_logger()
    timings: dict[str, float] = {}
    store = ResultStore(params.store_path)
    run_id = store.start_run(params.model_dump(), flow="screen")
    logger.info("run %s -> %s", run_id, store.path)

    t = time.perf_counter()
    candidates = load_candidates(params)
    timings["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    comp = composition_step(candidates)
    timings["composition_s"] = time.perf_counter() - t
    t = time.perf_counter()
    stab = stability_step(candidates)
    timings["stability_s"] = time.perf_counter() - t
    t = time.perf_counter()
    pred = predict_step(candidates)
    timings["predict_s"] = time.perf_counter() - t

    base = candidates.drop(columns=["structure"], errors="ignore").copy()
    base["error"] = pipeline.merge_errors(candidates, comp, stab)
    base["family"] = comp["family"]
    table = base.merge(stab.drop(columns=["error"]), on="candidate_id").merge(pred, on="candidate_id")
    ranked = rank(table, weights=params.weights)

    store.write("candidates", run_id, base)
    store.write("descriptors", run_id, comp.drop(columns=["error", "family"]).merge(stab.drop(columns=["error"]), on="candidate_id"))
    store.write("predictions", run_id, pred)
    store.write("scores", run_id, ranked[["candidate_id", "passes_filters", "pareto_rank", "score", "rank"]])
    store.finish_run(run_id, timings=timings)

    show = ["rank", "formula", "family", "log10_sigma_S_cm", "log10_sigma_S_cm_std", "measured_log10_sigma_S_cm",
            "window_low_V", "window_high_V", "e_rxn_li_eV_atom", "pareto_rank", "score"]  # fmt: skip
    best = ranked[ranked["passes_filters"]].head(params.top_n)[show]
    create_table_artifact(key="top-candidates", table=best.round(3).fillna("").to_dict("records"), description=f"run {run_id}")
    n_err = int(base["error"].notna().sum())
    create_markdown_artifact(
        key="screen-summary",
        markdown=f"# Screen {run_id}\n\n- candidates: {len(base)}\n- rows with errors: {n_err}\n"
        f"- ranked (pass filters): {int(ranked['passes_filters'].sum())}\n- store: `{store.path}`\n",
    )
    print(f"run {run_id}: {len(base)} candidates, {n_err} with errors, results in {store.path}")
    print(best.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return run_id


if __name__ == "__main__":
    screen()
