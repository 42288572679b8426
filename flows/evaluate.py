"""The ``evaluate`` flow: the validation reports of the surrogate models.

Reads every model card under ``models/`` and shows its test metrics; with
``rerun = True`` it also re-evaluates the shipped ``conductivity`` model on the official OBELiX
test split, so a user can check that the saved model still reproduces its card.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel, ConfigDict, Field

from flows.train import cards_markdown
from screening.columns import SIGMA
from screening.config import get_settings


class EvaluateParameters(BaseModel):
    """What to evaluate (the form of the ``evaluate`` deployment)."""

    model_config = ConfigDict(extra="forbid")

    rerun: bool = Field(True, description="re-evaluate the shipped conductivity model on the OBELiX test split (else only read the cards)")
    tolerance: float = Field(0.05, ge=0, description="largest accepted difference between the rerun MAE and the card's MAE")


@task(name="rerun conductivity evaluation")
def rerun_conductivity() -> dict:
    """MAE and Spearman of the shipped ``conductivity`` model on the official OBELiX test split, with its card's MAE."""
    from screening.datasets import load_obelix
    from screening.surrogates import load_model, predict

    card = load_model("conductivity").card
    test = load_obelix("test")
    mean = predict(test["formula"].tolist(), stability=False)[SIGMA].to_numpy(float)
    y = test[SIGMA].to_numpy(float)
    ok = np.isfinite(mean) & np.isfinite(y)
    return {
        "model": "conductivity",
        "rows": int(ok.sum()),
        "mae": float(np.mean(np.abs(mean[ok] - y[ok]))),
        "spearman": float(pd.Series(mean[ok]).corr(pd.Series(y[ok]), method="spearman")),
        "card_mae": float(card.get("metrics_test", {}).get("mae", np.nan)),
    }


@flow(name="evaluate", log_prints=True)
def evaluate(params: EvaluateParameters = EvaluateParameters()) -> dict:
    """Model cards as a report, and optionally a fresh evaluation checked against them."""
    names = sorted(p.parent.name for p in get_settings().models_dir.glob("*/card.json"))
    create_markdown_artifact(key="model-cards", markdown=cards_markdown(names), description="test metrics from the cards")
    result: dict = {"models": names}
    if params.rerun:
        rerun = rerun_conductivity()
        rerun["matches_card"] = bool(abs(rerun["mae"] - rerun["card_mae"]) <= params.tolerance)
        create_table_artifact(key="evaluation-rerun", table=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in rerun.items()}])
        result["rerun"] = rerun
    print(result)
    return result


if __name__ == "__main__":
    evaluate()
