"""Candidate enumeration: rediscovery, charge balance, bad seeds, structures, bookkeeping."""

from __future__ import annotations

import dataclasses
import math
import pickle
import random
import types
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Composition, Species

from screening.enumeration import (
    DEFAULT_EXCLUDED,
    FILTERS,
    Candidate,
    EnumerationOptions,
    EnumerationReport,
    SeedError,
    build_structure,
    enumerate_candidates,
    enumeration_plan,
    iter_candidate_chunks,
    load_seeds,
    redox_conflicts,
    shannon_radius,
)
from screening.errors import ScreeningError
from screening.structures import composition_id

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

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
    "Li1.5Al0.5Ge1.5(PO4)3": "LiTi2(PO4)3",  # LAGP: Al and Ge co-doped on the Ti site
    "Li6.75La3Zr1.75Ta0.25O12": "Li7La3Zr2O12",  # the 0.125 step of the doping grid
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
    seed_of = {s.prototype: s.name for s in load_seeds()}
    rng = random.Random(0)
    sample = []
    compositions = set()
    dup_compositions = []
    redox_bad = []
    multi_prototype = 0
    for c in enumerate_candidates(report=report):
        n += 1
        if c.id in ids:
            dup_ids += 1
        ids.add(c.id)
        key = _key(c.formula)
        if key in compositions:
            dup_compositions.append(c.formula)
        compositions.add(key)
        if redox_conflicts(c.oxidation_states):
            redox_bad.append(c.formula)
        multi_prototype += len(c.prototypes) - 1
        for proto in c.prototypes:  # a composition is yielded once, under the first prototype reaching it
            if seed_of[proto] in parents:
                keys[seed_of[proto]].add(_key(c.formula))
        if n % 3 == 0:  # a large sample (about 40,000) for the neutrality check
            charges.append((c.formula, c.charge))
        if len(sample) < 200:
            sample.append(c)
        elif rng.random() < 200 / n:
            sample[rng.randrange(200)] = c
        if set(c.oxidation_states) & DEFAULT_EXCLUDED:
            excluded_hits.append(c.formula)
    return {"n": n, "report": report, "keys": keys, "charges": charges, "excluded": excluded_hits,
            "dup_ids": dup_ids, "sample": sample, "dup_compositions": dup_compositions,
            "redox_bad": redox_bad, "multi_prototype": multi_prototype}


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
    assert report.total("distinct") == report.total() == default_space["n"]
    assert len(default_space["charges"]) > 30_000
    bad = [(f, q) for f, q in default_space["charges"] if abs(q) > 1e-6]
    assert not bad, bad[:5]
    assert not default_space["excluded"]


@pytest.mark.slow
def test_default_space_has_distinct_compositions_and_no_redox_conflict(default_space):
    assert not default_space["dup_compositions"], default_space["dup_compositions"][:5]
    assert not default_space["redox_bad"], default_space["redox_bad"][:5]
    # some compositions are reached from several prototypes: they carry all of them
    assert default_space["multi_prototype"] > 0
    report = default_space["report"]
    assert report.removed("redox") > 0 and report.removed("distinct") == default_space["multi_prototype"] > 0


@pytest.mark.slow
def test_budget_draws_from_every_prototype(default_space):
    picked = list(enumerate_candidates(limit=300, seed=1))
    assert len(picked) == 300
    assert {c.prototype for c in picked} == {s.prototype for s in load_seeds()}
    assert len({_key(c.formula) for c in picked}) == 300
    assert [c.id for c in enumerate_candidates(limit=300, seed=1)] == [c.id for c in picked]
    assert [c.id for c in enumerate_candidates(limit=300, seed=2)] != [c.id for c in picked]
    plan = enumeration_plan(limit=300)
    assert plan["candidates"].sum() == default_space["n"]
    assert plan["sampled"].sum() == 300 and (plan["sampled"] >= 1).all()


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


# ------------------------------------------------------------------------- chemistry rules


def test_redox_rule_drops_cations_the_anion_would_reduce():
    with_rule, without = EnumerationReport(), EnumerationReport()
    alone = EnumerationOptions(min_oxidation_state_probability=None)  # the redox rule alone (plausibility drops Co3+ too)
    kept = list(enumerate_candidates(seeds=["Li10GeP2S12"], options=alone, max_substitutions=1, report=with_rule))
    loose = list(enumerate_candidates(seeds=["Li10GeP2S12"], options=alone, max_substitutions=1, redox=False, report=without))
    # Co3+ on the Ge site of a sulfide oxidises S2- (Co2S3 is unknown): only without the rule
    assert any(c.oxidation_states.get("Co") == 3 for c in loose)
    assert not any(c.oxidation_states.get("Co") == 3 for c in kept)
    assert all(not redox_conflicts(c.oxidation_states) for c in kept)
    assert with_rule.removed("redox") > 0 and without.removed("redox") == 0
    assert len(loose) - len(kept) == with_rule.removed("redox")


