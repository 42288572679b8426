"""Composition descriptors: Magpie statistics and the chemistry of the Li and anion sublattices.

Everything here needs only a formula, so it is the tier-0 workhorse (target: over 1,000
formulas a second on one core).

* :func:`magpie_table` computes matminer's Magpie preset (Ward et al., npj Comput. Mater.
  2, 16028 (2016)): 22 elemental properties x 6 statistics (minimum, maximum, range,
  mean, avg_dev, mode) with matminer's own element data and definitions, vectorised over
  many formulas. Column names are matminer's (``"MagpieData mean Number"``), so a model
  trained on ``ElementProperty.from_preset("magpie")`` output reads them unchanged; the
  tests check the two agree.
* :func:`chemistry_descriptors` - Li atomic fraction, Li per anion, the anion set and its
  mean electronegativity, the mean cation oxidation state implied by charge balance,
  ionic-radius statistics and the family label.

Anion policy: the anions are the elements among N, O, F, S, Cl, Se, Br, Te, I present in
the formula (H, P, As, Sb ... are anions only when none of those is present: then the
most electronegative element is taken, as in Li3P or LiH). S, Se and Te count as cations
when there are at least three O atoms for each (sulfates, tellurates: ``Li6.5La3Zr1.75Te0.25O12``). Anions carry their most
negative common oxidation state (O -2, S -2, Cl -1, N -3 ...). With that, the mean cation
oxidation state is fixed by charge neutrality without guessing each cation's state.

Family policy (:func:`family_of`): ``sulfide`` when S/Se/Te are anions and O is not
(halide co-anions allowed: argyrodites are sulfides); ``oxide`` when O is the only anion;
``halide`` when only halogens; ``nitride`` when only N; otherwise ``mixed-anion``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Composition, Element

from screening.chemistry import (  # noqa: F401  (re-exported: the public names of this module)
    ANION_CHARGES,
    _anion_charge,
    _electronegativity,
    amounts_of,
    anions_of,
    as_composition,
    check_charge_balance,
    family_from_anions,
    family_of,
)
from screening.errors import InvalidCompositionError

__all__ = [
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "magpie_labels",
    "magpie_table",
    "anions_of",
    "family_of",
    "check_charge_balance",
    "chemistry_descriptors",
    "composition_descriptors",
    "composition_table",
    "FastMagpie",
    "LiChemistry",
]

MAGPIE_PROPERTIES = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
    "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence",
    "NsUnfilled", "NpUnfilled", "NdUnfilled", "NfUnfilled", "NUnfilled", "GSvolume_pa",
    "GSbandgap", "GSmagmom", "SpaceGroupNumber",
)  # fmt: skip
MAGPIE_STATS = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")



def magpie_labels() -> list[str]:
    """Column names of :func:`magpie_table`, identical to matminer's Magpie preset."""
    return [f"MagpieData {s} {p}" for p in MAGPIE_PROPERTIES for s in MAGPIE_STATS]


@lru_cache(maxsize=1)
def _magpie_matrix() -> tuple[dict[str, int], np.ndarray]:
    """Element index and the (n_elements, n_properties) matrix of matminer's Magpie data."""
    from matminer.utils.data import MagpieData

    data = MagpieData().all_elemental_props
    symbols = list(data[MAGPIE_PROPERTIES[0]].keys())
    index = {s: i for i, s in enumerate(symbols)}
    matrix = np.array([[data[p].get(s, np.nan) for p in MAGPIE_PROPERTIES] for s in symbols], dtype=float)
    return index, matrix


def _fraction_matrix(comps: Sequence[dict[str, float]], index: dict[str, int]) -> np.ndarray:
    fractions = np.zeros((len(comps), len(index)))
    for row, amounts in enumerate(comps):
        total = sum(amounts.values())
        for el, amt in amounts.items():
            fractions[row, index[el]] = amt / total
    return fractions


