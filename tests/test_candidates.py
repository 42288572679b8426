"""Candidate enumeration: rediscovery, charge balance, bad seeds, structures, bookkeeping."""

from __future__ import annotations

import dataclasses
import math
import pickle
import random
import types
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Composition, Species

from screening.candidates import (
    DEFAULT_EXCLUDED,
    FILTERS,
    Candidate,
    EnumerationReport,
    SeedError,
    build_structure,
    enumerate_candidates,
    iter_candidate_chunks,
    load_seeds,
    shannon_radius,
)
from screening.errors import ScreeningError
from screening.structures import composition_id

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

#: Known electrolytes that are not parents, with the parent they must come from.
REDISCOVER = {
    "Li6PS5Br": "Li6PS5Cl",
    "Li6PS5I": "Li6PS5Cl",
    "Li5.5PS4.5Cl1.5": "Li6PS5Cl",
    "Li10SiP2S12": "Li10GeP2S12",
    "Li10SnP2S12": "Li10GeP2S12",
    "Li3ScCl6": "Li3YCl6",
    "Li3ErCl6": "Li3YCl6",
    "Li3YBr6": "Li3YCl6",
    "Li2.5Na0.5YCl6": "Li3YCl6",
    "Li2HfCl6": "Li2ZrCl6",
    "Li2.25Zr0.75Fe0.25Cl6": "Li2ZrCl6",
    "Li6.5La3Zr1.5Ta0.5O12": "Li7La3Zr2O12",
    "Li6.25Al0.25La3Zr2O12": "Li7La3Zr2O12",
    "Li1.3Al0.3Ti1.7(PO4)3": "LiTi2(PO4)3",
    "Li1.5Al0.5Ti1.5(PO4)3": "LiTi2(PO4)3",
    "Li3.25Ge0.25P0.75S4": "Li4GeS4",
    "Li3OBr": "Li3OCl",
}


def _key(formula: str) -> tuple:
    frac = Composition(formula).fractional_composition
    return tuple(sorted((el.symbol, round(x, 4)) for el, x in frac.items()))


@pytest.fixture(scope="module")
def default_space():
    """One pass over the whole default space, keeping only what the tests need."""
    report = EnumerationReport()
    keys = defaultdict(set)
    n = 0
    charges = []
    excluded_hits = []
    ids = set()
    dup_ids = 0
    parents = {p for p in REDISCOVER.values()}
    rng = random.Random(0)
    sample = []
    for c in enumerate_candidates(report=report):
        n += 1
        if c.id in ids:
            dup_ids += 1
        ids.add(c.id)
        if c.parent in parents:
            keys[c.parent].add(_key(c.formula))
        if n % 7 == 0:  # a large sample (about 45,000) for the neutrality check
            charges.append((c.formula, c.charge))
        if len(sample) < 200:
            sample.append(c)
        elif rng.random() < 200 / n:
            sample[rng.randrange(200)] = c
        if set(c.oxidation_states) & DEFAULT_EXCLUDED:
            excluded_hits.append(c.formula)
    return {"n": n, "report": report, "keys": keys, "charges": charges, "excluded": excluded_hits,
            "dup_ids": dup_ids, "sample": sample}


# ------------------------------------------------------------------------- default space


@pytest.mark.slow
def test_rediscovers_known_electrolytes(default_space):
    missing = [t for t, parent in REDISCOVER.items() if _key(t) not in default_space["keys"][parent]]
    assert not missing, f"not generated: {missing}"


@pytest.mark.slow
def test_default_space_is_large_unique_and_neutral(default_space):
    report = default_space["report"]
    assert not report.errors
    assert default_space["n"] >= 100_000
    assert default_space["dup_ids"] == 0
    for family in ("sulfide", "halide", "oxide"):
        assert report.total("unique", family) >= 10_000, family
    assert report.total("unique") == default_space["n"]
    assert len(default_space["charges"]) > 30_000
    bad = [(f, q) for f, q in default_space["charges"] if abs(q) > 1e-6]
    assert not bad, bad[:5]
    assert not default_space["excluded"]


@pytest.mark.slow
def test_report_counts_shrink_filter_by_filter(default_space):
    df = default_space["report"].to_frame()
    assert list(df.columns) == ["family", "prototype", "filter", "count"]
    assert len(df) == len(load_seeds()) * len(FILTERS)
    for _, group in df.groupby(["family", "prototype"], observed=True):
        counts = group.sort_values("filter")["count"].tolist()
        assert counts == sorted(counts, reverse=True), counts
        assert counts[-1] >= 1


