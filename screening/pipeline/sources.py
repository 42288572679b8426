"""Candidate sources of a screening run: OBELiX, CIF/POSCAR files and enumerated substitutions.

One object per source, :class:`CandidateSource` (``candidate_source(params)`` picks it),
is what every tier asks: :meth:`~CandidateSource.frames` gives the run's candidates as
chunks of rows with the columns :data:`CANDIDATE_COLUMNS`, and
:meth:`~CandidateSource.structures` gives the structures of any of those candidates (the
structure and simulation tiers), so that a candidate id found in one is found in the
other. An input that cannot be screened (an unreadable file, an unknown element, a
negative occupancy, no family) stays in the table as a row whose ``error`` names it: no
input vanishes silently.
"""

from __future__ import annotations

import errno
import glob as _glob
import itertools
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Element, Structure

from screening import columns
from screening.chemistry import as_composition, family_of
from screening.datasets import load_obelix
from screening.errors import ScreeningError, StructureReadError
from screening.pipeline.params import ANIONS, ScreenParameters
from screening.structures import read_structure, structure_id, text_id

__all__ = ["CANDIDATE_COLUMNS", "CandidateSource", "EnumeratedSource", "FileSource", "ObelixSource", "candidate_source",
           "candidate_structures", "obelix_candidates", "cif_candidates", "check_path", "file_error", "glob_paths",
           "iter_candidate_frames"]  # fmt: skip

#: columns of the ``candidates`` table (the registry's candidates tier)
CANDIDATE_COLUMNS = columns.names("candidates")


def obelix_candidates(with_structures: bool = True) -> pd.DataFrame:
    """The OBELiX entries that have a CIF, as candidates (``source = "obelix"``)."""
    df = load_obelix("all", structures=with_structures)
    df = df[df["has_cif"]].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "candidate_id": "obelix-" + df["id"],
            "formula": df["formula"],
            "source": "obelix",
            "prototype": df["obelix_family"],
            "parent": df["id"],
            columns.MEASURED_SIGMA: df[columns.SIGMA],
            "error": df["structure_error"] if with_structures else None,
        }
    )
    if with_structures:
        out["structure"] = df["structure"]
    return out


def _check_cif_occupancies(path: Path) -> None:
    """Raise StructureReadError when a CIF lists an occupancy outside (0, 1]: pymatgen drops such sites silently."""
    from pymatgen.io.cif import CifFile

    if path.suffix.lower() != ".cif":
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = CifFile.from_file(path).data.values()
    except Exception:  # pymatgen's CIF tokenizer raises many types (even ZeroDivisionError); read_structure says why
        return
    for block in blocks:
        labels = block.data.get("_atom_site_label") or []
        for i, text in enumerate(block.data.get("_atom_site_occupancy") or []):
            try:
                occupancy = float(str(text).split("(")[0])
            except ValueError:
                raise StructureReadError(f"{path.name}: occupancy {text!r} is not a number") from None
            if not 0 < occupancy <= 1 + 1e-3:
                label = labels[i] if i < len(labels) else f"#{i + 1}"
                raise StructureReadError(f"{path.name}: site {label} has occupancy {occupancy} (must be in (0, 1])")


def _check_structure(structure: Structure, name: str) -> str:
    """The reduced formula of a structure read from file ``name``; raises StructureReadError when it cannot be screened."""
    for site in structure:
        for species, occupancy in site.species.items():
            element = getattr(species, "element", species)
            if not isinstance(element, Element):
                raise StructureReadError(f"{name}: unknown element {getattr(species, 'symbol', species)!s}")
            if not occupancy > 0:
                raise StructureReadError(f"{name}: site {site.label or site.species_string} has occupancy {occupancy} of {element}")
            if occupancy > 1 + 1e-3:
                raise StructureReadError(f"{name}: site {site.label or site.species_string} has occupancy {occupancy} > 1")
    composition = structure.composition
    if "Li" not in {el.symbol for el in composition.elements}:
        raise StructureReadError(f"{name}: no lithium in {composition.reduced_formula}")
    if len(composition.elements) < 2:
        raise StructureReadError(f"{name}: {composition.reduced_formula} has lithium only (no anion)")
    return composition.reduced_formula


#: most characters of a file's error text (a 1 MB bad input gave a 2 MB error)
MAX_ERROR_CHARS = 500


