"""The steps of a screening run as plain functions over DataFrames.

Each step takes a table with a ``candidate_id`` column and returns a table keyed the same
way; a row that fails carries an ``error`` text and NaN numbers, and the step goes on.
``flows/`` arranges these steps into Prefect tasks; a notebook can call them directly.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymatgen.core.periodic_table import Element

from screening.chemistry import ANION_CHARGES, FAMILIES
from screening.datasets import load_obelix
from screening.descriptors.composition import composition_table
from screening.descriptors.stability import STABILITY_COLUMNS, ReferenceHull, stability_table
from screening.ranking import DEFAULT_OBJECTIVES, DEFAULT_WEIGHTS, rank
from screening.structures import read_structure, structure_id, text_id

__all__ = [
    "obelix_candidates",
    "cif_candidates",
    "describe_compositions",
    "describe_stability",
    "predict_conductivity",
    "merge_errors",
]


def obelix_candidates(with_structures: bool = True) -> pd.DataFrame:
    """The OBELiX entries that have a CIF, as candidates (``source = "obelix"``)."""
    df = load_obelix("all", structures=with_structures)
    df = df[df["has_cif"]].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "candidate_id": "obelix-" + df["id"],
            "formula": df["formula"],
            "source": "obelix",
            "prototype": df["obelix_family"],
            "parent": df["id"],
            "measured_log10_sigma_S_cm": df["log10_sigma_S_cm"],
            "error": df["structure_error"] if with_structures else None,
        }
    )
    if with_structures:
        out["structure"] = df["structure"]
    return out


def cif_candidates(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Candidates read from CIF (or POSCAR) files; an unreadable file becomes an error row naming it."""
    rows = []
    for path in sorted(Path(p) for p in paths):
        row = {"source": "file", "prototype": None, "parent": path.name, "measured_log10_sigma_S_cm": np.nan}
        try:
            structure = read_structure(path)
            row.update(
                candidate_id=structure_id(structure),
                formula=structure.composition.reduced_formula,
                structure=structure,
                error=None,
            )
        except Exception as exc:
            row.update(candidate_id=text_id(str(path.resolve()), prefix="file"), formula=None, structure=None, error=str(exc))
        rows.append(row)
    return pd.DataFrame(rows)


def describe_compositions(candidates: pd.DataFrame) -> pd.DataFrame:
    """Composition descriptors (Magpie + Li chemistry + family + raw-material cost) of each candidate."""
    from screening.descriptors.cost import cost_per_kg_many, excluded_fraction

    formulas = candidates["formula"].fillna("").astype(str).tolist()
    table = composition_table(formulas, check_balance=False)
    table.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    table["cost_usd_per_kg"] = cost_per_kg_many(formulas)
    ok = table["error"].isna()
    table["excluded_element_fraction"] = np.nan
    table.loc[ok, "excluded_element_fraction"] = [excluded_fraction(f) for f in table.loc[ok, "formula"]]
    return table.drop(columns=["formula"])


