"""Deprecated alias of :mod:`screening.enumeration` (the enumeration moved there).

``from screening.candidates import enumerate_candidates, load_seeds, ...`` still works: every
public name of :mod:`screening.enumeration` is looked up there at access time (so
``DEFAULT_MANIFEST`` and ``SEEDS_DIR`` follow ``SCREENING_SEEDS_DIR``), with a
``DeprecationWarning`` naming the new import.
"""

from __future__ import annotations

import warnings
from typing import Any

from screening import enumeration as _enumeration

__all__ = list(_enumeration.__all__)


def __getattr__(name: str) -> Any:
    """Every public name of :mod:`screening.enumeration`, with a DeprecationWarning."""
    if name not in _enumeration.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"screening.candidates is deprecated: import {name} from screening.enumeration", DeprecationWarning, stacklevel=2)
    return getattr(_enumeration, name)


def __dir__() -> list[str]:
    return sorted(__all__)
