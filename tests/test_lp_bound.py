"""The LP upper bound against brute force over assortments, the exact DP optimum, the MNL
revenue-ordered result and its dual (optimal stopping)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from factories import random_instance

from assortopt.choice import choice_probabilities, mnl_instance
from assortopt.exact import optimal_plan, profit_table
from assortopt.instance import Instance
from assortopt.models.lp_bound import build_lp_bound, lp_bound, stopping_value


def brute_force(inst: Instance) -> float:
    best = 0.0
    for bits in itertools.product([False, True], repeat=inst.n):
        p = choice_probabilities(inst, np.array(bits))
        best = max(best, float(inst.margin @ p))
    return inst.customers_mean * best


@pytest.mark.parametrize("n,seed", [(3, 0), (5, 1), (7, 2), (8, 3), (10, 4), (10, 5), (9, 6)])
def test_lp_equals_best_assortment(n, seed):
    inst = random_instance(n, seed, salvage=seed % 2 == 1)
    b = lp_bound(inst)
    assert b.status == "optimal"
    best = brute_force(inst)
    assert b.value == pytest.approx(best, rel=1e-7)
    # the vertex support is an optimal assortment
    p = choice_probabilities(inst, b.offered)
    assert inst.customers_mean * float(inst.margin @ p) == pytest.approx(best, rel=1e-7)
    assert b.assortment == [inst.ids[i] for i in np.flatnonzero(b.offered)]
    assert b.per_customer * inst.customers_mean == pytest.approx(b.value)
    # at a vertex, π is the purchase vector of its support
    np.testing.assert_allclose(b.pi[b.offered], p[b.offered], atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_dual_is_optimal_stopping(seed):
    inst = random_instance(12, seed, T=15)
    b = lp_bound(inst)
    v = b.v
    m = inst.margin
    cont = inst.transitions @ v
    np.testing.assert_allclose(v, np.maximum(m, cont), atol=1e-10)  # Bellman equation
    assert inst.customers_mean * float(inst.arrival @ v) == pytest.approx(b.value, rel=1e-9)
    # value iteration from below reaches the same v (independent of the LP)
    w = np.maximum(m, 0.0)
    for _ in range(20_000):
        w2 = np.maximum(m, inst.transitions @ w)
        if np.abs(w2 - w).max() < 1e-15:
            break
        w = w2
    np.testing.assert_allclose(v, w, atol=1e-9)
    # {v_j = m_j, m_j > 0} is optimal too
    s2 = (np.abs(v - m) < 1e-10) & (m > 0)
    p2 = choice_probabilities(inst, s2)
    assert inst.customers_mean * float(m @ p2) == pytest.approx(b.value, rel=1e-9)
    np.testing.assert_allclose(stopping_value(inst, b.offered), v)


@pytest.mark.parametrize("n", [4, 7])
def test_mnl_bound_is_margin_ordered(n):
    """Under MNL the best assortment is a top-k set by margin (Talluri & van Ryzin)."""
    rng = np.random.default_rng(n)
    u = rng.exponential(1.5, n)
    price = rng.uniform(2, 10, n)
    inst = mnl_instance(u, price, price * rng.uniform(0.1, 0.8, n), customers=9)
    m = inst.margin
    order = np.argsort(-m)
    best = 0.0
    for k in range(n + 1):
        s = order[:k]
        best = max(best, float(m[s] @ u[s] / (1 + u[s].sum())))
    assert lp_bound(inst).value == pytest.approx(9 * best, rel=1e-8)


@pytest.mark.parametrize(
    "kw",
    [
        {"T": 3},
        {"T": 4, "salvage": True},
        {"T": 3, "fixed": True},
        {"T": 3, "poisson": True},
        {"T": 2, "poisson": True, "salvage": True, "fixed": True},
    ],
)
def test_bound_above_exact_profit(kw):
    for seed in range(3):
        inst = random_instance(3, 10 + seed, **kw)
        b = lp_bound(inst)
        _, best = optimal_plan(inst)
        assert b.value >= best - 1e-9
        # Π(x) ≤ T·LP* for every plan in a box, not just the best
        assert profit_table(inst, np.full(3, 3)).max() <= b.value + 1e-9


def test_budget_row_keeps_a_valid_bound():
    for seed in range(4):
        base = random_instance(3, 20 + seed, T=4)
        free = lp_bound(base).value
        q, _ = optimal_plan(base)
        budget = 0.5 * float(base.cost @ q)  # binding
        inst = base.replace(budget=budget)
        b = lp_bound(inst)
        assert b.budget_row and b.v is None
        _, best = optimal_plan(inst)
        assert best - 1e-9 <= b.value <= free + 1e-9
        assert inst.customers_mean * float(inst.cost @ b.pi) <= budget + 1e-7
    # a budget the LP cannot ignore: it tightens the bound strictly
    inst = random_instance(4, 3, T=10)
    tight = inst.replace(budget=0.1 * inst.customers_mean * float(inst.cost @ lp_bound(inst).pi))
    assert lp_bound(tight).value < lp_bound(inst).value - 1e-6


def test_ignored_constraints_are_reported():
    inst = random_instance(3, 1, fixed=True, max_products=1, budget=50.0)
    b = lp_bound(inst)
    assert b.ignored == ["max_products", "fixed_cost"]
    d = b.to_dict()
    json.dumps(d)
    assert d["value"] == b.value and d["assortment"] == b.assortment
    assert lp_bound(random_instance(3, 1)).ignored == []
    # the bound still holds with the cap (it only ignores it)
    _, best = optimal_plan(inst)
    assert b.value >= best - 1e-9


def test_formulation_blocks_and_pyomo_path():
    inst = random_instance(6, 2, budget=30.0)
    f = build_lp_bound(inst)
    assert list(f.var_blocks) == ["pi", "z"]
    assert set(f.row_blocks) == {"balance", "budget"}
    np.testing.assert_array_equal(f.info["products"], np.arange(6))
    fast = f.solve(path="fast")
    assert fast.objective == pytest.approx(lp_bound(inst).value)
    model = f.model
    assert len(model.balance) == 6 and model.pi["p0"] is not None
    std = f.solve(path="standard-form")
    assert std.objective == pytest.approx(fast.objective, rel=1e-9)
    assert "budget" not in build_lp_bound(inst, use_budget=False).row_blocks


def test_chocolate(chocolate):
    b = lp_bound(chocolate)
    assert b.status == "optimal" and b.budget_row
    free = lp_bound(chocolate.replace(budget=None))
    assert free.value == pytest.approx(brute_force(chocolate), rel=1e-7)
    assert b.value <= free.value + 1e-9
    assert set(b.assortment) <= set(chocolate.ids)


def test_simplex_fallback_when_certificate_fails(monkeypatch):
    import assortopt.bound as mod

    inst = random_instance(8, 7)
    ref = lp_bound(inst)
    calls = []

    def fail_once(*args, **kw):
        calls.append(1)
        return len(calls) > 1 and real(*args, **kw)

    real = mod._certified
    monkeypatch.setattr(mod, "_certified", fail_once)
    b = lp_bound(inst)
    assert len(calls) == 2 and b.status == "optimal"
    assert b.value == pytest.approx(ref.value, rel=1e-9)
    assert b.assortment == ref.assortment or inst.customers_mean * float(
        inst.margin @ choice_probabilities(inst, b.offered)
    ) == pytest.approx(b.value, rel=1e-7)
