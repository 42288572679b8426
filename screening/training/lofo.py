"""Extrapolation to unseen families: repeated grouped CV and leave-one-family-out (LOFO) of the round-6 candidates.

The evaluation and the selection rule of the round-6 protocol (``benchmarks/results/models.md``,
"Round 6"), on the OBELiX train split only:

(a) grouped 5-fold CV by chemical system over every usable train row, shuffles 0, 1, 2; MAE on the
    rows with structure features (the same rows for every candidate);
(b) LOFO: each pre-registered family held out in turn (all its rows removed from training), the
    candidate and its family-grouped conformal calibration fitted on the rest; row-weighted MAE,
    per-family MAE and Spearman, pooled 80 % coverage.

Score = mean of (a) and (b); eligible: LOFO coverage >= 0.70 and (a) <= (a) of ``composition`` + 0.05.

Run (about 15 min on one shared core; writes ``benchmarks/results/conductivity_round6_train.json``)::

    python -m screening.training.lofo
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import spearmanr

from screening.surrogates.physics import SIMPLICITY, STRUCTURE_LABELS, StructureConductivityModel, has_structure
from screening.surrogates.selection import CV_REPEATS, _splits

__all__ = ["LOFO_FAMILIES", "FamilyData", "choose", "family_data", "grouped_cv", "lofo", "normalise_family", "spearman"]

#: the families the train-side LOFO holds out (named in the protocol before any number was computed)
LOFO_FAMILIES = ("argyrodites", "garnet", "nasicon", "oxides", "perovskites", "lgps", "phosphates", "lisicon", "thio-lisicon")
#: spelling variants of OBELiX's ``Family`` label
_FAMILY_ALIASES = {"argyrodite": "argyrodites", "halide": "halides", "cholorides": "chlorides", "nitride": "nitrides"}
COVERAGE_BAR, CV_BAR, TIE = 0.70, 0.05, 0.005


def normalise_family(label: object) -> str:
    """OBELiX's family label, lower case, spelling variants merged (``Halide`` -> ``halides``)."""
    s = str(label).strip().lower() if label is not None and label == label else "unknown"
    return _FAMILY_ALIASES.get(s, s)


@dataclass(frozen=True)
class FamilyData:
    """Usable OBELiX rows with composition + structure inputs (NaN structure where there is none)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # chemical systems
    families: np.ndarray
    strata: np.ndarray  # coarse anion family
    ids: np.ndarray
    formulas: np.ndarray
    split: np.ndarray

    @property
    def structure(self) -> np.ndarray:
        return has_structure(self.X)

    def rows(self, mask: np.ndarray) -> FamilyData:
        return FamilyData(*(getattr(self, f)[mask] for f in ("X", "y", "groups", "families", "strata", "ids", "formulas", "split")))


def family_data(splits: tuple[Literal["train", "test"], ...] = ("train",)) -> FamilyData:
    """The usable rows of the OBELiX ``splits`` with the cached structure features of their CIFs."""
    from screening.training.data import conductivity_data
    from screening.training.structure_features import obelix_structure_features

    cache = obelix_structure_features()
    cache = cache[cache["error"].isna()]
    parts = []
    for split in splits:
        d = conductivity_data(split)
        t = d.table[d.ok]
        S = cache.reindex(t["id"].astype(str).to_numpy())[STRUCTURE_LABELS].to_numpy(float)
        parts.append((np.hstack([d.X, S]), d.y, d.groups, np.array([normalise_family(f) for f in t["obelix_family"]], dtype=object),
                      d.strata[d.ok].astype(object), t["id"].astype(str).to_numpy(), t["formula"].to_numpy(object),
                      np.full(len(t), split, dtype=object)))  # fmt: skip
    return FamilyData(*(np.concatenate([p[i] for p in parts]) for i in range(8)))


def _fit(candidate: str, d: FamilyData, calibrate: bool) -> StructureConductivityModel:
    return StructureConductivityModel(candidate).fit(d.X, d.y, d.groups, d.families, d.strata, calibrate=calibrate)


def grouped_cv(candidate: str, d: FamilyData, repeats=CV_REPEATS) -> list[float]:
    """(a): MAE on the structure rows of grouped 5-fold CV (chemical systems), one value per repeat."""
    out = []
    scored = d.structure
    for r in repeats:
        pred = np.full(len(d.y), np.nan)
        for tr, te in _splits(d.groups, r):
            te = te[scored[te]]
            pred[te] = _fit(candidate, d.rows(tr), calibrate=False).predict(d.X[te])
        out.append(float(np.mean(np.abs(pred[scored] - d.y[scored]))))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of a family's predictions and measurements (NaN below 3 rows or for a constant side)."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def lofo(candidate: str, d: FamilyData, families=LOFO_FAMILIES, scored: np.ndarray | None = None) -> dict:
    """(b): each family of ``families`` held out in turn; metrics on its ``scored`` rows (default: structure rows)."""
    scored = d.structure if scored is None else scored
    per, err, inside = {}, [], []
    for fam in families:
        held = d.families == fam
        test = held & scored
        if not test.any():
            continue
        mean, lo, hi = _fit(candidate, d.rows(~held), calibrate=True).predict_interval(d.X[test], d.strata[test])
        y = d.y[test]
        e, cov = np.abs(mean - y), (y >= lo) & (y <= hi)
        per[fam] = {"rows": int(test.sum()), "mae": float(e.mean()), "spearman": spearman(mean, y),
                    "coverage80": float(cov.mean()), "mean_width80": float(np.mean(hi - lo)),
                    "mae_train_median": float(np.mean(np.abs(np.median(d.y[~held]) - y)))}  # fmt: skip
        err.append(e)
        inside.append(cov)
    e, c = np.concatenate(err), np.concatenate(inside)
    sp = [v["spearman"] for v in per.values() if np.isfinite(v["spearman"])]
    return {"mae_weighted": float(e.mean()), "coverage80": float(c.mean()), "spearman_mean": float(np.mean(sp)) if sp else float("nan"),
            "rows": int(len(e)), "per_family": per}  # fmt: skip


def choose(scores: dict[str, dict]) -> tuple[str, dict[str, Any]]:
    """The protocol's rule: ``(winner, {candidate: {score, eligible ...}})``."""
    ref = scores["composition"]["cv_mae"]
    table = {}
    for name, s in scores.items():
        table[name] = {"score": 0.5 * (s["cv_mae"] + s["lofo"]["mae_weighted"]), "coverage_ok": s["lofo"]["coverage80"] >= COVERAGE_BAR,
                       "cv_ok": s["cv_mae"] <= ref + CV_BAR}  # fmt: skip
    for conditions in (("coverage_ok", "cv_ok"), ("coverage_ok",), ()):
        eligible = [n for n in table if all(table[n][c] for c in conditions)]
        if eligible:
            break
    best = min(table[n]["score"] for n in eligible)
    tied = [n for n in eligible if table[n]["score"] < best + TIE]
    winner = min(tied, key=SIMPLICITY.index)
    for n in table:
        table[n]["eligible"] = n in eligible
    return winner, {"conditions": list(conditions), "candidates": table}


