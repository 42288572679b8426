"""Prediction of every property of formulas or structures, with uncertainty: :func:`predict`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element
from threadpoolctl import threadpool_limits

from screening import columns
from screening.chemistry import ELEMENTS, EXCLUDED_ELEMENTS, as_composition, check_charge_balance
from screening.descriptors.composition import magpie_labels
from screening.descriptors.stability import STABILITY_COLUMNS, reference_elements
from screening.errors import InvalidCompositionError, ModelNotFoundError, ScreeningError, UnsupportedChemistryError
from screening.surrogates.conformal import Z80
from screening.surrogates.features import (
    CONDUCTIVITY_FEATURES,
    PROTOTYPES,
    feature_table,
    is_structure,
    structure_descriptor_row,
)
from screening.surrogates.persistence import STRUCTURE_MODEL_NAME, Surrogate, load_model, load_models

#: columns of :func:`predict` (besides the input's own columns): :data:`screening.columns.PREDICT_COLUMNS`
PREDICT_COLUMNS = columns.PREDICT_COLUMNS



def _as_formula(item: Any) -> str:
    """A formula string from a formula, Composition, pymatgen Structure or ase Atoms."""
    if item is None or (isinstance(item, float) and math.isnan(item)):
        raise InvalidCompositionError("no formula (empty item)")
    if isinstance(item, str):
        return item
    if isinstance(item, Composition):
        return item.formula
    comp = getattr(item, "composition", None)
    if isinstance(comp, Composition):  # pymatgen Structure / Molecule (ordered or disordered)
        return comp.formula
    if hasattr(item, "get_chemical_formula"):  # ase Atoms
        return item.get_chemical_formula()
    raise InvalidCompositionError(f"cannot read a composition from a {type(item).__name__}")


def check_domain(formula: str) -> None:
    """Raise unless the models and the hull can describe ``formula``: every element in the
    reference data (:class:`~screening.errors.UnsupportedChemistryError` naming it), a lithium
    compound with at least one other element, no radioactive element
    (:data:`~screening.chemistry.EXCLUDED_ELEMENTS`: no stable isotope, so no electrolyte; the
    models would still give numbers for LiPuO2) and a charge balance some known oxidation
    states reach (InvalidCompositionError, as ``describe``)."""
    comp = as_composition(formula)
    symbols = {el.symbol for el in comp.elements}
    outside = sorted(symbols - reference_elements(), key=lambda s: Element(s).Z)
    if outside:
        raise UnsupportedChemistryError(
            f"{formula}: {', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the reference data "
            "(no Materials Project phase): neither the models nor the hull can describe it"
        )
    if "Li" not in symbols:
        raise UnsupportedChemistryError(f"{formula}: no lithium: the models predict Li-ion electrolytes only")
    if symbols == {"Li"}:
        raise UnsupportedChemistryError(f"{formula}: lithium only (a metal, not an electrolyte)")
    radioactive = sorted((s for s in symbols if EXCLUDED_ELEMENTS.get(s, "").startswith("radioactive")), key=lambda s: Element(s).Z)
    if radioactive:
        raise UnsupportedChemistryError(
            f"{formula}: {', '.join(radioactive)} {'is' if len(radioactive) == 1 else 'are'} radioactive "
            "(no stable isotope): not a practical electrolyte, not predicted"
        )
    check_charge_balance(formula)


def _join(*texts: str | None) -> str | None:
    parts = [t for t in texts if t]
    return "; ".join(parts) if parts else None


def predict(
    items: Sequence[Any] | pd.DataFrame,
    stability: bool = True,
    models_dir: str | Path | None = None,
    structure_model: bool | None = None,
    descriptors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every predicted property of formulas, structures or a table of candidates, with uncertainty.

    Parameters
    ----------
    items
        A list of formulas, pymatgen Compositions/Structures (ordered or disordered; the
        composition is used) or ase Atoms; or a DataFrame with a ``formula`` column (or a
        ``structure`` column), whose other columns (``candidate_id`` ...) are kept.
    stability
        Compute the hull, window and interface-reaction columns (about 50-200 ms per new
        chemical system, cached per system). ``False`` leaves them NaN, for huge batches.
    models_dir
        Where the trained models are (default ``settings.models_dir``).
    structure_model
        For items that are structures (pymatgen Structure, ase Atoms, or Structures in a
        DataFrame's ``structure`` column): predict the conductivity with the
        structure-aware model ``conductivity_structure`` (composition + structural
        descriptors). ``None`` (default): only when that model beat the composition model
        in repeated grouped cross-validation on the OBELiX train rows with a structure
        (``better_than_composition_in_cv`` in its card; the test rows are never used to choose). A structure whose descriptors fail (no Li, ...) or a missing model falls
        back to the composition model, without an error.
    descriptors
        Optional :func:`~screening.descriptors.composition.composition_table` of the same
        items, row for row: its Magpie and chemistry columns are reused instead of being
        computed again (the screening flow's tier 0 has computed them already).

    Returns
    -------
    DataFrame
        One row per item, in order, with :data:`PREDICT_COLUMNS`: the conductivity
        ``log10_sigma_S_cm`` (``_std``, ``_lo80``, ``_hi80``: 80 % conformal interval, its width
        specific to the candidate), ``conductivity_train_distance`` (the applicability
        domain: L1 distance in atomic fractions to the nearest composition the conductivity
        model was trained on; 0 = a training composition, above 0.05 = novel, where the
        test MAE is about 1.6 log units instead of 1.2),
        ``formation_energy_eV_atom`` (+ uncertainty), ``formation_energy_train_distance`` and
        ``moduli_train_distance`` (the same for the formation-energy and the elastic-moduli
        training sets, measured against the training compositions of the candidate's chemical
        system and its subsystems: 2 when the models saw no compound made of these elements
        only, see :class:`~screening.surrogates.domain.SubsystemDomain`), ``e_hull_eV_atom`` (from the DFT
        reference formation energy when the composition is in the reference data,
        ``e_hull_source = "reference"``, otherwise from the predicted one, ``"predicted"``),
        ``G_VRH_GPa``/``K_VRH_GPa`` (+ 80 % intervals, std of their log10), the Niu fracture
        toughness ``K_IC_MPa_m05``, ``pugh_ratio`` (K/G), ``G_over_G_Li`` (Monroe-Newman),
        the electrochemical window and reaction energies with Li, LiCoO2 and H2O, ``family``,
        ``prototype`` and ``error`` (None when every step worked). A bad item never raises:
        its row holds NaN and the reason in ``error``. When the input holds structures,
        one more column, ``conductivity_model`` (after ``log10_sigma_S_cm_hi80``), says which
        model gave the conductivity of each row: ``"structure"`` or ``"composition"`` (None
        when there is no prediction); formula-only input keeps exactly :data:`PREDICT_COLUMNS`.
    """
    if isinstance(items, pd.DataFrame):
        base = items.reset_index(drop=True).copy()
        if "formula" in base:
            raw = base["formula"].tolist()
            if "structure" in base:
                raw = [s if (f is None or (isinstance(f, float) and math.isnan(f))) and s is not None else f for f, s in zip(raw, base["structure"])]
        elif "structure" in base:
            raw = base["structure"].tolist()
        else:
            raise KeyError("predict(DataFrame): the table needs a 'formula' or a 'structure' column")
        structs = base["structure"].tolist() if "structure" in base else [None] * len(raw)
        base = base.drop(columns=[c for c in (*PREDICT_COLUMNS, "conductivity_model") if c in base and c != "formula"])
    else:
        if isinstance(items, (str, Composition)) or hasattr(items, "composition") or hasattr(items, "get_chemical_formula"):
            items = [items]
        raw = list(items)
        structs = raw
        base = pd.DataFrame(index=range(len(raw)))
    structs = [x if is_structure(x) else None for x in structs]
    formulas: list[str] = []
    errors: list[str | None] = []
    for item in raw:
        formula = ""
        try:
            formula = _as_formula(item)
            check_domain(formula)
            errors.append(None)
        except ScreeningError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        formulas.append(formula)
    models = load_models(models_dir)
    struct_model = None
    if any(x is not None for x in structs) and structure_model is not False:
        try:
            struct_model = load_model(STRUCTURE_MODEL_NAME, models_dir)
        except ModelNotFoundError:  # not trained (or unreadable): composition model for every row
            struct_model = None
        if struct_model is not None and structure_model is None and not struct_model.card.get("better_than_composition_in_cv", False):
            struct_model = None
    with threadpool_limits(limits=1):  # OpenMP spin-waits badly on shared machines; batches are small
        return _predict(raw, base, formulas, errors, models, stability, structs, struct_model, descriptors)


