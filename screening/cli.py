"""The ``screening`` command line: query the results store and launch runs.

    screening query "SELECT formula, log10_sigma_S_cm FROM ranked LIMIT 5"
    screening top --family halide -n 20 --format csv
    screening runs
    screening export results/parquet
    screening predict Li6PS5Cl Li3YCl6 --format csv
    screening describe seeds/Li6PS5Cl.cif
    screening screen --source enumerated --family halide --limit 1000

``--store PATH`` (before the command) points at another DuckDB file; the default is
``SCREENING_RESULTS_PATH`` or ``results/screening.duckdb``. ``screening screen`` takes
the same parameters as the ``screen`` flow and validates them the same way: a bad value
is refused with a message (exit status 2) before any work starts. The run itself is the
Prefect flow's, which this module never imports: the ``screening`` console script is
:func:`flows.cli.main`, this command line with the flow as its ``run_screen``.

The read commands (``query``, ``top``, ``runs``, ``export``) open the store read-only and
never write to it; ``query`` runs one SELECT on a sandboxed connection (see
:meth:`screening.store.ResultStore.query`). Every expected failure (bad SQL, a missing
store, a bad dataset, a folder that cannot be created) is one ``error:`` line on stderr
and exit status 1, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from screening.columns import SIGMA
from screening.errors import ScreeningError

__all__ = ["main", "build_parser", "ScreenRunner"]


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


NO_RUNS = "no runs yet: run `screening screen` or `make run`"

# columns of `screening predict` in the table format: (header, value column, interval low, interval high)
_PREDICT_SHOW = [
    ("log10 sigma (S/cm)", SIGMA, "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80"),
    ("E_f (eV/atom)", "formation_energy_eV_atom", "formation_energy_eV_atom_lo80", "formation_energy_eV_atom_hi80"),
    ("e_hull (eV/atom)", "e_hull_eV_atom", None, None),
    ("e_hull source", "e_hull_source", None, None),
    ("window (V)", "window_low_V", "window_low_V", "window_high_V"),
    ("window width (V)", "window_width_V", None, None),
    ("E_rxn Li (eV/atom)", "e_rxn_li_eV_atom", None, None),
    ("G (GPa)", "G_VRH_GPa", "G_VRH_GPa_lo80", "G_VRH_GPa_hi80"),
    ("K (GPa)", "K_VRH_GPa", "K_VRH_GPa_lo80", "K_VRH_GPa_hi80"),
    ("K_IC (MPa m^0.5)", "K_IC_MPa_m05", None, None),
    ("G/G_Li", "G_over_G_Li", None, None),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands query, top, runs, export, screen)."""
    parser = argparse.ArgumentParser(prog="screening", description="Screening of Li solid electrolytes: query results, launch runs.")
    parser.add_argument("--store", help="DuckDB results file (default: SCREENING_RESULTS_PATH or results/screening.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True)

    def fmt(p):
        p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)")

    q = sub.add_parser("query", help="run SQL against the store (tables: runs, candidates, descriptors, stability, predictions, scores; view: ranked)")
    q.add_argument("sql")
    q.add_argument("--max-rows", type=int, help="most rows to print (default SCREENING_QUERY_MAX_ROWS, 100000)")
    q.add_argument("--timeout", type=float, metavar="SECONDS", help="stop the query after this long (default SCREENING_QUERY_TIMEOUT_S, 60)")
    fmt(q)

    t = sub.add_parser("top", help="the best ranked candidates of a run (default: the latest completed run)")
    t.add_argument("-n", type=int, default=20, help="how many (default 20)")
    t.add_argument("--family", help="only this family (sulfide, halide, oxide, ...)")
    t.add_argument("--min-window-V", type=float, dest="min_window_V", help="only candidates with window_width_V at least this")
    t.add_argument("--run-id", help="a run id (default: the latest completed run)")
    t.add_argument("--columns", help="more columns after the compact ones, comma-separated: any column of the README's glossary "
                   "(screening.columns), e.g. G_over_G_Li,e_rxn_h2o_eV_atom,gate_failed")
    t.add_argument("--wide", action="store_true", help="the longer list of columns (ids, sources, window width, cost ...)")
    t.add_argument("--all-columns", action="store_true", help="every column of the ranked view, not the usual few")
    t.add_argument("--per-prototype", type=int, default=None, metavar="N",
                   help="at most N candidates of one parent prototype (default: the run's own setting, 10 unless changed; 0: no cap)")
    t.add_argument("--explain", action="store_true", help="add each row's why: its percentile per objective, with the weights")
    fmt(t)

    r = sub.add_parser("runs", help="the runs in the store: id, name, status, counts (--wide: parameters and timings)")
    r.add_argument("--wide", action="store_true", help="with every parameter and timing (long lines)")
    fmt(r)

    p = sub.add_parser("predict", help="predict every property of formulas, with 80%% intervals")
    p.add_argument("formulas", nargs="+", metavar="FORMULA")
    p.add_argument("--no-stability", action="store_true", help="skip the hull, window and reaction energies (faster)")
    fmt(p)

    d = sub.add_parser("describe", help="every descriptor of structure files (CIF, POSCAR, ...)")
    d.add_argument("files", nargs="+", metavar="FILE")
    d.add_argument("--all-columns", action="store_true", help="include the 132 Magpie composition statistics")
    fmt(d)

    e = sub.add_parser("export", help="write every table and the ranked view as Parquet files")
    e.add_argument("directory")

    s = sub.add_parser("screen", help="launch a screening run (the `screen` flow) with validated parameters")
    s.add_argument("--source", choices=["obelix", "enumerated", "file", "cif"], help="'cif': deprecated name of 'file'")
    s.add_argument("--family", action="append", dest="families", help="a family to keep (repeat for several)")
    s.add_argument("--element", action="append", dest="elements", help="an element of the pool (repeat for several)")
    s.add_argument("--limit", type=int, help="candidate budget")
    s.add_argument("--tier", action="append", dest="tiers", choices=["composition", "stability", "structure", "relax", "simulation"],
                   help="tier to run (repeat; default composition, stability, structure, relax)")
    s.add_argument("--stability-top-k", type=int)
    s.add_argument("--structure-top-k", type=int, help="tier structure: describe the best K candidates from their own structure")
    s.add_argument("--tiers", dest="tiers_csv", metavar="T1,T2",
                   help="tiers as one comma-separated list, e.g. composition,stability,structure,simulation")
    s.add_argument("--simulation-top-k", type=int, help="tier simulation: simulate the best K ranked candidates")
    s.add_argument("--mlip-relax-top-k", type=int, help="tier relax: MLIP e_hull (relaxation, no MD) of the best K' ranked candidates")
    s.add_argument("--potential", choices=["chgnet", "sevenn"], help="tier simulation: the interatomic potential")
    s.add_argument("--md-steps", type=int, help="tier simulation: MD steps per temperature")
    s.add_argument("--cif-glob")
    s.add_argument("--space", choices=["default", "large"], help="enumerated: the substitution space (default ~0.12 M, large ~1.0 M)")
    s.add_argument("--min-lambda", type=float, help="enumerated: smallest substitution log-odds (default: the space's own)")
    s.add_argument("--max-dopant-species", type=int, help="enumerated: most dopant elements a candidate (default: the space's own, 2)")
    s.add_argument("--per-prototype", type=int, help="the run's table: at most N candidates per prototype (default 10; 0: no cap)")
    s.add_argument("--preset", help="ranking preset: balanced (default), conductivity-first, li-metal-anode, high-voltage-cathode")
    s.add_argument("--kappa", type=float, help="rank conductivity by prediction + kappa x std (optimism under uncertainty)")
    s.add_argument("--e-hull-z", type=float, help="the e_hull gate applies to e_hull + z x std")
    s.add_argument("--use-measured", action="store_true", default=None,
                   help="rank candidates with a measured conductivity (OBELiX) on it instead of the prediction")
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

    data = _params_object(args.params_json) if args.params_json else {}
    for key in ("source", "families", "elements", "limit", "tiers", "stability_top_k", "cif_glob", "top_n", "chunk_size",
                "run_id", "task_runner", "dask_address", "max_workers", "preset", "kappa", "e_hull_z", "use_measured", "structure_top_k", "simulation_top_k", "mlip_relax_top_k", "potential", "md_steps", "space", "min_lambda", "max_dopant_species", "per_prototype"):  # fmt: skip
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if args.tiers_csv:
        data["tiers"] = [t.strip() for t in args.tiers_csv.split(",") if t.strip()]
    if args.weight:
        data["weights"] = dict(_key_value(w, "--weight", "OBJECTIVE=W", float) for w in args.weight)
    if args.filter:
        filters = {}
        for item in args.filter:
            column, bounds = _key_value(item, "--filter", "COLUMN=MIN:MAX", str)
            low, sep, high = bounds.partition(":")
            if not sep:
                raise ScreeningError(f"--filter {item!r}: expected COLUMN=MIN:MAX (either side may be empty)")
            filters[column] = (_number(low, item) if low else None, _number(high, item) if high else None)
        data["filters"] = filters
    if args.store:
        data["store_path"] = args.store
    return ScreenParameters.model_validate(data)


