"""The OBELiX conductivity data as the trainers, the round-6 selection (:mod:`screening.training.lofo`) and the
benchmarks read it: one split with its composition features.

Its own module so that :mod:`screening.training.conductivity` (the trainers) and
:mod:`screening.training.lofo` (the selection they call) both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from screening.columns import SIGMA
from screening.datasets import load_obelix
from screening.surrogates import feature_table
from screening.surrogates.selection import chemical_system

__all__ = ["ConductivityData", "conductivity_data"]


@dataclass(frozen=True)
class ConductivityData:
    """One OBELiX split as the conductivity trainers and benchmarks read it.

    ``table``, ``features`` and ``strata`` (coarse family) have every row of the split; ``ok``
    marks the usable rows (finite features and target), which the array properties hold.
    """

    table: pd.DataFrame
    features: pd.DataFrame
    strata: np.ndarray
    ok: np.ndarray

    @cached_property
    def X(self) -> np.ndarray:
        return self.features.to_numpy(float)[self.ok]

    @property
    def y(self) -> np.ndarray:
        return self.table[SIGMA].to_numpy(float)[self.ok]

    @cached_property
    def groups(self) -> np.ndarray:
        """The chemical system of each usable row (the CV groups)."""
        return np.array([chemical_system(f) for f in self.table["formula"][self.ok]])

    @cached_property
    def fractions(self) -> np.ndarray:
        return self.features[[c for c in self.features.columns if c.startswith("frac_")]].to_numpy(float)[self.ok]

    @property
    def censored(self) -> np.ndarray:
        return self.table["censored"].to_numpy(bool)[self.ok]


def conductivity_data(split: Literal["train", "test"]) -> ConductivityData:
    """The ``"train"`` or ``"test"`` OBELiX split with its conductivity features."""
    table = load_obelix(split)
    features, _, strata = feature_table(table["formula"].tolist(), "conductivity")
    ok = np.isfinite(features.to_numpy(float)).all(axis=1) & np.isfinite(table[SIGMA].to_numpy(float))
    return ConductivityData(table, features, strata, ok)
