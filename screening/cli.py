"""The ``screening`` command line: query the results store and launch runs.

    screening query "SELECT formula, log10_sigma_S_cm FROM ranked LIMIT 5"
    screening top --family halide -n 20 --format csv
    screening runs
    screening export results/parquet
    screening screen --source enumerated --family halide --limit 1000

``--store PATH`` (before the command) points at another DuckDB file; the default is
``SCREENING_RESULTS_PATH`` or ``results/screening.duckdb``. ``screening screen`` takes
the same parameters as the ``screen`` flow and validates them the same way: a bad value
is refused with a message (exit status 2) before any work starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import pandas as pd

__all__ = ["main", "build_parser"]


def _emit(frame: pd.DataFrame, fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "json":
        out.write(frame.to_json(orient="records", default_handler=str, double_precision=6) + "\n")
    else:
        if frame.empty:
            out.write("(no rows)\n")
        else:
            with pd.option_context("display.max_columns", 30, "display.width", 200, "display.max_colwidth", 40):
                out.write(frame.to_string(index=False, float_format=lambda v: f"{v:.3g}") + "\n")


_TOP_COLUMNS = ["rank", "candidate_id", "formula", "family", "log10_sigma_S_cm", "log10_sigma_S_cm_std",
                "window_low_V", "window_high_V", "window_width_V", "e_rxn_li_eV_atom", "pareto_rank", "score"]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands query, top, runs, export, screen)."""
    parser = argparse.ArgumentParser(prog="screening", description="Screening of Li solid electrolytes: query results, launch runs.")
    parser.add_argument("--store", help="DuckDB results file (default: SCREENING_RESULTS_PATH or results/screening.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True)

    def fmt(p):
        p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)")

    q = sub.add_parser("query", help="run SQL against the store (tables: runs, candidates, descriptors, stability, predictions, scores; view: ranked)")
    q.add_argument("sql")
    fmt(q)

    t = sub.add_parser("top", help="the best ranked candidates of a run (default: the latest completed run)")
    t.add_argument("-n", type=int, default=20, help="how many (default 20)")
    t.add_argument("--family", help="only this family (sulfide, halide, oxide, ...)")
    t.add_argument("--min-window-V", type=float, dest="min_window_V", help="only candidates with window_width_V at least this")
    t.add_argument("--run-id", help="a run id (default: the latest completed run)")
    t.add_argument("--all-columns", action="store_true", help="every column of the ranked view, not the usual few")
    fmt(t)

    r = sub.add_parser("runs", help="the runs in the store")
    fmt(r)

    e = sub.add_parser("export", help="write every table and the ranked view as Parquet files")
    e.add_argument("directory")

    s = sub.add_parser("screen", help="launch a screening run (the `screen` flow) with validated parameters")
    s.add_argument("--source", choices=["obelix", "enumerated", "cif"])
    s.add_argument("--family", action="append", dest="families", help="a family to keep (repeat for several)")
    s.add_argument("--element", action="append", dest="elements", help="an element of the pool (repeat for several)")
    s.add_argument("--limit", type=int, help="candidate budget")
    s.add_argument("--tier", action="append", dest="tiers", choices=["composition", "stability"], help="tier to run (repeat)")
    s.add_argument("--stability-top-k", type=int)
    s.add_argument("--cif-glob")
    s.add_argument("--weight", action="append", metavar="OBJECTIVE=W", help="ranking weight (repeat)")
    s.add_argument("--filter", action="append", metavar="COLUMN=MIN:MAX", help="hard filter, empty side unbounded (repeat)")
    s.add_argument("--top-n", type=int)
    s.add_argument("--chunk-size", type=int)
    s.add_argument("--run-id", help="resume this run (or name a new one)")
    s.add_argument("--task-runner", choices=["threads", "dask"])
    s.add_argument("--dask-address")
    s.add_argument("--max-workers", type=int)
    s.add_argument("--params-json", help="all parameters as a JSON object (the flags above override it)")
    s.add_argument("--dry-run", action="store_true", help="validate and print the parameters, run nothing")
    return parser


def _screen_parameters(args: argparse.Namespace):
    from screening.pipeline import ScreenParameters

    data = json.loads(args.params_json) if args.params_json else {}
    for key in ("source", "families", "elements", "limit", "tiers", "stability_top_k", "cif_glob", "top_n", "chunk_size",
                "run_id", "task_runner", "dask_address", "max_workers"):  # fmt: skip
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if args.weight:
        data["weights"] = {k: float(v) for k, v in (w.split("=", 1) for w in args.weight)}
    if args.filter:
        filters = {}
        for item in args.filter:
            column, _, bounds = item.partition("=")
            low, _, high = bounds.partition(":")
            filters[column] = (float(low) if low else None, float(high) if high else None)
        data["filters"] = filters
    if args.store:
        data["store_path"] = args.store
    return ScreenParameters.model_validate(data)


def _validation_message(exc) -> str:
    lines = ["invalid parameters:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        msg = err["msg"]
        if err["type"] == "literal_error" and len(msg) > 200:
            msg = f"{err['input']!r} is not one of the accepted values"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``screening`` console script; returns the exit status."""
    from pydantic import ValidationError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "screen":
            try:
                params = _screen_parameters(args)
            except (ValidationError, ValueError) as exc:
                msg = _validation_message(exc) if isinstance(exc, ValidationError) else f"invalid parameters: {exc}"
                print(msg, file=sys.stderr)
                return 2
            if args.dry_run:
                print(params.model_dump_json(indent=2))
                return 0
            from flows.screen import screen

            run_id = screen(params)
            print(f"run_id: {run_id}")
            return 0

        from screening.store import ResultStore

        store = ResultStore(args.store)
        if args.command == "query":
            _emit(store.query(args.sql), args.format)
        elif args.command == "top":
            if args.n < 1:
                print(f"-n {args.n}: must be at least 1", file=sys.stderr)
                return 2
            frame = store.top(args.n, run_id=args.run_id, family=args.family, min_window_V=args.min_window_V)
            if not args.all_columns and not frame.empty:
                frame = frame[[c for c in _TOP_COLUMNS if c in frame]]
            _emit(frame, args.format)
        elif args.command == "runs":
            frame = store.query(
                "SELECT run_id, flow, status, started_at, finished_at, n_candidates, n_errors, code_version, git_commit "
                "FROM runs ORDER BY started_at"
            )
            _emit(frame, args.format)
        elif args.command == "export":
            for path in store.export_parquet(args.directory):
                print(path)
    except Exception as exc:  # duckdb errors (bad SQL, missing file) become one line, not a traceback
        import duckdb

        if isinstance(exc, duckdb.Error):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
