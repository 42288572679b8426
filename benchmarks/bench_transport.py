"""Li transport from MLIP molecular dynamics against measured conductivity, several temperatures.

For each known material (OBELiX entries with a measured room-temperature conductivity,
ordered or ordered by :func:`screening.simulation.order_structure`): a supercell of at
least ``--min-atoms`` atoms, a short relaxation, then NVT MD (ase Berendsen, 2 fs) at each
temperature; the Li positions are stored per run (``--work``/traj_<material>_<T>K.npz), so
the analysis can be redone without the MD. Analysis (:func:`screening.simulation.
kinisi_diffusion`): Li tracer diffusivity with its statistical uncertainty from kinisi
(Bayesian regression of the MSD with the covariance between time lags), then the Arrhenius
fit (Ea with its error) and sigma(300 K) with a 68% interval (:func:`screening.simulation.
arrhenius_fit`), and the quality checks the screen applies before it ranks on MD
conductivity (:func:`screening.simulation.transport_quality`). Against measurement:
ROC AUC for "measured sigma(300 K) >= 1e-4 S/cm", Spearman rank correlation, the Ea.

CPU (what ran here, background, one thread; ends by ``--deadline`` UTC, later runs are
cut and say so)::

    OMP_NUM_THREADS=1 python benchmarks/bench_transport.py --materials cpu --temperatures 800,1000 \
        --ps 10 --min-atoms 16 --work /tmp/transport_cpu --deadline 10:22

GPU (full length)::

    python benchmarks/bench_transport.py --device cuda --materials gpu --temperatures 700,850,1000 \
        --ps 20 --min-atoms 100 --work /tmp/transport_gpu

Rows are cached in ``--work``; ``--render-only`` rewrites the report section from them.
Writes the "Transport from multi-temperature MD" section of benchmarks/results/simulation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "results" / "simulation.md"
SECTION = "## Transport from multi-temperature MD"
FAST_LOG10_S_CM = -4.0

#: (name, OBELiX id); every one has a measured room-temperature conductivity in OBELiX. Not b4c: OBELiX
#: labels it Li4SiS4 but its CIF holds only Si and S (:func:`check_has_li` refuses it)
CPU_MATERIALS = [("Li3N", "gvd"), ("LiScO2", "sg0"), ("Li3P", "11b"), ("Li3OBr", "qbb"), ("Li3OCl", "4p7")]
GPU_MATERIALS = CPU_MATERIALS + [
    ("Li10GeP2S12", "mtn"), ("Li7P3S11", "mdp"), ("Li6PS5Cl", "122"), ("Li3YCl6", "ei3"),
    ("Li3PO4", "w7d"), ("Li4GeS4", "e6b"), ("Li3PS4", "nhq"), ("LiZnPS4", "i47"), ("Li3BN2", "qa9"),
]  # fmt: skip


def production_ps(n_frames: int, timestep_fs: float, sample_every: int) -> float:
    """Production MD of a stored run (ps): :func:`screening.simulation.run_md` keeps one snapshot at the
    end of each ``sample_every``-step interval after equilibration, so ``n_frames`` snapshots are
    ``n_frames * sample_every`` steps (not ``n_frames - 1``: the first snapshot ends an interval too)."""
    return n_frames * timestep_fs * sample_every / 1000.0


def check_has_li(structure, name: str, key: str) -> None:
    """:class:`SimulationError` naming the material when its structure has no Li (nothing to diffuse)."""
    from screening.errors import SimulationError

    if "Li" not in {el.symbol for el in structure.composition.elements}:
        raise SimulationError(f"{name} (OBELiX {key}): the structure has no Li sites"
                              f" ({structure.composition.reduced_formula}); Li transport needs Li")  # fmt: skip


def supercell(structure, min_atoms: int, max_atoms: int):
    """Ordered supercell of at least ``min_atoms`` atoms: the primitive cell grown along its shortest axis first."""
    from screening.simulation import order_structure

    s, info = order_structure(structure, max_atoms=max_atoms, seed=0)
    if s.is_ordered and info["ordering"] == "ordered":
        s = s.get_primitive_structure()
    scale = [1, 1, 1]
    while len(s) * np.prod(scale) < min_atoms:
        axis = int(np.argmin([s.lattice.abc[i] * scale[i] for i in range(3)]))
        scale[axis] += 1
    return s * scale, info["ordering"]


def run_md_stage(materials, temps, ps, min_atoms, device, potential, work: Path, deadline: float | None) -> None:
    """MD per (material, temperature); each run's Li trajectory saved as it finishes."""
    from screening.datasets import load_obelix_structures
    from screening.simulation import relax, run_md

    structs = load_obelix_structures([k for _, k in materials])
    steps = int(round(ps * 1000 / 2.0))
    for name, key in materials:
        s0, err = structs.get(key, (None, "no CIF"))
        if s0 is None:
            print(name, "skipped:", err, flush=True)
            continue
        try:
            check_has_li(s0, name, key)
        except Exception as exc:  # one bad material does not stop the others
            print(name, "skipped:", exc, flush=True)
            continue
        cell, ordering = supercell(s0, min_atoms, max_atoms=max(4 * min_atoms, 200))
        relaxed = None
        for temp in temps:
            path = work / f"traj_{name}_{temp:.0f}K.npz"
            if path.exists():
                continue
            if deadline is not None and time.time() > deadline:
                print(name, temp, "not started: past the deadline", flush=True)
                continue
            if relaxed is None:
                relaxed = relax(cell, potential, fmax=0.1, steps=100, device=device)["structure"]
            t0 = time.perf_counter()
            md = run_md(relaxed, temp, potential, steps=steps, timestep_fs=2.0, equilibration_steps=250,
                        sample_every=10, seed=0, device=device, deadline=deadline)  # fmt: skip
            frac = np.array([snap.frac_coords for snap in md["snapshots"]])
            np.savez_compressed(
                path, frac=frac, lattice=relaxed.lattice.matrix, species=np.array([str(sp) for sp in relaxed.species]),
                temperature_K=temp, timestep_fs=2.0, sample_every=10, wall_s=md["wall_s"], atom_steps=md["atom_steps"],
                mean_temperature_K=md["mean_temperature_K"], truncated=md["truncated"], ordering=ordering,
                potential=potential, device=device or "", obelix_id=key,
            )  # fmt: skip
            rate = md["atom_steps"] / md["wall_s"]
            print(f"{name} {temp:.0f} K: {len(cell)} atoms, {len(frac)} frames, {time.perf_counter() - t0:.0f} s,"
                  f" {rate:.0f} atom-steps/s, truncated={md['truncated']}", flush=True)  # fmt: skip


