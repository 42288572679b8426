"""Reading structures from files, pymatgen and ase objects; stable identifiers.

Disorder policy: structures with partial occupancies are kept as they are (pymatgen
``Structure`` with fractional ``Species`` occupancies). Descriptors that need an ordered
structure document how they treat disorder; nothing here orders a structure silently.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from screening.errors import StructureReadError

__all__ = ["check_structure", "read_structure", "to_structure", "structure_id", "composition_id", "text_id"]

COINCIDENT_A = 0.5  # fully occupied sites closer than this are the same atom twice


def check_structure(structure: Structure, name: str | None = None) -> Structure:
    """Refuse structures no descriptor can describe honestly; return the structure unchanged.

    Raises :class:`StructureReadError` naming ``name`` (default: the formula) when the
    lattice is degenerate (volume below 1e-3 A^3 or not finite), the structure has more
    sites than ``Settings.max_structure_atoms`` (``SCREENING_MAX_STRUCTURE_ATOMS``), a
    site has a negative occupancy, or two fully occupied sites are closer than 0.5 A
    (coincident atoms). Partially occupied sites closer than that are split sites
    (alternative positions of one ion, as the 0.42 A Li pairs of the LGPS CIF) and are allowed.
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    from screening.config import get_settings

    label = name or structure.composition.reduced_formula or "structure"
    if len(structure) == 0:
        raise StructureReadError(f"{label}: the structure has no sites")
    volume = float(abs(np.linalg.det(structure.lattice.matrix)))
    if not math.isfinite(volume) or volume < 1e-3:
        raise StructureReadError(f"{label}: no periodic cell (cell volume {volume:.3g} A^3)")
    _check_cell(structure, label)
    limit = get_settings().max_structure_atoms
    if len(structure) > limit:
        raise StructureReadError(
            f"{label}: {len(structure)} sites, more than the limit of {limit} (SCREENING_MAX_STRUCTURE_ATOMS)"
        )
    occupancy = np.empty(len(structure))
    for n, site in enumerate(structure):
        amounts = list(site.species.values())
        if any(a < 0 for a in amounts):
            raise StructureReadError(f"{label}: negative occupancy on site {n} ({site.species})")
        occupancy[n] = sum(amounts)
    lattice = np.ascontiguousarray(structure.lattice.matrix, dtype=float)
    cart = np.ascontiguousarray(np.mod(structure.frac_coords, 1.0) @ lattice)
    i, j, _, d = find_points_in_spheres(cart, cart, r=COINCIDENT_A, pbc=np.array([1, 1, 1], dtype=np.int64),
                                        lattice=lattice, tol=1e-8)
    pair = (i < j) | ((i == j) & (d > 1e-6))  # a site near its own image: cell too small
    full = occupancy > 1.0 - 1e-2
    bad = pair & full[i] & full[j]
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        a, b = int(i[k]), int(j[k])
        raise StructureReadError(
            f"{label}: coincident atoms: sites {a} ({structure[a].species}) and {b} ({structure[b].species}) "
            f"are {d[k]:.2f} A apart (less than {COINCIDENT_A} A, both fully occupied)"
        )
    return structure


def _check_cell(structure: Structure, label: str) -> None:
    """Refuse cell edges over ``max_cell_length_A`` and a volume per atom over ``max_volume_per_atom_A3``
    (a vacuum cell: its density, Li distances and BVSE barriers describe no solid, and its
    BVSE grid took 2.4 GB for a 400 A box, 27 GB for 1,000 A)."""
    from screening.config import get_settings

    settings = get_settings()
    lengths = np.asarray(structure.lattice.abc, dtype=float)
    if not np.isfinite(lengths).all() or lengths.max() > settings.max_cell_length_A:
        raise StructureReadError(
            f"{label}: cell length {lengths.max():.3g} A is over the limit of {settings.max_cell_length_A:g} A "
            "(SCREENING_MAX_CELL_LENGTH_A): not a crystal cell"
        )
    atoms = sum(sum(site.species.values()) for site in structure)
    per_atom = structure.volume / atoms if atoms > 0 else float("inf")
    if per_atom > settings.max_volume_per_atom_A3:
        raise StructureReadError(
            f"{label}: vacuum cell: {per_atom:.3g} A^3 per atom, over the limit of {settings.max_volume_per_atom_A3:g} "
            "(SCREENING_MAX_VOLUME_PER_ATOM_A3; solids have 10-60): no descriptor describes an empty cell"
        )


