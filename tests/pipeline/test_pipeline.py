"""screening.pipeline without Prefect: parameters, CIF sources, required models, cache keys, ranking of a run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from screening import pipeline
from screening.config import get_settings
from screening.errors import ModelNotFoundError
from screening.pipeline import RunOptions, ScreenParameters

LI3YCL6_CIF = """data_Li3YCl6
_cell_length_a 6.0
_cell_length_b 6.0
_cell_length_c 6.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_symmetry_equiv_pos_as_xyz
'x, y, z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
{sites}
"""
GOOD_SITES = """Li1 Li 0.0 0.0 0.0 1
Li2 Li 0.5 0.0 0.0 1
Li3 Li 0.0 0.5 0.0 1
Y1 Y 0.5 0.5 0.5 1
Cl1 Cl 0.25 0.25 0.25 1
Cl2 Cl 0.75 0.25 0.25 1
Cl3 Cl 0.25 0.75 0.25 1
Cl4 Cl 0.25 0.25 0.75 1
Cl5 Cl 0.75 0.75 0.25 1
Cl6 Cl 0.75 0.25 0.75 1"""


@pytest.fixture
def real_models():
    """The models folder the library uses before a test points it elsewhere."""
    return get_settings().models_dir


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """Point SCREENING_MODELS_DIR at an empty folder (settings re-read)."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("SCREENING_MODELS_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()


CHUNK = pd.DataFrame({"candidate_id": ["a", "b"], "formula": ["Li3YCl6", "Li6PS5Cl"], "family": [None, None], "error": [None, None]})


# ------------------------------------------------------------------ parameters


def test_run_options_are_a_nested_section_and_accept_the_flat_form():
    flat = ScreenParameters(limit=5, store_path="x.duckdb", chunk_size=7, run_id="r1")
    nested = ScreenParameters(limit=5, run={"store_path": "x.duckdb", "chunk_size": 7, "run_id": "r1"})
    assert flat == nested and flat.run == RunOptions(store_path="x.duckdb", chunk_size=7, run_id="r1")
    assert "store_path" not in ScreenParameters.model_fields and "run" in ScreenParameters.model_fields
    # what is screened does not depend on how it is run
    assert pipeline.screen_spec(flat) == pipeline.screen_spec(ScreenParameters(limit=5, task_runner="dask", max_workers=1))
    assert pipeline.screen_spec(flat) != pipeline.screen_spec(ScreenParameters(limit=6))
    assert pipeline.screen_spec(flat.model_dump(mode="json")) == pipeline.screen_spec(flat)
    with pytest.raises(ValidationError, match="dask_address"):
        ScreenParameters(dask_address="tcp://h:1")
    assert flat.with_run(run_id="r2").run.run_id == "r2" and flat.with_run(run_id="r2").limit == 5


def test_library_imports_neither_prefect_nor_flows():
    import subprocess

    code = "import sys, screening.pipeline, screening.cli; print(any(m.split('.')[0] in ('prefect', 'flows') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------- models are required


def test_missing_model_is_an_error_naming_the_file_and_nothing_is_trained(models_dir):
    with pytest.raises(ModelNotFoundError, match=r"conductivity.*model\.skops.*make train"):
        pipeline.composition_tier(CHUNK)
    with pytest.warns(DeprecationWarning, match="predict_properties"), \
            pytest.raises(ModelNotFoundError, match=r"conductivity.*model\.skops.*make train"):
        pipeline.predict_conductivity(CHUNK)
    assert list(models_dir.rglob("*")) == []  # no model was trained or written by a screen


