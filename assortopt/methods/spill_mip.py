"""Method ``spill-mip``: the aggregated spill MIP (models/spill_mip.md) solved with HiGHS.

Counts: per-scenario first-choice counts over every product (or over the LP bound's assortment S*
with ``products="lp"``), drawn from the request's seed. Params:

* ``products``: ``"all"`` (default) or ``"lp"`` (candidates = S*, reduced chain on S*).
* ``start``: name of another method whose plan warm-starts the MIP (default ``"heuristic"``;
  ``"none"`` for no start). Its second stage is completed by the "sell first" fluid outcome; a
  time-limited solve never returns worse than that start, and the start's own time counts
  against the limit. Without a start, HiGHS's first incumbents can be far worse than stocking
  nothing (measured: −300% of the LP bound at N = 50 after 120 s).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..bound import lp_bound
from ..exceptions import OptionError
from ..instance import Instance
from ..models.committed import fix_committed
from ..models.scenario_data import first_choice_counts
from ..models.spill_mip import build_spill_mip, complete_start
from ..solver.highs import gap_of, solve_lp
from ..solver.status import FEASIBLE, OPTIMAL, Termination
from .base import (
    Plan,
    PlanRequest,
    bound_failed,
    register,
    start_plan,
    stopped_before,
    time_is_up,
    time_left,
    too_big_for,
)
from .params import choice, method_name


def _with_start_value(plan: Plan, info: dict[str, Any]) -> Plan:
    """The warm start's plan with its value in the spill MIP (when its start was completed)."""
    if plan.status != FEASIBLE:  # no warm-start plan: the error stands
        return plan
    return dataclasses.replace(
        plan, objective=info.get("start_objective"), extra={**plan.extra, **info}
    )


#: The MIP starts only if the time left is at least this many times its LP relaxation's time.
ROOT_LP_FACTOR = 1.5


def _root_lp_fits(f: Any, options: Any, t0: float) -> tuple[float | None, str | None]:
    """(LP relaxation value, None) when the MIP's root LP fits in the time left, else
    (None, why not). HiGHS solves a MIP's root LP checking its interrupt callback only now and
    then (measured on cluster-n200-t500, K = 100: a MIP given 8 s ran 30 s and found no
    incumbent; its relaxation alone takes over 60 s), so the relaxation is timed first, as a
    plain LP that stops on time, with a third of the time left (README.md, "Time limits")."""
    left = options.time_limit - (time.perf_counter() - t0)
    share = max(left / 3.0, 1e-3)
    r = solve_lp(
        dataclasses.replace(f.lp, integer=None), dataclasses.replace(options, time_limit=share)
    )
    if r.status != OPTIMAL or r.objective is None:
        return None, (
            f"its LP relaxation did not finish in {share:.2f} s, and HiGHS cannot stop the "
            "MIP's root LP on time"
        )
    left = options.time_limit - (time.perf_counter() - t0)
    if ROOT_LP_FACTOR * r.time_s > left:
        return None, (
            f"its root LP (about {r.time_s:.2f} s, which HiGHS cannot stop on time) would "
            f"outlast the {max(left, 0.0):.2f} s left"
        )
    return float(r.objective), None


@register("spill-mip", params={"products": choice("all", "lp"), "start": method_name})
def spill_mip(inst: Instance, req: PlanRequest) -> Plan:
    """Integer stock maximising the spill MIP's average profit over ``req.scenarios`` scenarios."""
    t0 = time.perf_counter()  # the LP bound (products="lp") counts against the limit too
    which = req.param("products", "all")
    if which == "all":
        mask = None
    elif which == "lp":
        bound = lp_bound(inst, req.options, committed=req.committed)
        failed = bound_failed(bound)
        if failed is not None:
            return failed
        mask = np.asarray(bound.offered, dtype=bool)
        if not mask.any():
            return Plan.proven_empty(inst.n, "the LP bound offers nothing")
    else:
        raise OptionError(f"spill-mip: products must be 'all' or 'lp', got {which!r}")
    # the warm start first: when it uses up the limit, its plan is the answer (no MIP built)
    start_name = req.param("start", "heuristic")
    plan0, label = start_plan(inst, req, start_name, "spill-mip", t0)
    if time_is_up(req.options, t0):
        return stopped_before(inst, None if plan0 is None else plan0.stock, label, "the MIP")
    counts = first_choice_counts(inst, mask, req.scenarios, req.seed)
    f = fix_committed(build_spill_mip(inst, counts, mask), req.committed)
    stock0 = None if plan0 is None else plan0.stock
    # whether the MIP can run at all is known before its start is completed (which is slow)
    why = "" if time_is_up(req.options, t0) else too_big_for(req.options, t0, f.lp.A.nnz)
    if why is not None:  # building the model used up the limit, or HiGHS could not start
        return stopped_before(inst, stock0, label, f"the MIP solve{f' ({why})' if why else ''}")
    start = None
    if plan0 is not None:
        pos = np.asarray(f.info["products"])
        # completing the start may use half of what is left; the MIP keeps the rest
        deadline = None
        if req.options.time_limit is not None:
            left = req.options.time_limit - (time.perf_counter() - t0)
            deadline = time.perf_counter() + 0.5 * left
        start = complete_start(f, np.asarray(plan0.stock)[pos], deadline)
        if start is None:
            label = f"{label} (its MIP start was not completed in time)"
        elif not f.lp.is_feasible(start):  # e.g. the start breaks a constraint of the model
            start = None
    info: dict[str, Any] = {"start": label if start is None else str(start_name)}
    if start is not None:
        info["start_objective"] = f.lp.objective_value(start)
    why = "" if time_is_up(req.options, t0) else too_big_for(req.options, t0, f.lp.A.nnz)
    relax = None
    if why is None and req.options.time_limit is not None:
        relax, why = _root_lp_fits(f, req.options, t0)
    if why is not None:
        plan = stopped_before(inst, stock0, label, f"the MIP solve{f' ({why})' if why else ''}")
        return _with_start_value(plan, info)
    res = f.solve(time_left(req.options, t0), start=start, write=req.write_model)
    if relax is not None and res.x is not None and (res.bound is None or relax < res.bound):
        res.bound = relax  # the relaxation bounds the MIP: a MIP cut short may have no bound
        res.gap = gap_of(res.objective, relax)
    if res.x is None:
        if stock0 is not None and res.termination is Termination.TIME_LIMIT:
            # no MIP incumbent in time (its start could not be completed): the warm start's plan
            plan = stopped_before(inst, stock0, label, "the MIP found an incumbent")
            return _with_start_value(plan, info)
        return Plan.from_result(np.zeros(inst.n, np.int64), res)
    extra = {
        "binaries": int(f.var_blocks["stockout"].cols.size),
        "nodes": res.nodes,
        "products_considered": len(f.info["products"]),
        **info,
    }
    return Plan.from_result(f.stock(res.x, inst.n), res, extra)
