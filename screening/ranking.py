"""Ranking candidates: hard gates, one weighted term per failure mode, Pareto fronts as a note.

The design, and why (issue 10):

Gates (hard filters, on by default, each adjustable, each counted in :func:`gate_funnel`)
    ``e_hull_eV_atom <= 0.1`` eV/atom, on the **point value** by default. A solid
    electrolyte can be metastable (LGPS, Li7P3S11 sit up to a few 10 meV/atom above the
    hull) and 0.1 eV/atom is already the tolerance for that. The surrogate's
    ``e_hull_eV_atom_std`` is about 0.11 eV/atom for predicted compositions (0 for
    reference phases), so an upper-bound gate (``e_hull + z * std``) would keep only
    compositions already in the reference data; ``e_hull_z > 0`` does it for users who
    want exactly that. ``log10_sigma_S_cm_hi80 >= -5``: the upper end of the 80 %
    interval of the predicted conductivity must reach 1e-5 S/cm, so only candidates that
    cannot plausibly conduct are removed, uncertain ones stay. ``window_width_V >=
    0.001``: a zero-width window (decomposes at any voltage) is not an electrolyte.
    A row whose gate column is NaN (e.g. the stability tier was not run for it) is
    neither passed nor failed silently: ``passes_gates`` is False (it did not pass a
    check it never had) but ``gate_failed`` is empty, the column is listed in ``missing``,
    the row still gets a score and a Pareto front, and it is ranked after every row with
    complete data and before every row that failed a gate. Rows that cannot be ranked at all fail the pseudo-gates
    ``error`` (an ``error`` text) and ``no_objective`` (no objective value). A gate whose column is absent from the table is skipped and
    reported as not applied in the funnel.
Objectives: one term per failure mode (:data:`OBJECTIVES`)
    conductivity ``log10_sigma_S_cm`` (with ``kappa > 0``: the UCB ``+ kappa * std``);
    reduction ``window_low_V`` (lower is better: closer to Li metal); oxidation
    ``window_high_V`` (higher is better; ``inf`` = never oxidised, ranks best);
    mechanics ``K_IC_MPa_m05`` (fracture toughness; K_IC and G/G_Li have Spearman 0.99,
    so only one counts); moisture ``e_rxn_h2o_eV_atom`` (closer to 0 is better); cost
    ``cost_usd_per_kg`` (log scale). The reaction energies with Li and LiCoO2 and the
    window width are available as alternative objectives (weight 0 in every preset): they
    measure the same failure modes as the window edges. Monroe-Newman (G > 2 G_Li) is a
    threshold, not "more is better": it is the flag column ``monroe_newman_pass``.
Normalisation
    Each objective is turned into its percentile rank (0 worst, 1 best, ties averaged)
    over the rows that pass the gates, so a weight means the same for every term, outliers
    and ``inf`` do no harm and units drop out. ``normalise="robust_z"`` uses
    ``(x - median) / (1.4826 MAD)`` clipped to +-3 instead, which keeps magnitudes. The
    score is the weighted mean of the normalised terms a row has (weights renormalised).
Order
    ``passes_gates`` first, then ``complete``, then ``score``. The Pareto front
    (``pareto_rank``) is only an annotation: with six objectives a large share of rows is
    non-dominated, so the front separates little. It is computed over the rows that pass
    the gates, among rows with the same set of available objectives, with the scalable
    sort of :mod:`screening.pareto` (no row cap).
Presets (:data:`PRESETS`, :func:`resolve_preset`)
    ``balanced`` (default), ``conductivity-first``, ``li-metal-anode`` (reduction and
    mechanics weighted up), ``high-voltage-cathode`` (oxidation weighted up and gated at
    ``window_high_V >= 4.0`` V for 4 V cathodes). Free weights override a preset's.
Validation
    :func:`validate_weights`, :func:`validate_filters`, :func:`resolve_preset` raise
    :class:`~screening.errors.ScreeningError` naming the bad key before any work starts.
:func:`objective_correlations`
    Spearman correlation between every pair of objectives, to show redundancy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from screening import columns as registry
from screening.columns import E_HULL, PASSES, SIGMA, SIGMA_HI80, SIGMA_STD
from screening.errors import ScreeningError
from screening.pareto import pareto_ranks, pareto_ranks_reference

__all__ = [
    "Objective", "OBJECTIVES", "DEFAULT_OBJECTIVES", "DEFAULT_WEIGHTS", "DEFAULT_GATES", "UNCERTAINTY_COLUMNS",
    "Preset", "PRESETS", "KNOWN_COLUMNS", "resolve_preset", "validate_weights", "validate_filters",
    "apply_filters", "gate_funnel", "objective_correlations", "pareto_ranks", "pareto_ranks_reference", "rank",
    "RankedFrame", "DEPRECATED_COLUMNS", "passed_gates",
]  # fmt: skip


@dataclass(frozen=True)
class Objective:
    """One ranking term: a column, its direction (+1 higher is better, -1 lower), label, unit."""

    column: str
    direction: int
    label: str
    unit: str
    failure_mode: str
    log_scale: bool = False


#: every objective a weight may name, column -> :class:`Objective`
OBJECTIVES: dict[str, Objective] = {
    o.column: o
    for o in (
        Objective(SIGMA, +1, "ionic conductivity (log10)", "log10(S/cm)", "conductivity"),
        Objective("window_low_V", -1, "reduction limit", "V vs Li/Li+", "reduction"),
        Objective("window_high_V", +1, "oxidation limit", "V vs Li/Li+", "oxidation"),
        Objective("K_IC_MPa_m05", +1, "fracture toughness", "MPa m^0.5", "mechanics"),
        Objective("e_rxn_h2o_eV_atom", +1, "reaction energy with H2O (0 = inert)", "eV/atom", "moisture"),
        Objective("cost_usd_per_kg", -1, "raw-material cost", "USD/kg", "cost", log_scale=True),
        Objective("e_rxn_li_eV_atom", +1, "reaction energy with Li metal (0 = inert)", "eV/atom", "reduction"),
        Objective("e_rxn_licoo2_eV_atom", +1, "reaction energy with LiCoO2 (0 = inert)", "eV/atom", "oxidation"),
        Objective("window_width_V", +1, "electrochemical window width", "V", "reduction+oxidation"),
    )
}

#: the six default terms, one per failure mode: column -> direction
DEFAULT_OBJECTIVES: dict[str, int] = {
    c: OBJECTIVES[c].direction
    for c in (SIGMA, "window_low_V", "window_high_V", "K_IC_MPa_m05", "e_rxn_h2o_eV_atom", "cost_usd_per_kg")
}

#: objective -> column holding its standard deviation (used by the UCB score, ``kappa > 0``)
UNCERTAINTY_COLUMNS: dict[str, str] = {SIGMA: SIGMA_STD}

#: default gates, column -> (min, max) inclusive, None = unbounded
DEFAULT_GATES: dict[str, tuple[float | None, float | None]] = {
    E_HULL: (None, 0.1),
    SIGMA_HI80: (-5.0, None),
    "window_width_V": (0.001, None),
}


@dataclass(frozen=True)
class Preset:
    """Named weights and gates."""

    name: str
    description: str
    weights: dict[str, float]
    gates: dict[str, tuple[float | None, float | None]] = field(default_factory=lambda: dict(DEFAULT_GATES))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("balanced", "conductivity first, every failure mode counted",
               {SIGMA: 1.0, "window_low_V": 0.4, "window_high_V": 0.4, "K_IC_MPa_m05": 0.2,
                "e_rxn_h2o_eV_atom": 0.2, "cost_usd_per_kg": 0.2}),
        Preset("conductivity-first", "conductivity, the rest as tie-breakers",
               {SIGMA: 1.0, "window_low_V": 0.1, "window_high_V": 0.1, "K_IC_MPa_m05": 0.1,
                "e_rxn_h2o_eV_atom": 0.05, "cost_usd_per_kg": 0.05}),
        Preset("li-metal-anode", "against Li metal: reduction stability and toughness weighted up",
               {SIGMA: 1.0, "window_low_V": 1.0, "window_high_V": 0.1, "K_IC_MPa_m05": 0.5,
                "e_rxn_h2o_eV_atom": 0.1, "cost_usd_per_kg": 0.1}),
        Preset("high-voltage-cathode", "against a 4 V cathode: oxidation weighted up and gated at 4.0 V",
               {SIGMA: 1.0, "window_low_V": 0.1, "window_high_V": 1.0, "K_IC_MPa_m05": 0.2,
                "e_rxn_h2o_eV_atom": 0.1, "cost_usd_per_kg": 0.1},
               {**DEFAULT_GATES, "window_high_V": (4.0, None)}),
    )
}  # fmt: skip

#: default weights of the score (the ``balanced`` preset)
DEFAULT_WEIGHTS: dict[str, float] = dict(PRESETS["balanced"].weights)

#: columns a filter may name besides the objectives: the registry's filterable ones (:func:`screening.columns.filterable`)
KNOWN_COLUMNS: frozenset[str] = frozenset({*OBJECTIVES, *DEFAULT_GATES, *registry.filterable()})


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool)


def resolve_preset(name: str) -> Preset:
    """The :class:`Preset` called ``name``; ScreeningError listing the presets otherwise."""
    try:
        return PRESETS[str(name).strip().lower().replace("_", "-")]
    except KeyError:
        raise ScreeningError(f"unknown ranking preset {name!r}; presets are {', '.join(PRESETS)}") from None


def validate_weights(weights: Mapping[str, float] | None, objectives: Iterable[str] | None = None) -> dict[str, float]:
    """Check ``objective -> weight``: known objective, finite number >= 0. Returns a plain dict.

    Raises ScreeningError naming the first bad key (unknown objective, e.g. a typo, or a
    negative, NaN, infinite or non-numeric weight), or when every weight is 0 (with the
    default objectives; with explicit ``objectives`` zero weights rank them equally).
    """
    known = list(objectives) if objectives is not None else list(OBJECTIVES)
    out = {}
    for key, w in dict(weights or {}).items():
        if key not in known:
            raise ScreeningError(f"weight for unknown objective {key!r}; objectives are {', '.join(known)}")
        if not _is_number(w) or not math.isfinite(w) or w < 0:
            raise ScreeningError(f"weight of {key!r}: {w!r} is not a finite number >= 0")
        out[key] = float(w)
    if out and objectives is None and not any(w > 0 for w in out.values()):
        raise ScreeningError(f"every weight is 0 ({out}): give at least one objective a weight > 0, or no weights for the preset's")
    return out


def validate_filters(
    filters: Mapping[str, tuple[float | None, float | None]] | None, columns: Iterable[str] | None = None
) -> dict[str, tuple[float | None, float | None]]:
    """Check ``column -> (min, max)`` bounds (None: unbounded). Returns a plain dict of tuples.

    ``columns``: the columns allowed (default :data:`KNOWN_COLUMNS`, what a screen
    produces). Raises ScreeningError naming the bad key: unknown column (a typo such as
    ``window_with_V`` is refused, not ignored), bounds not a pair, a bound that is not a
    finite number or None, or min > max.
    """
    allowed = set(columns) if columns is not None else set(KNOWN_COLUMNS)
    out = {}
    for key, bounds in dict(filters or {}).items():
        if key not in allowed:
            raise ScreeningError(f"filter on unknown column {key!r}; columns are {', '.join(sorted(map(str, allowed)))}")
        try:
            low, high = bounds
        except (TypeError, ValueError):
            raise ScreeningError(f"filter on {key!r}: expected (min, max) with None for no bound, got {bounds!r}") from None
        for b in (low, high):
            if b is not None and not (_is_number(b) and math.isfinite(b)):
                raise ScreeningError(f"filter on {key!r}: bound {b!r} is not a finite number or None")
        if low is not None and high is not None and low > high:
            raise ScreeningError(f"filter on {key!r}: min {low} > max {high}")
        out[key] = (None if low is None else float(low), None if high is None else float(high))
    return out


def _gate_values(table: pd.DataFrame, column: str, e_hull_z: float) -> pd.Series:
    values = pd.to_numeric(table[column], errors="coerce").astype(float)
    if column == E_HULL and e_hull_z > 0 and f"{E_HULL}_std" in table:
        values = values + e_hull_z * pd.to_numeric(table["e_hull_eV_atom_std"], errors="coerce").fillna(0.0)
    return values


def _evaluate_gates(table: pd.DataFrame, gates: Mapping, e_hull_z: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per gate: ``fail`` and ``unchecked`` boolean frames (columns = gate columns present)."""
    fail, unchecked = {}, {}
    for column, (low, high) in gates.items():
        if column not in table or (low is None and high is None):
            continue
        v = _gate_values(table, column, e_hull_z)
        bad = pd.Series(False, index=table.index)
        if low is not None:
            bad |= v < low
        if high is not None:
            bad |= v > high
        fail[column], unchecked[column] = bad, v.isna()
    return pd.DataFrame(fail, index=table.index), pd.DataFrame(unchecked, index=table.index)


