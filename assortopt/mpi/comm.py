"""Rank plumbing of the MPI runs: agree on input errors, abort on a failure, keep stdout clean."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..exceptions import OptionError

__all__ = ["abort", "agree", "stdout_to_stderr"]


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """mpi-sppy prints progress to stdout: keep stdout for the solution JSON."""
    sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr):
        yield


def abort(comm: Any, exc: BaseException, what: str) -> None:
    """Print one line and abort every rank (a failed rank must not leave the others hanging)."""
    code = 2 if isinstance(exc, OptionError) else 1
    msg = str(exc).splitlines()[0] if str(exc) else ""
    print(
        f"assortopt: rank {comm.Get_rank()} of {comm.Get_size()} failed in {what}: "
        f"{type(exc).__name__}: {msg}",
        file=sys.stderr,
        flush=True,
    )
    # mpiexec forwards a rank's stderr asynchronously and Abort kills every rank at once: give
    # the forwarder a moment, or the one line explaining the failure can be lost (seen in CI)
    time.sleep(0.5)
    comm.Abort(code)


def agree(comm: Any, exc: BaseException | None) -> None:
    """Collective: raise the first rank's input error everywhere (rank 0 prints it)."""
    errs = comm.allgather(None if exc is None else (type(exc).__name__, str(exc)))
    bad = next((e for e in errs if e is not None), None)
    if bad is None:
        return
    if comm.Get_rank() == 0:
        if exc is not None:
            raise exc
        raise OptionError(bad[1])
    raise SystemExit(2)
