"""The simulator: sample-path identities, a pure-Python reference, and the exact DP.

Independent truths: a five-line Python simulator of dynamic substitution on hand-made lists; the
salvage identity (r, c, v) ≡ (r − v, c − v, 0) per path; and `assortopt.exact.expected_profit`
(dynamic program over inventory states) on tiny instances of different substitution structures.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.choice.mnl import mnl_instance
from assortopt.exceptions import InstanceError, OptionError
from assortopt.instance import Instance
from assortopt.rng import child_seeds
from assortopt.sampling import MarkovChainSampler, sample_streams
from assortopt.simulation import (
    Evaluation,
    block_reps,
    paired_difference,
    simulate,
    simulate_stream,
)
from assortopt.streams import Stream


def _inst(rho, arrival, price, cost, customers=6, **kw) -> Instance:
    n = len(arrival)
    return Instance(
        ids=tuple("abcdefgh"[:n]),
        price=np.asarray(price, float),
        cost=np.asarray(cost, float),
        arrival=np.asarray(arrival, float),
        transitions=sp.csr_array(np.asarray(rho, float)),
        customers_mean=customers,
        **kw,
    )


def reference_simulation(inst: Instance, q: np.ndarray, lists: list[list[list[int]]]):
    """Plain Python: each customer buys the first product of her list still in stock."""
    profits, sales_all, bought_all = [], [], []
    for scen in lists:
        inv = q.copy()
        sales = np.zeros(inst.n, dtype=np.int64)
        for lst in scen:
            got = -1
            for j in lst:
                if inv[j] > 0:
                    inv[j] -= 1
                    sales[j] += 1
                    got = j
                    break
            bought_all.append(got)
        profit = (
            inst.price @ sales
            + inst.salvage @ (q - sales)
            - inst.cost @ q
            - inst.fixed_cost[q > 0].sum()
        )
        profits.append(profit)
        sales_all.append(sales)
    return np.array(profits), np.array(sales_all), np.array(bought_all)


def test_matches_reference_on_hand_made_lists(tiny3: Instance) -> None:
    lists = [
        [[0, 1, 2], [0, 2], [0], [1, 0], [], [2, 1, 0], [0, 1]],
        [[2], [2], [2, 0], [1], [1, 2, 0]],
        [],
        [[1, 0], [1, 0], [1, 0], [1, 0]],
    ]
    stream = Stream.from_lists(lists, 3)
    for q in ([1, 1, 1], [2, 0, 1], [0, 0, 0], [5, 5, 5], [1, 2, 0]):
        q = np.array(q)
        out = simulate_stream(tiny3, q, stream, record=True)
        profits, sales, bought = reference_simulation(tiny3, q, lists)
        np.testing.assert_allclose(out.profits, profits, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(out.sales, sales)
        np.testing.assert_array_equal(out.purchases, bought)
    assert simulate_stream(tiny3, {"a": 1}, stream).purchases is None


def test_sample_path_identities(tiny3: Instance) -> None:
    inst = tiny3.replace(customers_mean=9, customers_distribution="poisson")
    stream = sample_streams(inst, 400, seed=4)
    q = np.array([2, 3, 1])
    out = simulate_stream(inst, q, stream, record=True)
    assert np.all(out.sales <= q) and np.all(out.sales >= 0)
    per_scen = (
        np.add.reduceat(out.purchases >= 0, stream.scenario_offsets[:-1])
        if len(out.purchases)
        else np.zeros(0)
    )
    np.testing.assert_array_equal(out.sales.sum(axis=1), per_scen)
    # a purchase is always the first in-stock product of the list (checked via the reference)
    lists = [
        [
            stream.customer(c).tolist()
            for c in range(stream.scenario_offsets[k], stream.scenario_offsets[k + 1])
        ]
        for k in range(stream.n_scenarios)
    ]
    ref_p, ref_s, ref_b = reference_simulation(inst, q, lists)
    np.testing.assert_allclose(out.profits, ref_p, rtol=1e-12)
    np.testing.assert_array_equal(out.purchases, ref_b)
    # salvage identity: (r, c, v) and (r − v, c − v, 0) give the same profit on every path
    shifted = inst.replace(
        price=inst.price - inst.salvage, cost=inst.cost - inst.salvage, salvage=np.zeros(3)
    )
    np.testing.assert_allclose(
        simulate_stream(shifted, q, stream).profits, out.profits, rtol=1e-12, atol=1e-9
    )


# Five+ tiny instances with different substitution structures for the DP cross-check.
def _dp_cases() -> list[tuple[str, Instance, list[list[int]]]]:
    cycle = _inst(
        [[0, 0.5, 0], [0, 0, 0.4], [0.3, 0, 0]],
        [0.4, 0.3, 0.2],
        [5, 4, 3],
        [2, 2, 1],
        salvage=np.array([0, 1, 0.0]),
        fixed_cost=np.array([0, 0, 1.0]),
    )
    mnl = mnl_instance([2.0, 1.0, 0.6], [6, 5, 4], [3, 2, 2], 7, salvage=[1.0, 0.5, 0.0])
    dense_poisson = _inst(
        [[0, 0.3, 0.3], [0.25, 0, 0.35], [0.2, 0.5, 0]],
        [0.3, 0.3, 0.3],
        [4, 6, 5],
        [2, 3, 1],
        customers=5,
        customers_distribution="poisson",
        fixed_cost=np.array([2.0, 0.0, 1.5]),
    )
    nested = _inst(
        [[0, 0.9, 0, 0], [0, 0, 0.8, 0], [0, 0, 0, 0.7], [0, 0, 0, 0]],
        [0.5, 0.2, 0.1, 0.1],
        [9, 7, 5, 3],
        [4, 3, 2, 1],
        customers=5,
    )
    rare_exit = _inst(
        [[0, 0.999, 0], [0.5, 0, 0.499], [0.6, 0.399, 0]],
        [0.7, 0.2, 0.1],
        [3, 5, 8],
        [1, 2, 6],
        customers=6,
        salvage=np.array([0.5, 1.0, 2.0]),
    )
    independent = _inst(
        np.zeros((2, 2)), [0.5, 0.3], [4, 7], [1, 5], customers=6, customers_distribution="poisson"
    )
    return [
        ("cycle+salvage+fixed", cycle, [[2, 2, 1], [1, 0, 3], [3, 3, 0]]),
        ("mnl+salvage", mnl, [[2, 2, 2], [4, 0, 1]]),
        ("dense+poisson+fixed", dense_poisson, [[2, 1, 2], [0, 3, 0]]),
        ("nested-chain", nested, [[1, 1, 1, 1], [0, 2, 0, 3]]),
        ("rare-exit+salvage", rare_exit, [[1, 2, 2], [2, 0, 5]]),
        ("no-substitution+poisson", independent, [[3, 2], [5, 0]]),
    ]


@pytest.mark.parametrize(("name", "inst", "plans"), _dp_cases(), ids=[c[0] for c in _dp_cases()])
def test_agrees_with_exact_dp(name: str, inst: Instance, plans: list[list[int]]) -> None:
    exact = pytest.importorskip("assortopt.exact")
    for q in plans:
        ev = simulate(inst, np.array(q), reps=20_000, seed=17)
        truth = exact.expected_profit(inst, np.array(q))
        assert ev.stderr > 0  # a random outcome, so the comparison has teeth
        assert abs(ev.mean - truth) < 4 * ev.stderr, (name, q, ev.mean, ev.stderr, truth)


def test_evaluation_fields_and_common_random_numbers(tiny3: Instance) -> None:
    q1, q2 = np.array([2, 2, 1]), np.array([3, 1, 0])
    e1 = simulate(tiny3, q1, reps=700, seed=5)
    e2 = simulate(tiny3, {"a": 3, "b": 1}, reps=700, seed=5)
    assert isinstance(e1, Evaluation) and e1.profits.shape == (700,)
    assert e1.to_dict() == {"mean": e1.mean, "stderr": e1.stderr, "reps": 700, "seed": 5}
    np.testing.assert_array_equal(e2.stock, q2)
    np.testing.assert_allclose(e1.leftover + e1.sales, q1)
    assert 0 <= e1.fill_rate <= 1 and 0 <= e1.substitution_share <= 1
    # the customers are those of sample_streams on the documented blocks, whatever the plan
    block = block_reps(tiny3)
    seeds = child_seeds(5, -(-700 // block))
    parts = []
    for b, s in enumerate(seeds):
        n = min(block, 700 - b * block)
        parts.append(sample_streams(tiny3, n, int(s)))
    stream = Stream.concat(parts)
    for ev, q in ((e1, q1), (e2, q2)):
        out = simulate_stream(tiny3, q, stream)
        np.testing.assert_allclose(ev.profits, out.profits, rtol=1e-12)
        np.testing.assert_allclose(ev.sales, out.sales.mean(axis=0), rtol=1e-12)
    # fill rate and substitution share from the same stream, by the reference simulator
    rec = simulate_stream(tiny3, q1, stream, record=True)
    first = stream.first_choices()
    wanting = first >= 0
    assert e1.fill_rate == pytest.approx(np.mean(rec.purchases[wanting] >= 0))
    bought = rec.purchases >= 0
    assert e1.substitution_share == pytest.approx(np.mean(rec.purchases[bought] != first[bought]))
    # paired differences are exact differences of the per-replication profits
    d, se = paired_difference(e1, e2)
    assert d == pytest.approx(e1.mean - e2.mean)
    assert se == pytest.approx(np.std(e1.profits - e2.profits, ddof=1) / np.sqrt(700))
    with pytest.raises(OptionError):
        paired_difference(e1, simulate(tiny3, q2, reps=700, seed=6))


def test_reps_prefix_and_reproducible(tiny3: Instance) -> None:
    inst = tiny3.replace(customers_distribution="poisson")
    a = simulate(inst, [1, 2, 1], reps=50, seed=3)
    b = simulate(inst, [1, 2, 1], reps=5000, seed=3)
    np.testing.assert_array_equal(a.profits, b.profits[:50])
    c = simulate(
        inst, [1, 2, 1], reps=5000, seed=3, sampler=MarkovChainSampler(inst, method="walk")
    )
    np.testing.assert_array_equal(b.profits, c.profits)  # walk = hybrid here: no long walks


def test_errors(tiny3: Instance) -> None:
    with pytest.raises(OptionError):
        simulate(tiny3, [1, 1, 1], reps=0)
    with pytest.raises(InstanceError):
        simulate(tiny3, [1, -1, 1], reps=10)
    with pytest.raises(InstanceError):
        simulate(tiny3, {"zz": 1}, reps=10)
    with pytest.raises(OptionError):
        simulate_stream(tiny3, [1, 1, 1], Stream.from_lists([[[0]]], 4))
    one = simulate(tiny3, [1, 1, 1], reps=1, seed=2)
    assert one.stderr == 0.0
