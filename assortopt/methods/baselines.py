"""Baseline methods (docs/methods.md): ``newsvendor``, ``pooled-newsvendor``, ``fluid``,
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

import time

import numpy as np

from ..bound import lp_bound
from ..commitment import impose
from ..exceptions import OptionError
from ..instance import Instance
from ..solver.status import ERROR, HEURISTIC, OPTIMAL, Termination
from .base import Plan, PlanRequest, bound_failed, register, time_left
from .heuristic import _round, pooled_probabilities
from .local_search import improve, planning_stream
from .params import choice, int_ge
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


@register("fluid", params={"rounding": choice("floor", "nearest")})
def fluid(inst: Instance, req: PlanRequest) -> Plan:
    """Fluid stock on S*: q_j = ⌊T·P_{j,S*}⌋ (``rounding="floor"``, default) or the nearest integer
    (``"nearest"``); E[T] for Poisson customers. A product whose fluid margin (r_j − c_j)·q_j does
    not cover its fixed cost is not stocked; then ``max_products`` and the budget cut the plan.
    The objective is the fluid profit of the plan returned: Σ (r − v)·min(T·P_j, q_j) − (c − v)·q_j
    − f_j·[q_j > 0], demand at its mean (no stock-outs from randomness, so it may exceed the
    expected profit)."""
    rule = str(req.param("rounding", "floor"))
    if rule not in ("floor", "nearest"):
        raise OptionError(f"fluid: rounding must be 'floor' or 'nearest', got {rule!r}")
    s, failed = _s_star(inst, req)
    if failed is not None:
        return failed
    mean = float(inst.customers_mean) * pooled_probabilities(inst, s)
    q = _round(mean, rule)
    q[~(s & (inst.price > inst.cost))] = 0
    # fixed costs: a product whose fluid margin does not cover its fixed cost is not stocked
    q[(inst.price - inst.cost) * np.minimum(mean, q) <= inst.fixed_cost] = 0
    exp_margin = (inst.price - inst.cost) * np.minimum(mean, q) - inst.fixed_cost * (q > 0)
    q = enforce_max_products(inst.replace(budget=None), q, exp_margin)
    q = scale_to_budget(inst, q)
    q = _committed(inst, req, q, exp_margin)
    # the objective is the fluid profit of the plan returned (after the constraints cut it)
    value = (
        (inst.price - inst.salvage) * np.minimum(mean, q)
        - (inst.cost - inst.salvage) * q
        - inst.fixed_cost * (q > 0)
    )
    return Plan(
        q,
        status=HEURISTIC,
        objective=float(value.sum()),
        message=f"fluid plan on S* ({rule}), |S*| = {int(s.sum())}",
        extra={"s_star": int(s.sum())},
    )


def round_saa_stock(
    inst: Instance,
    x: np.ndarray,
    rule: str,
    scenarios: int,
    seed: int,
    lp_objective: float,
    time_limit: float | None = None,
    committed: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Integer stock from the SAA-LP's fractional stock ``x``, as ``saa-lp-all`` rounds it.

    ``"simulate"``: start from the nearest integers and improve each product between floor and
    ceiling on ``scenarios`` simulated seasons from ``seed`` (objective: their mean profit);
    ``"nearest"`` / ``"floor"``: round, then drop units until the budget holds (objective: the
    LP's, ``lp_objective``). Also the rounding of ``saa-lp-all`` under MPI (`assortopt.mpi`).
    The third value says whether the simulated search stopped at ``time_limit``. Committed
    products (``committed`` ≥ 0, `assortopt.commitment`) keep their units.
    """
    fixed = None if committed is None else committed >= 0
    if rule == "simulate":
        stream = planning_stream(inst, scenarios, seed)
        lo = np.floor(x + 1e-9).astype(np.int64)
        hi = np.ceil(x - 1e-9).astype(np.int64)
        r = improve(
            inst,
            _round(x, "nearest"),
            stream,
            lo=lo,
            hi=hi,
            candidates=hi > 0,
            time_limit=time_limit,
            fixed=fixed,
        )
        return r.stock, r.objective, r.stopped == "time-limit"
    q = _round(x, rule)
    q = fit_budget(inst, q, value=(inst.price - inst.cost) * q)
    return impose(inst, q, committed, (inst.price - inst.cost) * q), lp_objective, False


@register(
    "saa-lp-all",
    params={"rounding": choice("simulate", "nearest", "floor"), "lp_scenarios": int_ge(1)},
)
def saa_lp_all(inst: Instance, req: PlanRequest) -> Plan:
    """The SAA-LP over every product, no assortment step (Gallego–Kim style), on
    ``lp_scenarios`` (default ``req.scenarios``) scenarios of first choices, then the heuristic's
    rounding (``rounding``: ``"simulate"`` default, on ``req.scenarios`` simulated seasons, or
    ``"nearest"``/``"floor"``). A time limit without an LP optimum gives status ``error``."""
    from ..models.saa_lp import solve_saa_lp
    from ..models.scenario_data import first_choice_counts

    t0 = time.perf_counter()
    rule = str(req.param("rounding", "simulate"))
    if rule not in ("simulate", "nearest", "floor"):
        raise OptionError(
            f"saa-lp-all: rounding must be 'simulate', 'nearest' or 'floor', got {rule!r}"
        )
    k_lp = int(req.param("lp_scenarios", req.scenarios))
    if k_lp < 1:
        raise OptionError(f"saa-lp-all: lp_scenarios must be >= 1, got {k_lp}")
    counts = first_choice_counts(inst, None, k_lp, req.seed)
    if req.options.time_limit is not None and time.perf_counter() - t0 >= req.options.time_limit:
        return Plan(
            np.zeros(inst.n, np.int64),
            status=ERROR,
            message="SAA-LP: time limit reached while drawing the scenarios",
            termination=Termination.TIME_LIMIT,
        )
    res = solve_saa_lp(inst, counts, None, time_left(req.options, t0))
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
    term = Termination.HEURISTIC_DONE
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
        res = solve_saa_lp(inst, counts, keep, time_left(req.options, t0))
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
    if req.committed is not None:
        x = np.where(req.committed >= 0, req.committed, x)
    q, obj, cut = round_saa_stock(
        inst,
        x,
        rule,
        req.scenarios,
        req.seed,
        res.objective,
        time_left(req.options, t0).time_limit,
        req.committed,
    )
    if cut:
        term = Termination.TIME_LIMIT
    return Plan(
        q,
        status=HEURISTIC,
        objective=obj,
        message="SAA-LP over all products, rounded"
        + ("; the time limit cut the rounding short" if term is Termination.TIME_LIMIT else ""),
        extra=extra,
        termination=term,
    )
