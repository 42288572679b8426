"""Issue 27: the fuzz and fault campaign's failures, each as a test (run ids, queries, structure files, interrupts, parameters).

The campaign's inputs are recorded here (the CIFs, globs, SQL and parameters below), so a
re-run of this file is a re-run of the campaign: no traceback, no hang over 60 s, no
duplicated or lost row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from screening.errors import RunInUseError
from screening.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

# ----------------------------------------------------------------- 1. one owner per run id

_CLAIMER = """
import sys, time
from pathlib import Path
import pandas as pd
from screening.errors import RunInUseError
from screening.store import ResultStore
path, run, go, hold = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
while not go.exists():
    time.sleep(0.01)
store = ResultStore(path)
try:
    store.start_run({"limit": 200}, run_id=run)
except RunInUseError as exc:
    print(f"refused: {exc}", file=sys.stderr)
    sys.exit(3)
time.sleep(hold)  # the run is being computed: a second start must see it
fresh = store.query("SELECT count(*) AS n FROM candidates WHERE run_id = ?", [run])["n"].item() == 0
for start in range(0, 200, 25):  # a fresh run appends, as the screen flow does
    ids = [f"c{i}" for i in range(start, start + 25)]
    store.write("candidates", run, pd.DataFrame({"candidate_id": ids, "formula": "LiCl"}), replace=not fresh)
store.finish_run(run)
"""


def _claimers(path, run: str, go: Path, hold: float, n: int = 2) -> list[subprocess.Popen]:
    return [
        subprocess.Popen([sys.executable, "-c", _CLAIMER, str(path), run, str(go), str(hold)], env=ENV,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]  # fmt: skip


def test_two_processes_starting_the_same_run_id_do_not_duplicate_rows(tmp_path):
    path = tmp_path / "same.duckdb"
    ResultStore(path)
    go = tmp_path / "go"
    procs = _claimers(path, "same1", go, hold=2.0)
    time.sleep(3.0)  # both processes imported and waiting
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], errors
    refused = next(e for p, e in zip(procs, errors) if p.returncode == 3)
    assert "'same1'" in refused and "another process" in refused and "Traceback" not in refused
    counts = ResultStore(path, read_only=True).query(
        "SELECT count(*) AS n, count(DISTINCT candidate_id) AS u FROM candidates WHERE run_id = 'same1'"
    )
    assert counts.iloc[0].tolist() == [200, 200]
    run = ResultStore(path, read_only=True).runs().iloc[0]
    assert run["status"] == "completed" and run["n_candidates"] == 200


def test_a_killed_owner_leaves_a_run_that_can_be_resumed(tmp_path):
    path = tmp_path / "killed.duckdb"
    ResultStore(path)
    go = tmp_path / "go"
    go.touch()
    (proc,) = _claimers(path, "k1", go, hold=60.0, n=1)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for its claim
        runs = ResultStore(path, read_only=True).runs()
        if len(runs):
            break
        time.sleep(0.2)
    with pytest.raises(RunInUseError, match="'k1'.*another process"):
        ResultStore(path).start_run({}, run_id="k1")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert ResultStore(path).start_run({}, run_id="k1") == "k1"  # the dead owner's claim is stale


def test_a_run_claimed_by_a_live_thread_is_refused_and_by_an_ended_one_taken_over(tmp_path):
    store = ResultStore(tmp_path / "threads.duckdb")
    started, release = threading.Event(), threading.Event()

    def owner():
        store.start_run({}, run_id="t1")
        started.set()
        release.wait(30)

    thread = threading.Thread(target=owner)
    thread.start()
    assert started.wait(30)
    try:
        with pytest.raises(RunInUseError, match="'t1'"):
            store.start_run({}, run_id="t1")
    finally:
        release.set()
        thread.join()
    assert store.start_run({}, run_id="t1") == "t1"
    store.finish_run("t1")
    assert store.start_run({}, run_id="t1") == "t1"  # a finished run is resumed by whoever asks
    assert len(store.query("SELECT * FROM runs")) == 1


def test_the_same_thread_may_start_its_own_run_again(tmp_path):
    store = ResultStore(tmp_path / "again.duckdb")
    store.start_run({}, run_id="a")
    assert store.start_run({}, run_id="a") == "a"  # e.g. a crash the flow could not mark failed
    store.write("candidates", "a", pd.DataFrame({"candidate_id": ["x"], "formula": ["LiCl"]}))
    assert store.runs()["status"].tolist() == ["running"]
