"""Linear programs (``scipy.optimize.linprog``, HiGHS) of the stability descriptors.

With ``E_i`` the formation energies per atom and ``x_i`` the atomic-fraction vectors of the
entries of a chemical system (elements at 0):

* hull energy at ``c``: ``min sum(l_i E_i) s.t. sum(l_i x_i) = c, l >= 0``;
* window: the supporting chemical potentials at ``c`` are ``{mu : mu.x_i <= E_i for all i,
  mu.x_j = E_j for the phases j of the equilibrium assemblage}``; the window is the range of
  ``mu_Li`` over that set (two LPs, ``V = -mu_Li``);
* interface reaction energy with a partner ``b``: ``min sum(l_i E_i) - x E(a) - (1 - x) E(b)
  s.t. sum(l_i x_i) = x a + (1 - x) b, l >= 0, 0 <= x <= 1`` (one LP).

The functions here work on plain arrays; :class:`~.hull.ReferenceHull` builds the tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

#: HiGHS options of every LP: tight tolerances, so that assemblages and windows match the hull's
HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10, "presolve": True}
#: phase fraction above which a phase belongs to the equilibrium assemblage of an LP solution
SUPPORT_TOL = 1e-10
#: how close to its hyperplane an entry counts as coexisting at a limit potential (eV/atom)
TIGHT_TOL = 1e-7


@dataclass(frozen=True)
class Window:
    """Result of :func:`window`: limits in V against Li/Li+ and the reaction texts."""

    low_V: float
    high_V: float
    reduction_reaction: str
    oxidation_reaction: str


def hull(x: np.ndarray, e: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray]:
    """Hull energy (eV/atom) at atomic fractions ``c`` and the phase fractions of the entries."""
    res = linprog(e, A_eq=x.T, b_eq=c, bounds=(0, None), method="highs", options=HIGHS)
    if res.status != 0:
        raise RuntimeError(f"hull LP failed: {res.message}")
    return float(res.fun), res.x


def window(x: np.ndarray, e: np.ndarray, names: tuple[str, ...], li: int, support: list[int], lam: list[float],
           label: str) -> Window:  # fmt: skip
    """Li/Li+ window of the assemblage ``support`` (entry indices, phase fractions ``lam``).

    The texts are unbalanced: ``"<assemblage> + Li -> <phases>"`` at the reduction limit and
    ``"<assemblage> -> Li + <phases>"`` at the oxidation limit, ``<phases>`` being the phases
    that come to coexist at that limit (tight at the LP's optimal chemical potentials).
    """
    on = np.zeros(len(e), bool)
    on[list(support)] = True
    a_ub, b_ub, a_eq, b_eq = x[~on], e[~on], x[on], e[on]
    objective = np.zeros(x.shape[1])
    limits: list[tuple[float, np.ndarray] | tuple[None, None]] = []
    for sign in (-1.0, 1.0):  # maximise mu_Li (reduction limit), then minimise it (oxidation limit)
        objective[li] = sign
        res = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(None, None),
                      method="highs", options=HIGHS)  # fmt: skip
        if res.status == 3:  # unbounded: mu_Li can fall without limit, nothing releases Li
            limits.append((None, None))
        elif res.status != 0:
            raise RuntimeError(f"window LP of {label}: {res.message}")
        else:
            limits.append((float(res.x[li]), res.x))
    (mu_max, mu_at_max), (mu_min, mu_at_min) = limits
    if mu_max is None or mu_at_max is None:  # Li metal bounds mu_Li from above: only a table without Li gets here
        raise RuntimeError(f"window LP of {label}: mu_Li is unbounded above (no Li reference phase)")
    low = max(-mu_max, 0.0) + 0.0
    high = math.inf if mu_min is None else max(-mu_min + 0.0, low)
    order = [i for _, i in sorted(zip(lam, support, strict=True), reverse=True)]
    assemblage = " + ".join(names[i] for i in order)

    def products(mu: np.ndarray) -> str:
        tight = (e - x @ mu < TIGHT_TOL) & ~on
        tight[li] = False
        return " + ".join(sorted({names[i] for i in np.flatnonzero(tight)}))

    same = f"{assemblage} (only the phase fractions shift)"
    red = "stable against Li metal" if low == 0.0 else f"{assemblage} + Li -> {products(mu_at_max) or same}"
    ox = "no Li released" if mu_min is None or mu_at_min is None else f"{assemblage} -> Li + {products(mu_at_min) or same}"
    return Window(float(low), float(high), red, ox)


def with_phase(x: np.ndarray, e: np.ndarray, a: np.ndarray, energy: float) -> tuple[np.ndarray, np.ndarray]:
    """The table with one phase of atomic fractions ``a`` at ``energy`` (eV/atom) in place of
    every entry of the same composition; the new phase is the last row."""
    same = np.all(np.abs(x - a) < 1e-12, axis=1)
    return np.vstack([x[~same], a]), np.append(e[~same], float(energy))


def reaction_energy(x: np.ndarray, e: np.ndarray, a: np.ndarray, b: np.ndarray, e1: float, e2: float,
                    label: str) -> float:  # fmt: skip
    """Most negative reaction energy (eV/atom of the mixture) of ``a`` (energy ``e1``) with ``b``
    (``e2``) on the entries ``(x, e)``; 0 when nothing reacts."""
    m = len(e)
    objective = np.append(e, e2 - e1)  # sum(l_i E_i) - x (E1 - E2), minus E2 below
    a_eq = np.hstack([x.T, -(a - b)[:, None]])
    bounds = [(0, None)] * m + [(0, 1)]
    res = linprog(objective, A_eq=a_eq, b_eq=b, bounds=bounds, method="highs", options=HIGHS)
    if res.status != 0:
        raise RuntimeError(f"reaction LP of {label} failed: {res.message}")
    return float(min(0.0, res.fun - e2)) + 0.0


def entry_energy(x: np.ndarray, e: np.ndarray, c: np.ndarray) -> float:
    """pymatgen's ``InterfacialReactivity._get_entry_energy``: lowest entry of this composition
    with a negative formation energy (or an element), else the hull energy (eV/atom)."""
    match = np.all(np.abs(x - c) < 1e-12, axis=1) & ((e < -1e-11) | (x.max(axis=1) > 1 - 1e-12))
    return float(e[match].min()) if match.any() else hull(x, e, c)[0]
