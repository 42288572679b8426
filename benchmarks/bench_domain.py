"""Cost of the applicability-domain columns on enumerated candidates (what tier 0 pays a chunk).

Times ``Surrogate.train_distance`` of the conductivity, formation-energy and shear-modulus
models (the moduli share one training set) on 10,000 candidates of the ``large`` enumeration
space (every 25th of the first 250,000), one thread, first call (builds the domain index) and
the median of three more; and, for the conductivity model, the per-row loop it replaced
(``np.abs(ref - row).sum(axis=1).min()`` for each row), checking both give the same numbers.

    python benchmarks/bench_domain.py
"""

from __future__ import annotations

import itertools
import platform
import time
import warnings
from datetime import date

import numpy as np
from threadpoolctl import threadpool_limits

from screening.chemistry import ELEMENTS
from screening.enumeration import enumerate_candidates
from screening.surrogates.features import feature_table
from screening.surrogates.persistence import load_model


def timed(fn, *args) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    warnings.simplefilter("ignore")
    formulas = [c.formula for c in itertools.islice(enumerate_candidates(options="large"), 0, 250_000, 25)][:10_000]
    X, _, _ = feature_table(formulas, "basic")
    fractions = X[[f"frac_{s}" for s in ELEMENTS]].to_numpy(float)
    print(f"- date {date.today()}, {platform.machine()}, Python {platform.python_version()}; "
          f"`python benchmarks/bench_domain.py`; {len(formulas)} large-space candidates\n")  # fmt: skip
    print("| model | first call (s) | again, median of 3 (s) |\n|---|---:|---:|")
    with threadpool_limits(limits=1):
        for name in ("conductivity", "formation_energy", "shear_modulus"):
            model = load_model(name)
            first, _ = timed(model.train_distance, fractions)
            again = sorted(timed(model.train_distance, fractions)[0] for _ in range(3))[1]
            print(f"| {name} | {first:.2f} | {again:.2f} |")
        model = load_model("conductivity")
        ref = np.asarray(model.train_fractions, float)
        loop, expected = timed(lambda: np.array([np.abs(ref - row).sum(axis=1).min() for row in fractions]))
        got = model.train_distance(fractions)
    ok = np.isfinite(expected)
    print(f"\nThe per-row loop the conductivity distance replaced: {loop:.2f} s; largest difference "
          f"{np.max(np.abs(got[ok] - expected[ok])):.1e}")


if __name__ == "__main__":
    main()
