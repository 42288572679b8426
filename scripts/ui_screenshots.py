"""Regenerate the README's screenshots: the custom-run form refusing a bad budget, the Prefect UI page of a finished screen, and its Pareto plot.

Starts a Prefect server on a free port and the served deployments (as ``make ui`` does,
in a temporary PREFECT_HOME and results store), submits a 300-candidate enumerated screen
with the ``li-metal-anode`` preset from the custom-run form in headless Chromium, waits for
it, and writes ``docs/ui_form.png`` (the form with a refused budget), ``docs/ui_run.png``
(the flow run page) and ``docs/pareto.png`` (the run's
Pareto plot). Needs Debian's chromium (``make browser``); takes a few minutes.

    .venv/bin/python scripts/ui_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_ui_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, _stop, _wait, choose, fill_number, open_custom_run_form  # noqa: E402

DOCS = ROOT / "docs"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ui_screenshots_"))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    store = tmp / "ui.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "SCREENING_RESULTS_PATH": str(store)}  # fmt: skip
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                      cwd=ROOT, env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT,
                                      start_new_session=True))  # fmt: skip
        _wait(lambda: httpx.get(f"{api}/health", timeout=5).status_code == 200, "the Prefect server", procs)
        procs.append(subprocess.Popen([sys.executable, "-m", "flows.serve"], cwd=ROOT, env=env, stdout=open(tmp / "serve.log", "w"),
                                      stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
        _wait(lambda: {"screen"} <= {d["name"] for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()},
              "the served deployments", procs)  # fmt: skip
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(tmp / "chromium"), executable_path=str(CHROMIUM), headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})  # fmt: skip
            ctx.set_default_timeout(60_000)
            page = ctx.new_page()
            open_custom_run_form(page, f"http://127.0.0.1:{port}")
            choose(page, "Candidates from", "enumerated")
            budget = fill_number(page, "Candidate budget", "-5")  # refused in words next to the field
            page.get_by_role("button", name="Submit").click()
            budget.get_by_text("is less than the minimum").wait_for()
            budget.scroll_into_view_if_needed()
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "ui_form.png"), full_page=False)
            fill_number(page, "Candidate budget", "300")
            choose(page, "Ranking preset", "li-metal-anode")
            page.get_by_role("button", name="Submit").click()
            top_level = {"flow_runs": {"parent_task_run_id": {"is_null_": True}}}
            run_id = _wait(lambda: (httpx.post(f"{api}/flow_runs/filter", json=top_level, timeout=5).json() or [{}])[0].get("id"), "the run")
            def finished():
                s = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]["type"]
                return s if s in ("COMPLETED", "FAILED", "CRASHED") else None

            for attempt in range(5):  # each wait gives up after 4 minutes; a loaded machine may need longer
                try:
                    state = _wait(finished, "the run to finish")
                    break
                except TimeoutError:
                    if attempt == 4:
                        raise
            if state != "COMPLETED":
                raise SystemExit(f"the screen ended {state}; see {tmp}/serve.log")
            page.goto(f"http://127.0.0.1:{port}/runs/flow-run/{run_id}", wait_until="networkidle")
            page.get_by_text("Artifacts").first.click()
            page.wait_for_timeout(2000)
            page.screenshot(path=str(DOCS / "ui_run.png"), full_page=False)
            ctx.close()
        plots = sorted((store.parent / "plots").glob("*_pareto.png"))
        shutil.copy(plots[-1], DOCS / "pareto.png")
        print(f"wrote {DOCS / 'ui_form.png'}, {DOCS / 'ui_run.png'} and {DOCS / 'pareto.png'}")
    finally:
        for p in reversed(procs):
            _stop(p)


if __name__ == "__main__":
    main()
