"""Write the example notebooks in notebooks/ from the cell sources below (outputs stripped).

The notebooks are the documentation a battery scientist copies from; keeping their source
here keeps them reviewable as code. ``python scripts/build_notebooks.py`` rewrites them;
``tests/test_notebooks.py`` checks that notebooks/ holds exactly these cells, executes every
notebook and checks it draws a plot.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


DESCRIPTORS = [
    md("""
# Structure descriptors of the seed prototypes

The thirteen parent structures in `seeds/` are the frameworks every enumerated candidate
comes from. This notebook describes them with `screening.descriptors`, compares them in a
table and two plots, and shows the matminer featurizer interface that lets the same
descriptors drop into `featurize_dataframe` and scikit-learn pipelines.
"""),
    code("""
import matplotlib.pyplot as plt
import pandas as pd
import yaml

from screening.config import get_settings
from screening.descriptors import describe_table
from screening.structures import read_structure

seeds_dir = get_settings().seeds_dir
manifest = yaml.safe_load((seeds_dir / "manifest.yaml").read_text())
seeds = pd.DataFrame(
    [{"seed": s["name"], "family": s["family"], "prototype": s["prototype"], "path": seeds_dir / s["cif"]}
     for s in manifest["seeds"] if s.get("cif")]
)
structures = [read_structure(p) for p in seeds["path"]]
seeds[["seed", "family", "prototype"]]
"""),
    md("""
`describe_table` computes every descriptor that applies to each structure: composition
(Magpie statistics, Li and anion chemistry, cost), stability against the reference hull,
and, for structures, the Li sublattice, percolation, bottlenecks, anion framework and
bond-valence site-energy (BVSE) barriers. A structure that cannot be described gets an
`error` text instead of numbers; the batch goes on.
"""),
    code("""
table = describe_table(structures, bvse=True, pbar=False)
table.insert(0, "seed", seeds["seed"].to_numpy())
columns = [
    "seed", "family", "li_li_min_dist_A", "li_cn_mean", "li_percolation_dim", "li_percolation_3d_dist_A",
    "li_bottleneck_radius_3d_A", "anion_framework", "bvse_barrier_3d_eV", "window_low_V", "window_high_V", "error",
]
table[[c for c in columns if c in table]].round(2)
"""),
    md("""
What the numbers mean:

- `li_li_min_dist_A`, `li_cn_mean`: the shortest Li-Li distance and the mean number of
  anions around a Li. Close Li-Li contacts and low coordination go with flat energy
  landscapes.
- `li_percolation_dim`: the dimension (0-3) of the network of Li sites joined by
  Li-Li distances up to 3.5 A; `li_percolation_3d_dist_A` is the shortest cutoff at which
  the network percolates in three dimensions.
- `li_bottleneck_radius_3d_A`: the widest "window" (the largest sphere that fits between
  the anions on the path) along Li paths that percolate in 3D. Larger windows, lower
  barriers.
- `bvse_barrier_3d_eV`: the migration barrier of Li through a bond-valence site-energy
  landscape (softBV parameters, Chen and Adams). It orders frameworks well but its absolute
  values are approximate.

Limits: disordered CIFs list split sites (one Li over several nearby positions with
partial occupancy). The descriptors treat positions closer than 1.6 A as one site, which
is right for split sites but can merge real sites in very dense cells; occupancies enter
the bond-valence sums as a mean field. Ordered supercells (the simulation tier) avoid this.
"""),
    code("""
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
colors = {"sulfide": "tab:orange", "halide": "tab:green", "oxide": "tab:blue"}
ok = table.dropna(subset=["bvse_barrier_3d_eV"])
axes[0].barh(ok["seed"], ok["bvse_barrier_3d_eV"], color=[colors.get(f, "grey") for f in ok["family"]])
axes[0].set_xlabel("BVSE 3D migration barrier (eV)")
axes[0].invert_yaxis()
both = table.dropna(subset=["bvse_barrier_3d_eV", "li_bottleneck_radius_3d_A"])
for fam, group in both.groupby("family"):
    axes[1].scatter(group["li_bottleneck_radius_3d_A"], group["bvse_barrier_3d_eV"], label=fam, color=colors.get(fam, "grey"))
    for _, row in group.iterrows():
        axes[1].annotate(row["seed"], (row["li_bottleneck_radius_3d_A"], row["bvse_barrier_3d_eV"]), fontsize=7)
axes[1].set_xlabel("3D bottleneck radius (A)")
axes[1].set_ylabel("BVSE 3D barrier (eV)")
axes[1].legend()
fig.tight_layout()
"""),
    md("""
## The featurizer interface

Each descriptor group is also a matminer featurizer (`featurize`, `feature_labels`,
`citations`, `implementors`), so it works on a DataFrame column with
`featurize_dataframe` and inside scikit-learn pipelines.
"""),
    code("""
from screening.descriptors.composition import LiChemistry
from screening.descriptors.structural import StructuralFeaturizer

