"""MLIP energy above the hull against DFT on ternary and quaternary Li compounds like the candidates.

Rows: OBELiX structures (measured electrolytes) whose reduced formula is one of the
Materials Project ground-state compositions (Bartel et al. 2020), three or more elements,
Li in the cell, one structure per formula (the smallest). Ordered CIFs are used as they are
(primitive cell); disordered ones get the project's ordered approximant
(:func:`screening.simulation.order_structure`: the smallest supercell with whole occupancies,
seeded random orderings ranked by Ewald energy) when it has at most ``--max-atoms`` atoms,
else they are skipped and listed as such. An approximant whose formula differs from the
ground-state one is skipped too.

DFT e_hull: the decomposition energy of the ground-state set (distance from the hull of the
*other* phases; negative = below it), so the hull energy of a row is ``E_f(DFT) - E_d``. MLIP
and composition-model e_hull are measured from that same hull: ``E_f(model) - hull``. This is
the situation of a new candidate, whose composition is not in the reference hull. MLIP:
relaxation (ase FIRE, cell and positions, fmax 0.05 eV/A, <= 200 steps), formation energy
against the MP elemental references relaxed with the same potential (see
:mod:`screening.simulation.energetics`). Errors: MAE of e_hull, F1 for "stable" (e_hull <= 0)
and for "passes the gate" (e_hull <= 0.1 eV/atom, the screen's stability gate).

The OBELiX structure is the measured (often high-temperature or metastable) phase, which may
not be the MP ground-state polymorph of its formula: an error source for the MLIPs that the
composition model does not have. Most of these formulas are in the composition model's
*training* split (the split of each row is listed): an optimistic comparison for that model.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ehull_validation.py --potentials chgnet,sevenn \
        --work /tmp/ehull_validation

Rows are cached per potential in ``--work``; ``--render-only`` rewrites the report section from
them. Writes the "Stability on ternary and quaternary Li compounds" section of
benchmarks/results/simulation.md.
"""

from __future__ import annotations

import argparse
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from bench_simulation import _f1, run_energy  # same relaxation and formation energy as the binary benchmark
from bench_transport import write_section_of

OUT = Path(__file__).parent / "results" / "simulation.md"
SECTION = "## Stability on ternary and quaternary Li compounds"
GATE_EV_ATOM = 0.1


def validation_rows(max_atoms: int, min_elements: int = 3) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """Benchmark rows (``red``, ``obelix_id``, ``structure``, ``ordering``, DFT columns) and the skipped CIFs with reasons."""
    from screening.chemistry import as_composition
    from screening.datasets import load_mp_ground_states, load_obelix_structures
    from screening.simulation import order_structure

    gs = load_mp_ground_states()
    gs["red"] = [as_composition(f).reduced_formula for f in gs["formula"]]
    gs = gs.sort_values("formation_energy_eV_atom").drop_duplicates("red").set_index("red")
    rows, skipped = [], []
    for key, (s, _err) in sorted(load_obelix_structures().items()):
        if s is None:
            continue
        red = s.composition.reduced_formula
        if red not in gs.index or len(s.composition.elements) < min_elements:
            continue
        if "Li" not in {el.symbol for el in s.composition.elements}:
            skipped.append((key, red, "no Li sites in the CIF"))
            continue
        if s.is_ordered:
            cell, ordering = s.get_primitive_structure(), "ordered"
        else:
            try:
                cell, info = order_structure(s, max_atoms=max_atoms, seed=0)
                ordering = info["ordering"]
            except Exception as exc:
                skipped.append((key, red, f"disordered, no approximant of <= {max_atoms} atoms ({type(exc).__name__})"))
                continue
            if cell.composition.reduced_formula != red:
                skipped.append((key, red, f"approximant is {cell.composition.reduced_formula}"))
                continue
        if len(cell) > max_atoms:
            skipped.append((key, red, f"{len(cell)} atoms > {max_atoms}"))
            continue
        g = gs.loc[red]
        rows.append({"red": red, "obelix_id": key, "structure": cell, "ordering": ordering, "n_atoms": len(cell),
                     "n_elements": len(cell.composition.elements), "split": g["split"],
                     "ef_dft": float(g["formation_energy_eV_atom"]), "e_hull_dft": float(g["decomposition_energy_eV_atom"])})  # fmt: skip
    df = pd.DataFrame(rows).sort_values(["n_atoms", "red"]).drop_duplicates("red").reset_index(drop=True)
    return df, skipped


