"""The bundled parent prototypes: manifest, CIFs, notes, README."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pymatgen.core import Composition

from screening.enumeration import DEFAULT_EXCLUDED, element_notes, load_seeds

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

REQUIRED = {
    "Li6PS5Cl": "sulfide",
    "Li10GeP2S12": "sulfide",
    "beta-Li3PS4": "sulfide",
    "Li7P3S11": "sulfide",
    "Li4GeS4": "sulfide",
    "Li3YCl6": "halide",
    "Li3InCl6": "halide",
    "Li2ZrCl6": "halide",
    "Li7La3Zr2O12": "oxide",
    "LiTi2(PO4)3": "oxide",
    "Li3.75Ge0.75V0.25O4": "oxide",
    "Li0.35La0.55TiO3": "oxide",
    "Li3OCl": "oxide",
}


@pytest.fixture(scope="module")
def seeds():
    return load_seeds()


def test_manifest_has_the_required_prototypes(seeds):
    by_name = {s.name: s for s in seeds}
    assert len(seeds) >= 12
    for name, family in REQUIRED.items():
        assert name in by_name, name
        assert by_name[name].family == family
    assert {s.family for s in seeds} == {"sulfide", "halide", "oxide"}
    assert len({s.prototype for s in seeds}) == len(seeds)


def test_every_seed_is_documented_and_matches_its_cif(seeds):
    for seed in seeds:
        assert seed.cif_path.parent == SEEDS, "CIFs live in seeds/"
        assert seed.source and seed.citation and seed.licence, seed.name
        # the CIF holds the nominal framework (non-Li) composition; Li is set by the
        # structure builder (some refined CIFs are Li-deficient, e.g. the cubic garnet)
        comp = seed.structure.composition.get_el_amt_dict()
        cif = Composition({el: a for el, a in comp.items() if el != "Li"}).fractional_composition
        nominal = Composition({el: a for el, a in seed.amounts.items() if el != "Li"}).fractional_composition
        for el, frac in nominal.items():
            assert abs(cif[el] - frac) < 0.01, (seed.name, el)
        # the formula is neutral under the stated oxidation states
        assert abs(sum(a * seed.oxidation_states[el] for el, a in seed.amounts.items())) < 1e-6
        assert seed.li_capacity >= seed.amounts["Li"] - 1e-6
        for rule in seed.sites:
            assert seed.rule_sites(rule), (seed.name, rule.label)
            assert rule.count <= seed.amounts[rule.element] + 1e-9


def test_readme_lists_every_seed_and_licence(seeds):
    text = (SEEDS / "README.md").read_text()
    for seed in seeds:
        assert seed.cif_path.name in text, seed.cif_path.name
    assert "CC BY 4.0" in text and "OBELiX" in text


def test_element_notes_agree_with_default_exclusions():
    notes = element_notes()
    assert len(notes) > 60
    flagged = {el for el, n in notes.items() if n["default_excluded"]}
    assert flagged <= DEFAULT_EXCLUDED
    for el in ("Tl", "Hg", "Cd", "Be", "As", "U", "Th"):
        assert el in DEFAULT_EXCLUDED
    assert notes["Al"]["crust_abundance_ppm"] > notes["In"]["crust_abundance_ppm"]


def test_li2zrcl6_build_script_reproduces_the_seed():
    spec = importlib.util.spec_from_file_location("build_li2zrcl6", SEEDS / "build_li2zrcl6.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert built.composition.reduced_formula == "Li2ZrCl6"
    assert built.get_space_group_info()[0] == "P-3m1"
    seed = next(s for s in load_seeds() if s.name == "Li2ZrCl6")
    assert len(built) == len(seed.structure)
    assert abs(built.volume - seed.structure.volume) < 0.1


@pytest.fixture
def other_seeds_dir(tmp_path, monkeypatch):
    """A seeds folder with one seed (a copy of Li3OCl under another name) and its own notes."""
    import shutil

    from screening.config import get_settings

    shutil.copy(SEEDS / "Li3OCl_antiperovskite.cif", tmp_path / "ap.cif")
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nseeds:\n"
        "  - {name: only-seed, family: oxide, prototype: ap-copy, cif: ap.cif, formula: Li3OCl,\n"
        "     oxidation_states: {Li: 1, O: -2, Cl: -1}, source: test, citation: test, licence: CC BY 4.0,\n"
        "     sites: [{element: Cl, coordination: 6, dopants: [Br-]}]}\n"
    )
    (tmp_path / "elements.csv").write_text(
        "element,crust_abundance_ppm,default_excluded,note\nBr,123.0,False,test value\n"
    )
    monkeypatch.setenv("SCREENING_SEEDS_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    monkeypatch.delenv("SCREENING_SEEDS_DIR")
    get_settings.cache_clear()


def test_seeds_dir_setting_is_honoured(other_seeds_dir):
    """SCREENING_SEEDS_DIR moves the manifest, the seeds and the element notes (issue 9)."""
    import screening.candidates as candidates
    from screening.enumeration import default_manifest, enumerate_candidates

    assert default_manifest() == other_seeds_dir / "manifest.yaml"
    with pytest.warns(DeprecationWarning, match="import DEFAULT_MANIFEST from screening.enumeration"):
        assert candidates.DEFAULT_MANIFEST == other_seeds_dir / "manifest.yaml"  # the deprecated alias follows the setting too
    assert [s.name for s in load_seeds()] == ["only-seed"]
    cands = list(enumerate_candidates())
    assert {c.parent for c in cands} == {"only-seed"}
    assert {c.formula for c in cands} >= {"Li3OCl", "Li3OBr"}
    assert element_notes() == {"Br": {"crust_abundance_ppm": 123.0, "default_excluded": False, "note": "test value"}}
    row = next(c for c in cands if c.formula == "Li3OBr").as_dict()
    assert row["min_dopant_abundance_ppm"] == 123.0


def test_default_manifest_is_the_bundled_one_without_the_setting(monkeypatch):
    from screening.config import get_settings

    monkeypatch.delenv("SCREENING_SEEDS_DIR", raising=False)
    get_settings.cache_clear()
    from screening.enumeration import default_manifest

    assert default_manifest().is_file()
    assert {s.name for s in load_seeds()} >= set(REQUIRED)
