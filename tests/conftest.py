"""Shared fixtures: a small results store written without Prefect."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect's ephemeral API server must start within 20 s by default: not always true on a loaded
# machine, and test subprocesses (which copy this environment) each start one
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# MLIP relaxations in the calling process: a pool of spawned workers costs ~10 s to start, more than the tiny cells
# of the tests take to relax; tests/simulation/test_batched.py runs the pool itself (workers=2)
os.environ.setdefault("SCREENING_MLIP_WORKERS", "1")
# Task results (the resume cache) go to a fresh folder per test session, removed at its end, so a test that counts
# cached chunks never finds an earlier session's; test subprocesses inherit it. Set before Prefect is imported.
_STORAGE = None
if "PREFECT_RESULTS_LOCAL_STORAGE_PATH" not in os.environ:
    _STORAGE = tempfile.mkdtemp(prefix="screening-tests-prefect-storage-")
    os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = _STORAGE


def folder_snapshot(directory) -> dict:
    """Every file under ``directory`` with its mtime and bytes (to assert that nothing changed)."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def snapshot():
    """:func:`folder_snapshot`, as a fixture."""
    return folder_snapshot


@pytest.fixture(scope="session")
def obelix_dir(tmp_path_factory):
    """The 321 bundled OBELiX CIFs written to a folder as ``<id>.cif`` (from datasets/, checksummed)."""
    from screening.datasets import obelix_cif_ids, obelix_cif_text

    out = tmp_path_factory.mktemp("obelix_cifs")
    for obelix_id in obelix_cif_ids():
        (out / f"{obelix_id}.cif").write_text(obelix_cif_text(obelix_id))
    return out


@pytest.fixture()
def small_store(tmp_path):
    """A ResultStore with one completed run 'r1' of 6 ranked candidates (3 halides, 3 sulfides)."""
    from screening.store import ResultStore

    store = ResultStore(tmp_path / "small.duckdb")
    run = store.start_run({"limit": 6}, run_id="r1")
    ids = [f"c{i}" for i in range(6)]
    store.write("candidates", run, pd.DataFrame({
        "candidate_id": ids, "formula": ["Li3YCl6", "Li3InCl6", "Li2ZrCl6", "Li6PS5Cl", "Li7P3S11", "Li3PS4"],
        "family": ["halide"] * 3 + ["sulfide"] * 3, "error": [None] * 5 + ["bad row"],
    }))  # fmt: skip
    store.write("predictions", run, pd.DataFrame({"candidate_id": ids, "log10_sigma_S_cm": [-3.0, -3.2, -4.0, -2.5, -2.2, np.nan]}))
    store.write("stability", run, pd.DataFrame({"candidate_id": ids, "window_width_V": [3.5, 2.0, 3.0, 0.5, 0.3, np.nan]}))
    store.write("scores", run, pd.DataFrame({
        "candidate_id": ids, "passes_gates": [True] * 5 + [False], "pareto_rank": [1, 2, 1, 1, 1, 0],
        "score": [0.5, 0.1, 0.2, 0.9, 1.0, np.nan], "rank": [4, 5, 3, 2, 1, 6],
    }))  # fmt: skip
    store.finish_run(run)
    return store


def pytest_unconfigure(config):
    """Stop Prefect's temporary API servers while pytest's output streams are still open.

    Prefect stops them at interpreter exit (atexit), when pytest has already closed the
    stream its log handler writes to, which prints a harmless but noisy "Logging error".
    """
    import sys

    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is not None:
        for server in list(server_module.SubprocessASGIServer._instances.values()):
            server.stop()
    if _STORAGE is not None:
        shutil.rmtree(_STORAGE, ignore_errors=True)