def _params_object(text: str) -> dict:
    """``--params-json``: a JSON object, or a ScreeningError saying what it is instead."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScreeningError(f"--params-json is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ScreeningError(f"--params-json must be a JSON object ({{\"limit\": 10, ...}}), not {type(data).__name__}")
    return data


def _number(text: str, item: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ScreeningError(f"{item!r}: {text!r} is not a number") from None


def _key_value(item: str, flag: str, form: str, convert):
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ScreeningError(f"{flag} {item!r}: expected {form}")
    return key.strip(), (_number(value, item) if convert is float else value)


def _runs_for_output(frame: pd.DataFrame, fmt: str, wide: bool = False) -> pd.DataFrame:
    """Runs with parameters and timings as JSON (csv, json); the table: one short line a run (``wide``: every
    parameter and timing as ``key=value``)."""
    from screening.run_scope import screen_name

    frame = frame.copy()
    if fmt != "table":
        for col in ("parameters", "timings"):
            frame[col] = [json.dumps(d, default=str) for d in frame[col]]
        return frame
    name = [n if isinstance(n, str) and n else f"{screen_name(p)}-{r}" for n, p, r in zip(frame["flow_run_name"], frame["parameters"], frame["run_id"])]
    short = pd.DataFrame({
        "run_id": frame["run_id"], "name": name, "status": frame["status"],
        "started (UTC)": [t.strftime("%Y-%m-%d %H:%M") if hasattr(t, "strftime") and t == t else "" for t in frame["started_at"]],
        "duration (s)": frame["duration_s"], "candidates": frame["n_candidates"], "errors": frame["n_errors"],
        "code": [f"{v} {g or ''}".strip() for v, g in zip(frame["code_version"], frame["git_commit"])],
    })  # fmt: skip
    if wide:
        for col in ("parameters", "timings"):
            short[col] = [", ".join(f"{k}={v}" for k, v in d.items() if v is not None) for d in frame[col]]
    return short


def _interval(frame: pd.DataFrame, value: str, low: str | None, high: str | None) -> list[str]:
    """Readable cells: ``value [low, high]`` (3 significant digits), empty where NaN."""
    cells = []
    for i in range(len(frame)):
        v = frame[value].iloc[i] if value in frame else None
        if v is None or (isinstance(v, float) and v != v):
            cells.append("")
        elif not isinstance(v, (int, float)):
            cells.append(str(v))
        elif low and high and low in frame and high in frame and value != low:
            cells.append(f"{v:.3g} [{frame[low].iloc[i]:.3g}, {frame[high].iloc[i]:.3g}]")
        elif low and high and low in frame and high in frame:  # a range (the window)
            cells.append(f"{frame[low].iloc[i]:.3g} - {frame[high].iloc[i]:.3g}")
        else:
            cells.append(f"{v:.3g}")
    return cells


def _predict(args: argparse.Namespace) -> int:
    """``screening predict``: every property of the formulas; table cells ``value [80% interval]``.
    Exit status 1 when no formula could be predicted (every row has an error)."""
    import screening

    frame = screening.predict(args.formulas, stability=not args.no_stability)
    frame = frame[[c for c in frame.columns if not c.startswith("MagpieData")]]
    status = 0
    if len(frame) and frame["error"].notna().all():
        print(f"error: no formula could be predicted ({len(frame)} of {len(frame)} have an error)", file=sys.stderr)
        status = 1
    if args.format != "table":
        _emit(frame, args.format)
        return status
    out = pd.DataFrame({"formula": frame["formula"], "family": frame.get("family"), "prototype": frame.get("prototype")})
    for header, value, low, high in _PREDICT_SHOW:
        out[header] = _interval(frame, value, low, high)
    out["error"] = frame["error"].fillna("") if "error" in frame else ""
    # one column per formula: the properties read down, with their units
    table = out.set_index("formula").T.reset_index().rename(columns={"index": "property"})
    table.columns = [str(c) for c in table.columns]
    _emit(table.fillna(""), "table")
    print("(value [80% interval]; window: low - high vs Li/Li+)")
    return status


def _describe(args: argparse.Namespace) -> None:
    """``screening describe``: every descriptor of the files; the table format has one column per file."""
    from screening.descriptors import describe_table

    frame = describe_table(args.files, pbar=False)
    frame.insert(0, "file", args.files)
    if not args.all_columns:
        frame = frame[[c for c in frame.columns if not c.startswith("MagpieData")]]
    if args.format != "table":
        _emit(frame, args.format)
        return
    table = frame.set_index("file").T.reset_index().rename(columns={"index": "descriptor"})
    table.columns = [str(c) for c in table.columns]
    cells = table.astype(object).where(table.notna(), "")
    for col in cells.columns[1:]:
        cells[col] = [_fmt_cell(v) for v in cells[col]]
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 60, "display.width", 200):
        print(cells.to_string(index=False))


def _query(store, args: argparse.Namespace) -> int:
    """``screening query``: the rows under the query limits; a note on stderr when they were cut."""
    from dataclasses import replace

    from screening.sql_guard import QueryLimits

    limits = QueryLimits.from_settings()
    for flag, field, value in (("--max-rows", "max_rows", args.max_rows), ("--timeout", "timeout_s", args.timeout)):
        if value is not None and not value > 0:
            print(f"{flag} {value}: must be positive", file=sys.stderr)
            return 2
        if value is not None:
            limits = replace(limits, **{field: value})
    frame = store.query(args.sql, limits=limits)
    _emit(frame, args.format)
    if frame.attrs.get("truncated"):
        print(f"note: output cut at {limits.max_rows} rows (the query returns more): add a LIMIT, or raise --max-rows "
              "(SCREENING_QUERY_MAX_ROWS)", file=sys.stderr)  # fmt: skip
    return 0


def _fmt_cell(value) -> str:
    """A float to 4 significant digits, anything else as text."""
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def _run_per_prototype(store, run_id: str) -> int:
    """The per-prototype cap a run's table was shown with (its ``run.per_prototype``; the default for older runs)."""
    from screening.shortlist import DEFAULT_PER_PROTOTYPE

    params = store.run_parameters(run_id) or {}
    value = (params.get("run") or {}).get("per_prototype", params.get("per_prototype"))
    return DEFAULT_PER_PROTOTYPE if value is None else int(value)


