"""Screening of lithium solid-state electrolytes: enumerate, describe, predict, rank, store.

The library never imports Prefect: every function works the same in a notebook, a test
or a flow (the flows in ``flows/`` only arrange these calls into tasks).

Top-level shortcuts (imported lazily, so ``import screening`` stays fast):
``screening.predict(items)`` and ``screening.rank(table, ...)``.
"""

from screening._version import __version__

__all__ = ["predict", "rank", "__version__"]


def __getattr__(name: str):
    if name == "predict":
        from screening.surrogates import predict

        return predict
    if name == "rank":
        from screening.ranking import rank

        return rank
    raise AttributeError(f"module 'screening' has no attribute {name!r}")
