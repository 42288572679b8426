"""Leave-one-family-out (LOFO) benchmark of the conductivity models (issue 23), train + test rows of OBELiX.

For every OBELiX family (its own ``Family`` label, :func:`~screening.training.lofo.normalise_family`)
with >= 9 rows with structure features, over all usable rows of both splits: the family is held
out, the models are fitted on every other row, and the family's rows are predicted:

- ``median``: the median of the training rows (interval: their 10 % and 90 % quantiles);
- ``composition``: the shipped composition learner as ``fit_conductivity`` fits it
  (``hgb_lr0.05_leaves15``, adaptive conformal, chemical-system calibration folds), scored on the
  family's structure rows and, separately, on all its rows;
- ``structure``: the shipped structure-aware model (``STRUCTURE_CANDIDATE`` of
  :mod:`screening.training.conductivity`, family-grouped conformal), on the structure rows.

Per family: MAE, Spearman within the family, 80 % coverage; pooled: row-weighted MAE, mean
Spearman, coverage. Then the official split (train -> the test rows with structure features,
and its novel subset) for the structure model against the composition model on the same rows.
The test split chooses nothing here: the model is fixed before this script runs.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_conductivity_lofo.py > benchmarks/results/conductivity_lofo.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from screening.surrogates.conformal import ConformalRegressor
from screening.surrogates.domain import NOVEL_L1, nearest_l1
from screening.surrogates.physics import N_COMP, StructureConductivityModel, composition_estimator
from screening.training.common import COVERAGE, SEED
from screening.training.conductivity import STRUCTURE_CANDIDATE
from screening.training.lofo import FamilyData, family_data, spearman

MIN_ROWS = 9


def shipped_composition(d: FamilyData) -> ConformalRegressor:
    """The composition learner fitted as ``fit_conductivity("hgb_lr0.05_leaves15", ...)`` fits it."""
    reg = ConformalRegressor(composition_estimator(), coverage=COVERAGE, calibration=5, random_state=SEED, adaptive=True)
    return reg.fit(d.X[:, :N_COMP], d.y, groups=d.groups, strata=d.strata)


def structure_model(d: FamilyData, candidate: str) -> StructureConductivityModel:
    return StructureConductivityModel(candidate).fit(d.X, d.y, d.groups, d.families, d.strata)


def metrics(y, mean, lo, hi) -> dict:
    return {"rows": int(len(y)), "mae": float(np.mean(np.abs(mean - y))), "spearman": spearman(mean, y),
            "coverage80": float(np.mean((y >= lo) & (y <= hi)))}  # fmt: skip


def lofo_families(d: FamilyData) -> list[str]:
    s = d.structure
    return sorted({f for f in d.families[s] if (d.families[s] == f).sum() >= MIN_ROWS and f != "unknown"})  # no label: no family


def lofo_family(d: FamilyData, fam: str, candidate: str | None) -> dict:
    """One held-out family: the median and the composition learner (``candidate`` None), or the structure model."""
    s = d.structure
    held = d.families == fam
    tr = d.rows(~held)
    Xa, ya, st, ss = d.X[held], d.y[held], d.strata[held], s[held]
    if candidate is not None:
        return {"structure": metrics(ya[ss], *structure_model(tr, candidate).predict_interval(Xa[ss], st[ss]))}
    ys = ya[ss]
    base = float(np.median(tr.y))
    q10, q90 = np.quantile(tr.y, [0.1, 0.9])
    row = {"median": metrics(ys, np.full(len(ys), base), np.full(len(ys), q10), np.full(len(ys), q90))}
    m, lo, hi = shipped_composition(tr).predict_interval(Xa[:, :N_COMP], st)
    row["composition_all_rows"] = metrics(ya, m, lo, hi)
    row["composition"] = metrics(ya[ss], m[ss], lo[ss], hi[ss])
    return row


def _part(parts: Path, candidate: str, name: str, compute) -> dict:
    """One family's (or the official split's) numbers, computed once and kept in ``parts`` (a killed or
    split run resumes; ``--families`` lets two processes share the families)."""
    path = parts / candidate / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    value = {**compute(), "seconds": round(time.perf_counter() - t0, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return value


def pooled(per: dict, model: str) -> dict:
    rows = np.array([v[model]["rows"] for v in per.values()])
    mae = np.array([v[model]["mae"] for v in per.values()])
    cov = np.array([v[model]["coverage80"] for v in per.values()])
    sp = [v[model]["spearman"] for v in per.values() if np.isfinite(v[model]["spearman"])]
    return {"rows": int(rows.sum()), "mae_weighted": float(np.sum(rows * mae) / rows.sum()),
            "spearman_mean": float(np.mean(sp)), "coverage80": float(np.sum(rows * cov) / rows.sum())}  # fmt: skip


def official(candidate: str | None) -> dict:
    """Train -> the test rows with structure features (and the novel ones): the composition learner (``candidate``
    None) or the structure model."""
    from screening.surrogates.features import CONDUCTIVITY_FEATURES

    frac = [i for i, c in enumerate(CONDUCTIVITY_FEATURES) if c.startswith("frac_")]
    tr, te = family_data(("train",)), family_data(("test",))
    s = te.structure
    X, y, st = te.X[s], te.y[s], te.strata[s]
    novel = nearest_l1(tr.X[:, frac], X[:, frac]) > NOVEL_L1
    if candidate is None:
        name, (m, lo, hi) = "composition", shipped_composition(tr).predict_interval(X[:, :N_COMP], st)
    else:
        name, (m, lo, hi) = "structure", structure_model(tr, candidate).predict_interval(X, st)
    return {name: {"official": metrics(y, m, lo, hi), "novel": metrics(y[novel], m[novel], lo[novel], hi[novel])}}


def _f(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.2f}"


def report(per: dict, off: dict, candidate: str, seconds: float) -> str:
    lines = [
        "# Conductivity: leave-one-family-out (train + test rows of OBELiX) and the official split",
        "",
        f"- date {date.today().isoformat()}, {platform.machine()}, Python {platform.python_version()}; "
        f"`PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_conductivity_lofo.py` ({seconds:.0f} s of compute over "
        "the families and the official split, on 2 shared cores)",
        f"- structure-aware model: `{candidate}` (chosen on train by the round-6 rule, benchmarks/results/models.md); "
        "composition: the shipped learner (`hgb_lr0.05_leaves15`, adaptive conformal); median: the training rows' median "
        "(interval: their 10-90 % quantiles)",
        f"- families: OBELiX's own label, >= {MIN_ROWS} rows with structure features; every other row (train and test) trains",
        "",
        "| family | rows (struct / all) | MAE median | MAE comp (all rows) | MAE comp | MAE struct | Spearman comp | Spearman struct "
        "| cov80 comp | cov80 struct | struct <= median |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for fam, v in sorted(per.items(), key=lambda kv: -kv[1]["structure"]["rows"]):
        ok = v["structure"]["mae"] <= v["median"]["mae"]
        lines.append(
            f"| {fam} | {v['structure']['rows']} / {v['composition_all_rows']['rows']} | {v['median']['mae']:.2f} | "
            f"{v['composition_all_rows']['mae']:.2f} | {v['composition']['mae']:.2f} | {v['structure']['mae']:.2f} | "
            f"{_f(v['composition']['spearman'])} | {_f(v['structure']['spearman'])} | {v['composition']['coverage80']:.2f} | "
            f"{v['structure']['coverage80']:.2f} | {'yes' if ok else 'no'} |"
        )
    lines += ["", "| pooled over the families | rows | weighted MAE | mean Spearman | coverage80 |", "|---|---:|---:|---:|---:|"]
    for model in ("median", "composition_all_rows", "composition", "structure"):
        p = pooled(per, model)
        lines.append(f"| {model} | {p['rows']} | {p['mae_weighted']:.3f} | {_f(p['spearman_mean'])} | {p['coverage80']:.3f} |")
    lines += ["", "Official split (fitted on train, scored on the test rows with structure features):", "",
              "| model | rows | MAE | Spearman | coverage80 | novel rows | MAE novel | coverage80 novel |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, v in off.items():
        o, n = v["official"], v["novel"]
        lines.append(f"| {name} | {o['rows']} | {o['mae']:.3f} | {_f(o['spearman'])} | {o['coverage80']:.3f} | {n['rows']} | "
                     f"{n['mae']:.3f} | {n['coverage80']:.3f} |")  # fmt: skip
    p = pooled(per, "structure")
    big = [f for f, v in per.items() if v["structure"]["rows"] >= 20]
    worse = [f for f in big if per[f]["structure"]["mae"] > per[f]["median"]["mae"]]
    gap = off["structure"]["official"]["mae"] - off["composition"]["official"]["mae"]
    def verdict(value: float, bar: float, higher: bool = False) -> str:
        ok = value >= bar if higher else value <= bar
        return "met" if ok else f"NOT met, by {abs(value - bar):.3f}"

    worse_text = ", ".join(f"{f} ({per[f]['structure']['mae']:.2f} vs {per[f]['median']['mae']:.2f})" for f in worse)
    lines += ["", "Targets (issue 23):", "",
              f"- no worse than the median in every family with >= 20 structure rows ({', '.join(big)}): "
              + ("met" if not worse else f"NOT met in {worse_text}"),
              f"- weighted LOFO MAE <= 1.6: {p['mae_weighted']:.3f} ({verdict(p['mae_weighted'], 1.6)})",
              f"- mean within-family Spearman >= 0.5: {p['spearman_mean']:.3f} ({verdict(p['spearman_mean'], 0.5, True)})",
              f"- coverage80 >= 0.7 on held-out families: {p['coverage80']:.3f} ({verdict(p['coverage80'], 0.7, True)})",
              f"- official split not > 0.05 MAE worse than composition on the same rows: {gap:+.3f} ({verdict(gap, 0.05)})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", default=STRUCTURE_CANDIDATE, help="the structure-aware candidate (default: the shipped one)")
    ap.add_argument("--json", default="benchmarks/results/conductivity_lofo.json")
    ap.add_argument("--parts", default=".lofo_parts", help="folder of the per-family results (resumable)")
    ap.add_argument("--families", default=None, help="comma-separated families to compute (default: all); the report is "
                    "printed once every part exists")  # fmt: skip
    ap.add_argument("--only", default=None, help="compute only this part folder ('composition' or the candidate)")
    args = ap.parse_args()
    parts = Path(args.parts)
    names = {"composition": None, args.candidate: args.candidate}  # part folder: candidate
    with threadpool_limits(limits=1):
        d = family_data(("train", "test"))
        fams = lofo_families(d)
        todo = fams if args.families is None else [f for f in fams if f in args.families.split(",")]
        for folder, cand in names.items():
            if args.only and folder != args.only:
                continue
            for fam in todo:
                _part(parts, folder, fam, lambda fam=fam, cand=cand: lofo_family(d, fam, cand))
            if args.families is None or "official" in args.families.split(","):
                _part(parts, folder, "official", lambda cand=cand: official(cand))
    missing = [f"{folder}/{f}" for folder in names for f in [*fams, "official"] if not (parts / folder / f"{f}.json").is_file()]
    if missing:
        print(f"parts missing: {missing}", file=sys.stderr)
        return
    load = {folder: {f: json.loads((parts / folder / f"{f}.json").read_text()) for f in [*fams, "official"]} for folder in names}
    seconds = sum(v.pop("seconds", 0.0) for folder in load.values() for v in folder.values())
    per = {f: {**load["composition"][f], **load[args.candidate][f]} for f in fams}
    off = {**load["composition"]["official"], **load[args.candidate]["official"]}
    with open(args.json, "w") as fh:
        json.dump({"candidate": args.candidate, "per_family": per, "official": off,
                   "pooled": {m: pooled(per, m) for m in ("median", "composition_all_rows", "composition", "structure")}},
                  fh, indent=1)  # fmt: skip
    print(report(per, off, args.candidate, seconds), end="")


if __name__ == "__main__":
    main()
