"""The ``train`` flow: retrain the surrogate models and record their model cards.

Calls :func:`screening.training.retrain.train_all` (what ``make train`` runs) with the models and
``save`` of :class:`TrainParameters`. The model cards it writes
(``models/<name>/card.json``) are shown as a markdown artifact.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, ConfigDict, Field

from screening.config import get_settings


class TrainParameters(BaseModel):
    """Which surrogates to retrain (the form of the ``train`` deployment)."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(
        default_factory=lambda: ["all"],
        min_length=1,
        description="models to retrain ('all', or names understood by screening.training.retrain.train_all)",
    )
    save: bool = Field(True, description="save the trained models and their cards under models/")


def run_training(params: TrainParameters) -> list[str]:
    """Train the models of ``params`` with :func:`screening.training.retrain.train_all`, passing ``save`` through.

    Returns the names of the models that have a card under ``settings.models_dir``.
    """
    from screening.training.retrain import train_all

    names = None if params.models == ["all"] else params.models
    train_all(names, save=params.save)
    return sorted(p.parent.name for p in get_settings().models_dir.glob("*/card.json"))


@task(name="train surrogates", retries=1, retry_delay_seconds=2)
def train_models(params: TrainParameters) -> list[str]:
    names = run_training(params)
    get_run_logger().info("trained %s with screening.training (save=%s)", params.models, params.save)
    return names


def cards_markdown(names: list[str]) -> str:
    """The metrics of each model card as a markdown table."""
    lines = ["# Model cards", "", "| model | metric | value |", "|---|---|---:|"]
    for name in names:
        card = json.loads((get_settings().models_dir / name / "card.json").read_text())
        metrics = card.get("metrics_test") or card.get("metrics") or {}
        flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        for key, value in flat.items():
            lines.append(f"| {name} | {key} | {value:.4g} |")
        if not flat:
            lines.append(f"| {name} | (no numeric test metrics in card) | |")
    return "\n".join(lines)


@flow(name="train", log_prints=True)
def train(params: TrainParameters = TrainParameters()) -> list[str]:
    """Retrain the surrogates; returns the names of the models that have a card."""
    names = train_models(params)
    create_markdown_artifact(key="model-cards", markdown=cards_markdown(names), description="after training")
    print(f"models with cards: {names}")
    return names


if __name__ == "__main__":
    train()