def apply_filters(table: pd.DataFrame, filters: Mapping[str, tuple[float | None, float | None]] | None) -> pd.Series:
    """Boolean mask of rows within every ``column: (min, max)`` bound (NaN: outside).

    Raises ScreeningError when a filter names a column that is not in ``table``.
    """
    checked = validate_filters(filters, columns=table.columns)
    fail, unchecked = _evaluate_gates(table, checked)
    return ~(fail | unchecked).any(axis=1) if len(fail.columns) else pd.Series(True, index=table.index)


def gate_funnel(table: pd.DataFrame, gates: Mapping | None = None, e_hull_z: float = 0.0) -> pd.DataFrame:
    """How many rows each gate removes, gates in order: one row per gate.

    Columns: ``gate`` (column), ``min``, ``max``, ``applied`` (False when the column is
    absent), ``in`` (rows that passed every gate above), ``failed`` (of those, rows outside
    the bound), ``unchecked`` (of those, rows with no value there: they do not pass either)
    and ``remaining`` (``in - failed - unchecked``). A row without a number never passes a
    gate, so the last ``remaining`` is the number of rows with every gate checked and passed.
    ``rank(...)`` stores the same rows in ``ranked.attrs["gate_funnel"]`` (a list of dicts).
    """
    gates = validate_filters(DEFAULT_GATES if gates is None else gates, columns=KNOWN_COLUMNS | set(table.columns))
    fail, unchecked = _evaluate_gates(table, gates, e_hull_z)
    rows, alive = [], pd.Series(True, index=table.index)
    for column, (low, high) in gates.items():
        applied = column in fail
        entered, failed, missing = int(alive.sum()), 0, 0
        if applied:
            failed = int((alive & fail[column]).sum())
            missing = int((alive & unchecked[column] & ~fail[column]).sum())
            alive &= ~fail[column] & ~unchecked[column]
        rows.append({"gate": column, "min": low, "max": high, "applied": applied, "in": entered, "failed": failed,
                     "unchecked": missing, "remaining": int(alive.sum())})  # fmt: skip
    return pd.DataFrame(rows, columns=["gate", "min", "max", "applied", "in", "failed", "unchecked", "remaining"])


