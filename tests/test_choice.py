"""Markov chain choice probabilities, the MNL chain and the reduced chain, against independent
truths: the MNL formula, the absorption form, propagation of walk mass step by step, Monte
Carlo walks, and the full chain for every subset (reduced chain)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from factories import random_instance, walk_mass

import assortopt.choice.mc as mc
from assortopt.choice import (
    absorption,
    chain_probabilities,
    choice_details,
    choice_probabilities,
    mnl_choice_probabilities,
    mnl_instance,
    mnl_to_mc,
    reduced_chain,
)
from assortopt.exceptions import OptionError
from assortopt.instance import Instance


def random_chain(
    n: int, seed: int, k: int = 3, exit_lo: float = 0.05, exit_hi: float = 0.5
) -> Instance:
    """Sparse random chain: k random successors per product, exit prob U[exit_lo, exit_hi]."""
    return random_instance(n, seed, T=5, k=k, stay=(1 - exit_hi, 1 - exit_lo))


def subsets(n: int):
    for bits in itertools.product([False, True], repeat=n):
        yield np.array(bits)


# ----------------------------------------------------------------------------- MNL
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_mnl_chain_reproduces_mnl_formula(n):
    rng = np.random.default_rng(n)
    for scale in (0.3, 1.0, 20.0):  # large utilities: rare exits
        u = rng.exponential(scale, n)
        inst = mnl_instance(u, price=np.full(n, 3.0), cost=np.ones(n), customers=4)
        for mask in subsets(n):
            p = choice_probabilities(inst, mask)
            np.testing.assert_allclose(p, mnl_choice_probabilities(u, mask), rtol=0, atol=1e-10)


def test_mnl_to_mc_closed_form():
    u = np.array([0.5, 2.0, 1.0])
    lam, rho = mnl_to_mc(u)
    np.testing.assert_allclose(lam, u / 4.5)
    d = rho.toarray()
    assert np.all(np.diag(d) == 0)
    assert d[0, 1] == pytest.approx(2.0 / (4.5 - 0.5))
    assert d[2, 0] == pytest.approx(0.5 / (4.5 - 1.0))
    # exit from i has weight 1 against u_j of the others
    np.testing.assert_allclose(1 - d.sum(axis=1), 1 / (4.5 - u))
    with pytest.raises(OptionError):
        mnl_to_mc([1.0, -1.0])
    with pytest.raises(OptionError):
        mnl_to_mc([1.0, np.nan])


def test_mnl_probabilities_accept_positions():
    u = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        mnl_choice_probabilities(u, [0, 2]), mnl_choice_probabilities(u, np.array([1, 0, 1], bool))
    )
    np.testing.assert_allclose(mnl_choice_probabilities(u, [0, 2]), [1 / 5, 0, 3 / 5])


# ----------------------------------------------------------------------------- MC
@pytest.mark.parametrize("seed", range(4))
def test_balance_absorption_and_walk_mass_agree(seed):
    inst = random_chain(7, seed)
    rng = np.random.default_rng(100 + seed)
    rho = inst.transitions.toarray()
    for _ in range(12):
        mask = rng.random(7) < 0.5
        p, r, p0 = choice_details(inst, mask)
        # the balance equations themselves
        lhs = p + r
        rhs = inst.arrival + rho.T @ r
        np.testing.assert_allclose(lhs, rhs, atol=1e-13)
        assert np.all(p[~mask] == 0) and np.all(r[mask] == 0)
        assert p.sum() + p0 == pytest.approx(1.0, abs=1e-13)
        # absorption form P = λ_S + Σ_{l∉S} λ_l h_l
        h = absorption(inst, mask)
        p_abs = np.where(mask, inst.arrival, 0.0) + (inst.arrival * ~mask) @ h[:, :7]
        np.testing.assert_allclose(p, p_abs, atol=1e-13)
        assert h[:, :7].sum(axis=1) + h[:, 7] == pytest.approx(np.ones(7), abs=1e-13)
        # mass propagation
        pw, left = walk_mass(inst, mask)
        np.testing.assert_allclose(p, pw, atol=1e-12)
        assert p0 == pytest.approx(left, abs=1e-12)


def test_monte_carlo_walks():
    inst = random_chain(6, 3)
    mask = np.array([True, False, False, True, False, False])
    p = choice_probabilities(inst, mask)
    rng = np.random.default_rng(7)
    walks = 40_000
    rho = inst.transitions.toarray()
    cum_first = np.cumsum(np.append(inst.arrival, inst.no_purchase))
    cum_rows = np.cumsum(np.hstack([rho, 1 - rho.sum(axis=1, keepdims=True)]), axis=1)
    state = np.searchsorted(cum_first, rng.random(walks) * cum_first[-1], side="right")
    bought = np.full(walks, -1)
    alive = state < 6
    while alive.any():
        idx = np.flatnonzero(alive)
        here = state[idx]
        buy = mask[here]
        bought[idx[buy]] = here[buy]
        alive[idx[buy]] = False
        mv = idx[~buy]
        u = rng.random(len(mv))
        rows = cum_rows[state[mv]]
        nxt = (u[:, None] * rows[:, -1:] >= rows).sum(axis=1)
        state[mv] = nxt
        alive[mv[nxt >= 6]] = False
    freq = np.bincount(bought[bought >= 0], minlength=6) / walks
    se = np.sqrt(p * (1 - p) / walks) + 1e-12
    assert np.all(np.abs(freq - p) <= 5 * se)


def test_offer_set_forms_and_errors():
    inst = random_chain(5, 1)
    mask = np.array([True, False, True, False, False])
    ref = choice_probabilities(inst, mask)
    np.testing.assert_array_equal(choice_probabilities(inst, ["p0", "p2"]), ref)
    np.testing.assert_array_equal(choice_probabilities(inst, np.array([2, 0])), ref)
    np.testing.assert_array_equal(choice_probabilities(inst, []), np.zeros(5))
    np.testing.assert_allclose(choice_probabilities(inst, np.ones(5, bool)), inst.arrival)
    with pytest.raises(OptionError):
        choice_probabilities(inst, ["nope"])
    with pytest.raises(OptionError):
        choice_probabilities(inst, [7])
    with pytest.raises(OptionError):
        choice_probabilities(inst, np.ones(3, bool))


def test_trapping_group_counts_as_no_purchase():
    """Rows 2 and 3 sum to 1 and lead only to each other: walks that get there never buy."""
    rho = sp.csr_array(
        np.array(
            [
                [0.0, 0.3, 0.5, 0.0],
                [0.2, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
                [0.0, 0.0, 1.0, 0.0],
            ]
        )
    )
    lam = np.array([0.4, 0.3, 0.1, 0.0])
    p, r, p0 = chain_probabilities(lam, rho, np.array([False, True, False, False]))
    # from 0: buy 1 w.p. 0.3, trapped w.p. 0.5, leave 0.2; trapped mass never buys
    assert p[1] == pytest.approx(0.3 + 0.4 * 0.3)
    assert p0 == pytest.approx(1 - p[1])
    assert np.isinf(r[2]) and np.isinf(r[3])
    assert r[0] == pytest.approx(0.4)
    # nothing flows into the trap: visits there are 0, not infinite
    _, r2, _ = chain_probabilities(
        np.array([0.0, 0.5, 0.0, 0.0]), rho, np.array([False, True, False, False])
    )
    assert r2[2] == 0 and r2[3] == 0


def test_self_loops_are_harmless():
    inst = random_chain(5, 4)
    d = inst.transitions.toarray()
    d2 = d * 0.7
    np.fill_diagonal(d2, 0.3)  # returns to the same unavailable product change nothing
    mask = np.array([True, False, False, True, False])
    p_ref = chain_probabilities(inst.arrival, d, mask)[0]
    p_loop = chain_probabilities(inst.arrival, sp.csr_array(d2), mask)[0]
    np.testing.assert_allclose(p_loop, p_ref, atol=1e-13)


def test_iterative_path_matches_direct(monkeypatch):
    """Force the BiCGSTAB path on a mid-size chain; compare with the sparse LU path."""
    inst = random_chain(200, 5, k=6, exit_lo=1e-4, exit_hi=1e-3)  # rare exits
    rng = np.random.default_rng(0)
    mask = rng.random(200) < 0.2
    p_dir, r_dir, _ = choice_details(inst, mask)
    a_dir, c_dir, _ = reduced_chain(inst, mask)
    monkeypatch.setattr(mc, "DIRECT_MAX", 10)
    p_it, r_it, _ = choice_details(inst, mask)
    a_it, c_it, _ = reduced_chain(inst, mask)
    np.testing.assert_allclose(p_it, p_dir, atol=1e-11)
    np.testing.assert_allclose(r_it, r_dir, rtol=1e-8)
    np.testing.assert_allclose(a_it, a_dir, atol=1e-11)
    np.testing.assert_allclose(c_it.toarray(), c_dir.toarray(), atol=1e-10)


def test_warm_start_and_transposed_chain_give_the_same_answer(monkeypatch):
    """A visits guess (a nearby set's ``P + R``, or noise) and a precomputed ρᵀ only change
    where the iterative solve starts: the same P, R, P0 as the direct LU solve."""
    inst = random_chain(300, 7, k=6, exit_lo=1e-3, exit_hi=0.05)
    rng = np.random.default_rng(3)
    big = rng.random(300) < 0.5
    small = big & (rng.random(300) < 0.6)
    p_dir, r_dir, z_dir = choice_details(inst, small)  # 300 ≤ DIRECT_MAX: sparse LU
    monkeypatch.setattr(mc, "DIRECT_MAX", 10)

    def no_fallback(m):  # the LU fallback would hide a wrong start
        raise AssertionError("BiCGSTAB fell back to the LU")

    monkeypatch.setattr(mc, "_lu", no_fallback)
    p_big, r_big, _ = choice_details(inst, big)
    for guess in (p_big + r_big, rng.random(300) * 5, None):
        for transposed in (inst.transitions_t, None):
            p, r, z = chain_probabilities(
                inst.arrival, inst.transitions, small, guess=guess, transposed=transposed
            )
            np.testing.assert_allclose(p, p_dir, atol=1e-11)
            np.testing.assert_allclose(r, r_dir, rtol=1e-8, atol=1e-12)
            assert z == pytest.approx(z_dir, abs=1e-11)


def test_csr_block_is_scipy_indexing():
    """`_csr_block` (the chain solves' block extraction) equals scipy's ``a[rows][:, cols]``,
    empty selections and columns in any order included."""
    rng = np.random.default_rng(0)
    for n, dens in itertools.product([1, 7, 60], [0.0, 0.1, 0.6]):
        a = sp.random_array((n, n + 3), density=dens, rng=rng, format="csr")
        for _ in range(10):
            rows = np.flatnonzero(rng.random(n) < 0.6)
            cols = rng.permutation(n + 3)[: rng.integers(0, n + 4)]
            got = mc._csr_block(a, rows, cols)
            assert got.shape == (len(rows), len(cols))
            np.testing.assert_array_equal(got.toarray(), a[rows][:, cols].toarray())


# ----------------------------------------------------------------------------- reduced chain
@pytest.mark.parametrize("seed", range(5))
def test_reduced_chain_reproduces_every_subset(seed):
    rng = np.random.default_rng(seed)
    inst = random_chain(8, seed, k=3 + seed % 3)
    mask = np.zeros(8, bool)
    mask[rng.choice(8, size=4 + seed % 2, replace=False)] = True
    arr_s, rho_s, pos = reduced_chain(inst, mask)
    np.testing.assert_array_equal(pos, np.flatnonzero(mask))
    assert sp.issparse(rho_s) and rho_s.shape == (len(pos), len(pos))
    assert np.all(rho_s.diagonal() == 0)
    assert np.all(rho_s.sum(axis=1) <= 1 + 1e-12)
    np.testing.assert_allclose(arr_s, choice_probabilities(inst, mask)[pos], atol=1e-14)
    for sub in subsets(len(pos)):
        full = np.zeros(8, bool)
        full[pos[sub]] = True
        p_full = choice_probabilities(inst, full)
        p_red, _, p0_red = chain_probabilities(arr_s, rho_s, sub)
        np.testing.assert_allclose(p_red, p_full[pos], atol=1e-13)
        assert p0_red == pytest.approx(1 - p_full.sum(), abs=1e-13)


def test_reduced_chain_on_everything_and_nothing():
    inst = random_chain(5, 2)
    a, r, pos = reduced_chain(inst, np.ones(5, bool))
    np.testing.assert_allclose(a, inst.arrival)
    np.testing.assert_allclose(r.toarray(), inst.transitions.toarray())
    a, r, pos = reduced_chain(inst, np.zeros(5, bool))
    assert a.shape == (0,) and r.shape == (0, 0) and pos.shape == (0,)
