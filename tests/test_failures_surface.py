"""Failures surface and statuses tell the truth (issue 20, "Seen" and "More").

Each test is one case that was seen giving a silent wrong answer: an empty plan dressed as a
result after an inner solve ran out of time, a crash on a budget that empties the plan, a fluid
objective above the LP bound, a heuristic that stocked nothing where one unit is worth 1.6,
a message blaming demand when a constraint emptied the plan, a summary without the gap.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from assortopt.exact import expected_profit, optimal_plan
from assortopt.instance import load_instance
from assortopt.methods.base import METHODS, Plan, PlanRequest, get_method, start_plan
from assortopt.models.lp_bound import lp_bound
from assortopt.packaging import package
from assortopt.solver import SolverOptions
from assortopt.solver.status import ERROR, FEASIBLE, OPTIMAL, Termination, holds_plan

INSTANCES_DIR = Path(__file__).resolve().parents[1] / "instances"


def _plan(method: str, inst, time_limit=None, scenarios=20, **params) -> Plan:
    req = PlanRequest(
        scenarios=scenarios, seed=0, options=SolverOptions(time_limit=time_limit), params=params
    )
    return get_method(method)(inst, req)


@pytest.fixture(scope="module")
def big():
    return load_instance(INSTANCES_DIR / "sparse-n1000-t1000.json")


@pytest.mark.parametrize("method", ["heuristic", "pooled-newsvendor", "fluid", "local-search"])
def test_a_timed_out_inner_solve_is_an_error_or_a_real_plan(big, method):
    # was: the LP bound timed out, returned an empty support, and the method reported "no
    # product is worth stocking" (heuristic) or an empty local optimum (local-search)
    plan = _plan(method, big, time_limit=0.01)
    if plan.status == ERROR:
        assert plan.termination in (Termination.TIME_LIMIT, Termination.ERROR)
        assert "time" in plan.message.lower()
        assert plan.stock.sum() == 0
    else:
        assert plan.stock.sum() > 0, plan.message


def test_a_failed_warm_start_is_no_start(monkeypatch, chocolate):
    def fails(inst, req):
        return Plan(
            np.zeros(inst.n, np.int64),
            status=ERROR,
            message="ran out",
            termination=Termination.TIME_LIMIT,
        )

    monkeypatch.setitem(METHODS, "always-fails", fails)
    plan, label = start_plan(chocolate, PlanRequest(), "always-fails", "mip", time.perf_counter())
    assert plan is None and "failed" in label and "ran out" in label


def test_local_search_from_a_failed_start_is_an_error(monkeypatch, chocolate):
    def fails(inst, req):
        return Plan(np.zeros(inst.n, np.int64), status=ERROR, message="ran out")

    monkeypatch.setitem(METHODS, "always-fails", fails)
    plan = _plan("local-search", chocolate, start="always-fails")
    assert plan.status == ERROR and "ran out" in plan.message


def test_mip_out_of_time_before_the_model_returns_its_start(chocolate):
    # a limit the warm start alone uses up: the start's plan, feasible, time_limit
    heur = _plan("heuristic", chocolate)
    t0 = time.perf_counter()
    plan = _plan("mip", chocolate, time_limit=0.001)
    wall = time.perf_counter() - t0
    assert wall < 0.001 + 2.0 + 1.0  # the allowance (plus slack for a loaded machine)
    assert plan.status in (FEASIBLE, ERROR)
    assert plan.termination is Termination.TIME_LIMIT
    if plan.status == FEASIBLE:
        assert plan.stock.sum() > 0
        assert int((plan.stock > 0).sum()) <= chocolate.max_products
        assert float(chocolate.cost @ plan.stock) <= chocolate.budget
    assert heur.stock.sum() > 0


@pytest.mark.parametrize("budget", [0.0, 1.0])
def test_mip_with_a_budget_below_every_cost_is_the_empty_optimal_plan(chocolate, budget):
    # was: IndexError in the sample-path MIP builder
    inst = chocolate.replace(budget=budget)
    plan = _plan("mip", inst, start="none")
    assert plan.status == OPTIMAL and plan.stock.sum() == 0
    assert "budget" in plan.message
    assert optimal_plan(inst)[1] == pytest.approx(0.0)  # the exact DP agrees: nothing fits


@pytest.mark.parametrize(
    "change, word", [({"max_products": 0}, "max_products"), ({"budget": 0.0}, "budget")]
)
def test_heuristic_names_the_constraint_that_empties_the_plan(chocolate, change, word):
    plan = _plan("heuristic", chocolate.replace(**change))
    assert plan.stock.sum() == 0
    assert word in plan.message and "worth" not in plan.message


def test_heuristic_at_one_customer_stocks_the_pooled_newsvendor_unit(chocolate):
    # was: "no product is worth stocking"; cocoa80 alone gets 0.25 + 0.45·0.6 = 0.52 of the
    # customer, above 1 − (8 − 3)/(8 − 1): one unit, worth 0.52·8 + 0.48·1 − 3 = 1.64
    inst = chocolate.replace(customers_mean=1)
    plan = _plan("heuristic", inst, scenarios=100)
    best, value = optimal_plan(inst)
    assert value == pytest.approx(1.64)
    assert plan.stock.tolist() == best.tolist() == [0, 1, 0]
    assert expected_profit(inst, plan.stock) == pytest.approx(value)


def test_fluid_objective_is_the_fluid_profit_of_its_plan_under_a_binding_budget(chocolate):
    # was: objective 260 against an LP bound of 166.7 for a plan worth 165
    inst = chocolate.replace(budget=100.0)
    plan = _plan("fluid", inst)
    assert float(inst.cost @ plan.stock) <= 100.0
    assert plan.objective <= lp_bound(inst).value + 1e-9
    assert plan.objective == pytest.approx(expected_profit(inst, plan.stock), rel=0.1)


def test_fluid_honours_fixed_costs(chocolate):
    # was: 70 units with fixed costs of 10⁶ each (expected profit about −2·10⁶)
    inst = chocolate.replace(fixed_cost=np.full(3, 1e6))
    plan = _plan("fluid", inst)
    assert plan.stock.sum() == 0
    assert expected_profit(inst, plan.stock) >= 0


def test_summary_shows_the_proven_bound_and_gap_of_a_feasible_plan(chocolate):
    plan = Plan(
        np.array([10, 10, 0]),
        status=FEASIBLE,
        objective=100.0,
        bound=305.0,
        gap=2.05,
        termination=Termination.TIME_LIMIT,
    )
    sol = package(chocolate, "mip", plan, seed=0, scenarios=10, eval_reps=0, bound=False)
    text = sol.summary()
    assert "bound 305.0000" in text and "gap 205.00%" in text


def test_error_and_infeasible_plans_carry_no_stock():
    for status, term in ((ERROR, Termination.TIME_LIMIT), ("infeasible", Termination.INFEASIBLE)):
        plan = Plan(np.array([3, 4]), status=status, termination=term)
        assert not holds_plan(plan.status) and plan.stock.sum() == 0
