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


def test_the_source_object_is_the_one_every_tier_uses(tmp_path):
    """frames() and structures(ids) of one object; iter_candidate_frames and candidate_structures are its shorthands."""
    from screening.pipeline import CandidateSource, candidate_source
    from screening.pipeline.sources import EnumeratedSource, FileSource, ObelixSource

    assert type(candidate_source(ScreenParameters(source="obelix"))) is ObelixSource
    (tmp_path / "a.cif").write_text("x")
    assert type(CandidateSource.from_params(ScreenParameters(source="file", cif_glob=str(tmp_path / "*.cif")))) is FileSource
    assert type(candidate_source(ScreenParameters(source="enumerated"))) is EnumeratedSource


def test_obelix_structures_and_an_unknown_id_is_an_error_text():
    from screening.pipeline import candidate_source

    source = candidate_source(ScreenParameters(source="obelix", limit=3, chunk_size=2))
    frames = list(source.frames())
    assert [len(f) for f in frames] == [2, 1]
    ids = [*pd.concat(frames)["candidate_id"], "obelix-nonexistent", "s-123"]
    got = source.structures(ids)
    assert all(isinstance(s, Structure) for s in got[:3]), got[:3]
    assert all(isinstance(s, str) and i in s for i, s in zip(ids[3:], got[3:]))


def test_file_structures_read_only_the_named_files_and_notice_a_changed_file(tmp_path, monkeypatch):
    from screening.datasets import obelix_cif_text
    from screening.pipeline import candidate_source, obelix_candidates, sources

    parents = obelix_candidates(with_structures=False)["parent"].head(3).tolist()
    for p in parents:
        (tmp_path / f"{p}.cif").write_text(obelix_cif_text(p))
    (tmp_path / "bad.cif").write_text("data_x\n_cell_length_a 1\n")
    source = candidate_source(ScreenParameters(source="file", cif_glob=str(tmp_path / "*.cif")))
    table = pd.concat(source.frames())
    good = table[table["error"].isna()]
    bad = table[table["error"].notna()]
    read: list[str] = []
    real = sources._read_file
    monkeypatch.setattr(sources, "_read_file", lambda path: read.append(path.name) or real(path))
    got = source.structures([good["candidate_id"].iloc[0], bad["candidate_id"].iloc[0]])
    assert sorted(read) == sorted([good["parent"].iloc[0], "bad.cif"])  # not every file of the glob again
    assert isinstance(got[0], Structure)
    assert isinstance(got[1], str) and "bad.cif" in got[1]
    # the file now holds another structure: its old id gives an error text, not the new structure
    other = next(p for p in parents if f"{p}.cif" != good["parent"].iloc[0])
    (tmp_path / good["parent"].iloc[0]).write_text(obelix_cif_text(other))
    again = source.structures([good["candidate_id"].iloc[0]])
    assert isinstance(again[0], str) and "changed" in again[0]


def test_enumerated_structures_match_their_rows_in_the_default_space():
    from screening.pipeline import candidate_source

    params = ScreenParameters(source="enumerated", families=["halide"], elements=["Y", "In", "Sc"], limit=12, chunk_size=5)
    source = candidate_source(params)
    table = pd.concat(source.frames(), ignore_index=True)
    assert 0 < len(table) <= 12
    assert table["candidate_id"].tolist() == pd.concat(iter_candidate_frames(params))["candidate_id"].tolist()  # deterministic
    ids = table["candidate_id"].tolist()[::-1] + ["halide-nonexistent"]
    got = source.structures(ids)
    assert "nonexistent" in got[-1]
    formulas = dict(zip(table["candidate_id"], table["formula"]))
    for i, structure in zip(ids[:-1], got[:-1]):
        assert isinstance(structure, Structure), structure
        own = structure.composition.element_composition.fractional_composition
        assert own.almost_equals(Composition(formulas[i]).fractional_composition, rtol=1e-3), (i, own)
