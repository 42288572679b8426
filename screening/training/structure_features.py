"""The structure features of the 321 OBELiX CIFs, computed once and cached in ``datasets/derived/``.

The structure-aware conductivity model (:mod:`screening.training.conductivity`) and its
leave-one-family-out benchmark (``benchmarks/bench_conductivity_lofo.py``) both need
:func:`~screening.surrogates.features.structure_descriptor_row` (``struct_*`` + BVSE barriers)
of every OBELiX CIF; BVSE takes 0.3-1 s a structure, so the table is computed once and read
back from ``datasets/derived/obelix_structure_features.csv`` (checksummed in
``datasets/SHA256SUMS`` like every bundled file; about 100 kB).

Regenerate (about 5 min on one core; deterministic)::

    python -m screening.training.structure_features
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CACHE_FILE", "compute_obelix_structure_features", "obelix_structure_features", "write_cache"]

#: the cache, relative to ``datasets/``
CACHE_FILE = "derived/obelix_structure_features.csv"


def compute_obelix_structure_features(ids: list[str] | None = None, progress: bool = False) -> pd.DataFrame:
    """One row per OBELiX CIF (``id``): the structure features, NaN and an ``error`` text where they fail."""
    from screening.datasets import load_obelix_structures
    from screening.surrogates.features import structural_feature_labels, structure_descriptor_row

    labels = structural_feature_labels(bvse=True)
    rows = []
    structures = load_obelix_structures(ids)
    for n, (i, (structure, read_error)) in enumerate(sorted(structures.items())):
        row: dict[str, object] = {"id": i, **{k: np.nan for k in labels}, "error": read_error}
        if structure is not None:
            try:
                row.update(structure_descriptor_row(structure, bvse=True))
            except Exception as exc:  # one bad CIF never stops the table: its row says why
                row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        if progress:
            print(f"{n + 1}/{len(structures)} {i} {row['error'] or ''}", file=sys.stderr, flush=True)
    return pd.DataFrame(rows, columns=["id", *labels, "error"])


def write_cache(table: pd.DataFrame, data_dir: str | Path | None = None) -> Path:
    """Write ``table`` to :data:`CACHE_FILE` and record its SHA-256 in ``datasets/SHA256SUMS``."""
    from screening.config import get_settings

    root = Path(data_dir or get_settings().data_dir)
    path = root / CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if ln.strip() and not ln.split(maxsplit=1)[1].strip() == CACHE_FILE]
    sums.write_text("\n".join([*lines, f"{digest}  {CACHE_FILE}"]) + "\n")
    return path


def obelix_structure_features() -> pd.DataFrame:
    """The cached table (checksum verified), indexed by OBELiX ``id``."""
    from screening.datasets import dataset_path

    return pd.read_csv(dataset_path(CACHE_FILE), dtype={"id": str}).set_index("id")


def main() -> None:
    t0 = time.perf_counter()
    table = compute_obelix_structure_features(progress=True)
    path = write_cache(table)
    print(f"{path}: {len(table)} rows, {int(table['error'].isna().sum())} without error, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
