"""``mip`` with ``formulation="bnb"``: the SAA optimum by branch-and-bound over the stock alone.

Same scenarios as the MIP formulations (``sample_streams(inst, req.scenarios, req.seed)``), so
the objective and bound are those of the same SAA problem. The warm start (the ``start`` method's
plan) is first improved by unit moves on those scenarios (`local_search.improve`, at most a tenth
of the time left), then `assortopt.models.stock_bnb.solve_stock_bnb` searches, within the time
limit of the whole call (models/stock_bnb.md).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from ..exceptions import OptionError
from ..instance import Instance
from ..models.sample_path_mip import candidate_mask
from ..models.stock_bnb import solve_stock_bnb
from ..streams import Stream
from .base import Plan, PlanRequest, stopped_before
from .local_search import improve

#: Params of method ``mip`` that only the HiGHS formulations read.
_MIP_ONLY = ("presolve", "lp_first", "unit_level", "isolate")


def refuse_highs_only(req: PlanRequest, formulation: str) -> None:
    """One clear error for a param only the HiGHS formulations read."""
    bad = [k for k in _MIP_ONLY if k in req.params]
    if bad:
        raise OptionError(f"mip: formulation={formulation} does not take {', '.join(bad)}")


def _workers(req: PlanRequest, external: Any) -> int:
    """2 (both children of a split bounded at once, models/stock_bnb.md §4) when the call may
    use two threads (``threads`` unset or ≥ 2) and the machine has two cores; 1 with the
    portfolio, whose HiGHS process takes the second core."""
    threads = req.options.threads
    cores = os.cpu_count() or 1
    return 2 if external is None and cores >= 2 and (threads is None or threads >= 2) else 1


def plan_bnb(
    inst: Instance,
    req: PlanRequest,
    lo: np.ndarray | None,
    start: np.ndarray | None,
    label: str,
    t0: float,
    portfolio: bool = False,
) -> Plan:
    """The plan of ``mip --param formulation=bnb`` (``t0``: when the call started), or with
    ``portfolio`` of ``formulation=portfolio``: the strong HiGHS model races it in a second
    process on the same scenarios (`assortopt.methods.mip_portfolio`)."""
    from ..sampling import sample_streams

    name = "portfolio" if portfolio else "bnb"
    refuse_highs_only(req, name)
    stream = sample_streams(inst, req.scenarios, req.seed)
    cand = candidate_mask(inst, req.param("candidates", None), lo)
    rival = None
    limit = req.options.time_limit
    if portfolio and (limit is None or time.perf_counter() - t0 < limit):  # else no search runs
        from .mip_portfolio import Rival

        rival = Rival.start(inst, req, stream, cand, lo, start, t0)
    try:
        plan = _search(inst, req, stream, cand, lo, start, label, t0, rival)
    finally:
        seen = None if rival is None else rival.close()
    plan.extra["formulation"] = name
    if seen is not None:
        plan.extra["highs"] = seen
        if seen["error"]:
            failed = f"the strong HiGHS model failed: {seen['error']}"
            plan.message = f"{plan.message}; {failed}" if plan.message else failed
    return plan


def _search(
    inst: Instance,
    req: PlanRequest,
    stream: Stream,
    cand: np.ndarray,
    lo: np.ndarray | None,
    start: np.ndarray | None,
    label: str,
    t0: float,
    external: Any,
) -> Plan:
    """Polish the warm start, then `solve_stock_bnb` within what is left of the limit."""
    limit = req.options.time_limit

    def left() -> float | None:
        return None if limit is None else max(0.0, limit - (time.perf_counter() - t0))

    extra: dict[str, Any] = {"formulation": "bnb", "start": label}
    fixed = hi = None
    if req.committed is not None:  # committed units: the box is [a_i, a_i] on those products
        fixed = req.committed >= 0
        hi = np.where(fixed, req.committed, np.iinfo(np.int64).max // 4)
    if left() == 0.0:  # the warm start used the limit up: the search's root would run over it
        return stopped_before(inst, start, label, "the branch-and-bound")
    if start is not None:
        seconds = left()
        pol = improve(
            inst,
            np.maximum(start, 0 if lo is None else lo),
            stream,
            lo=lo,
            candidates=cand,
            time_limit=None if seconds is None else 0.1 * seconds,
            fixed=fixed,
        )
        start = pol.stock
        extra["start_objective"] = pol.start_objective
        extra["polished_objective"] = pol.objective
    if left() == 0.0:
        return stopped_before(inst, start, label, "the branch-and-bound")

    def polish(q: np.ndarray, seconds: float | None) -> np.ndarray:
        """Unit moves on the same scenarios from a plan the search met."""
        return improve(inst, q, stream, lo=lo, hi=hi, candidates=cand, time_limit=seconds,
                       fixed=fixed).stock  # fmt: skip

    res = solve_stock_bnb(
        inst,
        stream,
        candidates=cand,
        min_stock=lo,
        max_stock=hi,
        start=start,
        time_limit=left(),
        mip_gap=req.options.mip_gap,
        verbose=req.options.verbose,
        polish=polish if req.param("polish", True) else None,
        external=external,
        workers=(workers := _workers(req, external)),
        branching=str(req.param("branching", "bound-point")),
    )
    extra.update(
        nodes=res.nodes,
        solve_s=res.time_s,
        workers=workers,
        root_bound=res.extra.get("root_bound"),
        evaluations=res.extra.get("evaluations"),
        scenarios_kept=res.extra.get("scenarios_kept"),
        products_considered=int(cand.sum()),
        polish_s=res.extra.get("polish_s"),
        external_bound=res.extra.get("external_bound"),
    )
    return Plan(
        res.stock,
        status=res.status,
        objective=res.objective,
        bound=res.bound,
        gap=res.gap,
        message=res.message,
        extra=extra,
        termination=res.termination,
    )
