"""Baseline methods (PAPER-NOTES §11): ``newsvendor``, ``pooled-newsvendor``, ``fluid``,
``saa-lp-all``.

Each honours ``max_products`` and ``budget``:

* ``newsvendor`` / ``pooled-newsvendor``: keep the C products with the largest newsvendor profit,
  then remove the units of lowest marginal value per cost until the budget holds (`rounding`).
* ``fluid``: keep the C products with the largest expected margin (r − c)·min(E D, q), then scale
  the plan down to the budget.
* ``saa-lp-all``: the LP has the budget row; if its support exceeds C, keep the C products with the
  largest LP profit contribution and solve again on them; rounding repairs the rest.

Fixed costs: the newsvendors leave out a product whose expected profit does not cover its fixed
cost; ``fluid`` ignores them (it is the plain fluid plan); ``saa-lp-all`` lets the simulated
rounding drop products whose fixed cost is not earned.
"""

from __future__ import annotations

import numpy as np

from ..bound import lp_bound
from ..commitment import impose
from ..exceptions import OptionError
from ..instance import Instance
from ..solver.status import ERROR, HEURISTIC, OPTIMAL
from .base import Plan, PlanRequest, bound_failed, register
from .heuristic import _round, pooled_probabilities
from .local_search import improve, planning_stream
from .rounding import (
    PooledDemand,
    enforce_max_products,
    fit_budget,
    newsvendor_plan,
    newsvendor_value,
    scale_to_budget,
)


def _s_star(inst: Instance, req: PlanRequest) -> tuple[np.ndarray, Plan | None]:
    """S* of the LP bound, and the error plan to return instead when the bound failed."""
    bound = lp_bound(inst, req.options, committed=req.committed)
    return np.asarray(bound.offered, dtype=bool), bound_failed(bound)


