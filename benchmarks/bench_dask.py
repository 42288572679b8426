"""Speed of a screen on an external Dask cluster: one worker, then two (issue 15).

For each worker count, on the loopback address and in a fresh PREFECT_HOME (nothing comes
from the cache): a Prefect server (``prefect server start``), a ``dask scheduler`` and N
``dask worker --nthreads 1`` processes; the workers import the flow's modules and load the
models before the clock starts; then ``screening screen --task-runner dask --dask-address ...``
runs in its own process with PREFECT_API_URL pointing at the server, timed from outside.
Everything is stopped after each run. Rows are printed as a markdown table, in the order
run, with the speed-up over the fewest workers, of the wall time and of the span of the
tasks on the workers (first task start to last task end, from the scheduler's task stream:
the part that Dask spreads; the flow's own work, enumeration, store writes and ranking,
is not).

    .venv/bin/python benchmarks/bench_dask.py --limit 30000 --chunk-size 1500 --top-k 800 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the `dask` and `prefect` console scripts of this environment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _process(argv: list, log: Path, env: dict):
    """A background process in a session of its own; its whole group is stopped on exit."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(a) for a in argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait(check, what: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _warm(dask_worker) -> str:
    import flows.screen  # noqa: F401  (the task's module, with the pipeline it imports)
    from screening.surrogates import load_models

    load_models()  # once per worker process, as on a long-lived cluster
    return dask_worker.name


def run(n_workers: int, limit: int, top_k: int, chunk_size: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    api_url = f"http://127.0.0.1:{_free_port()}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_UI_ENABLED": "false", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    with ExitStack() as stack:
        port = api_url.rsplit(":", 1)[1].split("/")[0]
        server = stack.enter_context(_process([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", port, "--no-services"],
                                              tmp / "prefect-server.log", {k: v for k, v in env.items() if k != "PREFECT_API_URL"}))  # fmt: skip
        _wait(lambda: _healthy(api_url), "the Prefect server", server, tmp / "prefect-server.log")
        scheduler_file = tmp / "sched.json"
        scheduler = stack.enter_context(_process([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                                  "--scheduler-file", scheduler_file], tmp / "scheduler.log", env))  # fmt: skip
        _wait(scheduler_file.exists, "the Dask scheduler", scheduler, tmp / "scheduler.log")
        time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(n_workers):
            stack.enter_context(_process([BIN / "dask", "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                                          "--no-dashboard", "--name", f"w{i}", "--local-directory", tmp / f"w{i}"],
                                         tmp / f"worker{i}.log", env))  # fmt: skip
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=180)
            client.run(_warm)
            client.get_task_stream()  # the scheduler records the task stream from now on

        store_path = tmp / "bench.duckdb"
        argv = [sys.executable, "-m", "flows.cli", "--store", str(store_path), "screen", "--source", "enumerated",
                "--limit", str(limit), "--chunk-size", str(chunk_size), "--stability-top-k", str(top_k),
                "--task-runner", "dask", "--dask-address", address, "--max-workers", str(n_workers),
                "--run-id", f"dask{n_workers}", "--top-n", "5"]  # fmt: skip
        t = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode:
            raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
        with Client(address, timeout=60) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
            stream = client.get_task_stream(start=0)
    from screening.store import ResultStore

    store = ResultStore(store_path)
    row = store.query("SELECT n_candidates, timings FROM runs").iloc[0]
    timings = json.loads(row["timings"])
    del store
    shutil.rmtree(tmp, ignore_errors=True)  # kept, with the logs, when the run failed
    computes = [(ss["start"], ss["stop"]) for task in stream for ss in task["startstops"] if ss["action"] == "compute"]
    span = max(stop for _, stop in computes) - min(start for start, _ in computes)  # first task start to last task end
    busy = sum(stop - start for start, stop in computes)
    return {"workers": n_workers, "n": int(row["n_candidates"]), "wall_s": wall, "timings": timings, "span_s": span, "busy_s": busy,
            "tasks_per_worker": sorted(executed.values())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=30000)
    parser.add_argument("--top-k", type=int, default=800)
    parser.add_argument("--chunk-size", type=int, default=1500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rows = []
    for n in args.workers:  # the order is kept: give "2 1" as well to see how much the order matters on a shared machine
        rows.append(run(n, args.limit, args.top_k, args.chunk_size))
        print(f"ran {n} worker(s): {rows[-1]['wall_s']:.1f} s wall", file=sys.stderr, flush=True)
    base = min(rows, key=lambda r: r["workers"])  # speed-ups over the fewest workers
    print("| workers | candidates | wall s | speed-up (wall) | tier 0 s | stability s | total s (flow) | tasks on workers: "
          "span s | speed-up (span) | task seconds (sum) | tasks per worker |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        t = r["timings"]
        print(f"| {r['workers']} | {r['n']:,} | {r['wall_s']:.1f} | {base['wall_s'] / r['wall_s']:.2f} | "
              f"{t.get('composition_s', 0):.1f} | {t.get('stability_s', 0):.1f} | {t.get('total_s', 0):.1f} | {r['span_s']:.1f} | "
              f"{base['span_s'] / r['span_s']:.2f} | {r['busy_s']:.1f} | {r['tasks_per_worker']} |")  # fmt: skip


if __name__ == "__main__":
    main()
