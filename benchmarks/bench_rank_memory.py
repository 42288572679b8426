"""Peak memory of ranking a 10^6-row run, on a synthetic store (random predictions, the stability tier on 2000 rows).

First call writes the store, second call ranks it (run_table of the ranking columns, use_simulated, rank_funnel)
and prints the peak resident memory:

    .venv/bin/python benchmarks/bench_rank_memory.py 1000000 /tmp/big.duckdb   # writes the store
    .venv/bin/python benchmarks/bench_rank_memory.py 1000000 /tmp/big.duckdb   # ranks it

Random objectives are the worst case of the non-dominated sort, so the time is pessimistic.
"""

import os
import resource
import sys
import time

import numpy as np
import pandas as pd

from screening import pipeline
from screening.pipeline import ScreenParameters
from screening.store import ResultStore

n, path = int(sys.argv[1]), sys.argv[2]
if not os.path.exists(path):
    rng = np.random.default_rng(0)
    store = ResultStore(path)
    ids = np.array([f"halide-Li3YCl6-{i:012x}" for i in range(n)], dtype=object)
    cand = pd.DataFrame({"candidate_id": ids, "formula": [f"Li2.75Y0.{i%97}Zr0.25Cl6" for i in range(n)], "family": "halide",
        "source": "enumerated", "prototype": "Li3YCl6-P-3m1", "parent": "Li3YCl6",
        "substitutions": '[{"host": "Y3+", "dopant": "Zr4+", "fraction": 0.25}]', "measured_log10_sigma_S_cm": np.nan, "error": None})
    pred = pd.DataFrame({"candidate_id": ids, **{c: rng.normal(size=n) for c in ["log10_sigma_S_cm","log10_sigma_S_cm_std","log10_sigma_S_cm_lo80","log10_sigma_S_cm_hi80",
        "formation_energy_eV_atom","formation_energy_eV_atom_std","formation_energy_eV_atom_lo80","formation_energy_eV_atom_hi80","G_VRH_GPa","K_VRH_GPa",
        "G_VRH_GPa_lo80","G_VRH_GPa_hi80","K_VRH_GPa_lo80","K_VRH_GPa_hi80","K_IC_MPa_m05","K_IC_MPa_m05_std","pugh_ratio","G_over_G_Li","volume_per_atom_A3",
        "conductivity_train_distance","cost_usd_per_kg"]}, "model_conductivity": "conductivity", "e_hull_model": "x"})
    pred["cost_usd_per_kg"] = np.abs(pred["cost_usd_per_kg"]) + 1
    store.start_run({}, run_id="big")
    for s in range(0, n, 200000):
        store.write_many("big", {"candidates": cand.iloc[s:s+200000], "predictions": pred.iloc[s:s+200000]}, replace=False)
    best = pred.head(2000)[["candidate_id"]].assign(e_hull_eV_atom=0.01, window_low_V=0.5, window_high_V=4.0, window_width_V=3.5, e_rxn_li_eV_atom=-0.1, e_rxn_h2o_eV_atom=-0.2, e_hull_source="predicted", window_source="predicted")
    store.write("stability", "big", best)
    del cand, pred
    print("written", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, flush=True)
    sys.exit()
store = ResultStore(path)
from screening.pipeline import ScreenRun

t = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024
ranked = ScreenRun(ScreenParameters(), store, "big").rank()
print("rank s", time.perf_counter()-t, "maxrss MiB before", r0, "after", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, "passed", int(ranked.passes_gates.sum()), (ranked.pareto_rank>0).sum())
t = time.perf_counter()
store.write("scores", "big", pipeline.score_table(ranked))
print("scores write s", time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)
