"""Ion radii, element pools and substitution statistics used by the enumeration rules.

Shannon ionic radii come from pymatgen's element data (Shannon 1976); the substitution
log-odds are those of Hautier et al. (2011), shipped with pymatgen
(``pymatgen.analysis.structure_prediction.SubstitutionProbability``, works offline).
"""

from __future__ import annotations

import functools
from typing import Any

from pymatgen.core import Element, Species

from screening.chemistry import ANION_CHARGES

#: Anion-site dopant pool, in enumeration order (the set of ``chemistry.ANION_CHARGES``).
ANION_POOL: tuple[str, ...] = ("F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N")
if set(ANION_POOL) != set(ANION_CHARGES):  # pragma: no cover - guards chemistry.py edits
    raise RuntimeError("ANION_POOL must hold the elements of chemistry.ANION_CHARGES")

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9,
          "X": 10, "XI": 11, "XII": 12, "XIV": 14}


def _cn_number(label: str) -> int | None:
    roman = "".join(ch for ch in label if ch in "IVX")
    return _ROMAN.get(roman)


@functools.lru_cache(maxsize=None)
def _shannon_table(element: str, oxi: int) -> dict[int, float]:
    """Shannon ionic radii (angstrom) of one ion by numeric coordination number."""
    data = Element(element).data.get("Shannon radii", {}).get(str(oxi), {})
    table: dict[int, float] = {}
    for label, spins in data.items():
        cn = _cn_number(label)
        if cn is None or cn in table:
            continue
        entry = spins.get("High Spin") or spins.get("") or next(iter(spins.values()))
        table[cn] = float(entry["ionic_radius"])
    return table


def shannon_radius(element: str, oxi: int, cn: int, partner: tuple[str, int] | None = None) -> float | None:
    """Shannon ionic radius of ``element`` in state ``oxi`` at coordination ``cn``.

    Parameters
    ----------
    element, oxi
        The ion.
    cn
        Wanted coordination number. When the table lacks it, the nearest tabulated one is
        used (ties go to the lower number).
    partner
        Another ion ``(element, oxi)``: when given, the coordination is chosen among those
        both ions have, so that the two radii are comparable.

    Returns
    -------
    float or None
        The radius in angstrom, or None when Shannon's table has no entry for the ion.
    """
    table = _shannon_table(element, oxi)
    if not table:
        return None
    choices = set(table)
    if partner is not None:
        common = choices & set(_shannon_table(*partner))
        if common:
            choices = common
    best = min(choices, key=lambda c: (abs(c - cn), c))
    return table[best]


@functools.lru_cache(maxsize=1)
def _substitution_probability() -> Any:
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


@functools.lru_cache(maxsize=None)
def pair_stats(host: str, dopant: str) -> tuple[float, float]:
    """(lambda, P(dopant | host)) of two species strings from pymatgen's substitution table.

    Species absent from the table get the table's ``alpha`` (-5) and probability 0.
    """
    sp = _substitution_probability()
    h, d = Species.from_str(host), Species.from_str(dopant)
    try:
        return float(sp.get_lambda(h, d)), float(sp.cond_prob(d, h))
    except (KeyError, ValueError):  # species absent from the table
        return float(sp.alpha), 0.0


@functools.lru_cache(maxsize=1)
def cation_pool() -> tuple[str, ...]:
    """Cation-site dopant pool: metals, metalloids and P from Li (Z=3) to Bi (Z=83)."""
    out = []
    for z in range(3, 84):
        el = Element.from_Z(z)
        if el.is_noble_gas or el.symbol in ANION_POOL + ("C", "H"):
            continue
        if el.is_metal or el.is_metalloid or el.symbol == "P":
            out.append(el.symbol)
    return tuple(out)


def ion(text: str) -> tuple[str, int]:
    """``"Zr4+"`` -> ``("Zr", 4)``: the element and integer oxidation state of an ion string."""
    sp = Species.from_str(text)
    if sp.oxi_state is None:
        raise ValueError(f"{text!r}: an ion needs an oxidation state (e.g. 'Zr4+')")
    return sp.element.symbol, int(sp.oxi_state)


def species_str(element: str, oxi: int) -> str:
    """``"Zr4+"``-style string of an ion."""
    return str(Species(element, oxi))