#: the order of evaluation: the stacks' composition fits are cached for ``composition`` after them
RUN_ORDER = ("phys_ridge", "phys_hgb_mono", "stack_mono", "stack_ridge", "composition", "struct_hgb")


def main(out: str | Path = "benchmarks/results/conductivity_round6_train.json", candidates=RUN_ORDER) -> dict:
    d = family_data(("train",))
    scores: dict[str, dict[str, Any]] = {}
    result = {"rows_usable": int(len(d.y)), "rows_with_structure": int(d.structure.sum()), "repeats": list(CV_REPEATS),
              "families": list(LOFO_FAMILIES), "scores": scores}  # fmt: skip
    for name in candidates:
        t0 = time.perf_counter()
        cv = grouped_cv(name, d)
        lo = lofo(name, d)
        scores[name] = {"cv_mae": float(np.mean(cv)), "cv_mae_per_repeat": cv, "lofo": lo, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name}: cv {np.mean(cv):.4f} {cv} lofo {lo['mae_weighted']:.4f} cov {lo['coverage80']:.3f} "
              f"spearman {lo['spearman_mean']:.3f} ({scores[name]['seconds']} s)", file=sys.stderr, flush=True)  # fmt: skip
        if "composition" in scores:
            result["winner"], result["rule"] = choose(scores)
        Path(out).write_text(json.dumps(result, indent=1) + "\n")  # after every candidate: a killed run keeps its numbers
    return result


def markdown(result: dict) -> str:
    """The round-6 scores and the rule's outcome as markdown tables (for benchmarks/results/models.md)."""
    sc, rule = result["scores"], result["rule"]["candidates"]
    lines = ["| candidate | CV MAE (a) | per repeat | LOFO MAE (b) | score | LOFO coverage80 | mean Spearman | CV <= comp + 0.05 "
             "| coverage >= 0.70 | eligible |", "|---|---:|---|---:|---:|---:|---:|---|---|---|"]  # fmt: skip
    for name in sorted(sc, key=lambda n: rule[n]["score"]):
        v, r = sc[name], rule[name]
        lines.append(f"| {name} | {v['cv_mae']:.4f} | {', '.join(f'{x:.4f}' for x in v['cv_mae_per_repeat'])} | "
                     f"{v['lofo']['mae_weighted']:.4f} | {r['score']:.4f} | {v['lofo']['coverage80']:.3f} | "
                     f"{v['lofo']['spearman_mean']:.3f} | {r['cv_ok']} | {r['coverage_ok']} | {r['eligible']} |")  # fmt: skip
    fams = list(result["families"])
    lines += ["", "| LOFO MAE / Spearman per family | " + " | ".join(f"{f} ({sc['composition']['lofo']['per_family'][f]['rows']})" for f in fams) + " |",
              "|---|" + "---:|" * len(fams)]  # fmt: skip
    lines.append("| training median | " + " | ".join(f"{sc['composition']['lofo']['per_family'][f]['mae_train_median']:.2f}" for f in fams) + " |")
    for name in sorted(sc, key=lambda n: rule[n]["score"]):
        per = sc[name]["lofo"]["per_family"]
        lines.append(f"| {name} | " + " | ".join(f"{per[f]['mae']:.2f} / {per[f]['spearman']:.2f}" for f in fams) + " |")
    lines += ["", f"Rule (conditions applied: {result['rule']['conditions']}): winner **{result['winner']}**."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:
        print(markdown(json.loads(Path("benchmarks/results/conductivity_round6_train.json").read_text())), end="")
    else:
        main()
