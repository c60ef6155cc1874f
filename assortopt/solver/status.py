"""One status model: what a method holds (``status``) apart from why it stopped (``termination``).

``status`` is what you hold, the value of a solution file's ``status`` (README, "Statuses"):

=============  ==============================================================================
``optimal``    a plan proven optimal for the model solved (to the gap tolerance)
``feasible``   a plan from an exact method that stopped before proving it optimal; it carries
               the method's bound and gap
``heuristic``  a plan with no optimality claim (heuristics, baselines, rounded LP plans)
``infeasible`` no plan: the constraints admit none (proven)
``error``      no plan: something failed; ``message`` says what
=============  ==============================================================================

``termination`` says why the method stopped: `Termination`. The two are independent except that
``infeasible`` goes with termination ``infeasible`` and a plan proven ``optimal`` with
``optimal`` or ``gap_limit``. `check` enforces that; `from_highs` is the one table from
HiGHS's model statuses to these, with an explicit fallback for any status it does not know.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ERROR",
    "FEASIBLE",
    "HEURISTIC",
    "INFEASIBLE",
    "OPTIMAL",
    "STATUSES",
    "Termination",
    "check",
    "from_highs",
    "holds_plan",
]

OPTIMAL, FEASIBLE, HEURISTIC, INFEASIBLE, ERROR = (
    "optimal",
    "feasible",
    "heuristic",
    "infeasible",
    "error",
)
#: Every value of a solution file's ``status``.
STATUSES = (OPTIMAL, FEASIBLE, HEURISTIC, INFEASIBLE, ERROR)


class Termination(StrEnum):
    """Why a method (or one solve inside it) stopped."""

    OPTIMAL = "optimal"  # proved optimal
    GAP_LIMIT = "gap_limit"  # proved within the requested relative gap
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"  # iterations, nodes, solutions or a memory limit
    HEURISTIC_DONE = "heuristic_done"  # a procedure without a proof ran to its end
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or a callback


def holds_plan(status: str) -> bool:
    """Whether a result with this status carries a plan (``error``/``infeasible`` carry none)."""
    return status in (OPTIMAL, FEASIBLE, HEURISTIC)


_ALLOWED: dict[str, frozenset[Termination]] = {
    OPTIMAL: frozenset({Termination.OPTIMAL, Termination.GAP_LIMIT}),
    FEASIBLE: frozenset(
        {
            Termination.TIME_LIMIT,
            Termination.ITERATION_LIMIT,
            Termination.GAP_LIMIT,
            Termination.INTERRUPTED,
            Termination.ERROR,
        }
    ),
    HEURISTIC: frozenset(
        {
            Termination.HEURISTIC_DONE,
            Termination.TIME_LIMIT,
            Termination.ITERATION_LIMIT,
            Termination.INTERRUPTED,
            Termination.OPTIMAL,
            Termination.GAP_LIMIT,
        }
    ),
    INFEASIBLE: frozenset({Termination.INFEASIBLE}),
    ERROR: frozenset(
        {
            Termination.ERROR,
            Termination.TIME_LIMIT,
            Termination.ITERATION_LIMIT,
            Termination.UNBOUNDED,
            Termination.INTERRUPTED,
        }
    ),
}


def check(status: str, termination: str) -> None:
    """Raise ``ValueError`` unless (status, termination) is a pair the model allows.

    A ``heuristic`` plan may end ``optimal``/``gap_limit`` when the rounded model it came from
    was solved to optimality (the plan itself is not proven optimal). A ``feasible`` plan may
    end ``error`` when a later phase failed and the method kept the plan it already had.
    """
    if status not in _ALLOWED:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    term = Termination(termination)
    if term not in _ALLOWED[status]:
        raise ValueError(f"status {status!r} cannot end with termination {term.value!r}")


def _highs_table() -> dict[Any, Termination]:
    import highspy

    s = highspy.HighsModelStatus
    return {
        s.kOptimal: Termination.OPTIMAL,
        s.kModelEmpty: Termination.OPTIMAL,
        s.kInfeasible: Termination.INFEASIBLE,
        s.kUnbounded: Termination.UNBOUNDED,
        s.kUnboundedOrInfeasible: Termination.UNBOUNDED,
        s.kTimeLimit: Termination.TIME_LIMIT,
        s.kIterationLimit: Termination.ITERATION_LIMIT,
        s.kSolutionLimit: Termination.ITERATION_LIMIT,
        s.kMemoryLimit: Termination.ITERATION_LIMIT,
        s.kObjectiveBound: Termination.ITERATION_LIMIT,
        s.kObjectiveTarget: Termination.ITERATION_LIMIT,
        s.kInterrupt: Termination.INTERRUPTED,
    }


def from_highs(model_status: Any, has_primal: bool, name: str) -> tuple[str, Termination, str]:
    """(status, termination, message) of a HiGHS run.

    ``model_status`` is a ``highspy.HighsModelStatus``, ``has_primal`` whether HiGHS holds a
    feasible primal point, ``name`` HiGHS's own word for the status (kept in messages). A status
    missing from the table (a HiGHS release may add some) is an ``error`` that names it.
    """
    term = _highs_table().get(model_status)
    if term is None:
        return ERROR, Termination.ERROR, f"HiGHS stopped with model status '{name}'"
    if term is Termination.OPTIMAL:
        return OPTIMAL, term, ""
    if term is Termination.INFEASIBLE:
        return INFEASIBLE, term, "the constraints admit no plan (HiGHS proved the model infeasible)"
    if term is Termination.UNBOUNDED:
        return ERROR, term, f"HiGHS reports the model unbounded ('{name}')"
    if has_primal:
        return FEASIBLE, term, ""
    return ERROR, term, f"{name} before any feasible solution was found"