def describe_stability(
    candidates: pd.DataFrame,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Stability descriptors (window, interface reaction energies, hull) of each candidate.

    When ``candidates`` carries predicted ``formation_energy_eV_atom`` (and ``_std``), the
    energy above the hull of compositions outside the reference data comes from it; see
    :func:`screening.descriptors.stability.stability_table`.
    """
    formulas = candidates["formula"].where(candidates["formula"].notna(), "").astype(str).tolist()
    table = stability_table(
        formulas,
        candidates.get("formation_energy_eV_atom"),
        candidates.get("formation_energy_eV_atom_std"),
        hull=hull,
        progress=progress,
    )
    table.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    return table


def predict_conductivity(candidates: pd.DataFrame, model=None) -> pd.DataFrame:
    """Baseline conductivity prediction: ``log10_sigma_S_cm`` and its spread ``log10_sigma_S_cm_std``."""
    from screening.surrogates import load_conductivity_baseline

    model = model or load_conductivity_baseline()
    formulas = candidates["formula"].fillna("").astype(str).tolist()
    mean, std = model.predict(formulas)
    return pd.DataFrame(
        {
            "candidate_id": candidates["candidate_id"].to_numpy(),
            "log10_sigma_S_cm": mean,
            "log10_sigma_S_cm_std": std,
            "model_conductivity": model.name,
        }
    )


def merge_errors(*frames: pd.DataFrame) -> pd.Series:
    """One ``error`` text per candidate from the ``error`` columns of several step tables."""
    texts = None
    for frame in frames:
        if "error" not in frame:
            continue
        col = frame["error"].where(frame["error"].notna(), None)
        texts = col if texts is None else texts.combine(col, lambda a, b: "; ".join(x for x in (a, b) if x) or None)
    return texts


# =============================================================================== screening runs
#
# Everything below is what a screening run needs besides the descriptor functions: the
# validated parameters (the form of the Prefect UI and the options of ``screening screen``),
# the candidate sources as a stream of chunks, the composition tier of one chunk, the
# stability tier, the funnel ranking and the report (summary, Pareto plot). ``flows/screen.py``
# arranges these into Prefect tasks; nothing here imports Prefect.



__all__ += [
    "FAMILIES",
    "ScreenParameters",
    "iter_candidate_frames",
    "composition_tier",
    "stability_tier",
    "rank_funnel",
    "model_versions",
    "predict_properties",
    "funnel_markdown",
    "pareto_plot",
]

#: anions: elements that need not be in the element pool of OBELiX/CIF candidates
ANIONS = frozenset(ANION_CHARGES)
#: every element symbol pymatgen knows (the ``elements`` form field is a multi-select of these)
ELEMENT_SYMBOLS = tuple(e.symbol for e in Element)
ElementSymbol = Literal[ELEMENT_SYMBOLS]  # type: ignore[valid-type]
Family = Literal[FAMILIES]  # type: ignore[valid-type]
Tier = Literal["composition", "stability"]

#: columns of the ``candidates`` table
CANDIDATE_COLUMNS = ["candidate_id", "formula", "family", "source", "prototype", "parent", "substitutions",
                     "measured_log10_sigma_S_cm", "error"]  # fmt: skip


class ScreenParameters(BaseModel):
    """What to screen and how to rank it: the form of the ``screen`` deployment in the Prefect UI.

    Every field has a default; bad values (no family, a negative budget, an unknown
    element, a weight on an unknown objective) are refused before any work starts.
    """

    model_config = ConfigDict(extra="forbid")

    source: Literal["obelix", "enumerated", "cif"] = Field(
        "obelix",
        description="where candidates come from: 'obelix' (the 321 OBELiX compositions with a CIF), "
        "'enumerated' (substitution on the seeds of seeds/manifest.yaml) or 'cif' (files matching cif_glob)",
    )
    families: list[Family] = Field(
        default_factory=lambda: ["sulfide", "halide", "oxide"],
        min_length=1,
        description="keep only candidates of these families (at least one)",
    )
    elements: list[ElementSymbol] | None = Field(
        None,
        description="element pool: for 'enumerated', the dopants that may be substituted in; for 'obelix' and 'cif', "
        "candidates with a cation outside the pool (Li and anions are always allowed) are skipped. Empty: all elements",
    )
    limit: int | None = Field(None, ge=1, description="candidate budget: screen at most this many candidates (empty: all)")
    tiers: list[Tier] = Field(
        default_factory=lambda: ["composition", "stability"],
        min_length=1,
        description="tiers to run: 'composition' (descriptors + surrogate predictions, ~1 ms a candidate, always run) "
        "and 'stability' (electrochemical window and interface reaction energies from the reference hull, ~10 ms a formula)",
    )
    stability_top_k: int | None = Field(
        2000,
        ge=1,
        description="run the stability tier on the best K candidates of the composition tier (empty: on all)",
    )
    min_lambda: float = Field(
        -2.0, ge=-5.0, le=5.0, description="for 'enumerated': smallest substitution log-odds lambda (Hautier 2011) a dopant may have"
    )
    cif_glob: str | None = Field(None, description="for source 'cif': a glob pattern of CIF/POSCAR files")
    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description=f"ranking weights per objective (objectives: {', '.join(DEFAULT_OBJECTIVES)})",
    )
    filters: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict,
        description="hard filters, column -> [min, max] (null: unbounded), e.g. {\"window_width_V\": [1.0, null]}",
    )
    top_n: int = Field(20, ge=1, le=1000, description="how many of the best candidates to show in the run's table")
    chunk_size: int = Field(1000, ge=1, le=100_000, description="candidates per task (a chunk is cached and stored as a unit)")
    run_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="id of the run in the store; give the id of a crashed run to resume it (empty: a new id)",
    )
    store_path: str | None = Field(None, description="DuckDB results file (empty: SCREENING_RESULTS_PATH or results/screening.duckdb)")
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="'threads' (local thread pool) or 'dask' (prefect-dask: a local cluster or dask_address)"
    )
    dask_address: str | None = Field(None, description="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    max_workers: int = Field(2, ge=1, le=256, description="parallel tasks (threads, or workers of a local Dask cluster)")

    @field_validator("weights")
    @classmethod
    def _known_objectives(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_OBJECTIVES))
        if unknown:
            raise ValueError(f"weights for unknown objectives {unknown}; objectives are {list(DEFAULT_OBJECTIVES)}")
        return value

    @field_validator("filters")
    @classmethod
    def _ordered_bounds(cls, value: dict) -> dict:
        for column, (low, high) in value.items():
            if low is not None and high is not None and low > high:
                raise ValueError(f"filter on {column!r}: min {low} > max {high}")
        return value

    @field_validator("tiers")
    @classmethod
    def _composition_first(cls, value: list[str]) -> list[str]:
        return ["composition"] + [t for t in dict.fromkeys(value) if t != "composition"]

    @model_validator(mode="after")
    def _source_needs(self) -> ScreenParameters:
        if self.source == "cif":
            if not self.cif_glob:
                raise ValueError("source 'cif' needs cif_glob (a glob pattern of CIF/POSCAR files)")
            if not _glob.glob(self.cif_glob):
                raise ValueError(f"cif_glob={self.cif_glob!r} matches no file")
        if self.dask_address and self.task_runner != "dask":
            raise ValueError("dask_address is given but task_runner is not 'dask'")
        return self


# ------------------------------------------------------------------ candidate sources


def _family_filter(frame: pd.DataFrame, params: ScreenParameters) -> pd.DataFrame:
    from screening.descriptors.composition import family_of

    if "family" not in frame or frame["family"].isna().any():
        fam = []
        for f in frame["formula"]:
            try:
                fam.append(family_of(f))
            except Exception:
                fam.append(None)
        frame = frame.assign(family=fam)
    keep = frame["family"].isin(params.families)
    if "error" in frame:  # an unreadable input stays, as a row that says why
        keep |= frame["error"].notna()
    if params.elements and params.source != "enumerated":
        from pymatgen.core import Composition

        pool = set(params.elements) | ANIONS | {"Li"}

        def inside(formula) -> bool:
            try:
                return {el.symbol for el in Composition(formula).elements} <= pool
            except Exception:
                return False

        keep &= frame["formula"].map(inside)
    return frame[keep.to_numpy()]


def _enumerated_frames(params: ScreenParameters) -> Iterator[pd.DataFrame]:
    """Chunks of :func:`screening.candidates.enumerate_candidates` as candidate tables."""
    from screening.candidates import enumerate_candidates

    kwargs = {
        "families": [f for f in params.families if f in ("sulfide", "halide", "oxide")] or ["__none__"],
        "min_lambda": params.min_lambda,
    }
    if params.elements:
        kwargs["elements"] = list(params.elements)
    stream = enumerate_candidates(**kwargs)
    while True:
        chunk = list(itertools.islice(stream, params.chunk_size))
        if not chunk:
            return
        rows = [c.as_dict() for c in chunk]
        frame = pd.DataFrame(rows).rename(columns={"id": "candidate_id"})
        frame["source"] = "enumerated"
        frame["measured_log10_sigma_S_cm"] = np.nan
        frame["error"] = None
        yield frame


def iter_candidate_frames(params: ScreenParameters) -> Iterator[pd.DataFrame]:
    """The candidates of a run as tables of at most ``chunk_size`` rows, at most ``limit`` rows in all.

    The stream is deterministic: the same parameters give the same chunks, so that a
    resumed run finds its chunks in the cache. Candidate ids are unique within a run.
    """
    if params.source == "enumerated":
        frames: Iterable[pd.DataFrame] = _enumerated_frames(params)
    elif params.source == "cif":
        table = cif_candidates(_glob.glob(params.cif_glob or ""))
        frames = [table.drop(columns=["structure"], errors="ignore")]
    else:
        frames = [obelix_candidates(with_structures=False)]
    left = params.limit if params.limit is not None else float("inf")
    seen: set[str] = set()
    buffer: list[pd.DataFrame] = []
    n_buffered = 0
    for frame in frames:
        if left <= 0:
            break
        frame = _family_filter(frame, params)
        frame = frame[~frame["candidate_id"].isin(seen) & ~frame["candidate_id"].duplicated()]
        frame = frame.head(int(min(left, len(frame))))
        left -= len(frame)
        seen.update(frame["candidate_id"])
        for col in CANDIDATE_COLUMNS:
            if col not in frame:
                frame = frame.assign(**{col: None})
        buffer.append(frame)
        n_buffered += len(frame)
        while n_buffered >= params.chunk_size:
            whole = pd.concat(buffer, ignore_index=True)
            yield whole.iloc[: params.chunk_size].reset_index(drop=True)
            rest = whole.iloc[params.chunk_size :]
            buffer, n_buffered = [rest], len(rest)
    if n_buffered:
        yield pd.concat(buffer, ignore_index=True).reset_index(drop=True)


# ------------------------------------------------------------------------------- tiers


@lru_cache(maxsize=1)
def _trained_surrogates() -> bool:
    """True when :func:`screening.surrogates.predict` exists and its trained models are present."""
    try:
        from screening.surrogates import load_models, predict  # noqa: F401

        return bool(load_models())
    except Exception:
        return False


def predict_properties(candidates: pd.DataFrame, stability: bool = False) -> pd.DataFrame:
    """Surrogate predictions of a chunk, keyed by ``candidate_id``, errors in ``prediction_error``.

    Uses :func:`screening.surrogates.predict` (conductivity, formation energy, e_hull,
    moduli, K_IC ... with uncertainty) when its models are trained, else the conductivity
    baseline (:func:`predict_conductivity`).
    """
    if _trained_surrogates():
        from screening.surrogates import predict

        out = predict(candidates[["candidate_id", "formula"]].reset_index(drop=True), stability=stability)
        drop = ["formula", "family", "prototype"]
        if not stability:  # left to the stability tier, which writes its own table
            drop += ["e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_source", *STABILITY_COLUMNS]
        out = out.drop(columns=[c for c in drop if c in out])
        return out.rename(columns={"error": "prediction_error"})
    return predict_conductivity(candidates)


def composition_tier(candidates: pd.DataFrame, model=None) -> dict[str, pd.DataFrame]:
    """Tier 0 of one chunk: composition descriptors and surrogate predictions.

    Returns the tables ``candidates``, ``descriptors`` and ``predictions`` (keyed by
    ``candidate_id``), ready for :meth:`screening.store.ResultStore.write`. A bad row keeps
    its place with NaN numbers and the reason in ``candidates.error``.
    """

    comp = describe_compositions(candidates)
    pred = predict_conductivity(candidates, model) if model is not None else predict_properties(candidates)
    base = candidates[[c for c in CANDIDATE_COLUMNS if c in candidates]].copy().reset_index(drop=True)
    base["error"] = merge_errors(base, comp.reset_index(drop=True), pred.rename(columns={"prediction_error": "error"}))
    base["family"] = base["family"].where(base["family"].notna(), comp["family"].to_numpy())
    descriptors = comp.drop(columns=["error", "family"], errors="ignore")
    return {"candidates": base, "descriptors": descriptors, "predictions": pred}


def stability_tier(candidates: pd.DataFrame, hull: ReferenceHull | None = None) -> pd.DataFrame:
    """The stability tier of a chunk: :func:`describe_stability`, errors in ``stability_error``."""
    columns = [c for c in ("candidate_id", "formula", "formation_energy_eV_atom", "formation_energy_eV_atom_std") if c in candidates]
    out = describe_stability(candidates[columns].reset_index(drop=True), hull=hull)
    return out.rename(columns={"error": "stability_error"})


def rank_funnel(
    table: pd.DataFrame,
    weights: dict[str, float] | None = None,
    filters: dict | None = None,
    pool: int = 5000,
) -> pd.DataFrame:
    """:func:`screening.ranking.rank` over the best ``pool`` rows by predicted conductivity.

    Pareto sorting costs O(n^2), so only the rows that reached the last tier (at most
    ``pool`` of them, best predicted conductivity first) are ranked on every objective; the
    others follow in order of predicted conductivity with ``pareto_rank = 0``.
    """
    key = pd.to_numeric(table.get("log10_sigma_S_cm"), errors="coerce") if "log10_sigma_S_cm" in table else None
    objectives = {c: d for c, d in DEFAULT_OBJECTIVES.items() if c in table}
    complete = table[list(objectives)].apply(pd.to_numeric, errors="coerce").notna().all(axis=1)
    order = table.assign(_k=key, _c=complete).sort_values(["_c", "_k"], ascending=False, na_position="last")
    head, tail = order.head(pool).drop(columns=["_k", "_c"]), order.iloc[pool:].drop(columns=["_k", "_c"])
    weights = {k: v for k, v in (weights or DEFAULT_WEIGHTS).items() if k in objectives}
    filters = {k: v for k, v in (filters or {}).items() if k in table}
    ranked = rank(head, weights=weights or None, filters=filters, objectives=objectives)
    if len(tail):
        tail = tail.assign(passes_filters=False, pareto_rank=0, score=np.nan)
        tail["rank"] = np.arange(len(ranked) + 1, len(ranked) + len(tail) + 1)
        ranked = pd.concat([ranked, tail], ignore_index=True)
    return ranked


# ------------------------------------------------------------------------------ report


def model_versions() -> dict[str, str]:
    """Name -> short SHA-256 of each trained model artifact under ``models/``."""
    from screening.config import get_settings

    out = {}
    for path in sorted(Path(get_settings().models_dir).glob("*/*.skops")):
        out[path.parent.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


def funnel_markdown(run_id: str, funnel: dict[str, dict], errors: pd.Series | None = None, store_path: str = "", extra: str = "") -> str:
    """A markdown summary of the funnel: counts in and out of each stage, and why rows failed."""
    lines = [f"# Screen `{run_id}`", "", "| stage | in | out | failed |", "|---|---:|---:|---:|"]
    for stage, c in funnel.items():
        lines.append(f"| {stage} | {c.get('in', '')} | {c.get('out', '')} | {c.get('failed', 0)} |")
    if errors is not None and len(errors.dropna()):
        reasons = errors.dropna().astype(str).str.split(":").str[0].value_counts().head(10)
        lines += ["", "## Failures by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {r} | {n} |" for r, n in reasons.items()]
    lines += ["", f"Store: `{store_path}`", extra]
    return "\n".join(lines)


def pareto_plot(ranked: pd.DataFrame, path: str | Path, x: str = "window_width_V", y: str = "log10_sigma_S_cm") -> Path | None:
    """Scatter of two objectives with the Pareto front highlighted, saved as a PNG; None without data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in ranked or y not in ranked:
        x = "MagpieData mean Electronegativity" if "MagpieData mean Electronegativity" in ranked else x
    if x not in ranked or y not in ranked:
        return None
    data = ranked[[x, y, "pareto_rank"]].apply(pd.to_numeric, errors="coerce").dropna()
    if data.empty:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=90)
    rest = data[data["pareto_rank"] != 1]
    front = data[data["pareto_rank"] == 1]
    ax.scatter(rest[x], rest[y], s=8, c="0.7", label="ranked")
    ax.scatter(front[x], front[y], s=16, c="C3", label="Pareto front")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
