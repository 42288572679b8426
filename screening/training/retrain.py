"""Retrain every surrogate model deterministically and rewrite its model card.

``python -m screening.training`` (``make train``) trains, in order, the conductivity model
(OBELiX), the formation-energy model (matbench mp_e_form), the shear and bulk modulus
models (matbench elasticity) and the structure-aware conductivity model (OBELiX rows with a
CIF: ``conductivity_structure``), evaluates each on held-out data and writes ``models/<name>/{model.skops,card.json,CARD.md}``.
Everything is seeded (``SEED``); a retrain reproduces the cards' metrics.

``python -m screening.training conductivity`` trains only the named models. (``screening.train`` is
the deprecated name of this module.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from screening.surrogates import Surrogate
from screening.surrogates.selection import CONDUCTIVITY_CANDIDATES, STRUCTURE_CANDIDATES
from screening.training.common import SEED
from screening.training.conductivity import train_conductivity, train_conductivity_structure
from screening.training.properties import train_formation_energy, train_moduli

__all__ = ["SEED", "CONDUCTIVITY_CANDIDATES", "STRUCTURE_CANDIDATES", "train_conductivity", "train_conductivity_structure", "train_formation_energy", "train_moduli", "train_all", "main"]

# --------------------------------------------------------------------------- all


def single_threaded(fn):
    """Run ``fn`` with OpenMP/BLAS limited to one thread.

    HistGradientBoosting's OpenMP threads spin-wait: on a shared, oversubscribed machine a
    2-thread fit was ~50x slower than a 1-thread fit. One thread also makes the floating-
    point summation order, hence the trained model, independent of the machine.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


def train_all(names: list[str] | None = None, models_dir: str | Path | None = None, save: bool = True) -> dict[str, Surrogate]:
    """Train the named models (default all); save them and their cards when ``save``; return them."""
    names = names or ["conductivity", "formation_energy", "moduli", "conductivity_structure"]
    done: dict[str, Surrogate] = {}
    for name in names:
        t = time.perf_counter()
        if name == "conductivity":
            done[name] = train_conductivity(save=save, models_dir=models_dir)
        elif name == "formation_energy":
            done[name] = train_formation_energy(save=save, models_dir=models_dir)
        elif name in ("moduli", "shear_modulus", "bulk_modulus"):
            done.update(train_moduli(save=save, models_dir=models_dir))
        elif name == "conductivity_structure":
            done[name] = train_conductivity_structure(save=save, models_dir=models_dir)
        else:
            raise ValueError(f"unknown model {name!r}: expected conductivity, formation_energy, moduli, conductivity_structure")
        print(f"trained {name} in {time.perf_counter() - t:.1f} s", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screening.training", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="conductivity, formation_energy, moduli, conductivity_structure (default: all)")
    args = parser.parse_args(argv)
    train_all(args.models or None)
    return 0


train_conductivity = single_threaded(train_conductivity)
train_formation_energy = single_threaded(train_formation_energy)
train_moduli = single_threaded(train_moduli)
train_conductivity_structure = single_threaded(train_conductivity_structure)

if __name__ == "__main__":
    sys.exit(main())