@pytest.mark.slow
def test_structures_of_a_random_sample(default_space):
    sample = default_space["sample"]
    for c in sample:
        s = c.structure()
        z = c._seed.z
        got = s.composition.get_el_amt_dict()
        want = Composition(c.formula).get_el_amt_dict()
        for el in set(got) | set(want):
            assert abs(got.get(el, 0) / z - want.get(el, 0)) < 1e-4, (c.formula, el)
        assert max(sum(site.species.values()) for site in s) <= 1 + 1e-6
    # speed: benchmarks/bench_enumeration.py (306 structures/s recorded), not a timed test


# ------------------------------------------------------------------------- fast tests


def test_enumeration_is_a_lazy_stream():
    gen = enumerate_candidates(seeds=["Li3OCl"])
    assert isinstance(gen, types.GeneratorType)
    first = next(gen)
    assert isinstance(first, Candidate)


def test_candidate_record_fields_and_row():
    cands = list(enumerate_candidates(seeds=["Li3OCl"]))
    parent = [c for c in cands if not c.substitutions]
    assert len(parent) == 1 and parent[0].formula == "Li3OCl"
    c = next(c for c in cands if c.formula == "Li3OCl0.5Br0.5")
    assert c.family == "oxide" and c.prototype == "anti-perovskite" and c.parent == "Li3OCl"
    assert c.id == composition_id(Composition(c.formula), prefix="anti-perovskite")
    assert c.oxidation_states == {"Li": 1, "O": -2, "Cl": -1, "Br": -1}
    assert c.disordered
    (sub,) = c.substitutions
    assert (sub.host, sub.dopant, sub.fraction) == ("Cl-", "Br-", 0.5)
    row = c.as_dict()
    assert "structure" not in row
    assert row["substitutions"] == "Cl-->Br- x0.5 (Cl)"
    df = pd.DataFrame([x.as_dict() for x in cands])
    assert df["id"].is_unique and len(df) == len(cands)
    assert math.isclose(c.charge, 0.0, abs_tol=1e-9)


def test_aliovalent_li_site_doping_makes_vacancies():
    cands = {c.formula: c for c in enumerate_candidates(seeds=["Li3OCl"])}
    c = cands["Li2.8Mg0.1OCl"]  # Li3-2xMgxOCl
    assert c.li_content == pytest.approx(2.8)
    s = c.structure()
    assert not s.is_ordered
    li = sum(site.species.get(Species("Li", 1), 0) for site in s)
    assert li == pytest.approx(2.8 * c._seed.z)


def test_element_pool_and_exclusions_restrict_dopants():
    pool = {"Na", "Sc", "Br"}
    cands = list(enumerate_candidates(seeds=["Li3YCl6"], elements=pool))
    used = set().union(*(set(c.oxidation_states) for c in cands)) - {"Li", "Y", "Cl"}
    assert used == pool
    cands = list(enumerate_candidates(seeds=["Li3YCl6"], elements=pool, exclude={"Sc"}))
    assert all("Sc" not in c.oxidation_states for c in cands)


def test_tighter_radius_tolerance_keeps_fewer():
    loose, tight = EnumerationReport(), EnumerationReport()
    n_loose = sum(1 for _ in enumerate_candidates(seeds=["LiTi2(PO4)3"], report=loose))
    n_tight = sum(1 for _ in enumerate_candidates(seeds=["LiTi2(PO4)3"], radius_tolerance=0.1, report=tight))
    assert n_tight < n_loose
    key = ("oxide", "NASICON", "ionic_radius")
    assert tight.counts[key] < loose.counts[key]


def test_shannon_radii_at_the_right_coordination():
    assert shannon_radius("Y", 3, 6) == pytest.approx(0.9)
    assert shannon_radius("Ge", 4, 4) == pytest.approx(0.39)
    # S2- is tabulated at VI only: the nearest coordination is used
    assert shannon_radius("S", -2, 4) == pytest.approx(1.84)
    assert shannon_radius("Li", 5, 6) is None  # no such ion in the table


def test_chunks_cover_the_stream():
    all_ids = [c.id for c in enumerate_candidates(seeds=["Li3OCl", "LiTi2(PO4)3"])]
    chunks = list(iter_candidate_chunks(chunk_size=500, seeds=["Li3OCl", "LiTi2(PO4)3"]))
    assert all(len(ch) <= 500 for ch in chunks) and len(chunks[0]) == 500
    assert [c.id for ch in chunks for c in ch] == all_ids
    with pytest.raises(ValueError):
        next(iter_candidate_chunks(chunk_size=0))


