"""Candidate windows benchmark (issue 10): how many enumerated candidates get a zero-width window, and why.

Draws a stratified sample of ``--n`` enumerated candidates (``enumerate_candidates(limit=n,
seed=0)``: every prototype and family represented), predicts every property with
:func:`screening.predict` (stability included: the candidate enters the reference hull at
its predicted formation energy, see :mod:`screening.descriptors.stability`) and counts, per
``window_source``, the rows whose window is zero-width (``window_width_V < 0.001`` V).
A zero-width window is expected only from a ``facet`` window (no formation energy, so no
candidate phase); the target is fewer than 5 % of the candidates zero-width without the
``facet`` flag. It also checks that Li6PS5Br and Li6PS5Cl differ in window or reaction energies.

    .venv/bin/python benchmarks/bench_windows.py [--n 5000]

Writes benchmarks/results/windows.md.
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

import screening  # noqa: E402
from screening.enumeration import enumerate_candidates  # noqa: E402

OUT = Path(__file__).parent / "results" / "windows.md"
ZERO_V = 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cands = list(enumerate_candidates(limit=args.n, seed=0))
    t_enum = time.perf_counter() - t0
    formulas = [c.formula for c in cands]
    t0 = time.perf_counter()
    table = screening.predict(formulas)
    t_pred = time.perf_counter() - t0
    table["prototype_seed"] = [c.prototype for c in cands]

    ok = table["error"].isna()
    width = table["window_width_V"]
    zero = ok & (width < ZERO_V)
    lines = [
        "# Candidate windows benchmark",
        "",
        f"- date: {date.today()}; machine: {platform.machine()}, {os.cpu_count()} cores (shared), one used",
        f"- re-run: `.venv/bin/python benchmarks/bench_windows.py --n {args.n}`",
        f"- {len(cands)} enumerated candidates (stratified `limit={args.n}, seed=0`) from "
        f"{table['prototype_seed'].nunique()} prototypes, enumerated in {t_enum:.0f} s; "
        f"`screening.predict` with stability in {t_pred:.0f} s ({1e3 * t_pred / max(1, len(cands)):.1f} ms a candidate)",
        f"- error rows: {int((~ok).sum())}",
        "",
        "| window_source | rows | zero-width (< 1 mV) | share of all candidates | median width (V) |",
        "|---|---|---|---|---|",
    ]
    for source, g in table[ok].groupby(table["window_source"].fillna("none")):
        z = int((g["window_width_V"] < ZERO_V).sum())
        lines.append(f"| {source} | {len(g)} | {z} | {100 * z / len(table):.2f} % | {np.nanmedian(g['window_width_V']):.2f} |")
    unflagged = zero & (table["window_source"] != "facet")
    share = 100 * unflagged.sum() / len(table)
    lines += [
        "",
        f"Zero-width windows without the `facet` flag: {int(unflagged.sum())} of {len(table)} ({share:.2f} %); "
        f"target below 5 %: {'met' if share < 5 else 'NOT met'}.",
        "",
    ]
    by_proto = table[ok].assign(zero=zero[ok]).groupby("prototype_seed")["zero"].agg(["size", "sum"])
    lines += ["Zero-width windows by prototype:", "", "| prototype | candidates | zero-width |", "|---|---|---|"]
    lines += [f"| {p} | {int(r['size'])} | {int(r['sum'])} |" for p, r in by_proto.iterrows()]

    pair = screening.predict(["Li6PS5Br", "Li6PS5Cl"]).set_index("formula")
    cols = ["window_low_V", "window_high_V", "e_rxn_li_eV_atom", "e_rxn_licoo2_eV_atom", "e_rxn_h2o_eV_atom", "window_source"]
    lines += ["", "Li6PS5Br against Li6PS5Cl:", "", "| formula | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for f, r in pair[cols].iterrows():
        lines.append(f"| {f} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    differ = [c for c in cols[:-1] if abs(pair.at["Li6PS5Br", c] - pair.at["Li6PS5Cl", c]) > 1e-6]
    lines += ["", f"Columns that differ: {', '.join(differ) or 'none'}.", ""]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
