"""The report of a screening run: a markdown summary of the funnel and a Pareto plot (PNG)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["funnel_markdown", "pareto_plot"]


def funnel_markdown(run_id: str, funnel: dict[str, dict], errors: pd.Series | None = None, store_path: str = "", extra: str = "", note: str = "") -> str:
    """A markdown summary of the funnel: counts in and out of each stage, why rows failed, and ``note`` (e.g. why a run is empty)."""
    lines = [f"# Screen `{run_id}`", "", "| stage | in | out | failed |", "|---|---:|---:|---:|"]
    for stage, c in funnel.items():
        lines.append(f"| {stage} | {c.get('in', '')} | {c.get('out', '')} | {c.get('failed', 0)} |")
    if errors is not None and len(errors.dropna()):
        reasons = errors.dropna().astype(str).str.split(":").str[0].value_counts().head(10)
        lines += ["", "## Failures by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {r} | {n} |" for r, n in reasons.items()]
    if note:
        lines += ["", note]
    lines += ["", f"Store: `{store_path}`", extra]
    return "\n".join(lines)


def pareto_plot(ranked: pd.DataFrame, path: str | Path, x: str = "window_width_V", y: str = "log10_sigma_S_cm") -> Path | None:
    """Scatter of two objectives with the Pareto front highlighted, saved as a PNG; None without data."""
    # a Figure without pyplot: no global backend switch (a notebook that runs a screen keeps its inline plots)
    from matplotlib.figure import Figure

    if x not in ranked or y not in ranked:
        x = "MagpieData mean Electronegativity" if "MagpieData mean Electronegativity" in ranked else x
    if x not in ranked or y not in ranked:
        return None
    data = ranked[[x, y, "pareto_rank"]].apply(pd.to_numeric, errors="coerce").dropna()
    if data.empty:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(5, 3.6), dpi=90)
    ax = fig.add_subplot()
    rest = data[data["pareto_rank"] != 1]
    front = data[data["pareto_rank"] == 1]
    ax.scatter(rest[x], rest[y], s=8, c="0.7", label="ranked")
    ax.scatter(front[x], front[y], s=16, c="C3", label="Pareto front")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
