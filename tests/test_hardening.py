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


# ----------------------------------------------------------------- 2. bounded queries

from screening.errors import QueryError  # noqa: E402
from screening.sql_guard import QueryLimits  # noqa: E402

FAST = QueryLimits(memory_limit="256MB", threads=1, timeout_s=1.0, max_rows=1000)

#: the campaign's queries that never ended or were copied whole (SQL, what the bounded query does)
ENDLESS = [
    "SELECT count(*) FROM range(1000000000000)",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
]
TRIPLE_JOIN = "SELECT count(*) FROM ranked a, ranked b, ranked c WHERE a.formula <> b.formula AND b.formula <> c.formula"


@pytest.fixture(scope="module")
def wide_store(tmp_path_factory):
    """A store with one run of 3,000 ranked candidates (a triple self-join has 2.7e10 rows)."""
    store = ResultStore(tmp_path_factory.mktemp("wide") / "wide.duckdb")
    store.start_run({}, run_id="w")
    ids = [f"c{i}" for i in range(3000)]
    store.write_many("w", {
        "candidates": pd.DataFrame({"candidate_id": ids, "formula": [f"Li{i}Cl" for i in range(3000)], "family": "halide"}),
        "scores": pd.DataFrame({"candidate_id": ids, "passes_gates": True, "score": 1.0, "rank": range(1, 3001)}),
    }, replace=False)  # fmt: skip
    store.finish_run("w")
    return store


@pytest.mark.parametrize("sql", ENDLESS)
def test_an_endless_query_is_stopped_at_the_timeout(small_store, sql):
    t = time.perf_counter()
    with pytest.raises(QueryError, match="longer than 1 s"):
        small_store.query(sql, limits=FAST)
    assert time.perf_counter() - t < 10


def test_a_query_over_the_memory_limit_is_stopped(small_store):
    sql = "SELECT range % 1000000 AS k, list(range) FROM range(30000000) GROUP BY k"
    with pytest.raises(QueryError, match="more than 64MB of memory"):
        small_store.query(sql, limits=QueryLimits(memory_limit="64MB", threads=1, timeout_s=30, max_rows=10))


def test_a_huge_result_is_cut_at_the_row_cap_and_says_so(small_store):
    t = time.perf_counter()
    frame = small_store.query("SELECT * FROM range(100000000)", limits=FAST)
    assert len(frame) == 1000 and frame.attrs["truncated"] and time.perf_counter() - t < 10
    whole = small_store.query("SELECT formula FROM ranked", limits=FAST)
    assert len(whole) == 6 and not whole.attrs["truncated"]
    cats = small_store.query("SELECT family FROM range(5000), ranked", limits=FAST, categories=["family"])
    assert len(cats) == 1000 and cats.attrs["truncated"] and str(cats["family"].dtype) == "category"


def test_the_library_reads_a_whole_run_unbounded(wide_store):
    assert len(wide_store.run_errors("w")) == 3000  # not cut at the user cap
    assert len(wide_store.query("SELECT * FROM candidates", limits=QueryLimits(max_rows=10), bounded=False)) == 3000


def _cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "screening.cli", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=timeout)  # fmt: skip


def test_cli_triple_self_join_fails_within_the_timeout_with_one_line(wide_store):
    t = time.perf_counter()
    out = _cli("--store", str(wide_store.path), "query", TRIPLE_JOIN, env={"SCREENING_QUERY_TIMEOUT_S": "3"})
    elapsed = time.perf_counter() - t
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("\n") == 1 and "longer than 3 s" in out.stderr and "Traceback" not in out.stderr
    assert elapsed < 30


