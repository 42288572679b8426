"""The bundled datasets load into tidy frames, verify their checksums and name bad files."""

import math
import shutil

import numpy as np
import pytest

from screening import datasets
from screening.config import get_settings
from screening.errors import DatasetError


def test_obelix_splits_and_columns():
    train, test, full = datasets.load_obelix("train"), datasets.load_obelix("test"), datasets.load_obelix("all")
    assert (len(train), len(test), len(full)) == (478, 121, 599)
    assert set(train["id"]).isdisjoint(test["id"])
    for col in ("formula", "log10_sigma_S_cm", "sigma_S_cm", "censored", "space_group_number", "a_A", "has_cif"):
        assert col in full
    assert full["log10_sigma_S_cm"].notna().all()
    assert full["has_cif"].sum() == 321


def test_censored_policy():
    # '<1E-10' is read as one decade below the detection limit and flagged
    assert datasets.parse_conductivity("<1E-10") == (pytest.approx(1e-11), True)
    assert datasets.parse_conductivity("1.5e-3") == (pytest.approx(1.5e-3), False)
    assert datasets.parse_conductivity(2e-4) == (pytest.approx(2e-4), False)
    value, censored = datasets.parse_conductivity("n/a")
    assert math.isnan(value) and not censored
    assert math.isnan(datasets.parse_conductivity(0.0)[0])
    full = datasets.load_obelix()
    censored = full[full["censored"]]
    assert len(censored) == 37
    assert np.allclose(censored["log10_sigma_S_cm"].min(), -11.0)


def test_obelix_structures_keep_disorder():
    df = datasets.load_obelix("test", structures=True)
    with_cif = df[df["has_cif"]]
    assert with_cif["structure"].notna().all()
    assert df["structure_error"].isna().all()
    assert any(not s.is_ordered for s in with_cif["structure"])


def test_materials_project_tables():
    gs = datasets.load_mp_ground_states()
    assert len(gs) == 85014 and set(gs["split"]) == {"train", "val", "test"}
    assert {"formation_energy_eV_atom", "decomposition_energy_eV_atom"} <= set(gs)
    assert len(datasets.load_mp_formation_energies()) == 132752
    el = datasets.load_elasticity()
    assert len(el) == 10987
    assert np.allclose(10 ** el["log10_G_VRH_GPa"], el["G_VRH_GPa"])
    assert len(datasets.load_band_gaps()) == 4604
    binaries = datasets.load_elastic_binaries()
    li2s = binaries[binaries["formula"] == "Li2S"]
    assert not li2s.empty and (li2s["G_VRH_GPa"] > 0).all()


@pytest.fixture
def copied_data(tmp_path, monkeypatch):
    """A private copy of datasets/ that a test may damage."""
    src = get_settings().data_dir
    dst = tmp_path / "datasets"
    shutil.copytree(src, dst)
    monkeypatch.setenv("SCREENING_DATA_DIR", str(dst))
    get_settings.cache_clear()
    datasets._expected_checksums.cache_clear()
    datasets._verified.clear()
    yield dst
    get_settings.cache_clear()
    datasets._expected_checksums.cache_clear()
    datasets._verified.clear()


def test_corrupted_file_is_named(copied_data):
    path = copied_data / "matbench" / "expt_gap.csv"
    path.write_text(path.read_text().replace("0", "1", 3))
    with pytest.raises(DatasetError, match="expt_gap.csv: checksum mismatch"):
        datasets.load_band_gaps()


def test_missing_file_is_named(copied_data):
    (copied_data / "obelix" / "test.csv").unlink()
    with pytest.raises(DatasetError, match="test.csv: dataset file is missing"):
        datasets.load_obelix("test")


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split='validation'"):
        datasets.load_obelix("validation")
