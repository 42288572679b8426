"""Interrupts of a running ``screening screen`` (issue 27, item 5).

Ctrl-C sends SIGINT to the terminal's whole foreground process group: before the fix it
killed Prefect's temporary API server at once, the flow then retried it for minutes and
stored ``ConnectError: Connection refused`` as the run's error. SIGKILL of the main
process left the temporary server orphaned. Each test runs a real ``screening screen``
in its own process group, slowed down after each stored chunk so that it can be
interrupted in the middle.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from screening.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]

#: ``screening screen`` (the console script's ``main``) with a pause after each stored chunk
_SLOW_SCREEN = """
import sys, time
from flows.screen import on_chunk_stored
from flows.cli import main
with on_chunk_stored(lambda index, n: time.sleep(2)):
    sys.exit(main(["--store", sys.argv[1], "screen", "--source", "enumerated", "--family", "halide", "--limit", "60",
                   "--chunk-size", "10", "--tier", "composition", "--run-id", "stopped", "--max-workers", "1"]))
"""

#: an interrupted screen must end within this many seconds (it took 212-282 s before the fix)
EXIT_WITHIN_S = 60


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    path = tmp_path / "stopped.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)  # the temporary server, as a user without a Prefect server gets
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SCREEN, str(path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    return proc, path


def _wait_for_chunks(proc: subprocess.Popen, path: Path, n: int = 10) -> list[psutil.Process]:
    """Wait until ``n`` candidates are stored; return the screen's child processes (the temporary server)."""
    stored = 0
    deadline = time.monotonic() + 900  # a bound on the wait (a loaded 2-core machine), not a performance claim
    while time.monotonic() < deadline and proc.poll() is None and stored < n:
        try:
            if path.exists():
                stored = ResultStore(path, read_only=True).query("SELECT count(*) AS n FROM candidates")["n"].item()
        except Exception:  # the writer holds the file for a moment
            pass
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be interrupted:\n" + (proc.stdout.read() if proc.stdout else "")
    assert stored >= n, f"{stored} candidates stored before the deadline"
    return psutil.Process(proc.pid).children(recursive=True)


def _gone(processes: list[psutil.Process], within_s: float) -> list[psutil.Process]:
    """The processes still alive after ``within_s`` seconds."""
    _, alive = psutil.wait_procs(processes, timeout=within_s)
    return alive


def _kill(processes) -> None:
    for p in processes:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_screen_ends_quickly_marked_interrupted_and_resumable(tmp_path, sig):
    """SIGINT or SIGTERM to the whole process group (Ctrl-C, a job scheduler): the screen ends within
    :data:`EXIT_WITHIN_S`, the run is ``failed`` with a one-line "interrupted" reason (not ConnectError), its
    finished chunks stay, no child process outlives it, and the same run id then resumes to completion."""
    proc, path = _start(tmp_path)
    children = []
    try:
        children = _wait_for_chunks(proc, path)
        t = time.monotonic()
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the screen did not end within {EXIT_WITHIN_S} s of {sig.name}")
        elapsed = time.monotonic() - t
        output = proc.stdout.read()
        assert proc.returncode != 0, output[-2000:]
        assert not _gone(children, 15), "a child of the screen outlived it"
    finally:
        _kill([proc] if proc.poll() is None else [])
        _kill(children)
    run = ResultStore(path, read_only=True).query("SELECT status, error FROM runs WHERE run_id = 'stopped'").iloc[0]
    assert run["status"] == "failed", (run.to_dict(), elapsed)
    assert "interrupted" in run["error"] and "ConnectError" not in run["error"] and "\n" not in run["error"], run["error"]
    assert "Traceback" not in output, output[-3000:]
    stored = ResultStore(path, read_only=True).query("SELECT count(*) AS n FROM candidates WHERE run_id = 'stopped'")["n"].item()
    assert 10 <= stored < 60, (stored, run.to_dict(), output[-3000:])

    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    resumed = subprocess.run([sys.executable, "-m", "flows.cli", "--store", str(path), "screen", "--source", "enumerated",
                              "--family", "halide", "--limit", "60", "--chunk-size", "10", "--tier", "composition",
                              "--run-id", "stopped"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    store = ResultStore(path, read_only=True)
    assert store.query("SELECT status FROM runs WHERE run_id = 'stopped'")["status"].item() == "completed"
    rows = store.query("SELECT candidate_id FROM ranked WHERE run_id = 'stopped'")
    assert len(rows) == 60 and rows["candidate_id"].is_unique


def test_the_temporary_server_does_not_outlive_a_killed_screen(tmp_path):
    """SIGKILL of the screen's main process alone (no handler can run): its temporary Prefect server ends too."""
    proc, path = _start(tmp_path)
    children = []
    try:
        children = _wait_for_chunks(proc, path)
        assert children, "the screen started no temporary server"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        alive = _gone(children, 20)
        assert not alive, f"orphaned after SIGKILL of the screen: {[p.cmdline()[:4] for p in alive]}"
    finally:
        _kill([proc] if proc.poll() is None else [])
        _kill(children)
