"""The report of a screening run: a markdown summary of the funnel and a Pareto plot (PNG)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["funnel_markdown", "pareto_plot", "top_table", "TOP_TABLE"]


def funnel_markdown(
    run_id: str, funnel: dict[str, dict], errors: pd.Series | None = None, store_path: str = "", extra: str = "", note: str = "",
    run_label: str = "",
) -> str:
    """A markdown summary of the funnel: counts in and out of each stage (``failed``: rows that entered the stage and
    failed it; ``no value``: rows that entered it without the number it checks), why rows failed, and ``note`` (e.g.
    why a run is empty, or that no candidate meets the preset's premise). ``run_label``: the run's name and preset."""
    lines = [f"# Screen `{run_id}`", "", run_label, "", "| stage | in | out | failed | no value |", "|---|---:|---:|---:|---:|"]
    for stage, c in funnel.items():
        lines.append(f"| {stage} | {c.get('in', '')} | {c.get('out', '')} | {c.get('failed', 0)} | {c.get('unchecked', '')} |")
    if errors is not None and len(errors.dropna()):
        reasons = errors.dropna().astype(str).str.split(":").str[0].value_counts().head(10)
        lines += ["", "## Failures by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {r} | {n} |" for r, n in reasons.items()]
    if note:
        lines += ["", note]
    lines += ["", f"Store: `{store_path}`", extra]
    return "\n".join(lines)


#: rows of the Pareto plot labelled with their formula (the best by rank)
LABEL_TOP = 8


def pareto_plot(
    ranked: pd.DataFrame,
    path: str | Path,
    x: str = "window_width_V",
    y: str = "log10_sigma_S_cm",
    label_top: int = LABEL_TOP,
    max_points: int = 20_000,
) -> Path | None:
    """Two objectives of the rows that passed the gates, the Pareto front highlighted, saved as a PNG (1,000 px wide).

    ``y`` gets its 80% interval as error bars when the table has ``<y>_lo80``/``<y>_hi80``;
    the best ``label_top`` rows by rank are labelled with their formula. At most ``max_points``
    rows off the front are drawn (a seeded random sample, said in the legend). None without data.
    """
    # a Figure without pyplot: no global backend switch (a notebook that runs a screen keeps its inline plots)
    from matplotlib.figure import Figure

    if x not in ranked or y not in ranked:
        x = "MagpieData mean Electronegativity" if "MagpieData mean Electronegativity" in ranked else x
    if x not in ranked or y not in ranked:
        return None
    cols = [c for c in (x, y, f"{y}_lo80", f"{y}_hi80", "pareto_rank", "rank") if c in ranked]
    data = ranked[cols].apply(pd.to_numeric, errors="coerce").assign(formula=ranked.get("formula"))
    if "passes_filters" in ranked:
        data = data[ranked["passes_filters"].fillna(False).astype(bool).to_numpy()]
    data = data.dropna(subset=[x, y])
    if data.empty:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, 6.5), dpi=100)
    ax = fig.add_subplot()
    front = data["pareto_rank"] == 1 if "pareto_rank" in data else pd.Series(False, index=data.index)
    rest, label = data[~front], "passed the gates"
    if len(rest) > max_points:  # a 10^6-row run: a seeded sample of the others, the front whole
        label = f"passed the gates (random {max_points:,} of {len(rest):,})"
        rest = rest.sample(max_points, random_state=0)
    for part, style in ((rest, {"fmt": "o", "ms": 4, "color": "0.6", "label": label}),
                        (data[front], {"fmt": "o", "ms": 6, "color": "C3", "label": "Pareto front (rank 1)"})):  # fmt: skip
        if part.empty:
            continue
        yerr = None
        if f"{y}_lo80" in part and f"{y}_hi80" in part:
            yerr = [(part[y] - part[f"{y}_lo80"]).clip(lower=0), (part[f"{y}_hi80"] - part[y]).clip(lower=0)]
        ax.errorbar(part[x], part[y], yerr=yerr, elinewidth=0.6, alpha=0.7, capsize=0, **style)
    if "rank" in data and "formula" in data:
        for _, row in data.nsmallest(label_top, "rank").iterrows():
            ax.annotate(f"{int(row['rank'])}. {row['formula']}", (row[x], row[y]), fontsize=9,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xlabel(_AXIS_LABELS.get(x, x))
    ax.set_ylabel(_AXIS_LABELS.get(y, y) + (" (bars: 80% interval)" if f"{y}_lo80" in data else ""))
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


_AXIS_LABELS = {
    "window_width_V": "electrochemical window width (V)",
    "log10_sigma_S_cm": "predicted log10 conductivity (S/cm)",
    "window_low_V": "reduction limit (V vs Li/Li+)",
    "window_high_V": "oxidation limit (V vs Li/Li+)",
    "K_IC_MPa_m05": "fracture toughness K_IC (MPa m^0.5)",
    "e_hull_eV_atom": "energy above hull (eV/atom)",
}

#: the run's top table: column -> header with its unit, decimals
TOP_TABLE = {
    "rank": ("rank", 0), "formula": ("formula", None), "family": ("family", None), "prototype": ("prototype", None),
    "parent": ("parent", None), "log10_sigma_S_cm": ("log10 sigma (S/cm)", 2),
    "log10_sigma_S_cm_lo80": ("sigma 80% low (log10 S/cm)", 2), "log10_sigma_S_cm_hi80": ("sigma 80% high (log10 S/cm)", 2),
    "conductivity_train_distance": ("distance to sigma training data (L1)", 2),
    "conductivity_source": ("sigma from", None), "measured_log10_sigma_S_cm": ("measured log10 sigma (S/cm)", 2), "window_low_V": ("window low (V vs Li)", 2),
    "window_high_V": ("window high (V vs Li)", 2), "window_source": ("window from", None),
    "e_hull_eV_atom": ("e_hull (eV/atom)", 3), "e_hull_source": ("e_hull from", None),
    "e_hull_ranked_source": ("e_hull ranked from", None),
    "K_IC_MPa_m05": ("K_IC (MPa m^0.5)", 2), "G_over_G_Li": ("G/G_Li", 2), "score": ("score (0-1)", 3),
    "pareto_rank": ("Pareto rank", 0),
}  # fmt: skip


def top_table(ranked: pd.DataFrame, n: int, preset: str = "balanced") -> list[dict]:
    """The best ``n`` rows that passed the gates as the compact table of ``preset`` (:func:`screening.display.compact_table`):
    about ten columns, units in the headers, one number format per quantity, text cells (no NaN)."""
    from screening.display import artifact_rows

    best = ranked[ranked["passes_filters"].fillna(False).astype(bool)] if "passes_filters" in ranked else ranked
    best = best.nsmallest(n, "rank") if "rank" in best else best.head(n)  # (a run's ranking is not sorted)
    return artifact_rows(best, preset)
