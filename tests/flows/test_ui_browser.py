"""Drive the Prefect UI in headless Chromium: open the ``screen`` deployment, check the
custom-run form (one section in words, the presets' weights shown), type a negative budget
and weight into optional number fields (no type toggle) and see each refused in words next
to its field before a run exists, then a budget of 5, a weight and a ranking preset, submit,
wait for the run to complete, find its rows in the results store and check that its
artifacts name the run and the preset.

Needs Debian's /usr/bin/chromium (``make browser`` installs it). Skips only when it is
absent and cannot be installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
WAIT_S = 240  # upper bound on each wait (server start, run completion), not a performance claim


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "install_browser.sh")], capture_output=True, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent and could not be installed (run `make browser`)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, what: str, procs=()):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a subprocess exited with {p.returncode}")
        try:
            value = predicate()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"gave up waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture()
def served(tmp_path):
    """A Prefect server on a free port and the served deployments; yields (api_url, ui_url, store_path)."""
    _ensure_chromium()
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    store = tmp_path / "ui.duckdb"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "SCREENING_RESULTS_PATH": str(store),
    }
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("server", "serve")}
    procs = []
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=logs["server"], stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        procs.append(server)
        _wait(lambda: httpx.get(f"{api}/health", timeout=5).status_code == 200, "the Prefect server", procs)
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows.serve"],
            cwd=ROOT, env=env, stdout=logs["serve"], stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        procs.append(serve)

        def deployments():
            r = httpx.post(f"{api}/deployments/filter", json={}, timeout=5)
            names = {d["name"] for d in r.json()}
            return names >= {"screen", "train", "evaluate"}

        _wait(deployments, "the served deployments", procs)
        yield api, f"http://127.0.0.1:{port}", store
    finally:
        for p in reversed(procs):
            _stop(p)
        for f in logs.values():
            f.close()


def open_custom_run_form(page, ui: str) -> None:
    """From the deployments page to the custom-run form of the ``screen`` deployment."""
    page.goto(f"{ui}/deployments", wait_until="networkidle")
    page.get_by_role("link", name="screen", exact=True).first.click()
    page.wait_for_url("**/deployments/deployment/**")
    page.locator("button:has-text('Run')").last.click()
    page.get_by_text("Custom run").first.click()
    page.wait_for_url("**/run**")


def form_field(page, title: str):
    """The form field titled ``title``: its label, description, input and the errors shown under it."""
    label = page.get_by_text(f"{title} (Optional)", exact=True)
    return label.locator("xpath=ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' schema-form-property ')][1]")


def choose(page, title: str, option: str) -> None:
    """Pick ``option`` in the select of the form field titled ``title``."""
    field = form_field(page, title)
    for _ in range(3):  # the select opens on a click of its icon (the first click may only focus it)
        field.locator("span.p-select-button__icon").click()
        if page.get_by_role("option", name=option).count():
            break
    page.get_by_role("option", name=option).click()


def fill_number(page, title: str, value: str):
    """Type ``value`` in the number field titled ``title`` (an optional number needs no type toggle); return the field."""
    from playwright.sync_api import expect

    field = form_field(page, title)
    assert field.get_by_role("button", name="None", exact=True).count() == 0, f"{title}: a type toggle"
    box = field.locator("input[type=number]")
    box.fill(value)
    box.press("Tab")  # the form takes the value on input; leaving the field makes sure it has before a Submit
    expect(box).to_have_value(value)
    return field


def test_custom_run_from_the_ui(served, tmp_path):
    from playwright.sync_api import sync_playwright

    from screening.store import ResultStore

    api, ui, store_path = served
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        ctx.set_default_timeout(60_000)
        try:
            page = ctx.new_page()
            open_custom_run_form(page, ui)
            # the form drawn from ScreenParameters: one section in words, no "params" wrapper or legacy text
            page.get_by_text("Candidates from (Optional)", exact=True).wait_for()
            assert page.get_by_text("params (Optional)", exact=True).count() == 0
            assert page.get_by_text("Screening run (Optional)", exact=True).count() == 1
            assert page.get_by_text("earlier versions").count() == 0
            # the preset's weights are shown: in the preset's description and under every weight field
            preset = form_field(page, "Ranking preset")
            assert "'li-metal-anode': against Li metal" in preset.inner_text() and "reduction limit 1" in preset.inner_text()
            sigma = "Ionic conductivity (log10) [log10(S/cm)], higher is better"
            assert "li-metal-anode 1" in form_field(page, sigma).inner_text()
            # optional numbers take a value without a type toggle; a bad one is refused in words next to its field
            budget = fill_number(page, "Candidate budget", "-5")
            weight = fill_number(page, sigma, "-1")
            page.get_by_role("button", name="Submit").click()
            budget.get_by_text("-5 is less than the minimum of 1").wait_for()
            weight.get_by_text("-1 is less than the minimum of 0").wait_for()
            assert page.get_by_text("is not valid under any of the given schemas").count() == 0
            weight.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "bad_weight.png"))
            time.sleep(2)
            assert httpx.post(f"{api}/flow_runs/filter", json={}, timeout=5).json() == []  # refused before a run exists
            fill_number(page, "Candidate budget", "5")
            fill_number(page, sigma, "2")
            # the default K' (8) relaxes all 5 rows with the MLIP, minutes each on 2 cores: the tier runs on the best one
            fill_number(page, "MLIP relaxation on the best K'", "1")
            choose(page, "Ranking preset", "li-metal-anode")  # the ranking preset by name
            page.screenshot(path=str(shots / "form.png"), full_page=True)
            page.get_by_role("button", name="Submit").click()

            def created_run():  # the UI returns to the deployment page; the run is found through the API
                top_level = {"flow_runs": {"parent_task_run_id": {"is_null_": True}}}  # not the "screen tiers" subflow
                runs = httpx.post(f"{api}/flow_runs/filter", json=top_level, timeout=5).json()
                return runs[0]["id"] if runs else None

            run_id = _wait(created_run, "the flow run created by the form")

            def final_state():
                state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]
                return state["type"] if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

            state = _wait(final_state, "the flow run to finish")
            page.goto(f"{ui}/runs/flow-run/{run_id}", wait_until="networkidle")
            page.screenshot(path=str(shots / "run.png"), full_page=True)
        finally:
            ctx.close()

    assert state == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
    params = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["parameters"]
    assert params["params"]["limit"] == 5 and params["params"]["preset"] == "li-metal-anode"
    assert params["params"]["mlip_relax_top_k"] == 1
    assert {k: v for k, v in params["params"]["weights"].items() if v is not None} == {"log10_sigma_S_cm": 2}
    store = ResultStore(store_path)
    runs = store.query("SELECT run_id, status, n_candidates, flow_run_id, flow_run_name FROM runs")
    # the flow run is named after the screen and its store run id, and the store knows the flow run
    name = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["name"]
    assert name == f"obelix-sulfide+halide+oxide-5-li-metal-anode-{runs['run_id'][0]}"
    assert runs["flow_run_id"].tolist() == [run_id] and runs["flow_run_name"].tolist() == [name]
    assert list(runs["status"]) == ["completed"]
    assert list(runs["n_candidates"]) == [5]
    # the default tiers ran, the MLIP relaxation of the best row too
    timings = json.loads(store.query("SELECT timings FROM runs")["timings"][0])
    assert {"structure_s", "relax_s"} <= set(timings), timings
    assert len(store.query("SELECT candidate_id FROM simulation")) == 1  # K' from the form
    ranked = store.query("SELECT candidate_id, rank FROM ranked")
    assert len(ranked) == 5 and ranked["candidate_id"].is_unique
    artifacts = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}, timeout=5).json()
    assert {a["key"] for a in artifacts} >= {"top-candidates", "screen-summary"}
    # the artifacts name the run (store run id and name) and the preset
    label = store.run_info(runs["run_id"][0]).label()
    assert "preset li-metal-anode" in label and runs["run_id"][0] in label
    by_key = {a["key"]: a for a in artifacts}
    assert label in by_key["top-candidates"]["description"]
    assert runs["run_id"][0] in by_key["screen-summary"]["data"] and "li-metal-anode" in by_key["screen-summary"]["data"]
