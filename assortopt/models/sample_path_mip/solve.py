"""Solve strategy for the sample-path MIP: the LP relaxation first, then the MIP if needed.

Why and measured effect: models/sample_path_mip.md ("Bounds under a time limit").
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ...instance import Instance
from ...solver import (
    INFEASIBLE,
    OPTIMAL,
    SolveResult,
    SolverOptions,
    Termination,
    gap_of,
    solve_lp,
    time_left,
)
from ...solver.highs import report_bound, report_solution
from ..formulation import Formulation
from .starts import complete_start

__all__ = ["solve_sample_path_mip"]


def solve_sample_path_mip(
    f: Formulation,
    inst: Instance,
    options: SolverOptions | None = None,
    start: np.ndarray | None = None,
    lp_first: bool = True,
    write: str | None = None,
) -> SolveResult:
    """Solve ``f``: first its LP relaxation (IPM with crossover), then, unless that vertex is
    already integral, the MIP from the best of ``start`` and the completed LP stock.

    An integral optimal vertex of the relaxation is a proven optimum of the MIP (its value is an
    upper bound that a feasible point attains), which is the common case for the strong
    formulation. ``start`` is a full column vector (`complete_start`). The LP's time counts
    against ``options.time_limit``. Returns a `SolveResult` (``extra["lp_first"]`` says whether
    the relaxation settled it).
    """
    options = options or SolverOptions()
    t0 = time.perf_counter()
    if write:
        f.write(write, options)
    lp = f.lp
    if not (lp_first and lp.is_mip and not f.materialised):
        return f.solve(options, start=start)
    relax = dataclasses.replace(lp, integer=None)
    # the relaxation gets half of the limit: HiGHS cannot be interrupted while it sets the MIP
    # up, so a MIP started with a sliver of time left overruns it (README.md, "Time limits")
    r = solve_lp(relax, time_left(dataclasses.replace(options, lp_method="ipm"), t0, 0.5))
    if r.status == INFEASIBLE:
        r.message = "the constraints admit no plan (HiGHS proved the relaxation infeasible)"
        r.extra["lp_first"] = True
        return r
    starts = [] if start is None else [np.asarray(start, dtype=np.float64)]
    if r.status == OPTIMAL and r.objective is not None:
        report_bound(float(r.objective))
    if r.status == OPTIMAL and r.x is not None:
        integ = lp.integer
        xr = r.x.copy()
        xr[integ] = np.round(xr[integ])
        if np.max(np.abs(r.x[integ] - xr[integ]), initial=0.0) <= 1e-6 and lp.is_feasible(xr):
            obj = lp.objective_value(xr)
            bound = max(float(r.objective), obj)
            report_solution(xr)
            return SolveResult(
                status=OPTIMAL,
                termination=Termination.OPTIMAL,
                engine_status="LP relaxation integral",
                objective=obj,
                bound=bound,
                gap=gap_of(obj, bound),
                x=xr,
                time_s=time.perf_counter() - t0,
                path="fast",
                message="",
                nodes=0,
                iterations=r.iterations,
                extra={"lp_first": True},
            )
        full = np.zeros(inst.n, dtype=np.int64)
        full[f.info["products"]] = f.stock(r.x, inst.n)[f.info["products"]]
        starts.append(complete_start(f, inst, full))
    feasible = [s for s in starts if lp.is_feasible(s)]
    best = max(feasible, key=lp.objective_value) if feasible else None
    res = f.solve(time_left(options, t0), start=best)
    res.time_s = time.perf_counter() - t0
    res.extra["lp_first"] = False
    res.extra["lp_bound"] = r.objective if r.status == OPTIMAL else None
    if r.status == OPTIMAL and r.objective is not None and res.objective is not None:
        # the relaxation's value bounds the MIP too: a MIP stopped before its own root LP
        # finished would otherwise report a trivial bound
        if res.bound is None or r.objective < res.bound:
            res.bound = float(r.objective)
            res.gap = gap_of(res.objective, res.bound)
    return res