_CIF_LENGTH = re.compile(r"^\s*_cell_length_[abc]\s+([-+0-9.eE]+)", re.MULTILINE)


def _format_name(path: Path) -> str | None:
    """pymatgen's name of the file's format from its name (``cif``, ``poscar`` ...), None when it has none."""
    from pymatgen.io.registry import get_structure_format

    try:
        return get_structure_format(filename=path.name).name
    except ValueError:
        return None


def _file_text(path: Path, limit: int) -> str:
    """The file's text, decompressed as pymatgen reads it (.gz, .bz2, .xz), refused past ``limit`` bytes
    (a small .gz can hold gigabytes)."""
    from monty.io import zopen

    with zopen(path, mode="rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise StructureReadError(
            f"{path.name}: more than {limit} bytes uncompressed, the limit (SCREENING_MAX_STRUCTURE_FILE_BYTES)"
        )
    return data.decode("utf-8", errors="replace")


def precheck_file(path: Path) -> None:
    """Bounds checked before pymatgen expands a file: its size (``max_structure_file_bytes``, uncompressed
    too); for a CIF its cell lengths (a 1e30 A cell crashed pymatgen's neighbour search), one structure
    per file, no negative occupancy and the number of sites its symmetry operations make
    (``max_structure_atoms``: 3,000 general positions in Fm-3m ran for more than 300 s); for a POSCAR,
    one count per species name."""
    from screening.config import get_settings

    settings = get_settings()
    size = path.stat().st_size
    if size > settings.max_structure_file_bytes:
        raise StructureReadError(
            f"{path.name}: {size} bytes, more than the limit of {settings.max_structure_file_bytes} (SCREENING_MAX_STRUCTURE_FILE_BYTES)"
        )
    kind = _format_name(path)
    if kind not in ("cif", "poscar"):
        return
    text = _file_text(path, settings.max_structure_file_bytes)
    if kind == "poscar":
        _check_poscar(text, path.name)
        return
    for value in _CIF_LENGTH.findall(text):
        try:
            length = float(value)
        except ValueError:
            continue
        if not math.isfinite(length) or length > settings.max_cell_length_A:
            raise StructureReadError(
                f"{path.name}: cell length {length:.3g} A is over the limit of {settings.max_cell_length_A:g} A "
                "(SCREENING_MAX_CELL_LENGTH_A): not a crystal cell"
            )
    _check_cif_blocks(text, path.name, settings.max_structure_atoms)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _check_poscar(text: str, name: str) -> None:
    """Refuse a VASP 5 POSCAR whose species line (6) and counts line (7) differ in length: pymatgen pairs
    them up silently (3 species with 2 counts read as a structure of the first two)."""
    lines = text.splitlines()
    if len(lines) < 7:
        return  # pymatgen says what is missing
    species, counts = lines[5].split(), lines[6].split()
    if not species or any(_is_number(t) for t in species) or not all(t.isdigit() for t in counts):
        return  # VASP 4 (no species line) or a malformed file: pymatgen's message
    if len(species) != len(counts):
        raise StructureReadError(
            f"{name}: {len(species)} species names on line 6 but {len(counts)} counts on line 7 (one count per species)"
        )


def _cif_values(data: dict, key: str) -> list:
    value = data.get(key)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _cif_number(text: object) -> float:
    return float(str(text).split("(")[0])


def _check_cif_blocks(text: str, name: str, max_sites: int) -> None:
    """One structure per CIF (pymatgen silently keeps the first of several data blocks with atom
    sites), no negative occupancy (pymatgen drops such sites silently) and at most ``max_sites``
    sites once the symmetry operations are applied, counted before pymatgen expands them."""
    from pymatgen.io.cif import CifFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cif = CifFile.from_str(text)
    except Exception:  # noqa: BLE001 - pymatgen's tokenizer raises many types; the structure parser says why
        return
    blocks = []
    for block in cif.data.values():
        data = {k.lower(): v for k, v in block.data.items()}
        if "_atom_site_fract_x" in data or "_atom_site_cartn_x" in data:
            blocks.append(data)
    if len(blocks) > 1:
        raise StructureReadError(
            f"{name}: {len(blocks)} data blocks with atom sites: one structure per file is read "
            "(split the file into one CIF per structure)"
        )
    for data in blocks:
        occupancies = _cif_values(data, "_atom_site_occupancy")
        labels = _cif_values(data, "_atom_site_label") or [""] * len(occupancies)
        for label, value in zip(labels, occupancies):
            try:
                occupancy = _cif_number(value)
            except ValueError:
                continue
            if occupancy < 0:
                raise StructureReadError(f"{name}: negative occupancy {value} on site {label}")
        n_sites, n_ops, n_rows = _expanded_sites(data, max_sites)
        if n_sites > max_sites:
            raise StructureReadError(
                f"{name}: {n_sites} sites after the {n_ops} symmetry operations on its {n_rows} listed sites, "
                f"more than the limit of {max_sites} (SCREENING_MAX_STRUCTURE_ATOMS)"
            )


