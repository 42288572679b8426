"""Structures of candidates: dopants as partial occupancies on the parent CIF."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pymatgen.core import Lattice, Species, Structure

from screening.enumeration.radii import ion, shannon_radius
from screening.enumeration.seeds import Seed, SeedError, load_seeds
from screening.errors import ScreeningError


class Buildable(Protocol):
    """What :func:`build_structure` reads of a candidate (a :class:`~screening.enumeration.records.Candidate`).

    A protocol, not the class: ``records`` imports this module (``Candidate.structure()``), so this
    module does not import ``records``, not even for its annotations. Read-only members, as the
    frozen dataclass has them.
    """

    @property
    def id(self) -> str: ...
    @property
    def formula(self) -> str: ...
    @property
    def parent(self) -> str: ...
    @property
    def substitutions(self) -> Sequence[Any]: ...  # of records.Substitution
    @property
    def oxidation_states(self) -> Mapping[str, int]: ...
    @property
    def li_content(self) -> float: ...
    @property
    def _seed(self) -> Seed | None: ...


_EPS = 1e-6


def _water_fill(weights: list[float], caps: list[float], target: float) -> list[float]:
    """Split ``target`` in proportion to ``weights`` without exceeding ``caps``."""
    out = [0.0] * len(weights)
    active = [i for i, w in enumerate(weights) if w > 0 and caps[i] > _EPS]
    remaining = target
    while active and remaining > _EPS:
        total_w = sum(weights[i] for i in active)
        scale = remaining / total_w
        saturated = [i for i in active if weights[i] * scale >= caps[i] - 1e-12]
        if not saturated:
            for i in active:
                out[i] = weights[i] * scale
            return out
        for i in saturated:
            out[i] = caps[i]
            remaining -= caps[i]
        active = [i for i in active if i not in saturated]
    if remaining > 1e-4:
        raise ScreeningError(f"not enough Li sites: {remaining:.3f} Li per cell left over")
    return out


def build_structure(candidate: Buildable, seeds: Sequence[Seed] | None = None) -> Structure:
    """Build the structure of a candidate from its parent CIF.

    Dopants go onto the host's sites as partial occupancies (``fraction`` of each host
    site); dopants on Li sites are spread over the Li sites in proportion to their Li
    occupancy; the candidate's Li content is then spread over the Li sites the same way,
    capped at full occupancy. Species carry the oxidation states. The lattice is scaled
    isotropically so that the volume changes like the sum of cubed Shannon radii.

    Parameters
    ----------
    candidate
        A candidate from :func:`enumerate_candidates`.
    seeds
        Seeds to look the parent up in when the candidate carries none (e.g. after
        pickling across processes without the seed); default: the bundled manifest.

    Returns
    -------
    Structure
        Usually disordered (fractional occupancies).

    Raises
    ------
    ScreeningError
        When the parent is unknown or the Li sites cannot hold the Li content.
    """
    seed = candidate._seed
    if seed is None:
        pool = seeds if seeds is not None else load_seeds()
        seed = next((s for s in pool if s.name == candidate.parent), None)
        if seed is None:
            raise SeedError(f"seed {candidate.parent!r}: not found for candidate {candidate.id}")
    t = seed.template()
    z = t["z"]
    occ = [dict(o) for o in t["occ"]]
    li_rule_amount: dict[str, float] = defaultdict(float)
    for sub in candidate.substitutions:
        host_el = Species.from_str(sub.host).element.symbol
        dop_el = Species.from_str(sub.dopant).element.symbol
        if host_el == "Li":
            li_rule_amount[dop_el] += sub.amount
            continue
        for i in t["rule_sites"][sub.site]:
            # fractions refer to the parent's occupancy, whatever other dopants added
            take = t["occ"][i].get(host_el, 0.0) * sub.fraction
            if take <= 0:
                continue
            o = occ[i]
            o[host_el] = max(0.0, o[host_el] - take)
            o[dop_el] = o.get(dop_el, 0.0) + take
    li_sites = t["li_sites"]
    li_weights = [t["occ"][i]["Li"] for i in li_sites]
    total_w = sum(li_weights)
    for dop_el, amount in li_rule_amount.items():
        for i, w in zip(li_sites, li_weights):
            occ[i][dop_el] = occ[i].get(dop_el, 0.0) + amount * z * w / total_w
    caps = [max(0.0, 1.0 - sum(v for k, v in occ[i].items() if k != "Li")) for i in li_sites]
    try:
        li_occ = _water_fill(li_weights, caps, candidate.li_content * z)
    except ScreeningError as exc:
        raise ScreeningError(f"candidate {candidate.formula} ({candidate.parent}): {exc}") from exc
    for i, v in zip(li_sites, li_occ):
        occ[i]["Li"] = v
    oxi = candidate.oxidation_states
    species, coords = [], []
    for o, xyz in zip(occ, t["coords"]):
        sp = {Species(el, oxi[el]): round(v, 8) for el, v in o.items() if v > 1e-8}
        if sp:
            species.append(sp)
            coords.append(xyz)
    # volume from the change in summed cubed radii (per formula unit)
    r3 = t["r3"]
    base = seed.amounts
    v_old = sum(base[el] * r3[el] for el in base)
    dv = (candidate.li_content - base["Li"]) * r3["Li"]
    for sub in candidate.substitutions:
        host, dop = ion(sub.host), ion(sub.dopant)
        rule = next(r for r in seed.sites if r.label == sub.site)
        r_d = shannon_radius(*dop, rule.coordination, partner=host)
        r_h = shannon_radius(*host, rule.coordination, partner=dop)
        if r_d is None or r_h is None:
            continue
        if host[0] == "Li":  # the replaced Li is already in the Li change
            dv += sub.amount * r_d**3
        else:
            dv += sub.amount * (r_d**3 - r_h**3)
    lattice: Lattice = t["lattice"]
    scale = max(0.5, (v_old + dv) / v_old) ** (1 / 3)
    new_lattice = Lattice(lattice.matrix * scale)
    try:
        return Structure(new_lattice, species, coords, validate_proximity=False)
    except ValueError as exc:
        msg = f"candidate {candidate.formula} ({candidate.parent}): cannot build structure ({exc})"
        raise ScreeningError(msg) from exc
