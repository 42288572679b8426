"""Batched relaxation of many structures at once with torch-sim, falling back to the ase path.

:func:`relax_many` relaxes cell and positions of a list of structures and returns, per
structure, the same keys as :func:`screening.simulation.relax` plus ``engine`` (``"torch-sim"``
or ``"ase"``) and ``error`` (None, or the message of a structure that failed: a batch never
dies because of one row).

The batched engine is torch-sim (package ``torch-sim-atomistic``): all structures of a batch
go through the potential as one graph, optimised with its FIRE on a Frechet cell filter (the
same optimiser and filter as the ase path), converged structures swapped out as they finish.
torch-sim 0.3.0 wraps SevenNet but not CHGNet, so :data:`BATCHED_POTENTIALS` is ``{"sevenn"}``;
any other potential, a missing ``torch_sim`` or a batch that fails as a whole takes the ase path
(:func:`screening.simulation.relax`, one structure at a time), which the ``engine`` key records.
The device is ``cuda`` when torch sees a GPU, else ``cpu``, as for the ase path.

``engine="auto"`` batches on a GPU only: on CPU one batch of SevenNet-0 was slower than the
same cells one by one (0.72x on 16 cells of 5-14 atoms, one thread;
``benchmarks/bench_batched_relax.py``, "Batched relaxation" in
``benchmarks/results/simulation.md``): a CPU gains nothing from the larger graph, and a batch
keeps stepping until its slowest cell converges. ``engine="torch-sim"`` batches anyway.

On CPU the one-by-one path runs in ``workers`` processes (default: one per core,
``SCREENING_MLIP_WORKERS``), each with its share of the cores as torch threads: CHGNet keeps
about one core busy whatever torch's thread count, so two processes on two cores should relax
two cells in about the time of one (not yet measured: ``bench_batched_relax.py``'s pooled row). A pool that breaks (a worker killed) leaves its unfinished
structures to the calling process, one by one; the rows record it in ``fallback``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any, cast

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from screening.errors import SimulationError
from screening.simulation.energetics import relax
from screening.simulation.potentials import check_potential, default_device

#: potentials the batched engine can take (torch-sim 0.3.0 has a SevenNet wrapper, none for CHGNet)
BATCHED_POTENTIALS = frozenset({"sevenn"})
_lock = threading.Lock()


def batched_available(potential: str) -> bool:
    """Whether :func:`relax_many` can relax ``potential`` batched (torch-sim importable and wrapping it)."""
    if check_potential(potential) not in BATCHED_POTENTIALS:
        return False
    try:
        import torch_sim  # noqa: F401
    except ImportError:
        return False
    return True


def _sevennet_wrapper():
    """torch-sim's ``SevenNetModel`` class, importable with sevenn 0.13.

    torch-sim 0.3.0's wrapper imports ``sevenn.calculator.torch_script_type``, which sevenn
    0.13 removed with its TorchScript support; the wrapper uses it only to recognise a deployed
    TorchScript model (``isinstance``), which a checkpoint-built model never is. Without the name
    the import half-fails and every forward call raises ``NameError``, so the name is restored
    as ``torch.jit.ScriptModule`` (what deployed models were) before the wrapper is imported.
    """
    import sevenn.calculator
    import torch

    if not hasattr(sevenn.calculator, "torch_script_type"):
        sevenn.calculator.torch_script_type = torch.jit.ScriptModule
    from torch_sim.models import sevennet

    missing = [n for n in ("torch_script_type", "AtomGraphData", "Collater", "key") if not hasattr(sevennet, n)]
    if missing:  # imported earlier without the name, or another incompatibility
        raise SimulationError(f"torch-sim's SevenNet wrapper cannot run with this sevenn (missing {missing})")
    return sevennet.SevenNetModel


@lru_cache(maxsize=4)
def _torchsim_model(potential: str, device: str):
    """The torch-sim model of a potential (its own copy of the weights: torch-sim switches it to batch mode)."""
    import torch
    from sevenn import util

    SevenNetModel = _sevennet_wrapper()

    model = util.load_checkpoint("7net-0").build_model()
    return SevenNetModel(model=model, device=torch.device(device))


def _relax_batched(structures: list[Structure], potential: str, fmax: float, steps: int, device: str) -> list[dict]:
    import torch_sim as ts

    model = _torchsim_model(potential, device)
    with _lock:  # one batched run at a time per process (the model is shared)
        state = ts.io.structures_to_state(structures, device=model.device, dtype=model.dtype)
        converge = ts.runners.generate_force_convergence_fn(force_tol=fmax, include_cell_forces=True)
        final = ts.optimize(system=state, model=model, optimizer=ts.frechet_cell_fire, convergence_fn=converge,
                            max_steps=steps, steps_between_swaps=5, autobatcher=False)  # fmt: skip
        out = model(final)
    energies = out["energy"].detach().cpu().numpy().astype(float)
    forces = out["forces"].detach().cpu().numpy().astype(float)
    relaxed = ts.io.state_to_structures(final)
    counts = [len(s) for s in structures]
    bounds = np.cumsum([0, *counts])
    results: list[dict] = []
    for i, (s0, s1) in enumerate(zip(structures, relaxed, strict=True)):
        f = forces[bounds[i] : bounds[i + 1]]
        fmax_i = float(np.linalg.norm(f, axis=1).max()) if len(f) else 0.0
        e = float(energies[i])
        if not np.isfinite(e) or not np.isfinite(f).all():
            results.append({"error": f"{s0.composition.reduced_formula}: batched relaxation gave a non-finite energy or force"})
            continue
        for prop in list(s1.site_properties):
            s1.remove_site_property(prop)
        results.append({"structure": s1, "energy_eV": e, "energy_eV_atom": e / len(s0), "fmax_eV_A": fmax_i,
                        "steps": None, "converged": fmax_i <= fmax * 1.0001, "volume_change": s1.volume / s0.volume - 1.0,
                        "engine": "torch-sim", "error": None})  # fmt: skip
    return results


def _relax_ase(structure: Structure, potential: str, fmax: float, steps: int, device: str) -> dict:
    try:
        return {**relax(structure, potential, fmax=fmax, steps=steps, device=device), "engine": "ase", "error": None}
    except Exception as exc:
        return {"engine": "ase", "error": f"{type(exc).__name__}: {exc}"}


def default_workers(device: str) -> int:
    """Processes of the one-by-one path: ``SCREENING_MLIP_WORKERS``, or (0) one per CPU core on CPU and 1 on a GPU."""
    from screening.config import get_settings

    if not str(device).startswith("cpu"):
        return 1
    return get_settings().mlip_workers or os.cpu_count() or 1


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _relax_ase_timed(structure: Structure, potential: str, fmax: float, steps: int, device: str) -> dict:
    t0 = time.perf_counter()
    return {**_relax_ase(structure, potential, fmax, steps, device), "wall_s": time.perf_counter() - t0}


def _relax_ase_pool(structures: list[Structure], potential: str, fmax: float, steps: int, device: str, workers: int) -> list[dict]:
    """:func:`_relax_ase_timed` of each structure in ``workers`` spawned processes; a broken pool's leftovers in this one.

    An interrupt (Ctrl-C, SIGTERM: anything not an ``Exception``) terminates the workers at once
    instead of waiting for their relaxations, and is raised again.
    """
    out: list[dict | None] = [None] * len(structures)
    threads = max(1, (os.cpu_count() or 1) // workers)
    note = None
    pool = None
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(threads,))
        futures = [pool.submit(_relax_ase_timed, s, potential, fmax, steps, device) for s in structures]
        for k, future in enumerate(futures):
            try:
                out[k] = future.result()
            except Exception as exc:  # the pool broke (a worker died): this one is relaxed here below
                note = f"relaxation worker failed ({type(exc).__name__}: {exc}); relaxed in the calling process"
    except Exception as exc:  # the pool could not start
        note = f"relaxation workers failed ({type(exc).__name__}: {exc}); relaxed in the calling process"
    except BaseException:
        for process in list((getattr(pool, "_processes", None) or {}).values()):  # no public terminate before Python 3.14
            process.terminate()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    for k, s in enumerate(structures):
        if out[k] is None:
            out[k] = {**_relax_ase_timed(s, potential, fmax, steps, device), "fallback": note}
    return cast(list[dict], out)


def relax_many(
    structures,
    potential: str = "sevenn",
    fmax: float = 0.05,
    steps: int = 300,
    device: str | None = None,
    batch_size: int = 16,
    engine: str = "auto",
    workers: int | None = None,
) -> list[dict]:
    """Relax many ordered structures; one dict per structure, in order (see the module docstring).

    ``engine``: ``"auto"`` (batched on a CUDA device where :func:`batched_available`, else ase), ``"ase"``
    (one by one) or ``"torch-sim"`` (batched; :class:`SimulationError` when the potential has
    no batched engine). ``batch_size`` structures go through the engine together. A batch
    that fails as a whole is relaxed again one by one on the ase path (``engine`` says which).
    ``workers``: processes of the one-by-one path (default :func:`default_workers`; 1 relaxes in
    this process).
    """
    name = check_potential(potential)
    if engine not in ("auto", "ase", "torch-sim"):
        raise SimulationError(f"engine={engine!r}: expected 'auto', 'ase' or 'torch-sim'")
    if batch_size < 1:
        raise SimulationError(f"batch_size={batch_size}: must be at least 1")
    if workers is not None and workers < 1:
        raise SimulationError(f"workers={workers}: must be at least 1")
    structures = list(structures)
    device = device or default_device()
    workers = workers or default_workers(device)
    batched = engine == "torch-sim" or (engine == "auto" and str(device).startswith("cuda") and batched_available(name))
    if engine == "torch-sim" and not batched_available(name):
        raise SimulationError(f"potential {name!r}: no batched engine (torch-sim wraps {sorted(BATCHED_POTENTIALS)})")
    results: list[dict | None] = [None] * len(structures)
    bad = [i for i, s in enumerate(structures) if not isinstance(s, Structure) or not s.is_ordered or len(s) == 0]
    for i in bad:
        results[i] = {"engine": None, "error": f"structure {i}: not an ordered, non-empty pymatgen Structure"}
    todo = [i for i in range(len(structures)) if results[i] is None]
    if batched:
        for k in range(0, len(todo), batch_size):
            idx = todo[k : k + batch_size]
            t0 = time.perf_counter()
            try:
                out = _relax_batched([structures[i] for i in idx], name, fmax, steps, device)
            except Exception as exc:  # the whole batch failed: one by one on the ase path
                note = f"batched relaxation failed ({type(exc).__name__}: {exc}); ase path"
                for i in idx:
                    results[i] = {**_relax_ase(structures[i], name, fmax, steps, device), "fallback": note}
                continue
            wall = (time.perf_counter() - t0) / len(idx)
            for i, r in zip(idx, out, strict=True):
                results[i] = {**r, "engine": "torch-sim", "wall_s": wall}
    elif workers > 1 and len(todo) > 1:
        relaxed = _relax_ase_pool([structures[i] for i in todo], name, fmax, steps, device, min(workers, len(todo)))
        for i, r in zip(todo, relaxed, strict=True):
            results[i] = r
    else:
        for i in todo:
            results[i] = _relax_ase_timed(structures[i], name, fmax, steps, device)
    return cast(list[dict], results)  # every index was filled above


def relax_table(
    structures,
    potential: str = "sevenn",
    fmax: float = 0.05,
    steps: int = 300,
    max_atoms: int | None = None,
    seed: int = 0,
    hull=None,
    device: str | None = None,
    batch_size: int = 16,
    engine: str = "auto",
    workers: int | None = None,
) -> pd.DataFrame:
    """The relax-only MLIP stage: order, relax (batched where possible), formation energy, e_hull; one row each.

    Columns as :func:`screening.simulation.simulate_structure` writes them (``potential``,
    ``potential_version``, ``device``, ``ordering``, ``n_atoms``, ``relax_converged``,
    ``relax_wall_s``, ``mlip_energy_eV_atom``, ``mlip_volume_change``,
    ``mlip_formation_energy_eV_atom``, ``mlip_correction_eV_atom``,
    ``mlip_hull_formation_energy_eV_atom``, ``mlip_e_hull_eV_atom``), plus ``relax_engine``
    (``torch-sim`` or ``ase``) and ``error`` (None, or why the row has no e_hull; the other rows
    keep theirs). ``hull``: a :class:`~screening.descriptors.stability.ReferenceHull` (default
    the project's shared one).
    """
    from screening.simulation.energetics import formation_energy
    from screening.simulation.ordering import DEFAULT_MAX_ATOMS, order_structure
    from screening.simulation.potentials import potential_version

    name = check_potential(potential)
    device = device or default_device()
    version = potential_version(name)
    rows: list[dict] = []
    ordered: list = []
    for i, s in enumerate(structures):
        row: dict[str, Any] = {"potential": name, "potential_version": version, "device": device, "error": None}
        try:
            if not isinstance(s, Structure):
                raise SimulationError(f"structure {i}: {s if isinstance(s, str) else type(s).__name__}")
            o, info = order_structure(s, max_atoms=max_atoms or DEFAULT_MAX_ATOMS, seed=seed)
            row.update(ordering=info["ordering"], n_atoms=len(o), mlip_formula=o.composition.reduced_formula)
            ordered.append(o)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            ordered.append(None)
        rows.append(row)
    todo = [i for i, o in enumerate(ordered) if o is not None]
    relaxed = relax_many([ordered[i] for i in todo], name, fmax=fmax, steps=steps, device=device, batch_size=batch_size, engine=engine,
                         workers=workers)  # fmt: skip
    if hull is None and todo:
        from screening.descriptors.stability import default_hull

        hull = default_hull()
    for i, rel in zip(todo, relaxed, strict=True):
        row = rows[i]
        row["relax_engine"] = rel.get("engine")
        if rel.get("error"):
            row["error"] = rel["error"]
            continue
        row.update(relax_converged=rel["converged"], relax_fmax_eV_A=rel["fmax_eV_A"], relax_wall_s=rel.get("wall_s"),
                   mlip_energy_eV_atom=rel["energy_eV_atom"], mlip_volume_change=rel["volume_change"])  # fmt: skip
        try:
            ef, corr = formation_energy(rel["structure"], rel["energy_eV"], name, device)
            comp = rel["structure"].composition
            row.update(mlip_formation_energy_eV_atom=ef, mlip_correction_eV_atom=corr,
                       mlip_hull_formation_energy_eV_atom=hull.hull_energy(comp), mlip_e_hull_eV_atom=hull.energy_above_hull(comp, ef))  # fmt: skip
        except Exception as exc:
            row["error"] = f"energy: {type(exc).__name__}: {exc}"
    return pd.DataFrame(rows)