def analyse(work: Path) -> pd.DataFrame:
    """One row per stored run: kinisi diffusivity with its credible interval, the run's length and speed."""
    from pymatgen.core import Structure

    from screening.simulation import kinisi_diffusion

    rows = []
    for path in sorted(work.glob("traj_*K.npz")):
        z = np.load(path)
        lattice, species = z["lattice"], [str(x) for x in z["species"]]
        snaps = [Structure(lattice, species, f) for f in z["frac"]]
        name = path.stem.split("_")[1]
        rec = {"name": name, "obelix_id": str(z["obelix_id"]), "T_K": float(z["temperature_K"]), "n_atoms": len(species),
               "ordering": str(z["ordering"]), "ps": production_ps(len(snaps), float(z["timestep_fs"]), int(z["sample_every"])),
               "truncated": bool(z["truncated"]), "md_s": float(z["wall_s"]), "atom_steps": int(z["atom_steps"]),
               "T_mean_K": float(z["mean_temperature_K"])}  # fmt: skip
        try:
            rec.update(kinisi_diffusion(snaps, rec["T_K"], float(z["timestep_fs"]), int(z["sample_every"])))
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(rec)
        print(name, rec["T_K"], rec.get("D_cm2_s"), rec.get("error"), flush=True)
    return pd.DataFrame(rows)


