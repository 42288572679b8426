"""Ranking benchmark: the known-materials check per preset, and the speed of the Pareto sort.

Part 1, known materials (issue 10): screens the OBELiX compositions that have a CIF the
way the ``screen`` flow does, in-process and without Prefect
(:func:`screening.pipeline.obelix_candidates` -> ``composition_tier`` -> ``stability_tier``
on every row -> :func:`screening.ranking.rank`), and records for each preset where the
measured fast conductors (>= 1e-3 S/cm) and insulators (<= 1e-8 S/cm) land, the Spearman
correlation of the score with the measured conductivity, and the largest e_hull in the
top 20. These compositions are in the conductivity model's training data, so this is a
sanity check of the ranking, not a validation of the model.

Part 2, sort speed (issue 15): :func:`screening.pareto.pareto_ranks` on 10^4, 10^5, 10^6
rows of random objectives (independent normals: the hard case; and correlated ones), the
O(n^2) reference at the old 5,000-row cap for comparison. A size is skipped (and said so)
when the previous size's time, scaled by (n_next / n)^alpha (alpha measured between the two
sizes before, 1.3 at first), would exceed ``--budget`` seconds.

    .venv/bin/python benchmarks/bench_ranking.py [--known-only | --sort-only] [--budget 600]
    [--table cached.pkl]   # reuse the tier-0/1 table of a previous run (it takes minutes)

Writes benchmarks/results/ranking.md (the parts run; the other part's section is kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from screening import pipeline  # noqa: E402
from screening.pareto import pareto_ranks, pareto_ranks_reference  # noqa: E402
from screening.ranking import PRESETS, objective_correlations, rank  # noqa: E402

OUT = Path(__file__).parent / "results" / "ranking.md"
FAST, INSULATOR = -3.0, -8.0  # log10 S/cm


def known_materials_table() -> pd.DataFrame:
    """Tier 0 and the stability tier on every OBELiX composition with a CIF, one table."""
    cands = pipeline.obelix_candidates(with_structures=False)
    for col in pipeline.CANDIDATE_COLUMNS:
        if col not in cands:
            cands[col] = None
    tiers = pipeline.composition_tier(cands)
    desc = tiers["descriptors"]
    table = tiers["candidates"].merge(tiers["predictions"], on="candidate_id", how="left")
    if "cost_usd_per_kg" in desc and "cost_usd_per_kg" not in table:
        table = table.merge(desc[["candidate_id", "cost_usd_per_kg"]], on="candidate_id", how="left")
    ok = table[table["error"].isna() & table["log10_sigma_S_cm"].notna()]
    stab = pipeline.stability_tier(ok)
    return table.merge(stab.drop(columns=[c for c in ("formula",) if c in stab]), on="candidate_id", how="left")


def known_materials_metrics(ranked: pd.DataFrame, measured: str = "measured_log10_sigma_S_cm") -> dict:
    """Where measured fast conductors and insulators land in a ranked table (percentile: 0 = best)."""
    n = len(ranked)
    pct = 100.0 * (ranked["rank"].to_numpy() - 0.5) / n
    m = pd.to_numeric(ranked[measured], errors="coerce").to_numpy()
    fast, ins = m >= FAST, m <= INSULATOR
    scored = ranked["score"].notna().to_numpy()
    top20 = pd.to_numeric(ranked["e_hull_eV_atom"].head(20), errors="coerce")
    return {
        "rows": n,
        "pass_gates": int(ranked["passes_gates"].sum()),
        "fast_n": int(fast.sum()),
        "fast_median_pct": float(np.median(pct[fast])),
        "fast_in_top25": int((pct[fast] <= 25).sum()),
        "fast_failing_gates": int((fast & ~ranked["passes_gates"].to_numpy()).sum()),
        "ins_n": int(ins.sum()),
        "ins_best_pct": float(pct[ins].min()),
        "ins_in_top10": int((pct[ins] <= 10).sum()),
        "spearman_score": float(pd.Series(ranked["score"].to_numpy()[scored]).corr(pd.Series(m[scored]), method="spearman")),
        "spearman_rank": float(pd.Series(-pct).corr(pd.Series(m), method="spearman")),
        "top20_max_e_hull": float(top20.max()),
    }


def run_known(table: pd.DataFrame) -> str:
    rows, funnels = [], []
    for name in PRESETS:
        ranked = rank(table, preset=name)
        k = known_materials_metrics(ranked)
        ok = k["fast_median_pct"] <= 25 and k["ins_in_top10"] == 0 and k["top20_max_e_hull"] <= 0.1
        rows.append(
            f"| {name} | {k['pass_gates']}/{k['rows']} | {k['fast_median_pct']:.1f} | {k['fast_in_top25']}/{k['fast_n']} "
            f"| {k['fast_failing_gates']} | {k['ins_best_pct']:.1f} | {k['ins_in_top10']}/{k['ins_n']} "
            f"| {k['spearman_score']:.2f} | {k['spearman_rank']:.2f} | {k['top20_max_e_hull']:.3f} | {'yes' if ok else 'no'} |"
        )
        f = pd.DataFrame(ranked.attrs["gate_funnel"])
        funnels.append(f"- {name}: " + "; ".join(f"{r['gate']} {'<=' if pd.notna(r['max']) else '>='} "
                                                  f"{r['max'] if pd.notna(r['max']) else r['min']}: -{r['failed']} "
                                                  f"({r['unchecked']} unchecked)" for _, r in f.iterrows()))  # fmt: skip
    corr = objective_correlations(table)
    top = rank(table, preset="balanced").head(10)
    lines = [
        "## Known materials (OBELiX compositions with a CIF)",
        "",
        f"- {len(table)} compositions through tier 0 (composition, surrogates) and the stability tier (every row),",
        "  ranked with each preset; percentiles over all rows (rows failing a gate count at the bottom), 0 = best.",
        "- **These compositions are in the conductivity model's training data** (OBELiX is what it is trained on):",
        "  this checks that the ranking does not bury what the model knows, it is not a validation of the model.",
        "- fast conductors: measured >= 1e-3 S/cm; insulators: measured <= 1e-8 S/cm. Targets (issue 10): median fast",
        "  percentile <= 25, no insulator in the top 10 %, no top-20 row with e_hull > 0.1 eV/atom.",
        "",
        "| preset | pass gates | fast: median pct | fast in top 25 % | fast failing gates | insulators: best pct "
        "| insulators in top 10 % | Spearman score vs measured (passing rows) | Spearman rank vs measured (all) "
        "| max e_hull top 20 (eV/atom) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Gate funnel (rows each gate fails, independently of the others):",
        "",
        *funnels,
        "",
        "Top 10 with `balanced`:",
        "",
        "| rank | formula | measured log10 S/cm | predicted | e_hull | window (V) | score | pareto_rank |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['rank']} | {r['formula']} | {r['measured_log10_sigma_S_cm']:.2f} | {r['log10_sigma_S_cm']:.2f} "
          f"| {r['e_hull_eV_atom']:.3f} | {r['window_low_V']:.2f}-{r['window_high_V']:.2f} | {r['score']:.3f} "
          f"| {r['pareto_rank']} |" for _, r in top.iterrows()],  # fmt: skip
        "",
        "Spearman correlation between objectives (pairs with |rho| >= 0.3):",
        "",
        "| a | b | Spearman | n |",
        "|---|---|---|---|",
        *[f"| {r.a} | {r.b} | {r.spearman:.2f} | {r.n} |" for r in corr.itertuples() if abs(r.spearman) >= 0.3],
        "",
    ]
    return "\n".join(lines)


def _data(n: int, m: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "independent":
        return rng.normal(size=(n, m))
    latent = rng.normal(size=(n, 1))
    return 0.7 * latent + 0.7 * rng.normal(size=(n, m))  # pairwise correlation about 0.5


def run_sort(budget: float) -> str:
    rng = np.random.default_rng(0)
    rows = []
    x = _data(5000, 6, "independent", rng)
    t = time.perf_counter()
    pareto_ranks_reference(x)
    ref_s = time.perf_counter() - t
    t = time.perf_counter()
    pareto_ranks(x)
    new_s = time.perf_counter() - t
    rows.append(f"| 5,000 | 6 | independent | O(n^2) reference: {ref_s:.2f} s; blocked ENS: {new_s:.2f} s | | |")
    for m, kind in ((6, "independent"), (6, "correlated"), (3, "independent")):
        last, alpha = None, 1.3  # time ~ n^alpha: a guess at first, then measured between the last two sizes
        for n in (10**4, 10**5, 10**6):
            if last is not None and last[1] * (n / last[0]) ** alpha > budget:
                rows.append(f"| {n:,} | {m} | {kind} | not run: {last[1]:.0f} s at {last[0]:,} x (n ratio)^{alpha:.2f} "
                            f"exceeds the {budget:.0f} s budget | | |")  # fmt: skip
                continue
            x = _data(n, m, kind, rng)
            t = time.perf_counter()
            r = pareto_ranks(x)
            s = time.perf_counter() - t
            if last is not None and s > 0 and last[1] > 0:
                alpha = float(np.log(s / last[1]) / np.log(n / last[0]))
            last = (n, s)
            rows.append(f"| {n:,} | {m} | {kind} | {s:.1f} s | {r.max()} | {(r == 1).sum():,} |")
            print(rows[-1], flush=True)
    return "\n".join(
        [
            "## Non-dominated sort speed",
            "",
            "`screening.pareto.pareto_ranks` (blocked ENS-BS, numpy, one core) on random objectives; "
            "`correlated`: pairwise correlation about 0.5. Sizes predicted to exceed the budget "
            f"({budget:.0f} s, scaling measured between the two sizes before) are not run.",
            "",
            "| rows | objectives | data | time | fronts | front 1 size |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--known-only", action="store_true")
    ap.add_argument("--sort-only", action="store_true")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds one sort size may be expected to take")
    ap.add_argument("--table", type=Path, help="pickle of the tier-0/1 table: read if it exists, else written")
    args = ap.parse_args()
    new = {}
    if not args.sort_only:
        t = time.perf_counter()
        if args.table and args.table.exists():
            table = pd.read_pickle(args.table)
        else:
            table = known_materials_table()
            if args.table:
                table.to_pickle(args.table)
        print(f"table: {len(table)} rows in {time.perf_counter() - t:.0f} s", flush=True)
        text = run_known(table)
        new[text.split("\n", 1)[0][3:]] = text
    if not args.known_only:
        text = run_sort(args.budget)
        new[text.split("\n", 1)[0][3:]] = text
    old = OUT.read_text() if OUT.exists() else ""  # read late: keep the other part's section
    sections = {s.split("\n", 1)[0]: "## " + s for s in old.split("\n## ")[1:]}
    sections.update(new)
    head = (f"# Ranking benchmark\n\n- date: {date.today()}; machine: {platform.machine()}, {os.cpu_count()} cores "
            f"(shared), one core used\n- re-run: `.venv/bin/python benchmarks/bench_ranking.py` "
            f"(`--known-only`, `--sort-only`)\n\n")  # fmt: skip
    OUT.write_text(head + "\n".join(sections[k] for k in sorted(sections, key=lambda k: not k.startswith("Known"))))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
