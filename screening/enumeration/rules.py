"""Substitution rules: the dopant options of one site and the filters they pass.

For each site rule of a seed, :func:`site_options` lists the dopant options (one per
dopant and amount) and counts how many survive each option-level filter
(``oxidation_state``, ``element_pool``, ``ionic_radius``, ``substitution_probability``,
``redox`` against the parent's ions); :func:`site_choices` adds the co-doped pairs and
gives, per rule, the lists of one-dopant and two-dopant choices the enumeration combines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from pymatgen.core import Element

from screening.enumeration.options import NOBLE_GASES, EnumerationOptions
from screening.enumeration.radii import ANION_POOL, cation_pool, ion, pair_stats, shannon_radius, species_str
from screening.enumeration.records import Substitution
from screening.enumeration.redox import FORBIDDEN_PAIRS
from screening.enumeration.seeds import Seed, SiteRule

_EPS = 1e-6
#: Option-level filters, in order (the first five of ``records.FILTERS``).
OPTION_STAGES = 5


class Option(NamedTuple):
    """One dopant at one amount on one site rule."""

    rule: int
    host_el: str
    dop_el: str
    dop_oxi: int
    amount: float
    fraction: float
    charge_shift: float  # amount * (q_dop - q_host)
    li_removed: float  # amount when the host is Li
    lam: float
    prob: float
    substitution: Substitution


class Choice(NamedTuple):
    """What a candidate takes from one site rule: one option or a co-doped pair."""

    options: tuple[Option, ...]
    charge_shift: float
    li_removed: float
    li_dopants: float  # dopant atoms on Li sites per formula unit
    ions: tuple[tuple[str, int], ...]  # (element, state) of every dopant
    cations: tuple[tuple[str, int], ...]
    anions: tuple[str, ...]


def _choice(options: tuple[Option, ...]) -> Choice:
    return Choice(
        options=options,
        charge_shift=sum(o.charge_shift for o in options),
        li_removed=sum(o.li_removed for o in options),
        li_dopants=sum(o.amount for o in options if o.host_el == "Li"),
        ions=tuple((o.dop_el, o.dop_oxi) for o in options),
        cations=tuple((o.dop_el, o.dop_oxi) for o in options if o.dop_oxi > 0),
        anions=tuple(o.dop_el for o in options if o.dop_oxi < 0),
    )


def dopant_species(rule: SiteRule, host_oxi: int) -> list[tuple[str, int]]:
    """Stage ``oxidation_state``: dopant (element, state) pairs the rule allows."""
    if rule.dopants is not None:
        out = []
        for d in rule.dopants:
            el, q = ion(d)
            if el not in NOBLE_GASES:  # never a dopant, even when a manifest lists one
                out.append((el, q))
        return out
    pool = ANION_POOL if host_oxi < 0 else cation_pool()
    out = []
    for el in pool:
        if el == rule.element or el in NOBLE_GASES:
            continue
        for q in Element(el).common_oxidation_states:
            if (q < 0) == (host_oxi < 0) and q != 0 and (q - host_oxi) in rule.charge_changes:
                out.append((el, int(q)))
    return out


def _redox_ok(seed: Seed, el: str, q: int) -> bool:
    """A dopant ion against the parent's ions (cation vs parent anions, anion vs parent cations)."""
    if q > 0:
        return not any((el, q, a) in FORBIDDEN_PAIRS for a, qa in seed.oxidation_states.items() if qa < 0)
    return not any((c, qc, el) in FORBIDDEN_PAIRS for c, qc in seed.oxidation_states.items() if qc > 0)


def _grid(rule: SiteRule, q: int, host_oxi: int, opts: EnumerationOptions) -> list[tuple[float, float]]:
    if rule.amounts is not None:
        grid = [(a / rule.count, a) for a in rule.amounts]
    else:
        fractions = rule.fractions or (opts.mixing_grid if q == host_oxi else opts.doping_grid)
        grid = [(f, f * rule.count) for f in fractions]
    return [(round(f, 6), round(a, 6)) for f, a in grid if 0 < f <= 1 + _EPS]


