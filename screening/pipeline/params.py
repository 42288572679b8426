"""The parameters of a screening run: what to screen (:class:`ScreenParameters`) and how to run it (:class:`RunOptions`).

One pydantic model is the form of the ``screen`` deployment in the Prefect UI and the
options of ``screening screen``; the run options are a nested model, drawn as their own
section of the same form. Bad values are refused before any work starts.
"""

from __future__ import annotations

import glob as _glob
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pymatgen.core.periodic_table import Element

from screening.chemistry import ANION_CHARGES, FAMILIES
from screening.errors import ScreeningError
from screening.ranking import OBJECTIVES, PRESETS, validate_filters, validate_weights

__all__ = [
    "ANIONS",
    "ObjectiveWeights",
    "confined_store_path",
    "ELEMENT_SYMBOLS",
    "RUN_OPTION_FIELDS",
    "RunOptions",
    "ScreenParameters",
    "screen_spec",
]

#: anions: elements that need not be in the element pool of OBELiX/CIF candidates
ANIONS = frozenset(ANION_CHARGES)
#: every element symbol pymatgen knows but the noble gases, never dopants (the ``elements`` form field is a multi-select of these)
ELEMENT_SYMBOLS = tuple(e.symbol for e in Element if not e.is_noble_gas)
ElementSymbol = Literal[ELEMENT_SYMBOLS]  # type: ignore[valid-type]  # a Literal built at run time (pydantic reads it)
Family = Literal[FAMILIES]  # type: ignore[valid-type]  # as above
Tier = Literal["composition", "stability", "structure", "relax", "simulation"]
if TYPE_CHECKING:  # the presets are known at run time only: a str to the type checker
    Preset = str
else:
    Preset = Literal[tuple(PRESETS)]


def form_schema(schema: dict[str, Any], model: type | None = None) -> None:
    """Draw an optional field (default None) of the UI form as its own input, with no type toggle.

    pydantic writes ``int | None = None`` as ``anyOf: [{integer}, {null}]``, which the Prefect
    form draws as a choice between "int" and "None" that must be clicked before a number can
    be typed. Here such a property becomes its non-null schema without a default: the form
    draws a plain input, an empty input is left out (the field keeps None; the description
    says what empty means), and Prefect's validator still accepts null for a property that is
    not required and has no default.

    The bounds of a field (minimum, maximum, pattern ...) move into an ``allOf``: the form sends
    a field's schema to Prefect's validator without its bounds, but with its ``allOf``, so only
    there is a bad value refused next to its field, before Submit creates anything ("-5 is
    less than the minimum of 1" under "Candidate budget"). Validation in Python is unchanged.
    """
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options and prop.get("default", ...) is None:
            real = [o for o in options if o != {"type": "null"}]
            if len(real) == 1 and len(options) == 2:
                del prop["anyOf"], prop["default"]
                prop.update({k: v for k, v in real[0].items() if k not in prop})
        bounds = {k: prop.pop(k) for k in _BOUNDS if k in prop}
        if bounds:
            prop.setdefault("allOf", []).append(bounds)


#: JSON-schema bounds the Prefect form validates only inside ``allOf``/``anyOf`` (:func:`form_schema`)
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "minLength", "maxLength")


def _preset_weights(column: str) -> str:
    """``balanced 1, li-metal-anode 0.5, ...``: the weight each preset gives an objective."""
    return ", ".join(f"{p.name} {p.weights.get(column, 0.0):g}" for p in PRESETS.values())


