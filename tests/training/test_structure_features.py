"""The cached structure features of the OBELiX CIFs (datasets/derived/obelix_structure_features.csv)."""

import numpy as np

from screening.datasets import obelix_cif_ids
from screening.surrogates.features import structural_feature_labels
from screening.training.structure_features import compute_obelix_structure_features, obelix_structure_features


def test_cache_covers_every_cif_with_the_model_columns():
    table = obelix_structure_features()
    assert sorted(table.index) == obelix_cif_ids()
    assert list(table.columns) == [*structural_feature_labels(bvse=True), "error"]
    failed = table["error"].notna()
    assert failed.sum() < 20 and table.loc[failed, "struct_li_cn_mean"].isna().all()  # a failed row says why, no numbers
    assert np.isfinite(table.loc[~failed, "struct_volume_per_atom_A3"]).all()


def test_cache_matches_a_recomputation():
    ids = ["019", "5tl"]  # a NASICON with its numbers, a Li-free titanate with its error
    fresh = compute_obelix_structure_features(ids).set_index("id")
    cached = obelix_structure_features().loc[ids]
    num = [c for c in fresh.columns if c != "error"]
    np.testing.assert_allclose(fresh[num].to_numpy(float), cached[num].to_numpy(float), rtol=1e-5, equal_nan=True)
    assert fresh.loc["5tl", "error"] == cached.loc["5tl", "error"] and "NoLithiumError" in cached.loc["5tl", "error"]
