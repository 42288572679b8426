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


def _as_the_form_sends_it(schema):
    """The schema as Prefect's form sends it to the validator: it keeps anyOf/allOf/items/enum/..., drops bounds outside them."""
    kept = {"position", "block_type_slug", "$ref", "anyOf", "allOf", "example", "default", "const", "description", "enum",
            "format", "items", "prefixItems", "properties", "required", "title", "type", "maxItems", "minItems"}  # fmt: skip

    def walk(node):
        out = {k: v for k, v in node.items() if k in kept}
        if "properties" in out:
            out["properties"] = {k: walk(v) for k, v in out["properties"].items()}
        return out

    return {"definitions": {k: walk(v) for k, v in schema["definitions"].items()}, **walk(schema)}


def test_the_screen_form_has_plain_optional_numbers_and_refuses_bad_ones_in_words():
    """Issue 25: no "params" title, no int/None toggle, bounds that the form itself checks, null still accepted."""
    from prefect.utilities.schema_tools.validation import build_error_obj, preprocess_schema, validate

    from flows.serve import deployments

    screen = next(d for d in deployments() if d.name == "screen")
    schema = screen._parameter_openapi_schema.model_dump()
    assert schema["properties"]["params"]["title"] == "Screening run"
    params = schema["definitions"]["ScreenParameters"]
    assert "earlier versions" not in params["description"]
    for name in ("limit", "min_lambda", "elements", "cif_glob"):  # optional fields: one input, no type toggle
        assert "anyOf" not in params["properties"][name] and "default" not in params["properties"][name], name
    weights = schema["definitions"]["ObjectiveWeights"]["properties"]
    assert all("anyOf" not in w for w in weights.values())
    assert "li-metal-anode 1" in weights["window_low_V"]["description"]  # the presets' weights are shown
    assert "li-metal-anode': against Li metal" in params["properties"]["preset"]["description"]

    sent = preprocess_schema(_as_the_form_sends_it(schema))

    def errors(values):
        return build_error_obj(validate({"params": values}, sent, preprocess=False))

    assert errors({"limit": -5})["errors"] == [{"property": "params", "errors": [{"property": "limit", "errors": ["-5 is less than the minimum of 1"]}]}]
    bad_weight = errors({"weights": {"log10_sigma_S_cm": -1}})
    assert "-1 is less than the minimum of 0" in str(bad_weight) and "any of the given schemas" not in str(bad_weight)
    assert "does not match" in str(errors({"run": {"run_id": "a b"}}))
    assert errors({"limit": None, "min_lambda": None, "weights": {"log10_sigma_S_cm": None}})["valid"]  # empty fields
    assert errors({"limit": 5, "weights": {"log10_sigma_S_cm": 2}})["valid"]


def test_an_emptied_element_pool_means_every_element():
    from screening.pipeline import ScreenParameters

    assert ScreenParameters(elements=[]).elements is None