class _Weights(BaseModel):
    """Ranking weights, one optional field per objective of :data:`screening.ranking.OBJECTIVES`."""

    model_config = ConfigDict(extra="forbid", title="Ranking weights", json_schema_extra=form_schema)

    def chosen(self) -> dict[str, float]:
        """``objective -> weight`` of the fields that are set (empty: the preset's weights)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def _weight_field(objective) -> tuple[Any, Any]:
    better = "higher is better" if objective.direction > 0 else "lower is better"
    return (
        float | None,
        Field(
            None, ge=0.0, le=100.0, allow_inf_nan=False,
            title=f"{objective.label[0].upper()}{objective.label[1:]} [{objective.unit}], {better}",
            description=f"weight of {objective.column} ({objective.failure_mode}), 0-100; every field empty: the "
            f"preset's weights, which are {_preset_weights(objective.column)}",
        ),
    )  # fmt: skip


#: the ``weights`` form section: a number field per objective stating its direction; unknown keys are refused
_WEIGHT_FIELDS: dict[str, Any] = {c: _weight_field(o) for c, o in OBJECTIVES.items()}
ObjectiveWeights = create_model("ObjectiveWeights", __base__=_Weights, **_WEIGHT_FIELDS)


def _weight_text(preset) -> str:
    """``conductivity 1, reduction 0.4, ...``: a preset's weights by objective label."""
    return ", ".join(f"{OBJECTIVES[c].label} {w:g}" for c, w in preset.weights.items() if c in OBJECTIVES)


