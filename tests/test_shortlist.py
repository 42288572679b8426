"""A shortlist a chemist can act on: plausible dopants, few of them, diverse prototypes, a why per row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Species

from screening.enumeration import EnumerationOptions, enumerate_candidates, load_seeds
from screening.enumeration.options import NOBLE_GASES
from screening.enumeration.plausibility import framework_anion, judge, species_probability
from screening.enumeration.rules import dopant_species
from screening.errors import ScreeningError
from screening.ranking import rank
from screening.shortlist import held_back_text, prototype_ranks, shortlist, why_text

# ------------------------------------------------------------------ plausibility (SMACT)


@pytest.mark.parametrize(
    "element, state, anion, expected",
    [
        ("Zr", 4, ("Cl", -1), True),  # Li2ZrCl6: P = 0.43
        ("Ge", 4, ("Cl", -1), True),
        ("Y", 3, ("Cl", -1), True),
        ("Ta", 5, ("O", -2), True),  # LLZO:Ta
        ("Sn", 4, ("S", -2), True),  # Li10SnP2S12
        ("Ge", 2, ("Cl", -1), False),  # the Ge2+ on the Y3+ site of a chloride: P = 0.33
        ("Ti", 4, ("Cl", -1), False),
        ("Sn", 2, ("O", -2), False),
        ("Ce", 4, ("O", -2), False),
        ("P", 5, ("S", -2), None),  # polyanion centres are outside SMACT's table: not judged, kept
        ("Si", 4, ("O", -2), None),
    ],
)
def test_plausibility_accepts_and_rejects_named_examples(element, state, anion, expected):
    assert judge(element, state, anion) is expected


def test_plausibility_threshold_and_framework_anion():
    p = species_probability("Zr", 4, "Cl", -1)
    assert 0.4 < p < 0.45 and judge("Zr", 4, ("Cl", -1), min_probability=0.5) is False
    assert framework_anion({"Li": 6, "P": 1, "S": 5, "Cl": 1}, {"Li": 1, "P": 5, "S": -2, "Cl": -1}) == ("S", -2)
    assert framework_anion({"Li": 3, "Y": 1, "Cl": 1.5, "Br": 4.5}, {"Li": 1, "Y": 3, "Cl": -1, "Br": -1}) == ("Br", -1)
    assert framework_anion({"Li": 1}, {"Li": 1}) is None


def _dopants(candidate, parent_elements) -> set[str]:
    return set(Composition(candidate.formula).as_dict()) - set(parent_elements)


@pytest.fixture(scope="module")
def yttrium_chlorides():
    """Li3YCl6 on a small pool, with the rules on, with plausibility off and with three dopant species allowed."""
    seed = next(s for s in load_seeds() if s.name == "Li3YCl6")
    pool = ["Ge", "Zr", "Na", "Sc", "Ti", "Br"]
    on = list(enumerate_candidates(seeds=[seed], elements=pool))
    off = list(enumerate_candidates(seeds=[seed], options=EnumerationOptions(min_oxidation_state_probability=None), elements=pool))
    three = list(enumerate_candidates(seeds=[seed], elements=pool, max_dopant_species=3))
    return seed, on, off, three


def test_enumeration_drops_rare_oxidation_states_with_the_framework_anion(yttrium_chlorides):
    seed, on, off, _ = yttrium_chlorides

    def ge2_in_chloride(c):
        return c.oxidation_states.get("Ge") == 2 and framework_anion(Composition(c.formula).as_dict(), c.oxidation_states) == ("Cl", -1)

    assert any(ge2_in_chloride(c) for c in off) and not any(ge2_in_chloride(c) for c in on)
    assert not any(c.oxidation_states.get("Ti") == 4 for c in on)  # Ti4+/Cl- 0.27
    assert any(c.oxidation_states.get("Zr") == 4 for c in on) and len(on) < len(off)
    # every cation dopant of every kept candidate passes (or is not in SMACT's table)
    for c in on:
        anion = framework_anion(Composition(c.formula).as_dict(), c.oxidation_states)
        for el in _dopants(c, seed.amounts):
            q = c.oxidation_states[el]
            assert q < 0 or judge(el, q, anion) is not False, c.formula


def test_dopant_species_limit(yttrium_chlorides):
    seed, on, _, three = yttrium_chlorides
    assert max(len(_dopants(c, seed.amounts)) for c in on) == 2  # the default limit
    assert max(len(_dopants(c, seed.amounts)) for c in three) == 3 and len(three) > len(on)
    none = list(enumerate_candidates(seeds=[seed], elements=["Zr", "Na", "Br"], max_dopant_species=0))
    assert [c.formula for c in none] == ["Li3YCl6"]
    with pytest.raises(ScreeningError, match="max_dopant_species"):
        EnumerationOptions(max_dopant_species=-1)


def test_enumeration_report_counts_each_rule(yttrium_chlorides):
    from screening.enumeration import EnumerationReport

    seed = yttrium_chlorides[0]
    report = EnumerationReport()
    n = sum(1 for _ in enumerate_candidates(seeds=[seed], elements=["Ge", "Zr", "Na", "Sc", "Ti", "Br"], report=report))
    assert report.removed("plausibility") > 0 and report.removed("dopant_species") > 0
    assert report.total() == n == len(yttrium_chlorides[1])


def test_noble_gases_are_never_dopants():
    from pydantic import ValidationError

    from screening.pipeline import ELEMENT_SYMBOLS, ScreenParameters

    assert {"He", "Ne", "Ar", "Kr", "Xe", "Rn"} <= NOBLE_GASES and not NOBLE_GASES & set(ELEMENT_SYMBOLS)
    with pytest.raises(ValidationError, match="elements"):
        ScreenParameters(elements=["Xe"])
    with pytest.raises(ScreeningError, match="noble gases"):
        EnumerationOptions(elements=frozenset({"Zr", "Xe"}))
    seed = next(s for s in load_seeds() if s.name == "Li3YCl6")
    import dataclasses

    rule = dataclasses.replace(seed.sites[1], dopants=("Xe2+", "Zr4+"))  # a manifest that lists a noble gas
    assert dopant_species(rule, 3) == [("Zr", 4)]
    assert not any(el in NOBLE_GASES for el, _ in dopant_species(seed.sites[1], 3))


def test_max_dopant_species_is_a_form_field():
    from screening.pipeline import ScreenParameters
    from screening.pipeline.sources import enumeration_arguments

    schema = ScreenParameters.model_json_schema()
    assert "max_dopant_species" in schema["properties"]
    assert enumeration_arguments(ScreenParameters(source="enumerated", max_dopant_species=3))["max_dopant_species"] == 3
    assert enumeration_arguments(ScreenParameters(source="enumerated"))["max_dopant_species"] is None  # the space's own
    assert ScreenParameters().run.per_prototype == 10 and ScreenParameters(per_prototype=0).run.per_prototype == 0


# ------------------------------------------------------------------ diversity


def _ranked(protos: list[str | None], passes: list[bool] | None = None) -> pd.DataFrame:
    n = len(protos)
    return pd.DataFrame({
        "candidate_id": [f"c{i:03d}" for i in range(n)], "prototype": protos, "rank": np.arange(1, n + 1),
        "passes_gates": passes if passes is not None else [True] * n, "formula": [f"F{i}" for i in range(n)],
    })  # fmt: skip


def test_prototype_ranks_count_within_prototype_among_passing_rows():
    ranked = _ranked(["A", "A", "B", None, "A", "B"], passes=[True, False, True, True, True, True])
    assert list(prototype_ranks(ranked)) == [1, pd.NA, 1, pd.NA, 2, 2]


def test_diversity_cap_and_held_back_count():
    ranked = _ranked(["A"] * 6 + ["B"] * 3 + ["C", None, "A"])  # A dominates the head of the ranking
    best, held = shortlist(ranked, 5, per_prototype=2)
    assert list(best["prototype"].fillna("-")) == ["A", "A", "B", "B", "C"]
    assert held["held_back"] == 5 and held["by_prototype"] == {"A": 4, "B": 1}  # A ranks 3-6 and B's third are above C
    assert held["beyond_cap"] == 6  # A: 5 beyond the cap of 2, B: 1
    assert "held back (A 4, B 1)" in held_back_text(held, len(best))
    plain, none = shortlist(ranked, 5, per_prototype=0)
    assert list(plain["candidate_id"]) == [f"c{i:03d}" for i in range(5)] and none["held_back"] == 0
    assert held_back_text(none, 5) == ""
    small, held_small = shortlist(ranked, 20, per_prototype=2)  # fewer rows than n: held back = all beyond the cap
    assert len(small) == 6 and held_small["held_back"] == 6
    with pytest.raises(ValueError):
        shortlist(ranked, 5, per_prototype=-1)


def _with_prototypes(store, why: bool = False) -> None:
    """The small store's run with prototypes (3 halides 'h', 3 sulfides 's') and their prototype ranks (and a why)."""
    run = "r1"
    candidates = store.query("SELECT * EXCLUDE (run_id) FROM candidates WHERE run_id = 'r1'")
    store.write("candidates", run, candidates.assign(prototype=np.where(candidates["family"] == "halide", "h", "s")))
    scores = store.query("SELECT * EXCLUDE (run_id) FROM scores WHERE run_id = 'r1'")
    ranked = scores.merge(store.query("SELECT candidate_id, prototype FROM candidates WHERE run_id = 'r1'"), on="candidate_id")
    scores["prototype_rank"] = prototype_ranks(ranked)
    if why:
        scores["why"] = [f"conductivity p{i}0 x1" for i in range(len(scores))]
    store.write("scores", run, scores)


