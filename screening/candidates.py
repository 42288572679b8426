"""Compatibility shim: the enumeration lives in :mod:`screening.enumeration`.

Every public name of the former module is re-exported here, so that
``from screening.candidates import enumerate_candidates, load_seeds, ...`` keeps working.
``DEFAULT_MANIFEST`` and ``SEEDS_DIR`` follow ``SCREENING_SEEDS_DIR`` (``screening.config``)
on every access, like :func:`screening.enumeration.default_manifest`.
"""

from __future__ import annotations

from typing import Any

from screening import enumeration as _enumeration
from screening.enumeration import (  # noqa: F401 - re-exported
    ANION_POOL,
    CODOPING_MODES,
    DEFAULT_CODOPING_GRID,
    DEFAULT_DOPING_GRID,
    DEFAULT_EXCLUDED,
    DEFAULT_MIXING_GRID,
    FILTERS,
    FORBIDDEN_PAIRS,
    PRESETS,
    REDOX_FORBIDDEN,
    Candidate,
    EnumerationOptions,
    EnumerationReport,
    Seed,
    SeedError,
    SiteRule,
    Substitution,
    build_structure,
    default_manifest,
    element_notes,
    enumerate_candidates,
    enumeration_plan,
    iter_candidate_chunks,
    load_seeds,
    redox_conflicts,
    seeds_dir,
    shannon_radius,
)

__all__ = [
    "ANION_POOL",
    "CODOPING_MODES",
    "DEFAULT_CODOPING_GRID",
    "DEFAULT_DOPING_GRID",
    "DEFAULT_EXCLUDED",
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
    "DEFAULT_MANIFEST",  # noqa: F822 - module __getattr__, follows SCREENING_SEEDS_DIR
]


def __getattr__(name: str) -> Any:
    """Settings-dependent constants (``DEFAULT_MANIFEST``, ``SEEDS_DIR``) at access time."""
    return getattr(_enumeration, name)
