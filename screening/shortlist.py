"""A shortlist a chemist can act on: diverse across prototypes, and each row says why it ranks there.

Diversity
    :func:`prototype_ranks` numbers the rows that pass the gates within their parent
    prototype, in rank order (1 = the prototype's best); rows without a prototype (OBELiX,
    structure files) and rows that fail a gate get none. :func:`shortlist` takes the best
    ``n`` rows holding at most ``per_prototype`` of one prototype (0: no cap) and counts
    what the cap held back. The stored ranking is not changed: ``rank`` stays the order
    of the weighted score, ``prototype_rank`` is a column beside it, so ``screening top
    --per-prototype N`` and SQL (``WHERE prototype_rank <= 10``) give the same shortlist.
Why
    :func:`why_text` writes one line per row from the ranking's normalised terms: each
    weighted objective's percentile among the rows that pass the gates (0 worst, 100
    best) with its weight, the largest contribution (weight x percentile) first, e.g.
    ``conductivity p97 x1, oxidation p88 x0.4, cost p70 x0.2, ...``; a row that fails a
    gate says which (``fails e_hull_eV_atom``); a missing objective is listed as
    ``no value``. :func:`screening.ranking.rank` stores it in the ``why`` column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_PER_PROTOTYPE", "prototype_ranks", "shortlist", "why_text", "held_back_text"]

#: default cap per prototype of a run's table (a top 100 then spans at least 10 prototypes)
DEFAULT_PER_PROTOTYPE = 10


def prototype_ranks(ranked: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """Rank of each row within its prototype among the rows that pass the gates (1 best; NA for the others).

    Needs ``rank`` and ``prototype`` (without ``prototype``: every row NA); ``passes_gates``
    (or the old ``passes_filters``) says which rows pass, absent: all.
    """
    out = pd.array(np.full(len(ranked), pd.NA), dtype="Int64")
    if "prototype" not in ranked or "rank" not in ranked or not len(ranked):
        return out
    passes = _passes(ranked)
    proto = ranked["prototype"]
    ok = passes & proto.notna().to_numpy() & (proto.astype(str).str.len() > 0).to_numpy()
    if ok.any():
        sub = pd.DataFrame({"p": proto.to_numpy()[ok], "r": pd.to_numeric(ranked["rank"]).to_numpy()[ok]})
        values = sub.groupby("p")["r"].rank(method="first").astype("int64").to_numpy()
        out[np.flatnonzero(ok)] = values
    return out


def _passes(ranked: pd.DataFrame) -> np.ndarray:
    for column in ("passes_gates", "passes_filters"):
        if column in ranked:
            return ranked[column].fillna(False).astype(bool).to_numpy()
    return np.ones(len(ranked), dtype=bool)


def shortlist(ranked: pd.DataFrame, n: int, per_prototype: int = DEFAULT_PER_PROTOTYPE) -> tuple[pd.DataFrame, dict]:
    """The best ``n`` rows that pass the gates, at most ``per_prototype`` of one prototype (0: no cap).

    Returns ``(rows, held)``: the rows best first, and what the cap did: ``held_back`` (rows
    ranked above the last one shown that the cap skipped), ``by_prototype`` (those per
    prototype), ``beyond_cap`` (every passing row past the cap, the funnel's count) and
    ``per_prototype``. Uses the ``prototype_rank`` column when the table has one.
    """
    if per_prototype < 0:
        raise ValueError(f"per_prototype={per_prototype}: must be >= 0 (0: no cap)")
    passing = ranked[_passes(ranked)]
    passing = passing.sort_values("rank") if "rank" in passing else passing
    held = {"per_prototype": per_prototype, "held_back": 0, "by_prototype": {}, "beyond_cap": 0}
    if not per_prototype or not len(passing):
        return passing.head(n), held
    prank = passing["prototype_rank"] if "prototype_rank" in passing else pd.Series(prototype_ranks(passing), index=passing.index)
    prank = pd.to_numeric(prank, errors="coerce")
    within = (prank.isna() | (prank <= per_prototype)).to_numpy()
    best = passing[within].head(n)
    held["beyond_cap"] = int((~within).sum())
    if len(best):
        last = best["rank"].max() if "rank" in best else None
        skipped = passing[~within]
        if last is not None:
            skipped = skipped[skipped["rank"] < last] if len(best) == n else skipped
        held["held_back"] = len(skipped)
        held["by_prototype"] = dict(Counter(skipped["prototype"].astype(str)).most_common()) if "prototype" in skipped else {}
    return best, held


def held_back_text(held: dict, n_shown: int) -> str:
    """A sentence on what the per-prototype cap held back from a table of ``n_shown`` rows ("" when nothing)."""
    if not held.get("per_prototype") or not held.get("held_back"):
        return ""
    parts = ", ".join(f"{p} {k}" for p, k in held["by_prototype"].items())
    return (f"The table shows at most {held['per_prototype']} candidates per prototype: {held['held_back']} that rank "
            f"above its last row were held back ({parts}); per_prototype=0 shows the plain ranking.")  # fmt: skip


def _labels(names: Sequence[str]) -> list[str]:
    from screening.ranking import OBJECTIVES

    return [OBJECTIVES[c].failure_mode if c in OBJECTIVES else c for c in names]


def why_text(
    terms: np.ndarray,
    names: Sequence[str],
    weights: np.ndarray,
    *,
    normalise: str = "rank",
    gate_failed: np.ndarray | None = None,
    missing: np.ndarray | None = None,
) -> np.ndarray:
    """One line per row: the weighted terms that place it, largest contribution first.

    Parameters
    ----------
    terms
        ``rows x objectives`` normalised terms of :func:`screening.ranking.rank` (percentile
        in [0, 1] for ``normalise="rank"``, a clipped robust z otherwise; NaN: no value).
    names, weights
        The objective columns and their weights (terms with weight 0 are left out).
    gate_failed, missing
        Per row, the comma-joined gates it fails and the columns it has no value for
        (the ranking's columns of those names); a row that fails a gate reads ``fails ...``.

    Returns
    -------
    numpy array of str
        Built from lookup tables of the few distinct term texts, so a 10^6-row ranking
        costs well under a second.
    """
    terms = np.asarray(terms, dtype=float).reshape(len(terms), len(names))
    weights = np.asarray(weights, dtype=float)
    keep = np.flatnonzero(weights > 0)
    labels = _labels([names[int(j)] for j in keep])
    n = len(terms)
    if not len(keep) or not n:
        out = np.full(n, "", dtype=object)
    else:
        t, w = terms[:, keep], weights[keep]
        if normalise == "rank":
            codes = np.rint(np.nan_to_num(t, nan=-1.0) * 100).astype(int)  # 0..100, -1: none
            texts = [[f"{lab} p{p} x{wj:g}" for p in range(101)] for lab, wj in zip(labels, w)]
            offset, size = 0, 101
        else:
            codes = np.rint(np.nan_to_num(t, nan=-99.0) * 10).astype(int) + 30  # -3.0..3.0 in steps of 0.1
            texts = [[f"{lab} z{(p - 30) / 10:+.1f} x{wj:g}" for p in range(61)] for lab, wj in zip(labels, w)]
            offset, size = 0, 61
        table = np.array([s for row in texts for s in row] + [""], dtype=object)
        none = len(table) - 1
        contribution = np.where(np.isnan(t), -np.inf, np.nan_to_num(t, nan=0.0) * w)
        order = np.argsort(-contribution, axis=1, kind="stable")
        out = np.full(n, "", dtype=object)
        rows = np.arange(n)
        for k in range(len(keep)):
            j = order[:, k]
            code = codes[rows, j]
            valid = (code >= offset) & (code < size)
            piece = table[np.where(valid, j * size + np.clip(code, 0, size - 1), none)]
            sep = np.where((out != "") & valid, ", ", "")
            out = out + sep.astype(object) + piece
    if missing is not None:
        codes, uniques = pd.factorize(pd.Series(missing, dtype=object).fillna(""))
        note = np.array([f"no value: {u}" if u else "" for u in uniques] + [""], dtype=object)[codes]
        out = out + np.where((out != "") & (note != ""), "; ", "").astype(object) + note
    if gate_failed is not None:
        codes, uniques = pd.factorize(pd.Series(gate_failed, dtype=object).fillna(""))
        fails = np.array([f"fails {u}" if u else "" for u in uniques] + [""], dtype=object)[codes]
        out = np.where(fails != "", fails, out)
    return out.astype(object)
