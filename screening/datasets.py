"""Loaders for the datasets bundled in ``datasets/``.

Every loader returns a tidy :class:`pandas.DataFrame` whose column names carry their
units (``log10_sigma_S_cm``, ``formation_energy_eV_atom``, ``G_VRH_GPa``) and verifies the
file against ``datasets/SHA256SUMS`` the first time it is read in a process. A missing or
corrupted file raises :class:`~screening.errors.DatasetError` naming the file.

Each dataset has a card (``datasets/<name>/CARD.md``) with its source, commit, licence,
columns and caveats.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import warnings
import zlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from screening.columns import SIGMA
from screening.config import get_settings
from screening.errors import DatasetError, StructureReadError

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "dataset_path",
    "dataset_checksums",
    "load_obelix",
    "load_obelix_structures",
    "obelix_cif_ids",
    "obelix_cif_text",
    "load_mp_ground_states",
    "load_mp_formation_energies",
    "load_elasticity",
    "load_elastic_binaries",
    "load_band_gaps",
    "parse_conductivity",
    "CENSORED_FACTOR",
]

#: A conductivity reported as below a detection limit (``<1E-10``) is read as this
#: fraction of the limit: ``<X`` becomes ``X * CENSORED_FACTOR`` and the row is flagged
#: ``censored``. One decade below the limit is the convention of the OBELiX baselines.
CENSORED_FACTOR = 0.1


def _data_dir() -> Path:
    return Path(get_settings().data_dir)


@lru_cache(maxsize=1)
def _expected_checksums() -> dict[str, str]:
    sums = _data_dir() / "SHA256SUMS"
    if not sums.is_file():
        raise DatasetError(f"{sums}: checksum list is missing")
    table = {}
    for number, line in enumerate(sums.read_text().splitlines(), start=1):
        if line.strip():
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or len(parts[0]) != 64:
                raise DatasetError(f"{sums}: line {number} is not '<sha256> <file>': {line[:80]!r}")
            table[parts[1].strip()] = parts[0]
    return table


_verified: set[str] = set()


def dataset_path(relative: str) -> Path:
    """Absolute path of a bundled file, verified against its checksum on first use.

    Parameters
    ----------
    relative
        Path relative to ``datasets/``, e.g. ``"obelix/train.csv"``.
    """
    path = _data_dir() / relative
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file is missing (expected in {_data_dir()})")
    if get_settings().verify_checksums and relative not in _verified:
        expected = _expected_checksums().get(relative)
        if expected is None:
            raise DatasetError(f"{relative}: no checksum recorded in datasets/SHA256SUMS")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise DatasetError(
                f"{path}: checksum mismatch (sha256 {digest[:12]}..., expected {expected[:12]}...); "
                "the file is corrupted or was changed"
            )
        _verified.add(relative)
    return path


def dataset_checksums() -> dict[str, str]:
    """The recorded SHA-256 of every bundled file (stored with each run and each model)."""
    return dict(_expected_checksums())


def _read_csv(relative: str, **kwargs) -> pd.DataFrame:
    path = dataset_path(relative)
    try:
        return pd.read_csv(path, **kwargs)
    except Exception as exc:
        raise DatasetError(f"{path}: cannot be read as CSV ({exc})") from exc


# --------------------------------------------------------------------------- OBELiX

_NUMBER = re.compile(r"^\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*$")
_CENSORED = re.compile(r"^\s*<\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*$")


def parse_conductivity(value: object) -> tuple[float, bool]:
    """Parse one OBELiX conductivity entry into ``(sigma_S_cm, censored)``.

    Numbers are returned as they are. A text ``<X`` (below the detection limit X) is
    returned as ``X * CENSORED_FACTOR`` with ``censored=True``. Anything else (empty,
    non-positive, unparseable) gives ``(nan, False)``.
    """
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
        v = float(value)
        return (v if v > 0 else float("nan")), False
    text = str(value)
    if m := _NUMBER.match(text):
        v = float(m.group(1))
        return (v if v > 0 else float("nan")), False
    if m := _CENSORED.match(text):
        return float(m.group(1)) * CENSORED_FACTOR, True
    return float("nan"), False


_OBELIX_COLUMNS = {
    "ID": "id",
    "Reduced Composition": "formula",
    "True Composition": "true_formula",
    "Z": "Z",
    "Space group": "space_group",
    "Space group #": "space_group_number",
    "a": "a_A",
    "b": "b_A",
    "c": "c_A",
    "alpha": "alpha_deg",
    "beta": "beta_deg",
    "gamma": "gamma_deg",
    "Family": "obelix_family",
    "DOI": "doi",
}


def load_obelix(split: Literal["all", "train", "test"] = "all", structures: bool = False) -> pd.DataFrame:
    """OBELiX: measured room-temperature Li-ion conductivity of 599 solid electrolytes.

    Parameters
    ----------
    split
        ``"all"`` (599 rows), or the official ``"train"`` (478) / ``"test"`` (121) split,
        made by the OBELiX authors to keep near-duplicates on one side.
    structures
        Also return a ``structure`` column (pymatgen ``Structure`` or ``None``) read from
        the bundled CIFs, and ``structure_error`` for CIFs that cannot be read.

    Returns
    -------
    DataFrame with ``id``, ``formula`` (reduced composition), ``true_formula``,
    ``sigma_S_cm``, ``log10_sigma_S_cm``, ``censored`` (the value was ``<X``, see
    :func:`parse_conductivity`), ``space_group``, ``space_group_number``, lattice
    parameters ``a_A`` ... ``gamma_deg``, ``obelix_family``, ``doi``, ``has_cif``.
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"split={split!r}: expected 'all', 'train' or 'test'")
    raw = _read_csv(f"obelix/{split}.csv")
    parsed = [parse_conductivity(v) for v in raw["Ionic conductivity (S cm-1)"]]
    df = raw.rename(columns=_OBELIX_COLUMNS)[list(_OBELIX_COLUMNS.values())].copy()
    df["sigma_S_cm"] = [p[0] for p in parsed]
    df["censored"] = [p[1] for p in parsed]
    df[SIGMA] = np.log10(df["sigma_S_cm"])
    df["has_cif"] = raw["Cif ID"].eq("done").to_numpy()
    df["split"] = split
    if structures:
        cifs = load_obelix_structures()
        df["structure"] = pd.Series([cifs.get(i, (None, None))[0] for i in df["id"]], index=df.index, dtype=object)
        df["structure_error"] = [cifs.get(i, (None, None))[1] for i in df["id"]]
    return df.reset_index(drop=True)