frame = pd.DataFrame({"seed": seeds["seed"], "structure": structures})
frame["composition"] = [s.composition for s in structures]
frame = LiChemistry().featurize_dataframe(frame, "composition", ignore_errors=True, pbar=False)
frame = StructuralFeaturizer().featurize_dataframe(frame, "structure", ignore_errors=True, pbar=False)
print(StructuralFeaturizer().citations()[:1])
frame[["seed", "li_fraction", "anion_electronegativity_mean", "li_li_min_dist_A", "li_percolation_dim"]].round(3)
"""),
    md("A batch mixing formulas and structures; a bad row (`Xx2O`, an unknown element) gets an `error` text and the batch goes on."),
    code("""
batch = describe_table(["Li3YCl6", "Li7La3Zr2O12", "Xx2O", structures[0]], bvse=False, pbar=False)
batch[["formula", "family", "window_low_V", "window_high_V", "e_rxn_li_eV_atom", "error"]]
"""),
]

PREDICT = [
    md("""
# Predict the properties of your own compositions

`screening.predict` takes formulas, pymatgen `Structure`s or CIF paths and returns every
property the surrogate models know, each with its own 80% interval, plus the stability
descriptors against the Materials Project reference hull. Rows the models cannot describe
(an unknown element, a charge-imbalanced formula) come back with an `error` text and no
numbers.
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import screening

mine = ["Li6PS5Cl", "Li6PS5Br", "Li3YCl6", "Li3ScCl6", "Li7La3Zr2O12", "LiCl", "Li3PO4", "Li2Po", "LiCl3"]
table = screening.predict(mine)
show = [
    "formula", "log10_sigma_S_cm", "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80",
    "e_hull_eV_atom", "e_hull_source", "window_low_V", "window_high_V", "K_IC_MPa_m05", "error",
]
table[[c for c in show if c in table]].round(2)
"""),
    md("""
Each interval is the candidate's own: it is wider where the composition is far from the
training data. The applicability columns say whether a candidate lies inside the domain
the model was trained on; treat numbers outside it as hypotheses, not predictions.
"""),
    code("""
domain = [c for c in table.columns if "domain" in c or c.endswith("_distance")]
table[["formula"] + domain]
"""),
    code("""
good = table[table["error"].isna() | (table["error"] == "")].reset_index(drop=True)
y = good["log10_sigma_S_cm"]
err = np.vstack([y - good["log10_sigma_S_cm_lo80"], good["log10_sigma_S_cm_hi80"] - y])
fig, ax = plt.subplots(figsize=(8, 4))
ax.errorbar(range(len(good)), y, yerr=err, fmt="o", capsize=4)
ax.set_xticks(range(len(good)), good["formula"], rotation=30)
ax.set_ylabel("log10 conductivity (S/cm), 80% interval")
ax.axhline(-3, color="grey", lw=0.8, ls="--")
ax.text(len(good) - 0.5, -2.9, "1 mS/cm", ha="right", fontsize=8)
fig.tight_layout()
"""),
    md("""
## A structure file

A CIF gives the structure descriptors too (Li sublattice, bottlenecks, BVSE barriers).
Here, the Li3InCl6 seed shipped in `seeds/`; point `path` at your own file.
"""),
    code("""
from screening.config import get_settings
from screening.descriptors import describe

path = get_settings().seeds_dir / "Li3InCl6_C2m.cif"
d = describe(path, bvse=True)
pd.Series({k: d.get(k) for k in [
    "formula", "li_li_min_dist_A", "li_percolation_dim", "li_bottleneck_radius_3d_A", "bvse_barrier_3d_eV",
    "window_low_V", "window_high_V", "error",
]})
"""),
    md("The rows the models refused, with the reason:"),
    code("""
table.loc[table["error"].fillna("") != "", ["formula", "error"]]
"""),
]

EXPLORE = [
    md("""
# Explore a screen

Open one screening run from the results store, look at the trade-offs between conductivity,
electrochemical window and mechanics, and pick candidates with SQL. The store is the
DuckDB file `results/screening.duckdb` (or `SCREENING_RESULTS_PATH`); if it holds no
screen yet, the first cell runs a small one (300 enumerated candidates through the
composition, stability and structure tiers, a few minutes on 2 cores; it leaves out the
default MLIP relaxation tier, which takes minutes a candidate on CPU: add `"relax"` to
`tiers` to run it).
Set `RUN_ID` to a run id from `screening runs` to show that run; by default it is the
latest completed run, and every output names the run it shows.
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np

from screening.store import ResultStore

RUN_ID = None  # a run id from `screening runs`; None: the latest completed run

store = ResultStore()
if RUN_ID is None and store.latest_run() is None:  # no screen yet: a small one, without the MLIP relaxation tier
    from flows.screen import ScreenParameters, screen

    RUN_ID = screen(ScreenParameters(source="enumerated", limit=300, tiers=["composition", "stability", "structure"]))
run = store.run_info(RUN_ID)  # an unknown id is an error that lists the runs
run_id = run.run_id
ranked = store.query("SELECT * FROM ranked WHERE run_id = ? ORDER BY rank NULLS LAST", [run_id])
print(f"{run.label()}: {len(ranked)} candidates")
ranked[["rank", "formula", "family", "prototype", "log10_sigma_S_cm", "window_width_V", "e_hull_eV_atom"]].head(10)
"""),
    md("""
