"""Tests of screening.descriptors.mechanics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from screening.descriptors.mechanics import (
    G_LI_GPA,
    MechanicsFeaturizer,
    MechanicsInputError,
    fracture_toughness_niu,
    fracture_toughness_niu_array,
    mechanics_descriptors,
    mechanics_descriptors_array,
    monroe_newman_ratio,
    poisson_ratio,
    pugh_ratio,
    youngs_modulus,
    youngs_modulus_array,
)
from screening.errors import ScreeningError


def test_diamond_fracture_toughness():
    assert fracture_toughness_niu(443, 535, 5.67) == pytest.approx(6.50, abs=0.01)


def test_isotropic_relations():
    K, G = 160.0, 80.0
    E = youngs_modulus(K, G)
    nu = poisson_ratio(K, G)
    assert E == pytest.approx(9 * K * G / (3 * K + G))
    assert E == pytest.approx(2 * G * (1 + nu))  # consistency of the two formulas
    assert E == pytest.approx(3 * K * (1 - 2 * nu))
    assert pugh_ratio(K, G) == 2.0
    assert monroe_newman_ratio(8.5) == pytest.approx(2.0)
    assert G_LI_GPA == 4.25


def test_descriptors_dict_keys_and_flags():
    d = mechanics_descriptors(30.0, 12.0, 15.4)  # a soft sulfide
    assert set(d) == {"K_VRH_GPa", "G_VRH_GPa", "E_GPa", "poisson_ratio", "pugh_ratio", "pugh_ductile",
                      "K_IC_MPa_m05", "G_over_G_Li", "monroe_newman_stable"}
    assert d["pugh_ductile"] == 1.0  # 2.5 > 1.75
    assert d["monroe_newman_stable"] == 1.0  # 12 > 8.5
    assert d["K_IC_MPa_m05"] == pytest.approx((15.4e-30) ** (1 / 6) * 12e9 * math.sqrt(2.5) / 1e6)


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), float("inf"), "abc", None])
def test_scalar_api_rejects_bad_input(bad):
    with pytest.raises(MechanicsInputError, match="G_GPa"):
        mechanics_descriptors(30.0, bad, 15.0)
    assert issubclass(MechanicsInputError, ScreeningError)


def test_bad_volume_rejected():
    with pytest.raises(MechanicsInputError, match="volume_per_atom_A3"):
        fracture_toughness_niu(30, 12, -3)


def test_vectorized_matches_scalar_and_nan_for_bad_rows():
    rng = np.random.default_rng(0)
    K = rng.uniform(10, 200, 100_000)
    G = rng.uniform(5, 120, 100_000)
    V = rng.uniform(8, 30, 100_000)
    K[:3] = [-1.0, np.nan, 50.0]
    G[2] = 0.0
    out = mechanics_descriptors_array(K, G, V)
    for key, values in out.items():
        assert values.shape == (100_000,)
        assert np.isnan(values[:3]).all(), key
    i = 10
    scalar = mechanics_descriptors(K[i], G[i], V[i])
    for key in scalar:
        assert out[key][i] == pytest.approx(scalar[key])
    assert youngs_modulus_array(K, G)[i] == pytest.approx(youngs_modulus(K[i], G[i]))
    assert fracture_toughness_niu_array(443, 535, 5.67) == pytest.approx(6.50, abs=0.01)


def test_mp_li2s_pinned():
    """Li2S (mp-1153, antifluorite): K = 40.49, G = 33.875 GPa from the MP elasticity set."""
    from screening.datasets import load_elastic_binaries

    binaries = load_elastic_binaries(structures=True)
    row = binaries[binaries["mp_id"] == "mp-1153"].iloc[0]
    s = row["structure"]
    d = mechanics_descriptors(row["K_VRH_GPa"], row["G_VRH_GPa"], s.volume / len(s))
    expected = (s.volume / len(s) * 1e-30) ** (1 / 6) * 33.875e9 * math.sqrt(40.49 / 33.875) / 1e6
    assert d["K_IC_MPa_m05"] == pytest.approx(expected)
    assert 0.4 < d["K_IC_MPa_m05"] < 0.7  # brittle, like measured sulfide electrolytes
    assert d["pugh_ductile"] == 0.0  # K/G = 1.2
    assert d["monroe_newman_stable"] == 1.0  # G = 33.9 GPa > 8.5 GPa


def test_featurizer_dataframe():
    df = pd.DataFrame({"K": [443.0, -1.0], "G": [535.0, 5.0], "V": [5.67, 10.0]})
    f = MechanicsFeaturizer()
    f.set_n_jobs(1)
    out = f.featurize_dataframe(df, ["K", "G", "V"], ignore_errors=True, return_errors=True, pbar=False)
    assert out.loc[0, "K_IC_MPa_m05"] == pytest.approx(6.50, abs=0.01)
    assert np.isnan(out.loc[1, "E_GPa"])
    assert "must be positive" in out.loc[1, "MechanicsFeaturizer Exceptions"]
