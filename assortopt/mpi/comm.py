"""Rank plumbing of the MPI runs: agree on input errors, abort on a failure (`assortopt.ranks`),
keep stdout clean."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from ..ranks import abort, agree, guarded, is_input_error

__all__ = ["abort", "agree", "guarded", "is_input_error", "stdout_to_stderr"]


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """mpi-sppy prints progress to stdout: keep stdout for the solution JSON."""
    sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr):
        yield
