"""Trainers of the surrogate models (one module per family of models).

:mod:`.retrain` runs them (``python -m screening.training``, ``make train``); ``screening.train``
is its deprecated old name.
"""
