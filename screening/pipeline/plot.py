"""The plot of a run: the preset's two leading objectives, the 2-D non-dominated set, known electrolytes beside.

What it answers: which candidates of this run are worth making for this preset's cell,
read against materials whose numbers are known. The y axis is the conductivity (80%
interval as bars), the x axis the preset's most weighted other objective (the reduction
limit for ``li-metal-anode`` and ``balanced``, the oxidation limit for
``high-voltage-cathode``), oriented so that better is up and to the right. Drawn: the rows
that passed the gates (grey), their 2-D non-dominated set (red, joined as a staircase),
the known electrolytes with their measured conductivity (black stars,
:mod:`screening.pipeline.references`), the 1 mS/cm line, the conductivity gate and any
gate on the x objective; labels are placed by adjustText so that they do not overlap.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from screening.columns import MEASURED_SIGMA, SIGMA
from screening.pareto import pareto_ranks
from screening.ranking import OBJECTIVES, PRESETS, passed_gates

__all__ = ["pareto_plot", "plot_axes", "LABEL_TOP", "AXIS_LABELS"]

#: rows of the plot labelled with their formula (the best by rank)
LABEL_TOP = 8

AXIS_LABELS = {
    "window_width_V": "electrochemical window width (V)",
    SIGMA: "log10 conductivity (S/cm), the one the ranking used",
    "window_low_V": "reduction limit (V vs Li/Li+)",
    "window_high_V": "oxidation limit (V vs Li/Li+)",
    "K_IC_MPa_m05": "fracture toughness K_IC (MPa m^0.5)",
    "e_hull_eV_atom": "energy above hull (eV/atom)",
    "e_rxn_h2o_eV_atom": "reaction energy with H2O (eV/atom)",
    "cost_usd_per_kg": "raw-material cost (USD/kg)",
    "e_rxn_li_eV_atom": "reaction energy with Li metal (eV/atom)",
    "e_rxn_licoo2_eV_atom": "reaction energy with LiCoO2 (eV/atom)",
}


def plot_axes(preset: str = "balanced", weights: Mapping[str, float] | None = None, y: str = SIGMA) -> tuple[str, str]:
    """``(x, y)``: ``y`` and the most weighted other objective of ``weights`` (default: the preset's); ties in
    :data:`~screening.ranking.OBJECTIVES` order."""
    weights = dict(weights or PRESETS[preset].weights if preset in PRESETS else weights or {})
    order = list(OBJECTIVES)
    others = sorted((c for c, w in weights.items() if c != y and w > 0 and c in OBJECTIVES), key=lambda c: (-weights[c], order.index(c)))
    return (others[0] if others else "window_width_V"), y


def _front_2d(data: pd.DataFrame, x: str, y: str) -> pd.Series:
    """Rows of the 2-D non-dominated set (both objectives signed so that higher is better)."""
    sx = OBJECTIVES[x].direction if x in OBJECTIVES else 1
    signed = np.column_stack([data[y].to_numpy(float), sx * data[x].to_numpy(float)])
    return pd.Series(pareto_ranks(signed) == 1, index=data.index)


def _gate_lines(ax, preset: str, x: str, y: str) -> None:
    gates = PRESETS[preset].gates if preset in PRESETS else {}
    if y == SIGMA:
        ax.axhline(-3.0, color="C2", lw=1, ls="--", label="1 mS/cm")
        low = gates.get("log10_sigma_S_cm_hi80", (None, None))[0]
        if low is not None:
            ax.axhline(low, color="0.3", lw=1, ls=":", label=f"gate: upper 80% bound >= 1e{low:g} S/cm")
    low, high = gates.get(x, (None, None))
    for bound in (low, high):
        if bound is not None:
            ax.axvline(bound, color="0.3", lw=1, ls="-.", label=f"gate: {x} {'>=' if bound == low else '<='} {bound:g}")
    if x == "window_low_V":
        ax.axvline(0.0, color="C0", lw=1, ls="--", label="0 V: stable against Li metal")


def pareto_plot(
    ranked: pd.DataFrame,
    path: str | Path,
    x: str | None = None,
    y: str = SIGMA,
    label_top: int = LABEL_TOP,
    max_points: int = 20_000,
    *,
    preset: str = "balanced",
    weights: Mapping[str, float] | None = None,
    title: str = "",
    references: pd.DataFrame | None = None,
) -> Path | None:
    """The run's plot (module docstring) as a PNG 1,000 px wide; None when no row that passed the gates has both values.

    ``x``: default :func:`plot_axes` of ``preset``/``weights``. ``title``: the run's name
    (a second line gives the preset and the counts). ``references``: known materials
    (``label``, ``measured_log10_sigma_S_cm``, ``x``; default
    :func:`~screening.pipeline.references.reference_points`; an empty frame draws none).
    At most ``max_points`` rows off the front are drawn (a seeded sample, said in the legend).
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend switch in a notebook

    x = x or plot_axes(preset, weights, y)[0]
    if x not in ranked or y not in ranked:
        return None
    passed = passed_gates(ranked).to_numpy()
    cols = [c for c in (x, y, f"{y}_lo80", f"{y}_hi80", "rank") if c in ranked]
    data = ranked.loc[passed, cols].apply(pd.to_numeric, errors="coerce").assign(formula=ranked.loc[passed].get("formula"))
    data = data[np.isfinite(data[x]) & np.isfinite(data[y])]
    if data.empty:
        return None
    front = _front_2d(data, x, y)
    fig = Figure(figsize=(10, 6.5), dpi=100)
    ax = fig.add_subplot()
    rest, label = data[~front], f"passed the gates ({len(data):,})"
    if len(rest) > max_points:
        label = f"passed the gates (random {max_points:,} of {len(rest):,} drawn)"
        rest = rest.sample(max_points, random_state=0)
    parts: list[tuple[pd.DataFrame, dict[str, Any]]] = [
        (rest, {"fmt": "o", "ms": 4, "color": "0.6", "label": label}),
        (data[front], {"fmt": "o", "ms": 7, "color": "C3", "label": f"2-D non-dominated ({int(front.sum())})"}),
    ]
    for part, style in parts:
        if part.empty:
            continue
        yerr = None
        if f"{y}_lo80" in part and f"{y}_hi80" in part:
            yerr = [(part[y] - part[f"{y}_lo80"]).clip(lower=0).fillna(0), (part[f"{y}_hi80"] - part[y]).clip(lower=0).fillna(0)]
        ax.errorbar(part[x], part[y], yerr=yerr, elinewidth=0.6, alpha=0.7, capsize=0, **style)
    stairs = data[front].sort_values(x)
    ax.step(stairs[x], stairs[y], where="post", color="C3", lw=0.8, alpha=0.6)
    texts = []
    if "rank" in data and "formula" in data:
        for _, row in data.dropna(subset=["formula"]).nsmallest(label_top, "rank").iterrows():
            texts.append(ax.text(row[x], row[y], f"{int(row['rank'])}. {row['formula']}", fontsize=8))
    texts += _draw_references(ax, x, references)
    _gate_lines(ax, preset, x, y)
    if x in OBJECTIVES and OBJECTIVES[x].direction < 0:
        ax.invert_xaxis()  # better to the right
    ax.set_xlabel(AXIS_LABELS.get(x, x) + ("  (lower is better: axis reversed)" if x in OBJECTIVES and OBJECTIVES[x].direction < 0 else ""))
    ax.set_ylabel(AXIS_LABELS.get(y, y) + (" (bars: 80% interval)" if f"{y}_lo80" in data else ""))
    counts = f"preset {preset}: {int(passed.sum()):,} of {len(ranked):,} passed the gates, {int(front.sum())} on the 2-D front"
    heading = "\n".join(textwrap.wrap(title, 120)) if title else ""
    ax.set_title(f"{heading}\n{counts}" if heading else counts, fontsize=10, loc="left")
    ax.legend(loc="best", fontsize=8)
    if texts:
        from adjustText import adjust_text

        adjust_text(texts, ax=ax, arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.5})
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _draw_references(ax, x: str, references: pd.DataFrame | None) -> list:
    """Known electrolytes at (their ``x``, their measured conductivity): black stars with labels; returns the labels."""
    if references is None:
        from screening.pipeline.references import reference_points

        try:
            references = reference_points(x)
        except Exception:  # the plot is a report: without reference data it is drawn without them
            return []
    if references.empty or x not in references:
        return []
    shown = references[np.isfinite(pd.to_numeric(references[x], errors="coerce")) & references[MEASURED_SIGMA].notna()]
    if shown.empty:
        return []
    ax.plot(shown[x], shown[MEASURED_SIGMA], "*", color="k", ms=10, label="known electrolytes (measured, OBELiX)")
    return [ax.text(r[x], r[MEASURED_SIGMA], r["label"], fontsize=8, style="italic") for _, r in shown.iterrows()]
