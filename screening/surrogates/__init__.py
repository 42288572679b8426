"""Surrogate models: training, evaluation, persistence (skops) and prediction with uncertainty.

Four composition-only models, each a :class:`ConformalRegressor` (a scikit-learn
regressor wrapped with split/cross conformal intervals) saved in ``models/<name>/``:

============================  ==========================  ====================================
name                          target                      data
============================  ==========================  ====================================
``conductivity``              ``log10_sigma_S_cm``        OBELiX official train split
``formation_energy``          ``formation_energy_eV_atom`` matbench mp_e_form (minus held-out)
``shear_modulus``             ``log10_G_VRH_GPa``         matbench elasticity (seeded split)
``bulk_modulus``              ``log10_K_VRH_GPa``         matbench elasticity (seeded split)
============================  ==========================  ====================================

Uncertainty: every prediction has an 80 % interval (``_lo80``/``_hi80``) and a standard
deviation (``_std`` = half-width / 1.2816, i.e. the Gaussian sigma of that interval).
Intervals are *Mondrian split-conformal*: absolute residuals of out-of-fold predictions on
the training data (grouped K-fold, or a held-out calibration part of train for the large
data set) give, for each coarse chemical family (sulfide, oxide, halide, ...), the
residual quantile with the finite-sample correction; families with too few calibration
rows use the pooled quantile. See :class:`ConformalRegressor`.

Predictions for new formulas go through :func:`predict`, which also derives the energy
above the reference hull, the electrochemical window and interface reaction energies
(:mod:`screening.descriptors.stability`) and the mechanical descriptors
(:mod:`screening.descriptors.mechanics`). Models are trained by :mod:`screening.training`.

The random forest of the walking skeleton (:mod:`.baseline`) is no longer a model: the
conductivity card reports it as a comparison (``mae_rf_magpie_baseline``).

Modules: :mod:`.features` (composition and structure features), :mod:`.conformal`
(intervals), :mod:`.persistence` (the one strict skops loader, :class:`Surrogate`),
:mod:`.cards` (:class:`ModelCard`), :mod:`.predict` (:func:`predict`), :mod:`.baseline`.
Every public name is re-exported here.
"""

from __future__ import annotations

import warnings
from typing import Any

from screening.surrogates.cards import CARD_SCHEMA_VERSION, ModelCard, json_default, new_card, render_card
from screening.surrogates.conformal import Z80, ConformalRegressor
from screening.surrogates.features import (
    ANION_FRAMEWORKS,
    CONDUCTIVITY_FEATURES,
    PROTOTYPES,
    coarse_family,
    element_fractions,
    feature_table,
    is_structure,
    prototype_of,
    structural_feature_labels,
    structure_descriptor_row,
)
from screening.surrogates.persistence import MODEL_NAMES, STRUCTURE_MODEL_NAME, Surrogate, load_model, load_models, load_skops
from screening.surrogates.predict import PREDICT_COLUMNS, predict
from screening.surrogates.structure import STRUCTURE_CONDUCTIVITY_COLUMNS, structure_conductivity

__all__ = [
    "STRUCTURE_CONDUCTIVITY_COLUMNS",
    "structure_conductivity",
    "ANION_FRAMEWORKS",
    "CARD_SCHEMA_VERSION",
    "CONDUCTIVITY_FEATURES",
    "MODEL_NAMES",
    "PREDICT_COLUMNS",
    "PROTOTYPES",
    "STRUCTURE_MODEL_NAME",
    "Z80",
    "ConformalRegressor",
    "ModelCard",
    "Surrogate",
    "coarse_family",
    "element_fractions",
    "feature_table",
    "is_structure",
    "json_default",
    "load_model",
    "load_models",
    "load_skops",
    "new_card",
    "predict",
    "prototype_of",
    "render_card",
    "structural_feature_labels",
    "structure_descriptor_row",
]


def __getattr__(name: str) -> Any:
    """Deprecated names: ``ConductivityBaseline`` (now :mod:`screening.surrogates.baseline` only)."""
    if name == "ConductivityBaseline":
        warnings.warn("screening.surrogates.ConductivityBaseline is deprecated: the random-forest baseline is no longer "
                      "a shipped model; import it from screening.surrogates.baseline", DeprecationWarning, stacklevel=2)  # fmt: skip
        from screening.surrogates.baseline import ConductivityBaseline

        return ConductivityBaseline
    if name in ("load_conductivity_baseline", "train_conductivity_baseline"):
        raise AttributeError(f"screening.surrogates.{name} was removed: models/conductivity_baseline is no longer shipped "
                             "(screens use models/conductivity; screening.surrogates.baseline.ConductivityBaseline fits the "
                             "comparison)")  # fmt: skip
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
