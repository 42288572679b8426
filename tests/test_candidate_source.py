"""One candidate source for every tier: the candidates of a run and, for any of them, their structures."""

from __future__ import annotations

import pandas as pd
import pytest
from pymatgen.core import Composition, Structure

from screening.pipeline import ScreenParameters, candidate_structures, iter_candidate_frames


def _first_chunk(params: ScreenParameters) -> pd.DataFrame:
    return next(iter(iter_candidate_frames(params)))


@pytest.mark.slow
def test_a_large_space_screen_finds_the_structures_of_its_candidates():
    """The structures of a ``space="large"`` screen come from the large space (issue 26: they were looked up in
    the default space, where a co-doped or finer-grid candidate of the large one does not exist)."""
    params = ScreenParameters(source="enumerated", space="large", families=["sulfide"], limit=40, chunk_size=40)
    chunk = _first_chunk(params)
    structures = candidate_structures(params, chunk)
    missing = [s for s in structures if isinstance(s, str)]
    assert not missing, missing[:3]
    assert all(isinstance(s, Structure) for s in structures)
    # each structure is its candidate's: the same composition, per formula unit of the parent
    for formula, structure in zip(chunk["formula"], structures):
        own = structure.composition.element_composition.fractional_composition
        assert own.almost_equals(Composition(formula).fractional_composition, rtol=1e-3), (formula, own)
