"""Candidate solid electrolytes by element substitution on known parent structures.

The parents ("seeds") are listed in ``manifest.yaml`` of the seeds folder
(``SCREENING_SEEDS_DIR``, default ``seeds/``): a CIF, a nominal formula with the
oxidation state of every element, a family (sulfide, halide, oxide) and the sites that
may be substituted, with the dopants each may take. :func:`enumerate_candidates` walks
that space as a stream of :class:`Candidate` records; structures are built only on
request (:meth:`Candidate.structure`).

Modules
-------
seeds     manifest, :class:`Seed` / :class:`SiteRule`, element notes, the seeds folder
radii     Shannon radii, dopant pools, substitution log-odds (pymatgen)
redox     forbidden (cation state, anion) pairs and their sources
plausibility  SMACT oxidation-state probabilities of a dopant with the framework anion
options   :class:`EnumerationOptions` (every knob, frozen) and :data:`PRESETS`
rules     the dopant options and co-doped pairs of one site, option-level filters
core      the combination loop, per-prototype uniqueness, cross-prototype distinctness
sampling  stratified, seeded budgets
build     :func:`build_structure` (partial occupancies on the parent CIF)
api       :func:`enumerate_candidates`, :func:`enumeration_plan`, :func:`iter_candidate_chunks`

Substitution rules
------------------
A *site rule* names a host element (optionally restricted to Wyckoff labels), its count
per formula unit, its coordination number and its dopants: an explicit species list or
``auto``, which draws every element of the pool with a common oxidation state whose
charge differs from the host's by one of the rule's ``charge_changes``. A dopant is kept
when (1) its element is in the pool (default: all minus :data:`DEFAULT_EXCLUDED`) and not
already in the parent with another state; (2) its Shannon radius is within ``tol``
(relative, default 0.3) or ``abs_tol`` (angstrom) of the host's at a common coordination;
(3) the substitution log-odds lambda of Hautier et al. (2011) is at least ``min_lambda``
(default -2); (4) it is redox compatible with the parent's ions (:mod:`.redox`); noble
gases are never dopants.

Each kept dopant gives one option per amount of a grid: isovalent dopants take site
fractions from ``mixing_grid`` (0.25 ... 1), aliovalent ones from ``doping_grid``
(0.05 ... 0.75, with 0.125); a site may override the grid with ``fractions`` or
``amounts``. Two dopants may share a site (co-doping, default: one isovalent and one
aliovalent, each from ``codoping_grid``, fractions summing to at most 1, e.g. LAGP
Li1.5Al0.5Ge1.5(PO4)3). A candidate holds at most ``max_substitutions`` dopants (the
seed's value, else 2; a co-doped site counts two); the parent is included.

Charge balance: every element keeps the parent's oxidation state, every dopant the state
it was chosen with, and the Li content compensates::

    n_Li' = n_Li - sum_i a_i (q_dopant,i - q_host,i) - sum_{i on Li sites} a_i

within the seed's Li bounds and Li-site capacity. A candidate pairing a cation dopant
with an anion dopant it would oxidise is dropped (``redox``), and so is one holding a cation
dopant whose oxidation state is rare with the candidate's framework anion (``plausibility``:
SMACT's ICSD probability below ``min_oxidation_state_probability``, 0.4; :mod:`.plausibility`)
or more than ``max_dopant_species`` dopant elements (``dopant_species``, default 2). Compositions are unique per
prototype and then distinct over the whole space: one reached from several prototypes
(same fractional composition) is yielded once, under the first in manifest order, its
``prototypes`` listing all. :class:`EnumerationReport` counts what each filter of
:data:`FILTERS` leaves per (family, prototype).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screening.enumeration.api import enumerate_candidates, enumeration_plan, iter_candidate_chunks
from screening.enumeration.build import build_structure
from screening.enumeration.options import (
    CODOPING_MODES,
    DEFAULT_CODOPING_GRID,
    DEFAULT_DOPING_GRID,
    DEFAULT_EXCLUDED,
    DEFAULT_MIXING_GRID,
    PRESETS,
    EnumerationOptions,
)
from screening.enumeration.radii import ANION_POOL, shannon_radius
from screening.enumeration.records import FILTERS, Candidate, EnumerationReport, Substitution
from screening.enumeration.redox import FORBIDDEN_PAIRS, REDOX_FORBIDDEN, redox_conflicts
from screening.enumeration.seeds import (
    Seed,
    SeedError,
    SiteRule,
    default_manifest,
    element_notes,
    load_seeds,
    seeds_dir,
)

__all__ = [
    "ANION_POOL",
    "CODOPING_MODES",
    "DEFAULT_CODOPING_GRID",
    "DEFAULT_DOPING_GRID",
    "DEFAULT_EXCLUDED",
    "DEFAULT_MANIFEST",  # noqa: F822 - module __getattr__, follows SCREENING_SEEDS_DIR
    "DEFAULT_MIXING_GRID",
    "FILTERS",
    "FORBIDDEN_PAIRS",
    "PRESETS",
    "REDOX_FORBIDDEN",
    "Candidate",
    "EnumerationOptions",
    "EnumerationReport",
    "Seed",
    "SeedError",
    "SiteRule",
    "Substitution",
    "build_structure",
    "default_manifest",
    "element_notes",
    "enumerate_candidates",
    "enumeration_plan",
    "iter_candidate_chunks",
    "load_seeds",
    "redox_conflicts",
    "seeds_dir",
    "shannon_radius",
]


def __getattr__(name: str) -> Any:
    """``DEFAULT_MANIFEST`` and ``SEEDS_DIR`` follow ``SCREENING_SEEDS_DIR`` at access time."""
    if name == "DEFAULT_MANIFEST":
        return default_manifest()
    if name == "SEEDS_DIR":
        return Path(seeds_dir())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
