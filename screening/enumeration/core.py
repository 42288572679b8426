"""The enumeration loop: combine the site choices of a seed into distinct candidates.

Two passes over the seeds share one generator, :func:`_seed_compositions`:

1. an index pass (:func:`space_index`, cached per seeds and options) hashes the
   fractional composition of every charge-balanced, per-prototype unique candidate
   (8 bytes each) and finds the compositions that several prototypes reach, and how
   many distinct candidates each prototype contributes;
2. the yielding pass builds a :class:`Candidate` for each composition the first time it
   is met, carrying the list of prototypes that reach it, and (with a budget) only for
   the ordinals the stratified sample chose.

Memory stays bounded by the largest seed's set of hashes, not by the whole space.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Composition

from screening.enumeration.options import EnumerationOptions
from screening.enumeration.plausibility import framework_anion, judge
from screening.enumeration.records import FILTERS, Candidate, EnumerationReport, fmt
from screening.enumeration.redox import FORBIDDEN_PAIRS
from screening.enumeration.rules import OPTION_STAGES, Choice, combinations_count, site_choices
from screening.enumeration.seeds import Seed
from screening.structures import composition_id

_EPS = 1e-6


@dataclass(frozen=True)
class _Combo:
    """A charge-balanced, per-prototype unique composition of one seed."""

    key: int
    li: float
    choice: tuple[Choice, ...]
    amounts: dict[str, float]
    elements_order: list[str]
    oxi: dict[str, int]


def _choice_products(
    singles: list[list[Choice]], pairs: list[list[Choice]], max_k: int
) -> Iterator[tuple[Choice, ...]]:
    """Every combination of site choices with at most ``max_k`` dopants (the empty one first).

    A rule contributes either one single-dopant choice or one co-doped pair (two dopants).
    """
    n_rules = len(singles)
    for k in range(0, max_k + 1):
        for rule_combo in itertools.combinations(range(n_rules), k):
            for sizes in itertools.product((1, 2), repeat=k):
                if sum(sizes) > max_k:
                    continue
                lists = [singles[r] if size == 1 else pairs[r] for r, size in zip(rule_combo, sizes)]
                if all(lists):
                    yield from itertools.product(*lists)


def _apply(base: dict[str, float], order: list[str], choice: tuple[Choice, ...], li: float) -> tuple[dict, list]:
    """Amounts per formula unit after the substitutions, and the element order of the formula
    (each new dopant right after its host)."""
    amounts = dict(base)
    dopants_after: dict[str, list[str]] = defaultdict(list)
    for o in (o for c in choice for o in c.options):
        amounts[o.host_el] = round(amounts[o.host_el] - o.amount, 6)
        if o.dop_el in amounts:
            amounts[o.dop_el] = round(amounts[o.dop_el] + o.amount, 6)
        else:
            amounts[o.dop_el] = o.amount
            dopants_after[o.host_el].append(o.dop_el)
    amounts["Li"] = li
    elements_order = [x for el in order for x in (el, *dopants_after.get(el, ()))]
    return amounts, elements_order


def _seed_compositions(seed: Seed, opts: EnumerationOptions, counts: dict[str, int]) -> Iterator[_Combo]:
    """Every charge-balanced composition of one seed, once each; fills ``counts`` per filter."""
    max_k = opts.max_subs(seed.max_substitutions)
    per_rule = [site_choices(seed, i, opts) for i in range(len(seed.sites))]
    for stage in range(OPTION_STAGES):
        counts[FILTERS[stage]] = combinations_count([c[stage] for c, _, _ in per_rule], max_k)
    lo, hi = seed.bounds(opts.li_min_factor, opts.li_max_factor)
    capacity = seed.li_capacity
    n_li = seed.amounts["Li"]
    order = list(seed.amounts)
    seen: set[int] = set()
    n_redox = n_implausible = n_species = n_balanced = 0
    parent_anion = framework_anion(seed.amounts, seed.oxidation_states)
    parent_els = set(seed.amounts)
    for choice in _choice_products([s for _, s, _ in per_rule], [p for _, _, p in per_rule], max_k):
        if opts.redox and len(choice) >= 2 and _cross_redox(choice):
            n_redox += 1
            continue
        if opts.min_oxidation_state_probability is not None and not _plausible(seed, choice, parent_anion, opts):
            n_implausible += 1
            continue
        if opts.max_dopant_species is not None and len(
            {el for c in choice for el, _ in c.ions} - parent_els
        ) > opts.max_dopant_species:
            n_species += 1
            continue
        li = round(n_li - sum(c.charge_shift for c in choice) - sum(c.li_removed for c in choice), 6)
        li_site = sum(c.li_dopants for c in choice)
        if li < lo - _EPS or li > hi + _EPS or li + li_site > capacity + _EPS:
            continue
        oxi = dict(seed.oxidation_states)
        if any(oxi.setdefault(el, q) != q for c in choice for el, q in c.ions):
            continue  # one element in two oxidation states
        n_balanced += 1
        amounts, elements_order = _apply(seed.amounts, order, choice, li)
        total = sum(a for a in amounts.values() if a > _EPS)
        key = hash(tuple(sorted((el, round(a / total, 6)) for el, a in amounts.items() if a > _EPS)))
        if key in seen:
            continue
        seen.add(key)
        yield _Combo(key, li, choice, amounts, elements_order, oxi)
    counts["redox"] -= n_redox
    counts["plausibility"] = counts["redox"] - n_implausible
    counts["dopant_species"] = counts["plausibility"] - n_species
    counts["charge_balance"] = n_balanced
    counts["unique"] = len(seen)


def _plausible(seed: Seed, choice: tuple[Choice, ...], parent_anion: tuple[str, int] | None, opts: EnumerationOptions) -> bool:
    """Every cation dopant is common in its oxidation state with the candidate's framework anion (SMACT; a species
    SMACT's table lacks passes). The framework anion is the parent's unless anion dopants change the majority."""
    cations = [ion for c in choice for ion in c.cations]
    threshold = opts.min_oxidation_state_probability
    if not cations or parent_anion is None or threshold is None:  # (None: the rule is off)
        return True
    anion = parent_anion
    if any(c.anions for c in choice):
        amounts = {el: a for el, a in seed.amounts.items() if seed.oxidation_states[el] < 0}
        states = dict(seed.oxidation_states)
        for o in (o for c in choice for o in c.options if o.dop_oxi < 0):
            amounts[o.host_el] -= o.amount
            amounts[o.dop_el] = amounts.get(o.dop_el, 0.0) + o.amount
            states[o.dop_el] = o.dop_oxi
        anion = framework_anion(amounts, states) or parent_anion
    return all(judge(el, q, anion, threshold) is not False for el, q in cations)


def _cross_redox(choice: tuple[Choice, ...]) -> bool:
    """A cation dopant of one site beside an anion dopant of another that it would oxidise."""
    anions = [a for c in choice for a in c.anions]
    if not anions:
        return False
    return any((el, q, a) in FORBIDDEN_PAIRS for c in choice for (el, q) in c.cations for a in anions)


@dataclass(frozen=True)
class SpaceIndex:
    """What the index pass found: per seed, its counts per filter and distinct candidates."""

    seeds: tuple[Seed, ...]
    options: EnumerationOptions
    counts: tuple[dict[str, int], ...]
    shared: dict[int, tuple[int, ...]]  # composition hash -> indices of the seeds reaching it

    def distinct(self, i: int) -> int:
        """Distinct candidates seed ``i`` yields (those not already yielded by an earlier seed)."""
        return self.counts[i]["distinct"]


_INDEX_CACHE: OrderedDict[tuple, SpaceIndex] = OrderedDict()


def space_index(seeds: tuple[Seed, ...], opts: EnumerationOptions) -> SpaceIndex:
    """Index pass over ``seeds``, cached (8 entries) on the seed objects and the options.

    The cached index keeps its seeds alive, so their ids in the key stay theirs.
    """
    key = (tuple(id(s) for s in seeds), opts)
    if key in _INDEX_CACHE:
        _INDEX_CACHE.move_to_end(key)
        return _INDEX_CACHE[key]
    index = _build_index(seeds, opts)
    _INDEX_CACHE[key] = index
    while len(_INDEX_CACHE) > 8:
        _INDEX_CACHE.popitem(last=False)
    return index


def _build_index(seeds: tuple[Seed, ...], opts: EnumerationOptions) -> SpaceIndex:
    hashes, all_counts = [], []
    for seed in seeds:
        counts: dict[str, int] = {}
        hashes.append(np.fromiter((c.key for c in _seed_compositions(seed, opts, counts)), dtype=np.int64))
        all_counts.append(counts)
    shared: dict[int, tuple[int, ...]] = {}
    if hashes:
        flat = np.concatenate(hashes)
        owner = np.concatenate([np.full(len(h), i, dtype=np.int32) for i, h in enumerate(hashes)])
        uniq, inverse, n = np.unique(flat, return_inverse=True, return_counts=True)
        multi = n[inverse] > 1
        groups: dict[int, list[int]] = defaultdict(list)
        for h, i in zip(flat[multi].tolist(), owner[multi].tolist()):
            groups[h].append(i)
        shared = {h: tuple(sorted(v)) for h, v in groups.items()}
    for i, counts in enumerate(all_counts):
        later = sum(1 for v in shared.values() if i in v and v[0] != i)
        counts["distinct"] = counts["unique"] - later
    return SpaceIndex(seeds=seeds, options=opts, counts=tuple(all_counts), shared=shared)


def seed_candidates(
    index: SpaceIndex, i: int, report: EnumerationReport | None = None, chosen: set[int] | None = None
) -> Iterator[Candidate]:
    """Candidates of seed ``i`` of the index, distinct across its seeds.

    Parameters
    ----------
    chosen
        Ordinals (0-based, among this seed's distinct candidates) to yield; None: all.
    """
    seed = index.seeds[i]
    fam, proto = seed.family, seed.prototype
    protos = [s.prototype for s in index.seeds]
    disordered_parent = not seed.structure.is_ordered
    counts: dict[str, int] = {}
    ordinal = -1
    for combo in _seed_compositions(seed, index.options, counts):
        owners = index.shared.get(combo.key)
        if owners is not None and owners[0] != i:
            continue
        ordinal += 1
        if chosen is not None and ordinal not in chosen:
            continue
        yield _candidate(seed, combo, fam, proto, disordered_parent,
                         tuple(protos[j] for j in owners) if owners else (proto,))
    if report is not None:
        for name in FILTERS[:-1]:
            report.add(fam, proto, name, counts[name])
        report.add(fam, proto, "distinct", ordinal + 1)


def _candidate(
    seed: Seed, combo: _Combo, family: str, prototype: str, disordered_parent: bool, prototypes: tuple[str, ...]
) -> Candidate:
    amounts, order = combo.amounts, combo.elements_order
    present = [el for el in order if amounts[el] > _EPS]
    formula = "".join(f"{el}{fmt(amounts[el])}" for el in present)
    comp = Composition({el: amounts[el] for el in present})
    options = [o for c in combo.choice for o in c.options]
    partial = any(o.fraction < 1 - _EPS for o in options) or abs(combo.li - seed.amounts["Li"]) > _EPS
    used = set(present)
    return Candidate(
        id=composition_id(comp, prefix=prototype),
        formula=formula,
        family=family,
        prototype=prototype,
        parent=seed.name,
        substitutions=tuple(o.substitution for o in options),
        oxidation_states={el: q for el, q in combo.oxi.items() if el in used},
        disordered=disordered_parent or partial,
        li_content=combo.li,
        likelihood=math.prod(o.prob for o in options),
        min_lambda=min((o.lam for o in options), default=math.inf),
        prototypes=prototypes,
        _seed=seed,
    )
