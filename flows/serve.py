"""Serve the deployments ``screen``, ``train`` and ``evaluate`` to a Prefect server.

``make ui`` starts a server on 127.0.0.1 and runs this module; the UI then lists the
three deployments and draws a form for each from its pydantic parameters. Runs execute
in this process (``prefect.serve``), so no work pool or worker is needed.

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve
"""

from __future__ import annotations

from prefect import serve

from flows.evaluate import evaluate
from flows.screen import screen
from flows.train import train


def _titled(deployment, title: str):
    """The form's one section titled in words (Prefect titles a parameter by its name: "params")."""
    for prop in deployment._parameter_openapi_schema.properties.values():
        prop["title"] = title
    return deployment


def deployments():
    """The three deployments (names: ``screen/screen``, ``train/train``, ``evaluate/evaluate``)."""
    return [
        _titled(screen.to_deployment(name="screen", description="Screen Li solid electrolytes into the results store",
                                     tags=["screening"]), "Screening run"),  # fmt: skip
        train.to_deployment(name="train", description="Retrain the surrogate models", tags=["models"]),
        evaluate.to_deployment(name="evaluate", description="Validation reports of the surrogate models", tags=["models"]),
    ]


def main() -> None:
    serve(*deployments(), limit=2)


if __name__ == "__main__":
    main()
