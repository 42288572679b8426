"""Retrain every surrogate from scratch, compare with the model cards, time predict().

Run: ``.venv/bin/python benchmarks/bench_models.py`` (retrains into a temporary folder,
so models/ is not touched) -> writes ``benchmarks/results/models.md``.
``--no-retrain`` only measures prediction speed and copies the card metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP_FROM = "## Structure-aware conductivity"  # this section and the following ones of models.md are kept on rewrite
KEYS = {
    "conductivity": ("metrics_test", ["mae", "mae_median_baseline", "mae_rf_magpie_baseline", "spearman", "roc_auc_fast_vs_slow", "coverage80"]),
    "formation_energy": ("metrics_test_formation_energy", ["mae", "mae_mean_baseline", "spearman", "coverage80"]),
    "shear_modulus": ("metrics_test", ["mae", "mae_mean_baseline", "spearman", "coverage80"]),
    "bulk_modulus": ("metrics_test", ["mae", "mae_mean_baseline", "spearman", "coverage80"]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-retrain", action="store_true")
    args = parser.parse_args()
    from screening.config import get_settings
    from screening.surrogates import MODEL_NAMES, load_models, predict

    cards = {n: json.loads((get_settings().models_dir / n / "card.json").read_text()) for n in MODEL_NAMES}
    lines = ["# Surrogate models benchmark", "", f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
             f"Python {platform.python_version()}. Command: `python benchmarks/bench_models.py`.", ""]  # fmt: skip
    lines += ["## Held-out metrics (from the model cards)", "", "| model | metric | card | retrained | abs diff |", "|---|---|---|---|---|"]
    retrained = {}
    times = {}
    if not args.no_retrain:
        from screening.training import retrain as train

        with tempfile.TemporaryDirectory() as tmp:
            for name, fn in (("conductivity", train.train_conductivity), ("formation_energy", train.train_formation_energy)):
                t = time.perf_counter()
                retrained[name] = fn(save=True, models_dir=tmp).card
                times[name] = time.perf_counter() - t
            t = time.perf_counter()
            for name, m in train.train_moduli(save=True, models_dir=tmp).items():
                retrained[name] = m.card
            times["moduli (G and K)"] = time.perf_counter() - t
    for name, (section, keys) in KEYS.items():
        for k in keys:
            card_v = cards[name][section][k]
            new = retrained.get(name, {}).get(section, {}).get(k)
            diff = f"{abs(new - card_v):.1e}" if new is not None else "-"
            lines.append(f"| {name} | {k} | {card_v:.4f} | {'-' if new is None else f'{new:.4f}'} | {diff} |")
    ed = cards["formation_energy"]["metrics_test_decomposition_energy"]
    lines += ["", "Decomposition energy (formation_energy model against the DFT hull of competing phases):", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in ed.items()]
    if times:
        lines += ["", "## Training time (s, 2 shared cores)", ""] + [f"- {k}: {v:.1f}" for k, v in times.items()]
    # prediction speed
    t = time.perf_counter()
    load_models()
    t_load = time.perf_counter() - t
    items = ["Li6PS5Cl", "Li7La3Zr2O12", "LiCl"]
    t = time.perf_counter()
    predict(items)
    t_first = time.perf_counter() - t
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        out = predict(items)
        runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    predict(["Li6PS5Cl", "Li7La3Zr2O12", "LiCl"] * 334, stability=False)
    t_batch = time.perf_counter() - t
    lines += ["", "## predict() speed", "", f"- load the four models: {t_load:.2f} s",
              f"- predict(3 formulas) first call (builds the default hull and 3 phase diagrams): {t_first:.2f} s",
              f"- predict(3 formulas) again (hull cached): median {sorted(runs)[2] * 1000:.0f} ms",
              f"- predict(1002 formulas, stability=False): {t_batch:.2f} s", "",
              "Example output (selected columns):", "",
              out[["formula", "log10_sigma_S_cm", "log10_sigma_S_cm_std", "e_hull_eV_atom", "G_VRH_GPa", "K_IC_MPa_m05",
                   "window_low_V", "window_high_V"]].to_markdown(index=False)]  # fmt: skip
    path = ROOT / "benchmarks" / "results" / "models.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if path.is_file() and KEEP_FROM in path.read_text():  # the hand-written sections below the measured ones
        kept = "\n" + KEEP_FROM + path.read_text().split(KEEP_FROM, 1)[1].rstrip("\n")
    path.write_text("\n".join(lines) + "\n" + kept + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
