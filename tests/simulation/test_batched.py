"""Batched relaxation (screening.simulation.batched): torch-sim against the ase path on tiny cells, and the fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import SimulationError


def rocksalt(a: float, cation: str = "Li", anion: str = "Cl") -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()


def cells() -> list[Structure]:
    """Three small cells off their minimum: strained LiCl and Li2S, Li3N with rattled atoms and a strained cell."""
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.9), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]).get_primitive_structure()
    li3n = Structure.from_spacegroup("P6/mmm", Lattice.hexagonal(3.75, 3.80), ["N", "Li", "Li"], [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0]])
    li3n.perturb(0.08, min_distance=0.02, seed=1)
    return [rocksalt(5.35), li2s, li3n]


@pytest.fixture(scope="module")
def torchsim():
    pytest.importorskip("torch_sim")
    pytest.importorskip("sevenn")


def test_batched_and_ase_relaxed_energies_agree_within_2_meV_per_atom(torchsim):
    from screening.simulation.batched import relax_many

    batched = relax_many(cells(), "sevenn", fmax=0.02, steps=300, device="cpu", engine="torch-sim")
    single = relax_many(cells(), "sevenn", fmax=0.02, steps=300, device="cpu", engine="ase")
    assert [r["engine"] for r in batched] == ["torch-sim"] * 3 and [r["engine"] for r in single] == ["ase"] * 3
    for b, s, c in zip(batched, single, cells(), strict=True):
        assert b["error"] is None and s["error"] is None
        assert b["converged"] and s["converged"]
        assert abs(b["volume_change"]) > 0.01  # the cell really relaxed
        assert abs(b["energy_eV_atom"] - s["energy_eV_atom"]) <= 0.002, c.composition.reduced_formula
        assert b["structure"].volume == pytest.approx(s["structure"].volume, rel=0.01)


def test_auto_engine_falls_back_to_ase_for_a_potential_torch_sim_does_not_wrap():
    pytest.importorskip("chgnet")
    from screening.simulation.batched import batched_available, relax_many

    assert not batched_available("chgnet")
    (r,) = relax_many([rocksalt(5.2)], "chgnet", steps=20, device="cpu")
    assert r["engine"] == "ase" and r["error"] is None and np.isfinite(r["energy_eV_atom"])
    with pytest.raises(SimulationError, match="no batched engine"):
        relax_many([rocksalt(5.2)], "chgnet", engine="torch-sim")


def test_a_batch_that_fails_as_a_whole_is_relaxed_one_by_one(torchsim, monkeypatch):
    from screening.simulation import batched

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(batched, "_relax_batched", broken)
    out = batched.relax_many([rocksalt(5.2), rocksalt(5.3)], "sevenn", steps=20, device="cpu", engine="torch-sim")
    assert [r["engine"] for r in out] == ["ase", "ase"]
    assert all(r["error"] is None and "out of memory" in r["fallback"] for r in out)


def test_relax_table_keeps_bad_rows_as_errors_and_gives_e_hull_for_the_others(torchsim):
    from screening.descriptors.stability import ReferenceHull
    from screening.simulation.batched import relax_table

    hull = ReferenceHull(["Li", "Cl", "LiCl"], [0.0, 0.0, -1.9])
    t = relax_table(["no structure: enumerator failed", rocksalt(5.2)], "sevenn", steps=50, hull=hull, device="cpu", engine="torch-sim")
    assert len(t) == 2
    assert "no structure" in t["error"].iloc[0] and np.isnan(t["mlip_e_hull_eV_atom"].iloc[0])
    assert t["error"].iloc[1] is None and t["relax_engine"].iloc[1] == "torch-sim"
    assert np.isfinite(t["mlip_e_hull_eV_atom"].iloc[1]) and np.isfinite(t["mlip_formation_energy_eV_atom"].iloc[1])
    assert t["mlip_hull_formation_energy_eV_atom"].iloc[1] == pytest.approx(-1.9)
    assert t["mlip_e_hull_eV_atom"].iloc[1] == pytest.approx(t["mlip_formation_energy_eV_atom"].iloc[1] + 1.9, abs=1e-9)


def test_auto_engine_batches_on_a_gpu_only(torchsim, monkeypatch):
    """On CPU one batch was slower than one by one (bench_batched_relax.py): "auto" takes the ase path there."""
    from screening.simulation import batched

    calls = []
    monkeypatch.setattr(batched, "_relax_batched", lambda cells, *a: calls.append(len(cells)) or [{"error": None}] * len(cells))
    assert [r["engine"] for r in batched.relax_many([rocksalt(5.2)], "sevenn", steps=5, device="cpu")] == ["ase"]
    assert calls == []
    assert [r["engine"] for r in batched.relax_many([rocksalt(5.2), rocksalt(5.3)], "sevenn", device="cuda")] == ["torch-sim"] * 2
    assert calls == [2]


def test_relax_tier_rows_replace_the_composition_e_hull_in_the_ranking(torchsim):
    import pandas as pd

    from screening.pipeline import ScreenParameters, relax_tier, use_simulated

    assert ScreenParameters(tiers=["composition", "stability", "relax"], mlip_relax_top_k=2, potential="sevenn").mlip_relax_top_k == 2
    cands = pd.DataFrame({"candidate_id": ["a", "b"]})
    sim = relax_tier(cands, ["a: structure not found in source 'obelix'", rocksalt(5.2)], potential="sevenn")
    assert list(sim["candidate_id"]) == ["a", "b"]
    assert "not found" in sim["simulation_error"].iloc[0] and sim["simulation_error"].iloc[1] is None
    table = pd.DataFrame({"candidate_id": ["a", "b"], "e_hull_eV_atom": [0.0, 0.0], "e_hull_source": ["composition"] * 2})
    ranked = use_simulated(table.merge(sim[["candidate_id", "mlip_e_hull_eV_atom"]], on="candidate_id", how="left"))
    assert list(ranked["e_hull_ranked_source"]) == ["composition", "simulation"]
    assert ranked["e_hull_eV_atom"].iloc[1] == pytest.approx(sim["mlip_e_hull_eV_atom"].iloc[1])


def test_worker_processes_relax_to_the_same_energies_as_the_calling_process():
    pytest.importorskip("chgnet")
    from screening.simulation.batched import relax_many

    here = relax_many(cells(), "chgnet", fmax=0.05, steps=60, device="cpu", workers=1)
    pool = relax_many(cells(), "chgnet", fmax=0.05, steps=60, device="cpu", workers=2)
    for h, p, c in zip(here, pool, cells(), strict=True):
        assert h["error"] is None and p["error"] is None and p["engine"] == "ase" and "fallback" not in p
        assert abs(h["energy_eV_atom"] - p["energy_eV_atom"]) <= 1e-4, c.composition.reduced_formula
        assert p["structure"].volume == pytest.approx(h["structure"].volume, rel=1e-3)
        assert p["wall_s"] > 0


def test_a_broken_worker_pool_leaves_its_structures_to_the_calling_process(monkeypatch):
    pytest.importorskip("chgnet")
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from screening.simulation import batched

    class KilledPool:  # as a pool whose worker the kernel killed: every future fails
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, *args, **kwargs):
            future: Future = Future()
            future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
            return future

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    monkeypatch.setattr(batched, "ProcessPoolExecutor", KilledPool)
    out = batched.relax_many([rocksalt(5.2), rocksalt(5.3)], "chgnet", steps=10, device="cpu", workers=2)
    assert [r["engine"] for r in out] == ["ase", "ase"]
    assert all(r["error"] is None and np.isfinite(r["energy_eV_atom"]) and "BrokenProcessPool" in r["fallback"] for r in out)


def test_default_workers_are_one_per_core_on_cpu_one_on_a_gpu_or_the_setting(monkeypatch):
    import os

    from screening.config import get_settings
    from screening.simulation.batched import default_workers, relax_many

    monkeypatch.setenv("SCREENING_MLIP_WORKERS", "0")
    get_settings.cache_clear()
    try:
        assert default_workers("cpu") == (os.cpu_count() or 1)
        assert default_workers("cuda") == 1 and default_workers("cuda:0") == 1
        monkeypatch.setenv("SCREENING_MLIP_WORKERS", "3")
        get_settings.cache_clear()
        assert default_workers("cpu") == 3
    finally:
        get_settings.cache_clear()
    with pytest.raises(SimulationError, match="workers=0"):
        relax_many([rocksalt(5.2)], "chgnet", device="cpu", workers=0)


def test_an_interrupt_terminates_the_worker_processes_instead_of_waiting_for_them(monkeypatch):
    """Ctrl-C during a relax tier: the workers are killed at once, the interrupt goes on (it used to wait for the
    running relaxations, minutes each, before the run could stop)."""
    from concurrent.futures import Future

    from screening.simulation import batched

    class Worker:
        terminated = False

        def terminate(self):
            self.terminated = True

    workers = [Worker(), Worker()]
    shut = []

    class InterruptedPool:
        def __init__(self, *args, **kwargs):
            self._processes = {1: workers[0], 2: workers[1]}

        def submit(self, *args, **kwargs):
            future = Future()
            future.set_exception(KeyboardInterrupt())
            return future

        def shutdown(self, wait=True, cancel_futures=False):
            shut.append(cancel_futures)

    monkeypatch.setattr(batched, "ProcessPoolExecutor", InterruptedPool)
    with pytest.raises(KeyboardInterrupt):
        batched.relax_many([rocksalt(5.2), rocksalt(5.3)], "chgnet", steps=10, device="cpu", workers=2)
    assert all(w.terminated for w in workers) and shut == [True]