def test_store_top_per_prototype(small_store):
    run = "r1"
    _with_prototypes(small_store)
    top = small_store.top(10, run_id=run, per_prototype=1, columns=["rank", "formula", "prototype"])
    assert list(top["formula"]) == ["Li7P3S11", "Li2ZrCl6"]  # the best sulfide and the best halide
    assert len(small_store.top(10, run_id=run, columns=["rank"])) == 5


# ------------------------------------------------------------------ why


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "candidate_id": ["a", "b", "c", "d", "e"],
        "log10_sigma_S_cm": [-2.0, -3.0, -4.0, -5.0, -1.0],
        "log10_sigma_S_cm_hi80": [-1.0, -2.0, -3.0, -4.0, 0.0],
        "window_low_V": [1.0, 0.5, np.nan, 2.0, 0.1],
        "e_hull_eV_atom": [0.0, 0.05, 0.0, 0.02, 0.5],  # e fails the stability gate
    })  # fmt: skip


def test_why_line_gives_each_weighted_percentile_largest_contribution_first():
    ranked = rank(_table(), weights={"log10_sigma_S_cm": 1.0, "window_low_V": 0.4}, sort=True)
    why = dict(zip(ranked["candidate_id"], ranked["why"]))
    # a: best conductivity of the four that pass (percentile (3 + 4) / 2 / 4 = 0.875), window_low 1.0 V is 2nd of 3
    assert why["a"] == "conductivity p88 x1, reduction p50 x0.4"
    assert why["b"].startswith("conductivity p62 x1, reduction p83 x0.4") or why["b"] == "reduction p83 x0.4, conductivity p62 x1"
    assert why["c"] == "conductivity p38 x1; no value: window_low_V"
    assert why["e"] == "fails e_hull_eV_atom"
    assert ranked.iloc[0]["candidate_id"] == "a"


