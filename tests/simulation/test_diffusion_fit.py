"""The Arrhenius fit and the quality checks of MD transport (no MD: synthetic diffusivities)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import SimulationError
from screening.simulation import arrhenius_fit, transport_quality
from screening.simulation.diffusion_fit import K_B_EV, nernst_einstein_S_cm

CELL = Structure(Lattice.cubic(4.0), ["Li", "Li", "Cl", "Cl"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def _d(temps, ea=0.3, d0=1e-3):
    return d0 * np.exp(-ea / (K_B_EV * np.asarray(temps, float)))


def test_arrhenius_fit_recovers_ea_and_the_300K_conductivity():
    temps = [700.0, 850.0, 1000.0]
    d = _d(temps)
    fit = arrhenius_fit(temps, d, 0.05 * d, CELL)
    assert fit["Ea_eV"] == pytest.approx(0.3, abs=1e-9)
    expected = math.log10(nernst_einstein_S_cm(float(_d([300.0])[0]), CELL, 300.0))
    assert fit["log10_sigma_S_cm"] == pytest.approx(expected, abs=1e-9)
    assert fit["reduced_chi2"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < fit["Ea_eV_std"] < 0.05 and fit["log10_sigma_S_cm_lo68"] < fit["log10_sigma_S_cm"] < fit["log10_sigma_S_cm_hi68"]


def test_arrhenius_errors_grow_with_the_diffusivity_errors():
    temps = [800.0, 1000.0]
    d = _d(temps)
    small, large = arrhenius_fit(temps, d, 0.02 * d, CELL), arrhenius_fit(temps, d, 0.2 * d, CELL)
    assert large["Ea_eV_std"] > 5 * small["Ea_eV_std"] and math.isnan(small["reduced_chi2"])


def test_arrhenius_fit_refuses_one_temperature_and_non_positive_diffusivity():
    with pytest.raises(SimulationError, match="two or more"):
        arrhenius_fit([800.0], [1e-5], [1e-6], CELL)
    with pytest.raises(SimulationError, match="non-positive"):
        arrhenius_fit([800.0, 1000.0], [1e-5, 0.0], [1e-6, 1e-6], CELL)


def test_quality_checks_pass_a_good_fit_and_name_each_failure():
    temps = [700.0, 850.0, 1000.0]
    d = _d(temps)
    fit = arrhenius_fit(temps, d, 0.05 * d, CELL)
    good = [{"ps": 20.0, "msd_final_A2": 30.0}] * 3
    assert transport_quality(good, fit) == {"ok": True, "reason": "pass"}
    short = transport_quality([{"ps": 2.0, "msd_final_A2": 30.0}] * 3, fit)
    assert not short["ok"] and "shorter" in short["reason"]
    still = transport_quality([{"ps": 20.0, "msd_final_A2": 1.0}] * 3, fit)
    assert not still["ok"] and "MSD" in still["reason"]
    bent = d * np.array([1.0, 3.0, 1.0])  # a kink the error bars cannot explain
    kinked = transport_quality(good, arrhenius_fit(temps, bent, 0.05 * bent, CELL))
    assert not kinked["ok"] and "Arrhenius" in kinked["reason"]
    assert not transport_quality(good[:1], None)["ok"]
