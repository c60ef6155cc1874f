"""Routing through the reduced chain without forming it (`assortopt.choice.routing`), against
the dense stochastic complement computed here with numpy and against `reduced_chain`."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from factories import random_instance

from assortopt.choice.mc import reduced_chain
from assortopt.choice.routing import reduced_routing
from assortopt.instance import Instance
from assortopt.methods.heuristic import PooledDemand, pooled_probabilities, spill_newsvendor
from assortopt.methods.rounding import critical_ratio


def with_self_loops(inst: Instance, seed: int) -> Instance:
    """Move part of each row's mass onto its diagonal (a customer may revisit the product)."""
    rng = np.random.default_rng(seed)
    rho = inst.transitions.toarray()
    loop = rng.uniform(0, 0.3, inst.n) * (rng.random(inst.n) < 0.5)
    rho = rho * (1 - loop)[:, None] + np.diag(loop * rho.sum(axis=1))
    return inst.replace(transitions=sp.csr_array(rho))


def dense_route(inst: Instance, mask: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ρ'ᵀ w with ρ' the stochastic complement on S (every product off S can exit), self-loops
    dropped and rows rescaled, all in dense numpy."""
    rho = inst.transitions.toarray()
    s, a = np.flatnonzero(mask), np.flatnonzero(~mask)
    comp = rho[np.ix_(s, s)] + rho[np.ix_(s, a)] @ np.linalg.solve(
        np.eye(len(a)) - rho[np.ix_(a, a)], rho[np.ix_(a, s)]
    )
    d = np.diag(comp).copy()
    off = comp - np.diag(d)
    off = off / (1 - d)[:, None]
    return off.T @ w


@pytest.mark.parametrize("seed", range(6))
def test_route_equals_dense_complement(seed):
    rng = np.random.default_rng(seed)
    n = 12 + 7 * seed
    inst = random_instance(n, seed, k=3 + seed % 3)
    if seed % 2:
        inst = with_self_loops(inst, seed)
    mask = rng.random(n) < 0.3
    mask[0] = True
    r = reduced_routing(inst, mask, tol=1e-16, max_nnz=None)
    w = rng.random(int(mask.sum()))
    np.testing.assert_allclose(r.route(w), dense_route(inst, mask, w), rtol=0, atol=1e-12)
    _, rho_s, _ = reduced_chain(inst, mask)
    np.testing.assert_allclose(r.route(w), sp.csr_array(rho_s).T @ w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_truncated_diagonal_is_certified(seed):
    """With the series cut early, the return probability not counted is within diag_bound."""
    rng = np.random.default_rng(10 + seed)
    n = 40
    inst = random_instance(n, seed, k=4, stay=(0.8, 0.99))  # long walks: a slow series
    mask = rng.random(n) < 0.25
    mask[1] = True
    exact = reduced_routing(inst, mask, tol=1e-16, max_nnz=None)
    cut = reduced_routing(inst, mask, tol=1e-16, max_nnz=50)
    assert cut.terms < exact.terms
    miss = exact.diag - cut.diag
    assert np.all(miss >= -1e-15)
    assert np.all(miss <= cut.diag_bound + 1e-15)
    assert np.any(cut.diag_bound > 1e-6)


def test_trapped_products_pass_nothing_on():
    """A closed class off S (walks there never leave): as the dense reduced chain does, its
    customers are lost, and the route agrees with `reduced_chain`."""
    inst = random_instance(10, 3, k=3)
    rho = inst.transitions.toarray()
    rho[8] = 0.0
    rho[9] = 0.0
    rho[8, 9] = rho[9, 8] = 1.0  # 8 <-> 9 forever
    inst = inst.replace(transitions=sp.csr_array(rho))
    mask = np.zeros(10, bool)
    mask[[0, 2, 5]] = True
    r = reduced_routing(inst, mask, tol=1e-16, max_nnz=None)
    w = np.array([0.3, 1.0, 0.7])
    _, rho_s, _ = reduced_chain(inst, mask)
    np.testing.assert_allclose(r.route(w), sp.csr_array(rho_s).T @ w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_spill_newsvendor_matches_dense_reduced_chain(seed):
    """The spill fixed point run with the dense reduced chain (written out here) gives the
    same stock as `spill_newsvendor` on the routing operator."""
    rng = np.random.default_rng(seed)
    n = 60
    inst = random_instance(n, seed, T=200, k=4)
    keep = rng.random(n) < 0.4
    demand = PooledDemand.of(inst, pooled_probabilities(inst, keep))
    q, _ = spill_newsvendor(inst, keep, demand)
    ratio = critical_ratio(inst)
    _, rho_s, pos = reduced_chain(inst, keep)
    rt = sp.csr_array(rho_s).T.tocsr()
    ref = np.where(keep, demand.quantile(ratio), 0)
    cur, seen = demand, {ref.tobytes()}
    for _ in range(30):
        over = np.maximum(cur.mean - cur.expected_sales(ref), 0.0)
        mean = demand.mean.copy()
        mean[pos] += rt @ over[pos]
        if cur.trials is not None:
            mean = np.minimum(mean, cur.trials)
        cur = PooledDemand(mean, cur.trials)
        new = np.where(keep, cur.quantile(ratio), 0)
        if new.tobytes() in seen:
            ref = new
            break
        seen.add(new.tobytes())
        ref = new
    np.testing.assert_array_equal(q, ref)
