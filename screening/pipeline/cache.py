"""Cache keys of a screening run: what a chunk's result depends on, in a canonical form.

A chunk's result depends on its candidates, the library code, the trained models and
the bundled data. :func:`fingerprint` condenses the last three (package version, a hash
of the library's source, the hash of every model artifact, the dataset checksums) and
:func:`chunk_key` adds the candidates, keyed on their ids and canonical values (floats
rounded), so that the same chunk computed in another process has the same key and a
changed model or dataset gives another one. ``flows/screen.py`` uses these as the
Prefect cache keys of its tasks.

The code of a tier is the source of the modules it runs: :data:`TIER_MODULES` names the
module of each tier's function and :func:`module_closure` follows their ``import`` statements
(also those inside functions) through ``screening/``. ``fingerprint(tier)`` hashes only those
files, so editing a module a tier never imports (the store, the CLI, the trainers, the MLIP
tier) keeps the resume cache of the composition and stability chunks.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import pandas as pd

from screening._version import __version__

__all__ = ["fingerprint", "fingerprint_digest", "tier_digest", "chunk_key", "source_digest", "module_closure", "data_digest",
           "KEY_DECIMALS", "TIER_MODULES"]  # fmt: skip

#: floats enter a cache key rounded to this many decimals (last-bit differences between processes vanish)
KEY_DECIMALS = 6
_PACKAGE = Path(__file__).resolve().parents[1]


#: the modules whose functions a tier calls (the chunk tasks of ``flows/screen.py``); their import closure is its code
TIER_MODULES: dict[str, tuple[str, ...]] = {
    "composition": ("screening.pipeline.tiers",),
    "stability": ("screening.pipeline.tiers",),
    # the structure tier's results depend on the structures too: the source that reads or builds them
    "structure": ("screening.pipeline.structure", "screening.pipeline.sources"),
    # the MLIP relaxations: the batched and ase engines, ordering, energetics (the potential's version is in the key too)
    "relax": ("screening.pipeline.simulation", "screening.pipeline.sources"),
}


def _module_file(name: str) -> Path | None:
    """The source file of the module ``screening.x.y`` under the package, or None (not a module of ours)."""
    path = _PACKAGE.joinpath(*name.split(".")[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(name: str, path: Path) -> set[str]:
    """The ``screening`` modules that the module ``name`` imports anywhere in its source.

    ``from a.b import c`` counts ``a.b`` and, when it is a module, ``a.b.c``; parent packages
    are not added (importing ``a.b.c`` runs ``a/b/__init__.py``, whose re-exports the tier does not use).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] == "screening" and _module_file(n) is not None}


@lru_cache(maxsize=32)
def module_closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """The ``screening`` modules ``roots`` import, directly or not (the roots included), sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"{name!r} is not a module under {_PACKAGE}")
        seen.add(name)
        todo.extend(_imported(name, path) - seen)
    return tuple(sorted(seen))


def _hash_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _package_data() -> tuple[Path, ...]:
    return tuple(p for p in _PACKAGE.rglob("*") if p.suffix in (".json", ".yaml", ".yml") and "__pycache__" not in p.parts)


@lru_cache(maxsize=None)
def source_digest(tier: str | None = None) -> str:
    """SHA-256 (16 hex digits) of the library's source.

    Without ``tier``: every ``.py``, ``.json`` and ``.yaml`` file under ``screening/``. With a
    ``tier`` of :data:`TIER_MODULES`: the ``.py`` files of its :func:`module_closure` and the
    package's data files (``.json``/``.yaml``, which any module may read).
    """
    if tier is None:
        return _hash_files([p for p in _PACKAGE.rglob("*.py") if "__pycache__" not in p.parts] + list(_package_data()))
    if tier not in TIER_MODULES:
        raise ValueError(f"tier={tier!r}: expected one of {', '.join(TIER_MODULES)}")
    files = [_module_file(name) for name in module_closure(TIER_MODULES[tier])]
    return _hash_files([p for p in files if p is not None] + list(_package_data()))


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


def fingerprint(tier: str | None = None) -> dict:
    """What every result of a screen (or, with ``tier``, of that tier's chunks) depends on besides its candidates.

    ``code_version`` (package), ``source`` (:func:`source_digest` of the library, or of the
    tier's modules), ``models`` (name -> short SHA-256 of each artifact under
    ``SCREENING_MODELS_DIR``), ``data`` (:func:`data_digest` of ``SCREENING_DATA_DIR``) and ``seeds_dir``.
    """
    from screening.config import get_settings
    from screening.pipeline.steps import model_versions

    return {
        "code_version": __version__,
        "source": source_digest(tier),
        "models": model_versions(),
        "data": data_digest(),
        "seeds_dir": str(get_settings().seeds_dir),
    }


def fingerprint_digest(print_: dict | None = None) -> str:
    """A short SHA-256 (16 hex digits) of :func:`fingerprint` (or of a given one)."""
    text = json.dumps(print_ if print_ is not None else fingerprint(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tier_digest(tier: str) -> str:
    """:func:`fingerprint_digest` of ``fingerprint(tier)``: the ``digest`` of :func:`chunk_key` for one tier's chunks."""
    return fingerprint_digest(fingerprint(tier))


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
