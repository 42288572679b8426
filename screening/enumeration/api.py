"""Public entry points: stream the candidates, a dry run of the space, chunks."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from screening.enumeration.core import seed_candidates, space_index
from screening.enumeration.options import EnumerationOptions, resolve_options
from screening.enumeration.records import Candidate, EnumerationReport
from screening.enumeration.sampling import allocate, choose
from screening.enumeration.seeds import Seed, select_seeds
from screening.errors import ScreeningError


def _selected(
    seeds: Iterable[Seed | str] | None,
    manifest_path: str | Path | None,
    families: Iterable[str] | None,
    strict: bool,
    report: EnumerationReport,
) -> tuple[Seed, ...]:
    chosen = select_seeds(seeds, manifest_path, strict, report.errors)
    fams = set(families) if families is not None else None
    out = []
    for seed in chosen:
        if fams is not None and seed.family not in fams:
            continue
        try:
            seed.validate()  # read the CIF and check the rules now, so that a bad seed is reported here
            out.append(seed)
        except ScreeningError as exc:
            if strict:
                raise
            report.errors.append((seed.name, str(exc) if seed.name in str(exc) else f"seed {seed.name!r}: {exc}"))
    return tuple(out)


def enumerate_candidates(
    seeds: Iterable[Seed | str] | None = None,
    *,
    manifest_path: str | Path | None = None,
    families: Iterable[str] | None = None,
    options: EnumerationOptions | str | None = None,
    elements: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    radius_tolerance: float | None = None,
    min_lambda: float | None = None,
    mixing_grid: Sequence[float] | None = None,
    doping_grid: Sequence[float] | None = None,
    codoping: str | None = None,
    codoping_grid: Sequence[float] | None = None,
    max_substitutions: int | None = None,
    li_min_factor: float | None = None,
    li_max_factor: float | None = None,
    redox: bool | None = None,
    min_oxidation_state_probability: float | None = None,
    max_dopant_species: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    report: EnumerationReport | None = None,
    strict: bool = False,
) -> Iterator[Candidate]:
    """Stream candidates by substitution on the seeds; with no arguments, the default space.

    Parameters
    ----------
    seeds
        Seeds or seed names to use (default: all seeds of the manifest).
    manifest_path
        A user manifest instead of ``manifest.yaml`` in ``SCREENING_SEEDS_DIR`` (default ``seeds/``).
    families
        Keep only these families (``sulfide``, ``halide``, ``oxide``).
    options
        An :class:`EnumerationOptions` or a preset name of :data:`PRESETS` (``"default"``,
        ``"large"``); the keyword arguments below that are not None override it.
    elements, exclude, radius_tolerance, min_lambda, mixing_grid, doping_grid, codoping,
    codoping_grid, max_substitutions, li_min_factor, li_max_factor, redox, min_oxidation_state_probability,
    max_dopant_species
        Fields of :class:`EnumerationOptions` (see there); None keeps the preset's value.
    limit
        Candidate budget: at most this many, drawn stratified by family and prototype
        (:mod:`screening.enumeration.sampling`), not the first ones. None: all.
    seed
        Random seed of the budget's draw (same ``limit`` and ``seed``, same candidates).
    report
        An :class:`EnumerationReport` to fill in (counts per filter of the whole space, and
        seed errors); counts of a seed are added when its candidates are exhausted.
    strict
        Raise on a bad seed instead of recording it in ``report.errors``.

    Yields
    ------
    Candidate
        Distinct compositions (one per fractional composition over all prototypes, with
        ``prototypes`` listing every prototype reaching it), charge-neutral, redox
        compatible, structure not built; in manifest order.
    """
    opts = resolve_options(
        options, elements=elements, exclude=exclude, radius_tolerance=radius_tolerance, min_lambda=min_lambda,
        mixing_grid=mixing_grid, doping_grid=doping_grid, codoping=codoping, codoping_grid=codoping_grid,
        max_substitutions=max_substitutions, li_min_factor=li_min_factor, li_max_factor=li_max_factor, redox=redox,
        min_oxidation_state_probability=min_oxidation_state_probability, max_dopant_species=max_dopant_species,
    )
    if limit is not None and limit < 1:
        raise ScreeningError(f"limit={limit}: must be at least 1")
    return _stream(seeds, manifest_path, families, opts, limit, seed, report, strict)


def _stream(
    seeds: Iterable[Seed | str] | None,
    manifest_path: str | Path | None,
    families: Iterable[str] | None,
    opts: EnumerationOptions,
    limit: int | None,
    rng_seed: int,
    report: EnumerationReport | None,
    strict: bool,
) -> Iterator[Candidate]:
    report = report if report is not None else EnumerationReport()
    chosen = _selected(seeds, manifest_path, families, strict, report)
    index = space_index(chosen, opts)
    picks: list[set[int] | None] = [None] * len(chosen)
    if limit is not None:
        strata = [(s.family, s.prototype, index.distinct(i)) for i, s in enumerate(chosen)]
        for i, k in enumerate(allocate(limit, strata)):
            picks[i] = choose(strata[i][2], k, rng_seed, chosen[i].prototype)
    for i in range(len(chosen)):
        if picks[i] is not None and not picks[i]:
            continue
        yield from seed_candidates(index, i, report=report, chosen=picks[i])


def enumeration_plan(
    seeds: Iterable[Seed | str] | None = None,
    *,
    limit: int | None = None,
    manifest_path: str | Path | None = None,
    families: Iterable[str] | None = None,
    options: EnumerationOptions | str | None = None,
    report: EnumerationReport | None = None,
    **overrides: Any,
) -> Any:
    """Dry run: how many candidates the chosen space holds per prototype, before any run.

    Same arguments as :func:`enumerate_candidates`. Builds no candidate: one fast pass
    hashes the compositions (cached, so a following :func:`enumerate_candidates` with the
    same arguments does not repeat it).

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``family``, ``prototype``, ``parent``, ``candidates`` (distinct
        candidates it contributes), ``unique_in_prototype`` (before removing compositions
        an earlier prototype already gave), ``shared_with_other_prototypes``, ``redox_removed``
        and, with ``limit``, ``sampled`` (the stratified budget's share).
    """
    import pandas as pd

    opts = resolve_options(options, **overrides)
    report = report if report is not None else EnumerationReport()
    chosen = _selected(seeds, manifest_path, families, False, report)
    index = space_index(chosen, opts)
    rows = []
    for i, s in enumerate(chosen):
        c = index.counts[i]
        shared = sum(1 for v in index.shared.values() if i in v)
        rows.append({
            "family": s.family, "prototype": s.prototype, "parent": s.name,
            "candidates": c["distinct"], "unique_in_prototype": c["unique"],
            "shared_with_other_prototypes": shared,
            "redox_removed": c["substitution_probability"] - c["redox"],
        })
    df = pd.DataFrame(rows, columns=["family", "prototype", "parent", "candidates", "unique_in_prototype",
                                     "shared_with_other_prototypes", "redox_removed"])
    if limit is not None:
        df["sampled"] = allocate(limit, list(zip(df["family"], df["prototype"], df["candidates"])))
    return df


def iter_candidate_chunks(chunk_size: int = 10_000, **kwargs: Any) -> Iterator[list[Candidate]]:
    """Candidates of :func:`enumerate_candidates` (same keyword arguments) in lists of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}: must be at least 1")
    it = enumerate_candidates(**kwargs)
    while True:
        chunk = list(itertools.islice(it, chunk_size))
        if not chunk:
            return
        yield chunk
