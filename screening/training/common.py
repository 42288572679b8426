"""What every trainer shares: the seed, the coverage, and :func:`finish_model`, the one way a trainer ends."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from screening.datasets import dataset_checksums
from screening.surrogates import ConformalRegressor, Surrogate
from screening.surrogates.cards import new_card

__all__ = ["SEED", "COVERAGE", "finish_model", "retrain_text", "checksums"]

SEED = 0
COVERAGE = 0.8


def retrain_text(name: str) -> str:
    return f"python -m screening.training {name}  (or `make train` for every model); seeded, deterministic"


def checksums(prefix: str) -> dict[str, str]:
    return {k: v for k, v in dataset_checksums().items() if k.startswith(prefix)}


def finish_model(
    name: str, target: str, kind: str, reg: ConformalRegressor, card: dict, t0: float, save: bool, models_dir: str | Path | None,
    train_fractions: np.ndarray | None = None, train_domain: dict | None = None,
) -> Surrogate:
    """The one way a trainer ends: a validated :class:`~screening.surrogates.cards.ModelCard` (code version,
    git commit, package versions, training date, ``train_seconds`` since ``t0``), the model, saved when ``save``."""
    card = new_card(**{**card, "name": name, "target": target, "train_seconds": round(time.perf_counter() - t0, 2)})
    model = Surrogate(name, target, kind, reg, card, train_fractions, train_domain)
    if save:
        model.save(models_dir)
    return model