def metrics(truth_eh: np.ndarray, pred_eh: np.ndarray) -> dict:
    """MAE of e_hull, F1 for stable (<= 0) and for passing the gate (<= GATE_EV_ATOM)."""
    return {"rows": len(truth_eh), "mae": float(np.mean(np.abs(pred_eh - truth_eh))),
            "f1_stable": _f1(truth_eh <= 0, pred_eh <= 0), "f1_gate": _f1(truth_eh <= GATE_EV_ATOM, pred_eh <= GATE_EV_ATOM),
            "n_stable": int((truth_eh <= 0).sum()), "n_stable_pred": int((pred_eh <= 0).sum()),
            "n_gate": int((truth_eh <= GATE_EV_ATOM).sum()), "n_gate_pred": int((pred_eh <= GATE_EV_ATOM).sum())}  # fmt: skip


def render(rows: pd.DataFrame, skipped, potentials: list[str], work: Path, cmd: str) -> str:
    from screening.surrogates import predict

    base = rows.drop(columns=["structure"]).copy()
    base["hull"] = base["ef_dft"] - base["e_hull_dft"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sur = predict(list(base["red"]), stability=False)
    base["e_hull_comp"] = sur["formation_energy_eV_atom"].to_numpy() - base["hull"]
    table = ["| model | rows | MAE e_hull (eV/atom) | F1 stable (e_hull <= 0) | F1 gate (e_hull <= 0.1) |"
             " stable DFT / predicted | gate DFT / predicted | failed or unconverged |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    per = base.copy()
    for pot in potentials:
        path = work / f"energy_{pot}.csv"
        if not path.exists():
            continue
        e = pd.read_csv(path).drop_duplicates("red", keep="last")
        m = base.merge(e, on="red")
        ok = m["ef_mlip"].notna()
        mm = m[ok]
        per = per.merge(e[["red", "ef_mlip", "converged", "relax_s"]].rename(
            columns={"ef_mlip": f"ef_{pot}", "converged": f"conv_{pot}", "relax_s": f"s_{pot}"}), on="red", how="left")  # fmt: skip
        per[f"e_hull_{pot}"] = per[f"ef_{pot}"] - per["hull"]
        for label, sel in ((f"{pot} ({e['version'].iloc[0]})", mm), (f"composition model, rows of {pot}", base[base["red"].isin(mm["red"])])):
            pred = (sel["ef_mlip"] - sel["hull"]) if "ef_mlip" in sel else sel["e_hull_comp"]
            r = metrics(sel["e_hull_dft"].to_numpy(), pred.to_numpy())
            bad = f"{(~ok).sum()} / {(~mm['converged'].astype(bool)).sum()}" if "ef_mlip" in sel else "-"
            table.append(f"| {label} | {r['rows']} | {r['mae']:.3f} | {r['f1_stable']:.2f} | {r['f1_gate']:.2f} |"
                         f" {r['n_stable']} / {r['n_stable_pred']} | {r['n_gate']} / {r['n_gate_pred']} | {bad} |")  # fmt: skip
    test = base[base["split"] != "train"]
    n_ord = int((base["ordering"] == "ordered").sum())
    lines = [SECTION, "", f"Run {datetime.now(timezone.utc):%Y-%m-%d} with `{cmd}` on 2 shared CPU cores, one thread (ase path)."
             f" {len(base)} OBELiX structures whose formula is an MP ground state: {n_ord} ordered CIFs, {len(base) - n_ord}"
             f" ordered approximants of disordered ones; {int((base['n_elements'] == 3).sum())} ternaries,"
             f" {int((base['n_elements'] >= 4).sum())} with 4+ elements; {len(base) - len(test)} of the formulas are in the"
             " composition model's training split. DFT e_hull = MP decomposition energy (hull of the other phases); every"
             " model is measured from that hull. See the script's docstring for the settings.", "", *table, ""]  # fmt: skip
    cols = ["red", "obelix_id", "ordering", "n_atoms", "split", "e_hull_dft", "e_hull_comp"] + [c for p in potentials for c in (f"e_hull_{p}", f"conv_{p}") if c in per]
    lines += ["Per row (e_hull in eV/atom):", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in per[cols].iterrows():
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    skipped = [x for x in skipped if x[1] not in set(base["red"])]  # another CIF of the formula is a row
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({red}): {why}" for k, red, why in skipped) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--potentials", default="chgnet,sevenn")
    ap.add_argument("--max-atoms", type=int, default=40)
    ap.add_argument("--work", default="/tmp/ehull_validation")
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    pots = a.potentials.split(",")
    rows, skipped = validation_rows(a.max_atoms)
    print(len(rows), "rows;", len(skipped), "skipped", flush=True)
    if not a.render_only:
        run_energy(pots, rows, work)
    write_section_of(OUT, SECTION, render(rows, skipped, pots, work, "bench_ehull_validation.py " + " ".join(os.sys.argv[1:])))
    print(OUT.read_text().partition(SECTION)[2][:3000])


if __name__ == "__main__":
    main()