def site_options(
    seed: Seed, rule_index: int, opts: EnumerationOptions
) -> tuple[list[list[tuple[str, bool, float]]], list[Option]]:
    """Options of one site rule that pass every option-level filter.

    Returns
    -------
    (stages, options)
        ``stages[s]`` lists ``(dopant element, isovalent, fraction)`` of the options left
        after option-level filter ``s`` (for counting singles and pairs); ``options`` the
        options left after all of them.
    """
    rule = seed.sites[rule_index]
    host_oxi = seed.oxidation_states[rule.element]
    host_sp = species_str(rule.element, host_oxi)
    r_tol = rule.radius_tolerance if rule.radius_tolerance is not None else opts.radius_tolerance
    stages: list[list[tuple[str, bool, float]]] = [[] for _ in range(OPTION_STAGES)]
    options: list[Option] = []
    for el, q in dopant_species(rule, host_oxi):
        if el in seed.oxidation_states and seed.oxidation_states[el] != q:
            continue  # would need two oxidation states of one element
        grid = _grid(rule, q, host_oxi, opts)
        items = [(el, q == host_oxi, f) for f, _ in grid]
        stages[0].extend(items)
        if el in opts.exclude or (opts.elements is not None and el not in opts.elements):
            continue
        stages[1].extend(items)
        r_host = shannon_radius(rule.element, host_oxi, rule.coordination, partner=(el, q))
        r_dop = shannon_radius(el, q, rule.coordination, partner=(rule.element, host_oxi))
        if r_host is None or r_dop is None:
            continue
        diff = abs(r_dop - r_host)
        ok = diff / r_host <= r_tol + 1e-9
        if not ok and rule.radius_abs_tolerance is not None:
            ok = diff <= rule.radius_abs_tolerance + 1e-9
        if not ok:
            continue
        stages[2].extend(items)
        dop_sp = species_str(el, q)
        lam, prob = pair_stats(host_sp, dop_sp)
        if lam < opts.min_lambda:
            continue
        stages[3].extend(items)
        if opts.redox and not _redox_ok(seed, el, q):
            continue
        stages[4].extend(items)
        for f, a in grid:
            options.append(
                Option(
                    rule=rule_index,
                    host_el=rule.element,
                    dop_el=el,
                    dop_oxi=q,
                    amount=a,
                    fraction=f,
                    charge_shift=a * (q - host_oxi),
                    li_removed=a if rule.element == "Li" else 0.0,
                    lam=lam,
                    prob=prob,
                    substitution=Substitution(host_sp, dop_sp, f, a, rule.label),
                )
            )
    return stages, options


def _pair_ok(a_iso: bool, b_iso: bool, mode: str) -> bool:
    return mode == "any" or (mode == "iso+alio" and a_iso != b_iso)


def count_pairs(items: Sequence[tuple[str, bool, float]], mode: str, grid: Sequence[float] | None) -> int:
    """Co-doped pairs among options ``(element, isovalent, fraction)``: different elements,
    fractions in ``grid`` (None: any) summing to at most 1, allowed by ``mode``."""
    if mode == "none":
        return 0
    if grid is not None:
        allowed = {round(g, 6) for g in grid}
        items = [it for it in items if it[2] in allowed]
    by_kind = Counter((iso, f) for _, iso, f in items)
    by_el = Counter(items)
    ordered = sum(
        na * nb for (ia, fa), na in by_kind.items() for (ib, fb), nb in by_kind.items()
        if fa + fb <= 1 + _EPS and _pair_ok(ia, ib, mode)
    )
    same = 0
    els = Counter(el for el, _, _ in by_el)
    for el in els:
        mine = {(iso, f): n for (e, iso, f), n in by_el.items() if e == el}
        same += sum(
            na * nb for (ia, fa), na in mine.items() for (ib, fb), nb in mine.items()
            if fa + fb <= 1 + _EPS and _pair_ok(ia, ib, mode)
        )
    return (ordered - same) // 2


def site_choices(
    seed: Seed, rule_index: int, opts: EnumerationOptions
) -> tuple[list[tuple[int, int]], list[Choice], list[Choice]]:
    """Single-dopant and co-doped choices of one site rule, with counts per option-level filter.

    Returns
    -------
    (counts, singles, pairs)
        ``counts[s] = (singles, pairs)`` left after option-level filter ``s``.
    """
    rule = seed.sites[rule_index]
    stages, options = site_options(seed, rule_index, opts)
    grid = None if (rule.amounts is not None or rule.fractions is not None) else opts.codoping_grid
    counts = [(len(items), count_pairs(items, opts.codoping, grid)) for items in stages]
    singles = [_choice((o,)) for o in options]
    pairs: list[Choice] = []
    if opts.codoping != "none":
        allowed = None if grid is None else {round(g, 6) for g in grid}
        eligible = [o for o in options if allowed is None or o.fraction in allowed]
        host_oxi = seed.oxidation_states[rule.element]
        for i, a in enumerate(eligible):
            for b in eligible[i + 1:]:
                if a.dop_el == b.dop_el or a.fraction + b.fraction > 1 + _EPS:
                    continue
                if not _pair_ok(a.dop_oxi == host_oxi, b.dop_oxi == host_oxi, opts.codoping):
                    continue
                if opts.redox and (
                    (a.dop_oxi > 0 > b.dop_oxi and (a.dop_el, a.dop_oxi, b.dop_el) in FORBIDDEN_PAIRS)
                    or (b.dop_oxi > 0 > a.dop_oxi and (b.dop_el, b.dop_oxi, a.dop_el) in FORBIDDEN_PAIRS)
                ):
                    continue  # cannot happen on one site (same sign), kept for custom rules
                pairs.append(_choice((a, b)))
    return counts, singles, pairs


def combinations_count(sizes: Sequence[tuple[int, int]], max_k: int) -> int:
    """Candidates from ``(singles, pairs)`` per rule with at most ``max_k`` dopants (parent included).

    The coefficients of prod_r (1 + singles_r t + pairs_r t^2) up to t^max_k.
    """
    e = [1] + [0] * max_k
    for n1, n2 in sizes:
        for k in range(max_k, 0, -1):
            e[k] += e[k - 1] * n1 + (e[k - 2] * n2 if k >= 2 else 0)
    return sum(e)
