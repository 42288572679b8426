"""Exceptions raised by the screening library.

Every error names the input that caused it (a file, a formula, a parameter), so that a
row in a batch can carry the message as its ``error`` text while the batch goes on.
All of them derive from ``ValueError``: bad input, not a bug.
"""

from __future__ import annotations


class ScreeningError(ValueError):
    """Base class of the errors this library raises for bad input."""


class DatasetError(ScreeningError):
    """A bundled data file is missing, unreadable or fails its checksum."""


class InvalidCompositionError(ScreeningError):
    """A formula cannot be parsed, names an unknown element, or cannot be charge balanced."""


class StructureReadError(ScreeningError):
    """A structure file (CIF, POSCAR, ...) cannot be read into a pymatgen Structure."""


class UnsupportedChemistryError(ScreeningError):
    """The reference data cannot describe this chemistry (for example no hull for an element)."""


class StoreError(ScreeningError):
    """The results store is missing, unreadable, or written by a newer version of this code."""


class QueryError(StoreError):
    """SQL given to ``query`` is refused (not one read-only statement) or fails."""


class ModelNotFoundError(ScreeningError):
    """A trained model artifact is missing or cannot be loaded (run ``make train``)."""


class RunConflictError(ScreeningError):
    """A run id is reused with parameters other than the ones the run was started with."""


class RunInUseError(RunConflictError):
    """A run id is being computed by another live process (or thread): one owner at a time."""


class SimulationError(ScreeningError):
    """A simulation step (ordering, relaxation, energy, MD, elasticity) cannot run on this input."""


class UnknownValueError(ScreeningError):
    """A run id, family, preset or column that does not exist; ``valid`` lists the accepted values."""

    def __init__(self, message: str, valid=()):
        super().__init__(message)
        self.valid = list(valid)