def magpie_table(formulas: Iterable[str | Composition]) -> pd.DataFrame:
    """Magpie statistics of many formulas at once (matminer definitions, vectorised).

    Raises :class:`InvalidCompositionError` naming the first bad formula; use
    :func:`composition_table` for per-row error capture.
    """
    index, props = _magpie_matrix()
    comps = []
    for f in formulas:
        comp = as_composition(f)
        amounts = {el.symbol: amt for el, amt in comp.items()}
        missing = [el for el in amounts if el not in index]
        if missing:
            raise InvalidCompositionError(f"{f!r}: no Magpie data for {', '.join(missing)}")
        comps.append(amounts)
    frac = _fraction_matrix(comps, index)
    present = frac > 0
    # (n_formulas, n_elements, n_props) would be large; work property by property.
    n, n_props = len(comps), props.shape[1]
    out = np.empty((n, n_props, len(MAGPIE_STATS)))
    for j in range(n_props):
        p = props[:, j]
        pmat = np.where(present, p[None, :], np.nan)
        mean = frac @ np.nan_to_num(p)
        # a missing property on a present element makes matminer's statistics NaN too
        has_nan = (present & np.isnan(p)[None, :]).any(axis=1)
        with np.errstate(all="ignore"):
            mn = np.nanmin(np.where(present, p[None, :], np.inf), axis=1)
            mx = np.nanmax(np.where(present, p[None, :], -np.inf), axis=1)
            avg_dev = np.nansum(frac * np.abs(pmat - mean[:, None]), axis=1)
            top = np.isclose(frac, frac.max(axis=1, keepdims=True)) & present
            mode = np.nanmin(np.where(top, p[None, :], np.inf), axis=1)
        stats = np.stack([mn, mx, mx - mn, mean, avg_dev, mode], axis=1)
        stats[has_nan] = np.nan
        out[:, j, :] = stats
    return pd.DataFrame(out.reshape(n, -1), columns=magpie_labels())


# ----------------------------------------------------------------- chemistry


@lru_cache(maxsize=None)
def _radius(symbol: str, anion: bool) -> float:
    el = Element(symbol)
    r = el.average_anionic_radius if anion else el.average_cationic_radius
    return float(r) if r else float("nan")


def chemistry_descriptors(formula: str | Composition) -> dict[str, object]:
    """Li and anion chemistry of a composition.

    Keys: ``n_elements``, ``li_fraction`` (atomic fraction of Li), ``li_per_anion``,
    ``anions`` (e.g. ``"Cl,S"``), ``n_anion_species``, ``anion_electronegativity_mean``
    (Pauling, fraction-weighted over anions), ``cation_oxidation_state_mean`` (from charge
    neutrality with the anion charges of :data:`ANION_CHARGES`), ``cation_radius_mean_A``,
    ``cation_radius_std_A``, ``anion_radius_mean_A`` (pymatgen's average ionic radii, A),
    ``radius_ratio`` (mean cation / mean anion radius), ``family``.
    """
    amounts = amounts_of(as_composition(formula))
    anions = anions_of(amounts)
    n_anion = sum(amounts[a] for a in anions)
    cations = [s for s in amounts if s not in anions]
    n_cation = sum(amounts[c] for c in cations)
    li = amounts.get("Li", 0.0)
    anion_charge = -sum(_anion_charge(a) * amounts[a] for a in anions)
    # amount-weighted radius statistics in plain Python: tier 0 calls this once per
    # candidate, and numpy's per-call overhead was most of its cost
    sized = [(_radius(c, False), amounts[c]) for c in cations]
    sized = [(r, w) for r, w in sized if r == r]
    weight = sum(w for _, w in sized)
    if sized and weight > 0:
        r_mean = sum(r * w for r, w in sized) / weight
        r_std = math.sqrt(sum((r - r_mean) ** 2 * w for r, w in sized) / weight)
    else:
        r_mean = r_std = float("nan")
    an_w = [amounts[a] for a in anions]
    an_total = sum(an_w)
    an_r = sum(_radius(a, True) * w for a, w in zip(anions, an_w)) / an_total if anions else float("nan")
    an_x = sum(_electronegativity(a) * w for a, w in zip(anions, an_w)) / an_total if anions else float("nan")
    return {
        "n_elements": len(amounts),
        "li_fraction": float(li / sum(amounts.values())),
        "li_per_anion": float(li / n_anion) if n_anion else float("nan"),
        "anions": ",".join(sorted(anions)),
        "n_anion_species": len(anions),
        "anion_electronegativity_mean": float(an_x),
        "cation_oxidation_state_mean": float(anion_charge / n_cation) if n_cation else float("nan"),
        "cation_radius_mean_A": r_mean,
        "cation_radius_std_A": r_std,
        "anion_radius_mean_A": float(an_r),
        "radius_ratio": r_mean / an_r if an_r and math.isfinite(an_r) else float("nan"),
        "family": family_from_anions(anions),
    }


