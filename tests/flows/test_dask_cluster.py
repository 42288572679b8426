"""A real Dask cluster (issue 15): an external ``dask scheduler`` and two ``dask worker`` processes
on the loopback address run a screen given ``dask_address``; the stored results equal a threads run.

The workers are separate programs, as on other machines. Each task runs there with the
Prefect settings that the flow process set explicitly (sent with the task; the others come
from the worker's environment): the API URL must name a server both reach. With none on
either side each worker starts a temporary server of its own. The test points the flow at
the session's Prefect server and gives the workers the same URL in their environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_TASKS_REFRESH_CACHE, temporary_settings

from flows.screen import ScreenParameters, screen
from screening.store import ResultStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")  # the `dask` console script of this environment
SMALL = dict(limit=40, chunk_size=10, tiers=["composition"])  # as in test_flows.py: 4 chunks
N_WORKERS = 2


def _start(argv: list, log: Path, env: dict) -> subprocess.Popen:
    """Start ``argv`` in a session of its own (so that its whole process group can be stopped), output to ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [str(a) for a in argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (a worker's nanny and its worker process), SIGKILL after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # the group may outlive its leader (a nanny's child): make sure none is left
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tails(logs: list[Path], n: int = 3000) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-n:]}" for p in logs if p.exists())


@pytest.fixture(scope="module")
def prefect_api_url() -> str:
    """The URL of a Prefect API server that other processes can reach.

    ``PREFECT_API_URL`` when the session has one; otherwise the session's temporary server
    (the one Prefect starts for a flow with no API URL), started here to learn its address.
    Not stopped here: the session stops it (conftest.py).
    """
    url = PREFECT_API_URL.value()
    if url:
        return url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url


@pytest.fixture()
def dask_cluster(tmp_path, prefect_api_url):
    """``(address, logs)`` of a scheduler and two one-thread workers on 127.0.0.1, stopped at teardown whatever happens."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_HOME": str(PREFECT_HOME.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "OMP_NUM_THREADS": "1",
    }
    scheduler_file = tmp_path / "sched.json"
    procs: list[subprocess.Popen] = []
    logs = [tmp_path / "scheduler.log"]
    try:
        procs.append(_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                             "--scheduler-file", scheduler_file, "--idle-timeout", "900"], logs[0], env))  # fmt: skip
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            assert procs[0].poll() is None, f"the scheduler exited\n{_tails(logs)}"
            assert time.monotonic() < deadline, f"no scheduler file after 120 s\n{_tails(logs)}"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, but let a slow disk finish
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(N_WORKERS):
            logs.append(tmp_path / f"worker{i}.log")
            procs.append(_start([DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                                 "--no-dashboard", "--name", f"w{i}", "--local-directory", tmp_path / f"w{i}",
                                 "--death-timeout", "120"], logs[-1], env))  # fmt: skip
        from distributed import Client

        with Client(address, timeout=60) as client:
            try:
                client.wait_for_workers(N_WORKERS, timeout=180)
            except TimeoutError:
                pytest.fail(f"{N_WORKERS} workers did not connect in 180 s\n{_tails(logs)}")
        yield address, logs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _executed(address: str) -> dict[str, int]:
    """Tasks each worker of the cluster has executed, by worker name."""
    from distributed import Client

    with Client(address, timeout=60) as client:
        counts = client.run(lambda dask_worker: (dask_worker.name, dask_worker.state.executed_count))
    return dict(counts.values())


def _stored(store: ResultStore, run_id: str) -> pd.DataFrame:
    return store.query(
        "SELECT candidate_id, formula, family, error, log10_sigma_S_cm, log10_sigma_S_cm_std, passes_gates, pareto_rank, score, rank "
        "FROM ranked WHERE run_id = ? ORDER BY candidate_id",
        [run_id],
    )


def _completed_task_runs(flow_run_id: str) -> list[str]:
    """Names of the completed task runs of the subflows of flow run ``flow_run_id``, as the Prefect API saw them."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    # sort and limit given: the sync client sends None for them otherwise, which the server refuses (422)
    with get_client(sync_client=True) as client:
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])),
            sort=FlowRunSort.ID_DESC, limit=50,
        )  # fmt: skip
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[f.id for f in subflows])), sort=TaskRunSort.NAME_ASC, limit=200
        )
    return sorted(r.name for r in runs if r.state is not None and r.state.is_completed())


def test_external_scheduler_and_workers_give_the_same_results_as_threads(tmp_path, dask_cluster, prefect_api_url):
    address, logs = dask_cluster
    path = str(tmp_path / "cluster.duckdb")
    before = _executed(address)
    assert sorted(before) == ["w0", "w1"]
    # the flow sends the settings it set (the API URL among them) with every task: the workers report
    # there; refresh the cache: both runs compute
    with temporary_settings({PREFECT_API_URL: prefect_api_url, PREFECT_TASKS_REFRESH_CACHE: True}):
        screen(ScreenParameters(**SMALL, run_id="threads", store_path=path))
        state = screen(
            ScreenParameters(**SMALL, run_id="dask", task_runner="dask", dask_address=address, max_workers=2, store_path=path),
            return_state=True,
        )
        assert state.is_completed(), f"{state}\n{_tails(logs)}"
        flow_run_id = str(state.state_details.flow_run_id)
        task_runs = _completed_task_runs(flow_run_id)

    # every chunk ran on the external workers, and both took part
    after = _executed(address)
    ran = {name: after[name] - before[name] for name in after}
    assert sum(ran.values()) == 4 and all(n > 0 for n in ran.values()), ran
    # the workers reported each chunk's task run to the Prefect API
    assert task_runs == [f"composition tier: chunk {i}" for i in range(4)]

    store = ResultStore(path)
    runs = store.query("SELECT run_id, status, n_candidates FROM runs ORDER BY run_id").to_dict("records")
    assert runs == [{"run_id": "dask", "status": "completed", "n_candidates": 40},
                    {"run_id": "threads", "status": "completed", "n_candidates": 40}]  # fmt: skip
    a, b = _stored(store, "threads"), _stored(store, "dask")
    assert len(a) == 40 and a["candidate_id"].is_unique and a["rank"].notna().all()
    assert a["candidate_id"].tolist() == b["candidate_id"].tolist()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
