"""Spill MIP: relation to the SAA-LP, constraints, and the "no spill out of an in-stock product"
identity (with stock fixed, its second stage is the unique sell-first fluid outcome)."""

from __future__ import annotations

import numpy as np
import pytest
from test_saa_lp import random_instance  # noqa: E402  (tests dir is on sys.path)

from assortopt.models.formulation import Formulation
from assortopt.models.saa_lp import solve_saa_lp
from assortopt.models.scenario_data import first_choice_counts
from assortopt.models.spill_mip import build_spill_mip, complete_start
from assortopt.solver import SolverOptions


def _fixed(f: Formulation, cols: np.ndarray, vals: np.ndarray) -> Formulation:
    lp = f.lp
    lp2 = type(lp)(
        lp.c,
        lp.A,
        lp.row_lo,
        lp.row_hi,
        lp.col_lo.copy(),
        lp.col_hi.copy(),
        lp.integer,
        lp.sense,
        lp.offset,
    )
    lp2.col_lo[cols] = vals
    lp2.col_hi[cols] = vals
    return Formulation(f.name, lp2, f.var_blocks, f.row_blocks, f.info)


def sell_first(inst, d, q):
    """Independent fixed point: inflow = d + ρᵀ (inflow − q)⁺, sales = min(inflow, q)."""
    rt = inst.transitions.T.tocsr()
    x = d.astype(float).copy()
    for _ in range(10_000):
        x2 = d + rt @ np.maximum(x - q, 0.0)
        if np.abs(x2 - x).max() < 1e-13:
            break
        x = x2
    return np.minimum(x, q)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_is_a_relaxation_of_the_mip(seed):
    inst = random_instance(6, seed, k=3, T=15, salvage=bool(seed))
    d = first_choice_counts(inst, None, 8, seed=seed)
    lp = solve_saa_lp(inst, d)
    mip = build_spill_mip(inst, d).solve(SolverOptions(mip_gap=0))
    assert mip.status == "optimal"
    assert lp.objective >= mip.objective - 1e-7


@pytest.mark.parametrize("seed", [3, 4])
def test_fixed_stock_gives_sell_first_outcome(seed):
    inst = random_instance(7, seed, k=3, T=20)
    d = first_choice_counts(inst, None, 5, seed=seed)
    f = build_spill_mip(inst, d)
    q = np.random.default_rng(seed).integers(0, 4, inst.n).astype(float)
    res = _fixed(f, f.var_blocks["stock"].cols, np.minimum(q, f.info["big_m"])).solve()
    assert res.status == "optimal"
    sales = f.var_blocks["sales"].values(res.x)
    qq = np.minimum(q, f.info["big_m"])
    for k in range(d.shape[0]):
        np.testing.assert_allclose(sales[k], sell_first(inst, d[k], qq), atol=1e-6)
    # the warm-start completion is feasible and has the same value
    x0 = complete_start(f, qq)
    assert f.lp.is_feasible(x0)
    assert f.lp.objective_value(x0) == pytest.approx(res.objective, abs=1e-6)


def test_constraints_max_products_budget_fixed_cost():
    base = random_instance(6, 8, k=3, T=20)
    d = first_choice_counts(base, None, 6, seed=1)
    inst = base.replace(max_products=2, budget=25.0, fixed_cost=np.full(6, 2.0))
    f = build_spill_mip(inst, d)
    res = f.solve(SolverOptions(mip_gap=0))
    q = f.stock(res.x, inst.n)
    assert (q > 0).sum() <= 2
    assert inst.cost @ q <= 25.0 + 1e-6
    # the fixed cost is charged for exactly the carried products
    no_fc = build_spill_mip(base.replace(max_products=2, budget=25.0), d)
    fixed = _fixed(no_fc, no_fc.var_blocks["stock"].cols, q.astype(float)).solve()
    assert res.objective == pytest.approx(fixed.objective - 2.0 * (q > 0).sum(), abs=1e-6)
    # max_products = 2 equals the best over all pairs with the others forced to zero
    best = -np.inf
    for i in range(6):
        for j in range(i + 1, 6):
            off = np.setdiff1d(np.arange(6), [i, j])
            g = build_spill_mip(base.replace(budget=25.0, fixed_cost=np.full(6, 2.0)), d)
            r = _fixed(g, g.var_blocks["stock"].cols[off], np.zeros(4)).solve(
                SolverOptions(mip_gap=0)
            )
            best = max(best, r.objective)
    assert res.objective == pytest.approx(best, abs=1e-6)


def test_method_registered_and_honours_constraints():
    from assortopt.methods.base import PlanRequest
    from assortopt.methods.spill_mip import spill_mip

    inst = random_instance(6, 9, k=3, T=15).replace(max_products=1)
    plan = spill_mip(inst, PlanRequest(scenarios=10, seed=3))
    assert plan.status == "optimal"
    assert (plan.stock > 0).sum() <= 1
    again = spill_mip(inst, PlanRequest(scenarios=10, seed=3))
    np.testing.assert_array_equal(plan.stock, again.stock)


def test_time_limited_method_is_never_worse_than_its_heuristic_start():
    """Under a time limit too short to prove anything, the plan is at least as good in-sample
    as the heuristic warm start (default), and its reported objective is the model's value."""
    from assortopt.generators import generate
    from assortopt.methods.base import PlanRequest, get_method

    inst = generate("mnl", 50, 100, 0)
    req = PlanRequest(scenarios=50, seed=0, options=SolverOptions(threads=1, time_limit=3.0))
    plan = get_method("spill-mip")(inst, req)
    assert plan.extra["start"] == "heuristic"
    assert plan.status in ("feasible", "optimal")
    assert plan.objective >= plan.extra["start_objective"] - 1e-6
    if plan.status == "feasible":  # stopped by the limit: a bound only if the root LP finished
        assert plan.termination == "time_limit"
    if plan.bound is not None:
        assert plan.bound >= plan.objective - 1e-6
    counts = first_choice_counts(inst, None, 50, 0)
    f = build_spill_mip(inst, counts)
    x = complete_start(f, plan.stock[np.asarray(f.info["products"])])
    assert f.lp.objective_value(x) == pytest.approx(plan.objective, rel=1e-6, abs=1e-6)
    none = get_method("spill-mip")(
        inst, PlanRequest(scenarios=5, seed=0, params={"start": "none"}, options=req.options)
    )
    assert none.extra["start"] == "none" and "start_objective" not in none.extra


def test_larger_big_m_keeps_the_optimum_and_smaller_is_refused():
    """A looser stock bound (as one scenario of a decomposition gets) leaves the optimum alone."""
    rng = np.random.default_rng(7)
    inst = random_instance(5, 7, k=3, T=15).replace(fixed_cost=rng.uniform(0, 3, 5), max_products=3)
    d = first_choice_counts(inst, None, 6, seed=7)
    f = build_spill_mip(inst, d)
    big = np.asarray(f.info["big_m"])
    g = build_spill_mip(inst, d, big_m=big + 5)
    assert np.array_equal(g.info["big_m"], big + 5)
    opts = SolverOptions(mip_gap=0, threads=1)
    assert g.solve(opts).objective == pytest.approx(f.solve(opts).objective, abs=1e-7)
    if big.max() > 0:
        with pytest.raises(ValueError, match="big_m"):
            build_spill_mip(inst, d, big_m=np.maximum(big - 1, 0))
