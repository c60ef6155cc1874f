"""What a decomposition run hands back to `assortopt.mpi.solve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..solver.status import ERROR, Termination

__all__ = ["MPIResult", "out_of_time"]


@dataclass
class MPIResult:
    """What the ranks agree on after a decomposition run (meaningful on rank 0).

    ``stock`` (N,) first-stage stock (fractional for the SAA-LP); ``objective`` the inner bound
    (value of that stock on the K scenarios); ``bound`` the outer bound; ``gap`` relative;
    ``status`` and ``termination`` as in `assortopt.solver.status`.
    """

    status: str
    termination: Termination
    stock: np.ndarray | None
    objective: float | None
    bound: float | None
    gap: float | None
    decomposition: str
    ranks: int
    time_s: float
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def out_of_time(how: str, ranks: int, message: str) -> MPIResult:
    """The result of a run stopped (or never started) by the time limit: no plan, ``error``."""
    return MPIResult(
        status=ERROR,
        termination=Termination.TIME_LIMIT,
        stock=None,
        objective=None,
        bound=None,
        gap=None,
        decomposition=how,
        ranks=ranks,
        time_s=0.0,
        message=message,
    )
