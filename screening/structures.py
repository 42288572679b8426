"""Reading structures from files, pymatgen and ase objects; stable identifiers.

Disorder policy: structures with partial occupancies are kept as they are (pymatgen
``Structure`` with fractional ``Species`` occupancies). Descriptors that need an ordered
structure document how they treat disorder; nothing here orders a structure silently.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

from pymatgen.core import Composition, Structure

from screening.errors import StructureReadError

__all__ = ["read_structure", "to_structure", "structure_id", "composition_id", "text_id"]


def read_structure(path: str | Path) -> Structure:
    """Read one structure from a CIF, POSCAR or any format pymatgen reads.

    Raises :class:`StructureReadError` naming the file when it is missing, empty or
    cannot be parsed. Partial occupancies are kept.
    """
    path = Path(path)
    if not path.is_file():
        raise StructureReadError(f"{path}: no such structure file")
    if path.stat().st_size == 0:
        raise StructureReadError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except Exception as exc:  # pymatgen raises many types for broken files
        raise StructureReadError(f"{path.name}: cannot read a structure ({type(exc).__name__}: {exc})") from exc
    if len(structure) == 0:
        raise StructureReadError(f"{path.name}: the structure has no sites")
    return structure


def to_structure(item: Any) -> Structure:
    """Return a pymatgen Structure from a Structure, an ase Atoms or a path."""
    if isinstance(item, Structure):
        return item
    if isinstance(item, (str, Path)) and Path(item).suffix:
        return read_structure(item)
    try:
        from ase import Atoms
    except ImportError:  # pragma: no cover - ase is a core dependency
        Atoms = ()
    if isinstance(item, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(item)
    raise StructureReadError(f"{item!r}: not a structure (expected a pymatgen Structure, ase Atoms or a file path)")


def text_id(text: str, prefix: str) -> str:
    """A short stable id from any text (a file name, a key): ``<prefix>-<12 hex digits>``."""
    return f"{prefix}-" + hashlib.sha1(text.encode()).hexdigest()[:12]


def composition_id(composition: Composition | str, prefix: str = "") -> str:
    """A short stable id from the reduced formula (same formula, same id, any machine)."""
    comp = Composition(composition)
    text = comp.reduced_formula + "|" + comp.alphabetical_formula
    digest = hashlib.sha1(f"{prefix}|{text}".encode()).hexdigest()[:12]
    return f"{prefix}{digest}" if not prefix else f"{prefix}-{digest}"


def structure_id(structure: Structure) -> str:
    """A stable id for a structure: a hash of its formula, lattice and sites (rounded)."""
    parts = [structure.composition.formula]
    parts.append(",".join(f"{x:.3f}" for x in structure.lattice.parameters))
    for site in sorted(structure, key=lambda s: (str(s.species), tuple(round(c % 1.0, 3) for c in s.frac_coords))):
        parts.append(f"{site.species}@{','.join(f'{c % 1.0:.3f}' for c in site.frac_coords)}")
    return "s-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]
