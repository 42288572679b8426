"""Validation and speed of the simulation tier (universal interatomic potentials), bounded runs.

Stability: MLIP energy above the hull against DFT on small ordered binaries from the
Materials Project elasticity set whose formula is in the *test* split of the MP ground
states (the composition formation-energy surrogate never trained on them), next to that
surrogate on the same rows. The hull is the reference hull with every benchmark formula
removed, so all three numbers (DFT, MLIP, surrogate) are distances from the hull of the
*other* phases; stable = e_hull <= 0.

Transport: short NVT MD at one temperature on small ordered cells of known fast and
poor Li conductors; ROC AUC of D(T) for "measured sigma(300 K) >= 1e-4 S/cm", Spearman
against the OBELiX measured conductivity where OBELiX has it.

Rows are written as they finish to ``--work`` (CSV), so a run can be cut short and the
report rendered from what finished (``--render-only``). Writes benchmarks/results/simulation.md.

    .venv/bin/python benchmarks/bench_simulation.py --potentials chgnet,sevenn --transport chgnet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
import warnings
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import pandas as pd

from screening.chemistry import as_composition

OUT = Path(__file__).parent / "results" / "simulation.md"
ELEMENTS = set("Li Na K Mg Ca Sr Ba Al Ga In Ge Sn Si B Zn Y La Sc Zr Ti Hf Nb Ta Bi Sb O S Se F Cl Br I N P C H".split())

# (name, source, id or formula, measured log10 sigma(300 K) S/cm or None, fast conductor?)
TRANSPORT = [
    ("Li10GeP2S12", "obelix", "mtn", True),
    ("Li7P3S11", "obelix", "mdp", True),
    ("Li6PS5Cl", "obelix", "122", True),
    ("Li3YCl6", "obelix", "ei3", True),
    ("Li3N", "obelix", "gvd", True),
    ("Li3OCl", "obelix", "4p7", True),
    ("Li3PO4", "obelix", "w7d", False),
    ("Li4GeS4", "obelix", "e6b", False),
    ("Li3PS4", "obelix", "nhq", False),
    ("Li2S", "mp", "Li2S", False),
    ("LiCl", "mp", "LiCl", False),
    ("Li2O", "mp", "Li2O", False),
]


def energy_rows(n_rows: int, max_atoms: int) -> pd.DataFrame:
    """Benchmark rows: formula, structure, DFT formation energy, in the ground-state test split."""
    from screening.datasets import load_elastic_binaries, load_mp_ground_states

    gs = load_mp_ground_states()
    gs["red"] = [as_composition(f).reduced_formula for f in gs["formula"]]
    gs = gs.sort_values("formation_energy_eV_atom").drop_duplicates("red")
    el = load_elastic_binaries(structures=True)
    el["red"] = [s.composition.reduced_formula for s in el["structure"]]
    el["n_atoms"] = [len(s) for s in el["structure"]]
    el = el[(el["n_atoms"] <= max_atoms) & [s.is_ordered for s in el["structure"]]]
    el = el[[set(map(str, s.composition.elements)) <= ELEMENTS for s in el["structure"]]]
    el = el.sort_values("n_atoms").drop_duplicates("red")  # smallest cell per formula
    m = el.merge(gs[gs["split"] == "test"], on="red")
    m["has_li"] = [("Li" in map(str, s.composition.elements)) for s in m["structure"]]
    m = pd.concat([m[m["has_li"]], m[~m["has_li"]].sample(frac=1.0, random_state=0)]).head(n_rows)
    return m.reset_index(drop=True)


def transport_structures(min_atoms: int = 24):
    from pymatgen.core import Structure  # noqa: F401

    from screening.datasets import load_elastic_binaries, load_obelix_structures

    obx = load_obelix_structures([t[2] for t in TRANSPORT if t[1] == "obelix"])
    el = load_elastic_binaries(structures=True)
    el["red"] = [s.composition.reduced_formula for s in el["structure"]]
    out = []
    for name, src, key, fast in TRANSPORT:
        s = obx[key][0] if src == "obelix" else min(el[el["red"] == key]["structure"], key=len)
        if s is None:
            continue
        if s.is_ordered and len(s) < min_atoms:
            s = s.get_primitive_structure()
            k = 1
            while len(s) * k**3 < min_atoms:
                k += 1
            s = s * [k, k, k]
        out.append((name, key, s, fast))
    return out


def run_energy(potentials: list[str], rows: pd.DataFrame, work: Path) -> None:
    from screening.simulation import formation_energy, potential_version, relax

    for pot in potentials:
        path = work / f"energy_{pot}.csv"
        done = set(pd.read_csv(path)["red"]) if path.exists() else set()
        for _, r in rows.iterrows():
            if r["red"] in done:
                continue
            rec = {"red": r["red"], "potential": pot, "version": potential_version(pot), "n_atoms": len(r["structure"])}
            t0 = time.perf_counter()
            try:
                rel = relax(r["structure"], pot, fmax=0.05, steps=200)
                t_relax = time.perf_counter() - t0
                ef, corr = formation_energy(rel["structure"], rel["energy_eV"], pot)
                rec.update(ef_mlip=ef, corr=corr, steps=rel["steps"], converged=rel["converged"], relax_s=t_relax,
                           atom_steps=rel["steps"] * len(r["structure"]), error=None)
            except Exception as exc:
                rec.update(error=f"{type(exc).__name__}: {exc}")
            rec["wall_s"] = time.perf_counter() - t0
            pd.DataFrame([rec]).to_csv(path, mode="a", header=not path.exists(), index=False)
            print(pot, r["red"], rec.get("ef_mlip"), f"{rec['wall_s']:.1f}s", flush=True)


def run_transport(potentials: list[str], temperature: float, steps: int, eq_steps: int, work: Path) -> None:
    from screening.simulation import li_transport, order_structure, potential_version, relax, run_md

    mats = transport_structures()
    for pot in potentials:
        path = work / f"transport_{pot}.csv"
        done = set(pd.read_csv(path)["name"]) if path.exists() else set()
        for name, key, s, fast in mats:
            if name in done:
                continue
            rec = {"name": name, "source_id": key, "fast": fast, "potential": pot, "version": potential_version(pot)}
            t0 = time.perf_counter()
            try:
                ordered, info = order_structure(s, max_atoms=96, seed=0)
                rec.update(ordering=info["ordering"], n_atoms=len(ordered))
                rel = relax(ordered, pot, fmax=0.1, steps=60)
                md = run_md(rel["structure"], temperature, pot, steps=steps, timestep_fs=2.0, equilibration_steps=eq_steps, sample_every=5)
                tr = li_transport(md["snapshots"], temperature, 2.0, 5)
                rec.update(D_cm2_s=tr["D_cm2_s"], D_cm2_s_std=tr["D_cm2_s_std"], msd_A2=tr["msd_final_A2"],
                           md_s=md["wall_s"], md_atom_steps=md["atom_steps"], T_mean_K=md["mean_temperature_K"], error=None)
            except Exception as exc:
                rec.update(error=f"{type(exc).__name__}: {exc}")
            rec["wall_s"] = time.perf_counter() - t0
            pd.DataFrame([rec]).to_csv(path, mode="a", header=not path.exists(), index=False)
            print(pot, name, rec.get("D_cm2_s"), rec.get("error"), f"{rec['wall_s']:.1f}s", flush=True)


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = np.sum(truth & pred)
    fp = np.sum(~truth & pred)
    fn = np.sum(truth & ~pred)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")


def render(rows: pd.DataFrame, work: Path, meta: dict) -> str:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from screening.datasets import load_mp_ground_states, load_obelix
    from screening.descriptors.stability import ReferenceHull
    from screening.surrogates import predict

    gs = load_mp_ground_states()
    red = [as_composition(f).reduced_formula for f in gs["formula"]]
    keep = ~pd.Series(red).isin(set(rows["red"])).to_numpy()
    hull = ReferenceHull(gs["formula"][keep], gs["formation_energy_eV_atom"][keep], on_hull=(gs["decomposition_energy_eV_atom"] <= 0)[keep])
    base = rows[["red", "formation_energy_eV_atom"]].rename(columns={"formation_energy_eV_atom": "ef_dft"}).copy()
    base["hull"] = [hull.hull_energy(f) for f in base["red"]]
    base["e_hull_dft"] = base["ef_dft"] - base["hull"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sur = predict(list(base["red"]), stability=False)
    base["ef_sur"] = sur["formation_energy_eV_atom"].to_numpy()
    lines = [
        "# Simulation tier: validation and speed",
        "",
        f"Run {date.today()} on {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs,"
        f" torch CPU, `{meta['cmd']}`. Bounded runs: see the settings under each table. Regenerate with"
        " `python benchmarks/bench_simulation.py` (rows are cached in `--work`, the report re-rendered from them).",
        "",
        "## Stability against DFT",
        "",
        f"Rows: {len(base)} ordered binaries (<= {meta['max_atoms']} atoms) of the Materials Project elasticity set whose formula"
        " is in the *test* split of the MP ground states (Bartel et al. 2020), Li compounds first; the composition surrogate"
        " never saw these formulas. DFT: the ground-state formation energy of the formula (the elasticity structure may"
        " be another polymorph: an error source for the MLIPs that the surrogate does not have). Hull: the reference hull"
        " with every benchmark formula removed; e_hull = E_f - hull; stable = e_hull <= 0. MLIP: relaxation (FIRE, cell and"
        " positions, fmax 0.05 eV/A, <= 200 steps), formation energy against the MP elemental reference structures relaxed"
        " with the same potential; MP2020 anion corrections added for SevenNet-0 only (CHGNet predicts corrected energies).",
        "",
        "| model | rows | MAE e_hull (eV/atom) | MAE E_f (eV/atom) | F1 stable | stable DFT / predicted | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    truth_all = base["e_hull_dft"].to_numpy() <= 0
    speed = []
    pots = []
    for pot in meta["potentials"]:
        path = work / f"energy_{pot}.csv"
        if not path.exists():
            continue
        e = pd.read_csv(path).drop_duplicates("red", keep="last")
        m = base.merge(e, on="red")
        ok = m["ef_mlip"].notna()
        mm = m[ok]
        pred_eh = mm["ef_mlip"] - mm["hull"]
        truth = mm["e_hull_dft"].to_numpy() <= 0
        pots.append((pot, set(mm["red"])))
        lines.append(
            f"| {pot} ({e['version'].iloc[0]}) | {len(mm)} | {np.mean(np.abs(pred_eh - mm['e_hull_dft'])):.3f} |"
            f" {np.mean(np.abs(mm['ef_mlip'] - mm['ef_dft'])):.3f} | {_f1(truth, pred_eh.to_numpy() <= 0):.2f} |"
            f" {truth.sum()} / {(pred_eh <= 0).sum()} | {(~ok).sum()} |"
        )
        if ok.any():
            speed.append((pot, "relax", mm["atom_steps"].sum() / mm["relax_s"].sum(), mm["relax_s"].mean(), mm["n_atoms"].mean()))
    for pot, names in pots:
        s = base[base["red"].isin(names)]
        eh = s["ef_sur"] - s["hull"]
        truth = s["e_hull_dft"].to_numpy() <= 0
        lines.append(
            f"| composition surrogate, rows of {pot} | {len(s)} | {np.mean(np.abs(eh - s['e_hull_dft'])):.3f} |"
            f" {np.mean(np.abs(s['ef_sur'] - s['ef_dft'])):.3f} | {_f1(truth, eh.to_numpy() <= 0):.2f} | {truth.sum()} / {(eh <= 0).sum()} | 0 |"
        )
    lines += ["", f"All rows: {truth_all.sum()} of {len(base)} are stable in DFT against the hull of the other phases.", ""]

    obx = load_obelix()
    meas = dict(zip(obx["id"], obx["log10_sigma_S_cm"]))
    lines += ["## Lithium transport: ordering of known conductors", ""]
    for pot in meta["transport"]:
        path = work / f"transport_{pot}.csv"
        if not path.exists():
            continue
        t = pd.read_csv(path).drop_duplicates("name", keep="last")
        t["measured"] = [meas.get(k, np.nan) if n not in ("Li2S", "LiCl", "Li2O") else np.nan for n, k in zip(t["name"], t["source_id"])]
        lines += [
            f"Potential {pot} ({t['version'].iloc[0]}). MD: NVT Berendsen (taut 100 fs), {meta['temperature']:.0f} K, 2 fs,"
            f" {meta['eq_steps']} equilibration + {meta['md_steps']} production steps ({meta['md_steps'] * 2 / 1000:.1f} ps),"
            " after a 60-step relaxation; disordered cells ordered by seeded random orderings ranked by Ewald energy (<= 96 atoms)."
            " Fast = measured sigma(300 K) >= 1e-4 S/cm (OBELiX; Li2S, LiCl, Li2O are poor conductors from the literature,"
            " no OBELiX value).",
            "",
            "| material | source | atoms | ordering | fast | measured log10 sigma (S/cm) | D (cm^2/s) | std | MSD (A^2) | MD s | error |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in t.iterrows():
            lines.append(
                f"| {r['name']} | {r['source_id']} | {r.get('n_atoms', '')} | {r.get('ordering', '')} | {r['fast']} |"
                f" {r['measured']:.2f} | {r.get('D_cm2_s', np.nan):.2e} | {r.get('D_cm2_s_std', np.nan):.1e} | {r.get('msd_A2', np.nan):.2f} |"
                f" {r.get('md_s', np.nan):.0f} | {'' if pd.isna(r.get('error')) else str(r['error'])[:80]} |"
            )
        ok = t["D_cm2_s"].notna() if "D_cm2_s" in t else pd.Series(False, index=t.index)
        tt = t[ok]
        d = np.clip(tt["D_cm2_s"].to_numpy(float), 1e-9, None)  # below ~1e-7 the run cannot resolve D
        auc = roc_auc_score(tt["fast"].astype(bool), d) if tt["fast"].nunique() == 2 else float("nan")
        mm = tt[tt["measured"].notna()]
        rho = spearmanr(mm["D_cm2_s"], mm["measured"]).statistic if len(mm) >= 3 else float("nan")
        lines += ["", f"ROC AUC (fast vs poor, {len(tt)} materials): **{auc:.2f}**; Spearman D vs measured sigma"
                  f" ({len(mm)} OBELiX materials): **{rho:.2f}**.", ""]
        if ok.any():
            speed.append((pot, f"MD {meta['temperature']:.0f} K", tt["md_atom_steps"].sum() / tt["md_s"].sum(), tt["wall_s"].mean(), tt["n_atoms"].mean()))
        # the composition surrogate on the same materials
        names = list(tt["name"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sp = predict(names, stability=False)["log10_sigma_S_cm"].to_numpy()
        auc_s = roc_auc_score(tt["fast"].astype(bool), sp) if tt["fast"].nunique() == 2 else float("nan")
        sel = tt["measured"].notna().to_numpy()
        rho_s = spearmanr(sp[sel], tt["measured"][sel]).statistic if sel.sum() >= 3 else float("nan")
        lines += [f"Composition conductivity surrogate on the same materials: ROC AUC {auc_s:.2f}, Spearman {rho_s:.2f}"
                  " (several of the OBELiX rows are in its training split: an optimistic comparison for the surrogate).", ""]
    lines += ["## Speed on this CPU", "", "| potential | step | atom-steps/s | s per candidate | mean atoms | candidates/hour |", "|---|---|---|---|---|---|"]
    for pot, step, rate, per, atoms in speed:
        lines.append(f"| {pot} | {step} | {rate:.0f} | {per:.1f} | {atoms:.0f} | {3600 / per:.0f} |")
    lines += ["", "Elemental references (relaxed once per element and potential) are included in the first rows' time.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--potentials", default="chgnet,sevenn")
    ap.add_argument("--transport", default="chgnet")
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--max-atoms", type=int, default=12)
    ap.add_argument("--temperature", type=float, default=800.0)
    ap.add_argument("--md-steps", type=int, default=250)
    ap.add_argument("--eq-steps", type=int, default=50)
    ap.add_argument("--work", default="/tmp/sim_bench")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--stages", default="energy,transport", help="which stages to run before rendering")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    pots = [p for p in a.potentials.split(",") if p]
    tpots = [p for p in a.transport.split(",") if p]
    rows = energy_rows(a.rows, a.max_atoms)
    if not a.render_only:
        stages = a.stages.split(",")
        if "energy" in stages:
            run_energy(pots[:1], rows, work)
        if "transport" in stages:
            run_transport(tpots, a.temperature, a.md_steps, a.eq_steps, work)
        if "energy" in stages:
            run_energy(pots[1:], rows, work)
    meta = {"potentials": pots, "transport": tpots, "max_atoms": a.max_atoms, "temperature": a.temperature, "md_steps": a.md_steps,
            "eq_steps": a.eq_steps, "cmd": "bench_simulation.py " + " ".join(re.sub(r"^/tmp.*", "<work>", x) for x in os.sys.argv[1:])}
    OUT.write_text(render(rows, work, meta))
    (work / "meta.json").write_text(json.dumps(meta))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
