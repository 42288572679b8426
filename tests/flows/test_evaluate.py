"""The ``evaluate`` flow re-checks the shipped ``conductivity`` model, not the old baseline."""

from __future__ import annotations

import json

from flows.evaluate import rerun_conductivity
from screening.config import get_settings


def test_rerun_checks_the_shipped_conductivity_model():
    card = json.loads((get_settings().models_dir / "conductivity" / "card.json").read_text())
    result = rerun_conductivity.fn()
    assert result["model"] == "conductivity"
    assert result["card_mae"] == card["metrics_test"]["mae"]
    assert abs(result["mae"] - result["card_mae"]) < 0.05
