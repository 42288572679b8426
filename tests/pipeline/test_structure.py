"""The structure tier: each of the best candidates described from its own structure, and ranked on it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from screening.pipeline import STRUCTURE_COLUMNS, ScreenParameters, structure_tier, use_measured, use_simulated, use_structure

#: the default tiers but the MLIP relaxations (tests/flows/test_relax_tier.py runs those)
NO_MLIP = ["composition", "stability", "structure"]


def _li2s() -> Structure:
    """Antifluorite Li2S (Fm-3m, a = 5.71 A)."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.71), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def _li3ocl() -> Structure:
    """Anti-perovskite Li3OCl (Pm-3m, a = 3.91 A)."""
    return Structure(Lattice.cubic(3.91), ["O", "Cl", "Li", "Li", "Li"],
                     [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])  # fmt: skip


def _disordered_li2s() -> Structure:
    """Li2S with a quarter of each Li site taken by Na (partial occupancies, as the enumerator builds them)."""
    s = _li2s()
    s.replace_species({"Li": {"Li": 0.75, "Na": 0.25}})
    return s


def test_one_unreadable_structure_keeps_every_other_row():
    """A batch with an unreadable structure, a structure without Li and a missing one: those are error rows, every
    other row has its descriptors, BVSE barriers and structure-aware conductivity."""
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    candidates = pd.DataFrame({
        "candidate_id": ["a", "bad", "b", "noli", "none", "c"],
        "formula": ["Li2S", "Li3PS4", "Li3OCl", "NaCl", "Li3YCl6", "Li1.5Na0.5S"],
        "source": ["file", "file", "obelix", "file", "enumerated", "enumerated"],
    })  # fmt: skip
    structures = [_li2s(), "bad.cif: cannot parse the CIF", _li3ocl(), nacl, None, _disordered_li2s()]
    out = structure_tier(candidates, structures)
    assert out["candidate_id"].tolist() == candidates["candidate_id"].tolist()
    assert list(out.columns) == ["candidate_id", *STRUCTURE_COLUMNS]
    good = out.set_index("candidate_id").loc[["a", "b", "c"]]
    bad = out.set_index("candidate_id").loc[["bad", "noli", "none"]]
    for column in ("structure_volume_per_atom_A3", "volume_per_anion_A3", "li_li_min_dist_A", "li_bottleneck_radius_3d_A",
                   "bvse_barrier_1d_eV", "bvse_barrier_3d_eV", "structure_log10_sigma_S_cm", "structure_log10_sigma_S_cm_lo80"):  # fmt: skip
        assert good[column].notna().all(), column
        assert bad[column].isna().all(), column
    assert good["structure_error"].isna().all()
    assert bad.loc["bad", "structure_error"] == "bad.cif: cannot parse the CIF"
    assert "lithium" in bad.loc["noli", "structure_error"].lower() or "Li" in bad.loc["noli", "structure_error"]
    assert bad.loc["none", "structure_error"]
    # the interval brackets the estimate, the volume is the structure's (Li2S: 46.5 A^3 / 12 atoms)
    assert (good["structure_log10_sigma_S_cm_lo80"] <= good["structure_log10_sigma_S_cm"]).all()
    assert (good["structure_log10_sigma_S_cm"] <= good["structure_log10_sigma_S_cm_hi80"]).all()
    assert good.loc["a", "structure_volume_per_atom_A3"] == pytest.approx(5.71**3 / 12, rel=1e-6)
    assert good.loc["a", "li_percolation_dim"] == 3 and good.loc["a", "structure_n_sites"] == 12
    # the disorder is said: ordered or mean-field, and where the structure came from
    assert good["structure_disorder"].tolist() == ["ordered", "ordered", "mean-field"]
    assert good["structure_source"].tolist() == ["file", "obelix-cif", "enumerated"]
    assert (out["structure_wall_s"] >= 0).all()