def _symmetry_ops(data: dict) -> list:
    """The CIF block's symmetry operations (listed, or from its space group's name or number; identity when none)."""
    from pymatgen.core.operations import SymmOp
    from pymatgen.symmetry.groups import SpaceGroup

    for key in ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz",
                "_space_group_symop.operation_xyz", "_symmetry_equiv.pos_as_xyz"):  # fmt: skip
        try:
            ops = [SymmOp.from_xyz_str(str(v).replace("'", "").replace('"', "")) for v in _cif_values(data, key)]
        except Exception:  # noqa: BLE001 - an unparseable list: pymatgen's own parser decides
            ops = []
        if ops:
            return ops
    for key in ("_symmetry_space_group_name_h-m", "_space_group_name_h-m_alt", "_symmetry_space_group_name_h-m_alt"):
        for symbol in _cif_values(data, key):
            try:
                return list(SpaceGroup(str(symbol).replace(" ", "").strip("'\"")).symmetry_ops)
            except Exception:  # noqa: BLE001 - a name pymatgen's table lacks
                continue
    for key in ("_symmetry_int_tables_number", "_space_group_it_number"):
        for number in _cif_values(data, key):
            try:
                return list(SpaceGroup.from_int_number(int(_cif_number(number))).symmetry_ops)
            except Exception:  # noqa: BLE001
                continue
    return [SymmOp.from_xyz_str("x, y, z")]


def _expanded_sites(data: dict, max_sites: int) -> tuple[int, int, int]:
    """(distinct sites after the symmetry operations, operations, listed sites) of a CIF block.

    Every listed fractional position is mapped by every operation and the images are counted
    once each (to 1e-3 of the cell), so special positions count by their multiplicity and
    several species on one site count once, as pymatgen merges them. A block that lists more
    than ``max_sites`` positions is over the limit whatever its symmetry.
    """
    columns = [_cif_values(data, f"_atom_site_fract_{axis}") for axis in "xyz"]
    n_rows = min(len(c) for c in columns)
    ops = _symmetry_ops(data)
    if n_rows > max_sites:
        return n_rows * len(ops), len(ops), n_rows
    frac = []
    for row in zip(*columns):
        try:
            frac.append([_cif_number(v) for v in row])
        except ValueError:
            continue  # '?' or '.': the structure parser reports it
    if not frac:
        return 0, len(ops), n_rows
    rotations = np.array([op.rotation_matrix for op in ops])
    translations = np.array([op.translation_vector for op in ops])
    images = np.einsum("kij,nj->nki", rotations, np.array(frac)) + translations
    keys = np.rint(np.mod(images, 1.0) * 1000).astype(np.int64) % 1000
    return len(np.unique(keys.reshape(-1, 3), axis=0)), len(ops), n_rows


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
    precheck_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except Exception as exc:  # pymatgen raises many types for broken files
        raise StructureReadError(f"{path.name}: cannot read a structure ({type(exc).__name__}: {exc})") from exc
    return check_structure(structure, path.name)


def to_structure(item: Any) -> Structure:
    """Return a pymatgen Structure from a Structure, an ase Atoms or a path."""
    if isinstance(item, Structure):
        return check_structure(item)
    if isinstance(item, (str, Path)) and Path(item).suffix:
        return read_structure(item)
    from ase import Atoms  # a core dependency

    if isinstance(item, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        label = f"ase Atoms {item.get_chemical_formula()}"
        if not item.pbc.all() or abs(item.cell.volume) < 1e-3:
            raise StructureReadError(
                f"{label}: no periodic cell (pbc {item.pbc.tolist()}, cell volume {abs(item.cell.volume):.3g} A^3); "
                "set a 3D cell and pbc=True"
            )
        return check_structure(AseAtomsAdaptor.get_structure(item), label)
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
