"""Redox compatibility: cation oxidation states that the anion of the host would reduce.

A candidate is rejected when it holds a cation in an oxidation state that its anions
would reduce (the anion being oxidised), e.g. Cu2+ beside I- (2 Cu2+ + 4 I- -> 2 CuI + I2)
or Mn4+ beside S2-. The rule is a curated list of (cation, oxidation state, anion) pairs,
:data:`REDOX_FORBIDDEN`, chosen by two criteria that agree for every pair listed:

1. standard reduction potentials (V vs SHE; CRC Handbook of Chemistry and Physics,
   "Electrochemical Series", P. Vanysek; Bard, Parsons & Jordan, *Standard Potentials in
   Aqueous Solution*, 1985): the cation couple lies above the anion couple
   (I2/I- +0.54, Br2/Br- +1.07, Cl2/Cl- +1.36, S/S2- -0.48, Se/Se2- -0.92, Te/Te2- -1.14),
   so the cation oxidises the anion;
2. the binary compound with that cation state is unknown or decomposes to the lower state
   (CuI2, FeI3, CoCl3, MnCl4, CeBr4; the Cu, Co and Mn sulfides CuS, CoS2, MnS2 hold
   Cu+/Co2+/Mn2+ with S2^2- dimers, not Cu2+/Co4+/Mn4+; Greenwood & Earnshaw,
   *Chemistry of the Elements*, 2nd ed., 1997).

Aqueous potentials alone are not used as the rule, because they would also forbid d0
thiometalates that exist (VS4^3- in Li3VS4 and Cu3VS4, MoS4^2-, WS4^2-, SbS4^3- in
Na3SbS4) and Fe3+ thioferrates (KFeS2): those pairs are deliberately absent.
Oxide, fluoride and nitride anions are not checked (no pair of the dopant pool is
reduced by O2- or F-; N3- sites are not substituted by the bundled manifest).
"""

from __future__ import annotations

from collections.abc import Iterable

#: ``{anion element: {(cation element, oxidation state): reason}}`` of forbidden pairs.
REDOX_FORBIDDEN: dict[str, dict[tuple[str, int], str]] = {
    "I": {
        ("Cu", 2): "Cu2+ + I- -> CuI + 1/2 I2 (E(Cu2+/CuI) +0.86 V > E(I2/I-) +0.54 V); CuI2 unknown",
        ("Fe", 3): "E(Fe3+/Fe2+) +0.77 V > +0.54 V; FeI3 decomposes to FeI2 + I2",
        ("Co", 3): "E(Co3+/Co2+) +1.92 V; CoI3 unknown",
        ("Mn", 4): "E(MnO2/Mn2+) +1.23 V; MnI4 unknown",
        ("Mn", 7): "E(MnO4-/Mn2+) +1.51 V",
        ("Ce", 4): "E(Ce4+/Ce3+) +1.72 V; CeI4 unknown",
        ("Cr", 6): "E(Cr2O7 2-/Cr3+) +1.33 V; CrI6 unknown",
        ("V", 5): "E(VO2+/VO2+) +1.00 V; VI5 unknown (VI3 highest stable iodide)",
        ("Mo", 6): "MoI6 unknown; molybdenum iodides stop at MoI3/MoI4",
        ("W", 6): "WI6 unknown; tungsten iodides stop at WI4",
        ("Sb", 5): "E(Sb2O5/SbO+) +0.58 V; SbI5 unknown",
        ("Tl", 3): "E(Tl3+/Tl+) +1.25 V; 'TlI3' is Tl+ I3-",
        ("Pb", 4): "E(PbO2/Pb2+) +1.46 V; PbI4 unknown",
        ("Au", 3): "E(Au3+/Au+) +1.40 V; AuI3 unknown",
    },
    "Br": {
        ("Co", 3): "E(Co3+/Co2+) +1.92 V > E(Br2/Br-) +1.07 V; CoBr3 unknown",
        ("Mn", 4): "E(MnO2/Mn2+) +1.23 V; MnBr4 unknown",
        ("Mn", 7): "E(MnO4-/Mn2+) +1.51 V",
        ("Ce", 4): "E(Ce4+/Ce3+) +1.72 V; CeBr4 unknown",
        ("Cr", 6): "E(Cr2O7 2-/Cr3+) +1.33 V; CrBr6 unknown",
        ("Pb", 4): "E(PbO2/Pb2+) +1.46 V; PbBr4 unknown",
    },
    "Cl": {
        ("Co", 3): "E(Co3+/Co2+) +1.92 V > E(Cl2/Cl-) +1.36 V; CoCl3 decomposes",
        ("Mn", 7): "E(MnO4-/Mn2+) +1.51 V",
        ("Pb", 4): "E(PbO2/Pb2+) +1.46 V; PbCl4 decomposes above 50 C",
    },
}
for _anion in ("S", "Se", "Te"):
    REDOX_FORBIDDEN[_anion] = {
        ("Cu", 2): "E(Cu2+/Cu+) +0.15 V > E(S/S2-) -0.48 V; CuS is Cu+ with S2^2- dimers",
        ("Co", 3): "E(Co3+/Co2+) +1.92 V; Co2S3 unknown, CoS2 is Co2+ with S2^2-",
        ("Mn", 4): "E(MnO2/Mn2+) +1.23 V; MnS2 (hauerite) is Mn2+ with S2^2-",
        ("Mn", 7): "E(MnO4-/Mn2+) +1.51 V",
        ("Ce", 4): "E(Ce4+/Ce3+) +1.72 V; CeS2 is Ce3+ with polysulfide",
        ("Cr", 6): "E(Cr2O7 2-/Cr3+) +1.33 V; no Cr6+ sulfide",
        ("Tl", 3): "E(Tl3+/Tl+) +1.25 V",
        ("Pb", 4): "E(PbO2/Pb2+) +1.46 V; PbS2 only at high pressure",
        ("Au", 3): "E(Au3+/Au+) +1.40 V; no Au3+ sulfide",
        ("Eu", 3): "E(Eu3+/Eu2+) -0.35 V > -0.48 V; Eu2S3 unknown, EuS holds Eu2+",
    }
REDOX_FORBIDDEN["Te"][("Fe", 3)] = "E(Fe3+/Fe2+) +0.77 V; Fe2Te3 unknown, FeTe2 holds Fe2+"

#: The same pairs as a set of ``(cation, oxidation state, anion)``.
FORBIDDEN_PAIRS: frozenset[tuple[str, int, str]] = frozenset(
    (el, q, anion) for anion, pairs in REDOX_FORBIDDEN.items() for (el, q) in pairs
)


def redox_conflicts(oxidation_states: dict[str, int]) -> list[tuple[str, int, str]]:
    """Forbidden (cation, state, anion) pairs among the ions of one composition.

    Parameters
    ----------
    oxidation_states
        Element -> oxidation state of every element present.

    Returns
    -------
    list
        The pairs of :data:`FORBIDDEN_PAIRS` present (empty when compatible).
    """
    anions = [el for el, q in oxidation_states.items() if q < 0]
    return [
        (el, q, a) for el, q in oxidation_states.items() if q > 0 for a in anions if (el, q, a) in FORBIDDEN_PAIRS
    ]


def cation_conflicts(cation: tuple[str, int], anions: Iterable[str]) -> bool:
    """True when the cation ``(element, state)`` would oxidise one of ``anions``."""
    el, q = cation
    return any((el, q, a) in FORBIDDEN_PAIRS for a in anions)
