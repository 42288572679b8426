"""Shortlist check of a finished enumerated screen: diversity of its top table, plausibility of every candidate, why lines.

Run a screen first, then this on its store::

    screening --store scratch/s3000.duckdb screen --source enumerated --limit 3000 --top-n 100 --run-id e3000
    python benchmarks/bench_shortlist.py --store scratch/s3000.duckdb --run-id e3000 --write

What it measures (issue 23, "a shortlist a chemist can act on"):

1. the top ``n`` (default 100) that passed the gates, with the run's per-prototype cap
   (``run.per_prototype``) and without it (``--per-prototype 0``): candidates per prototype;
2. every candidate the run screened: its dopant elements (elements its parent does not
   have, from ``substitutions``) against the limit, and each cation dopant's SMACT
   oxidation-state probability with the candidate's framework anion against the rule
   (:mod:`screening.enumeration.plausibility`), judged again here from the stored rows;
3. ``screening top --explain`` on the run: its exit status and first rows.

Targets: the capped top 100 from at least 8 prototypes, none holding more than 25; no
candidate over the dopant limit or with a dopant the rule rejects; ``--explain`` works.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymatgen.core import Composition  # noqa: E402

from screening.chemistry import ANION_CHARGES  # noqa: E402
from screening.enumeration import load_seeds  # noqa: E402
from screening.enumeration.plausibility import DEFAULT_MIN_PROBABILITY, species_probability  # noqa: E402
from screening.store import ResultStore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "shortlist.md"
_DOPANT = re.compile(r"->([A-Z][a-z]?)(\d*)([+-])")


def dopants(substitutions: str | None) -> list[tuple[str, int]]:
    """``(element, state)`` of each dopant of a stored ``substitutions`` text (``Y3+->Ge2+ x0.05 (Y); ...``)."""
    out = []
    for el, n, sign in _DOPANT.findall(substitutions or ""):
        out.append((el, int(n or 1) * (1 if sign == "+" else -1)))
    return out


def framework_anion(formula: str) -> str | None:
    """The anion with the most atoms in ``formula``."""
    amounts = {el.symbol: a for el, a in Composition(formula).items() if el.symbol in ANION_CHARGES}
    return max(amounts, key=amounts.get) if amounts else None


def check_candidates(frame, limit: int) -> dict:
    """Dopant-species counts and plausibility verdicts of every screened candidate."""
    parents = {s.name: set(s.amounts) for s in load_seeds()}
    n_species, rejected, unjudged = Counter(), [], Counter()
    for row in frame.itertuples():
        ions = dopants(row.substitutions)
        new = {el for el, _ in ions} - parents.get(row.parent, set())
        n_species[len(new)] += 1
        anion = framework_anion(row.formula)
        for el, q in ions:
            if q < 0 or anion is None:
                continue
            p = species_probability(el, q, anion, ANION_CHARGES[anion])
            if p is None:
                unjudged[f"{el}{q}+"] += 1
            elif p < DEFAULT_MIN_PROBABILITY:
                rejected.append((row.formula, f"{el}{q}+", anion, p))
    over = sum(k for n, k in n_species.items() if n > limit)
    return {"n": len(frame), "n_species": dict(sorted(n_species.items())), "over_limit": over, "rejected": rejected,
            "unjudged": dict(unjudged.most_common())}  # fmt: skip


def explain_output(store: Path, run_id: str) -> tuple[int, str]:
    """``screening top --explain -n 5`` on the run: exit status and output."""
    from screening.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["--store", str(store), "top", "--run-id", run_id, "--explain", "-n", "5", "--format", "csv"])
    return code, buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the DuckDB store of the finished screen")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("-n", type=int, default=100, help="size of the top table (default 100)")
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/results/shortlist.md")
    parser.add_argument("--load", default="", help="a note on the machine's load during the screen, for the results file")
    args = parser.parse_args(argv)

    store = ResultStore(args.store, read_only=True)
    params = store.run_parameters(args.run_id) or {}
    cap = int((params.get("run") or {}).get("per_prototype", 0) or 0)
    limit = params.get("max_dopant_species") or (3 if params.get("space") == "large" else 2)
    cols = ["rank", "formula", "prototype", "why"]
    capped = store.top(args.n, run_id=args.run_id, per_prototype=cap, columns=cols)
    plain = store.top(args.n, run_id=args.run_id, per_prototype=0, columns=cols)
    n_passing = int(store.query("SELECT count(*) AS n FROM scores WHERE run_id = ? AND passes_gates", [args.run_id])["n"][0])
    beyond = int(store.query("SELECT count(*) AS n FROM scores WHERE run_id = ? AND passes_gates AND prototype_rank > ?",
                             [args.run_id, cap])["n"][0]) if cap else 0  # fmt: skip
    frame = store.query("SELECT formula, parent, substitutions FROM candidates WHERE run_id = ?", [args.run_id])
    checked = check_candidates(frame, limit)
    code, explained = explain_output(Path(args.store), args.run_id)
    info = store.run_info(args.run_id)

    by_capped, by_plain = Counter(capped["prototype"]), Counter(plain["prototype"])
    print(f"run {args.run_id}: {checked['n']} candidates, {n_passing} passed the gates")
    print(f"top {args.n} with at most {cap} per prototype: {len(by_capped)} prototypes, max {max(by_capped.values())}: {dict(by_capped.most_common())}")
    print(f"top {args.n} without the cap: {len(by_plain)} prototypes: {dict(by_plain.most_common())}")
    print(f"dopant elements per candidate: {checked['n_species']}; over the limit {limit}: {checked['over_limit']}; "
          f"rejected dopants: {len(checked['rejected'])}; not in SMACT's table: {checked['unjudged']}")  # fmt: skip
    print(f"screening top --explain: exit {code}\n{explained}")
    if args.write:
        RESULTS.write_text(_markdown(args, info, cap, limit, capped, plain, n_passing, beyond, checked, code, explained))
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    ok = len(by_capped) >= 8 and max(by_capped.values()) <= 25 and not checked["over_limit"] and not checked["rejected"] and code == 0
    return 0 if ok else 1


def _table(counter: Counter) -> str:
    return "\n".join(f"| {p} | {k} |" for p, k in counter.most_common())


def _markdown(args, info, cap, limit, capped, plain, n_passing, beyond, checked, code, explained) -> str:
    by_capped, by_plain = Counter(capped["prototype"]), Counter(plain["prototype"])
    row = ResultStore(args.store, read_only=True).query("SELECT git_commit, timings FROM runs WHERE run_id = ?", [args.run_id]).iloc[0]
    timings = f"{row['timings']}, code at commit {row['git_commit']}{'; ' + args.load if args.load else ''}"
    return f"""# Shortlist check of an enumerated screen

