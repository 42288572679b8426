"""Settings of the screening library, from environment variables (prefix ``SCREENING_``).

One pydantic-settings object holds every path the library uses, so that a notebook, a
test or a flow can point the library elsewhere (``SCREENING_RESULTS_PATH=/tmp/x.duckdb``)
without touching code.

Every setting is read when it is used (``get_settings()``, cached per process; tests call
``get_settings.cache_clear()`` after changing the environment), never frozen into a
module constant:

``SCREENING_DATA_DIR``          datasets (loading, checksums) and the cache fingerprint of a screen
``SCREENING_MODELS_DIR``        surrogate models; a screen refuses to start when one is missing (``make train``)
``SCREENING_SEEDS_DIR``         seed prototypes of the enumerated source
``SCREENING_RESULTS_PATH``      the results store when a run or a command names none
``SCREENING_VERIFY_CHECKSUMS``  check each dataset file on first load (when off, the fingerprint hashes the files)
``SCREENING_RESULTS_ROOT``      the folder a run from the UI or the API may write its store in (``store_path`` is confined to it)
``SCREENING_MAX_*``             bounds of structure input (sites, file bytes, cell length, volume per atom, BVSE grid points, glob matches)
``SCREENING_MLIP_WORKERS``      processes that relax a relax tier's candidates one by one (0, the default: one per CPU core on CPU, 1 on a GPU)
``SCREENING_QUERY_*``           bounds of user SQL: ``MEMORY_LIMIT`` (2GB), ``THREADS`` (2), ``TIMEOUT_S`` (60), ``MAX_ROWS`` (100000)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where the library finds its data and writes its results."""

    model_config = SettingsConfigDict(env_prefix="SCREENING_")

    data_dir: Path = Field(ROOT / "datasets", description="bundled datasets with their SHA256SUMS")
    models_dir: Path = Field(ROOT / "models", description="trained surrogate artifacts and model cards")
    seeds_dir: Path = Field(ROOT / "seeds", description="seed prototypes and their manifest")
    results_path: Path = Field(ROOT / "results" / "screening.duckdb", description="the DuckDB results store")
    results_root: Path = Field(ROOT / "results", description="the folder a run from the UI or the API may write its store in")
    verify_checksums: bool = Field(True, description="check each dataset file against datasets/SHA256SUMS on first load")
    max_structure_atoms: int = Field(2000, description="most sites a structure may have (larger ones are refused)")
    max_structure_file_bytes: int = Field(5_000_000, description="largest structure file read (bigger ones are error rows)")
    max_cell_length_A: float = Field(200.0, description="longest cell edge a structure may have, in A (a vacuum box is refused)")
    max_volume_per_atom_A3: float = Field(150.0, description="most cell volume per atom, in A^3 (solids have 10-60; more is a vacuum cell)")
    max_bvse_grid_points: int = Field(8_000_000, ge=64, description="most BVSE grid points a caller may ask for (about 80 bytes each)")
    max_glob_matches: int = Field(100_000, description="most paths a cif_glob may match")
    mlip_workers: int = Field(0, ge=0, description="processes that relax one-by-one (ase path) MLIP relaxations of a batch; 0: one per CPU core on CPU, 1 on a GPU")
    query_memory_limit: str = Field("2GB", description="DuckDB memory limit of one user query (`screening query`, ResultStore.query)")
    query_threads: int = Field(2, ge=1, description="DuckDB threads of one user query")
    query_timeout_s: float = Field(60.0, gt=0, description="wall-clock seconds after which a user query is interrupted")
    query_max_rows: int = Field(100_000, ge=1, description="most rows a user query returns (the output says when it was cut)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()