def fits(runs: pd.DataFrame, work: Path) -> pd.DataFrame:
    """Per material: Arrhenius fit, sigma(300 K) with interval, the quality verdict, the measured value."""
    from pymatgen.core import Structure

    from screening.datasets import load_obelix
    from screening.simulation import arrhenius_fit, transport_quality

    meas = dict(zip(load_obelix()["id"], load_obelix()["log10_sigma_S_cm"]))
    out = []
    for name, g in runs.groupby("name", sort=False):
        g = g.sort_values("T_K")
        z = np.load(next(work.glob(f"traj_{name}_*K.npz")))
        cell = Structure(z["lattice"], [str(x) for x in z["species"]], z["frac"][0])
        rec = {"name": name, "obelix_id": g["obelix_id"].iloc[0], "n_atoms": int(g["n_atoms"].iloc[0]),
               "ordering": g["ordering"].iloc[0], "temperatures": ", ".join(f"{t:.0f}" for t in g["T_K"]),
               "min_ps": float(g["ps"].min()), "measured_log10": meas.get(g["obelix_id"].iloc[0], np.nan)}  # fmt: skip
        ok = g["D_cm2_s"].notna() if "D_cm2_s" in g else pd.Series(False, index=g.index)
        try:
            fit = arrhenius_fit(g["T_K"][ok], g["D_cm2_s"][ok], g["D_cm2_s_std"][ok], cell)
            rec.update(fit)
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
        q = transport_quality(g[ok].to_dict("records"), rec if "Ea_eV" in rec else None)
        rec.update(quality_ok=q["ok"], quality=q["reason"])
        out.append(rec)
    return pd.DataFrame(out)