class RunOptions(BaseModel):
    """How to run a screen: where results go, which run to resume, the task runner and chunking.

    None of these change what a finished run contains, so a crashed run may be resumed
    with other run options (another runner, more workers) but not with another screen.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=form_schema)

    run_id: str | None = Field(
        None,
        title='Run id (to resume a crashed run)',
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="id of the run in the store; give the id of a crashed run to resume it (empty: a new id)",
    )
    store_path: str | None = Field(
        None, title="Results file (DuckDB)",
        description="DuckDB results file (empty: SCREENING_RESULTS_PATH or results/screening.duckdb); a run from the UI "
        "may write only inside the results folder (SCREENING_RESULTS_ROOT), a file name is taken there",
    )  # fmt: skip
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="'threads' (local thread pool) or 'dask' (prefect-dask: a local cluster or dask_address)",
        title='Task runner',
    )
    dask_address: str | None = Field(None, title='Dask scheduler address', description="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    max_workers: int = Field(2, ge=1, le=256, title='Parallel workers', description="parallel tasks (threads, or workers of a local Dask cluster)")
    chunk_size: int = Field(1000, ge=1, le=100_000, title='Candidates per chunk', description="candidates per task (a chunk is cached and stored as a unit)")
    per_prototype: int = Field(
        10, ge=0, le=1000, title="Most candidates per prototype in the run's table",
        description="the run's top table and report show at most this many candidates of one parent prototype "
        "(a shortlist diverse across prototypes; the funnel says how many were held back); 0: no cap. "
        "The stored ranking is the same either way (its prototype_rank column)",
    )
    reuse_identical: bool = Field(
        True, title="Reuse an identical finished run",
        description="a new run with the parameters, code, models and data of a finished run shows that run instead of "
        "writing a copy of its rows (off: a new run id with its own copy)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _dask_needs_dask(self) -> RunOptions:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError("dask_address is given but task_runner is not 'dask'")
        return self

    @model_validator(mode="after")
    def _local_workers_fit_the_machine(self) -> RunOptions:
        """A local Dask cluster starts one process a worker (4 workers were 10 processes, 2.3 GB): at most os.cpu_count()."""
        import os

        cpus = os.cpu_count() or 1
        if self.task_runner == "dask" and not self.dask_address and self.max_workers > cpus:
            raise ValueError(f"max_workers={self.max_workers}: a local Dask cluster may have at most {cpus} workers (os.cpu_count())")
        return self


#: the run options, also accepted at the top level of :class:`ScreenParameters` (the flat form of older versions)
RUN_OPTION_FIELDS = tuple(RunOptions.model_fields)


class ScreenParameters(BaseModel):
    """What to screen, how to rank it, and how to run it (the last section).

    Every field has a default; a bad value is refused before any work starts.
    """

    # The run options may also be given flat (``ScreenParameters(store_path=...)``, as
    # ``screening screen --store`` does); they end up in ``run``.
    model_config = ConfigDict(extra="forbid", json_schema_extra=form_schema)

    source: Literal["obelix", "enumerated", "file"] = Field(
        "obelix",
        title='Candidates from',
        description="where candidates come from: 'obelix' (the 321 OBELiX compositions with a CIF), "
        "'enumerated' (substitution on the seeds of seeds/manifest.yaml) or 'file' (CIF/POSCAR files matching cif_glob; "
        "the table's source column says 'file' too; 'cif' is its deprecated name)",
    )
    families: list[Family] = Field(
        default_factory=lambda: ["sulfide", "halide", "oxide"],
        title='Electrolyte families',
        min_length=1,
        description="keep only candidates of these families (at least one)",
    )
    elements: list[ElementSymbol] | None = Field(
        None,
        title='Element pool (dopants)',
        description="element pool: for 'enumerated', the dopants that may be substituted in; for 'obelix' and 'file', "
        "candidates with a cation outside the pool (Li and anions are always allowed) are skipped. Empty: all elements",
    )
    limit: int | None = Field(None, ge=1, title='Candidate budget', description="candidate budget: screen at most this many candidates (empty: all)")
    tiers: list[Tier] = Field(
        default_factory=lambda: list[Tier](["composition", "stability", "structure", "relax"]),
        title='Tiers to run',
        min_length=1,
        description="tiers to run: 'composition' (descriptors + surrogate predictions, ~1 ms a candidate, always run), "
        "'stability' (electrochemical window and interface reaction energies from the reference hull, ~10 ms a formula), "
        "'structure' (the candidate's own structure: Li sublattice, bottlenecks, BVSE barriers and a structure-aware "
        "conductivity the ranking uses, about 0.5-1 s a structure, on the best structure_top_k), 'relax' (MLIP e_hull, "
        "relaxation only, of the best mlip_relax_top_k of the table after the structure tier, minutes a candidate of ~100 atoms "
        "on 2 CPU cores; skipped, with a note, without the mlip extra) and 'simulation' (MLIP relaxation and MD, minutes a candidate, "
        "on the best simulation_top_k; needs the mlip extra)",
    )
    stability_top_k: int | None = Field(
        2000,
        title='Stability tier on the best K',
        ge=1,
        description="run the stability tier on the best K candidates of the composition tier (empty: on all)",
    )
    #: default K': ~15 min of relaxation on 2 CPU cores. Measured on the 3,000-candidate enumerated screen (CHGNet, ase
    #: path, 97-120-atom cells, 2 MD jobs on the same 2 cores): 208-489 s a relaxation; ordered approximants reach
    #: 160 atoms, so 15 would have taken 30-75 min; 8 is about 15 min unloaded (benchmarks/results/shortlist.md)
    mlip_relax_top_k: int = Field(
        8,
        title="MLIP relaxation on the best K'",
        ge=1,
        le=100_000,
        description="tier 'relax': relax (no MD) the best K' candidates of the table (after the per-prototype cap) with "
        "the interatomic potential, batched "
        "with torch-sim where it wraps the potential (SevenNet-0; CHGNet relaxes one by one), and gate and rank on their "
        "MLIP e_hull (needs the mlip extra)",
    )
    structure_top_k: int = Field(
        300,
        title='Structure tier on the best K',
        ge=1,
        le=100_000,
        description="tier 'structure': describe the best K candidates of the ranking after the stability tier (of those "
        "that pass its gates) from their own structure, BVSE barriers included (about 0.5-1 s a structure on one "
        "core), and rank them on the structure-aware conductivity",
    )
    simulation_top_k: int = Field(
        5,
        title='Simulation tier on the best K',
        ge=1,
        le=10_000,
        description="tier 'simulation': relax and simulate (MD) the best K ranked candidates with a universal "
        "interatomic potential (minutes a candidate on CPU; needs the mlip extra)",
    )
    potential: Literal["chgnet", "sevenn"] = Field(
        "chgnet", description="tier 'simulation': the universal interatomic potential (CHGNet 0.3.0 or SevenNet-0)",
        title='Interatomic potential (simulation)',
    )
    md_steps: int = Field(
        2000, ge=100, le=1_000_000, description="tier 'simulation': MD steps per temperature (2 fs each) for the Li diffusivity",
        title='MD steps per temperature (simulation)',
    )
    space: Literal["default", "large"] = Field(
        "default",
        title="Substitution space (enumerated)",
        description="for 'enumerated': the enumeration preset, 'default' (about 0.12 million candidates) or 'large' "
        "(about 1.0 million: more dopants, any two dopants on a site, finer grids, three dopant elements; see "
        "screening.enumeration.PRESETS)",
    )
    min_lambda: float | None = Field(
        None, ge=-5.0, le=5.0,
        description="for 'enumerated': smallest substitution log-odds lambda (Hautier 2011) a dopant may have "
        "(empty: the space's own, -2 for 'default', -3 for 'large')",
        title='Smallest substitution log-odds (enumerated)',
    )
    max_dopant_species: int | None = Field(
        None, ge=0, le=6,
        title="Most dopant elements a candidate (enumerated)",
        description="for 'enumerated': the most elements a candidate may hold that its parent does not (empty: the "
        "space's own, 2 for 'default', 3 for 'large'); every cation dopant must also be common in its oxidation state "
        "with the framework anion (SMACT's ICSD probability >= 0.4)",
    )
    cif_glob: str | None = Field(None, title="Structure files (glob, source 'file')", description="for source 'file': a glob pattern of CIF/POSCAR files")
    preset: Preset = Field(
        "balanced",
        title='Ranking preset',
        description="ranking preset: weights and gates for a use case ("
        + "; ".join(f"'{p.name}': {p.description}, weights {_weight_text(p)}" for p in PRESETS.values())
        + ")",
    )
    weights: ObjectiveWeights = Field(
        default_factory=ObjectiveWeights,
        title="Ranking weights (empty: the preset's)",
        description="a weight from 0 to 100 per objective, replacing the preset's weights (each field lists them); "
        "each says whether higher or lower is better",
    )
    filters: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict,
        title='Extra filters [min, max] per column',
        description="hard filters added to the preset's gates, column -> [min, max] (null: unbounded), "
        "e.g. {\"window_width_V\": [1.0, null]}; [null, null] switches a gate off",
    )
    kappa: float = Field(
        0.0,
        title='Optimism kappa (conductivity + kappa x std)',
        ge=0.0,
        le=5.0,
        description="optimism under uncertainty: rank conductivity by its prediction + kappa x its standard deviation (0: the prediction)",
    )
    e_hull_z: float = Field(
        0.0,
        title='Stability gate margin z (e_hull + z x std)',
        ge=0.0,
        le=5.0,
        description="the stability gate (e_hull <= 0.1 eV/atom) applies to e_hull + e_hull_z x its standard deviation (0: the point value)",
    )
    use_measured: bool = Field(
        False,
        title="Rank on measured conductivity where known",
        description="candidates with a measured conductivity (the OBELiX source) are ranked on it instead of the "
        "model's prediction, with the scatter of repeated measurements (0.8 log10 units) as its std; the "
        "prediction stays in the table (off: every candidate is ranked on the models' numbers, as new ones are)",
    )
    top_n: int = Field(20, ge=1, le=1000, title="Candidates shown in the run's table", description="how many of the best candidates to show in the run's table")
    run: RunOptions = Field(
        default_factory=RunOptions,
        title='Run settings (do not change the results)',
        description="how to run the screen (store, run id to resume, task runner, chunk size): does not change the results",
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_run_options(cls, data: Any) -> Any:
        """Move run options given at the top level (``store_path=...``) into ``run``."""
        if not isinstance(data, Mapping):
            return data
        flat = {k: data[k] for k in RUN_OPTION_FIELDS if k in data}
        if not flat:
            return data
        data = {k: v for k, v in data.items() if k not in flat}
        run = data.get("run") or {}
        run = run.model_dump(exclude_unset=True) if isinstance(run, RunOptions) else dict(run)
        data["run"] = {**run, **flat}
        return data

    @field_validator("elements", mode="before")
    @classmethod
    def _empty_pool_is_all(cls, value: Any) -> Any:
        """An emptied multi-select of the form sends []: the same as no pool (all elements)."""
        return None if isinstance(value, (list, tuple)) and not value else value

    @field_validator("weights", mode="before")
    @classmethod
    def _known_objectives(cls, value: Any) -> Any:
        """A weights dict is checked by :mod:`screening.ranking` (unknown objective, bad number, all zero: named)."""
        if isinstance(value, _Weights):
            value = value.chosen()
        if isinstance(value, Mapping):
            try:
                return validate_weights({k: v for k, v in value.items() if v is not None})
            except ScreeningError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("filters")
    @classmethod
    def _known_columns(cls, value: dict) -> dict:
        """Filters are checked by :mod:`screening.ranking` (unknown columns, bad bounds named)."""
        try:
            return validate_filters(value)
        except ScreeningError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("tiers")
    @classmethod
    def _composition_first(cls, value: list[str]) -> list[str]:
        return ["composition"] + [t for t in dict.fromkeys(value) if t != "composition"]

    @field_validator("source", mode="before")
    @classmethod
    def _file_source(cls, value: object) -> object:
        if value == "cif":
            warnings.warn("source='cif' is deprecated: use source='file' (the value of the candidates' source column)",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
            return "file"
        return value

    @model_validator(mode="after")
    def _source_needs(self) -> ScreenParameters:
        if self.source == "file":
            if not self.cif_glob:
                raise ValueError("source 'file' needs cif_glob (a glob pattern of CIF/POSCAR files)")
            if next(_glob.iglob(self.cif_glob), None) is None:  # the first match only: a glob may match millions
                raise ValueError(f"cif_glob={self.cif_glob!r} matches no file")
        return self

    # read access to the run options under their old flat names
    @property
    def run_id(self) -> str | None:
        return self.run.run_id

    @property
    def store_path(self) -> str | None:
        return self.run.store_path

    @property
    def chunk_size(self) -> int:
        return self.run.chunk_size

    def with_run(self, **options: Any) -> ScreenParameters:
        """A copy with some run options changed (validated), e.g. ``params.with_run(run_id="again")``."""
        return self.model_copy(update={"run": RunOptions.model_validate({**self.run.model_dump(), **options})})


def confined_store_path(store_path: str | None) -> Path | None:
    """The store path of a run from the UI or the API, inside ``SCREENING_RESULTS_ROOT`` (default results/).

    A relative path is taken inside that folder; the resolved path (links followed) must lie in
    it, or a ScreeningError names the path and the folder (the form's field could otherwise
    create files anywhere the server's user may write). None stays None: the server's own
    ``SCREENING_RESULTS_PATH``. The command line and Python calls are not confined.
    """
    from screening.config import get_settings

    if store_path is None or not str(store_path).strip():
        return None
    root = Path(get_settings().results_root).resolve()
    path = Path(store_path).expanduser()
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise ScreeningError(
            f"store_path {store_path!r} is outside the results folder {root} (SCREENING_RESULTS_ROOT): a run from the "
            "UI or the API writes its store only there; give a file name such as 'my_screen.duckdb'"
        )
    return resolved


def screen_spec(parameters: ScreenParameters | Mapping) -> dict:
    """What a run screens: its parameters without the run options, as plain JSON-able values.

    Two runs with equal specs screen the same candidates in the same way; a resumed run
    must have the spec it was started with. Accepts a stored parameter dict (nested or flat).
    """
    if isinstance(parameters, ScreenParameters):
        data = parameters.model_dump(mode="json")
    else:
        data = dict(parameters)
    spec = {k: v for k, v in data.items() if k != "run" and k not in RUN_OPTION_FIELDS}
    if not isinstance(parameters, ScreenParameters):
        defaults = ScreenParameters.model_construct().model_dump(mode="json")  # fill fields a stored dict lacks
        spec = {**{k: v for k, v in defaults.items() if k != "run"}, **spec}
    if isinstance(spec.get("weights"), Mapping):  # the objectives weighted (unset fields are not a difference)
        spec["weights"] = {k: v for k, v in spec["weights"].items() if v is not None}
    return spec