def test_structure_of_al_doped_garnet():
    seed = next(s for s in load_seeds() if s.name == "Li7La3Zr2O12")
    c = next(
        c for c in enumerate_candidates(seeds=[seed], max_substitutions=1) if c.formula == "Li6.25Al0.25La3Zr2O12"
    )
    s = build_structure(c)
    comp = s.composition.element_composition
    assert comp.fractional_composition.almost_equals(Composition("Li6.25Al0.25La3Zr2O12").fractional_composition)
    assert Species("Al", 3) in {sp for site in s for sp in site.species}
    # Al went onto Li sites only
    for site in s:
        if "Al3+" in {str(sp) for sp in site.species}:
            assert "Li+" in {str(sp) for sp in site.species}
    # the candidate pickles (process pools) and rebuilds without its seed attached
    clone = pickle.loads(pickle.dumps(c))
    assert clone.structure().composition.element_composition.almost_equals(comp)
    detached = dataclasses.replace(c, _seed=None)
    assert build_structure(detached).composition.element_composition.almost_equals(comp)


def test_bigger_anion_expands_the_lattice():
    cands = {c.formula: c for c in enumerate_candidates(seeds=["Li3YCl6"], max_substitutions=1)}
    v_cl = cands["Li3YCl6"].structure().volume
    v_br = cands["Li3YBr6"].structure().volume
    v_sc = cands["Li3ScCl6"].structure().volume
    assert v_br > v_cl * 1.1
    assert v_sc < v_cl


# ------------------------------------------------------------------------- bad seeds


def _write_manifest(tmp_path: Path) -> Path:
    (tmp_path / "garbage.cif").write_text("data_x\n_this is not a cif\nloop_\n 1 2 3\n")
    good_cif = (SEEDS / "Li3OCl_antiperovskite.cif").resolve()
    good = f"""
  - name: Li3OCl-copy
    family: oxide
    prototype: ap
    cif: {good_cif}
    formula: Li3OCl
    oxidation_states: {{Li: 1, O: -2, Cl: -1}}
    source: test
    citation: test
    licence: CC BY 4.0
    sites:
      - {{element: Cl, coordination: 6, dopants: [Br-, I-]}}
"""

    def variant(name: str, prototype: str, old: str, new: str) -> str:
        return good.replace("Li3OCl-copy", name).replace("prototype: ap", f"prototype: {prototype}").replace(old, new)

    bad_cif = variant("bad-cif", "b1", str(good_cif), "garbage.cif")  # unreadable CIF
    missing = variant("missing-file", "b2", str(good_cif), "nowhere.cif")  # no such file
    bad_site = variant("bad-site", "b3", "element: Cl", "element: Br")  # element not in the seed
    bad_wyck = variant("bad-wyckoff", "b4", "element: Cl,", "element: Cl, wyckoff: [8c],")  # no such site
    path = tmp_path / "manifest.yaml"
    path.write_text("version: 1\nseeds:" + bad_cif + good + missing + bad_site + bad_wyck)
    return path


def test_bad_seeds_are_reported_and_the_others_enumerate(tmp_path):
    path = _write_manifest(tmp_path)
    report = EnumerationReport()
    cands = list(enumerate_candidates(manifest_path=path, report=report))
    assert {c.parent for c in cands} == {"Li3OCl-copy"}
    assert {c.formula for c in cands} >= {"Li3OCl", "Li3OBr", "Li3OCl0.5I0.5"}
    names = [name for name, _ in report.errors]
    assert names == ["bad-cif", "missing-file", "bad-site", "bad-wyckoff"]
    for name, message in report.errors:
        assert repr(name) in message
    messages = dict(report.errors)
    assert "garbage.cif" in messages["bad-cif"]
    assert "nowhere.cif" in messages["missing-file"]
    assert "Br" in messages["bad-site"]
    assert "8c" in messages["bad-wyckoff"]


def test_strict_mode_raises_naming_the_seed(tmp_path):
    path = _write_manifest(tmp_path)
    with pytest.raises(SeedError, match="bad-cif"):
        list(enumerate_candidates(manifest_path=path, strict=True))
    with pytest.raises(ScreeningError, match="bad-cif"):
        load_seeds(path)
    errors: list = []
    seeds = load_seeds(path, strict=False, errors=errors)
    assert [s.name for s in seeds] == ["Li3OCl-copy"] and len(errors) == 4


def test_unknown_seed_name_and_missing_manifest(tmp_path):
    with pytest.raises(SeedError, match="no-such-seed"):
        list(enumerate_candidates(seeds=["no-such-seed"]))
    with pytest.raises(SeedError, match="no such seed manifest"):
        load_seeds(tmp_path / "absent.yaml")
