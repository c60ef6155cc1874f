"""The method protocol and registry.

A method is a function ``(inst, request) -> Plan``. `assortopt.solve` looks it up by name, times
it, adds the LP bound and an out-of-sample evaluation, and writes the solution file. Methods
register themselves with ``@register("name")``; importing the package `assortopt.methods` loads
them all.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bound import LPBound
from ..commitment import check_commitment, commitment_problem, honours
from ..exceptions import OptionError
from ..instance import Instance
from ..plan import Plan
from ..solver import SolverOptions, time_left
from ..solver.status import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, Termination, holds_plan
from .params import Check, check_params

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
    "stopped_before",
    "time_is_up",
    "too_big_for",
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


def register(
    name: str, params: tuple[str, ...] | Mapping[str, Check] = ()
) -> Callable[[Method], Method]:
    """Register a method under ``name``; ``params`` lists the method-specific keys it accepts,
    or maps each key to its declared type and range (`assortopt.methods.params`), checked and
    converted before the method runs."""
    names = tuple(params)

    def deco(fn: Method) -> Method:
        fn.accepted_params = names  # type: ignore[attr-defined]

        def checked(inst: Instance, req: PlanRequest) -> Plan:
            req = dataclasses.replace(req, params=check_params(name, params, req.params))
            if req.committed is None:
                return fn(inst, req)
            return _committed_run(name, fn, inst, req)

        checked.__doc__ = fn.__doc__
        checked.__name__ = fn.__name__
        checked.accepted_params = names  # type: ignore[attr-defined]
        checked.param_checks = params  # type: ignore[attr-defined]
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
    """The registered method ``name`` (the package's import registered them all)."""
    try:
        return METHODS[name]
    except KeyError:
        raise OptionError(
            f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}"
        ) from None


def list_methods() -> dict[str, tuple[str, ...]]:
    """Every registered method name with the option keys it accepts (``--param KEY=VALUE``);
    `assortopt.solve` takes the same keys in ``params``. Raises nothing."""
    return {k: v.accepted_params for k, v in sorted(METHODS.items())}  # type: ignore[attr-defined]


def start_plan(
    inst: Instance, req: PlanRequest, start: Any, caller: str, t0: float
) -> tuple[Plan | None, str]:
    """The plan of the warm-start method ``start`` (a method name, or None/"none") and its label.

    Every method that warm-starts from another goes through here: the start runs with the
    caller's seed and scenarios, no method options, and half of the caller's time limit (its
    time counts against the caller's limit; see `time_left`). A start that fails (status
    ``error`` or ``infeasible``) gives None and a label saying so: its empty stock never
    stands in for a plan.
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
    plan = fn(inst, sub)
    if not holds_plan(plan.status):
        # a failed start is no start: its empty stock must not stand in for a plan
        why = plan.message or plan.termination.value
        return None, f"{name} failed ({plan.termination.value}: {why}); no start"
    return plan, name


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


def time_is_up(options: SolverOptions, t0: float) -> bool:
    """Whether the time limit of ``options`` (counted from ``t0``, perf_counter) is spent."""
    return options.time_limit is not None and time.perf_counter() - t0 >= options.time_limit


def stopped_before(inst: Instance, stock: np.ndarray | None, label: str, phase: str) -> Plan:
    """The answer when the time limit runs out before ``phase`` starts: the warm start's plan
    (``feasible``, termination ``time_limit``) if there is one within the constraints, else
    ``error`` with termination ``time_limit``; the message says which."""
    from ..solution import violations

    if stock is not None and not violations(inst, stock):
        return Plan(
            np.asarray(stock, np.int64),
            status=FEASIBLE,
            message=f"time limit reached before {phase}: the plan of the warm start ({label})",
            termination=Termination.TIME_LIMIT,
        )
    return Plan(
        np.zeros(inst.n, np.int64),
        status=ERROR,
        message=f"time limit reached before {phase}, and no warm-start plan ({label})",
        termination=Termination.TIME_LIMIT,
    )


#: Seconds per constraint-matrix entry HiGHS spends setting a model up (IPX preprocessing, MIP
#: data structures) before it first asks its interrupt callback: measured 4e-6 on a loaded
#: 2-core machine (3.9M entries: 16 s), half that used here. That setup cannot be interrupted,
#: so a method does not start a solve that could not even get set up in the time left.
HIGHS_SETUP_S_PER_ENTRY = 2e-6


def too_big_for(options: SolverOptions, t0: float, entries: int) -> str | None:
    """Why a HiGHS solve of a model with ``entries`` matrix entries should not start with the
    time left of ``options`` (from ``t0``), or None when it may."""
    if options.time_limit is None:
        return None
    left = options.time_limit - (time.perf_counter() - t0)
    need = HIGHS_SETUP_S_PER_ENTRY * entries
    if need > left:
        return (
            f"HiGHS's uninterruptible setup of {entries:,} matrix entries takes about "
            f"{need:.1f} s, more than the {max(left, 0.0):.1f} s left"
        )
    return None