def test_predict_conductivity_is_deprecated_and_predicts_with_the_shipped_model():
    import warnings

    import screening.surrogates as surrogates

    with pytest.warns(DeprecationWarning, match="predict_conductivity is deprecated"):
        old = pipeline.predict_conductivity(CHUNK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replacement warns nothing
        new = pipeline.predict_properties(CHUNK)
    assert old["model_conductivity"].eq("conductivity").all()
    assert np.allclose(old["log10_sigma_S_cm"], new["log10_sigma_S_cm"]) and np.isfinite(old["log10_sigma_S_cm_std"]).all()
    with pytest.warns(DeprecationWarning, match="baseline"):
        baseline = surrogates.ConductivityBaseline
    assert baseline.name == "conductivity_baseline"
    with pytest.raises(AttributeError, match="no longer shipped"):
        surrogates.load_conductivity_baseline  # noqa: B018


def test_broken_model_is_an_error_naming_the_file(real_models, models_dir):
    for name in ("conductivity", "formation_energy", "shear_modulus", "bulk_modulus"):
        shutil.copytree(real_models / name, models_dir / name)
    (models_dir / "conductivity" / "model.skops").write_bytes(b"not a zip file")
    with pytest.raises(ModelNotFoundError, match=r"models/conductivity/model\.skops.*make train"):
        pipeline.composition_tier(CHUNK)


# ---------------------------------------------------------------- CIF sources


def _cif_dir(tmp_path):
    good = LI3YCL6_CIF.format(sites=GOOD_SITES)
    (tmp_path / "a.cif").write_text(good)
    (tmp_path / "b_same.cif").write_text(good)  # an identical structure in another file
    (tmp_path / "unknown.cif").write_text(LI3YCL6_CIF.format(sites=GOOD_SITES.replace("Y1 Y ", "Q1 Qq ")))
    (tmp_path / "li_only.cif").write_text(LI3YCL6_CIF.format(sites="Li1 Li 0.0 0.0 0.0 1\nLi2 Li 0.5 0.5 0.5 1"))
    (tmp_path / "negative.cif").write_text(LI3YCL6_CIF.format(sites=GOOD_SITES.replace("Y1 Y 0.5 0.5 0.5 1", "Y1 Y 0.5 0.5 0.5 -1")))
    return tmp_path


def test_every_cif_gives_a_row_and_bad_ones_an_error_naming_the_file(tmp_path):
    folder = _cif_dir(tmp_path)
    table = pipeline.cif_candidates(sorted(folder.glob("*.cif")))
    assert sorted(table["parent"]) == sorted(p.name for p in folder.glob("*.cif"))
    assert table["candidate_id"].is_unique
    by_file = table.set_index("parent")
    assert by_file.loc["a.cif", "formula"] == by_file.loc["b_same.cif", "formula"] == "Li3YCl6"
    assert by_file.loc["a.cif", "error"] is None and by_file.loc["b_same.cif", "error"] is None
    for bad in ("unknown.cif", "li_only.cif", "negative.cif"):
        assert isinstance(by_file.loc[bad, "error"], str) and bad in by_file.loc[bad, "error"], bad
    assert "Cl2" not in set(table["formula"].dropna())


def test_cif_run_keeps_every_file_through_the_family_filter(tmp_path):
    folder = _cif_dir(tmp_path)
    params = ScreenParameters(source="file", cif_glob=str(folder / "*.cif"), families=["halide"])
    frames = list(pipeline.iter_candidate_frames(params))
    table = pd.concat(frames, ignore_index=True)
    assert sorted(table["parent"]) == sorted(p.name for p in folder.glob("*.cif"))
    assert table["error"].notna().sum() == 3
    assert set(table["source"]) == {"file"}  # the parameter's value is the table's value


def test_source_cif_is_the_deprecated_name_of_file(tmp_path):
    folder = _cif_dir(tmp_path)
    with pytest.warns(DeprecationWarning, match="source='file'"):
        params = ScreenParameters(source="cif", cif_glob=str(folder / "*.cif"))
    assert params.source == "file"
    assert ScreenParameters.model_json_schema()["properties"]["source"]["enum"] == ["obelix", "enumerated", "file"]


# ------------------------------------------------------------------ cache keys


def test_chunk_key_ignores_last_bit_float_noise_but_not_values_or_fingerprint():
    frame = pd.DataFrame({"candidate_id": ["x", "y"], "formula": ["LiCl", "Li2S"], "likelihood": [0.1 + 0.2, 0.7]})
    noisy = frame.assign(likelihood=[0.3, 0.7])  # 0.1 + 0.2 != 0.3 in the last bit
    assert frame["likelihood"].iloc[0] != noisy["likelihood"].iloc[0]
    key = pipeline.chunk_key("composition", "d1", frame)
    assert key == pipeline.chunk_key("composition", "d1", noisy)
    assert key != pipeline.chunk_key("composition", "d2", frame)
    assert key != pipeline.chunk_key("composition", "d1", frame.assign(formula=["LiBr", "Li2S"]))
    assert key != pipeline.chunk_key("stability", "d1", frame)


def test_a_tier_key_covers_the_modules_the_tier_runs_and_no_other(tmp_path, monkeypatch, request):
    """Editing the store leaves a composition chunk's key unchanged; editing a descriptor it computes changes it."""
    import screening
    from screening.pipeline import cache

    package = tmp_path / "screening"
    shutil.copytree(Path(screening.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_PACKAGE", package)
    request.addfinalizer(cache.source_digest.cache_clear)  # after monkeypatch's undo: later tests hash the real package
    request.addfinalizer(cache.module_closure.cache_clear)
    frame = pd.DataFrame({"candidate_id": ["x"], "formula": ["LiCl"]})

    def keys():
        for fn in (cache.module_closure, cache.source_digest):
            fn.cache_clear()
        return (pipeline.chunk_key("composition", cache.tier_digest("composition"), frame),
                cache.source_digest("stability"), cache.source_digest())  # fmt: skip

    modules = cache.module_closure(cache.TIER_MODULES["composition"])
    assert {"screening.descriptors.composition", "screening.surrogates.predict"} <= set(modules)
    assert not {"screening.store", "screening.cli", "screening.training.conductivity"} & set(modules)
    before = keys()
    with (package / "store.py").open("a") as f:
        f.write("\n# an edit the composition tier never runs\n")
    unrelated = keys()
    assert unrelated[:2] == before[:2] and unrelated[2] != before[2]  # the whole-library digest (a run's identity) moves
    with (package / "descriptors" / "composition.py").open("a") as f:
        f.write("\n# an edit the composition tier runs\n")
    used = keys()
    assert used[0] != before[0] and used[1] != before[1]


def test_fingerprint_follows_models_and_data(tmp_path, monkeypatch, models_dir):
    base = pipeline.fingerprint_digest()
    (models_dir / "conductivity").mkdir()
    (models_dir / "conductivity" / "model.skops").write_bytes(b"v2")
    with_model = pipeline.fingerprint_digest()
    assert with_model != base
    data = tmp_path / "data"
    shutil.copytree(get_settings().data_dir, data)
    with open(data / "SHA256SUMS", "a") as sums:  # a regenerated checksum list: another dataset
        sums.write("0" * 64 + "  extra/new.csv\n")
    monkeypatch.setenv("SCREENING_DATA_DIR", str(data))
    get_settings.cache_clear()
    assert pipeline.fingerprint_digest() != with_model


# ---------------------------------------------------------------------- ranking


def test_columns_no_row_of_this_run_has_do_not_change_its_ranking():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "candidate_id": [f"c{i}" for i in range(8)], "formula": ["Li3YCl6"] * 8, "error": [None] * 8,
        "log10_sigma_S_cm": rng.normal(-4, 1, 8), "log10_sigma_S_cm_std": np.full(8, 0.5),
    })  # fmt: skip
    alone = pipeline.rank_funnel(table)
    # the same run read from a store that once held a stability run: its columns are there, empty
    widened = table.assign(window_width_V=np.nan, window_low_V=np.nan, e_hull_eV_atom=np.nan, e_rxn_li_eV_atom=np.nan)
    ranked = pipeline.rank_funnel(widened)
    assert ranked["passes_gates"].sum() == alone["passes_gates"].sum() > 0
    assert ranked.set_index("candidate_id")["rank"].equals(alone.set_index("candidate_id")["rank"])


def test_empty_run_ranks_to_an_empty_table():
    ranked = pipeline.rank_funnel(pd.DataFrame(columns=["candidate_id", "formula", "log10_sigma_S_cm"]))
    assert ranked.empty and set(pipeline.SCORE_COLUMNS) <= set(ranked.columns)


def test_an_enumerated_budget_draws_from_every_prototype():
    from screening.enumeration import load_seeds

    params = pipeline.ScreenParameters(source="enumerated", limit=300, chunk_size=100)
    frames = list(pipeline.iter_candidate_frames(params))
    table = pd.concat(frames, ignore_index=True)
    assert len(table) == 300 and table["candidate_id"].is_unique
    seeds = load_seeds()
    assert set(table["prototype"]) == {s.prototype for s in seeds}, "a budget samples every prototype, not the first seed"
    assert [len(f) for f in frames] == [len(f) for f in pipeline.iter_candidate_frames(params)]  # deterministic


def test_the_run_report_has_units_in_its_headers_and_a_legible_pareto_plot(tmp_path):
    from matplotlib.image import imread

    ranked = pd.DataFrame({
        "rank": [1, 2, 3], "formula": ["Li3YCl6", "Li6PS5Cl", "LiCl"], "family": ["halide", "sulfide", "halide"],
        "log10_sigma_S_cm": [-3.1, -2.5, -8.0], "log10_sigma_S_cm_lo80": [-5.0, -4.4, -10.0], "log10_sigma_S_cm_hi80": [-1.2, -0.6, -6.0],
        "window_width_V": [3.5, 0.5, 6.0], "window_low_V": [0.6, 1.7, 0.0], "window_high_V": [4.1, 2.2, 6.0],
        "e_hull_eV_atom": [0.02, 0.08, 0.0], "e_hull_source": ["predicted", "reference", "reference"],
        "passes_gates": [True, True, False], "pareto_rank": [1, 1, 0], "score": [0.8, 0.7, np.nan],
    })  # fmt: skip
    rows = pipeline.top_table(ranked, 10)
    assert [r["formula"] for r in rows] == ["Li3YCl6", "Li6PS5Cl"]  # only rows that passed the gates
    # the compact table of `screening top`: about ten columns, units in the headers, one format per quantity
    assert {"log10 σ (S/cm) [80% interval]", "window (V vs Li)", "e_hull (eV/atom)", "score (0-1)"} <= set(rows[0])
    assert len(rows[0]) <= 11
    assert rows[1]["e_hull (eV/atom)"] == "0.080" and rows[0]["log10 σ (S/cm) [80% interval]"] == "-3.1 [-5.0, -1.2]"
    assert rows[0]["window (V vs Li)"] == "0.60-4.10"
    png = pipeline.pareto_plot(ranked, tmp_path / "p.png")
    assert imread(png).shape[1] == 1000  # 1,000 px wide
    assert pipeline.pareto_plot(ranked.assign(passes_gates=False), tmp_path / "none.png") is None


# ------------------------------------------------------------------ tier 0 computes each feature once


def test_predictions_from_the_stored_descriptors_equal_predictions_from_scratch():
    from screening.surrogates import predict

    chunk = pd.DataFrame(
        {
            "candidate_id": list("abcdefg"),
            "formula": ["Li3YCl6", "Li6PS5Cl", "Li7La3Zr2O12", "Li1.5Al0.5Ge1.5(PO4)3", "Xx2O", "", "Li3PS4"],
        }
    )
    descriptors = pipeline.describe_compositions(chunk)
    reused = predict(chunk, stability=False, descriptors=descriptors)
    scratch = predict(chunk, stability=False)
    pd.testing.assert_frame_equal(reused, scratch)
    assert reused["log10_sigma_S_cm"].notna().sum() == 5 and reused["prototype"].iloc[2] == "garnet"
    with pytest.raises(ValueError, match="2 rows for 7 formulas"):
        predict(chunk, stability=False, descriptors=descriptors.head(2))


def test_a_formula_every_step_rejects_gets_its_reason_once():
    chunk = pd.DataFrame({"candidate_id": ["x", "y"], "formula": ["Xx2O", "LiCl"], "family": [None, None], "error": [None, None]})
    tables = pipeline.composition_tier(chunk)
    error = tables["candidates"]["error"]
    assert error.iloc[0].count("unknown element Xx") == 1 and error.iloc[1] is None


def test_a_runs_ranking_reads_every_column_use_simulated_needs():
    """use_simulated ranks the MD conductivity only where ``mlip_transport_ok``: a stored run's ranking must read it
    (it was not among the columns read, so a flow never ranked on MD transport however good the fit)."""
    from screening.pipeline.ranked import use_simulated

    wanted = set(pipeline.ranking_columns())
    assert {"mlip_transport_ok", "mlip_md_ps", "mlip_log10_sigma_S_cm", "mlip_e_hull_eV_atom"} <= wanted
    table = pd.DataFrame({"candidate_id": ["a"], "log10_sigma_S_cm": [-6.0], "mlip_log10_sigma_S_cm": [-3.0],
                          "mlip_log10_sigma_S_cm_std": [0.2], "mlip_md_ps": [20.0], "mlip_transport_ok": [True]})  # fmt: skip
    out = use_simulated(table[[c for c in table.columns if c in wanted]])
    assert out["conductivity_source"].tolist() == ["simulation"] and out["log10_sigma_S_cm"].tolist() == [-3.0]


def test_a_runs_ranking_reads_no_formula_and_the_report_gets_details_for_its_rows_only():
    assert "formula" not in pipeline.ranking_columns() and "formula" in pipeline.report_columns()
    assert not set(pipeline.ranking_columns()) & set(pipeline.report_columns())
    assert {"G_VRH_GPa", "my_filter"} <= set(pipeline.ranking_columns({"G_VRH_GPa": (1, None), "my_filter": (None, 2)}))
    # the measured conductivity only when the ranking uses it (a column more is ~30 MB at the peak of 10^6 rows)
    assert "measured_log10_sigma_S_cm" not in pipeline.ranking_columns()
    assert "measured_log10_sigma_S_cm" in pipeline.ranking_columns(measured=True)
    ranked = pd.DataFrame({"candidate_id": ["a", "b", "c"], "rank": [3, 1, 2]})
    details = pd.DataFrame({"candidate_id": ["b", "zz"], "formula": ["Li3YCl6", "LiCl"], "G_VRH_GPa": [12.5, 1.0]})
    out = pipeline.with_details(ranked, details)
    assert out["formula"].tolist() == [None, "Li3YCl6", None]
    np.testing.assert_array_equal(out["G_VRH_GPa"].to_numpy(), [np.nan, 12.5, np.nan])
