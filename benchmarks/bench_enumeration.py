"""Benchmark of candidate enumeration: size, speed and memory of the default space.

Run from the repository root::

    python benchmarks/bench_enumeration.py            # print the numbers
    python benchmarks/bench_enumeration.py --write    # and rewrite benchmarks/results/enumeration.md
    python benchmarks/bench_enumeration.py --write --tracemalloc   # plus the tracemalloc pass (~4 min)

What it measures (one process pinned to one core, BLAS threads 1):

1. the whole default space of :func:`screening.enumeration.enumerate_candidates`
   (no arguments): the dry run (:func:`enumeration_plan`, the index pass that finds the
   compositions several prototypes reach), then the stream: wall and CPU time,
   candidates per family, peak resident memory (``resource.getrusage``); a budget of
   300 (stratified draw) on the cached index;
2. with ``--tracemalloc``, the same pass under ``tracemalloc`` (about 15x slower): peak
   Python memory, to show that the stream keeps memory bounded (candidates are
   counted, not kept);
3. structures for a random subset (reservoir sample, seed 0) of the stream:
   structures per second with :meth:`Candidate.structure`;
4. with ``--large``, the ``large`` preset: dry run and stream, wall time and peak
   resident memory;
5. what each plausibility rule removes: the dry run of the default space with the
   oxidation-state rule off, the dopant-species limit off, and both off (distinct
   candidates each time; the difference to the default is what the rule removes).

Targets (issue 4): at least 100,000 composition-level candidates in under 2 minutes on
one core, peak memory under 2 GB; 50 structures a second or more.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime as dt
import platform
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screening.enumeration import (  # noqa: E402
    PRESETS,
    EnumerationReport,
    enumerate_candidates,
    enumeration_plan,
    load_seeds,
)

RESULTS = ROOT / "benchmarks" / "results" / "enumeration.md"


def _pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):  # not Linux
        return "not pinned"


def plan_pass(options: str = "default") -> dict:
    """The dry run (index pass) of a preset's space; returns its table and timing."""
    t0 = time.perf_counter()
    plan = enumeration_plan(options=options, limit=300)
    return {"plan": plan, "wall_s": time.perf_counter() - t0}


#: the rules measured by :func:`rule_ablation`: label -> the overrides that switch them off
ABLATIONS = {
    "oxidation-state plausibility off": {"min_oxidation_state_probability": None},
    "dopant-species limit off": {"max_dopant_species": None},
    "both off (the space before these rules)": {"min_oxidation_state_probability": None, "max_dopant_species": None},
}


def rule_ablation() -> dict[str, dict]:
    """Distinct candidates of the default space with each plausibility rule switched off (dry runs)."""
    import dataclasses

    from screening.enumeration.options import NOBLE_GASES
    from screening.enumeration.radii import cation_pool

    out = {}
    for label, overrides in ABLATIONS.items():
        t0 = time.perf_counter()  # (keyword overrides of None keep the preset's value: replace the options instead)
        n = int(enumeration_plan(options=dataclasses.replace(PRESETS["default"], **overrides))["candidates"].sum())
        out[label] = {"n": n, "wall_s": time.perf_counter() - t0}
        print(f"{label}: {n:,} candidates ({out[label]['wall_s']:.0f} s)")
    noble_in_manifest = sorted({d.split("+")[0].split("-")[0].rstrip("0123456789") for s in load_seeds() for r in s.sites
                                for d in (r.dopants or ())} & NOBLE_GASES)  # fmt: skip
    out["noble"] = {"pool": sorted(set(cation_pool()) & NOBLE_GASES), "manifest": noble_in_manifest}
    return out


def enumerate_pass(sample_size: int = 0, seed: int = 0, options: str = "default") -> dict:
    """One pass over a preset's space; returns counts, timings and a reservoir sample."""
    rng = random.Random(seed)
    report = EnumerationReport()
    per_family: Counter = Counter()
    sample = []
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for cand in enumerate_candidates(options=options, report=report):
        n += 1
        per_family[cand.family] += 1
        if sample_size:
            if len(sample) < sample_size:
                sample.append(cand)
            else:
                j = rng.randrange(n)
                if j < sample_size:
                    sample[j] = cand
    return {
        "n": n,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "per_family": dict(per_family),
        "report": report,
        "sample": sample,
    }


