"""Model features: composition (Magpie, element fractions, Li chemistry, family, prototype) and structure.

:func:`feature_table` is the one feature path of every composition model; the
structure-aware conductivity model adds :func:`structure_descriptor_row`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.chemistry import CHALCOGENS, COARSE_FAMILIES, ELEMENTS, HALOGENS, as_composition
from screening.descriptors.composition import LiChemistry, chemistry_descriptors, magpie_labels, magpie_table
from screening.errors import InvalidCompositionError

#: elements 1..94: columns of the element-fraction features
_EL_INDEX = {s: i for i, s in enumerate(ELEMENTS)}


#: the prototypes :func:`prototype_of` can return
PROTOTYPES = (
    "argyrodite", "LGPS", "thiophosphate", "sulfide-other", "antiperovskite", "NASICON", "phosphate", "garnet",
    "perovskite", "LISICON", "borate", "oxide-other", "halide", "nitride", "hydride", "other",
)  # fmt: skip



# --------------------------------------------------------------------------- features


def prototype_of(formula: str | Composition) -> str:
    """Guess the structure family (prototype) of a Li conductor from its composition alone.

    Rules on element set and stoichiometric ratios, written to reproduce the OBELiX
    family labels (which candidates lack): e.g. ``argyrodite`` = sulfide with P and a
    halogen (Li6PS5Cl), ``LGPS`` = sulfide with P and Ge/Si/Sn, ``NASICON`` = phosphate
    with O/P ~ 4 and (framework cations)/P ~ 2/3 (LiTi2(PO4)3), ``garnet`` = oxide with a
    large A cation (La, Y, Ba, ...) and O/(non-Li cations) ~ 2.4 (Li7La3Zr2O12),
    ``perovskite`` = oxide with La/Sr/Ca... and Ti/Nb/Ta/Zr, O/(all cations) ~ 1.5.
    On OBELiX it agrees with the curated family for about 90 % of the garnets, NASICONs,
    argyrodites and LGPS-type entries. One of :data:`PROTOTYPES`; raises
    :class:`~screening.errors.InvalidCompositionError` for an unparseable formula.
    """
    comp = as_composition(formula)
    amt = {el.symbol: float(a) for el, a in comp.items()}
    els = set(amt)
    li = amt.get("Li", 0.0)
    o = amt.get("O", 0.0)
    s = sum(amt.get(x, 0.0) for x in CHALCOGENS)
    hal = sum(amt.get(x, 0.0) for x in HALOGENS)
    if s > 0 and o < 3 * s:
        if "P" in els and hal > 0:
            return "argyrodite"
        if "P" in els and els & {"Ge", "Si", "Sn"}:
            return "LGPS"
        return "thiophosphate" if "P" in els else "sulfide-other"
    if o > 0:
        if hal > 0 and not els - {"Li", "O", "H"} - HALOGENS:
            return "antiperovskite"
        other = sum(a for e, a in amt.items() if e not in {"Li", "O", "F", "N", "H"})
        p = amt.get("P", 0.0) + amt.get("As", 0.0)
        if p > 0 and 3.3 < o / p < 4.6:
            tet = p + amt.get("Si", 0.0) + amt.get("S", 0.0)
            return "NASICON" if 0.45 < (other - tet) / tet < 0.85 else "phosphate"
        big_a = {"La", "Nd", "Y", "Pr", "Ce", "Sm", "Gd", "Ba", "Ca", "Sr"}
        if els & big_a and other > 0 and 2.2 < o / other < 2.6 and li / o > 0.35:
            return "garnet"
        if els & {"Ti", "Nb", "Ta", "Zr"} and els & {"La", "Sr", "Ca", "Nd", "Ba", "Pr"} and 1.2 < o / (other + li) < 1.8:
            return "perovskite"
        if els & {"Ge", "Si", "V", "Zn"} and "P" not in els:
            return "LISICON"
        return "borate" if "B" in els else "oxide-other"
    if hal > 0:
        return "halide"
    if "N" in els:
        return "nitride"
    return "hydride" if "H" in els else "other"


def element_fractions(comps: Sequence[Composition | None]) -> np.ndarray:
    """Atomic fractions of elements 1..94 (columns :data:`ELEMENTS`); NaN rows for ``None``."""
    out = np.zeros((len(comps), len(ELEMENTS)))
    for i, comp in enumerate(comps):
        if comp is None:
            out[i] = np.nan
            continue
        total = comp.num_atoms
        for el, a in comp.items():
            j = _EL_INDEX.get(el.symbol)
            if j is None:
                out[i] = np.nan
                break
            out[i, j] = a / total
    return out


def coarse_family(fractions: np.ndarray) -> np.ndarray:
    """Coarse anion family of each row of an element-fraction matrix (:data:`COARSE_FAMILIES`).

    Vectorised and cheap: ``sulfide`` (S/Se/Te, no O), ``oxide`` (O only), ``halide``
    (halogens only), ``nitride`` (N only), ``mixed-anion``, ``no-anion`` (intermetallics,
    hydrides, ...). NaN rows give ``"no-anion"``. Used as the strata of the conformal intervals.
    """
    f = np.nan_to_num(np.asarray(fractions, float))
    has = {s: f[:, _EL_INDEX[s]] > 0 for s in ("N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I")}
    chal = has["S"] | has["Se"] | has["Te"]
    hal = has["F"] | has["Cl"] | has["Br"] | has["I"]
    o, n = has["O"], has["N"]
    any_anion = chal | hal | o | n
    out = np.full(len(f), "mixed-anion", dtype=object)
    out[chal & ~o] = "sulfide"
    out[o & ~chal & ~hal & ~n] = "oxide"
    out[hal & ~chal & ~o & ~n] = "halide"
    out[n & ~chal & ~o & ~hal] = "nitride"
    out[~any_anion] = "no-anion"
    return out


def _parse_all(formulas: Sequence[Any]) -> tuple[list[Composition | None], list[str | None]]:
    comps: list[Composition | None] = []
    errors: list[str | None] = []
    for f in formulas:
        try:
            comp = as_composition(f)
            missing = [el.symbol for el in comp.elements if el.symbol not in _EL_INDEX]
            if missing:
                raise InvalidCompositionError(f"{f!r}: no model data for element(s) {', '.join(missing)} (Z > 94)")
            comps.append(comp)
            errors.append(None)
        except Exception as exc:
            comps.append(None)
            errors.append(f"{type(exc).__name__}: {exc}")
    return comps, errors


def _magpie_rows(comps: Sequence[Composition | None], errors: list[str | None]) -> np.ndarray:
    """Magpie matrix (NaN rows for bad items); a formula without Magpie data gets an error."""
    out = np.full((len(comps), len(magpie_labels())), np.nan)
    good = [(i, c) for i, c in enumerate(comps) if c is not None]
    if not good:
        return out
    try:
        out[[i for i, _ in good]] = magpie_table([c for _, c in good]).to_numpy(float)
    except InvalidCompositionError:
        for i, c in good:
            try:
                out[i] = magpie_table([c]).to_numpy(float)[0]
            except InvalidCompositionError as exc:
                errors[i] = f"{type(exc).__name__}: {exc}"
    return out


def feature_table(
    formulas: Sequence[Any], kind: str = "basic", descriptors: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str | None], np.ndarray]:
    """Model features of many formulas; bad formulas give NaN rows and an error text.

    Parameters
    ----------
    formulas
        Formula strings or pymatgen Compositions.
    kind
        ``"basic"``: Magpie statistics (132) + element fractions (94): vectorised, for the
        large training sets. ``"conductivity"``: basic + Li chemistry
        (:class:`~screening.descriptors.composition.LiChemistry`, NaN filled with -1) +
        one-hot coarse family + one-hot :func:`prototype_of`.
    descriptors
        Optional :func:`~screening.descriptors.composition.composition_table` of the same
        formulas, row for row (``check_balance=False``): its Magpie and chemistry columns
        and its errors are used instead of computing them again (tier 0 stores that table
        and predicts from it).

    Returns
    -------
    features, errors, strata
        The feature DataFrame (one row per input), the error text of each row (None when
        fine) and the coarse family of each row (conformal strata).
    """
    if kind not in ("basic", "conductivity"):
        raise ValueError(f"kind={kind!r}: expected 'basic' or 'conductivity'")
    comps, errors = _parse_all(list(formulas))
    if descriptors is not None:
        if len(descriptors) != len(comps):
            raise ValueError(f"descriptors has {len(descriptors)} rows for {len(comps)} formulas")
        errors = [e or (d if isinstance(d, str) else None) for e, d in zip(errors, descriptors["error"])]
        magpie = descriptors[magpie_labels()].to_numpy(float)
    else:
        magpie = _magpie_rows(comps, errors)
    fractions = element_fractions(comps)
    strata = coarse_family(fractions)
    parts = [pd.DataFrame(magpie, columns=magpie_labels()), pd.DataFrame(fractions, columns=[f"frac_{s}" for s in ELEMENTS])]
    if kind == "conductivity":
        labels = LiChemistry().feature_labels()
        chem = np.full((len(comps), len(labels)), np.nan) if descriptors is None else descriptors[labels].to_numpy(float)
        protos = np.full(len(comps), "", dtype=object)
        for i, comp in enumerate(comps):
            if comp is None or errors[i]:
                continue
            try:
                if descriptors is None:
                    d = chemistry_descriptors(comp)
                    chem[i] = [d[k] for k in labels]
                protos[i] = prototype_of(comp)
            except Exception as exc:
                errors[i] = f"{type(exc).__name__}: {exc}"
        parts.append(pd.DataFrame(chem, columns=labels))
        parts.append(pd.DataFrame({f"family_{f}": (strata == f).astype(float) for f in COARSE_FAMILIES}))
        parts.append(pd.DataFrame({f"proto_{p}": (protos == p).astype(float) for p in PROTOTYPES}))
    X = pd.concat(parts, axis=1)
    bad = np.array([e is not None for e in errors])
    X = X.fillna(-1.0)  # undefined descriptors (no anion, no Magpie value) -> -1, for every estimator
    X.loc[bad, :] = np.nan
    return X, errors, strata


#: feature names of the conductivity model
CONDUCTIVITY_FEATURES = list(feature_table(["Li3PS4"], kind="conductivity")[0].columns)


# --------------------------------------------------------------------------- structure features

#: anion-framework labels of :func:`screening.descriptors.structural.structural_descriptors` (one-hot)
ANION_FRAMEWORKS = ("bcc", "fcc", "hcp", "other")


def structural_feature_labels(bvse: bool = False) -> list[str]:
    """Names of the structure-only features of the ``conductivity_structure`` model."""
    from screening.descriptors.structural import FEATURE_LABELS

    labels = [f"struct_{k}" for k in FEATURE_LABELS if k != "anion_framework"]
    labels += [f"struct_anion_framework_{a}" for a in ANION_FRAMEWORKS]
    if bvse:
        from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS

        labels += list(BVSE_LABELS)
    return labels


#: stand-in for an infinite descriptor (no percolating path, ...): trees only see the order
_BIG = 1.0e6


def _finite(value: Any) -> float:
    """``float(value)`` with +-inf replaced by +-:data:`_BIG` (NaN stays NaN)."""
    v = float(value)
    return math.copysign(_BIG, v) if math.isinf(v) else v


def structure_descriptor_row(structure: Any, bvse: bool = False) -> dict[str, float]:
    """Structure-only features of one structure (pymatgen Structure or ase Atoms).

    Raises when the structural descriptors cannot be computed (no Li, unreadable
    structure, ...). A failed BVSE barrier gives NaN (the tree models take it); an infinite
    value (no percolating path) becomes +-1e6.
    """
    from screening.descriptors.structural import structural_descriptors

    if not hasattr(structure, "lattice") and hasattr(structure, "get_cell"):  # ase Atoms
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    d = structural_descriptors(structure)
    barriers = None
    if bvse:
        from screening.descriptors.bondvalence import bondvalence_descriptors

        try:
            barriers = bondvalence_descriptors(structure)
        except Exception:
            barriers = {}
    return structure_feature_row(d, barriers)


def structure_feature_row(descriptors: dict[str, Any], barriers: dict[str, float] | None = None) -> dict[str, float]:
    """The model features of :func:`structure_descriptor_row` from descriptors already computed.

    ``descriptors``: :func:`screening.descriptors.structural.structural_descriptors` of the
    structure; ``barriers``: its :func:`screening.descriptors.bondvalence.bondvalence_descriptors`
    (None: no BVSE features; a dict without them, e.g. ``{}`` after a failed BVSE: NaN). For
    a caller that keeps the descriptors too (the structure tier of a screen) and so computes them once.
    """
    from screening.descriptors.structural import FEATURE_LABELS

    row = {f"struct_{k}": _finite(descriptors[k]) for k in FEATURE_LABELS if k != "anion_framework"}
    for a in ANION_FRAMEWORKS:
        row[f"struct_anion_framework_{a}"] = float(descriptors.get("anion_framework") == a)
    if barriers is not None:
        from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS

        row.update({k: _finite(barriers[k]) if k in barriers else float("nan") for k in BVSE_LABELS})
    return row


def is_structure(item: Any) -> bool:
    """True for a pymatgen Structure (ordered or disordered) or an ase Atoms object."""
    return (hasattr(item, "lattice") and isinstance(getattr(item, "composition", None), Composition)) or (
        hasattr(item, "get_cell") and hasattr(item, "get_chemical_formula")
    )