def _resolved_text(path: Path) -> str:
    """The resolved path as text (the path itself when it cannot be resolved: a loop)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return str(path.absolute())


def check_path(path: Path) -> None:
    """Raise StructureReadError unless ``path`` resolves without a symlink loop to a readable regular file.

    Checked before anything opens it: a FIFO matching a glob blocked a screen forever, a
    symlink loop (RuntimeError from ``Path.resolve``) ended it with no candidate.
    """
    try:
        resolved = path.resolve(strict=True)
    except RuntimeError:
        raise StructureReadError(f"{path.name}: symlink loop") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StructureReadError(f"{path.name}: symlink loop") from None
        raise StructureReadError(f"{path.name}: cannot open ({exc.strerror or type(exc).__name__})") from None
    mode = resolved.stat().st_mode
    if not stat.S_ISREG(mode):
        raise StructureReadError(f"{path.name}: not a regular file (a FIFO, device, socket or folder)")
    if not os.access(resolved, os.R_OK):
        raise StructureReadError(f"{path.name}: not readable (permissions)")


def file_error(path: Path, exc: BaseException) -> str:
    """The error text of a file's row: its name and the parser's message, with no text of the file's
    own (a POSCAR's second line showed up in the store) and at most :data:`MAX_ERROR_CHARS` characters."""
    text = str(exc) if isinstance(exc, StructureReadError) else f"{type(exc).__name__}: {exc}"
    text = text if path.name in text else f"{path.name}: {text}"
    try:
        check_path(path)
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.read(1_000_000)
    except (StructureReadError, OSError):
        content = ""
    for token in sorted({t for t in re.split(r"[\s'\",;()\[\]]+", content) if len(t) >= 4}, key=len, reverse=True):
        if token in text and token not in path.name and not _FORMAT_WORD.fullmatch(token):
            text = text.replace(token, "<file text>")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


#: words of a file that a parser's message may name (format keywords, numbers): not the file's secrets
_FORMAT_WORD = re.compile(r"(_[a-z_]+|data_\w*|loop_|[-+0-9.eE()]+|Direct|Cartesian|Selective)")


def glob_paths(pattern: str) -> list[str]:
    """The paths ``pattern`` matches (``recursive`` off), at most ``max_glob_matches``: more is a ScreeningError
    (``'/*/*/*/*/*/*/*'`` matched 3.8 million paths)."""
    from screening.config import get_settings

    cap = get_settings().max_glob_matches
    paths = list(itertools.islice(_glob.iglob(pattern), cap + 1))
    if len(paths) > cap:
        raise ScreeningError(f"cif_glob={pattern!r} matches more than {cap} files (SCREENING_MAX_GLOB_MATCHES): narrow it")
    return paths


def _read_file(path: Path) -> dict:
    """The candidate row of one structure file, with its ``structure`` (None and an ``error`` when it cannot be screened)."""
    row: dict[str, object] = {"source": "file", "prototype": None, "parent": path.name, "measured_log10_sigma_S_cm": np.nan}
    file_tag = _file_tag(path)
    try:
        check_path(path)
        _check_cif_occupancies(path)
        structure = read_structure(path)
        formula = _check_structure(structure, path.name)
        row.update(candidate_id=f"{structure_id(structure)}-{file_tag}", formula=formula, structure=structure, error=None)
    except Exception as exc:  # every per-file failure (MemoryError, RecursionError too) is this file's row
        row.update(candidate_id=f"file-{file_tag}", formula=None, structure=None, error=file_error(path, exc))
    return row


def _file_tag(path: Path) -> str:
    """The part of a file's candidate id that names the file (a hash of its resolved path): the id's last 14 characters."""
    return text_id(_resolved_text(path), prefix="f")


def cif_candidates(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Candidates read from CIF (or POSCAR) files, one row per file (``source = "file"``, ``parent`` = file name).

    A file that cannot be screened (unreadable, unknown element, non-positive occupancy,
    no lithium, lithium only) becomes a row whose ``error`` names it. Identical structures
    in two files stay two rows: the id is the structure's hash plus a hash of the file path.
    """
    rows = [_read_file(path) for path in sorted(Path(p) for p in paths)]
    return pd.DataFrame(rows, columns=["candidate_id", "formula", "source", "prototype", "parent",
                                       "measured_log10_sigma_S_cm", "error", "structure"])  # fmt: skip


def _label(frame: pd.DataFrame) -> pd.Series:
    return frame["parent"].astype(str) if "parent" in frame else frame["candidate_id"].astype(str)


def _family_filter(frame: pd.DataFrame, params: ScreenParameters) -> pd.DataFrame:
    """Rows of ``params.families`` (and of the element pool); a row whose family cannot be found keeps an error."""
    frame = frame.reset_index(drop=True)
    errors = frame["error"].copy() if "error" in frame else pd.Series([None] * len(frame), dtype=object)
    errors = errors.astype(object).where(errors.notna(), None)  # type: ignore[call-overload]  # pandas-stubs refuses None as `other`, pandas takes it
    families = frame["family"].copy() if "family" in frame else pd.Series([None] * len(frame), dtype=object)
    labels = _label(frame)
    formulas = frame["formula"].to_numpy(object)
    for i in np.flatnonzero(families.isna().to_numpy() & errors.isna().to_numpy()).tolist():
        try:
            families[i] = family_of(formulas[i])
        except ScreeningError as exc:
            errors[i] = f"{labels[i]}: no family ({exc})"
    frame = frame.assign(family=families, error=errors)
    keep = frame["family"].isin(params.families) | frame["error"].notna()  # a bad input stays, saying why
    if params.elements and params.source != "enumerated":
        pool = set(params.elements) | ANIONS | {"Li"}

        def inside(formula) -> bool:
            try:
                return {el.symbol for el in as_composition(formula).elements} <= pool
            except ScreeningError:
                return True  # kept: its error row says why

        keep &= frame["formula"].map(inside) | frame["error"].notna()
    return frame[keep.to_numpy()]


def enumeration_arguments(params: ScreenParameters) -> dict:
    """The arguments of :func:`screening.enumeration.enumerate_candidates` that give a run's enumerated candidates.

    Used by :class:`EnumeratedSource` for both its rows and its structures, so that a candidate id
    found in one is found in the other: same families, space (``default``/``large``), element pool,
    radius tolerance, budget and seed. With a budget the enumerator takes a stratified, seeded sample
    of the whole space (every prototype and family represented), not the first candidates of the
    first seed.
    """
    kwargs: dict = {"families": [f for f in params.families if f in ("sulfide", "halide", "oxide")], "options": params.space,
                    "min_lambda": params.min_lambda, "max_dopant_species": params.max_dopant_species, "limit": params.limit,
                    "seed": 0}  # fmt: skip
    if params.elements:
        kwargs["elements"] = list(params.elements)
    return kwargs


class CandidateSource:
    """The candidates of a run (:meth:`frames`) and their structures (:meth:`structures`), from one source.

    Build one with :func:`candidate_source` (or ``CandidateSource.from_params``), which picks
    :class:`ObelixSource`, :class:`FileSource` or :class:`EnumeratedSource` from
    ``params.source``. A subclass gives its raw rows (:meth:`_raw_frames`) and the structures of
    given ids; the family and element filters, the budget, the de-duplication of ids and the
    chunking are the same for every source.
    """

    #: the ``source`` parameter this class serves
    name = ""

    def __init__(self, params: ScreenParameters) -> None:
        self.params = params

    @staticmethod
    def from_params(params: ScreenParameters) -> CandidateSource:
        """The source ``params.source`` names."""
        kinds = {cls.name: cls for cls in (ObelixSource, FileSource, EnumeratedSource)}
        if params.source not in kinds:
            raise ScreeningError(f"source={params.source!r}: expected one of {sorted(kinds)}")
        return kinds[params.source](params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.params.source!r}, families={list(self.params.families)}, limit={self.params.limit})"

    def _raw_frames(self) -> Iterable[pd.DataFrame]:
        """Candidate rows before the family filter, budget and de-duplication (no ``structure`` column)."""
        raise NotImplementedError

    def structures(self, ids: Sequence[str]) -> list[Structure | str]:
        """The structure of each candidate id (a pymatgen Structure), or an error text saying why there is none.

        One entry per id, in order; an id this source does not give is an error text, never an exception.
        """
        raise NotImplementedError

    def frames(self) -> Iterator[pd.DataFrame]:
        """The candidates of the run as tables of at most ``chunk_size`` rows, at most ``limit`` rows in all.

        The stream is deterministic: the same parameters give the same chunks, so that a
        resumed run finds its chunks in the cache. Candidate ids are unique within a run.
        """
        params = self.params
        size = params.chunk_size
        left = params.limit if params.limit is not None else float("inf")
        seen: set[str] = set()
        buffer: list[pd.DataFrame] = []
        n_buffered = 0
        for frame in self._raw_frames():
            if left <= 0:
                break
            frame = _family_filter(frame, params)
            # set look-ups, not Series.isin(seen): isin converts the whole set, 10^6 ids, for every chunk
            fresh = np.fromiter((i not in seen for i in frame["candidate_id"].tolist()), dtype=bool, count=len(frame))
            frame = frame[fresh & ~frame["candidate_id"].duplicated().to_numpy()]
            frame = frame.head(int(min(left, len(frame))))
            left -= len(frame)
            seen.update(frame["candidate_id"])
            for col in CANDIDATE_COLUMNS:
                if col not in frame:
                    frame = frame.assign(**{col: None})
            buffer.append(frame)
            n_buffered += len(frame)
            while n_buffered >= size:
                whole = pd.concat(buffer, ignore_index=True)
                yield whole.iloc[:size].reset_index(drop=True)
                rest = whole.iloc[size:]
                buffer, n_buffered = [rest], len(rest)
        if n_buffered:
            yield pd.concat(buffer, ignore_index=True).reset_index(drop=True)

    def _missing(self, candidate_id: str) -> str:
        return f"{candidate_id}: structure not found in source {self.params.source!r}"


class ObelixSource(CandidateSource):
    """The OBELiX entries that have a CIF (``source = "obelix"``; ids ``obelix-<OBELiX id>``)."""

    name = "obelix"

    def _raw_frames(self) -> Iterable[pd.DataFrame]:
        return [obelix_candidates(with_structures=False)]

    def structures(self, ids: Sequence[str]) -> list[Structure | str]:
        from screening.datasets import load_obelix_structures

        ids = list(ids)
        raw = load_obelix_structures([i.removeprefix("obelix-") for i in ids if i.startswith("obelix-")])
        out: list[Structure | str] = []
        for i in ids:
            structure, error = raw.get(i.removeprefix("obelix-"), (None, None)) if i.startswith("obelix-") else (None, None)
            out.append(structure if structure is not None else (f"{i}: {error}" if error else self._missing(i)))
        return out


class FileSource(CandidateSource):
    """CIF/POSCAR files matching ``params.cif_glob`` (``source = "file"``, one row per file)."""

    name = "file"

    def _paths(self) -> list[str]:
        return glob_paths(self.params.cif_glob or "")

    def _raw_frames(self) -> Iterable[pd.DataFrame]:
        return [cif_candidates(self._paths()).drop(columns=["structure"])]

    def structures(self, ids: Sequence[str]) -> list[Structure | str]:
        """Only the files the ids name are read again (an id ends with its file's tag); a file whose structure
        changed since its id was made gives an error text."""
        ids = list(ids)
        by_tag: dict[str, list[str]] = {}
        for i in ids:
            by_tag.setdefault(i[-14:], []).append(i)
        found: dict[str, Structure | str] = {}
        for path in sorted(Path(p) for p in self._paths()):
            tag = _file_tag(path)
            if tag not in by_tag:
                continue
            row = _read_file(path)
            for i in by_tag[tag]:
                if row["candidate_id"] == i:
                    found[i] = row["structure"] if row["structure"] is not None else f"{i}: {row['error']}"
                else:
                    found[i] = f"{i}: {path.name} now reads as candidate {row['candidate_id']} (the file changed)"
        return [found.get(i, self._missing(i)) for i in ids]


class EnumeratedSource(CandidateSource):
    """Substitutions on the seeds (``source = "enumerated"``): :func:`screening.enumeration.enumerate_candidates` with
    :func:`enumeration_arguments`; a structure is built from its parent CIF (:func:`screening.enumeration.build_structure`)."""

    name = "enumerated"

    def _raw_frames(self) -> Iterator[pd.DataFrame]:
        from screening.enumeration import enumerate_candidates

        kwargs = enumeration_arguments(self.params)
        if not kwargs["families"]:  # the seeds hold no other family: nothing to enumerate
            return
        stream = enumerate_candidates(**kwargs)
        while True:
            chunk = list(itertools.islice(stream, self.params.chunk_size))
            if not chunk:
                return
            frame = pd.DataFrame([c.as_dict() for c in chunk]).rename(columns={"id": "candidate_id"})
            frame["source"] = "enumerated"
            frame["measured_log10_sigma_S_cm"] = np.nan
            frame["error"] = None
            yield frame

    def structures(self, ids: Sequence[str]) -> list[Structure | str]:
        """The enumeration is walked again (the same arguments as :meth:`frames`) until every id is found."""
        from screening.enumeration import build_structure, enumerate_candidates

        ids = list(ids)
        wanted = set(ids)
        found: dict[str, Structure | str] = {}
        kwargs = enumeration_arguments(self.params)
        if wanted and kwargs["families"]:
            for cand in enumerate_candidates(**kwargs):
                if cand.id in wanted:
                    try:
                        found[cand.id] = build_structure(cand)
                    except Exception as exc:  # one candidate that cannot be built is its own error, not the batch's
                        found[cand.id] = f"{cand.id}: {type(exc).__name__}: {exc}"
                    if len(found) == len(wanted):
                        break
        return [found.get(i, self._missing(i)) for i in ids]


def candidate_source(params: ScreenParameters) -> CandidateSource:
    """The :class:`CandidateSource` of a run's parameters (``params.source``)."""
    return CandidateSource.from_params(params)


def iter_candidate_frames(params: ScreenParameters) -> Iterator[pd.DataFrame]:
    """``candidate_source(params).frames()``: the candidates of a run in chunks."""
    return candidate_source(params).frames()


def candidate_structures(params: ScreenParameters, candidates: pd.DataFrame) -> list[Structure | str]:
    """``candidate_source(params).structures(candidates["candidate_id"])``: a Structure or an error text per row."""
    return candidate_source(params).structures(list(candidates["candidate_id"]))
