"""Write the example notebooks in notebooks/ from the cell sources below (outputs stripped).

The notebooks are the documentation a battery scientist copies from; keeping their source
here keeps them reviewable as code. ``python scripts/build_notebooks.py`` rewrites them;
``tests/test_notebooks.py`` executes every notebook and checks it draws a plot.
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


def write(name: str, cells) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = NOTEBOOKS / name
    nbformat.write(nb, path)
    return path


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in [("descriptors.ipynb", DESCRIPTORS), ("predict_your_composition.ipynb", PREDICT)]:
        print("wrote", write(name, cells))


if __name__ == "__main__":
    main()
