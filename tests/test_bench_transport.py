"""benchmarks/bench_transport.py: the run length it reports and the structures it refuses (no MD here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import SimulationError
from screening.simulation import QUALITY


def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_transport.py"
    spec = importlib.util.spec_from_file_location("bench_transport", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _trajectory(path: Path, n_frames: int, timestep_fs: float = 2.0, sample_every: int = 10, seed: int = 0) -> None:
    """A run_md-shaped trajectory file: 4 Li on a random walk (about 0.25 A per frame), 4 fixed Cl."""
    rng = np.random.default_rng(seed)
    a = 8.0
    li0 = rng.random((4, 3))
    cl = np.array([[0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]])
    walk = li0 + np.cumsum(rng.normal(0.0, 0.25 / a, (n_frames, 4, 3)), axis=0)
    frac = np.concatenate([walk % 1.0, np.broadcast_to(cl, (n_frames, 4, 3))], axis=1)
    np.savez_compressed(
        path, frac=frac, lattice=np.eye(3) * a, species=np.array(["Li"] * 4 + ["Cl"] * 4), temperature_K=800.0,
        timestep_fs=timestep_fs, sample_every=sample_every, wall_s=1.0, atom_steps=8 * n_frames * sample_every,
        mean_temperature_K=800.0, truncated=False, ordering="ordered", potential="chgnet", device="cpu", obelix_id="x",
    )  # fmt: skip


def test_production_length_counts_every_sampled_interval():
    bench = _bench()
    # run_md stores one snapshot at the end of each sample interval: 500 snapshots = 5000 steps = 10 ps
    assert bench.production_ps(500, 2.0, 10) == pytest.approx(10.0)
    assert bench.production_ps(500, 2.0, 10) >= QUALITY["min_ps"]


def test_a_10_ps_run_reads_as_10_ps_and_passes_the_length_check(tmp_path):
    bench = _bench()
    _trajectory(tmp_path / "traj_LiCl_800K.npz", n_frames=500)
    runs = bench.analyse(tmp_path)
    assert runs["ps"].iloc[0] == pytest.approx(10.0)
    assert runs["ps"].iloc[0] >= QUALITY["min_ps"]


def test_structures_without_li_are_refused_before_any_md():
    bench = _bench()
    s = Structure(Lattice.cubic(5.0), ["Si", "S"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(SimulationError, match=r"b4c.*no Li"):
        bench.check_has_li(s, "Li4SiS4", "b4c")
    li = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    bench.check_has_li(li, "LiCl", "x")  # no error


def test_the_obelix_b4c_cif_has_no_li_and_is_refused():
    from screening.datasets import load_obelix_structures

    bench = _bench()
    s, err = load_obelix_structures(["b4c"])["b4c"]
    assert err is None
    with pytest.raises(SimulationError, match="no Li"):
        bench.check_has_li(s, "Li4SiS4", "b4c")
    assert "b4c" not in {k for _, k in bench.CPU_MATERIALS + bench.GPU_MATERIALS}