def _parse_cif_text(name: str, text: str) -> tuple[Structure | None, str | None]:
    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_str(text, fmt="cif"), None
    except Exception as exc:
        return None, str(StructureReadError(f"{name}: cannot read a structure ({type(exc).__name__}: {exc})"))


@lru_cache(maxsize=1)
def _obelix_cif_texts() -> dict[str, str]:
    path = dataset_path("obelix/all_cifs.tar.gz")
    texts = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".cif"):
                    handle = tar.extractfile(member)  # None only for members that are not regular files
                    if handle is not None:
                        texts[Path(member.name).stem] = handle.read().decode("utf-8", "replace")
    except (EOFError, OSError, tarfile.TarError, zlib.error) as exc:  # truncated or corrupted archive
        raise DatasetError(f"{path}: cannot be read as a gzipped tar archive ({type(exc).__name__}: {exc})") from exc
    return texts


def load_obelix_structures(ids: list[str] | None = None) -> dict[str, tuple[Structure | None, str | None]]:
    """Read the OBELiX CIFs: ``{id: (Structure or None, error text or None)}``.

    About 78% of these structures have partially occupied sites; they are kept
    disordered. A CIF that pymatgen cannot read gives ``(None, "<id>.cif: ...")``.
    """
    texts = _obelix_cif_texts()
    wanted = texts.keys() if ids is None else [i for i in ids if i in texts]
    return {i: _parse_cif_text(f"{i}.cif", texts[i]) for i in wanted}


def obelix_cif_ids() -> list[str]:
    """Ids of the OBELiX entries that have a bundled CIF (321)."""
    return sorted(_obelix_cif_texts())


def obelix_cif_text(obelix_id: str) -> str:
    """The raw CIF text of one OBELiX entry (for writing it to a file)."""
    try:
        return _obelix_cif_texts()[obelix_id]
    except KeyError:
        raise DatasetError(f"OBELiX id {obelix_id!r} has no CIF in obelix/all_cifs.tar.gz") from None


# ------------------------------------------------------------- Materials Project data


