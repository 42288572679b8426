"""Universal interatomic potentials (ase calculators) whose weights ship inside their wheels.

``"chgnet"`` (CHGNet 0.3.0 weights, package ``chgnet``) and ``"sevenn"`` (SevenNet-0,
package ``sevenn``). Nothing is downloaded: a potential whose weights are not installed
raises :class:`~screening.errors.SimulationError`. The device is ``cuda`` when torch sees a
GPU, else ``cpu``. Calculators are cached per (potential, device).
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from importlib import metadata

from pymatgen.core import Structure

from screening.errors import SimulationError

POTENTIALS = ("chgnet", "sevenn")
_lock = threading.Lock()


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    try:
        import torch
    except ImportError as exc:
        raise SimulationError("the simulation tier needs torch: pip install -e '.[mlip]'") from exc
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_potential(potential: str) -> str:
    """The potential's name in lower case; error naming it when it is not one of :data:`POTENTIALS`."""
    name = str(potential).lower()
    if name not in POTENTIALS:
        raise SimulationError(f"potential={potential!r}: expected one of {POTENTIALS}")
    return name


def potential_version(potential: str) -> str:
    """Package and weights version, e.g. ``"chgnet 0.4.2 / model 0.3.0"`` (part of the cache key)."""
    name = check_potential(potential)
    try:
        pkg = metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise SimulationError(f"potential {name!r}: package not installed (pip install -e '.[mlip]')") from exc
    model = {"chgnet": "0.3.0", "sevenn": "7net-0"}[name]
    return f"{name} {pkg} / model {model}"


@lru_cache(maxsize=8)
def _chgnet_model(device: str):
    from chgnet.model import CHGNet

    return CHGNet.load(model_name="0.3.0", use_device=device, verbose=False)


def _calculator(name: str, device: str):
    if name == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(model=_chgnet_model(device), use_device=device)  # the weights are shared
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device=device)


#: calculators of this thread: an ase calculator keeps the atoms and results of its last call,
#: so two tasks sharing one (a thread pool screening two candidates) read each other's arrays
_per_thread = threading.local()


def get_calculator(potential: str = "chgnet", device: str | None = None):
    """The ase calculator of a potential on ``device`` (default :func:`default_device`), one per thread, cached.

    Raises :class:`SimulationError` naming the potential when its package or weights are missing.
    """
    name = check_potential(potential)
    device = device or default_device()
    cache = _per_thread.__dict__.setdefault("calculators", {})
    with _lock:
        try:
            if (name, device) not in cache:
                cache[name, device] = _calculator(name, device)
            return cache[name, device]
        except ImportError as exc:
            raise SimulationError(f"potential {name!r}: {exc} (pip install -e '.[mlip]')") from exc
        except Exception as exc:  # weights missing, no download possible
            raise SimulationError(f"potential {name!r} cannot be loaded on {device}: {type(exc).__name__}: {exc}") from exc


def structure_hash(structure: Structure) -> str:
    """SHA-256 of a structure's lattice, species and fractional coordinates (rounded to 1e-4)."""
    payload = {
        "lattice": [[round(x, 4) for x in row] for row in structure.lattice.matrix.tolist()],
        "sites": sorted(
            (str(site.species), [round(x % 1.0, 4) % 1.0 for x in site.frac_coords]) for site in structure
        ),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_key(structure: Structure, potential: str, version: str | None = None, settings: dict | None = None) -> str:
    """Cache key of one simulation: structure hash, potential name and version, settings.

    ``version`` defaults to :func:`potential_version` of the installed package; any change
    of structure, potential, version or a setting (temperatures, steps, ...) changes the key.
    """
    name = check_potential(potential)
    version = potential_version(name) if version is None else str(version)
    blob = json.dumps(
        {"structure": structure_hash(structure), "potential": name, "version": version, "settings": settings or {}},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