def _predict(raw, base, formulas, errors, models, stability, structs=None, struct_model=None, descriptors=None) -> pd.DataFrame:
    n = len(raw)
    out = pd.DataFrame(index=range(n))
    out["formula"] = [f if e is None else (f or None) for f, e in zip(formulas, errors)]
    # one feature pass per feature kind, reused by every model of that kind
    Xc, err_c, strata = feature_table(formulas, "conductivity", descriptors=descriptors)
    Xb = Xc[magpie_labels() + [f"frac_{s}" for s in ELEMENTS]]
    ok = np.array([e is None for e in err_c], dtype=bool) & np.array([e is None for e in errors], dtype=bool)
    errors = [e or c for e, c in zip(errors, err_c)]  # the first reason an item failed
    fam = np.asarray(strata, dtype=object).copy()
    fam[~ok] = None
    out["family"] = fam
    onehot = Xc[[f"proto_{p}" for p in PROTOTYPES]].to_numpy(float)
    found = ok & (np.nan_to_num(onehot).max(axis=1) == 1.0) if n else ok
    prototype = np.full(n, None, dtype=object)
    if n:
        prototype[found] = np.asarray(PROTOTYPES, dtype=object)[np.nan_to_num(onehot).argmax(axis=1)][found]
    out["prototype"] = prototype

    def run(name: str, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = models[name]
        mean = np.full(n, np.nan)
        lo, hi = mean.copy(), mean.copy()
        if ok.any():
            mean[ok], lo[ok], hi[ok] = m.regressor.predict_interval(X.to_numpy(float)[ok], strata[ok])
        return mean, lo, hi

    for name, col in (("conductivity", columns.SIGMA), ("formation_energy", "formation_energy_eV_atom")):
        mean, lo, hi = run(name, Xc if name == "conductivity" else Xb)
        out[col], out[f"{col}_std"], out[f"{col}_lo80"], out[f"{col}_hi80"] = mean, (hi - lo) / (2 * Z80), lo, hi
    fractions = Xc[[f"frac_{s}" for s in ELEMENTS]].to_numpy(float)
    known = np.where(ok[:, None], fractions, np.nan)
    for name, col in (("conductivity", "conductivity_train_distance"), ("formation_energy", "formation_energy_train_distance"),
                      ("shear_modulus", "moduli_train_distance")):  # fmt: skip
        out[col] = models[name].train_distance(known)
    conductivity_model = np.full(n, None, dtype=object)
    conductivity_model[np.isfinite(out[columns.SIGMA].to_numpy(float))] = "composition"
    if struct_model is not None:
        _structure_conductivity(out, Xc, strata, ok, structs, struct_model, conductivity_model)
    for name, sym in (("shear_modulus", "G"), ("bulk_modulus", "K")):
        mean, lo, hi = run(name, Xb)
        out[f"{sym}_VRH_GPa"], out[f"{sym}_VRH_GPa_lo80"], out[f"{sym}_VRH_GPa_hi80"] = 10**mean, 10**lo, 10**hi
        out[f"log10_{sym}_VRH_GPa_std"] = (hi - lo) / (2 * Z80)
    # volume per atom for Niu's K_IC: fraction-weighted elemental ground-state volume (Magpie)
    out["volume_per_atom_A3"] = np.where(ok, Xc["MagpieData mean GSvolume_pa"].to_numpy(float), np.nan)
    mech = _mechanics(out["K_VRH_GPa"].to_numpy(float), out["G_VRH_GPa"].to_numpy(float), out["volume_per_atom_A3"].to_numpy(float))
    for key in ("K_IC_MPa_m05", "pugh_ratio", "G_over_G_Li"):
        out[key] = mech[key]
    for key in ("e_hull_eV_atom", "e_hull_eV_atom_std", *STABILITY_COLUMNS):
        out[key] = np.nan
    for key in ("e_hull_source", "window_source"):
        out[key] = None
    out["e_hull_clipped"] = pd.array([None] * len(out), dtype="boolean")
    if stability:
        from screening.descriptors.stability import stability_table

        rows = np.flatnonzero(ok)
        table = stability_table(
            [formulas[i] for i in rows],
            out["formation_energy_eV_atom"].to_numpy(float)[rows],
            out["formation_energy_eV_atom_std"].to_numpy(float)[rows],
        )
        for col in ("e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_source", *STABILITY_COLUMNS):
            out.loc[rows, col] = table[col].to_numpy()
        for i, err in zip(rows, table["error"]):
            if err:
                errors[i] = _join(errors[i], err)
    out["error"] = errors
    order = list(PREDICT_COLUMNS)
    if structs is not None and any(x is not None for x in structs):
        out["conductivity_model"] = conductivity_model
        order.insert(order.index(columns.SIGMA_HI80) + 1, "conductivity_model")
    out = out[order]
    extra = base.drop(columns=[c for c in ("formula",) if c in base])
    return pd.concat([extra.reset_index(drop=True), out], axis=1)


def _structure_conductivity(out, Xc, strata, ok, structs, model: Surrogate, conductivity_model: np.ndarray) -> None:
    """Overwrite the conductivity columns of the structure rows with the structure-aware model (in place)."""
    from screening.surrogates.structure import STRUCTURE_CONDUCTIVITY_COLUMNS, estimate, structure_labels

    bvse = any(k.startswith("bvse_") for k in structure_labels(model))
    rows, feats = [], []
    for i, st in enumerate(structs):
        if st is None or not ok[i]:
            continue
        try:
            feats.append(structure_descriptor_row(st, bvse=bvse))
        except ValueError:  # ScreeningError (no Li, BVSE failed ...) or pymatgen's ValueError: keep the composition prediction
            continue
        rows.append(i)
    if not rows:
        return
    idx = np.asarray(rows)
    est = estimate(model, Xc.to_numpy(float)[idx][:, : len(CONDUCTIVITY_FEATURES)], np.asarray(strata)[idx], pd.DataFrame(feats))
    done = est[STRUCTURE_CONDUCTIVITY_COLUMNS[0]].notna().to_numpy()
    for src, dst in zip(STRUCTURE_CONDUCTIVITY_COLUMNS, (columns.SIGMA, columns.SIGMA_STD, columns.SIGMA_LO80, columns.SIGMA_HI80)):
        out.loc[idx[done], dst] = est[src].to_numpy()[done]
    conductivity_model[idx[done]] = "structure"


def _mechanics(K: np.ndarray, G: np.ndarray, V: np.ndarray) -> dict[str, np.ndarray]:
    """Niu K_IC, Pugh ratio and Monroe-Newman ratio (via :mod:`screening.descriptors.mechanics`)."""
    from screening.descriptors.mechanics import mechanics_descriptors_array

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        return mechanics_descriptors_array(K, G, V)
