"""Mechanical descriptors from the isotropic bulk (K) and shear (G) moduli.

Scalar functions validate their input and raise :class:`MechanicsInputError` (a
:class:`~screening.errors.ScreeningError`) for negative, zero or NaN moduli; the
vectorised ``*_array`` functions accept numpy arrays (for example 100,000 surrogate
predictions at once) and return NaN wherever an input is invalid.

Formulas (isotropic elasticity):

* Young's modulus E = 9 K G / (3 K + G)
* Poisson's ratio nu = (3 K - 2 G) / (2 (3 K + G))
* Pugh's ratio K/G (S. F. Pugh, Phil. Mag. 45, 823 (1954)): ductile above about 1.75
* fracture toughness K_IC = V0^(1/6) G (K/G)^(1/2) alpha (H. Niu, S. Niu & A. R. Oganov,
  J. Appl. Phys. 125, 065105 (2019)), V0 the volume per atom in m^3, G in Pa, alpha = 1
  for non-metals (the electrolytes screened here), giving Pa m^0.5
* Monroe-Newman ratio G / G_Li with G_Li = 4.25 GPa (C. Monroe & J. Newman,
  J. Electrochem. Soc. 152, A396 (2005)): dendrite suppression needs G > ~2 G_Li.
"""

from __future__ import annotations

import math

import numpy as np
from matminer.featurizers.base import BaseFeaturizer

from screening.errors import ScreeningError

__all__ = [
    "G_LI_GPA",
    "MONROE_NEWMAN_THRESHOLD",
    "PUGH_DUCTILE_THRESHOLD",
    "MechanicsFeaturizer",
    "MechanicsInputError",
    "fracture_toughness_niu",
    "fracture_toughness_niu_array",
    "mechanics_descriptors",
    "mechanics_descriptors_array",
    "monroe_newman_ratio",
    "poisson_ratio",
    "poisson_ratio_array",
    "pugh_ratio",
    "pugh_ratio_array",
    "youngs_modulus",
    "youngs_modulus_array",
]

G_LI_GPA = 4.25  # shear modulus of Li metal used by Monroe & Newman (2005)
MONROE_NEWMAN_THRESHOLD = 2.0  # G / G_Li above which dendrites are mechanically suppressed
PUGH_DUCTILE_THRESHOLD = 1.75

FEATURE_LABELS = (
    "K_VRH_GPa",
    "G_VRH_GPa",
    "E_GPa",
    "poisson_ratio",
    "pugh_ratio",
    "pugh_ductile",
    "K_IC_MPa_m05",
    "G_over_G_Li",
    "monroe_newman_stable",
)


class MechanicsInputError(ScreeningError):
    """Moduli or volumes that are negative, zero, NaN or not numbers."""