def composition_descriptors(formula: str | Composition) -> dict[str, object]:
    """All composition descriptors of one formula: chemistry plus Magpie statistics."""
    check_charge_balance(formula)
    out = chemistry_descriptors(formula)
    out.update({str(k): v for k, v in magpie_table([formula]).iloc[0].to_dict().items()})
    return out


def composition_table(formulas: Iterable[str | Composition], check_balance: bool = True) -> pd.DataFrame:
    """Composition descriptors of many formulas; a bad row gets NaN and an ``error`` text.

    The result has one row per input, in order, with ``formula`` (as given), every key of
    :func:`chemistry_descriptors`, the Magpie columns and ``error`` (None when fine).
    """
    formulas = list(formulas)
    rows: list[dict] = []
    good: list = []
    errors: list[str | None] = []
    for f in formulas:
        try:
            if check_balance:
                check_charge_balance(f)
            rows.append(chemistry_descriptors(f))
            good.append(f)
            errors.append(None)
        except Exception as exc:
            rows.append({})
            errors.append(f"{type(exc).__name__}: {exc}")
    chem = pd.DataFrame(rows, index=range(len(formulas)))
    magpie = pd.DataFrame(np.nan, index=range(len(formulas)), columns=magpie_labels())
    ok_rows = [i for i, e in enumerate(errors) if e is None]
    if ok_rows:
        try:
            magpie.iloc[ok_rows] = magpie_table(good).to_numpy()
        except InvalidCompositionError:  # one formula lacks Magpie data: go row by row
            for i in ok_rows:
                try:
                    magpie.iloc[i] = magpie_table([formulas[i]]).to_numpy()[0]
                except InvalidCompositionError as exc:
                    errors[i] = f"{type(exc).__name__}: {exc}"
    out = pd.concat([pd.Series(formulas, name="formula"), chem, magpie], axis=1)
    out["error"] = errors
    return out


# ----------------------------------------------------------------- featurizers


class FastMagpie(BaseFeaturizer):
    """Magpie statistics as a matminer featurizer (same labels as ``ElementProperty.from_preset("magpie")``)."""

    def featurize(self, comp):
        return magpie_table([comp]).iloc[0].tolist()

    def feature_labels(self):
        return magpie_labels()

    def citations(self):
        return [
            "@article{ward_magpie_2016, title={A general-purpose machine learning framework for predicting "
            "properties of inorganic materials}, author={Ward, L. and Agrawal, A. and Choudhary, A. and "
            "Wolverton, C.}, journal={npj Computational Materials}, volume={2}, pages={16028}, year={2016}}"
        ]

    def implementors(self):
        return ["screening developers (vectorised re-implementation over matminer's MagpieData)"]


class LiChemistry(BaseFeaturizer):
    """Li and anion chemistry of a composition (numeric keys of :func:`chemistry_descriptors`)."""

    _labels = (
        "n_elements", "li_fraction", "li_per_anion", "n_anion_species", "anion_electronegativity_mean",
        "cation_oxidation_state_mean", "cation_radius_mean_A", "cation_radius_std_A", "anion_radius_mean_A",
        "radius_ratio",
    )  # fmt: skip

    def featurize(self, comp):
        d = chemistry_descriptors(comp)
        return [d[k] for k in self._labels]

    def feature_labels(self):
        return list(self._labels)

    def citations(self):
        return []

    def implementors(self):
        return ["screening developers"]
