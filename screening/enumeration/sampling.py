"""Candidate budgets: a stratified, seeded sample of the space instead of a prefix.

A budget of ``limit`` candidates is split equally between the families present, then
equally between the prototypes of each family; a stratum with fewer candidates than its
share gives the rest to the others (water filling), so every prototype with candidates
gets at least one when ``limit`` is at least the number of prototypes. Within a
prototype the candidates are drawn uniformly without replacement by
``random.Random(f"{seed}:{prototype}")``: the same ``limit`` and ``seed`` give the
same candidates on any machine.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def water_fill(total: int, caps: Sequence[int]) -> list[int]:
    """Split ``total`` into integer shares as equal as possible, share ``i`` at most ``caps[i]``.

    Returns
    -------
    list of int
        Shares summing to ``min(total, sum(caps))``; leftover units go to the first strata.
    """
    out = [0] * len(caps)
    remaining = min(int(total), sum(caps))
    active = [i for i, c in enumerate(caps) if c > 0]
    while remaining > 0 and active:
        share = remaining // len(active)
        if share == 0:
            for i in active[:remaining]:
                out[i] += 1
            break
        for i in active:
            give = min(share, caps[i] - out[i])
            out[i] += give
            remaining -= give
        active = [i for i in active if out[i] < caps[i]]
    return out


def allocate(limit: int, strata: Sequence[tuple[str, str, int]]) -> list[int]:
    """Candidates to draw per ``(family, prototype, available)`` stratum for a budget of ``limit``."""
    if limit < 0:
        raise ValueError(f"limit={limit}: must be >= 0")
    families: dict[str, list[int]] = {}
    for i, (fam, _, _) in enumerate(strata):
        families.setdefault(fam, []).append(i)
    fam_caps = [sum(strata[i][2] for i in idx) for idx in families.values()]
    fam_share = water_fill(limit, fam_caps)
    out = [0] * len(strata)
    for share, idx in zip(fam_share, families.values()):
        for i, n in zip(idx, water_fill(share, [strata[i][2] for i in idx])):
            out[i] = n
    return out


def choose(n: int, k: int, seed: int, prototype: str) -> set[int] | None:
    """Ordinals (0-based) of the ``k`` candidates drawn out of ``n``; None when all are kept."""
    if k >= n:
        return None
    return set(random.Random(f"{seed}:{prototype}").sample(range(n), k))