def _check_columns(names: list[str], available: list[str]) -> None:
    """``top --columns``: each name a registered column (or a pattern column the run wrote), else an UnknownValueError
    naming it, the nearest registered names, and where the list is (exit status 2)."""
    from screening import columns
    from screening.errors import UnknownValueError

    unknown = [c for c in names if c not in available]
    if not unknown:
        return
    hints = []
    for name in unknown:
        try:
            columns.get(name)
        except KeyError as exc:
            hints.append(str(exc.args[0]).removeprefix(f"column {name!r} is not registered in screening.columns").strip(" ()"))
    near = "; ".join(h for h in hints if h)
    raise UnknownValueError(
        f"--columns: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
        + (f" ({near})" if near else "") + ": the columns are those of the README's glossary (python -c 'import screening.columns "
        "as c; print(c.names())')",
        valid=columns.names(deprecated=False),
    )


def _top(store, args: argparse.Namespace) -> None:
    """``screening top``: the run shown named on the first line, then the compact table (or csv/json rows)."""
    from screening import display
    from screening.store import TOP_COLUMNS

    info = store.run_info(args.run_id)  # an unknown run id: UnknownValueError listing the runs
    extra = [c.strip() for c in (args.columns or "").split(",") if c.strip()]
    available = list(store.query("SELECT * FROM ranked LIMIT 0").columns)
    _check_columns(extra, available)
    columns: str | list[str]
    if args.all_columns:
        columns = "all"
    elif args.format != "table" or args.wide:
        columns = [c for c in TOP_COLUMNS if c in available] + [c for c in extra if c not in TOP_COLUMNS]
    else:
        compact = [c for c in display.compact_source_columns(info.preset) if c != "why" or args.explain]
        columns = [c for c in compact if c in available] + [c for c in extra if c not in compact]
    if args.explain and "why" not in available:
        print("note: this store's runs were ranked before the why column existed: rank the run again for --explain",
              file=sys.stderr)  # fmt: skip
    elif args.explain and isinstance(columns, list) and "why" not in columns:
        columns.append("why")
    cap = args.per_prototype if args.per_prototype is not None else _run_per_prototype(store, info.run_id)
    frame = store.top(args.n, run_id=info.run_id, family=args.family, min_window_V=args.min_window_V, columns=columns,
                      per_prototype=cap)
    if args.format != "table":
        _emit(frame, args.format)
        return
    what = f"{args.family} " if args.family else ""
    capped = f", at most {cap} per prototype (--per-prototype 0: no cap)" if cap else ""
    title = f"{info.label()}\nbest {len(frame)} {what}candidates that passed the gates{capped}"
    if frame.empty:
        print(title.replace("best 0", "no"))
        return
    if args.wide or args.all_columns:
        table, width = display.generic_table(frame), 10_000
    else:
        table, width = display.compact_table(frame, info.preset, extra), display.WIDTH
    caption = ("log10 σ: the conductivity the ranking used (the composition model's, with its 80% interval, unless "
               "marked measured or simulation); --columns A,B or --wide for more, --run-id for another run (screening runs)")
    sys.stdout.write(display.render(table, title=title, caption=None if args.wide or args.all_columns else caption, width=width))


