"""Round 5 of the conductivity model selection: composition + cell (pre-registered in benchmarks/results/models.md).

The shipped estimator (``hgb_lr0.05_leaves15``) on the 258 composition features plus the cell
features of :mod:`screening.surrogates.cell` (computed from OBELiX's space group, lattice
parameters and Z x the reduced formula), against the shipped composition-only model:

- grouped 5-fold CV on the usable train rows (groups = chemical system), repeats 0-9, all models
  on the same folds; overall and novel-like OOF MAE per repeat;
- noise check: the fold models also predict their held-out fold with the volumetric block
  perturbed (volume factor and anisotropy factor 1 + N(0, 0.05), ``default_rng(1000 + repeat)``);
- prediction cost: ``predict_interval`` of the model fitted as ``fit_conductivity`` does, on
  10,000 enumerated candidates (every 10th of the first 100,000), cell features from each
  candidate's seed cell included, median of 3, one thread;
- the pre-registered decision rule. The test split is read only with ``--test NAME`` (to be run
  only for a candidate the rule picked).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_conductivity_round5.py > benchmarks/results/conductivity_round5_cv.txt
    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_conductivity_round5.py --test NAME   # only if the rule picked NAME
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
import warnings
from datetime import date

import numpy as np
from pymatgen.core import Composition
from threadpoolctl import threadpool_limits

from screening.surrogates.cell import SYMMETRY_FEATURES, VOLUMETRIC_FEATURES, cell_counts, cell_feature_matrix
from screening.surrogates.conformal import ConformalRegressor, fit_weighted
from screening.surrogates.selection import CONDUCTIVITY_CANDIDATES, NOVEL_L1, _splits, novel_like, sample_weights
from screening.training.common import COVERAGE, SEED
from screening.training.conductivity import ConductivityData, conductivity_data

REFERENCE = "hgb_lr0.05_leaves15"
#: candidate: (symmetry block, volumetric block)
CANDIDATES = {"hgb_cell_sym": (True, False), "hgb_cell_vol": (False, True), "hgb_cell_all": (True, True)}
REPEATS = tuple(range(10))
NOISE_SD = 0.05
NS, NV = len(SYMMETRY_FEATURES), len(VOLUMETRIC_FEATURES)
LATTICE = ["a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg"]


def obelix_cells(data: ConductivityData) -> np.ndarray:
    """Cell features of the usable rows: the OBELiX cell, atoms counted as Z x the reduced formula."""
    t = data.table[data.ok]
    counts = np.array([cell_counts(Composition(f) * int(z)) for f, z in zip(t["formula"], t["Z"], strict=True)])
    return cell_feature_matrix(t["space_group_number"].to_numpy(), t[LATTICE].to_numpy(float), *counts.T)


def augment(X: np.ndarray, cell: np.ndarray, name: str) -> np.ndarray:
    sym, vol = CANDIDATES[name]
    return np.hstack([X] + ([cell[:, :NS]] if sym else []) + ([cell[:, NS:]] if vol else []))


def perturb(cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The volumetric block as a seed-derived cell might give it: volume x (1 + e_V), anisotropy x (1 + e_A)."""
    out = cell.copy()
    fv = 1 + rng.normal(0, NOISE_SD, len(cell))
    fa = 1 + rng.normal(0, NOISE_SD, len(cell))
    v0 = NS
    out[:, v0] *= fv  # volume per atom
    out[:, v0 + 1] /= fv  # Li density
    out[:, v0 + 2] = np.where(out[:, v0 + 2] > 0, out[:, v0 + 2] * fv, out[:, v0 + 2])  # volume per anion (-1: none)
    out[:, v0 + 3] = np.maximum(out[:, v0 + 3] * fa, 1.0)
    return out


def run_cv(data: ConductivityData, cell: np.ndarray, repeats=REPEATS) -> dict:
    make, per_comp, cens_w = CONDUCTIVITY_CANDIDATES[REFERENCE]
    weights = sample_weights(data.fractions, data.censored, per_comp, cens_w)
    X, y, groups = data.X, data.y, data.groups
    names = [REFERENCE, *CANDIDATES]
    mats = {REFERENCE: X, **{n: augment(X, cell, n) for n in CANDIDATES}}
    res = {n: {"all": [], "novel": [], "all_noisy": [], "novel_noisy": []} for n in names}
    res["novel_like_rows"] = []
    for r in repeats:
        t0 = time.perf_counter()
        novel = novel_like(data.fractions, groups, NOVEL_L1, repeat=r)
        noisy_cell = perturb(cell, np.random.default_rng(1000 + r))
        noisy = {n: augment(X, noisy_cell, n) for n in CANDIDATES if CANDIDATES[n][1]}
        oof = {n: np.full(len(y), np.nan) for n in names}
        oof_noisy = {n: np.full(len(y), np.nan) for n in noisy}
        for tr, te in _splits(groups, r):
            for n in names:
                est = fit_weighted(make(), mats[n][tr], y[tr], None if weights is None else weights[tr])
                oof[n][te] = est.predict(mats[n][te])
                if n in noisy:
                    oof_noisy[n][te] = est.predict(noisy[n][te])
        for n in names:
            err = np.abs(oof[n] - y)
            res[n]["all"].append(float(err.mean()))
            res[n]["novel"].append(float(err[novel].mean()))
            if n in oof_noisy:
                e2 = np.abs(oof_noisy[n] - y)
                res[n]["all_noisy"].append(float(e2.mean()))
                res[n]["novel_noisy"].append(float(e2[novel].mean()))
        res["novel_like_rows"].append(int(novel.sum()))
        print(f"<!-- repeat {r}: {time.perf_counter() - t0:.0f} s; " + ", ".join(f"{n} {res[n]['all'][-1]:.4f}" for n in names) + " -->", flush=True)
    return res