Produced by `python benchmarks/bench_shortlist.py --store {args.store} --run-id {args.run_id} --write`
on {dt.date.today().isoformat()}, on the screen
`screening --store {args.store} screen --source enumerated --limit 3000 --top-n 100 --run-id {args.run_id}`
(default preset `balanced`, default space, stability tier on the best 2000; run `{info.label()}`;
timings {timings}).

{checked['n']:,} candidates screened, {n_passing:,} passed the gates. Before issue 23 the same
kind of screen (3,000 enumerated, default preset) had a top 100 of LLTO 44, garnet 26,
LISICON 24, Li3YCl6 3, Li2ZrCl6 2, LGPS 1 (6 prototypes).

## Top {args.n}, at most {cap} per prototype (the run's table, `screening top --per-prototype {cap}`)

**{len(by_capped)} prototypes, at most {max(by_capped.values())} of one** (target: >= 8, none > 25).
The cap held back {beyond:,} of the {n_passing:,} passing candidates (the funnel's
`table: at most {cap} per prototype` stage); the stored ranking is unchanged.

| prototype | candidates |
|---|---|
{_table(by_capped)}

## Top {args.n} without the cap (`--per-prototype 0`, the plain weighted ranking)

{len(by_plain)} prototypes, at most {max(by_plain.values())} of one.

| prototype | candidates |
|---|---|
{_table(by_plain)}

## Plausibility of every screened candidate

Dopant elements per candidate (elements its parent does not have): {checked['n_species']}
(limit {limit}): **{checked['over_limit']} over the limit**. Cation dopants judged again from
the stored rows against SMACT's oxidation-state probability with the framework anion
(threshold {DEFAULT_MIN_PROBABILITY}): **{len(checked['rejected'])} rejected**{': ' + str(checked['rejected'][:10]) if checked['rejected'] else ''}.
Dopant species SMACT's table does not list (passed unjudged): {checked['unjudged'] or 'none'}.

## `screening top --explain -n 5 --format csv`

Exit status {code}:

```
{explained.strip()}
```
"""


if __name__ == "__main__":
    raise SystemExit(main())