def _validation_message(exc) -> str:
    lines = ["invalid parameters:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        msg = err["msg"]
        if err["type"] == "literal_error" and len(msg) > 200:
            msg = f"{err['input']!r} is not one of the accepted values"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


#: the type of the ``screen`` command's runner: validated parameters in, the run id out
ScreenRunner = Callable[..., str]


def main(argv: Sequence[str] | None = None, *, run_screen: ScreenRunner | None = None) -> int:
    """The command line; returns the exit status.

    ``run_screen(params)`` runs a validated screen and returns its run id. The library has
    none (it never imports the Prefect flows): the ``screening`` console script is
    :func:`flows.cli.main`, which passes the ``screen`` flow. Without it, ``screen`` still
    validates its parameters (``--dry-run``) but refuses to run.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, run_screen)
    except KeyboardInterrupt as exc:  # Ctrl-C (or a signal a runner turned into one): one line, the shell's status
        print(f"interrupted: screening {args.command} stopped ({str(exc) or 'Ctrl-C'})", file=sys.stderr)
        return int(getattr(exc, "exit_status", 130))


def _run(args: argparse.Namespace, run_screen: ScreenRunner | None = None) -> int:
    """The command of ``args``; expected failures are one ``error:`` line and status 1."""
    from pydantic import ValidationError

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
            if run_screen is None:
                print("error: this command line has no flow runner: run a screen with the `screening` console script "
                      "or `python -m flows.cli screen ...` (the Prefect flows)", file=sys.stderr)  # fmt: skip
                return 2
            from screening.store import ResultStore

            ResultStore(params.run.store_path)  # an unusable store path: one line, before Prefect starts
            run_id = run_screen(params)
            print(f"run_id: {run_id}")
            return 0

        if args.command == "predict":
            return _predict(args)
        if args.command == "describe":
            _describe(args)
            return 0
        from screening.store import ResultStore

        store = ResultStore(args.store, read_only=True)  # read commands never write, nor create a store
        if args.command == "query":
            return _query(store, args)
        elif args.command == "top":
            if args.n < 1:
                print(f"-n {args.n}: must be at least 1", file=sys.stderr)
                return 2
            if store.latest_run() is None and args.run_id is None:
                print(NO_RUNS, file=sys.stderr)
                return 0
            _top(store, args)
        elif args.command == "runs":
            frame = store.runs()
            if frame.empty:
                print(NO_RUNS, file=sys.stderr)
                return 0
            runs = _runs_for_output(frame, args.format, wide=args.wide)
            if args.format == "table":
                from screening.display import generic_table, render

                sys.stdout.write(render(generic_table(runs), width=10_000 if args.wide else 160))
            else:
                _emit(runs, args.format)
        elif args.command == "export":
            for path in store.export_parquet(args.directory):
                print(path)
    except Exception as exc:  # expected failures become one line, not a traceback
        import duckdb

        from screening.errors import ScreeningError, UnknownValueError

        if isinstance(exc, UnknownValueError):  # a run id, family or column that does not exist: a usage error
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, (ScreeningError, duckdb.Error, OSError)):
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"error: {text}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