## Conductivity against electrochemical window

Each point is a candidate with its 80% conductivity interval. Wide windows protect
against decomposition at the electrodes; high conductivity is the reason to make it. The
best candidates sit top right. Candidates without a window did not reach the stability
tier (it runs on the best K of the composition tier).
"""),
    code("""
colors = {"sulfide": "tab:orange", "halide": "tab:green", "oxide": "tab:blue", "mixed-anion": "tab:purple"}
has = ranked.dropna(subset=["window_width_V", "log10_sigma_S_cm"])
fig, ax = plt.subplots(figsize=(9, 5))
for fam, g in has.groupby("family"):
    err = np.vstack([g["log10_sigma_S_cm"] - g["log10_sigma_S_cm_lo80"], g["log10_sigma_S_cm_hi80"] - g["log10_sigma_S_cm"]])
    ax.errorbar(g["window_width_V"], g["log10_sigma_S_cm"], yerr=err, fmt="o", ms=4, alpha=0.6,
                elinewidth=0.6, color=colors.get(fam, "grey"), label=fam)
for _, row in has.nsmallest(5, "rank").iterrows():
    ax.annotate(row["formula"], (row["window_width_V"], row["log10_sigma_S_cm"]), fontsize=8)
ax.set_xlabel("electrochemical window width (V)")
ax.set_ylabel("predicted log10 conductivity (S/cm)")
ax.set_title(f"run {run.run_id} ({run.name})", fontsize=9)
ax.legend()
fig.tight_layout()
"""),
    md("## Families side by side"),
    code("""
fams = [f for f in ["sulfide", "halide", "oxide", "mixed-anion"] if f in set(ranked["family"])]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].boxplot([ranked.loc[ranked["family"] == f, "log10_sigma_S_cm"].dropna() for f in fams])
axes[0].set_ylabel("predicted log10 conductivity (S/cm)")
axes[1].boxplot([ranked.loc[ranked["family"] == f, "window_width_V"].dropna() for f in fams])
for ax in axes:
    ax.set_xticks(range(1, len(fams) + 1), fams)
axes[1].set_ylabel("window width (V)")
fig.suptitle(f"run {run.run_id} ({run.name})", fontsize=9)
fig.tight_layout()
"""),
    md("""
## Mechanics

Fracture toughness `K_IC` (Niu, Niu and Oganov 2019) against the Monroe-Newman ratio
G/G_Li. An electrolyte with G above about twice the shear modulus of lithium (dashed
line) resists dendrite growth in the linear-elastic picture; stiffer is not better beyond
that (garnets pass and still grow dendrites along grain boundaries), and a brittle,
stiff electrolyte cracks against soft lithium.
"""),
    code("""
fig, ax = plt.subplots(figsize=(7, 4))
for fam, g in ranked.groupby("family"):
    ax.scatter(g["G_over_G_Li"], g["K_IC_MPa_m05"], s=10, alpha=0.6, color=colors.get(fam, "grey"), label=fam)
ax.axvline(2.0, color="k", ls="--", lw=0.8)
ax.text(2.05, ax.get_ylim()[1] * 0.95, "G = 2 G_Li", fontsize=8, va="top")
ax.set_xscale("log")
ax.set_xlabel("G / G_Li")
ax.set_ylabel("K_IC (MPa m^0.5)")
ax.set_title(f"run {run.run_id} ({run.name})", fontsize=9)
ax.legend()
fig.tight_layout()
"""),
    md("""
## Pick candidates with SQL

The store is plain DuckDB: any SQL over the `ranked` view works. Here: stable or nearly
stable candidates (at most 0.1 eV/atom above the hull) with a window of at least 0.3 V, best first.
"""),
    code("""
picked = store.query(
    \"\"\"
    SELECT rank, formula, family, prototype, round(log10_sigma_S_cm, 2) AS log10_sigma,
           round(window_low_V, 2) AS low_V, round(window_high_V, 2) AS high_V,
           round(e_hull_eV_atom, 3) AS e_hull, round(K_IC_MPa_m05, 2) AS K_IC
    FROM ranked
    WHERE run_id = ? AND window_width_V >= 0.3 AND e_hull_eV_atom <= 0.1
    ORDER BY rank NULLS LAST
    LIMIT 15
    \"\"\",
    [run_id],
)
picked
"""),
]


def write(name: str, cells) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = NOTEBOOKS / name
    nbformat.write(nb, path)
    return path


#: every notebook this script writes and its cells (``tests/test_notebooks.py`` checks notebooks/ agrees)
NOTEBOOK_CELLS = {
    "descriptors.ipynb": DESCRIPTORS,
    "explore_screen.ipynb": EXPLORE,
    "predict_your_composition.ipynb": PREDICT,
}


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in NOTEBOOK_CELLS.items():
        print("wrote", write(name, cells))


if __name__ == "__main__":
    main()
