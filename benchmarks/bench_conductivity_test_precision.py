"""How precisely the OBELiX test split measures the shipped conductivity model's MAE.

Loads ``models/conductivity`` as shipped, predicts the official test split and prints its
MAE on all test rows and on the novel compositions (further than ``NOVEL_L1`` from every
train row), each with two bootstrap 95 % intervals (5,000 resamples, seed 0):

- rows drawn independently;
- whole chemical systems drawn (cluster bootstrap): rows of one system (LGPS variants,
  LLTO of several Li contents ...) are not independent, so this is the honest interval.

It uses the test split only to describe the uncertainty of a number already published in the
model card; nothing is chosen with it.

It then prints the noise floor of composition-only prediction: over the OBELiX rows (train and
test, uncensored) whose fractional composition was measured more than once, the pooled
within-composition standard deviation of log10 sigma, and the MAE of predicting each
measurement by the mean of the other measurements of the same composition (what a perfect
composition-only model would score on those rows).

    python benchmarks/bench_conductivity_test_precision.py
"""

from __future__ import annotations

import platform
from datetime import date

import numpy as np

from screening.surrogates import load_model
from screening.surrogates.domain import NOVEL_L1, nearest_l1
from screening.training.conductivity import conductivity_data, repeat_scatter

RESAMPLES = 5000


def bootstrap_mae(errors: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % intervals of the mean of ``errors``: rows resampled, and whole groups resampled."""
    rows = [errors[rng.integers(0, len(errors), len(errors))].mean() for _ in range(RESAMPLES)]
    names, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=errors)
    counts = np.bincount(inverse)
    clusters = []
    for _ in range(RESAMPLES):
        pick = rng.integers(0, len(names), len(names))
        clusters.append(sums[pick].sum() / counts[pick].sum())
    row_ci = tuple(float(v) for v in np.percentile(rows, [2.5, 97.5]))
    cluster_ci = tuple(float(v) for v in np.percentile(clusters, [2.5, 97.5]))
    return row_ci, cluster_ci  # type: ignore[return-value]


def main() -> None:
    train, test = conductivity_data("train"), conductivity_data("test")
    model = load_model("conductivity")
    errors = np.abs(model.regressor.predict(test.X) - test.y)
    novel = nearest_l1(train.fractions, test.fractions) > NOVEL_L1
    rng = np.random.default_rng(0)
    print(f"- date {date.today()}, {platform.machine()}, Python {platform.python_version()}; "
          "`python benchmarks/bench_conductivity_test_precision.py`\n")  # fmt: skip
    print("| subset | rows | chemical systems | MAE | 95 % interval (rows) | 95 % interval (chemical systems) |")
    print("|---|---:|---:|---:|---|---|")
    for label, mask in (("official test", np.ones(len(errors), bool)), (f"novel (> {NOVEL_L1} L1)", novel)):
        (rlo, rhi), (clo, chi) = bootstrap_mae(errors[mask], test.groups[mask], rng)
        print(f"| {label} | {mask.sum()} | {len(set(test.groups[mask]))} | {errors[mask].mean():.3f} | "
              f"{rlo:.3f} to {rhi:.3f} | {clo:.3f} to {chi:.3f} |")  # fmt: skip
    s = repeat_scatter(train, test)
    print(f"\nRepeated measurements: {s['compositions']} fractional compositions measured more than once ({s['rows']} "
          f"rows): pooled within-composition std {s['pooled_std']:.3f} log10 units; predicting each measurement by the mean of "
          f"the others: MAE {s['loo_mae']:.3f} (median {s['loo_median']:.3f}).")  # fmt: skip


if __name__ == "__main__":
    main()
