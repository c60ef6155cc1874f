"""Incremental rounding: unit moves replayed as event chains give exactly what a full
re-simulation gives (the independent simulator `simulate_stream`, and the evaluator's own
full path), and the search makes exactly the same moves either way."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_instance

import assortopt.methods.local_search as ls
from assortopt.methods.base import PlanRequest, get_method
from assortopt.methods.local_search import CRNEvaluator, improve, planning_stream
from assortopt.simulation import simulate_stream


def moves_of(q: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    j = np.flatnonzero(cand)
    return (
        np.concatenate([j, j, j, j]),
        np.concatenate([q[j] + 1, np.maximum(q[j] - 1, 0), np.zeros(len(j), np.int64), q[j] + 3]),
    )


@pytest.mark.parametrize(
    "n,seed,stay",
    [(6, 0, (0.3, 0.95)), (25, 1, (0.3, 0.95)), (60, 2, (0.9, 0.999)), (40, 3, (0.999, 0.999))],
)
def test_move_deltas_equal_full_resimulation(n, seed, stay):
    inst = random_instance(n, seed, T=30, k=4, stay=stay, salvage=True, fixed=True, poisson=True)
    stream = planning_stream(inst, 25, seed)
    cand = np.ones(n, bool)
    inc = CRNEvaluator(inst, stream, cand, incremental=True)
    full = CRNEvaluator(inst, stream, cand, incremental=False)
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 4, n)
    for _ in range(6):
        assert inc.set_plan(q) == full.set_plan(q)
        truth = simulate_stream(inst, q, stream).profits.mean()
        assert inc.profit == pytest.approx(truth, rel=1e-12, abs=1e-9)
        j, nq = moves_of(q, cand)
        d_inc, d_full = inc.deltas(j, nq), full.deltas(j, nq)
        np.testing.assert_allclose(d_inc, d_full, rtol=0, atol=1e-12 * max(1.0, abs(truth)))
        for m in rng.choice(len(j), 5, replace=False):  # against the independent simulator
            alt = q.copy()
            alt[j[m]] = nq[m]
            other = simulate_stream(inst, alt, stream).profits.mean()
            assert d_inc[m] == pytest.approx(other - truth, abs=1e-9)
        # make one move in both and check the recorded trajectories stay identical
        m = int(rng.integers(len(j)))
        inc.apply(int(j[m]), int(nq[m]))
        full.apply(int(j[m]), int(nq[m]))
        q = inc.stock.copy()
        np.testing.assert_array_equal(inc.sales, full.sales)
        np.testing.assert_array_equal(inc.missed, full.missed)
        # rev is patched by the replayed change, the full path re-sums: equal to rounding
        np.testing.assert_allclose(inc.rev, full.rev, rtol=1e-13, atol=1e-9)
        np.testing.assert_array_equal(inc.sales, simulate_stream(inst, q, stream).sales)


@pytest.mark.parametrize(
    "n,seed,budget,cap",
    [
        (10, 0, None, None),
        (40, 1, None, None),
        (80, 2, 60.0, None),
        (60, 3, None, 12),
        (120, 4, 90.0, 30),
    ],
)
def test_improve_makes_the_same_moves(n, seed, budget, cap):
    inst = random_instance(n, seed, T=50, k=4, fixed=seed % 2 == 1, budget=budget, max_products=cap)
    stream = planning_stream(inst, 30, seed)
    cand = inst.price > inst.cost
    start = np.where(cand, np.random.default_rng(seed).integers(0, 3, n), 0)
    res = {}
    for inc in (True, False):
        ev = CRNEvaluator(inst, stream, cand | (start > 0), incremental=inc)
        res[inc] = improve(inst, start, stream, evaluator=ev)
    a, b = res[True], res[False]
    np.testing.assert_array_equal(a.stock, b.stock)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    assert (a.accepted, a.sweeps, a.evaluations, a.stopped) == (
        b.accepted,
        b.sweeps,
        b.evaluations,
        b.stopped,
    )
    assert a.accepted > 0


def test_heuristic_plan_unchanged(monkeypatch):
    inst = random_instance(150, 5, T=80, k=4)
    req = PlanRequest(seed=3, scenarios=30, params={"quantities": "spill"})
    fast = get_method("heuristic")(inst, req)

    class Full(CRNEvaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, incremental=False)

    monkeypatch.setattr(ls, "CRNEvaluator", Full)
    slow = get_method("heuristic")(inst, req)
    np.testing.assert_array_equal(fast.stock, slow.stock)
    assert fast.objective == pytest.approx(slow.objective, rel=1e-12)


def test_parallel_move_deltas_identical_to_serial():
    """The threaded batch kernel scores every move exactly as the serial one (bit for bit)."""
    from assortopt._incremental import move_deltas, move_deltas_parallel

    inst = random_instance(80, 7, T=60, k=4, salvage=True)
    stream = planning_stream(inst, 20, 7)
    cand = np.ones(80, bool)
    ev = CRNEvaluator(inst, stream, cand)
    q = np.random.default_rng(7).integers(0, 4, 80)
    ev.set_plan(q)
    j, nq = moves_of(q, cand)
    a = move_deltas(j, nq, *ev._state())
    b = move_deltas_parallel(3, j, nq, *ev._state())
    np.testing.assert_array_equal(a, b)
    full = CRNEvaluator(inst, stream, cand, incremental=False)
    full.set_plan(q)
    np.testing.assert_allclose(ev.deltas(j, nq), full.deltas(j, nq), rtol=0, atol=1e-9)