def load_mp_ground_states() -> pd.DataFrame:
    """Formation energy and decomposition energy of 85,014 MP ground-state compositions.

    Columns: ``formula``, ``formation_energy_eV_atom`` (GGA/GGA+U, elements at 0),
    ``decomposition_energy_eV_atom`` (negative: distance below the hull of the other
    phases; positive: energy above the hull), ``split`` (the train/val/test split of
    Bartel et al. 2020).
    """
    frames = []
    for split in ("train", "val", "test"):
        ef = _read_csv(f"mp_ground_states/Ef_{split}.csv")
        ed = _read_csv(f"mp_ground_states/Ed_{split}.csv")
        if len(ef) != len(ed) or not (ef["formula"].to_numpy() == ed["formula"].to_numpy()).all():
            raise DatasetError(f"mp_ground_states/Ef_{split}.csv and Ed_{split}.csv are not row-aligned")
        frames.append(
            pd.DataFrame(
                {
                    "formula": ef["formula"],
                    "formation_energy_eV_atom": ef["target"].astype(float),
                    "decomposition_energy_eV_atom": ed["target"].astype(float),
                    "split": split,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_mp_formation_energies() -> pd.DataFrame:
    """matbench_mp_e_form: formation energy (eV/atom) of 132,752 MP entries, polymorphs included.

    Columns: ``formula``, ``formation_energy_eV_atom``.
    """
    df = _read_csv("matbench/mp_e_form.csv")
    return df.rename(columns={"target": "formation_energy_eV_atom"})


def load_elasticity() -> pd.DataFrame:
    """matbench elasticity: DFT Voigt-Reuss-Hill moduli of 10,987 materials (formula only).

    Columns: ``formula``, ``log10_G_VRH_GPa``, ``log10_K_VRH_GPa``, ``G_VRH_GPa``,
    ``K_VRH_GPa``. The two source files are row-aligned (checked).
    """
    g = _read_csv("matbench/log10_G_VRH.csv")
    k = _read_csv("matbench/log10_K_VRH.csv")
    if len(g) != len(k) or not (g["formula"].to_numpy() == k["formula"].to_numpy()).all():
        raise DatasetError("matbench/log10_G_VRH.csv and log10_K_VRH.csv are not row-aligned")
    df = pd.DataFrame(
        {"formula": g["formula"], "log10_G_VRH_GPa": g["target"].astype(float), "log10_K_VRH_GPa": k["target"].astype(float)}
    )
    df["G_VRH_GPa"] = 10 ** df["log10_G_VRH_GPa"]
    df["K_VRH_GPa"] = 10 ** df["log10_K_VRH_GPa"]
    return df


def load_elastic_binaries(structures: bool = False) -> pd.DataFrame:
    """Materials Project (2025) elastic moduli of 3,953 binary compounds.

    Columns: ``mp_id``, ``formula``, ``K_VRH_GPa``, ``G_VRH_GPa`` and, with
    ``structures=True``, ``structure`` (pymatgen ``Structure``).
    """
    path = dataset_path("mp_elasticity_binaries/mp-binary-pbe-elasticity-2025.1.json.gz")
    try:
        with gzip.open(path, "rt") as fh:
            raw = json.load(fh)
    except Exception as exc:
        raise DatasetError(f"{path}: cannot be read as gzipped JSON ({exc})") from exc
    df = pd.DataFrame(raw) if not isinstance(raw, dict) or "mp_id" not in raw else pd.DataFrame(raw)
    df = df.rename(columns={"bulk_modulus_vrh": "K_VRH_GPa", "shear_modulus_vrh": "G_VRH_GPa"})
    if structures:
        from pymatgen.core import Structure

        df["structure"] = pd.Series([Structure.from_dict(s) for s in df["structure"]], index=df.index, dtype=object)
    else:
        df = df.drop(columns=["structure"])
    return df.reset_index(drop=True)


def load_band_gaps() -> pd.DataFrame:
    """matbench_expt_gap: experimental band gap (eV) of 4,604 compositions.

    Columns: ``formula``, ``band_gap_eV``.
    """
    return _read_csv("matbench/expt_gap.csv").rename(columns={"target": "band_gap_eV"})


def _read_bytes(relative: str) -> io.BytesIO:  # pragma: no cover - helper for notebooks
    return io.BytesIO(dataset_path(relative).read_bytes())