def paired(ref: list[float], cand: list[float]) -> tuple[float, float, int]:
    d = np.array(ref) - np.array(cand)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), int((d > 0).sum())


def _fit_conformal(X: np.ndarray, data: ConductivityData) -> ConformalRegressor:
    """As ``fit_conductivity`` fits the shipped candidate, on the matrix ``X`` (usable train rows)."""
    make, per_comp, cens_w = CONDUCTIVITY_CANDIDATES[REFERENCE]
    reg = ConformalRegressor(make(), coverage=COVERAGE, calibration=5, random_state=SEED, adaptive=True)
    weights = sample_weights(data.fractions, data.censored, per_comp, cens_w)
    return reg.fit(X, data.y, groups=data.groups, strata=data.strata[data.ok], sample_weight=weights)


def seed_cells() -> dict[str, tuple[int, np.ndarray, int]]:
    """``{prototype: (space-group number, a..gamma, Z)}`` of the seeds (Z = seed atoms / formula atoms, rounded)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from screening.enumeration.seeds import load_seeds

    out = {}
    for s in load_seeds():
        st = s.structure
        sg = SpacegroupAnalyzer(st, symprec=0.1).get_space_group_number()
        z = max(1, round(st.composition.num_atoms / Composition(s.formula).num_atoms))
        out[s.prototype] = (sg, np.array([*st.lattice.abc, *st.lattice.angles]), z)
    return out


def cost(data: ConductivityData, cell: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """Seconds per 10,000 enumerated candidates (median of 3, one thread): cell features + predict_interval."""
    from screening.enumeration import enumerate_candidates
    from screening.surrogates import feature_table

    cands = list(itertools.islice(enumerate_candidates(), 0, 100_000, 10))[:10_000]
    Xc, _, s_c = feature_table([c.formula for c in cands], "conductivity")
    ok = np.isfinite(Xc.to_numpy(float)).all(axis=1)
    cands = [c for c, k in zip(cands, ok, strict=True) if k]
    Xc, s_c = Xc.to_numpy(float)[ok], s_c[ok]
    seeds = seed_cells()
    out = {}
    with threadpool_limits(limits=1):
        for name in names:
            reg = _fit_conformal(data.X if name == REFERENCE else augment(data.X, cell, name), data)
            feat, pred = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                if name == REFERENCE:
                    Xn = Xc
                else:
                    cs = [seeds[c.prototype] for c in cands]
                    counts = np.array([cell_counts(Composition(c.formula) * z) for c, (_, _, z) in zip(cands, cs, strict=True)])
                    cc = cell_feature_matrix([sg for sg, _, _ in cs], np.array([lat for _, lat, _ in cs]), *counts.T)
                    Xn = augment(Xc, cc, name)
                t1 = time.perf_counter()
                reg.predict_interval(Xn, s_c)
                t2 = time.perf_counter()
                feat.append(t1 - t0)
                pred.append(t2 - t1)
            total = [f + p for f, p in zip(feat, pred, strict=True)]
            out[name] = {"rows": len(cands), "cell_features_s": float(np.median(feat)), "predict_interval_s": float(np.median(pred)),
                         "total_s": float(np.median(total))}  # fmt: skip
            print(f"<!-- cost {name}: {out[name]} -->", flush=True)
    return out


def decide(res: dict, costs: dict) -> tuple[str | None, dict]:
    ref = res[REFERENCE]
    checks = {}
    for n in CANDIDATES:
        m, se, wins = paired(ref["all"], res[n]["all"])
        c = {"gain": m, "se": se, "wins": wins, "1_gain_gt_2se": m > 2 * se, "2_wins_ge_8": wins >= 8,
             "3_novel_not_worse": float(np.mean(res[n]["novel"])) <= float(np.mean(ref["novel"]))}  # fmt: skip
        if CANDIDATES[n][1]:
            mn, sen, wn = paired(ref["all"], res[n]["all_noisy"])
            c.update(noisy_gain=mn, noisy_se=sen, noisy_wins=wn, **{"4_noise_kept": bool(mn > 2 * sen and wn >= 8)})
        else:
            c["4_noise_kept"] = True  # no volumetric block: nothing to perturb
        c["cost_ratio"] = costs[n]["total_s"] / costs[REFERENCE]["total_s"]
        c["5_cost_le_1.5x"] = c["cost_ratio"] <= 1.5
        c["eligible"] = all(v for k, v in c.items() if k[0].isdigit())
        checks[n] = c
    eligible = [n for n in CANDIDATES if checks[n]["eligible"]]
    pick = min(eligible, key=lambda n: np.mean(res[n]["all"])) if eligible else None
    return pick, checks


def report(res: dict, costs: dict, pick: str | None, checks: dict) -> None:
    names = [REFERENCE, *CANDIDATES]
    f4 = lambda v: ", ".join(f"{x:.4f}" for x in v)  # noqa: E731
    print(f"- date {date.today()}, {platform.machine()}, Python {platform.python_version()}; repeats {list(REPEATS)}; "
          f"`PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_conductivity_round5.py`\n")  # fmt: skip
    print("| model | CV MAE all | CV MAE novel-like | per repeat (all) |")
    print("|---|---:|---:|---|")
    for n in sorted(names, key=lambda n: np.mean(res[n]["all"])):
        print(f"| {n} | {np.mean(res[n]['all']):.4f} | {np.mean(res[n]['novel']):.4f} | {f4(res[n]['all'])} |")
    print(f"\nNovel-like rows per repeat: {res['novel_like_rows']}\n")
    print("| model | novel-like MAE per repeat |")
    print("|---|---|")
    for n in names:
        print(f"| {n} | {f4(res[n]['novel'])} |")
    print("\nNoise check (held-out volumetric block x (1 + N(0, 0.05))):\n")
    print("| model | CV MAE all, noisy | CV MAE novel-like, noisy | per repeat (all, noisy) |")
    print("|---|---:|---:|---|")
    for n in CANDIDATES:
        if CANDIDATES[n][1]:
            print(f"| {n} | {np.mean(res[n]['all_noisy']):.4f} | {np.mean(res[n]['novel_noisy']):.4f} | {f4(res[n]['all_noisy'])} |")
    print(f"\nPaired against {REFERENCE} (difference = reference - candidate, > 0: candidate better), and the rule:\n")
    print("| candidate | mean gain | SE | gain / SE | wins | novel-like not worse | noisy gain (SE, wins) | cost s / 10k (ratio) | eligible |")
    print("|---|---:|---:|---:|---:|---|---|---|---|")
    for n, c in checks.items():
        noisy = f"{c['noisy_gain']:+.4f} ({c['noisy_se']:.4f}, {c['noisy_wins']}/10)" if "noisy_gain" in c else "n/a"
        print(f"| {n} | {c['gain']:+.4f} | {c['se']:.4f} | {c['gain'] / c['se']:+.2f} | {c['wins']}/10 | {c['3_novel_not_worse']} | "
              f"{noisy} | {costs[n]['total_s']:.2f} ({c['cost_ratio']:.2f}x) | {c['eligible']} |")  # fmt: skip
    print(f"\nCost per 10,000 enumerated candidates ({costs[REFERENCE]['rows']} usable), median of 3, one thread:\n")
    print("| model | cell features (s) | predict_interval (s) | total (s) |")
    print("|---|---:|---:|---:|")
    for n in names:
        c = costs[n]
        print(f"| {n} | {c['cell_features_s']:.3f} | {c['predict_interval_s']:.3f} | {c['total_s']:.3f} |")
    print(f"\nRule: {'picked ' + pick if pick else 'no candidate eligible: the shipped model stays, the test split is not touched'}.")


def test_metrics(name: str, data: ConductivityData, cell: np.ndarray) -> None:
    """Once, for the candidate the rule picked: official test metrics (cells of the test rows as measured)."""
    from screening.surrogates.selection import novel_rows, regression_metrics, subset_metrics

    test = conductivity_data("test")
    reg = _fit_conformal(augment(data.X, cell, name), data)
    mean, lo, hi = reg.predict_interval(augment(test.X, obelix_cells(test), name), test.strata[test.ok])
    out = regression_metrics(test.y, mean, lo, hi)
    out.update(subset_metrics(test.y, mean, lo, hi, test.strata[test.ok], novel_rows(data.features[data.ok], test.features[test.ok])))
    print(json.dumps({name: out}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test", metavar="NAME", choices=list(CANDIDATES), help="test metrics of NAME (only after the rule picked it)")
    ap.add_argument("--json", default="benchmarks/results/conductivity_round5_cv.json", help="per-repeat numbers written here")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    data = conductivity_data("train")
    cell = obelix_cells(data)
    if args.test:
        test_metrics(args.test, data, cell)
        return
    with threadpool_limits(limits=1):
        res = run_cv(data, cell)
    costs = cost(data, cell, [REFERENCE, *CANDIDATES])
    pick, checks = decide(res, costs)
    with open(args.json, "w") as fh:
        json.dump({"cv": res, "costs": costs, "checks": checks, "pick": pick}, fh, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    report(res, costs, pick, checks)


if __name__ == "__main__":
    main()
