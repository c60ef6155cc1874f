"""The sample-path SAA MIP is exact: for fixed stock its second stage *is* the simulation.

Claims under test, each against an independent truth:

* for fixed integer stock, every formulation's purchases equal a plain-Python replay of the same
  lists, customer by customer (and `simulate_stream` when present), and its objective equals the
  replayed average profit (fixed and Poisson customers, salvage, fixed costs);
* the MIP optimum equals brute force over every stock vector in the box on the same streams,
  with and without max_products / budget / fixed costs; bigm, strong and compact agree;
* the `mip` method reaches the exact DP optimum on a tiny instance with many scenarios;
* a time-limited solve returns an incumbent with status ``feasible``; forced stock above the
  budget is reported as ``infeasible``.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.instance import Instance
from assortopt.models.sample_path_mip import (
    build_sample_path_mip,
    complete_start,
    second_stage_purchases,
)
from assortopt.solver import SolverOptions, solve_lp
from assortopt.streams import Stream

FORMS = [("bigm", {}), ("strong", {"unit_level": True}), ("compact", {"unit_level": False})]


def _build(inst: Instance, st: Stream, form: str, **kw: object):
    extra = dict(dict(FORMS)[form])
    extra.update(kw)
    return build_sample_path_mip(inst, st, "bigm" if form == "bigm" else "strong", **extra)


def random_instance(
    n: int,
    t: float,
    seed: int,
    poisson: bool = False,
    salvage: bool = False,
    fixed: bool = False,
    **kw: object,
) -> Instance:
    rng = np.random.default_rng(seed)
    price = rng.uniform(2, 10, n)
    cost = price * rng.uniform(0.2, 0.8, n)
    lam = rng.dirichlet(np.ones(n)) * rng.uniform(0.6, 0.95)
    rho = rng.uniform(0, 1, (n, n)) * (rng.uniform(size=(n, n)) < 0.7)
    np.fill_diagonal(rho, 0)
    s = rho.sum(1, keepdims=True)
    rho = rho / np.where(s > 0, s, 1) * rng.uniform(0.3, 0.8, (n, 1))
    return Instance(
        ids=tuple(f"p{i}" for i in range(n)),
        price=price,
        cost=cost,
        arrival=lam,
        transitions=sp.csr_array(rho),
        customers_mean=t,
        customers_distribution="poisson" if poisson else "fixed",
        salvage=cost * rng.uniform(0, 0.9, n) if salvage else None,
        fixed_cost=rng.uniform(0, 3, n) if fixed else None,
        **kw,
    )


def walk_stream(inst: Instance, k_count: int, seed: int) -> Stream:
    """Step-by-step first-visit lists (an independent, slow, exact sampler)."""
    rng = np.random.default_rng(seed)
    n = inst.n
    rho = inst.transitions.toarray()
    start = np.append(inst.arrival, inst.no_purchase)
    scen = []
    for _ in range(k_count):
        t_count = (
            rng.poisson(inst.customers_mean)
            if inst.customers_distribution == "poisson"
            else int(inst.customers_mean)
        )
        custs = []
        for _ in range(t_count):
            lst: list[int] = []
            cur = rng.choice(n + 1, p=start / start.sum())
            while cur < n:
                if cur not in lst:
                    lst.append(int(cur))
                row = np.append(rho[cur], max(0.0, 1 - rho[cur].sum()))
                cur = rng.choice(n + 1, p=row / row.sum())
            custs.append(lst)
        scen.append(custs)
    return Stream.from_lists(scen, n)


def replay(stock: np.ndarray, st: Stream) -> np.ndarray:
    """Reference: each customer buys the first product of her list with a unit left."""
    out = np.full(st.n_customers, -1)
    for k in range(st.n_scenarios):
        left = np.array(stock)
        for c in range(st.scenario_offsets[k], st.scenario_offsets[k + 1]):
            for i in st.customer(c):
                if left[i] > 0:
                    left[i] -= 1
                    out[c] = i
                    break
    return out


def replay_profit(inst: Instance, stock: np.ndarray, st: Stream) -> float:
    bought = replay(stock, st)
    sales = np.bincount(bought[bought >= 0], minlength=inst.n)
    revenue = (inst.price - inst.salvage) @ sales / st.n_scenarios
    return float(revenue - (inst.cost - inst.salvage) @ stock - inst.fixed_cost @ (stock > 0))


def solve_fixed(f, stock_cand: np.ndarray):
    lp = copy.deepcopy(f.lp)
    qc = f.var_blocks["stock"].cols
    lp.col_lo[qc] = stock_cand
    lp.col_hi[qc] = stock_cand
    return solve_lp(lp, SolverOptions(threads=1))


CASES = [
    dict(poisson=False, salvage=False, fixed=False),
    dict(poisson=True, salvage=True, fixed=False),
    dict(poisson=False, salvage=True, fixed=True),
    dict(poisson=True, salvage=False, fixed=True, max_products=2),
]


@pytest.mark.parametrize("form", [f for f, _ in FORMS])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_fixed_stock_reproduces_replay(form: str, case: int) -> None:
    inst = random_instance(4, 5, seed=10 + case, **CASES[case])
    st = walk_stream(inst, 12, seed=case)
    f = _build(inst, st, form, candidates="all")
    prods = f.info["products"]
    hi = f.lp.col_hi[f.var_blocks["stock"].cols]
    rng = np.random.default_rng(case)
    for _ in range(3):
        qc = rng.integers(0, hi + 1)
        full = np.zeros(inst.n, np.int64)
        full[prods] = qc
        if inst.max_products is not None and (full > 0).sum() > inst.max_products:
            full[prods[np.argsort(qc)[: len(qc) - inst.max_products]]] = 0
            qc = full[prods]
        res = solve_fixed(f, qc)
        assert res.status == "optimal"
        got = second_stage_purchases(f, res.x, st.n_customers)
        np.testing.assert_array_equal(got, replay(full, st))
        assert res.objective == pytest.approx(replay_profit(inst, full, st), abs=1e-7)
        x0 = complete_start(f, inst, full)
        assert f.lp.is_feasible(x0)
        np.testing.assert_allclose(x0, res.x, atol=1e-6)
        try:
            from assortopt.simulation import simulate_stream
        except ImportError:
            continue
        sim = simulate_stream(inst, full, st, record=True)
        np.testing.assert_array_equal(got, np.asarray(sim.purchases))


def brute_force(inst: Instance, st: Stream, box: np.ndarray) -> float:
    best = -np.inf
    for q in itertools.product(*[range(int(b) + 1) for b in box]):
        q = np.array(q)
        if inst.max_products is not None and (q > 0).sum() > inst.max_products:
            continue
        if inst.budget is not None and inst.cost @ q > inst.budget + 1e-9:
            continue
        best = max(best, replay_profit(inst, q, st))
    return best


@pytest.mark.parametrize("case", range(4))
def test_optimum_equals_brute_force_and_formulations_agree(case: int) -> None:
    cons = [{}, {"max_products": 1}, {"budget": 9.0}, {"max_products": 2, "budget": 12.0}][case]
    inst = random_instance(3, 4, seed=30 + case, salvage=case % 2 == 1, fixed=case >= 2, **cons)
    st = walk_stream(inst, 15, seed=40 + case)
    # units beyond the largest number of interested customers never sell: box = T
    truth = brute_force(inst, st, np.full(inst.n, 4))
    values = {}
    for form, _ in FORMS:
        f = _build(inst, st, form)
        res = f.solve(SolverOptions(threads=1, mip_gap=0.0))
        assert res.status == "optimal"
        q = f.stock(res.x, inst.n)
        assert replay_profit(inst, q, st) == pytest.approx(res.objective, abs=1e-7)
        if inst.max_products is not None:
            assert (q > 0).sum() <= inst.max_products
        if inst.budget is not None:
            assert inst.cost @ q <= inst.budget + 1e-9
        values[form] = res.objective
    for v in values.values():
        assert v == pytest.approx(truth, abs=1e-7)


def test_merged_scenarios_give_same_model_value() -> None:
    inst = random_instance(3, 3, seed=5)
    base = walk_stream(inst, 6, seed=6)
    st = Stream.concat([base, base, base.select(np.array([0, 0, 1]))])
    f1 = build_sample_path_mip(inst, st, merge_scenarios=True)
    f2 = build_sample_path_mip(inst, st, merge_scenarios=False)
    assert f1.info["scenarios_kept"] < f2.info["scenarios_kept"]
    r1 = f1.solve(SolverOptions(threads=1, mip_gap=0.0))
    r2 = f2.solve(SolverOptions(threads=1, mip_gap=0.0))
    assert r1.objective == pytest.approx(r2.objective, abs=1e-8)
    q = f1.stock(r1.x, inst.n)
    np.testing.assert_array_equal(second_stage_purchases(f1, r1.x, st.n_customers), replay(q, st))


def test_pyomo_model_solves_to_same_value() -> None:
    inst = random_instance(3, 3, seed=7, fixed=True)
    st = walk_stream(inst, 5, seed=8)
    f = build_sample_path_mip(inst, st)
    fast = f.solve(SolverOptions(threads=1, mip_gap=0.0))
    f2 = build_sample_path_mip(inst, st)
    assert len(f2.var("avail")) == f2.var_blocks["avail"].cols.size
    via = f2.solve(SolverOptions(threads=1, mip_gap=0.0))
    assert via.path == "standard-form"
    assert via.objective == pytest.approx(fast.objective, abs=1e-8)


def dense3(t: int = 6) -> Instance:
    rho = np.full((3, 3), 0.4)
    np.fill_diagonal(rho, 0)
    return Instance(
        ids=("a", "b", "c"),
        price=np.array([10.0, 8, 6]),
        cost=np.array([5.0, 3, 4]),
        arrival=np.array([0.35, 0.3, 0.25]),
        transitions=sp.csr_array(rho),
        customers_mean=t,
    )


def test_time_limited_solve_keeps_incumbent() -> None:
    inst = dense3()
    st = walk_stream(inst, 150, seed=3)
    f = build_sample_path_mip(inst, st, "bigm")
    x0 = complete_start(f, inst, np.array([1, 1, 0]))
    res = f.solve(SolverOptions(threads=1, time_limit=0.05), start=x0)
    assert res.status == "feasible"
    assert res.x is not None
    assert res.objective >= f.lp.objective_value(x0) - 1e-9
    assert res.objective == pytest.approx(replay_profit(inst, f.stock(res.x, 3), st), abs=1e-7)


def test_forced_stock_over_budget_is_infeasible_model() -> None:
    inst = dense3().replace(budget=4.0)
    st = walk_stream(inst, 5, seed=1)
    f = build_sample_path_mip(inst, st, min_stock=np.array([1, 0, 0]))
    assert f.solve(SolverOptions(threads=1)).status == "infeasible"


# ----------------------------------------------------------------------------- the method
def test_method_reports_infeasible_without_exception() -> None:
    pytest.importorskip("assortopt.sampling")
    from assortopt.methods.base import PlanRequest
    from assortopt.methods.mip import mip

    inst = dense3().replace(budget=4.0)
    plan = mip(
        inst, PlanRequest(scenarios=5, seed=1, params={"min_stock": {"a": 1}, "start": "none"})
    )
    assert plan.status == "infeasible"
    assert "budget" in plan.message


def test_method_finds_dp_optimum_on_tiny_instance() -> None:
    pytest.importorskip("assortopt.sampling")
    exact = pytest.importorskip("assortopt.exact")
    from assortopt.methods.base import PlanRequest
    from assortopt.methods.mip import mip

    inst = dense3(t=4)
    q_star, v_star = exact.optimal_plan(inst)
    plan = mip(
        inst,
        PlanRequest(
            scenarios=250, seed=2, params={"start": "none"}, options=SolverOptions(threads=1)
        ),
    )
    assert plan.status == "optimal"
    v = exact.expected_profit(inst, plan.stock)
    # an SAA optimum may pick a near-tie: with K=250 its true value is within 1% of v*
    assert v >= v_star - 0.01 * abs(v_star)
    assert v <= v_star + 1e-9


def test_lp_first_proves_the_same_optimum() -> None:
    from assortopt.models.sample_path_mip import solve_sample_path_mip

    inst = random_instance(3, 5, seed=21, fixed=True, max_products=2)
    st = walk_stream(inst, 40, seed=22)
    f = build_sample_path_mip(inst, st)
    a = solve_sample_path_mip(f, inst, SolverOptions(threads=1, mip_gap=0.0), lp_first=True)
    b = solve_sample_path_mip(f, inst, SolverOptions(threads=1, mip_gap=0.0), lp_first=False)
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, abs=1e-7)
    q = f.stock(a.x, inst.n)
    assert replay_profit(inst, q, st) == pytest.approx(a.objective, abs=1e-7)


def test_unit_level_auto_picks_by_season_length() -> None:
    """Short seasons get the unit-level state, long ones the compact model; same optimum."""
    from assortopt.models.sample_path_mip import UNIT_LEVEL_RATIO, unit_level_entries

    for t, expect in ((6, True), (60, False)):
        inst = dense3(t=t)
        st = walk_stream(inst, 4, seed=t)
        f = build_sample_path_mip(inst, st)
        d = f.info["pairs"]
        assert f.info["unit_level"] is expect
        assert (unit_level_entries(d) <= UNIT_LEVEL_RATIO * d.n_pairs) is expect
        assert ("sold" in f.var_blocks) is expect and ("tail" in f.var_blocks) is not expect
    inst = dense3(t=6)
    st = walk_stream(inst, 20, seed=3)
    vals = [
        build_sample_path_mip(inst, st, unit_level=u).solve(SolverOptions(threads=1, mip_gap=0))
        for u in ("auto", True, False)
    ]
    assert all(v.objective == pytest.approx(vals[0].objective, abs=1e-8) for v in vals)
    with pytest.raises(Exception, match="unit_level"):
        build_sample_path_mip(inst, st, unit_level="sometimes")


def test_fallback_mip_bound_is_at_most_the_relaxation() -> None:
    """When the relaxation is fractional the MIP runs; its reported bound is never above the
    relaxation's value (a valid bound) and never below the incumbent."""
    from assortopt.models.sample_path_mip import solve_sample_path_mip

    inst = dense3(t=30)
    st = walk_stream(inst, 8, seed=5)
    f = build_sample_path_mip(inst, st, unit_level=False)
    relax = solve_lp(dataclasses.replace(f.lp, integer=None), SolverOptions(threads=1))
    for limit in (1.0, None):
        res = solve_sample_path_mip(f, inst, SolverOptions(threads=1, time_limit=limit))
        if limit is not None and res.x is None:  # a loaded machine: not even the relaxation
            assert (res.status, res.termination) == ("error", "time_limit")
            continue
        assert res.x is not None and res.extra["lp_first"] is False  # the MIP really ran
        assert res.bound <= relax.objective + 1e-6
        assert res.bound >= res.objective - 1e-6
        assert res.objective == pytest.approx(replay_profit(inst, f.stock(res.x, 3), st), abs=1e-7)
