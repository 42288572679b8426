"""Li diffusivity with its uncertainty (kinisi), the Arrhenius fit over temperatures, and quality checks.

:func:`kinisi_diffusion` - Li tracer diffusivity from MD snapshots with kinisi's Bayesian
regression of the mean-squared displacement (it models the covariance between time lags,
so the credible interval is an honest statistical error, unlike an ordinary least-squares
fit of correlated MSD points). The diffusive regime is taken to start at ``start_ps``
(default 1 ps, past the ballistic and vibrational part).

:func:`arrhenius_fit` - weighted straight line of ln D against 1/T (weights from each D's
std), Ea with its std, D and sigma at 300 K (Nernst-Einstein, Haven ratio 1) with a 68 %
interval of log10 sigma propagated from the fit's covariance.

:func:`transport_quality` - the checks a fit must pass before the ranking uses it
(see :data:`QUALITY`): every run long enough, the Li MSD at the end at least a few hop
lengths squared (diffusion, not vibration), the Arrhenius line consistent with the points.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure

from screening.columns import SIGMA
from screening.errors import SimulationError

K_B_EV = 8.617333262e-5
#: quality checks: minimum production length per temperature (ps), minimum Li MSD at the end of
#: every run (A^2; about one hop of ~2.5 A per Li on average: below it the 'diffusivity' is vibration), at least two
#: temperatures, and the reduced chi^2 of the Arrhenius line below a limit (linear in 1/T)
QUALITY = {"min_ps": 10.0, "min_msd_A2": 6.0, "min_temperatures": 2, "max_reduced_chi2": 4.0}


def kinisi_diffusion(snapshots: list[Structure], temperature_K: float, timestep_fs: float, sample_every: int,
                     start_ps: float = 1.0, seed: int = 0) -> dict:  # fmt: skip
    """Li diffusivity (cm^2/s) from MD snapshots with kinisi: median, std and 68 % interval of the posterior.

    Keys: ``D_cm2_s``, ``D_cm2_s_std``, ``D_cm2_s_lo68``, ``D_cm2_s_hi68``, ``msd_final_A2``
    (Li MSD at the longest lag with good statistics: half the run). Raises
    :class:`SimulationError` without Li or when the run is shorter than ``2 * start_ps``.
    """
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer
    from pymatgen.io.ase import AseAtomsAdaptor

    if not snapshots or "Li" not in {el.symbol for el in snapshots[0].composition.elements}:
        raise SimulationError("kinisi_diffusion: no snapshots, or no Li to diffuse")
    total_ps = (len(snapshots) - 1) * timestep_fs * sample_every / 1000.0
    if total_ps < 2 * start_ps:
        raise SimulationError(f"{snapshots[0].composition.reduced_formula}: {total_ps:.2f} ps of MD, need >= {2 * start_ps:g} ps")
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in snapshots]
    da = DiffusionAnalyzer.from_ase(atoms, specie="Li", time_step=sc.scalar(timestep_fs, unit="fs"),
                                    step_skip=sc.scalar(sample_every), progress=False)  # fmt: skip
    da.diffusion(sc.scalar(start_ps * 1000.0, unit="fs"), progress=False, random_state=np.random.RandomState(seed))
    samples = np.asarray(da.D.to(unit="cm^2/s").values, float)
    msd = np.asarray(da.msd.values, float)
    lags = np.asarray(da.da.coords["time interval"].to(unit="fs").values, float)
    half = msd[np.searchsorted(lags, lags[-1] / 2.0)] if len(lags) else float("nan")
    lo, med, hi = np.percentile(samples, [16, 50, 84])
    return {"D_cm2_s": float(med), "D_cm2_s_std": float(np.std(samples)), "D_cm2_s_lo68": float(lo),
            "D_cm2_s_hi68": float(hi), "msd_final_A2": float(half)}  # fmt: skip


def li_density_cm3(structure: Structure) -> float:
    """Li atoms per cm^3 of a structure."""
    return structure.composition["Li"] / (structure.volume * 1e-24)


def nernst_einstein_S_cm(d_cm2_s: float, structure: Structure, temperature_K: float) -> float:
    """Conductivity (S/cm) of Li+ (charge +1) with diffusivity ``d_cm2_s`` (Haven ratio 1)."""
    e = 1.602176634e-19
    return li_density_cm3(structure) * e**2 * d_cm2_s / (1.380649e-23 * temperature_K)


def arrhenius_fit(temperatures_K, d_cm2_s, d_std, structure: Structure, target_K: float = 300.0) -> dict:
    """Weighted Arrhenius fit ``ln D = ln D0 - Ea / (k T)``; Ea, D and sigma at ``target_K`` with errors.

    Keys: ``Ea_eV``, ``Ea_eV_std``, ``log10_D_300K``, ``log10_sigma_S_cm`` (at ``target_K``),
    ``log10_sigma_S_cm_std``, ``log10_sigma_S_cm_lo68`` / ``_hi68`` and ``reduced_chi2``
    (NaN with two temperatures: a line through two points has no residual). The parameter
    covariance is the weighted-least-squares one, scaled by the reduced chi^2 when that is
    above 1 (points scattered beyond their error bars widen the interval). Raises
    :class:`SimulationError` with fewer than two temperatures or a non-positive D.
    """
    t = np.asarray(list(temperatures_K), float)
    d = np.asarray(list(d_cm2_s), float)
    s = np.asarray(list(d_std), float)
    if len(t) < 2 or len(np.unique(t)) < 2:
        raise SimulationError(f"Arrhenius fit needs two or more temperatures, got {t.tolist()}")
    if not (np.isfinite(d).all() and (d > 0).all()):
        raise SimulationError(f"Arrhenius fit: non-positive or missing diffusivity in {d.tolist()}")
    var = (s / d) ** 2  # var of ln D (delta method)
    var = np.where(np.isfinite(var) & (var > 0), var, np.nanmax(np.r_[var[np.isfinite(var)], 1e-4]))
    x = np.column_stack([np.ones_like(t), -1.0 / (K_B_EV * t)])
    w = 1.0 / var
    cov = np.linalg.inv(x.T @ (x * w[:, None]))
    beta = cov @ (x.T @ (w * np.log(d)))
    dof = len(t) - 2
    chi2 = float(np.sum(w * (np.log(d) - x @ beta) ** 2) / dof) if dof > 0 else float("nan")
    if dof > 0 and chi2 > 1:
        cov = cov * chi2
    x0 = np.array([1.0, -1.0 / (K_B_EV * target_K)])
    ln_d0 = float(x0 @ beta)
    sd_ln = float(math.sqrt(x0 @ cov @ x0))
    log10_sigma = math.log10(nernst_einstein_S_cm(math.exp(ln_d0), structure, target_K))
    sd10 = sd_ln / math.log(10)
    return {"Ea_eV": float(beta[1]), "Ea_eV_std": float(math.sqrt(cov[1, 1])), "log10_D_300K": ln_d0 / math.log(10),
            SIGMA: log10_sigma, "log10_sigma_S_cm_std": sd10, "log10_sigma_S_cm_lo68": log10_sigma - sd10,
            "log10_sigma_S_cm_hi68": log10_sigma + sd10, "reduced_chi2": chi2}  # fmt: skip


def transport_quality(runs: list[dict], fit: dict | None, checks: dict | None = None) -> dict:
    """``{"ok": bool, "reason": text}``: may the ranking use this MD conductivity? (see :data:`QUALITY`).

    ``runs``: one dict per temperature with ``ps`` (production length) and ``msd_final_A2``;
    ``fit``: :func:`arrhenius_fit`'s dict (None when it failed).
    """
    q = {**QUALITY, **(checks or {})}
    reasons = []
    if fit is None:
        reasons.append("no Arrhenius fit")
    if len(runs) < q["min_temperatures"]:
        reasons.append(f"{len(runs)} temperatures < {q['min_temperatures']}")
    short = [r for r in runs if not r.get("ps", 0) >= q["min_ps"]]
    if short:
        reasons.append(f"runs shorter than {q['min_ps']:g} ps")
    still = [r for r in runs if not r.get("msd_final_A2", 0) >= q["min_msd_A2"]]
    if still:
        reasons.append(f"Li MSD below {q['min_msd_A2']:g} A^2 in {len(still)} of {len(runs)} runs (vibration, not hops)")
    chi2 = (fit or {}).get("reduced_chi2", float("nan"))
    if math.isfinite(chi2) and chi2 > q["max_reduced_chi2"]:
        reasons.append(f"not Arrhenius-linear (reduced chi2 {chi2:.1f} > {q['max_reduced_chi2']:g})")
    return {"ok": not reasons, "reason": "; ".join(reasons) or "pass"}
