"""``python -m screening.training [model ...]``: retrain the surrogate models (``make train``)."""

import sys

from screening.training.retrain import main

if __name__ == "__main__":  # (importing the module, as a walk over the package does, retrains nothing)
    sys.exit(main())
