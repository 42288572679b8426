"""Cross-validation of the conductivity candidates on the OBELiX train split (never the test split).

    .venv/bin/python benchmarks/bench_conductivity_selection.py                 # DEFAULT_CANDIDATES, repeated CV (as `make train`)
    .venv/bin/python benchmarks/bench_conductivity_selection.py --single        # one unshuffled split
    .venv/bin/python benchmarks/bench_conductivity_selection.py --repeats 1 2 3 --test hgb_grouped_compw_iter600
        # other shuffles, and the test metrics of one candidate trained as `make train` would (after a choice, never for it)

Prints one markdown row per candidate: the out-of-fold MAE over all train rows and over the
novel-like rows (further than 0.05 L1 in atomic fractions from every row of the other folds),
averaged over the repeats, and each repeat's overall MAE; then each repeat's novel-like MAE, and
the paired comparison of every candidate with ``--reference`` (the shipped model): mean of the
per-repeat differences (reference - candidate), its standard error (ddof 1), repeats won, and the
decision rule of round 4 (benchmarks/results/models.md): the lowest mean overall MAE wins, and
replaces the reference only if its mean gain exceeds 2 standard errors and it wins >= 4 of 5
repeats (in general: all but one). Recorded in benchmarks/results/models.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from screening.surrogates.selection import (
    CV_REPEATS,
    NOVEL_L1,
    select_conductivity,
)  # fmt: skip
from screening.training.conductivity import conductivity_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", action="store_true", help="one unshuffled GroupKFold split instead of the repeats")
    parser.add_argument("--repeats", type=int, nargs="+", help="shuffle seeds of the grouped folds (default CV_REPEATS)")
    parser.add_argument("--candidates", nargs="+", help="these names of CONDUCTIVITY_CANDIDATES")
    parser.add_argument("--reference", default="hgb_lr0.05_leaves15", help="the shipped candidate of the paired comparison")
    parser.add_argument("--test", metavar="CANDIDATE", help="train this candidate on train and print its test metrics")
    args = parser.parse_args()
    names = args.candidates
    repeats = (None,) if args.single else tuple(args.repeats or CV_REPEATS)
    train = conductivity_data("train")
    best, scores = select_conductivity(train.X, train.y, train.groups, train.fractions, train.censored, NOVEL_L1,
                                       candidates=names, repeats=repeats)  # fmt: skip
    print(f"repeats: {'one unshuffled split' if args.single else repeats}; chosen: {best}\n")
    print("| candidate | CV MAE all | CV MAE novel-like | mean of the two | per repeat (all) |\n|---|---:|---:|---:|---|")
    for name, s in sorted(scores.items(), key=lambda kv: kv[1]["mae_oof"] + kv[1]["mae_oof_novel_like"]):
        mean = (s["mae_oof"] + s["mae_oof_novel_like"]) / 2
        print(f"| {name} | {s['mae_oof']:.4f} | {s['mae_oof_novel_like']:.4f} | {mean:.4f} | "
              f"{', '.join(f'{v:.4f}' for v in s['mae_oof_per_repeat'])} |")
    print("\n| candidate | novel-like MAE per repeat | novel-like rows per repeat |\n|---|---|---|")
    for name, s in sorted(scores.items(), key=lambda kv: kv[1]["mae_oof"]):
        print(f"| {name} | {', '.join(f'{v:.4f}' for v in s['mae_oof_novel_like_per_repeat'])} | "
              f"{', '.join(str(v) for v in s['novel_like_rows_per_repeat'])} |")
    if args.reference in scores and len(repeats) > 1:
        ref = np.array(scores[args.reference]["mae_oof_per_repeat"])
        print(f"\nPaired against {args.reference} (difference = reference - candidate, > 0: candidate better)\n")
        print("| candidate | mean difference | SE (ddof 1) | mean / SE | repeats won |\n|---|---:|---:|---:|---:|")
        for name, s in sorted(scores.items(), key=lambda kv: kv[1]["mae_oof"]):
            if name == args.reference:
                continue
            d = ref - np.array(s["mae_oof_per_repeat"])
            se = float(np.std(d, ddof=1) / np.sqrt(len(d)))
            print(f"| {name} | {d.mean():+.4f} | {se:.4f} | {d.mean() / se if se > 0 else float('inf'):+.2f} | {int((d > 0).sum())}/{len(d)} |")
        if best == args.reference:
            print(f"\nRule: the lowest mean overall MAE is the reference's ({best}): the reference stays.")
        else:
            d = ref - np.array(scores[best]["mae_oof_per_repeat"])
            se = float(np.std(d, ddof=1) / np.sqrt(len(d)))
            clear, wins = bool(d.mean() > 2 * se), int((d > 0).sum())
            replace = clear and wins >= len(d) - 1
            print(f"\nRule: winner {best}, mean gain {d.mean():.4f} {'>' if clear else '<='} 2 SE = {2 * se:.4f}, "
                  f"wins {wins}/{len(d)} (needs {len(d) - 1}): {'REPLACES' if replace else 'does not replace'} {args.reference}.")
    if args.test:
        from screening.training.retrain import train_conductivity

        card = train_conductivity(save=False, candidates=[args.test]).card
        print(f"\n{args.test} on the test split: MAE {card['metrics_test']['mae']:.4f}, novel "
              f"{card['metrics_test_novel']['mae']:.4f}, coverage80 {card['metrics_test']['coverage80']:.4f}")


if __name__ == "__main__":
    main()