def test_a_failed_bvse_keeps_the_other_descriptors_and_says_so(monkeypatch):
    from screening.descriptors import bondvalence

    def fail(structure, **kwargs):
        raise bondvalence.BVSETimeoutError("Li2S: BVSE percolation not finished within 30 s")

    monkeypatch.setattr(bondvalence, "bondvalence_descriptors", fail)
    out = structure_tier(pd.DataFrame({"candidate_id": ["a"], "formula": ["Li2S"]}), [_li2s()]).iloc[0]
    assert np.isnan(out["bvse_barrier_3d_eV"]) and out["li_li_min_dist_A"] > 0
    assert out["structure_error"].startswith("BVSE: BVSETimeoutError")


def _table() -> pd.DataFrame:
    """Five candidates: composition only, structure, structure + short MD, structure + good MD, measured."""
    n = 5
    return pd.DataFrame({
        "candidate_id": list("abcde"),
        "log10_sigma_S_cm": np.full(n, -6.0), "log10_sigma_S_cm_std": np.full(n, 1.0),
        "log10_sigma_S_cm_lo80": np.full(n, -7.3), "log10_sigma_S_cm_hi80": np.full(n, -4.7),
        "structure_log10_sigma_S_cm": [np.nan, -3.0, -3.1, -3.2, -3.3],
        "structure_log10_sigma_S_cm_std": [np.nan, 0.5, 0.5, 0.5, 0.5],
        "structure_log10_sigma_S_cm_lo80": [np.nan, -3.9, -4.0, -4.1, -4.2],
        "structure_log10_sigma_S_cm_hi80": [np.nan, -2.2, -2.3, -2.4, -2.5],
        "mlip_log10_sigma_S_cm": [np.nan, np.nan, -2.0, -2.5, np.nan], "mlip_log10_sigma_S_cm_std": [np.nan, np.nan, 0.1, 0.1, np.nan],
        "mlip_md_ps": [np.nan, np.nan, 0.5, 10.0, np.nan], "mlip_transport_ok": [None, None, True, True, None],
        "measured_log10_sigma_S_cm": [np.nan, np.nan, np.nan, np.nan, -2.7],
    })  # fmt: skip


def test_the_ranked_conductivity_is_measured_then_simulated_then_structure_then_composition():
    table = _table()
    ranked = use_measured(use_simulated(use_structure(table)))
    assert ranked["conductivity_source"].tolist() == ["composition", "structure", "structure", "simulation", "measured"]
    assert ranked["log10_sigma_S_cm"].tolist() == [-6.0, -3.0, -3.1, -2.5, -2.7]
    # the structure rows carry the structure model's own interval, not the composition model's
    assert ranked.loc[1, ["log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80", "log10_sigma_S_cm_std"]].tolist() == [-3.9, -2.2, 0.5]
    assert ranked.loc[0, "log10_sigma_S_cm_hi80"] == -4.7
    # the input is untouched (the stored predictions stay the composition model's)
    assert table["log10_sigma_S_cm"].eq(-6.0).all() and "conductivity_source" not in table


def test_without_the_structure_tier_the_sources_are_as_before():
    table = _table().drop(columns=[c for c in _table() if c.startswith("structure_")])
    ranked = use_simulated(use_structure(table))
    assert ranked["conductivity_source"].tolist() == ["composition", "composition", "composition", "simulation", "composition"]
    assert use_simulated(table)["conductivity_source"].tolist() == ranked["conductivity_source"].tolist()


# ------------------------------------------------------------------ the tier in a screen (Prefect)


def _timings(store, run_id: str) -> dict:
    return json.loads(store.query("SELECT timings FROM runs WHERE run_id = ?", [run_id])["timings"].item())


