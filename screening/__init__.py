"""Screening of lithium solid-state electrolytes: enumerate, describe, predict, rank, store.

The library never imports Prefect: every function works the same in a notebook, a test
or a flow (the flows in ``flows/`` only arrange these calls into tasks).
"""

__version__ = "0.1.0"
