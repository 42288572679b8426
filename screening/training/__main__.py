"""``python -m screening.training [model ...]``: retrain the surrogate models (``make train``)."""

import sys

from screening.training.retrain import main

sys.exit(main())