@pytest.mark.slow
def test_an_enumerated_screen_describes_its_best_k_and_ranks_them_on_their_structure(tmp_path):
    """The best K after the stability tier get the structure columns, the ranking reads their structure-aware
    conductivity (conductivity_source 'structure'), and a resumed run takes every structure chunk from the cache."""
    from flows.screen import screen
    from screening.store import ResultStore

    path = str(tmp_path / "s.duckdb")
    params = ScreenParameters(source="enumerated", families=["halide", "sulfide"], limit=40, chunk_size=20, stability_top_k=20,
                              structure_top_k=6, tiers=NO_MLIP, run_id="st", store_path=path)  # fmt: skip
    screen(params)
    store = ResultStore(path)
    ranked = store.query("SELECT * FROM ranked WHERE run_id = 'st' ORDER BY rank")
    described = ranked[ranked["structure_source"].notna()]
    assert len(described) == 6 and (described["structure_source"] == "enumerated").all()
    assert described["e_hull_eV_atom"].notna().all()  # the pool comes from the stability tier's candidates
    for column in ("structure_volume_per_atom_A3", "li_li_min_dist_A", "bvse_barrier_3d_eV", "structure_disorder"):
        assert described[column].notna().all(), column
    estimated = described[described["structure_log10_sigma_S_cm"].notna()]
    assert len(estimated) >= 4, described[["candidate_id", "structure_error"]]
    assert (estimated["conductivity_source"] == "structure").all()
    assert np.allclose(estimated["ranked_log10_sigma_S_cm"], estimated["structure_log10_sigma_S_cm"])
    others = ranked[ranked["structure_log10_sigma_S_cm"].isna()]
    assert (others["conductivity_source"] == "composition").all()
    assert np.allclose(others["ranked_log10_sigma_S_cm"], others["log10_sigma_S_cm"], equal_nan=True)
    # tier 0's volume per atom (Magpie) and the structure's are two columns
    assert ranked["volume_per_atom_A3"].notna().all()
    first = _timings(store, "st")
    # computed, not cached: the test session's Prefect result storage starts empty (tests/conftest.py)
    assert first["structure_chunks"] == 1 and first["structure_cached_chunks"] == 0
    # resumed: the structure chunk comes from the cache, the rows are the same
    screen(params)
    again = _timings(store, "st")
    assert again["structure_cached_chunks"] == again["structure_chunks"] == 1
    rows = store.query("SELECT candidate_id, structure_log10_sigma_S_cm FROM structure WHERE run_id = 'st' ORDER BY candidate_id")
    assert len(rows) == 6 and rows["candidate_id"].is_unique
    summary = store.query("SELECT * FROM runs WHERE run_id = 'st'")
    assert summary["status"].item() == "completed"


@pytest.mark.slow
def test_a_file_screen_describes_the_files_own_structures(tmp_path):
    """Source "file" (an OBELiX CIF and two seed CIFs, all in the default families): the structure tier reads the files' structures."""
    from flows.screen import screen
    from screening.config import get_settings
    from screening.datasets import obelix_cif_text
    from screening.store import ResultStore

    (tmp_path / "argyrodite.cif").write_text(obelix_cif_text("w87"))  # Li6PS5Br
    seeds = get_settings().seeds_dir
    (tmp_path / "li3incl6.cif").write_text((seeds / "Li3InCl6_C2m.cif").read_text())
    (tmp_path / "li2zrcl6.cif").write_text((seeds / "Li2ZrCl6_P-3m1.cif").read_text())
    gates_off = {"e_hull_eV_atom": (None, None), "window_width_V": (None, None)}  # every file enters the pool
    params = ScreenParameters(source="file", cif_glob=str(tmp_path / "*.cif"), filters=gates_off, tiers=NO_MLIP, run_id="files",
                              store_path=str(tmp_path / "f.duckdb"))  # fmt: skip
    screen(params)
    ranked = ResultStore(params.store_path).query("SELECT * FROM ranked WHERE run_id = 'files' ORDER BY parent")
    described = ranked[ranked["structure_source"].notna()]
    assert set(described["structure_source"]) == {"file"} and len(described) == 3
    assert described["bvse_barrier_3d_eV"].notna().all() and described["structure_error"].isna().all()
    assert (described["conductivity_source"] == "structure").all()

