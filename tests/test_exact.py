"""The exact DP against an independent brute force: a memoised recursion over customers whose
purchase probabilities come from pushing walk mass step by step (no linear solve, no reduced
chain, no vectorised state space)."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from factories import walk_mass

from assortopt.exact import expected_profit, optimal_plan, profit_table, unit_caps
from assortopt.exceptions import OptionError
from assortopt.instance import Instance


def make(
    seed: int,
    n: int = 3,
    T: int = 3,
    poisson: bool = False,
    salvage: bool = False,
    fixed: bool = False,
    dense: bool = False,
    **kw,
) -> Instance:
    rng = np.random.default_rng(seed)
    rho = rng.random((n, n)) * (rng.random((n, n)) < (0.9 if dense else 0.5))
    np.fill_diagonal(rho, 0.0)
    rows = rho.sum(axis=1, keepdims=True)
    rho = np.where(rows > 0, rho / np.where(rows > 0, rows, 1) * rng.uniform(0.3, 0.9, (n, 1)), 0)
    price = rng.uniform(2, 10, n)
    cost = price * rng.uniform(0.2, 0.8, n)
    return Instance(
        ids=[f"p{i}" for i in range(n)],
        price=price,
        cost=cost,
        arrival=rng.dirichlet(np.ones(n + 1))[:n],
        transitions=sp.csr_array(rho),
        customers_mean=T,
        customers_distribution="poisson" if poisson else "fixed",
        salvage=cost * rng.uniform(0, 1, n) if salvage else None,
        fixed_cost=rng.uniform(0, 2, n) if fixed else None,
        **kw,
    )


def brute(inst: Instance):
    """Expected profit of plan x by recursion over customers (n customers)."""

    @functools.cache
    def probs(avail: tuple[bool, ...]) -> tuple[np.ndarray, float]:
        return walk_mass(inst, np.array(avail))

    @functools.cache
    def revenue(inv: tuple[int, ...], n: int) -> float:
        if n == 0:
            return float(inst.salvage @ np.array(inv))
        p, none = probs(tuple(i > 0 for i in inv))
        val = none * revenue(inv, n - 1)
        for j in range(inst.n):
            if p[j] > 0:
                nxt = list(inv)
                nxt[j] -= 1
                val += p[j] * (inst.price[j] + revenue(tuple(nxt), n - 1))
        return val

    def profit(x, n: int) -> float:
        x = np.asarray(x)
        return (
            revenue(tuple(int(v) for v in x), n)
            - float(inst.cost @ x)
            - float(inst.fixed_cost @ (x > 0))
        )

    return profit


@pytest.mark.parametrize(
    "kw",
    [{}, {"salvage": True}, {"fixed": True}, {"dense": True, "salvage": True, "fixed": True}],
)
def test_fixed_T_matches_brute_force(kw):
    for seed in range(3):
        inst = make(seed, T=3, **kw)
        profit = brute(inst)
        table = profit_table(inst, [3, 2, 3])
        assert table.shape == (4, 3, 4)
        for x in itertools.product(range(4), range(3), range(4)):
            assert table[x] == pytest.approx(profit(x, 3), abs=1e-11)
        x = (2, 1, 3)
        assert expected_profit(inst, np.array(x)) == pytest.approx(profit(x, 3), abs=1e-11)
        assert expected_profit(inst, {"p0": 2, "p1": 1, "p2": 3}) == pytest.approx(table[x])


def test_poisson_matches_brute_force_mixture():
    inst = make(4, T=1.7, poisson=True, salvage=True, fixed=True)
    profit = brute(inst)
    n_max = 30  # tail mass of Poisson(1.7) beyond 30 is ~1e-27
    w = [math.exp(-1.7) * 1.7**n / math.factorial(n) for n in range(n_max + 1)]
    for x in [(0, 0, 0), (1, 2, 0), (2, 1, 1), (3, 0, 2)]:
        fixed_part = float(inst.cost @ np.array(x) + inst.fixed_cost @ (np.array(x) > 0))
        mix = sum(wn * (profit(x, n) + fixed_part) for n, wn in enumerate(w)) - fixed_part
        assert expected_profit(inst, np.array(x)) == pytest.approx(mix, abs=1e-11)


def test_optimal_plan_is_best_in_box_with_constraints():
    for seed in range(3):
        inst = make(seed, T=3, fixed=True)
        profit = brute(inst)
        box = list(itertools.product(range(4), repeat=3))
        values = {x: profit(x, 3) for x in box}
        q, val = optimal_plan(inst)
        assert val == pytest.approx(max(values.values()), abs=1e-11)
        assert values[tuple(q)] == pytest.approx(val, abs=1e-11)
        # max_products = 1 and a budget
        budget = float(np.median(inst.cost)) * 2.5
        con = inst.replace(max_products=1, budget=budget)
        ok = [x for x in box if sum(v > 0 for v in x) <= 1 and inst.cost @ np.array(x) <= budget]
        q2, val2 = optimal_plan(con)
        assert val2 == pytest.approx(max(values[x] for x in ok), abs=1e-11)
        assert (q2 > 0).sum() <= 1 and inst.cost @ q2 <= budget + 1e-9


@pytest.mark.parametrize("poisson", [False, True])
def test_unit_caps_lose_nothing(poisson):
    """The default box (unit_caps) finds the same optimum as a larger box."""
    for seed in range(2):
        inst = make(seed, n=2, T=3, poisson=poisson, salvage=True)
        caps = unit_caps(inst)
        q, val = optimal_plan(inst)
        q_big, val_big = optimal_plan(inst, max_units=int(caps.max()) + 3)
        assert val == pytest.approx(val_big, abs=1e-10)
        assert np.all(q <= caps)


def test_salvage_shift_identity():
    """(r, c, v) and (r − v, c − v, 0) give the same profit for every plan."""
    inst = make(2, T=3, salvage=True)
    shifted = inst.replace(
        price=inst.price - inst.salvage, cost=inst.cost - inst.salvage, salvage=np.zeros(3)
    )
    np.testing.assert_allclose(
        profit_table(inst, [3, 3, 3]), profit_table(shifted, [3, 3, 3]), atol=1e-11
    )


def test_box_too_big_is_refused():
    inst = make(0, n=3, T=500)
    with pytest.raises(OptionError):
        optimal_plan(inst)