def objective_correlations(table: pd.DataFrame, objectives: Iterable[str] | None = None) -> pd.DataFrame:
    """Spearman correlation between every pair of objective columns present in ``table``.

    Returns a long frame ``a, b, spearman, n`` (one row per pair, pairwise-complete rows,
    ``inf`` kept as the largest value), sorted by ``|spearman|`` descending.
    """
    cols = [c for c in (objectives or OBJECTIVES) if c in table]
    data = table[cols].apply(pd.to_numeric, errors="coerce")
    ranks = data.rank()
    rows = []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            both = ranks[[a, b]].dropna()
            rho = both[a].corr(both[b]) if len(both) > 2 else np.nan
            rows.append({"a": a, "b": b, "spearman": rho, "n": len(both)})
    out = pd.DataFrame(rows, columns=["a", "b", "spearman", "n"])
    return out.reindex(out["spearman"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _normalise(values: np.ndarray, ref: np.ndarray, how: str) -> np.ndarray:
    """Signed values (higher better) -> comparable terms, fitted on ``ref`` (rows passing the gates)."""
    out = np.full(len(values), np.nan)
    ok = ~np.isnan(values)
    ref = ref[~np.isnan(ref)]
    if not ok.any() or ref.size == 0:
        return out
    if how == "rank":
        s = np.sort(ref)
        below, upto = np.searchsorted(s, values[ok], "left"), np.searchsorted(s, values[ok], "right")
        out[ok] = (below + upto) / 2 / len(s)  # mid-rank percentile in [0, 1]
        return out
    finite = ref[np.isfinite(ref)]
    med = np.median(finite) if finite.size else 0.0
    mad = 1.4826 * np.median(np.abs(finite - med)) if finite.size else 0.0
    scale = mad if mad > 0 else (np.std(finite) if finite.size and np.std(finite) > 0 else 1.0)
    out[ok] = np.clip((values[ok] - med) / scale, -3.0, 3.0)
    return out


def _joined_names(flags: np.ndarray, names: list[str]) -> np.ndarray:
    """Per row of the boolean matrix ``flags``, the comma-joined ``names`` whose flag is set (each once, in order).

    One string per distinct pattern of flags, shared by its rows: a 10^6-row table has a
    handful of patterns, not a million strings.
    """
    flags = np.asarray(flags, dtype=bool).reshape(len(flags), len(names))
    patterns, inverse = np.unique(flags, axis=0, return_inverse=True)
    texts = np.array([",".join(dict.fromkeys(n for n, f in zip(names, row) if f)) for row in patterns] or [""], dtype=object)
    return texts[inverse.reshape(-1)] if len(flags) else np.array([], dtype=object)


def rank(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    filters: Mapping[str, tuple[float | None, float | None]] | None = None,
    objectives: Mapping[str, int] | None = None,
    kappa: float = 0.0,
    *,
    preset: str = "balanced",
    gates: bool = True,
    e_hull_z: float = 0.0,
    normalise: str = "rank",
    sort: bool = True,
) -> pd.DataFrame:
    """Rank a table of candidates: gates, weighted score, Pareto annotation.

    Parameters
    ----------
    table
        One row per candidate; objective and gate columns that are missing are skipped.
    weights
        ``objective -> weight >= 0`` (:data:`OBJECTIVES`, at least one > 0); None or ``{}``:
        the preset's weights. Given weights replace the preset's entirely.
    filters
        Extra ``column -> (min, max)`` bounds (None: unbounded), merged over the preset's
        gates (same column: the filter wins; ``(None, None)`` switches a gate off). A
        column not in ``table`` is an error.
    objectives
        ``column -> +1/-1`` to rank on other columns (default: the objectives of
        :data:`OBJECTIVES` with a weight > 0). All of them shape ``pareto_rank``.
    kappa
        ``>= 0``: conductivity becomes ``log10_sigma_S_cm + kappa * log10_sigma_S_cm_std``
        (column ``ucb_log10_sigma_S_cm``) in the score and the Pareto ranks.
    preset
        Name of a :data:`PRESETS` entry (weights and gates).
    gates
        False: no preset gates, only ``filters``.
    e_hull_z
        The e_hull gate applies to ``e_hull_eV_atom + e_hull_z * e_hull_eV_atom_std``.
    normalise
        ``"rank"`` (percentile, default) or ``"robust_z"`` (median/MAD, clipped +-3).
    sort
        ``True``: rows sorted best first. ``False``: rows in the input's order, the
        ``rank`` column giving the order (no copy of a 10^6-row table's data: the
        screening flow ranks whole runs this way).

    Ties (same gates, completeness and score) are ordered by ``candidate_id`` where the
    table has one, so the ranks do not depend on the order the rows came in.

    Returns
    -------
    DataFrame
        A :class:`RankedFrame`, sorted best first, with ``passes_gates`` (every gate checked
        and passed; ``passes_filters`` is its deprecated alias: it warns when read here, and the
        store's view keeps it as a column), ``gate_failed``
        (comma-separated gate columns the row fails, "" if none), ``complete`` (every gate
        and objective column has a value), ``missing`` (those that do not),
        ``monroe_newman_pass`` (G > 2 G_Li; NA without G_over_G_Li), ``score`` (weighted
        mean of the normalised terms; NaN for rows failing a gate), ``why`` (each weighted
        term's percentile and weight, largest contribution first, or the gates it fails;
        :func:`screening.shortlist.why_text`), ``pareto_rank``
        (1 = non-dominated among rows failing no gate that have the same available objectives;
        0 = not ranked) and ``rank`` (1 = best). ``attrs["gate_funnel"]``: :func:`gate_funnel` as records.

    Raises
    ------
    ScreeningError
        Unknown preset, objective or filter column, a bad weight or bound, ``kappa`` < 0,
        a direction other than +1/-1, or no objective in the table.
    """
    p = resolve_preset(preset)
    if objectives is not None:
        objectives = dict(objectives)
        for c, d in objectives.items():
            if d not in (1, -1):
                raise ScreeningError(f"objective {c!r}: direction {d!r} must be +1 (maximise) or -1 (minimise)")
        weights = validate_weights(weights if weights is not None else p.weights, objectives)
    else:
        weights = validate_weights(weights or p.weights)  # {} or None: the preset's
        objectives = {c: OBJECTIVES[c].direction for c, w in weights.items() if w > 0}
    for name, number in (("kappa", kappa), ("e_hull_z", e_hull_z)):
        if not (_is_number(number) and math.isfinite(number) and number >= 0):
            raise ScreeningError(f"{name}={number!r}: expected a finite number >= 0")
    if normalise not in ("rank", "robust_z"):
        raise ScreeningError(f"normalise={normalise!r}: expected 'rank' or 'robust_z'")
    used = [c for c in objectives if c in table]
    if not used:
        raise ScreeningError(f"none of the objectives {sorted(objectives)} is a column of the table")
    gate_bounds = {**(p.gates if gates else {}), **validate_filters(filters, columns=KNOWN_COLUMNS | set(table.columns))}

    out = table.copy(deep=False)  # columns are only added or replaced whole below: the caller's table is not changed
    fail, unchecked = _evaluate_gates(out, gate_bounds, e_hull_z)
    signed = np.empty((len(out), len(used)))
    for j, c in enumerate(used):
        v: np.ndarray = np.asarray(pd.to_numeric(out[c], errors="coerce"), dtype=float)
        std_col = UNCERTAINTY_COLUMNS.get(c)
        if kappa > 0 and std_col in out:
            v = v + objectives[c] * kappa * np.asarray(pd.to_numeric(out[std_col], errors="coerce"), dtype=float)
            out[f"ucb_{c}"] = v
        if c in OBJECTIVES and OBJECTIVES[c].log_scale:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
        signed[:, j] = v * objectives[c]
    missing_obj = np.isnan(signed)
    # rows that cannot be ranked at all fail a pseudo-gate: an error text, or no objective value
    if "error" in out:
        err = out["error"]
        fail["error"] = (err.notna() & (err.astype(str).str.strip() != "")).to_numpy()
    fail["no_objective"] = np.asarray(missing_obj.all(axis=1))
    passes = ~fail.any(axis=1).to_numpy()  # no gate failed (unchecked gates allowed): scored and ordered
    checked = ~unchecked.any(axis=1).to_numpy() if len(unchecked.columns) else np.ones(len(out), bool)
    out[PASSES] = passes & checked
    for deprecated, name in DEPRECATED_COLUMNS.items():  # passes_filters: RankedFrame warns when it is read; not stored
        out[deprecated] = out[name]
    out["gate_failed"] = _joined_names(fail.to_numpy(bool), list(fail.columns))
    miss_cols = [list(unchecked.columns), used]
    miss_mat = np.hstack([unchecked.to_numpy(bool).reshape(len(out), -1), missing_obj])
    names = miss_cols[0] + miss_cols[1]
    out["missing"] = _joined_names(miss_mat, names)
    out["complete"] = ~np.asarray(miss_mat.any(axis=1))
    if "G_over_G_Li" in out:
        g = pd.to_numeric(out["G_over_G_Li"], errors="coerce")
        out["monroe_newman_pass"] = pd.array([None if m else bool(p) for m, p in zip(g.isna(), g > 2.0)], dtype="boolean")

    terms = np.column_stack([_normalise(signed[:, j], signed[passes, j], normalise) for j in range(len(used))])
    w = np.array([weights.get(c, 0.0) for c in used])
    has = ~np.isnan(terms) & (w > 0)
    wsum = (has * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(has, terms, 0.0) @ w / np.where(wsum > 0, wsum, np.nan)
    if not (w > 0).any():  # no weight: rank on the objectives equally
        score = np.nanmean(np.where(np.isnan(terms), np.nan, terms), axis=1) if terms.size else score
    score[~passes] = np.nan
    out["score"] = score
    from screening.shortlist import why_text  # (the shortlist module reads OBJECTIVES from here)

    out["why"] = why_text(terms, used, w if (w > 0).any() else np.ones(len(used)), normalise=normalise,
                          gate_failed=out["gate_failed"].to_numpy(), missing=out["missing"].to_numpy())  # fmt: skip

    pr = np.zeros(len(out), dtype=int)
    idx = np.flatnonzero(passes & ~missing_obj.all(axis=1))
    if idx.size:
        patterns = pd.Series([r.tobytes() for r in missing_obj[idx]])
        for _, group in patterns.groupby(patterns).groups.items():
            rows = idx[np.asarray(group)]
            cols = ~missing_obj[rows[0]]
            pr[rows] = pareto_ranks(signed[np.ix_(rows, np.flatnonzero(cols))])
    out["pareto_rank"] = pr
    keys: tuple[np.ndarray, ...] = (-np.nan_to_num(score, nan=-np.inf), ~out["complete"].to_numpy(), ~passes)
    if "candidate_id" in out:  # ties by id: the same ranks whatever order the rows came in
        keys = (pd.factorize(out["candidate_id"], sort=True)[0], *keys)
    order = np.lexsort(keys)
    if sort:
        out = out.iloc[order].reset_index(drop=True)
        out["rank"] = np.arange(1, len(out) + 1)
    else:
        position = np.empty(len(out), dtype=np.int64)
        position[order] = np.arange(1, len(out) + 1)
        out["rank"] = position
    ranked = RankedFrame(out)  # (no copy of the columns)
    ranked.attrs.update(out.attrs)
    ranked.attrs["gate_funnel"] = gate_funnel(table, gate_bounds, e_hull_z).to_dict("records")
    return ranked


def passed_gates(ranked: pd.DataFrame) -> pd.Series:
    """Whether each row passed every gate: ``passes_gates``, or ``passes_filters`` of a table read from an
    older store; every row when the table has neither (missing values count as not passed)."""
    for column in ("passes_gates", "passes_filters"):
        if column in ranked.columns:
            values = pd.DataFrame.__getitem__(ranked, column)  # (the old name without the deprecation warning)
            return values.fillna(False).astype(bool)
    return pd.Series(True, index=ranked.index)


#: deprecated column names of :func:`rank`'s table -> their names now (the registry's: :func:`screening.columns.deprecated_names`)
DEPRECATED_COLUMNS = registry.deprecated_names()


class RankedFrame(pd.DataFrame):
    """The table :func:`rank` returns: a DataFrame whose deprecated columns (:data:`DEPRECATED_COLUMNS`)
    warn when read with ``ranked[...]``. Anything derived from it is a plain DataFrame."""

    @property
    def _constructor(self):  # slices, copies and results of operations: plain DataFrames, no warning
        return pd.DataFrame

    def __getitem__(self, key):
        keys = [key] if isinstance(key, str) else list(key) if isinstance(key, list | tuple) else []
        for old in (k for k in keys if isinstance(k, str) and k in DEPRECATED_COLUMNS):
            warnings.warn(f"rank()'s column {old!r} is deprecated: read {DEPRECATED_COLUMNS[old]!r} (the same values)",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
        return super().__getitem__(key)
