"""The bridge from a Pyomo model to HiGHS: its linear standard form as arrays, or Pyomo's own
HiGHS interface when the arrays cannot carry the model (nonlinear terms, unknown components)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..exceptions import SolverError
from .highs import SolveResult, SolverOptions, gap_of
from .linear import INF, LinearProgram
from .status import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, Termination

__all__ = ["CannotCompile", "compile_model", "solve_pyomo"]


class CannotCompile(Exception):
    pass


def check_highs_can_solve(model: Any) -> None:
    """Refuse, with a clear message, a quadratic objective on a model with integer variables
    (HiGHS solves QPs only when every variable is continuous; it would stop with 'unknown')."""
    import pyomo.environ as pyo

    for obj in model.component_data_objects(pyo.Objective, active=True):
        degree = obj.expr.polynomial_degree()
        if degree is not None and degree <= 1:
            continue
        ints = [
            v.name
            for v in model.component_data_objects(pyo.Var, active=True)
            if v.is_integer() or v.is_binary()
        ]
        if ints:
            raise SolverError(
                f"HiGHS cannot solve this model: objective {obj.name} is not linear (degree "
                f"{degree}) and the model has integer variables ({ints[0]}, ...); HiGHS takes a "
                "quadratic objective only on a continuous model"
            )


def clean_value(v: Any, val: float) -> float:
    if v.is_integer() or v.is_binary():
        return float(round(val))
    return float(val)


def compile_model(model: Any) -> tuple[LinearProgram, list[Any]]:
    """Pyomo model → `LinearProgram` with Pyomo's linear standard-form compiler."""
    from pyomo.common.errors import InvalidConstraintError
    from pyomo.environ import maximize
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    try:
        sf = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    except (InvalidConstraintError, ValueError) as exc:
        raise CannotCompile(str(exc).splitlines()[0]) from exc
    if len(sf.objectives) != 1:
        raise CannotCompile(f"{len(sf.objectives)} active objectives")
    for v, _ in sf.eliminated_vars:
        raise CannotCompile(f"variable {v.name} was eliminated")
    columns = list(sf.columns)
    n = len(columns)
    A = sp.csr_array(sf.A)
    rhs = np.asarray(sf.rhs, dtype=np.float64)
    ops = np.array([mult for _, mult in sf.rows], dtype=np.int64)
    row_lo = np.where(ops <= 0, rhs, -INF)
    row_hi = np.where(ops >= 0, rhs, INF)
    c = np.asarray(sp.csr_array(sf.c).toarray()).ravel() if n else np.zeros(0)
    sense = "max" if sf.objectives[0].sense == maximize else "min"
    lo = np.array([-INF if v.lb is None else v.lb for v in columns], dtype=np.float64)
    hi = np.array([INF if v.ub is None else v.ub for v in columns], dtype=np.float64)
    integer = np.array([v.is_integer() or v.is_binary() for v in columns], dtype=bool)
    lp = LinearProgram(
        c=c,
        A=A,
        row_lo=row_lo,
        row_hi=row_hi,
        col_lo=lo,
        col_hi=hi,
        integer=integer if integer.any() else None,
        sense=sense,
        offset=float(np.asarray(sf.c_offset).ravel()[0]) if len(sf.c_offset) else 0.0,
    )
    return lp, columns


#: Pyomo termination conditions by name (``pyomo.contrib.solver``) → `Termination`.
_PYOMO_TERMINATION = {
    "convergenceCriteriaSatisfied": Termination.OPTIMAL,
    "maxTimeLimit": Termination.TIME_LIMIT,
    "iterationLimit": Termination.ITERATION_LIMIT,
    "objectiveLimit": Termination.ITERATION_LIMIT,
    "minStepLength": Termination.ITERATION_LIMIT,
    "interrupted": Termination.INTERRUPTED,
    "provenInfeasible": Termination.INFEASIBLE,
    "locallyInfeasible": Termination.INFEASIBLE,
    "infeasibleOrUnbounded": Termination.UNBOUNDED,
    "unbounded": Termination.UNBOUNDED,
}


def solve_pyomo(
    model: Any,
    col_vars: list[Any],
    options: SolverOptions,
    is_mip: bool,
    start: np.ndarray | None = None,
    write: str | None = None,
) -> SolveResult:
    """Solve ``model`` through Pyomo's HiGHS interface; ``x`` is read back from ``col_vars``.

    The same `SolverOptions.native` dict as the array path is handed over, so both paths run
    HiGHS with the same options. A termination Pyomo reports that the table does not know is
    an ``error`` naming it.
    """
    from pyomo.contrib.solver.common.factory import SolverFactory
    from pyomo.contrib.solver.common.results import SolutionStatus
    from pyomo.contrib.solver.common.util import IncompatibleModelError

    check_highs_can_solve(model)
    if write:
        model.write(write, io_options={"symbolic_solver_labels": True})
    if start is not None:
        for j, v in enumerate(col_vars):
            v.set_value(float(start[j]), skip_validation=True)
    t0 = time.perf_counter()
    try:
        res = SolverFactory("highs").solve(
            model,
            tee=options.verbose,
            solver_options=options.native(),
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
        )
    except IncompatibleModelError as exc:
        raise SolverError(
            f"HiGHS cannot solve this model ({exc}); it takes linear constraints, and a "
            "quadratic term only in the objective of a continuous (not integer) model"
        ) from exc
    name = res.termination_condition.name
    has = res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
    if has:
        res.solution_loader.load_vars()
    term = _PYOMO_TERMINATION.get(name, Termination.ERROR)
    if term is Termination.OPTIMAL:
        status, message = OPTIMAL, ""
    elif term is Termination.INFEASIBLE:
        status, message = INFEASIBLE, "the constraints admit no plan (HiGHS proved it)"
    elif has and term is not Termination.UNBOUNDED:
        status, message = FEASIBLE, ""
    else:
        status, message = ERROR, f"HiGHS through Pyomo stopped with '{name}'"
    obj = res.incumbent_objective if has else None
    bound = res.objective_bound
    bound = float(bound) if bound is not None and np.isfinite(bound) else None
    x = None
    if has and status in (OPTIMAL, FEASIBLE):
        x = np.array([0.0 if v.value is None else float(v.value) for v in col_vars])
    return SolveResult(
        status=status,
        termination=term,
        objective=obj,
        bound=bound,
        gap=(0.0 if status == OPTIMAL and not is_mip else gap_of(obj, bound)),
        x=x,
        time_s=time.perf_counter() - t0,
        path="pyomo",
        message=message,
        engine_status=name,
    )
