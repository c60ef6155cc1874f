"""The method protocol and registry.

A method is a function ``(inst, request) -> Plan``. `assortopt.solve` looks it up by name, times
it, adds the LP bound and an out-of-sample evaluation, and writes the solution file. Methods
register themselves with ``@register("name")``; importing `assortopt.methods.all` loads them all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bound import LPBound
from ..commitment import check_commitment, commitment_problem, honours
from ..exceptions import OptionError
from ..instance import Instance
from ..plan import Plan
from ..solver import SolverOptions, time_left
from ..solver.status import ERROR, INFEASIBLE, OPTIMAL, Termination, holds_plan

__all__ = [
    "METHODS",
    "bound_failed",
    "Method",
    "Plan",
    "PlanRequest",
    "get_method",
    "list_methods",
    "register",
    "start_plan",
    "time_left",
]


@dataclass(frozen=True)
class PlanRequest:
    """What a method is asked to do.

    Attributes
    ----------
    scenarios
        K, the number of sampled scenarios (streams) the method may plan on.
    seed
        Seed of every random draw the method makes (planning streams, rounding trials, ...).
        Out-of-sample evaluation uses a different stream derived by `assortopt.solve`.
    options
        Solver control (time limit, MIP gap, threads, verbosity).
    params
        Method-specific options (e.g. ``{"start": "heuristic"}`` for local search,
        ``{"formulation": "bigm"}`` for the MIP). Unknown keys raise `OptionError`.
    write_model
        If set, a method that builds an LP/MIP writes it to this ``.mps``/``.lp`` file
        (pass it as ``Formulation.solve(write=...)``).
    committed
        Stock already bought (`assortopt.commitment`): int64 length N, ``-1`` free, ``u >= 0``
        exactly ``u`` units. Every method keeps those units and plans the rest around them.
    """

    scenarios: int = 100
    seed: int = 0
    options: SolverOptions = field(default_factory=SolverOptions)
    params: dict[str, Any] = field(default_factory=dict)
    write_model: str | None = None
    committed: np.ndarray | None = None

    def param(self, key: str, default: Any) -> Any:
        return self.params.get(key, default)


Method = Callable[[Instance, PlanRequest], Plan]
METHODS: dict[str, Method] = {}


def register(name: str, params: tuple[str, ...] = ()) -> Callable[[Method], Method]:
    """Register a method under ``name``; ``params`` lists the method-specific keys it accepts."""

    def deco(fn: Method) -> Method:
        fn.accepted_params = params  # type: ignore[attr-defined]

        def checked(inst: Instance, req: PlanRequest) -> Plan:
            unknown = sorted(set(req.params) - set(params))
            if unknown:
                raise OptionError(f"method {name!r} does not take option(s) {', '.join(unknown)}")
            if req.committed is None:
                return fn(inst, req)
            return _committed_run(name, fn, inst, req)

        checked.__doc__ = fn.__doc__
        checked.__name__ = fn.__name__
        checked.accepted_params = params  # type: ignore[attr-defined]
        METHODS[name] = checked
        return fn

    return deco


def _committed_run(name: str, fn: Method, inst: Instance, req: PlanRequest) -> Plan:
    """Run a method under a commitment: validate it, refuse one no plan can honour, and check
    that the plan keeps every committed unit (a method that does not is a bug, not a plan)."""
    committed = check_commitment(inst, req.committed)
    req = dataclasses.replace(req, committed=committed)
    problem = commitment_problem(inst, committed)
    if problem is not None:
        return Plan(
            np.zeros(inst.n, np.int64),
            status=INFEASIBLE,
            message=problem,
            termination=Termination.INFEASIBLE,
        )
    plan = fn(inst, req)
    if holds_plan(plan.status) and not honours(plan.stock, committed):
        raise RuntimeError(f"method {name!r} changed committed units")
    return plan


def get_method(name: str) -> Method:
    from . import all as _all  # noqa: F401  (registers every method)

    try:
        return METHODS[name]
    except KeyError:
        raise OptionError(
            f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}"
        ) from None


def list_methods() -> dict[str, tuple[str, ...]]:
    """Every registered method name with the option keys it accepts (``--param KEY=VALUE``);
    `assortopt.solve` takes the same keys in ``params``. Raises nothing."""
    from . import all as _all  # noqa: F401

    return {k: v.accepted_params for k, v in sorted(METHODS.items())}  # type: ignore[attr-defined]


def start_plan(
    inst: Instance, req: PlanRequest, start: Any, caller: str, t0: float
) -> tuple[Plan | None, str]:
    """The plan of the warm-start method ``start`` (a method name, or None/"none") and its label.

    Every method that warm-starts from another goes through here: the start runs with the
    caller's seed and scenarios, no method options, and half of the caller's time limit (its
    time counts against the caller's limit; see `time_left`).
    """
    if start is None or (isinstance(start, str) and start.lower() == "none"):
        return None, "none"
    name = str(start)
    if name == caller:
        raise OptionError(f"{caller} cannot warm-start from itself")
    fn = get_method(name)
    sub = dataclasses.replace(
        req, params={}, write_model=None, options=time_left(req.options, t0, 0.5)
    )
    return fn(inst, sub), name


def bound_failed(bound: LPBound) -> Plan | None:
    """None when the LP bound was solved; otherwise the ``error`` plan a method that needs S*
    returns (with the bound's termination and message), so a failed bound is never read as
    "nothing is worth stocking"."""
    if bound.status == OPTIMAL:
        return None
    return Plan(
        np.zeros(len(bound.offered), np.int64),
        status=ERROR,
        message=bound.message or f"LP bound: {bound.status}",
        termination=bound.termination,
    )