def test_why_text_vectorised_and_robust_z():
    terms = np.array([[0.2, 0.9], [np.nan, 0.5]])
    out = why_text(terms, ["log10_sigma_S_cm", "cost_usd_per_kg"], np.array([1.0, 0.2]))
    assert list(out) == ["conductivity p20 x1, cost p90 x0.2", "cost p50 x0.2"]
    z = why_text(np.array([[1.23, -0.5]]), ["log10_sigma_S_cm", "window_low_V"], np.array([1.0, 1.0]), normalise="robust_z")
    assert list(z) == ["conductivity z+1.2 x1, reduction z-0.5 x1"]


def test_cli_top_explain_and_per_prototype(small_store, capsys):
    from screening.cli import main

    _with_prototypes(small_store, why=True)
    assert main(["--store", str(small_store.path), "top", "--explain", "--per-prototype", "1", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["formula"] for r in rows] == ["Li7P3S11", "Li2ZrCl6"] and all(r["why"].startswith("conductivity p") for r in rows)
    assert main(["--store", str(small_store.path), "top", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "why" in out and "conductivity p" in out and "at most 10 per prototype" in out
    assert main(["--store", str(small_store.path), "top", "--per-prototype", "0", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and "why" not in rows[0]


def test_species_strings_parse():  # the manifest's explicit lists are pymatgen species strings
    assert Species.from_str("Xe2+").element.is_noble_gas
