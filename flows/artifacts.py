"""The Prefect artifacts and the printout of a screening run: the top table, the funnel summary with its plot.

Rendering only: every number comes from :class:`screening.pipeline.ScreenRun` and the
report functions of :mod:`screening.pipeline.report`.
"""

from __future__ import annotations

import base64

import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from screening import display, pipeline, run_scope
from screening.pipeline import ScreenParameters, ScreenRun
from screening.pipeline.report import premise_note
from screening.shortlist import held_back_text, shortlist

__all__ = ["run_artifacts", "reused_artifacts"]


def run_artifacts(run: ScreenRun, ranked: pd.DataFrame) -> None:
    """The top-N table, the funnel summary with the Pareto plot, and a printout of a finished run."""
    params, store, run_id, funnel, timings = run.params, run.store, run.run_id, run.funnel, run.timings
    best, held = shortlist(ranked, params.top_n, params.run.per_prototype) if len(ranked) else (ranked, {})
    label = run.label()
    note = " ".join(t for t in (run.note or "", premise_note(ranked, params.preset), held_back_text(held, len(best))) if t)
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
        run_id, funnel, run.errors(), str(store.path), extra=f"\nTimings (s): {timing_text}\n{outputs}{extra}", note=note,
        run_label=label,
    )
    create_markdown_artifact(key="screen-summary", markdown=summary, description=f"funnel of run {run_id}")
    print(f"run {run_id}: {funnel}, results in {store.path}")
    if note:
        print(note)
    if len(best):
        print(display.render(display.compact_table(best, params.preset), title=label), end="")


def reused_artifacts(params: ScreenParameters, run: ScreenRun, earlier: run_scope.RunInfo) -> None:
    """Artifacts and a printout that say this flow run computed nothing and show the earlier run's best rows."""
    logger = get_run_logger()
    store = run.store
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