def structure_pass(sample: list) -> dict:
    """Build the structures of a sample; returns the rate overall and per family."""
    per_family: dict[str, list[float]] = {}
    errors = 0
    t0 = time.perf_counter()
    for cand in sample:
        t = time.perf_counter()
        try:
            cand.structure()
        except Exception:  # counted, not fatal (bad input is never fatal to a batch)
            errors += 1
        per_family.setdefault(cand.family, []).append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return {
        "n": len(sample),
        "wall_s": wall,
        "rate": len(sample) / wall,
        "errors": errors,
        "per_family_rate": {f: len(v) / sum(v) for f, v in per_family.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/results/enumeration.md")
    parser.add_argument("--sample", type=int, default=1000, help="structures to build (default 1000)")
    parser.add_argument("--tracemalloc", action="store_true", help="add the (slow) tracemalloc pass")
    parser.add_argument("--large", action="store_true", help="add the 'large' preset (10^6 space, a few minutes)")
    parser.add_argument("--rules-only", action="store_true",
                        help="only the plausibility-rule counts (dry runs), rewriting that section of enumeration.md")
    args = parser.parse_args(argv)
    if args.rules_only:
        return _rules_only(args.write)

    pinned = _pin_one_core()
    load_seeds()  # warm imports (pymatgen) so that they are not timed
    enumerate_candidates(seeds=["Li3OCl"]).__next__()

    plan = plan_pass()
    print(f"dry run: {plan['plan']['candidates'].sum():,} candidates in {plan['wall_s']:.1f} s")
    run = enumerate_pass(sample_size=args.sample)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    t0 = time.perf_counter()
    budget = list(enumerate_candidates(limit=300, seed=0))
    run["budget"] = {"n": len(budget), "wall_s": time.perf_counter() - t0,
                     "prototypes": len({c.prototype for c in budget}), "n_prototypes": len(load_seeds())}
    print(f"budget 300: {len(budget)} candidates from {run['budget']['prototypes']} prototypes "
          f"in {run['budget']['wall_s']:.1f} s (index cached)")
    print(f"candidates: {run['n']:,} in {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU "
          f"({run['n'] / run['wall_s']:,.0f}/s); peak RSS {rss_gb:.2f} GB")
    print("per family:", run["per_family"])

    traced = None
    if args.tracemalloc:
        tracemalloc.start()
        run2 = enumerate_pass()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = {"peak_mb": peak / 1024**2, "wall_s": run2["wall_s"]}
        print(f"tracemalloc: peak {traced['peak_mb']:.0f} MB (pass took {run2['wall_s']:.1f} s under tracing)")

    large = None
    if args.large:
        lplan = plan_pass("large")
        lrun = enumerate_pass(options="large")
        large = {"plan_s": lplan["wall_s"], "plan_n": int(lplan["plan"]["candidates"].sum()), "run": lrun,
                 "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}
        print(f"large: {lrun['n']:,} candidates; dry run {lplan['wall_s']:.1f} s, stream {lrun['wall_s']:.1f} s "
              f"wall; peak RSS {large['rss_gb']:.2f} GB; per family {lrun['per_family']}")

    ablation = rule_ablation()

    structures = structure_pass(run["sample"])
    rates = {k: round(v) for k, v in structures["per_family_rate"].items()}
    print(f"structures: {structures['n']} in {structures['wall_s']:.1f} s = {structures['rate']:.0f}/s, "
          f"errors {structures['errors']}; per family {rates}")

    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(_markdown(run, rss_gb, traced, structures, pinned, plan, large, ablation))
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _rules_only(write: bool) -> int:
    """The rule counts alone, replacing their section of an existing results file (the rest stays as measured)."""
    t0 = time.perf_counter()
    n = int(enumeration_plan()["candidates"].sum())
    print(f"default space: {n:,} candidates ({time.perf_counter() - t0:.0f} s)")
    section = _ablation_section({"n": n}, rule_ablation())
    if write:
        text = RESULTS.read_text()
        start = text.index("## What each plausibility rule removes")
        end = text.index("\n## ", start + 3)
        stamp = f"(This section: `python benchmarks/bench_enumeration.py --rules-only --write` on {dt.date.today().isoformat()}.)\n\n"
        RESULTS.write_text(text[:start] + "## What each plausibility rule removes\n\n" + stamp + section + text[end:])
        print(f"wrote the rules section of {RESULTS.relative_to(ROOT)}")
    return 0


def _large_section(large: dict | None) -> str:
    if large is None:
        return "Not measured in this run (`--large`)."
    opts = PRESETS["large"]
    run = large["run"]
    fams = ", ".join(f"{f} {n:,}" for f, n in sorted(run["per_family"].items()))
    return f"""`enumerate_candidates(options="large")`: `min_lambda={opts.min_lambda}`,
`codoping="{opts.codoping}"` (any two dopants of different elements on one site),
`doping_grid={opts.doping_grid}`, `codoping_grid={opts.codoping_grid}`,
`max_dopant_species={opts.max_dopant_species}`, the rest as the
default (`screening.enumeration.PRESETS`).

| measure | value |
|---|---|
| distinct candidates | {run['n']:,} ({fams}) |
| dry run (`enumeration_plan(options="large")`) | {large['plan_s']:.1f} s |
| stream (index cached by the dry run) | {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU ({run['n'] / run['wall_s']:,.0f}/s) |
| peak resident memory, whole process (default and large passes) | {large['rss_gb']:.2f} GB |
"""


def _ablation_section(run: dict, ablation: dict) -> str:
    n = run["n"]
    rows = "\n".join(f"| {label} | {a['n']:,} | {a['n'] - n:,} | {a['wall_s']:.0f} s |"
                     for label, a in ablation.items() if label != "noble")  # fmt: skip
    noble = ablation["noble"]
    return f"""Distinct candidates of the default space with a rule switched off (dry runs,
`enumeration_plan(options=replace(PRESETS["default"], min_oxidation_state_probability=None))`
etc.); the default has them on:
**{n:,}** candidates. The oxidation-state rule keeps a cation dopant only when SMACT's
ICSD probability of its state with the framework anion is at least 0.4
(`screening.enumeration.plausibility`); the dopant-species limit keeps at most 2
elements the parent does not have (`max_dopant_species`, 3 in `large`).

| rule switched off | candidates | removed by the rule(s) | dry run |
|---|---|---|---|
{rows}

Noble gases (never dopants, refused in `elements`, not offered in the screen form)
remove nothing from the bundled space: the cation pool holds none
({noble['pool'] or 'none'}) and no explicit dopant list of the manifest names one
({noble['manifest'] or 'none'}); the rule guards user pools and manifests.
"""


def _markdown(run: dict, rss_gb: float, traced: dict | None, structures: dict, pinned: str,
              plan: dict, large: dict | None, ablation: dict) -> str:
    df = run["report"].to_frame()
    table = df.pivot_table(index=["family", "prototype"], columns="filter", values="count", observed=False)
    table = table.astype(int)
    header = "| family | prototype | " + " | ".join(table.columns.astype(str)) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 2)]
    for (fam, proto), row in table.iterrows():
        lines.append(f"| {fam} | {proto} | " + " | ".join(f"{v:,}" for v in row) + " |")
    fam_rows = "\n".join(f"| {f} | {n:,} |" for f, n in sorted(run["per_family"].items()))
    traced_line = (
        f"| peak Python memory (tracemalloc pass) | {traced['peak_mb']:.0f} MB (that pass: {traced['wall_s']:.0f} s) |"
        if traced else ""
    )
    command = ("python benchmarks/bench_enumeration.py --write" + (" --tracemalloc" if traced else "")
               + (" --large" if large else ""))
    report = run["report"]
    budget = run["budget"]
    ptable = plan["plan"]
    plan_lines = "\n".join(
        f"| {r.family} | {r.prototype} | {r.candidates:,} | {r.shared_with_other_prototypes:,} | {r.sampled} |"
        for r in ptable.itertuples()
    )
    return f"""# Candidate enumeration benchmark

Produced by `{command}` on {dt.date.today().isoformat()}.
Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python
{platform.python_version()}, {platform.system()}; the process was {pinned}, BLAS threads 1.

## Default space (`enumerate_candidates()` with no arguments)

| measure | value |
|---|---|
| distinct candidates | {run['n']:,} |
| dry run (`enumeration_plan()`, index pass) | {plan['wall_s']:.1f} s |
| stream wall time (index cached) | {run['wall_s']:.1f} s |
| CPU time | {run['cpu_s']:.1f} s |
| rate | {run['n'] / run['wall_s']:,.0f} candidates/s |
| peak resident memory (getrusage, whole process) | {rss_gb:.2f} GB |
{traced_line}

Target: at least 100,000 candidates in under 2 minutes on one core, under 2 GB.
Composition-level generation builds no structures. The redox rule removed
{report.removed('redox'):,} candidates (counted as combinations of the options it drops),
and {report.removed('distinct'):,} compositions reached from an earlier prototype were
yielded once, under the first (`Candidate.prototypes` lists all).
A budget of 300 (`enumerate_candidates(limit=300)`, stratified by family then prototype,
seed 0) drew {budget['n']} candidates from {budget['prototypes']} of {budget['n_prototypes']}
prototypes in {budget['wall_s']:.1f} s.

| family | candidates |
|---|---|
{fam_rows}

## Dry run per prototype (`enumeration_plan(limit=300)`)

| family | prototype | candidates | shared with other prototypes | budget 300 |
|---|---|---|---|---|
{plan_lines}

## What each plausibility rule removes

{_ablation_section(run, ablation)}
## The large space (`options="large"`)

{_large_section(large)}
## Structures

{structures['n']} candidates drawn at random (reservoir sample, seed 0) from the stream;
`Candidate.structure()` for each: **{structures['rate']:.0f} structures/s**
({structures['wall_s']:.1f} s, {structures['errors']} errors); per family
{', '.join(f'{k} {v:.0f}/s' for k, v in sorted(structures['per_family_rate'].items()))}.
Target: 50 a second or more.

## Filter counts per prototype

Candidates left after each filter (`EnumerationReport.to_frame()`); the first five are
counted as the combinations the surviving options allow (the redox count also drops,
by iteration, combinations pairing a cation dopant with an anion dopant it would
oxidise), the others by iteration (`plausibility`, `dopant_species`: combinations
before charge balance; `unique`: per prototype; `distinct`: over the whole space).

{chr(10).join(lines)}
"""


if __name__ == "__main__":
    raise SystemExit(main())
