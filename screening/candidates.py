"""Compatibility shim: the enumeration lives in :mod:`screening.enumeration`.

Every public name of :mod:`screening.enumeration` is re-exported here, so that
``from screening.candidates import enumerate_candidates, load_seeds, ...`` keeps working.
``DEFAULT_MANIFEST`` and ``SEEDS_DIR`` follow ``SCREENING_SEEDS_DIR`` (``screening.config``)
on every access, like :func:`screening.enumeration.default_manifest`.
"""

from __future__ import annotations

from typing import Any

from screening import enumeration as _enumeration

#: names computed from the settings at each access (module ``__getattr__``), never bound here
_DYNAMIC = frozenset({"DEFAULT_MANIFEST", "SEEDS_DIR"})

__all__ = list(_enumeration.__all__)
globals().update({name: getattr(_enumeration, name) for name in __all__ if name not in _DYNAMIC})


def __getattr__(name: str) -> Any:
    """Settings-dependent constants (``DEFAULT_MANIFEST``, ``SEEDS_DIR``) at access time."""
    return getattr(_enumeration, name)