def render(runs: pd.DataFrame, mats: pd.DataFrame, meta: dict) -> str:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    lines = [SECTION, "", meta["header"], "", "Per run (kinisi diffusivity: posterior median and 68% credible interval):", "",
             "| material | T (K) | atoms | ps | truncated | D (cm^2/s) | D 68% interval | MSD at end (A^2) | mean T (K) | atom-steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for _, r in runs.iterrows():
        lines.append(f"| {r['name']} | {r['T_K']:.0f} | {r['n_atoms']} | {r['ps']:.1f} | {r['truncated']} | {r.get('D_cm2_s', np.nan):.2e} |"
                     f" {r.get('D_cm2_s_lo68', np.nan):.1e} - {r.get('D_cm2_s_hi68', np.nan):.1e} | {r.get('msd_final_A2', np.nan):.2f} |"
                     f" {r['T_mean_K']:.0f} | {r['atom_steps'] / r['md_s']:.0f} |")  # fmt: skip
    lines += ["", "Per material (Arrhenius over the temperatures run; sigma(300 K) by Nernst-Einstein, Haven ratio 1):", "",
              "| material | OBELiX | atoms | ordering | T (K) | Ea (eV) | Ea std | log10 sigma300 (S/cm) | 68% interval | measured | quality |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for _, r in mats.iterrows():
        lo, hi = r.get("log10_sigma_S_cm_lo68", np.nan), r.get("log10_sigma_S_cm_hi68", np.nan)
        lines.append(f"| {r['name']} | {r['obelix_id']} | {r['n_atoms']} | {r['ordering']} | {r['temperatures']} | {r.get('Ea_eV', np.nan):.2f} |"
                     f" {r.get('Ea_eV_std', np.nan):.2f} | {r.get('log10_sigma_S_cm', np.nan):.2f} | {lo:.2f} - {hi:.2f} |"
                     f" {r['measured_log10']:.2f} | {'pass' if r['quality_ok'] else 'fail: ' + str(r['quality'])} |")  # fmt: skip
    m = mats[mats.get("log10_sigma_S_cm", pd.Series(np.nan, index=mats.index)).notna() & mats["measured_log10"].notna()]
    fast = (m["measured_log10"] >= FAST_LOG10_S_CM).to_numpy()
    auc = roc_auc_score(fast, m["log10_sigma_S_cm"]) if 0 < fast.sum() < len(m) else float("nan")
    rho = spearmanr(m["log10_sigma_S_cm"], m["measured_log10"]).statistic if len(m) >= 3 else float("nan")
    rho_ea = spearmanr(m["Ea_eV"], -m["measured_log10"]).statistic if len(m) >= 3 else float("nan")
    mae = float(np.mean(np.abs(m["log10_sigma_S_cm"] - m["measured_log10"]))) if len(m) else float("nan")
    lines += ["", f"Against measurement ({len(m)} materials, {int(fast.sum())} fast = measured sigma(300 K) >= 1e-4 S/cm):"
              f" ROC AUC **{auc:.2f}**, Spearman (log10 sigma300 vs measured) **{rho:.2f}**, Spearman (Ea vs -measured)"
              f" {rho_ea:.2f}, MAE log10 sigma300 {mae:.2f}; {int(mats['quality_ok'].sum())} of {len(mats)} fits pass the"
              " quality checks.", ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_section_of(path: Path, section: str, text: str) -> None:
    """Replace (or append) one ``## `` section of a markdown report, leaving the rest as it is."""
    old = path.read_text() if path.exists() else ""
    head, sep, tail = old.partition(section)
    rest = ""
    if sep:
        nxt = tail.find("\n## ")
        rest = tail[nxt + 1 :] if nxt >= 0 else ""
    path.write_text(head.rstrip() + "\n\n" + text + ("\n" + rest if rest else ""))


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of simulation.md."""
    write_section_of(OUT, SECTION, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--materials", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--temperatures", default="800,1000")
    ap.add_argument("--ps", type=float, default=10.0, help="production MD per temperature (ps)")
    ap.add_argument("--min-atoms", type=int, default=16)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when torch sees a GPU)")
    ap.add_argument("--potential", default="chgnet")
    ap.add_argument("--work", default="/tmp/transport_cpu")
    ap.add_argument("--deadline", default=None, help="HH:MM UTC today: no run starts, and production stops, after it")
    ap.add_argument("--names", default=None, help="comma-separated material names: run only these (e.g. to split the list over processes sharing --work)")
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    temps = [float(t) for t in a.temperatures.split(",")]
    mats = CPU_MATERIALS if a.materials == "cpu" else GPU_MATERIALS
    if a.names:
        wanted = a.names.split(",")
        unknown = sorted(set(wanted) - {n for n, _ in mats})
        if unknown:
            ap.error(f"--names: {', '.join(unknown)} not in the {a.materials} materials ({', '.join(n for n, _ in mats)})")
        mats = [m for m in mats if m[0] in wanted]
    deadline = None
    if a.deadline:
        hh, mm = map(int, a.deadline.split(":"))
        deadline = datetime.now(timezone.utc).replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
    if not a.render_only:
        run_md_stage(mats, temps, a.ps, a.min_atoms, a.device, a.potential, work, deadline)
    runs = analyse(work)
    runs.to_csv(work / "runs.csv", index=False)
    per = fits(runs, work)
    per.to_csv(work / "materials.csv", index=False)
    args = " ".join(os.sys.argv[1:])
    meta = json.loads((work / "meta.json").read_text()) if (work / "meta.json").exists() and a.render_only else {
        "header": f"Run {datetime.now(timezone.utc):%Y-%m-%d} with `bench_transport.py {args}` ({a.potential}, device"
                  f" {a.device or 'default'}, NVT Berendsen taut 100 fs, 2 fs, 0.5 ps equilibration, {a.ps:g} ps production"
                  f" per temperature at the relaxed 0 K volume, cells >= {a.min_atoms} atoms)."}  # fmt: skip
    (work / "meta.json").write_text(json.dumps(meta))
    write_section(render(runs, per, meta))
    print(OUT.read_text().partition(SECTION)[2][:4000])


if __name__ == "__main__":
    main()
