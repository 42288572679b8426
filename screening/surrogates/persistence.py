"""Persistence of trained models: one strict skops loader, :class:`Surrogate`, cached loading."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from screening.config import get_settings
from screening.errors import ModelNotFoundError
from screening.surrogates.cards import json_default, render_card
from screening.surrogates.conformal import Z80, ConformalRegressor
from screening.surrogates.domain import SubsystemDomain, nearest_l1
from screening.surrogates.features import feature_table

#: the trained models predict() uses, in order
MODEL_NAMES = ("conductivity", "formation_energy", "shear_modulus", "bulk_modulus")

#: the optional structure-aware conductivity model (composition + structure features); predict()
#: works without it and uses it only for structures (see ``predict(structure_model=...)``)
STRUCTURE_MODEL_NAME = "conductivity_structure"

#: module prefixes of the types a model file may contain; anything else is refused
TRUSTED_PREFIXES = ("screening.", "sklearn.", "numpy.", "builtins.", "scipy.")


def load_skops(path: str | Path) -> Any:
    """Load a skops file, trusting only our own, scikit-learn, NumPy/SciPy and builtin types.

    Raises :class:`~screening.errors.ModelNotFoundError` naming the file and ``make train``
    when it is missing or unreadable, or naming the foreign types when it holds anything else.
    """
    import zipfile

    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no trained model (run `make train` / `python -m screening.training`)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ModelNotFoundError(f"{path}: unreadable model file ({type(exc).__name__}: {exc}); run `make train`") from exc
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise ModelNotFoundError(f"{path}: refusing to load unexpected types {foreign}; run `make train` to rebuild it")
    return sio.load(path, trusted=untrusted)


@dataclass
class Surrogate:
    """A trained model with its name, target, feature kind and model card.

    ``regressor`` is a fitted :class:`ConformalRegressor`; ``card`` the machine-readable
    model card (written to ``card.json``; ``CARD.md`` is rendered from it).
    """

    name: str
    target: str
    feature_kind: str
    regressor: ConformalRegressor
    card: dict = field(default_factory=dict)
    #: element fractions of the training compositions (rows x 94, :data:`~screening.chemistry.ELEMENTS` order),
    #: for the distance of a new composition to the training data; None when not kept
    train_fractions: np.ndarray | None = None
    #: the training compositions indexed by chemical system (:class:`~screening.surrogates.domain.SubsystemDomain`
    #: arrays), kept instead of ``train_fractions`` by the models trained on 10^4-10^5 rows
    train_domain: dict | None = None
    _domain: SubsystemDomain | None = field(default=None, init=False, repr=False, compare=False)

    def train_distance(self, fractions: np.ndarray) -> np.ndarray:
        """Applicability domain: L1 distance in atomic fractions from each row of ``fractions`` to the
        nearest training composition (exact with ``train_fractions``; among the training compositions of
        the row's chemical system and its subsystems with ``train_domain``; NaN with neither)."""
        fractions = np.asarray(fractions, float)
        if self.train_fractions is not None:
            return nearest_l1(self.train_fractions, fractions)
        if self.train_domain is not None:
            if self._domain is None:
                self._domain = SubsystemDomain.from_arrays(self.train_domain)
            return self._domain.distance(fractions)
        return np.full(len(fractions), np.nan)

    def predict(self, formulas: Sequence[Any]) -> pd.DataFrame:
        """``mean``, ``lo80``, ``hi80``, ``std`` and ``error`` of each formula (NaN on error)."""
        X, errors, strata = feature_table(formulas, self.feature_kind)
        Xv = X.to_numpy(float)
        ok = np.isfinite(Xv).all(axis=1)
        mean = np.full(len(Xv), np.nan)
        lo, hi = mean.copy(), mean.copy()
        if ok.any():
            mean[ok], lo[ok], hi[ok] = self.regressor.predict_interval(Xv[ok], strata[ok])
        return pd.DataFrame({"mean": mean, "lo80": lo, "hi80": hi, "std": (hi - lo) / (2 * Z80), "error": errors})

    def directory(self, models_dir: str | Path | None = None) -> Path:
        return Path(models_dir or get_settings().models_dir) / self.name

    def save(self, models_dir: str | Path | None = None) -> Path:
        """Write ``model.skops``, ``card.json`` and ``CARD.md`` into ``models/<name>/``."""
        import skops.io as sio

        directory = self.directory(models_dir)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"name": self.name, "target": self.target, "feature_kind": self.feature_kind, "regressor": self.regressor,
                   "train_fractions": self.train_fractions, "train_domain": self.train_domain}  # fmt: skip
        # deflate: skops' schema.json of tree ensembles is large, plain JSON (a mean of 10 HGBs: 29 MB stored, under 15 MB deflated)
        sio.dump(payload, directory / "model.skops", compression=zipfile.ZIP_DEFLATED)
        (directory / "card.json").write_text(json.dumps(self.card, indent=2, default=json_default) + "\n")
        (directory / "CARD.md").write_text(render_card(self.card))
        return directory

    @classmethod
    def load(cls, name: str, models_dir: str | Path | None = None) -> Surrogate:
        """Load ``models/<name>/model.skops`` (skops; only our own and scikit-learn types are trusted)."""
        directory = Path(models_dir or get_settings().models_dir) / name
        payload = load_skops(directory / "model.skops")
        card_path = directory / "card.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        return cls(payload["name"], payload["target"], payload["feature_kind"], payload["regressor"], card,
                   payload.get("train_fractions"), payload.get("train_domain"))  # fmt: skip


_models_lock = threading.Lock()
_models_cache: dict[tuple[str, str], Surrogate] = {}


def load_model(name: str, models_dir: str | Path | None = None) -> Surrogate:
    """Load (once per process) one of :data:`MODEL_NAMES`."""
    key = (name, str(models_dir or get_settings().models_dir))
    with _models_lock:
        if key not in _models_cache:
            _models_cache[key] = Surrogate.load(name, models_dir)
        return _models_cache[key]


def load_models(models_dir: str | Path | None = None) -> dict[str, Surrogate]:
    """All models of :data:`MODEL_NAMES`, loaded once per process."""
    return {name: load_model(name, models_dir) for name in MODEL_NAMES}

