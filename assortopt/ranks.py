"""Ranks that fail together: one line from the failing rank, then every rank stops.

Every collective of a multi-rank run (the MPI decompositions, `assortopt gap` under mpiexec, the
MPI bench sweep) is guarded by `guarded` or `abort`, so one failing rank can never leave the
others waiting in a gather; input errors are agreed on first (`agree`), so they exit 2 on
every rank with rank 0's one-line message.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from .exceptions import InstanceError, OptionError

__all__ = ["abort", "agree", "guarded", "is_input_error"]


def is_input_error(exc: BaseException) -> bool:
    """Bad input (a file or an option): exit 2, one line; anything else is a failure."""
    return isinstance(exc, OptionError | InstanceError)


def abort(comm: Any, exc: BaseException, what: str) -> None:
    """Print one line and abort every rank (a failed rank must not leave the others hanging)."""
    code = 2 if is_input_error(exc) else 1
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


@contextlib.contextmanager
def guarded(comm: Any, what: str) -> Iterator[None]:
    """Run a rank's share of work; on any exception, `abort` every rank with one line."""
    if comm is None or comm.Get_size() == 1:
        yield
        return
    try:
        yield
    except BaseException as exc:  # noqa: BLE001  (any failure stops every rank)
        abort(comm, exc, what)