def test_redox_rule_across_sites():
    # Cu2+ on the Li site is fine beside Cl-, not beside I- put on the Cl site
    cands = list(enumerate_candidates(seeds=["Li3YCl6"], elements={"Cu", "I"}, max_substitutions=2))
    with_cu = [c for c in cands if c.oxidation_states.get("Cu") == 2]
    assert with_cu and not any("I" in c.oxidation_states for c in with_cu)
    assert any("I" in c.oxidation_states for c in cands)
    assert redox_conflicts({"Li": 1, "Cu": 2, "I": -1}) == [("Cu", 2, "I")]
    assert redox_conflicts({"Li": 1, "Fe": 3, "Cl": -1}) == []


def test_codoping_on_one_site_gives_lagp():
    lagp = _key("Li1.5Al0.5Ge1.5(PO4)3")
    cands = {_key(c.formula): c for c in enumerate_candidates(seeds=["LiTi2(PO4)3"])}
    c = cands[lagp]
    assert sorted(s.dopant for s in c.substitutions) == ["Al3+", "Ge4+"]
    assert {s.site for s in c.substitutions} == {"Ti"}
    assert c.li_content == pytest.approx(1.5) and math.isclose(c.charge, 0.0, abs_tol=1e-9)
    s = c.structure()
    got = s.composition.element_composition.fractional_composition
    assert got.almost_equals(Composition("Li1.5Al0.5Ge1.5P3O12").fractional_composition)
    none = {_key(c.formula) for c in enumerate_candidates(seeds=["LiTi2(PO4)3"], codoping="none")}
    assert lagp not in none and len(none) < len(cands)
    with pytest.raises(ScreeningError, match="codoping"):
        list(enumerate_candidates(seeds=["Li3OCl"], codoping="three"))


def test_doping_grid_has_the_eighth_step():
    formulas = {c.formula for c in enumerate_candidates(seeds=["Li7La3Zr2O12"], max_substitutions=1)}
    assert "Li6.75La3Zr1.75Ta0.25O12" in formulas
    coarse = {c.formula for c in enumerate_candidates(seeds=["Li7La3Zr2O12"], max_substitutions=1,
                                                       doping_grid=(0.05, 0.1, 0.25, 0.5))}
    assert "Li6.75La3Zr1.75Ta0.25O12" not in coarse


def test_composition_from_two_prototypes_is_yielded_once_with_both():
    seeds = ["Li3YCl6", "Li3InCl6"]
    cands = list(enumerate_candidates(seeds=seeds, max_substitutions=1))
    keys = [_key(c.formula) for c in cands]
    assert len(keys) == len(set(keys))
    in_cl6 = [c for c in cands if _key(c.formula) == _key("Li3InCl6")]
    assert len(in_cl6) == 1
    (c,) = in_cl6
    assert c.prototypes == ("Li3YCl6-P-3m1", "Li3InCl6-C2/m") and c.prototype == "Li3YCl6-P-3m1"
    row = c.as_dict()
    assert row["prototypes"] == "Li3YCl6-P-3m1,Li3InCl6-C2/m" and row["parent"] == "Li3YCl6"
    # each seed alone still yields it
    alone = {c.formula for c in enumerate_candidates(seeds=["Li3InCl6"], max_substitutions=1)}
    assert "Li3InCl6" in alone
    plan = enumeration_plan(seeds=seeds, max_substitutions=1)
    assert plan["candidates"].sum() == len(cands)
    assert plan["shared_with_other_prototypes"].iloc[0] == plan["shared_with_other_prototypes"].iloc[1] > 0


def test_budget_is_stratified_and_reproducible():
    seeds = ["Li3OCl", "LiTi2(PO4)3", "Li4GeS4"]
    full = list(enumerate_candidates(seeds=seeds, max_substitutions=1))
    picked = list(enumerate_candidates(seeds=seeds, max_substitutions=1, limit=60, seed=7))
    assert len(picked) == 60
    by_family = Counter(c.family for c in picked)
    assert by_family == {"oxide": 30, "sulfide": 30}  # families first, equal shares
    assert {c.prototype for c in picked} == {"anti-perovskite", "NASICON", "thio-LISICON"}
    assert {c.id for c in picked} <= {c.id for c in full}
    # not a prefix of the stream
    assert [c.id for c in picked if c.prototype == "NASICON"] != [c.id for c in full if c.prototype == "NASICON"][:15]
    again = [c.id for c in enumerate_candidates(seeds=seeds, max_substitutions=1, limit=60, seed=7)]
    assert again == [c.id for c in picked]
    assert len(list(enumerate_candidates(seeds=seeds, max_substitutions=1, limit=10**9))) == len(full)
    with pytest.raises(ScreeningError, match="limit"):
        enumerate_candidates(seeds=seeds, limit=0)


def test_preset_and_options_object():
    from screening.enumeration import PRESETS, EnumerationOptions

    small = EnumerationOptions(max_substitutions=1, codoping="none")
    a = [c.id for c in enumerate_candidates(seeds=["Li3OCl"], options=small)]
    b = [c.id for c in enumerate_candidates(seeds=["Li3OCl"], max_substitutions=1, codoping="none")]
    assert a == b
    assert PRESETS["large"].min_lambda < PRESETS["default"].min_lambda
    n_default = enumeration_plan(seeds=["LiTi2(PO4)3"])["candidates"].sum()
    n_large = enumeration_plan(seeds=["LiTi2(PO4)3"], options="large")["candidates"].sum()
    assert n_large > n_default
    with pytest.raises(ScreeningError, match="preset"):
        enumerate_candidates(options="huge")
