"""The report of a screening run: a markdown summary of the funnel and a Pareto plot (PNG)."""

from __future__ import annotations

import pandas as pd

from screening import columns
from screening.columns import SIGMA
from screening.pipeline.plot import LABEL_TOP, pareto_plot  # noqa: F401  (the report's plot, in its own module)
from screening.ranking import passed_gates

__all__ = ["funnel_markdown", "pareto_plot", "top_table", "premise_note", "PREMISES", "TOP_TABLE"]


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


#: the run's top table: column -> header with its unit, decimals (:func:`screening.columns.report_headers`)
TOP_TABLE = columns.report_headers()


def top_table(ranked: pd.DataFrame, n: int, preset: str = "balanced", per_prototype: int = 0) -> list[dict]:
    """The best ``n`` rows that passed the gates, at most ``per_prototype`` of one prototype (0: no cap;
    :func:`screening.shortlist.shortlist`), as the compact table of ``preset`` (:func:`screening.display.compact_table`):
    about ten columns, units in the headers, one number format per quantity, text cells (no NaN), and each row's ``why``."""
    from screening.display import artifact_rows
    from screening.shortlist import shortlist

    best, _ = shortlist(ranked, n, per_prototype)
    return artifact_rows(best, preset)


#: what each preset assumes a useful candidate has: (column, test, threshold, what it means, how it reads)
PREMISES = {
    "li-metal-anode": ("window_low_V", "<=", 0.05, "is stable against Li metal", "lowest window_low_V {value:.2f} V (stable needs about 0 V)"),
    "high-voltage-cathode": ("window_high_V", ">=", 4.0, "is stable at 4 V", "highest window_high_V {value:.2f} V"),
    "conductivity-first": (SIGMA, ">=", -3.0, "is predicted above 1 mS/cm", "highest log10 sigma {value:.1f} (S/cm)"),
    "balanced": (SIGMA, ">=", -3.0, "is predicted above 1 mS/cm", "highest log10 sigma {value:.1f} (S/cm)"),
}


def premise_note(ranked: pd.DataFrame, preset: str) -> str:
    """A sentence when no candidate meets the premise of ``preset`` (:data:`PREMISES`), else ``""``.

    Judged on the rows that passed the gates (on every row with a value when none did), e.g.
    "No candidate that passed the gates is stable against Li metal: lowest window_low_V 0.78 V
    (stable needs about 0 V); all 144 react with Li (e_rxn_li_eV_atom < 0)."
    """
    if preset not in PREMISES or not len(ranked):
        return ""
    column, test, threshold, meaning, reads = PREMISES[preset]
    if column not in ranked:
        return ""
    passed = passed_gates(ranked)
    rows, which = (ranked[passed], "that passed the gates") if passed.any() else (ranked, "")
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    if values.empty:
        return ""
    best = values.min() if test == "<=" else values.max()
    if (best <= threshold) if test == "<=" else (best >= threshold):
        return ""
    text = f"No candidate {which + ' ' if which else ''}{meaning}: {reads.format(value=best)}"
    if preset == "li-metal-anode" and "e_rxn_li_eV_atom" in rows:
        e_rxn = pd.to_numeric(rows["e_rxn_li_eV_atom"], errors="coerce").dropna()
        if len(e_rxn) and (e_rxn < 0).all():
            text += f"; all {len(e_rxn)} react with Li metal (e_rxn_li_eV_atom < 0)"
    return text + "."