def _check(name: str, value: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise MechanicsInputError(f"{name}={value!r}: not a number") from exc
    if math.isnan(x) or math.isinf(x):
        raise MechanicsInputError(f"{name}={value!r}: must be finite")
    if x <= 0:
        raise MechanicsInputError(f"{name}={value!r}: must be positive")
    return x


def _arrays(*values):
    arrays = [np.asarray(v, dtype=float) for v in values]
    arrays = np.broadcast_arrays(*arrays)
    bad = np.zeros(arrays[0].shape, dtype=bool)
    for a in arrays:
        bad |= ~np.isfinite(a) | (a <= 0)
    return [np.where(bad, np.nan, a) for a in arrays]


# -------------------------------------------------------------------- vectorised API


def youngs_modulus_array(K_GPa, G_GPa) -> np.ndarray:
    """Young's modulus E = 9KG/(3K+G) (GPa) for arrays; NaN where K or G is invalid."""
    K, G = _arrays(K_GPa, G_GPa)
    return 9.0 * K * G / (3.0 * K + G)


def poisson_ratio_array(K_GPa, G_GPa) -> np.ndarray:
    """Poisson's ratio (3K-2G)/(2(3K+G)) for arrays; NaN where K or G is invalid."""
    K, G = _arrays(K_GPa, G_GPa)
    return (3.0 * K - 2.0 * G) / (2.0 * (3.0 * K + G))


def pugh_ratio_array(K_GPa, G_GPa) -> np.ndarray:
    """Pugh's ratio K/G for arrays; NaN where K or G is invalid."""
    K, G = _arrays(K_GPa, G_GPa)
    return K / G


def fracture_toughness_niu_array(K_GPa, G_GPa, volume_per_atom_A3) -> np.ndarray:
    """Niu-Niu-Oganov fracture toughness (MPa m^0.5) for arrays; NaN where an input is invalid.

    K_IC = V0^(1/6) G (K/G)^(1/2) with V0 in m^3/atom and G in Pa (alpha = 1, non-metals).
    """
    K, G, V = _arrays(K_GPa, G_GPa, volume_per_atom_A3)
    v0_m3 = V * 1e-30
    return v0_m3 ** (1.0 / 6.0) * (G * 1e9) * np.sqrt(K / G) / 1e6


def mechanics_descriptors_array(K_GPa, G_GPa, volume_per_atom_A3) -> dict[str, np.ndarray]:
    """All mechanics descriptors for arrays (keys of ``FEATURE_LABELS``); NaN rows for invalid input."""
    K, G, V = _arrays(K_GPa, G_GPa, volume_per_atom_A3)
    pugh = K / G
    ratio = G / G_LI_GPA
    valid = np.isfinite(K)
    return {
        "K_VRH_GPa": K,
        "G_VRH_GPa": G,
        "E_GPa": youngs_modulus_array(K, G),
        "poisson_ratio": poisson_ratio_array(K, G),
        "pugh_ratio": pugh,
        "pugh_ductile": np.where(valid, (pugh > PUGH_DUCTILE_THRESHOLD).astype(float), np.nan),
        "K_IC_MPa_m05": fracture_toughness_niu_array(K, G, V),
        "G_over_G_Li": ratio,
        "monroe_newman_stable": np.where(valid, (ratio > MONROE_NEWMAN_THRESHOLD).astype(float), np.nan),
    }


# ------------------------------------------------------------------------ scalar API


def youngs_modulus(K_GPa: float, G_GPa: float) -> float:
    """Young's modulus E = 9KG/(3K+G) in GPa."""
    K, G = _check("K_GPa", K_GPa), _check("G_GPa", G_GPa)
    return 9.0 * K * G / (3.0 * K + G)


def poisson_ratio(K_GPa: float, G_GPa: float) -> float:
    """Poisson's ratio nu = (3K-2G)/(2(3K+G))."""
    K, G = _check("K_GPa", K_GPa), _check("G_GPa", G_GPa)
    return (3.0 * K - 2.0 * G) / (2.0 * (3.0 * K + G))


def pugh_ratio(K_GPa: float, G_GPa: float) -> float:
    """Pugh's ratio K/G (Pugh 1954): above about 1.75 the material tends to be ductile."""
    return _check("K_GPa", K_GPa) / _check("G_GPa", G_GPa)


def fracture_toughness_niu(K_GPa: float, G_GPa: float, volume_per_atom_A3: float) -> float:
    """Fracture toughness K_IC (MPa m^0.5) of a non-metal (Niu, Niu & Oganov, J. Appl. Phys. 125, 065105 (2019)).

    K_IC = V0^(1/6) G (K/G)^(1/2) alpha, V0 the volume per atom (m^3), G in Pa, alpha = 1.
    Diamond (K = 443 GPa, G = 535 GPa, 5.67 A^3/atom) gives 6.5 MPa m^0.5.
    """
    K, G = _check("K_GPa", K_GPa), _check("G_GPa", G_GPa)
    V = _check("volume_per_atom_A3", volume_per_atom_A3)
    return (V * 1e-30) ** (1.0 / 6.0) * (G * 1e9) * math.sqrt(K / G) / 1e6


def monroe_newman_ratio(G_GPa: float, G_Li_GPa: float = G_LI_GPA) -> float:
    """G / G_Li (Monroe & Newman, J. Electrochem. Soc. 152, A396 (2005)); > 2 suppresses dendrites."""
    return _check("G_GPa", G_GPa) / _check("G_Li_GPa", G_Li_GPa)


def mechanics_descriptors(K_GPa: float, G_GPa: float, volume_per_atom_A3: float) -> dict[str, float]:
    """All mechanics descriptors of one material.

    Returns
    -------
    dict
        ``K_VRH_GPa``, ``G_VRH_GPa``, ``E_GPa``, ``poisson_ratio``, ``pugh_ratio``,
        ``pugh_ductile`` (1.0 if K/G > 1.75), ``K_IC_MPa_m05``, ``G_over_G_Li``,
        ``monroe_newman_stable`` (1.0 if G > 2 G_Li).

    Raises
    ------
    MechanicsInputError
        A modulus or the volume is negative, zero, NaN or not a number.
    """
    K, G = _check("K_GPa", K_GPa), _check("G_GPa", G_GPa)
    V = _check("volume_per_atom_A3", volume_per_atom_A3)
    pugh = K / G
    ratio = G / G_LI_GPA
    return {
        "K_VRH_GPa": K,
        "G_VRH_GPa": G,
        "E_GPa": youngs_modulus(K, G),
        "poisson_ratio": poisson_ratio(K, G),
        "pugh_ratio": pugh,
        "pugh_ductile": float(pugh > PUGH_DUCTILE_THRESHOLD),
        "K_IC_MPa_m05": fracture_toughness_niu(K, G, V),
        "G_over_G_Li": ratio,
        "monroe_newman_stable": float(ratio > MONROE_NEWMAN_THRESHOLD),
    }


class MechanicsFeaturizer(BaseFeaturizer):
    """matminer featurizer over (K_GPa, G_GPa, volume_per_atom_A3) columns.

    Use ``featurize_dataframe(df, ["K_VRH_GPa", "G_VRH_GPa", "volume_per_atom_A3"])``;
    the output labels are prefixed with nothing, except that the two input moduli are
    not repeated.
    """

    def featurize(self, K_GPa: float, G_GPa: float, volume_per_atom_A3: float) -> list[float]:
        values = mechanics_descriptors(K_GPa, G_GPa, volume_per_atom_A3)
        return [values[k] for k in self.feature_labels()]

    def feature_labels(self) -> list[str]:
        return [k for k in FEATURE_LABELS if k not in ("K_VRH_GPa", "G_VRH_GPa")]

    def citations(self) -> list[str]:
        return [
            "@article{Niu2019, author={Niu, H. and Niu, S. and Oganov, A. R.}, title={Simple and accurate model of "
            "fracture toughness of solids}, journal={Journal of Applied Physics}, volume={125}, pages={065105}, "
            "year={2019}}",
            "@article{Monroe2005, author={Monroe, C. and Newman, J.}, title={The impact of elastic deformation on "
            "deposition kinetics at lithium/polymer interfaces}, journal={Journal of The Electrochemical Society}, "
            "volume={152}, pages={A396--A404}, year={2005}}",
            "@article{Pugh1954, author={Pugh, S. F.}, title={Relations between the elastic moduli and the plastic "
            "properties of polycrystalline pure metals}, journal={Philosophical Magazine}, volume={45}, "
            "pages={823--843}, year={1954}}",
        ]

    def implementors(self) -> list[str]:
        return ["screening project"]