def _committed(inst: Instance, req: PlanRequest, q: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The rule's plan with the commitment put in (`assortopt.commitment.impose`)."""
    return impose(inst, q, req.committed, value)


@register("newsvendor")
def newsvendor(inst: Instance, req: PlanRequest) -> Plan:
    """Independent newsvendor per product on its own first-choice demand (Bin(T, λ_i), or
    Poisson(E[T]·λ_i)); critical ratio (r − c)/(r − v); no substitution; every product with a
    positive margin is offered (it may still get 0 units)."""
    demand = PooledDemand.of(inst, inst.arrival)
    q = newsvendor_plan(inst, demand)
    q = _committed(inst, req, q, newsvendor_value(inst, demand, q))
    return Plan(
        q,
        status=HEURISTIC,
        objective=float(newsvendor_value(inst, demand, q).sum()),
        message="independent newsvendor on first-choice demand",
    )


@register("pooled-newsvendor")
def pooled_newsvendor(inst: Instance, req: PlanRequest) -> Plan:
    """Newsvendor on S* with pooled demand D_j ~ Bin(T, P_{j,S*}) (customers whose walk hits j
    first among S*); products of S* left at 0 units are not re-pooled (that is the heuristic)."""
    s, failed = _s_star(inst, req)
    if failed is not None:
        return failed
    demand = PooledDemand.of(inst, pooled_probabilities(inst, s))
    q = newsvendor_plan(inst, demand, s)
    q = _committed(inst, req, q, newsvendor_value(inst, demand, q))
    return Plan(
        q,
        status=HEURISTIC,
        objective=float(newsvendor_value(inst, demand, q).sum()),
        message=f"newsvendor on pooled demand, |S*| = {int(s.sum())}",
        extra={"s_star": int(s.sum())},
    )


@register("fluid", params=("rounding",))
def fluid(inst: Instance, req: PlanRequest) -> Plan:
    """Fluid stock on S*: q_j = ⌊T·P_{j,S*}⌋ (``rounding="floor"``, default) or the nearest integer
    (``"nearest"``); E[T] for Poisson customers."""
    rule = str(req.param("rounding", "floor"))
    if rule not in ("floor", "nearest"):
        raise OptionError(f"fluid: rounding must be 'floor' or 'nearest', got {rule!r}")
    s, failed = _s_star(inst, req)
    if failed is not None:
        return failed
    mean = float(inst.customers_mean) * pooled_probabilities(inst, s)
    q = _round(mean, rule)
    q[~(s & (inst.price > inst.cost))] = 0
    exp_margin = (inst.price - inst.cost) * np.minimum(mean, q)
    q = enforce_max_products(inst.replace(budget=None), q, exp_margin)
    q = scale_to_budget(inst, q)
    q = _committed(inst, req, q, exp_margin)
    return Plan(
        q,
        status=HEURISTIC,
        objective=float(exp_margin[q > 0].sum()),
        message=f"fluid plan on S* ({rule}), |S*| = {int(s.sum())}",
        extra={"s_star": int(s.sum())},
    )


@register("saa-lp-all", params=("rounding", "lp_scenarios"))
def saa_lp_all(inst: Instance, req: PlanRequest) -> Plan:
    """The SAA-LP over every product, no assortment step (Gallego–Kim style), on
    ``lp_scenarios`` (default ``req.scenarios``) scenarios of first choices, then the heuristic's
    rounding (``rounding``: ``"simulate"`` default, on ``req.scenarios`` simulated seasons, or
    ``"nearest"``/``"floor"``). A time limit without an LP optimum gives status ``error``."""
    from ..models.saa_lp import solve_saa_lp
    from ..models.scenario_data import first_choice_counts

    rule = str(req.param("rounding", "simulate"))
    if rule not in ("simulate", "nearest", "floor"):
        raise OptionError(
            f"saa-lp-all: rounding must be 'simulate', 'nearest' or 'floor', got {rule!r}"
        )
    k_lp = int(req.param("lp_scenarios", req.scenarios))
    if k_lp < 1:
        raise OptionError(f"saa-lp-all: lp_scenarios must be >= 1, got {k_lp}")
    counts = first_choice_counts(inst, None, k_lp, req.seed)
    res = solve_saa_lp(inst, counts, None, req.options)
    extra = {"saa_status": res.status, "saa_objective": res.objective, "saa_s": res.time_s}
    if res.status != OPTIMAL:
        return Plan(
            np.zeros(inst.n, np.int64),
            status=ERROR,
            message=f"SAA-LP: {res.message}",
            extra=extra,
            termination=res.termination,
        )
    x = res.stock_frac
    c = inst.max_products
    if c is not None and int((x > 1e-9).sum()) > c:
        # keep the C products with the largest LP profit contribution and solve again on them
        sales = np.zeros(inst.n)
        if res.sales is not None:
            sales = np.asarray(res.sales).mean(axis=0)
        contrib = (inst.price - inst.salvage) * sales - (inst.cost - inst.salvage) * x
        idx = np.flatnonzero(x > 1e-9)
        keep = np.zeros(inst.n, bool)
        keep[idx[np.argsort(-contrib[idx], kind="stable")[:c]]] = True
        counts = first_choice_counts(inst, keep, k_lp, req.seed)
        res = solve_saa_lp(inst, counts, keep, req.options)
        extra.update(saa2_status=res.status, saa2_objective=res.objective)
        if res.status != OPTIMAL:
            return Plan(
                np.zeros(inst.n, np.int64),
                status=ERROR,
                message=f"SAA-LP (top {c}): {res.message}",
                extra=extra,
                termination=res.termination,
            )
        x = np.where(keep, res.stock_frac, 0.0)
    fixed = None
    if req.committed is not None:
        fixed = req.committed >= 0
        x = np.where(fixed, req.committed, x)
    if rule == "simulate":
        stream = planning_stream(inst, req.scenarios, req.seed)
        lo = np.floor(x + 1e-9).astype(np.int64)
        hi = np.ceil(x - 1e-9).astype(np.int64)
        r = improve(
            inst, _round(x, "nearest"), stream, lo=lo, hi=hi, candidates=hi > 0, fixed=fixed
        )
        q, obj = r.stock, r.objective
    else:
        q = _round(x, rule)
        q = fit_budget(inst, q, value=(inst.price - inst.cost) * q)
        q = _committed(inst, req, q, (inst.price - inst.cost) * q)
        obj = res.objective
    return Plan(
        q,
        status=HEURISTIC,
        objective=obj,
        message="SAA-LP over all products, rounded",
        extra=extra,
    )
