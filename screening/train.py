"""Deprecated: the retraining of every surrogate is :mod:`screening.training.retrain`.

``python -m screening.train`` still runs it and ``screening.train.train_all`` (and the other
names of that module) still resolve, each with a ``DeprecationWarning``: use
``python -m screening.training`` (``make train``) and ``from screening.training.retrain import train_all``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from screening.training import retrain as _retrain

__all__ = list(_retrain.__all__)


def __getattr__(name: str) -> Any:
    if name not in _retrain.__all__ and name != "single_threaded":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"screening.train is deprecated: import {name} from screening.training.retrain", DeprecationWarning, stacklevel=2)
    return getattr(_retrain, name)


if __name__ == "__main__":
    warnings.warn("python -m screening.train is deprecated: run python -m screening.training", DeprecationWarning, stacklevel=1)
    sys.exit(_retrain.main())
