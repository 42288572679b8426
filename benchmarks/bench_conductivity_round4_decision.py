"""Why round 4's CV winner is not shipped: its prediction cost and its paired test difference.

Fits the shipped conductivity candidate and round 4's winner exactly as
``screening.training.conductivity.train_conductivity`` does (``fit_conductivity``: normalised
CV+ conformal on the OBELiX train rows, grouped by chemical system), then measures

- ``predict_interval`` time on 10,000 enumerated candidates (median of 3, one thread), what
  tier 0 of a screen pays for each model;
- the paired difference of absolute errors on the official test split, with a bootstrap 95 %
  interval (the test split was already seen when this was run: this is a record, not a choice).

    python benchmarks/bench_conductivity_round4_decision.py
"""

from __future__ import annotations

import itertools
import platform
import time
import warnings
from datetime import date

import numpy as np
from threadpoolctl import threadpool_limits

from screening.enumeration import enumerate_candidates
from screening.surrogates import feature_table
from screening.training.conductivity import conductivity_data, fit_conductivity

MODELS = ("hgb_lr0.05_leaves15", "hgb_seeds10_mf0.5")


def main() -> None:
    warnings.simplefilter("ignore")
    train, test = conductivity_data("train"), conductivity_data("test")
    formulas = [c.formula for c in itertools.islice(enumerate_candidates(), 0, 100_000, 10)][:10_000]
    Xc, _, s_c = feature_table(formulas, "conductivity")
    ok_c = np.isfinite(Xc.to_numpy(float)).all(axis=1)
    errors, seconds = {}, {}
    with threadpool_limits(limits=1):
        for name in MODELS:
            reg = fit_conductivity(name, train)
            errors[name] = np.abs(reg.predict(test.X) - test.y)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                reg.predict_interval(Xc.to_numpy(float)[ok_c], s_c[ok_c])
                times.append(time.perf_counter() - t)
            seconds[name] = float(np.median(times))
    old, new = MODELS
    d = errors[new] - errors[old]
    rng = np.random.default_rng(0)
    boots = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(5000)]
    print(f"- date {date.today()}, {platform.machine()}, Python {platform.python_version()}; "
          "`python benchmarks/bench_conductivity_round4_decision.py`\n")  # fmt: skip
    print("| model | predict_interval, 10,000 enumerated candidates (s, 1 thread) | test MAE |")
    print("|---|---:|---:|")
    for name in MODELS:
        print(f"| {name} | {seconds[name]:.2f} | {errors[name].mean():.4f} |")
    lo, hi = np.percentile(boots, [2.5, 97.5])
    print(f"\nPaired test difference (new - old) of absolute errors over {len(d)} rows: {d.mean():+.4f} "
          f"(SE {d.std(ddof=1) / np.sqrt(len(d)):.4f}, bootstrap 95 % interval {lo:+.3f} to {hi:+.3f}); "
          f"the new model is closer on {np.mean(d < 0):.0%} of the rows.")  # fmt: skip


if __name__ == "__main__":
    main()
