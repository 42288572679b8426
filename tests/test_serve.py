"""flows/serve.py: the three deployments the UI lists, each with a form drawn from its parameters."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_serve_offers_screen_train_and_evaluate_deployments():
    from flows.serve import deployments

    deps = {d.name: d for d in deployments()}
    assert set(deps) == {"screen", "train", "evaluate"}
    assert {d.flow_name for d in deps.values()} == {"screen", "train", "evaluate"}
    assert all(d.description for d in deps.values())


def test_screen_deployment_form_has_the_run_options_as_a_section():
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    from flows.serve import deployments

    screen = next(d for d in deployments() if d.name == "screen")
    flow = load_flow_from_entrypoint(screen.entrypoint)  # what a served run executes
    assert flow.name == "screen"
    schema = parameter_schema(flow).model_dump()
    definitions = schema["definitions"]
    assert "run" in definitions["ScreenParameters"]["properties"]
    assert {"task_runner", "dask_address", "max_workers", "chunk_size", "store_path", "run_id"} <= set(definitions["RunOptions"]["properties"])


def test_serve_main_serves_every_deployment_with_a_limit(monkeypatch):
    import flows.serve as serve_module

    seen = {}

    def fake_serve(*deps, limit=None, **kwargs):
        seen["names"] = sorted(d.name for d in deps)
        seen["limit"] = limit

    monkeypatch.setattr(serve_module, "serve", fake_serve)
    serve_module.main()
    assert seen == {"names": ["evaluate", "screen", "train"], "limit": 2}