def test_cli_query_says_when_it_cut_the_output(small_store):
    out = _cli("--store", str(small_store.path), "query", "SELECT * FROM range(100000000)", "--max-rows", "5", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 6 and "cut at 5 rows" in out.stderr


def test_cli_ctrl_c_during_a_query_is_one_line(small_store):
    proc = subprocess.Popen([sys.executable, "-m", "screening.cli", "--store", str(small_store.path), "query", ENDLESS[0]],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(4)  # imported and running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().count("\n") == 0 and "interrupted" in err and "Traceback" not in err


# ----------------------------------------------------------------- 6. parameters

from screening.cli import main as cli_main  # noqa: E402
from screening.errors import StoreError  # noqa: E402


@pytest.mark.parametrize("text", ["[]", '"x"', "null", "3"])
def test_params_json_must_be_an_object(text, tmp_path, capsys):
    assert cli_main(["--store", str(tmp_path / "s.duckdb"), "screen", "--params-json", text, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--params-json" in err and "JSON object" in err


def test_params_json_that_is_not_json_is_one_line(tmp_path, capsys):
    assert cli_main(["screen", "--params-json", "{nope", "--dry-run"]) == 2
    assert "--params-json" in capsys.readouterr().err


def test_a_non_integer_schema_version_is_a_store_error(small_store):
    import duckdb

    con = duckdb.connect(str(small_store.path))
    con.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    con.close()
    for read_only in (True, False):
        with pytest.raises(StoreError, match="schema_version 'abc' is not an integer"):
            ResultStore(small_store.path, read_only=read_only)


def test_dask_workers_are_bounded_by_the_machine():
    from screening.pipeline import RunOptions

    with pytest.raises(ValueError, match="cpu"):
        RunOptions(task_runner="dask", max_workers=(os.cpu_count() or 1) + 1)
    assert RunOptions(task_runner="dask", max_workers=1).max_workers == 1


def test_predict_exits_non_zero_when_no_row_succeeded(capsys):
    assert cli_main(["predict", "Xx2", "--no-stability", "--format", "csv"]) == 1
    assert "no formula could be predicted" in capsys.readouterr().err


# ----------------------------------------------------------------- 3./4. structure files from a glob

SECRET = "SECRET-TOKEN-do-not-store"
#: a 2-atom cell in a 400 A box: it used to report a BVSE barrier of 0.039 eV and 1e-6 g/cm3
VACUUM_CIF = """data_vacuum
_cell_length_a 400
_cell_length_b 400
_cell_length_c 400
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Li1 Li 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


def _in_thread(fn, timeout=60):
    box = {}
    thread = threading.Thread(target=lambda: box.update(out=fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s"
    return box["out"]


def test_every_bad_file_of_a_glob_is_one_error_row(tmp_path):
    from screening.pipeline.sources import cif_candidates

    good = tmp_path / "good.cif"
    good.write_text((ROOT / "seeds" / "Li3InCl6_C2m.cif").read_text())
    os.mkfifo(tmp_path / "fifo.cif")
    os.symlink(tmp_path / "loop_b.cif", tmp_path / "loop_a.cif")
    os.symlink(tmp_path / "loop_a.cif", tmp_path / "loop_b.cif")
    (tmp_path / "POSCAR").write_text(f"x\n{SECRET}\n1 0 0\n0 1 0\n0 0 1\nLi\n1\nDirect\n0 0 0\n")
    (tmp_path / "vacuum.cif").write_text(VACUUM_CIF)
    (tmp_path / "huge.cif").write_text(VACUUM_CIF.replace("400", "1e30"))
    paths = sorted(str(p) for p in tmp_path.iterdir())
    table = _in_thread(lambda: cif_candidates(paths))
    assert len(table) == len(paths)
    errors = dict(zip(table["parent"], table["error"]))
    assert "not a regular file" in errors["fifo.cif"]
    assert "symlink loop" in errors["loop_a.cif"] and "symlink loop" in errors["loop_b.cif"]
    assert "vacuum" in errors["vacuum.cif"] and "cell length" in errors["huge.cif"]
    assert errors["good.cif"] is None
    assert all(SECRET not in str(e) for e in table["error"]) and all(len(str(e)) <= 500 for e in table["error"])


def test_a_glob_has_a_match_cap(tmp_path, monkeypatch):
    from screening.config import get_settings
    from screening.errors import ScreeningError
    from screening.pipeline.sources import glob_paths

    for i in range(5):
        (tmp_path / f"{i}.cif").write_text("x")
    monkeypatch.setenv("SCREENING_MAX_GLOB_MATCHES", "3")
    get_settings.cache_clear()
    try:
        with pytest.raises(ScreeningError, match="more than 3 files"):
            glob_paths(str(tmp_path / "*.cif"))
    finally:
        monkeypatch.delenv("SCREENING_MAX_GLOB_MATCHES")
        get_settings.cache_clear()
    assert len(glob_paths(str(tmp_path / "*.cif"))) == 5
