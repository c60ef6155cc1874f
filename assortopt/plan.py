"""`Plan`: a method's answer, the one object builders, methods and packaging pass around.

It sits below the builders (``assortopt/models/``) and the methods, so both hand back the same
thing; its ``status`` and ``termination`` follow `assortopt.solver.status`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .solver.status import ERROR, HEURISTIC, OPTIMAL, Termination, check, holds_plan

__all__ = ["Plan"]


@dataclass
class Plan:
    """Integer stock per product plus what the method knows about it.

    ``objective`` is the method's own in-sample value (None if it has none); ``bound`` and
    ``gap`` a proven bound on that objective and the relative gap; ``status`` what you hold and
    ``termination`` why the method stopped (`assortopt.solver.status`). A plan whose status
    holds no plan (``error``, ``infeasible``) carries no stock.
    """

    stock: np.ndarray
    status: str = HEURISTIC
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    termination: Termination = Termination.HEURISTIC_DONE

    def __post_init__(self) -> None:
        self.termination = Termination(self.termination)
        if self.status == ERROR and self.termination is Termination.HEURISTIC_DONE:
            self.termination = Termination.ERROR
        check(self.status, self.termination)
        if not holds_plan(self.status):
            self.stock = np.zeros_like(np.asarray(self.stock, dtype=np.int64))

    @classmethod
    def proven_empty(cls, n: int, message: str, extra: dict[str, Any] | None = None) -> Plan:
        """Stocking nothing, proven optimal (objective and bound 0): e.g. nothing can be
        stocked profitably, or a constraint leaves no room; ``message`` says why."""
        return cls(
            np.zeros(n, np.int64),
            status=OPTIMAL,
            objective=0.0,
            bound=0.0,
            gap=0.0,
            message=message,
            extra=dict(extra or {}),
            termination=Termination.OPTIMAL,
        )

    @classmethod
    def from_result(cls, stock: np.ndarray, res: Any, extra: dict[str, Any] | None = None) -> Plan:
        """The plan of a solver run: ``stock`` with the status, termination, objective, bound,
        gap and message of ``res`` (a `SolveResult` or anything with those attributes)."""
        return cls(
            stock,
            status=res.status,
            objective=res.objective,
            bound=res.bound,
            gap=res.gap,
            message=res.message,
            extra=dict(extra or {}),
            termination=res.termination,
        )
