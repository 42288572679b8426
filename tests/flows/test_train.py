"""The ``train`` flow's library call: ``save=False`` must never write models/."""

from __future__ import annotations

import screening.training.retrain as train_module
from flows.train import TrainParameters, run_training


def test_save_false_reaches_the_library(monkeypatch):
    seen = {}

    def fake_train_conductivity(save=True, models_dir=None):
        seen["save"] = save
        return object()

    monkeypatch.setattr(train_module, "train_conductivity", fake_train_conductivity)
    run_training(TrainParameters(models=["conductivity"], save=False))
    assert seen == {"save": False}


def test_save_true_by_default(monkeypatch):
    seen = {}

    def fake_train_conductivity(save=True, models_dir=None):
        seen["save"] = save
        return object()

    monkeypatch.setattr(train_module, "train_conductivity", fake_train_conductivity)
    run_training(TrainParameters(models=["conductivity"]))
    assert seen == {"save": True}
