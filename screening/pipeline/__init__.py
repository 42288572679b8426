"""Screening runs as plain functions over DataFrames (no Prefect here).

Modules, in the order of a run:

``params``   :class:`ScreenParameters` (what to screen) with its nested :class:`RunOptions` (how to run it)
``sources``  :class:`CandidateSource`: a run's candidates in chunks and their structures (OBELiX, files, enumerated)
``steps``    descriptor and prediction steps; the trained models a screen needs
``tiers``    the composition and stability tiers of a chunk
``structure`` the structure tier of a chunk (descriptors, BVSE, structure-aware conductivity) and its use in the ranking
``simulation`` the simulation tier (MLIP relaxation and MD) of the best candidates
``ranked``   the ranking of a run: better tiers' numbers in place, preset, scores, funnel stages
``run``      :class:`ScreenRun`: one run's life in the store (start or resume, writes, ranking, finish or fail)
``cache``    cache keys: the code/model/data fingerprint and canonical chunk keys
``report``   the funnel summary (markdown) and the Pareto plot

``flows/screen.py`` arranges these into Prefect tasks; nothing here imports ``flows`` or Prefect
(the ``screen`` command of the console script is ``flows/cli.py``).
"""

from __future__ import annotations

from screening.chemistry import FAMILIES
from screening.pipeline.cache import chunk_key, fingerprint, fingerprint_digest, tier_digest
from screening.pipeline.params import (
    ANIONS,
    ELEMENT_SYMBOLS,
    RUN_OPTION_FIELDS,
    RunOptions,
    ScreenParameters,
    confined_store_path,
    screen_spec,
)
from screening.pipeline.ranked import (
    MEASURED_SCATTER_LOG10,
    SCORE_COLUMNS,
    funnel_stages,
    rank_funnel,
    rank_run,
    ranking_columns,
    report_columns,
    score_table,
    use_measured,
    use_simulated,
    with_details,
)
from screening.pipeline.report import funnel_markdown, pareto_plot, top_table
from screening.pipeline.run import ScreenRun, check_resume, failure_text
from screening.pipeline.simulation import relax_tier, simulation_tier
from screening.pipeline.sources import (
    CANDIDATE_COLUMNS,
    CandidateSource,
    candidate_source,
    candidate_structures,
    cif_candidates,
    iter_candidate_frames,
    obelix_candidates,
)
from screening.pipeline.steps import (
    conductivity_from,
    describe_compositions,
    describe_stability,
    merge_errors,
    model_versions,
    predict_conductivity,
    predict_properties,
    require_models,
)
from screening.pipeline.structure import STRUCTURE_COLUMNS, structure_pool, structure_tier, use_structure
from screening.pipeline.tiers import composition_tier, stability_tier

__all__ = [
    "ScreenRun",
    "check_resume",
    "failure_text",
    "MEASURED_SCATTER_LOG10",
    "confined_store_path",
    "CandidateSource",
    "candidate_source",
    "candidate_structures",
    "relax_tier",
    "simulation_tier",
    "use_measured",
    "use_simulated",
    "STRUCTURE_COLUMNS",
    "structure_pool",
    "structure_tier",
    "use_structure",
    "obelix_candidates",
    "cif_candidates",
    "describe_compositions",
    "describe_stability",
    "conductivity_from",
    "predict_conductivity",
    "merge_errors",
    "FAMILIES",
    "ANIONS",
    "ELEMENT_SYMBOLS",
    "CANDIDATE_COLUMNS",
    "SCORE_COLUMNS",
    "RUN_OPTION_FIELDS",
    "RunOptions",
    "ScreenParameters",
    "screen_spec",
    "iter_candidate_frames",
    "composition_tier",
    "stability_tier",
    "rank_funnel",
    "rank_run",
    "funnel_stages",
    "ranking_columns",
    "report_columns",
    "with_details",
    "score_table",
    "model_versions",
    "require_models",
    "predict_properties",
    "fingerprint",
    "fingerprint_digest",
    "tier_digest",
    "chunk_key",
    "funnel_markdown",
    "pareto_plot",
    "top_table",
]

