"""Readable tables of ranked candidates: a compact set of columns per preset, fixed decimals, units in the headers.

One table, two places: ``screening top`` prints it with `rich <https://rich.readthedocs.io>`_
(fitting :data:`WIDTH` = 160 characters: long cells wrap, they are never cut), and a run's
``top-candidates`` artifact shows the same columns (:func:`artifact_rows`), narrow enough for
a 1,280 px page.

The compact columns (:func:`compact_table`) are those a battery scientist reads first: rank,
formula, family, prototype, the conductivity the ranking used with its 80% interval, the
measured one where the run has it, e_hull, the window, the reaction energy the preset's cell
cares about (Li metal for ``li-metal-anode``, LiCoO2 for ``high-voltage-cathode``), K_IC, the
score and ``why`` where the view has it. Each quantity has one number format (decimals fixed
per column: no "0.000885" beside "1.16e-08"). ``extra`` columns (``--columns``) are added
after them, formatted the same way.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import pandas as pd

from screening.columns import SIGMA

__all__ = ["WIDTH", "DECIMALS", "compact_table", "compact_source_columns", "artifact_rows", "render", "format_value", "generic_table"]

#: the widest line ``screening top`` prints (characters)
WIDTH = 160

#: decimals of each quantity in every table (others: 3 significant digits)
DECIMALS: dict[str, int] = {
    SIGMA: 1, "ranked_log10_sigma_S_cm": 1, "log10_sigma_S_cm_lo80": 1, "log10_sigma_S_cm_hi80": 1,
    "log10_sigma_S_cm_std": 2, "measured_log10_sigma_S_cm": 1, "structure_log10_sigma_S_cm": 1,
    "e_hull_eV_atom": 3, "ranked_e_hull_eV_atom": 3, "e_hull_eV_atom_std": 3, "formation_energy_eV_atom": 3,
    "window_low_V": 2, "window_high_V": 2, "window_width_V": 2,
    "e_rxn_li_eV_atom": 3, "e_rxn_licoo2_eV_atom": 3, "e_rxn_h2o_eV_atom": 3,
    "K_IC_MPa_m05": 2, "G_VRH_GPa": 1, "K_VRH_GPa": 1, "G_over_G_Li": 2, "pugh_ratio": 2,
    "cost_usd_per_kg": 1, "score": 3, "conductivity_train_distance": 2,
}  # fmt: skip

#: the reaction energy a preset's cell is about: column, header
_PRESET_REACTION = {
    "li-metal-anode": ("e_rxn_li_eV_atom", "E_rxn Li\n(eV/atom)"),
    "high-voltage-cathode": ("e_rxn_licoo2_eV_atom", "E_rxn LiCoO2\n(eV/atom)"),
}

_SIGMA_HEADER = "log10 σ (S/cm)\n[80% interval]"


def format_value(value, column: str = "") -> str:
    """One cell: empty for NaN/None, ``inf``, fixed decimals for known quantities (:data:`DECIMALS`), else 3 significant digits."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        try:
            v = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if column in DECIMALS:
            return f"{v:.{DECIMALS[column]}f}"
        if float(v).is_integer() and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.3g}"
    return str(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _has(frame: pd.DataFrame, name: str) -> bool:
    return name in frame and bool(frame[name].notna().any())


def _sigma_cells(frame: pd.DataFrame) -> list[str]:
    """``-3.1 [-5.6, -0.6]`` (composition model, its 80% interval), ``-2.7 measured`` / ``-2.9 simulation`` otherwise."""
    value = frame["ranked_log10_sigma_S_cm"] if _has(frame, "ranked_log10_sigma_S_cm") else _column(frame, SIGMA)
    lo, hi, source = _column(frame, "log10_sigma_S_cm_lo80"), _column(frame, "log10_sigma_S_cm_hi80"), _column(frame, "conductivity_source")
    cells = []
    for v, a, b, s in zip(value, lo, hi, source):
        text = format_value(v, SIGMA)
        if text and isinstance(s, str) and s not in ("", "composition"):
            text += f" {s}"
        elif text and format_value(a) and format_value(b):
            text += f" [{format_value(a, 'log10_sigma_S_cm')}, {format_value(b, 'log10_sigma_S_cm')}]"
        cells.append(text)
    return cells


def _window_cells(frame: pd.DataFrame) -> list[str]:
    cells = []
    for a, b in zip(_column(frame, "window_low_V"), _column(frame, "window_high_V")):
        lo, hi = format_value(a, "window_low_V"), format_value(b, "window_high_V")
        cells.append(f"{lo}-{hi}" if lo or hi else "")
    return cells


def compact_source_columns(preset: str = "balanced") -> list[str]:
    """The ``ranked`` columns the compact table of ``preset`` reads (ask ``top`` for these)."""
    reaction = [_PRESET_REACTION[preset][0]] if preset in _PRESET_REACTION else []
    return ["rank", "candidate_id", "formula", "family", "prototype", "ranked_log10_sigma_S_cm", SIGMA,
            "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80", "conductivity_source", "measured_log10_sigma_S_cm",
            "ranked_e_hull_eV_atom", "e_hull_eV_atom", "window_low_V", "window_high_V", *reaction, "K_IC_MPa_m05",
            "score", "why"]  # fmt: skip


def compact_table(frame: pd.DataFrame, preset: str = "balanced", extra: Sequence[str] = ()) -> pd.DataFrame:
    """The compact table of ranked rows ``frame`` under ``preset``: text cells, headers with units, ``extra`` columns appended.

    Columns a frame does not have (no prototype for a CIF run, no ``why``, no measured value
    anywhere) are left out rather than shown empty.
    """
    out: dict[str, list[str]] = {}
    if "rank" in frame:
        out["rank"] = [format_value(v) for v in frame["rank"]]
    for name in ("formula", "family", "prototype"):
        if _has(frame, name):
            out[name] = [format_value(v) for v in frame[name]]
    out[_SIGMA_HEADER] = _sigma_cells(frame)
    if _has(frame, "measured_log10_sigma_S_cm"):
        out["measured\nlog10 σ"] = [format_value(v, SIGMA) for v in frame["measured_log10_sigma_S_cm"]]
    hull = "ranked_e_hull_eV_atom" if _has(frame, "ranked_e_hull_eV_atom") else "e_hull_eV_atom"
    out["e_hull\n(eV/atom)"] = [format_value(v, "e_hull_eV_atom") for v in _column(frame, hull)]
    out["window\n(V vs Li)"] = _window_cells(frame)
    if preset in _PRESET_REACTION and _PRESET_REACTION[preset][0] in frame:
        column, header = _PRESET_REACTION[preset]
        out[header] = [format_value(v, column) for v in frame[column]]
    out["K_IC\n(MPa m½)"] = [format_value(v, "K_IC_MPa_m05") for v in _column(frame, "K_IC_MPa_m05")]
    out["score\n(0-1)"] = [format_value(v, "score") for v in _column(frame, "score")]
    if _has(frame, "why"):
        out["why"] = [format_value(v) for v in frame["why"]]
    for name in extra:
        if name not in out:
            out[name] = [format_value(v, name) for v in _column(frame, name)]
    return pd.DataFrame(out, index=range(len(frame)))


def artifact_rows(frame: pd.DataFrame, preset: str = "balanced") -> list[dict]:
    """The compact table as the rows of a Prefect table artifact (header on one line -> text cell)."""
    table = compact_table(frame, preset)
    table.columns = [c.replace("\n", " ") for c in table.columns]
    return table.to_dict("records")


def render(table: pd.DataFrame, title: str | None = None, caption: str | None = None, width: int = WIDTH) -> str:
    """``table`` (text cells) as a rich table at most ``width`` characters wide; long cells wrap within their column."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left", pad_edge=False)
    for name in table.columns:
        numeric = str(name).split()[0] in ("rank", "log10", "e_hull", "E_rxn", "K_IC", "score", "measured")
        # a formula, a value with its interval and a window are read whole: the other columns (prototype, why) wrap first
        whole = name == "formula" or name == _SIGMA_HEADER or str(name).startswith("window")
        out.add_column(str(name), justify="right" if numeric else "left", overflow="fold", no_wrap=whole)
    for row in table.itertuples(index=False):
        out.add_row(*[str(v) for v in row])
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None, highlight=False).print(out)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def generic_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Any frame as text cells, each column in its one format (:func:`format_value`)."""
    return pd.DataFrame({c: [format_value(v, c) for v in frame[c]] for c in frame.columns}, index=range(len(frame)))
