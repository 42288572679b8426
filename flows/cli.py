"""The ``screening`` console script: the library's command line (:mod:`screening.cli`) with the ``screen`` flow.

``screening.cli`` never imports the flows (the library never reaches up into the app); this
module hands it :func:`run_screen`, which runs the Prefect ``screen`` flow the way a terminal
needs: Prefect's temporary server shielded from Ctrl-C and tied to this process
(:func:`flows.runtime.protected_temporary_server`), Ctrl-C and SIGTERM ending the run with a
one-line reason and the signal's exit status.

    python -m flows.cli screen --source enumerated --family halide --limit 1000
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from screening import cli

__all__ = ["main", "run_screen"]


def run_screen(params) -> str:
    """Run the ``screen`` flow on validated parameters and return the run id."""
    # without a Prefect server, `screen` starts a temporary one; its 20 s default start-up
    # limit is too short on a busy 2-core machine (a real failure while the tests ran)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    import flows.screen
    from flows.runtime import interrupts_raise, protected_temporary_server

    with interrupts_raise(), protected_temporary_server():  # a signal while Prefect starts is one line too
        return flows.screen.screen(params)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``screening`` console script; returns the exit status (128 + the signal's when interrupted)."""
    return cli.main(argv, run_screen=run_screen)


if __name__ == "__main__":
    sys.exit(main())
