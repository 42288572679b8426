"""Cost per candidate of the structure tier, by prototype, in CPU seconds (robust to a shared machine's load).

A seeded sample of ``--n`` enumerated candidates (from a stratified screen of ``--limit``
candidates, default space) goes through the steps of :func:`screening.pipeline.structure_tier`
one at a time in this process: the structure fetch from the candidate source (one walk of the
enumeration for all of them), then per candidate :func:`screening.pipeline.structure.describe_structure`
(structural descriptors + BVSE barriers), and the structure-aware conductivity for all of them
in one call (its cost shared). CPU time is ``time.process_time`` (this process, all threads),
wall time ``time.perf_counter``; the table gives both per prototype, then the whole.

    .venv/bin/python benchmarks/bench_structure_tier.py --n 60 --limit 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60, help="candidates described")
    parser.add_argument("--limit", type=int, default=10000, help="size of the screen they are drawn from")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from screening.pipeline import ScreenParameters, candidate_structures, iter_candidate_frames
    from screening.pipeline.structure import describe_structure
    from screening.surrogates.structure import structure_conductivity

    params = ScreenParameters(source="enumerated", limit=args.limit, chunk_size=args.limit)
    frame = pd.concat(list(iter_candidate_frames(params)), ignore_index=True)
    sample = frame.sample(min(args.n, len(frame)), random_state=args.seed).reset_index(drop=True)
    w, c = time.perf_counter(), time.process_time()
    structures = candidate_structures(params, sample)
    fetch_wall, fetch_cpu = time.perf_counter() - w, time.process_time() - c
    rows, features = [], []
    for cand, structure in zip(sample.itertuples(), structures, strict=True):
        w, c = time.perf_counter(), time.process_time()
        error = None
        feats = None
        n_sites = len(structure) if not isinstance(structure, str) else 0
        try:
            if isinstance(structure, str):
                raise ValueError(structure)
            _, feats, error = describe_structure(structure)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        rows.append({"prototype": cand.prototype, "sites": n_sites, "cpu_s": time.process_time() - c,
                     "wall_s": time.perf_counter() - w, "error": error})  # fmt: skip
        features.append(feats)
    ok = [i for i, f in enumerate(features) if f is not None]
    w, c = time.perf_counter(), time.process_time()
    sigma = structure_conductivity(sample["formula"].iloc[ok].tolist(), pd.DataFrame([features[i] for i in ok]))
    model_wall, model_cpu = time.perf_counter() - w, time.process_time() - c
    table = pd.DataFrame(rows)
    print(f"{len(sample)} candidates of a {args.limit:,}-candidate enumerated screen (seed {args.seed}); "
          f"structure fetch {fetch_wall:.1f} s wall / {fetch_cpu:.1f} s CPU for all; structure-aware model "
          f"{model_wall:.2f} s wall / {model_cpu:.2f} s CPU for {len(ok)} rows "
          f"({int(sigma['structure_log10_sigma_S_cm'].notna().sum())} estimated); "
          f"{int(table['error'].notna().sum())} rows with an error or a failed BVSE\n")  # fmt: skip
    print("| prototype | candidates | sites (median) | CPU s median | CPU s max | wall s median |")
    print("|---|---:|---:|---:|---:|---:|")
    for proto, g in table.groupby("prototype", sort=True):
        print(f"| {proto} | {len(g)} | {g['sites'].median():.0f} | {g['cpu_s'].median():.2f} | {g['cpu_s'].max():.2f} | {g['wall_s'].median():.2f} |")
    per = table["cpu_s"].to_numpy()
    shared = (fetch_cpu + model_cpu) / max(len(sample), 1)
    print(f"| **all** | {len(table)} | {table['sites'].median():.0f} | {np.median(per):.2f} | {per.max():.2f} | {table['wall_s'].median():.2f} |")
    print(f"\nmean CPU s a candidate: {per.mean():.2f} (descriptors + BVSE) + {shared:.2f} (its share of the fetch and the "
          f"model) = {per.mean() + shared:.2f}; for K = 300 on one core: {300 * (per.mean() + shared) / 60:.1f} min")  # fmt: skip


if __name__ == "__main__":
    main()
