"""Model cards: the versioned, validated record of a trained model (:class:`ModelCard`).

Every ``models/<name>/card.json`` validates against :class:`ModelCard`; ``CARD.md`` is
rendered from it by :func:`render_card`. Model-specific details (selection scores,
conformal quantiles, limitations ...) are kept as extra fields.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: version of the card layout; bump when a required field changes
CARD_SCHEMA_VERSION = 1

#: packages whose versions every card records
RECORDED_PACKAGES = ("scikit-learn", "pymatgen", "numpy", "skops", "matminer")

_REPO = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    """The git commit of the code checkout (``-dirty`` appended when files outside ``models/`` have local changes), or ``"unknown"``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        # models/ is what training writes: only changes to the code or data make a checkout dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)models"],
                               cwd=_REPO, capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`RECORDED_PACKAGES` (``"missing"`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


class ModelCard(BaseModel):
    """The machine-readable card of a trained model (``card.json``).

    Required: what the model is (``name``, ``target``), which code and packages built it
    (``code_version`` = ``screening.__version__``, ``git_commit``, ``package_versions``
    with at least scikit-learn, pymatgen and numpy), on which data (``data_sha256``), how
    good it is (``metrics_test``: metrics on data never used for fitting or selection) and
    when it was trained (``trained_at``, UTC). Other keys are kept as they are.
    """

    model_config = ConfigDict(extra="allow")

    schema_version: int = Field(CARD_SCHEMA_VERSION, description="card layout version")
    name: str
    target: str
    summary: str = ""
    code_version: str
    git_commit: str = Field(min_length=7)
    package_versions: dict[str, str]
    data_sha256: dict[str, str] = Field(min_length=1)
    metrics_test: dict[str, Any]
    trained_at: datetime

    @field_validator("package_versions")
    @classmethod
    def _has_core_packages(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [p for p in ("scikit-learn", "pymatgen", "numpy") if p not in v]
        if missing:
            raise ValueError(f"package_versions lacks {missing}")
        return v

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, v: int) -> int:
        if v > CARD_SCHEMA_VERSION:
            raise ValueError(f"card schema {v} is newer than this code understands ({CARD_SCHEMA_VERSION}): update screening")
        return v


def new_card(**fields: Any) -> dict:
    """A validated card dict: ``fields`` plus code version, git commit, package versions and training date."""
    from screening._version import __version__

    base = {
        "schema_version": CARD_SCHEMA_VERSION,
        "code_version": __version__,
        "git_commit": git_commit(),
        "package_versions": package_versions(),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    card = {**base, **fields}
    ModelCard.model_validate(card)
    return json.loads(json.dumps(card, default=json_default))


def json_default(o: Any) -> Any:
    """JSON encoding of NumPy scalars/arrays (anything else as ``str``)."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def render_card(card: dict) -> str:
    """Human-readable model card (Markdown) from a card dict."""
    lines = [f"# Model card: {card.get('name', '?')}", "", card.get("summary", ""), ""]
    simple = [
        ("Target", "target"), ("Model", "model"), ("Features", "features"), ("Training data", "train"),
        ("Evaluation data", "test"), ("Split", "split"), ("Uncertainty", "uncertainty"),
        ("Censored values", "censoring"), ("Volume per atom", "volume_per_atom"), ("Hyperparameter selection", "selection"),
        ("Code version", "code_version"), ("Git commit", "git_commit"), ("Packages", "package_versions"),
        ("Trained at", "trained_at"), ("Retrain", "retrain"), ("Trained in (s)", "train_seconds"),
    ]  # fmt: skip
    for title, key in simple:
        if key in card:
            value = card[key]
            text = json.dumps(value, default=json_default) if isinstance(value, (dict, list)) else str(value)
            lines.append(f"- **{title}**: {text}")
    for key in sorted(k for k in card if k.startswith("metrics")):
        lines += ["", f"## {key}", "", "| metric | value |", "|---|---|"]
        for m, v in card[key].items():
            lines.append(f"| {m} | {v:.4g} |" if isinstance(v, float) else f"| {m} | {v} |")
    if "cv_selection" in card:
        scores = {k: v if isinstance(v, dict) else {"mae_oof": v} for k, v in card["cv_selection"].items()}
        cols = list(dict.fromkeys(c for v in scores.values() for c in v))
        lines += ["", "## Model selection (CV on train only)", "", "| candidate | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {k} | " + " | ".join(_cell(v.get(c, "")) for c in cols) + " |" for k, v in scores.items()]
    if "data_sha256" in card:
        lines += ["", "## Data checksums (SHA256)", ""] + [f"- `{k}`: `{v}`" for k, v in card["data_sha256"].items()]
    if "limitations" in card:
        lines += ["", "## Limitations", ""] + [f"- {x}" for x in card["limitations"]]
    return "\n".join(lines) + "\n"




def _cell(value: object) -> str:
    """A table cell: floats to 4 decimals, lists of numbers comma-joined."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)
