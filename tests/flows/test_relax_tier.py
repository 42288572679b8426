"""The relax tier in a screen: MLIP e_hull of the shortlist's best, gated and ranked on, cached for a resume, skipped
with a note where the mlip extra is missing."""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Lattice, Structure

from screening.pipeline import ScreenParameters

pytestmark = pytest.mark.slow

#: every gate off: both tiny files enter the shortlist whatever the models say of them
GATES_OFF = {"e_hull_eV_atom": (None, None), "window_width_V": (None, None), "log10_sigma_S_cm_hi80": (None, None)}
TIERS = ["composition", "stability", "structure", "relax"]


def _files(folder):
    """Two tiny, slightly strained cells as CIF files: rock-salt LiCl (2 atoms) and antifluorite Li2S (3 atoms)."""
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.3), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.8), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    for name, s in (("licl", licl), ("li2s", li2s)):
        s.get_primitive_structure().to(filename=str(folder / f"{name}.cif"))
    return str(folder / "*.cif")


def _timings(store, run_id: str) -> dict:
    return json.loads(store.query("SELECT timings FROM runs WHERE run_id = ?", [run_id])["timings"].item())


def test_the_relax_tier_is_a_default_tier():
    assert ScreenParameters().tiers[-1] == "relax" and ScreenParameters().mlip_relax_top_k == 8


def test_a_screen_ranks_its_shortlist_on_the_mlip_e_hull_and_a_resume_relaxes_nothing_twice(tmp_path):
    pytest.importorskip("chgnet")
    from flows.screen import screen
    from screening.store import ResultStore

    params = ScreenParameters(source="file", cif_glob=_files(tmp_path), filters=GATES_OFF, tiers=TIERS, mlip_relax_top_k=1,
                              potential="chgnet", run_id="relaxed", store_path=str(tmp_path / "r.duckdb"))  # fmt: skip
    state = screen(params, return_state=True)
    assert state.is_completed()
    store = ResultStore(params.store_path)
    ranked = store.query("SELECT * FROM ranked WHERE run_id = 'relaxed' ORDER BY rank")
    # K' = 1: the best row of the table is relaxed, the other keeps the composition e_hull
    assert ranked["e_hull_ranked_source"].tolist() == ["simulation", "reference"]
    best = ranked.iloc[0]
    assert best["mlip_e_hull_eV_atom"] == pytest.approx(best["ranked_e_hull_eV_atom"])
    assert best["mlip_e_hull_eV_atom"] < 0.3 and best["potential"] == "chgnet"  # LiCl and Li2S sit on (or near) the hull
    first = _timings(store, "relaxed")
    assert first["relax_chunks"] == 1 and first["relax_cached_chunks"] == 0 and first["relax_s"] > 0

    # the same run again: the relax chunk comes from the cache
    assert screen(params) == "relaxed"
    assert _timings(store, "relaxed")["relax_cached_chunks"] == 1
    again = store.query("SELECT candidate_id, mlip_e_hull_eV_atom FROM ranked WHERE run_id = 'relaxed' AND mlip_e_hull_eV_atom IS NOT NULL")
    assert again["mlip_e_hull_eV_atom"].tolist() == pytest.approx([best["mlip_e_hull_eV_atom"]])


def test_without_the_mlip_extra_the_relax_tier_is_skipped_with_a_note(tmp_path, monkeypatch):
    from flows.screen import screen
    from screening.errors import SimulationError
    from screening.simulation import potentials
    from screening.store import ResultStore

    def missing(potential):
        raise SimulationError(f"potential {potential!r}: package not installed (pip install -e '.[mlip]')")

    monkeypatch.setattr(potentials, "potential_version", missing)
    params = ScreenParameters(source="file", cif_glob=_files(tmp_path), filters=GATES_OFF, tiers=TIERS, run_id="bare",
                              store_path=str(tmp_path / "b.duckdb"))  # fmt: skip
    assert screen(params) == "bare"
    store = ResultStore(params.store_path)
    run = store.query("SELECT status, note FROM runs WHERE run_id = 'bare'").iloc[0]
    assert run["status"] == "completed" and run["note"].startswith("relax tier skipped: potential 'chgnet': package not installed")
    ranked = store.query("SELECT e_hull_ranked_source FROM ranked WHERE run_id = 'bare'")
    assert len(ranked) == 2 and set(ranked["e_hull_ranked_source"]) == {"reference"}


def test_a_source_that_cannot_give_structures_fails_the_relax_rows_not_the_run(tmp_path, monkeypatch):
    """The relax tier reads its structures from the run's source again: when that read fails, each of its rows says why
    (``simulation_error``) and the run completes, as in the structure tier."""
    pytest.importorskip("chgnet")
    from flows.screen import screen
    from screening.pipeline.sources import FileSource
    from screening.store import ResultStore

    def unreadable(self, ids):
        raise OSError("the disk went away")

    monkeypatch.setattr(FileSource, "structures", unreadable)
    params = ScreenParameters(source="file", cif_glob=_files(tmp_path), filters=GATES_OFF, tiers=TIERS, mlip_relax_top_k=1,
                              run_id="lost", store_path=str(tmp_path / "l.duckdb"))  # fmt: skip
    assert screen(params) == "lost"
    store = ResultStore(params.store_path)
    assert store.query("SELECT status FROM runs WHERE run_id = 'lost'")["status"].item() == "completed"
    errors = store.query("SELECT candidate_id, simulation_error FROM simulation WHERE run_id = 'lost'")
    assert len(errors) == 1
    assert "could not be read (OSError: the disk went away)" in errors["simulation_error"].item()
    assert errors["candidate_id"].item() in errors["simulation_error"].item()
