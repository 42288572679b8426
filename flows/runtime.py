"""Runtime plumbing of the flows: signals, Prefect's temporary server, memory trimming, flow-run names.

None of this is screening science; it is how a screen behaves as a process:

- :func:`interrupts_raise` turns SIGINT and SIGTERM into :class:`Interrupted` while a run is
  open, so that the run is marked failed with a one-line reason and its finished chunks stay
  for a resume;
- :func:`protected_temporary_server` starts Prefect's temporary API server (when no
  ``PREFECT_API_URL`` is set) in a session of its own, so that Ctrl-C, which the terminal
  sends to its whole foreground process group, does not kill it under the flow (the flow then
  retried it for minutes and stored ``ConnectError`` as the run's error), and with a
  parent-death signal, so that it never outlives a screen killed with SIGKILL. Prefect stops
  it at exit, after the flow;
- :func:`release_freed_memory` (glibc ``malloc_trim``) and :func:`name_flow_run`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Interrupted", "interrupts_raise", "protected_temporary_server", "release_freed_memory", "name_flow_run"]


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (Ctrl-C's SIGINT, a scheduler's SIGTERM); ``signum`` is the signal's number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by signal {signum} ({name}{', Ctrl-C' if signum == signal.SIGINT else ''})")

    @property
    def exit_status(self) -> int:
        """The shell's exit status of a process ended by this signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


@contextmanager
def interrupts_raise(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """While open, each of ``signals`` raises :class:`Interrupted` in the main thread (elsewhere: nothing changes).

    SIGTERM's default would end the process at once (the run left ``running``); SIGINT's raises a
    bare KeyboardInterrupt. Either way the run is marked failed with the signal as its reason.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_PR_SET_PDEATHSIG = 1


def _session_of_its_own(parent: int, prctl) -> None:
    """In the child, before exec: a session of its own (no terminal Ctrl-C), SIGTERM when the parent dies."""
    os.setsid()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl: nobody would send the signal
            os._exit(1)


class _ShieldedPopen:
    """``subprocess`` as Prefect's server module sees it while it starts the server: its ``Popen`` adds the
    child set-up of :func:`_session_of_its_own`; every other name is the real module's."""

    def __init__(self) -> None:
        libc = _libc()
        prctl = getattr(libc, "prctl", None) if libc is not None and os.uname().sysname == "Linux" else None
        self.Popen = functools.partial(subprocess.Popen, preexec_fn=functools.partial(_session_of_its_own, os.getpid(), prctl))

    def __getattr__(self, name: str):
        return getattr(subprocess, name)


@contextmanager
def protected_temporary_server() -> Iterator[None]:
    """Start Prefect's temporary API server shielded from the terminal's signals and tied to this process.

    Does nothing when ``PREFECT_API_URL`` names a server, when the temporary server is off, when
    one already runs, or outside the main thread (the parent-death signal follows the thread that
    started the child). Prefect's own ``get_client`` then finds this server (one instance per
    port; ``None`` is the temporary one's key) and stops it at exit, after the flow.
    """
    from prefect.server.api import server as server_module
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    server_class = getattr(server_module, "SubprocessASGIServer", None)
    usable = (
        server_class is not None
        and not PREFECT_API_URL.value()
        and PREFECT_SERVER_EPHEMERAL_ENABLED.value()
        and threading.current_thread() is threading.main_thread()
        and hasattr(server_class, "_run_uvicorn_command")
    )
    if usable:
        server = server_class()  # the temporary server's one instance (Prefect keys it by port None)
        if not server.running:
            real = server_module.subprocess
            server_module.subprocess = _ShieldedPopen()
            try:
                server.start()
            finally:
                server_module.subprocess = real
    yield


def release_freed_memory() -> None:
    """Give the memory tier 0's many short-lived tables freed back to the system (glibc ``malloc_trim``).

    glibc keeps freed blocks in each thread's arena, so after tier 0 the process holds
    hundreds of MB it no longer uses, on top of which the ranking's read would come; a
    no-op where there is no glibc.
    """
    libc = _libc()
    try:
        libc.malloc_trim(0)
    except AttributeError:  # no glibc (or no libc at all)
        pass


def name_flow_run(name: str) -> tuple[str | None, str | None]:
    """Rename the current flow run ``name`` unless it already is; return its id and name (None, None outside a flow run)."""
    from prefect import get_client
    from prefect.runtime import flow_run

    if not flow_run.id:
        return None, None
    if flow_run.name != name:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=name)
    return str(flow_run.id), name
