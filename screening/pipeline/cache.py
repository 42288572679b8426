"""Cache keys of a screening run: what a chunk's result depends on, in a canonical form.

A chunk's result depends on its candidates, the library code, the trained models and
the bundled data. :func:`fingerprint` condenses the last three (package version, a hash
of the library's source, the hash of every model artifact, the dataset checksums) and
:func:`chunk_key` adds the candidates, keyed on their ids and canonical values (floats
rounded), so that the same chunk computed in another process has the same key and a
changed model or dataset gives another one. ``flows/screen.py`` uses these as the
Prefect cache keys of its tasks.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from screening._version import __version__

__all__ = ["fingerprint", "fingerprint_digest", "chunk_key", "source_digest", "data_digest", "KEY_DECIMALS"]

#: floats enter a cache key rounded to this many decimals (last-bit differences between processes vanish)
KEY_DECIMALS = 6
_PACKAGE = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 (16 hex digits) of the library's source: every ``.py``, ``.json`` and ``.yaml`` file under ``screening/``."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".json", ".yaml", ".yml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(_PACKAGE).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def data_digest() -> str:
    """SHA-256 (16 hex digits) of the bundled data under ``SCREENING_DATA_DIR``, read now (never cached).

    The digest of its ``SHA256SUMS`` (every file is checked against it when loaded); with
    ``SCREENING_VERIFY_CHECKSUMS=false`` the files themselves are hashed, since they are not checked.
    """
    from screening.config import get_settings

    settings = get_settings()
    root = Path(settings.data_dir)
    digest = hashlib.sha256()
    sums = root / "SHA256SUMS"
    digest.update(sums.read_bytes() if sums.is_file() else b"no SHA256SUMS")
    if not settings.verify_checksums:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint() -> dict:
    """What every result of a screen depends on besides its candidates.

    ``code_version`` (package), ``source`` (:func:`source_digest`), ``models`` (name ->
    short SHA-256 of each artifact under ``SCREENING_MODELS_DIR``), ``data``
    (:func:`data_digest` of ``SCREENING_DATA_DIR``) and ``seeds_dir``.
    """
    from screening.config import get_settings
    from screening.pipeline.steps import model_versions

    return {
        "code_version": __version__,
        "source": source_digest(),
        "models": model_versions(),
        "data": data_digest(),
        "seeds_dir": str(get_settings().seeds_dir),
    }


def fingerprint_digest(print_: dict | None = None) -> str:
    """A short SHA-256 (16 hex digits) of :func:`fingerprint` (or of a given one)."""
    text = json.dumps(print_ if print_ is not None else fingerprint(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(frame: pd.DataFrame, columns: list[str] | None) -> str:
    cols = [c for c in (columns or list(frame.columns)) if c in frame]
    part = frame[cols].reset_index(drop=True)
    for c in cols:
        if pd.api.types.is_float_dtype(part[c]):
            part[c] = part[c].round(KEY_DECIMALS)
        elif not pd.api.types.is_numeric_dtype(part[c]) and not pd.api.types.is_bool_dtype(part[c]):
            part[c] = part[c].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
    return part.to_json(orient="split", index=False, double_precision=10)


def chunk_key(tier: str, digest: str, candidates: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The cache key of one chunk of ``tier``: the fingerprint ``digest`` plus the canonical ``columns`` of ``candidates``."""
    body = _canonical(candidates, columns)
    return f"{tier}-" + hashlib.sha256(f"{tier}|{digest}|{body}".encode()).hexdigest()[:32]
