"""Cross-validation of the conductivity candidates on the OBELiX train split (never the test split).

    .venv/bin/python benchmarks/bench_conductivity_selection.py                 # DEFAULT_CANDIDATES, repeated CV (as `make train`)
    .venv/bin/python benchmarks/bench_conductivity_selection.py --all --single  # all 23 candidates, one unshuffled split
    .venv/bin/python benchmarks/bench_conductivity_selection.py --repeats 1 2 3 --test hgb_grouped_compw_iter600
        # other shuffles, and the test metrics of one candidate trained as `make train` would (after a choice, never for it)

Prints one markdown row per candidate: the out-of-fold MAE over all train rows and over the
novel-like rows (further than 0.05 L1 in atomic fractions from every row of the other folds),
averaged over the repeats, and each repeat's overall MAE. Recorded in benchmarks/results/models.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from screening.datasets import load_obelix
from screening.surrogates.features import feature_table
from screening.surrogates.selection import CONDUCTIVITY_CANDIDATES, CV_REPEATS, NOVEL_L1, chemical_system, select_conductivity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--all", action="store_true", help="every candidate of CONDUCTIVITY_CANDIDATES")
    parser.add_argument("--single", action="store_true", help="one unshuffled GroupKFold split instead of the repeats")
    parser.add_argument("--repeats", type=int, nargs="+", help="shuffle seeds of the grouped folds (default CV_REPEATS)")
    parser.add_argument("--test", metavar="CANDIDATE", help="train this candidate on train and print its test metrics")
    args = parser.parse_args()
    train = load_obelix("train")
    X, _, _ = feature_table(train["formula"].tolist(), "conductivity")
    y = train["log10_sigma_S_cm"].to_numpy(float)
    ok = np.isfinite(X.to_numpy(float)).all(axis=1) & np.isfinite(y)
    fractions = X[[c for c in X.columns if c.startswith("frac_")]].to_numpy(float)[ok]
    groups = np.array([chemical_system(f) for f in train["formula"][ok]])
    best, scores = select_conductivity(
        X.to_numpy(float)[ok], y[ok], groups, fractions, train["censored"].to_numpy(bool)[ok], NOVEL_L1,
        candidates=list(CONDUCTIVITY_CANDIDATES) if args.all else None, repeats=(None,) if args.single else tuple(args.repeats or CV_REPEATS),
    )
    print(f"repeats: {'one unshuffled split' if args.single else CV_REPEATS}; chosen: {best}\n")
    print("| candidate | CV MAE all | CV MAE novel-like | mean of the two | per repeat (all) |\n|---|---:|---:|---:|---|")
    for name, s in sorted(scores.items(), key=lambda kv: kv[1]["mae_oof"] + kv[1]["mae_oof_novel_like"]):
        mean = (s["mae_oof"] + s["mae_oof_novel_like"]) / 2
        print(f"| {name} | {s['mae_oof']:.4f} | {s['mae_oof_novel_like']:.4f} | {mean:.4f} | "
              f"{', '.join(f'{v:.4f}' for v in s['mae_oof_per_repeat'])} |")
    if args.test:
        from screening.train import train_conductivity

        card = train_conductivity(save=False, candidates=[args.test]).card
        print(f"\n{args.test} on the test split: MAE {card['metrics_test']['mae']:.4f}, novel "
              f"{card['metrics_test_novel']['mae']:.4f}, coverage80 {card['metrics_test']['coverage80']:.4f}")


if __name__ == "__main__":
    main()
