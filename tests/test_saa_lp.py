"""SAA-LP: builder, exact fast solver (product generation) and scenario counts.

Truths used: the monolithic HiGHS solve of the same LP; the optimal-stopping closed form of the
LP bound (v = max(m, ρv), LP* = λ·v), which the SAA-LP must reproduce when its only scenario is
the mean demand T·λ; hand-counted first choices on a hand-made stream.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.choice.mc import drop_self_loops
from assortopt.instance import Instance
from assortopt.models.saa_lp import _Complement, build_saa_lp, solve_saa_lp
from assortopt.models.scenario_data import counts_from_stream, first_choice_counts
from assortopt.solver import SolverOptions
from assortopt.streams import Stream


def random_instance(
    n: int,
    seed: int,
    k: int = 4,
    salvage: bool = False,
    T: int = 30,
    budget: float | None = None,
    poisson: bool = False,
) -> Instance:
    """Sparse random chain, Zipf-like arrivals, prices U[1,10], cost 0.3–0.7 of price."""
    rng = np.random.default_rng(seed)
    lam = np.arange(1, n + 1, dtype=float) ** -1.0
    rng.shuffle(lam)
    lam *= 0.8 / lam.sum()
    price = rng.uniform(1, 10, n)
    cost = price * rng.uniform(0.3, 0.7, n)
    rows, cols, vals = [], [], []
    for i in range(n):
        nb = rng.choice(np.delete(np.arange(n), i), size=min(k, n - 1), replace=False)
        w = rng.exponential(1.0, len(nb))
        rows += [i] * len(nb)
        cols += list(nb)
        vals += list(w / w.sum() * rng.uniform(0.4, 0.9))
    return Instance(
        ids=[f"p{i}" for i in range(n)],
        price=price,
        cost=cost,
        arrival=lam,
        transitions=sp.csr_array((vals, (rows, cols)), shape=(n, n)),
        customers_mean=T,
        customers_distribution="poisson" if poisson else "fixed",
        salvage=cost * rng.uniform(0, 0.5, n) if salvage else None,
        budget=budget,
    )


def stopping_value(inst: Instance) -> np.ndarray:
    """v = max(m, ρ v) by value iteration (the LP bound's dual, models/lp_bound.md)."""
    v = np.maximum(inst.margin, 0.0)
    for _ in range(100_000):
        v2 = np.maximum(inst.margin, inst.transitions @ v)
        if np.abs(v2 - v).max() < 1e-14:
            break
        v = v2
    return v


@pytest.mark.parametrize(
    "n,k_count,seed,salvage,budget,restrict",
    [
        (12, 5, 0, False, None, False),
        (40, 20, 1, True, None, False),
        (60, 30, 2, False, 150.0, False),
        (80, 10, 3, True, None, True),
        (100, 8, 4, True, 80.0, True),
        (30, 50, 5, False, None, True),
    ],
)
def test_generation_equals_monolithic(n, k_count, seed, salvage, budget, restrict):
    inst = random_instance(n, seed, salvage=salvage, budget=budget, T=n, poisson=bool(seed % 2))
    mask = None
    m = n
    if restrict:  # S = products whose optimal-stopping value equals their margin (S*)
        v = stopping_value(inst)
        mask = (inst.margin > 0) & (v <= inst.margin + 1e-12)
        m = int(mask.sum())
    rng = np.random.default_rng(seed + 100)
    d = rng.poisson(1.5, size=(k_count, m)) * (rng.random((k_count, m)) < 0.5)
    mono = solve_saa_lp(inst, d, mask, method="monolithic")
    gen = solve_saa_lp(inst, d, mask, method="generation")
    assert mono.status == gen.status == "optimal"
    assert gen.objective == pytest.approx(mono.objective, rel=1e-6, abs=1e-7)
    # the decomposition ("auto" on a strict subset): value within its stated gap
    dec = solve_saa_lp(inst, d, mask, method="decomposition", tol=1e-6)
    assert dec.status == "optimal"
    if mask is not None:
        assert solve_saa_lp(inst, d, mask, tol=1e-6).method == "decomposition"
    assert dec.extra["gap"] <= 1e-6
    assert dec.objective <= mono.objective + 1e-7 * max(1.0, abs(mono.objective))
    assert dec.objective == pytest.approx(mono.objective, rel=2e-6, abs=1e-6)
    assert dec.extra["bound"] >= mono.objective - 1e-7 * max(1.0, abs(mono.objective))
    if budget is not None:
        assert inst.cost @ dec.stock_frac <= budget + 1e-6
    if mask is not None:
        assert np.all(dec.stock_frac[~mask] == 0)
    # the generation stock is optimal too: evaluate it in the monolithic LP with stock fixed
    f = build_saa_lp(inst, d, mask, chain="full")
    lp = f.lp
    cols = f.var_blocks["stock"].cols
    pos = f.info["products"]
    lp.col_lo[cols] = lp.col_hi[cols] = gen.stock_frac[pos]
    from assortopt.models.formulation import Formulation

    fixed = Formulation("fixed", lp, f.var_blocks, f.row_blocks, f.info).solve()
    assert fixed.objective == pytest.approx(mono.objective, rel=1e-6, abs=1e-7)
    if budget is not None:
        assert inst.cost @ gen.stock_frac <= budget + 1e-6
    if mask is not None:
        assert np.all(gen.stock_frac[~mask] == 0)


def test_mean_scenario_reproduces_lp_bound():
    """One scenario with the mean first-choice demand T·λ: the SAA-LP is the LP bound T·LP*."""
    for seed in range(3):
        inst = random_instance(25, seed, salvage=bool(seed), T=40)
        lp_star = float(inst.arrival @ stopping_value(inst))
        d = (inst.customers_mean * inst.arrival)[None, :]
        for method in ("monolithic", "generation"):
            res = solve_saa_lp(inst, d, method=method)
            assert res.objective == pytest.approx(40 * lp_star, rel=1e-7)


def test_sampled_saa_value_below_bound_on_average():
    """Concavity in d: the SAA value with many scenarios is at most T·LP* (plus small SAA bias)."""
    inst = random_instance(15, 7, T=50)
    bound = 50 * float(inst.arrival @ stopping_value(inst))
    d = first_choice_counts(inst, None, 400, seed=3)
    res = solve_saa_lp(inst, d)
    assert res.objective <= bound * 1.01
    assert res.objective >= 0.5 * bound  # stocking well is worth most of the bound at T=50


def test_reduced_and_full_chain_builders_agree():
    """chain='reduced' (mc.reduced_chain on S) and chain='full' (pass-through) are one LP."""
    mc = pytest.importorskip("assortopt.choice.mc")
    inst = random_instance(30, 11, salvage=True, T=30)
    v = stopping_value(inst)
    mask = (inst.margin > 0) & (v <= inst.margin + 1e-12)
    d = first_choice_counts(inst, mask, 6, seed=2)
    a = build_saa_lp(inst, d, mask, chain="reduced").solve()
    b = build_saa_lp(inst, d, mask, chain="full").solve()
    assert a.objective == pytest.approx(b.objective, rel=1e-7)
    # and our own complement (used by the generation solver) is mc.reduced_chain
    comp = _Complement.of(inst.transitions, mask)
    rho_s = sp.csr_array(mc.reduced_chain(inst, mask)[1]).toarray()
    np.testing.assert_allclose(comp.chain.toarray(), rho_s, atol=1e-10)


def test_full_n_zero_outside_equals_reduced_with_routed_counts():
    """Per sample, the full-N LP with no stock outside S equals the LP on S only when S's counts
    are the *fluidly routed* counts d_S + Hᵀ d_out (not freshly sampled ones): check that."""
    inst = random_instance(20, 5, T=20)
    mask = np.zeros(20, bool)
    mask[::2] = True
    d_all = first_choice_counts(inst, None, 7, seed=9).astype(float)
    full = build_saa_lp(inst, d_all)
    lp = full.lp
    out = full.var_blocks["stock"].cols[~mask]
    lp.col_hi[out] = 0.0
    from assortopt.models.formulation import Formulation

    v_full = Formulation("x", lp, full.var_blocks, full.row_blocks, full.info).solve().objective
    comp = _Complement.of(inst.transitions, mask)
    routed = d_all[:, mask] + d_all[:, ~mask] @ comp.h
    v_red = solve_saa_lp(inst, routed, mask, method="monolithic").objective
    assert v_red == pytest.approx(v_full, rel=1e-7)


def test_counts_from_stream_by_hand():
    s = Stream.from_lists([[[0, 2], [1], [], [2, 0]], [[1, 3], [3, 1, 0]]], n_products=4)
    np.testing.assert_array_equal(counts_from_stream(s), [[1, 1, 1, 0], [0, 1, 0, 1]])
    mask = np.array([True, False, True, False])
    # restricted to S = {0, 2}: first product of each list that lies in S
    np.testing.assert_array_equal(counts_from_stream(s, mask), [[1, 1], [1, 0]])


def test_first_choice_counts_moments_and_seed():
    inst = random_instance(10, 3, T=25)
    d = first_choice_counts(inst, None, 4000, seed=5)
    assert d.shape == (4000, 10)
    assert np.all(d.sum(axis=1) <= 25)  # fixed T: multinomial
    np.testing.assert_allclose(d.mean(axis=0), 25 * inst.arrival, atol=0.15)
    np.testing.assert_array_equal(d, first_choice_counts(inst, None, 4000, seed=5))
    pois = first_choice_counts(inst.replace(customers_distribution="poisson"), None, 4000, 5)
    np.testing.assert_allclose(pois.var(axis=0), 25 * inst.arrival, rtol=0.15, atol=0.05)


def _scenario_value(inst, d_row, q, mask):
    """V_k(q) by HiGHS: the monolithic LP with one scenario and the stock fixed at q."""
    from assortopt.models.formulation import Formulation

    f = build_saa_lp(inst, d_row[None, :], mask, chain="full")
    cols = f.var_blocks["stock"].cols
    f.lp.c[cols] = 0.0
    f.lp.col_lo[cols] = f.lp.col_hi[cols] = q
    return Formulation("v", f.lp, f.var_blocks, f.row_blocks, f.info).solve().objective


@pytest.mark.parametrize("restrict", [False, True])
def test_greedy_oracle_brackets_scenario_lp(restrict):
    """Sell-first primal value G ≤ V_k(q) ≤ dual value D, and the cut from (π, μ) is a valid
    upper bound at other stock levels; on S* (restrict) sell-first is optimal: G = V = D."""
    from assortopt.models.saa_decomposition import greedy_oracle

    inst = random_instance(40, 21, salvage=True, T=40)
    mask = None
    if restrict:
        v = stopping_value(inst)
        mask = (inst.margin > 0) & (v <= inst.margin + 1e-12)
    pos = np.flatnonzero(mask) if mask is not None else np.arange(inst.n)
    chain = (
        _Complement.of(inst.transitions, mask).chain
        if mask is not None
        else _Complement.of(inst.transitions, np.ones(inst.n, bool)).chain
    )
    rev = (inst.price - inst.salvage)[pos]
    rng = np.random.default_rng(4)
    d = rng.poisson(1.0, size=(6, len(pos))).astype(float)
    for _ in range(3):
        q = rng.integers(0, 3, len(pos)).astype(float)
        g, dual, pi, mu, s = greedy_oracle(chain, d, q, rev)
        assert np.all(s <= q + 1e-12) and np.all(mu >= 0)
        q2 = rng.integers(0, 3, len(pos)).astype(float)
        for k in range(2):
            v = _scenario_value(inst, d[k], q, mask)
            assert g[k] <= v + 1e-7 and v <= dual[k] + 1e-7
            if restrict:
                assert g[k] == pytest.approx(v, abs=1e-7) and dual[k] == pytest.approx(v, abs=1e-7)
            v2 = _scenario_value(inst, d[k], q2, mask)
            assert v2 <= d[k] @ pi[k] + mu[k] @ q2 + 1e-7


def test_decomposition_exact_fallback_and_duplicates():
    """Over all products sell-first is not always optimal: the decomposition must notice (exact
    scenario solves) and still match the monolithic optimum; duplicate scenarios are merged."""
    inst = random_instance(30, 8, T=30, salvage=True)
    d = first_choice_counts(inst, None, 12, seed=1)
    d = np.vstack([d, d[:4]])  # four duplicated scenarios
    mono = solve_saa_lp(inst, d, method="monolithic")
    dec = solve_saa_lp(inst, d, method="decomposition", tol=1e-7)
    st = dec.extra["stats"]
    assert st.scenarios_unique == 12
    assert st.exact_solves > 0
    assert dec.objective == pytest.approx(mono.objective, rel=1e-6)
    assert dec.sales.shape == (16, 30)
    np.testing.assert_allclose(dec.sales[12:], dec.sales[:4])


class _NeverExact:
    """An exact solver that runs out of time before every solve (as at a deadline)."""

    def __init__(self) -> None:
        self.asked = 0

    def solve(self, q, which, deadline=None):
        self.asked += len(which)
        n, m = len(which), len(q)
        z = np.zeros((n, m))
        return np.zeros(n, bool), np.zeros(n), z, z, z, 0


def test_decomposition_bounds_stay_valid_without_exact_solves():
    """Mat-vec cuts alone are valid (any dual-feasible point is): with every exact solve
    skipped, the run still brackets the monolithic optimum by its value and its bound."""
    from assortopt.models.saa_decomposition import benders

    inst = random_instance(30, 8, T=30, salvage=True)
    d = first_choice_counts(inst, None, 12, seed=5)  # a draw where sell-first is not optimal
    mono = solve_saa_lp(inst, d, method="monolithic").objective
    never = _NeverExact()
    chain = drop_self_loops(inst.transitions)
    rev, ucost = inst.price - inst.salvage, inst.cost - inst.salvage
    q, f, _, st, _ = benders(
        chain, d, rev, ucost, inst.cost, None, tol=1e-7, max_iter=60, exact=never
    )
    assert never.asked > 0  # the certificate failed somewhere, yet nothing was solved
    assert f <= mono + 1e-7 * abs(mono)
    assert st.upper >= mono - 1e-7 * abs(mono) and np.isfinite(st.upper)
    # f is a feasible value: the stock evaluated exactly is worth at least f
    exact = solve_saa_lp(inst, d, method="decomposition", tol=1e-9)
    assert f <= exact.objective + 1e-6 * abs(exact.objective)


def test_scenario_solver_stops_at_its_deadline():
    import time

    from assortopt.models.saa_decomposition import LocalScenarios

    inst = random_instance(12, 4, T=20)
    d = first_choice_counts(inst, None, 5, seed=0).astype(float)
    subs = LocalScenarios(drop_self_loops(inst.transitions), inst.price, d, SolverOptions())
    q = np.ones(12)
    done = subs.solve(q, np.arange(5), deadline=time.perf_counter() - 1.0)[0]
    assert not done.any()
    done, val, *_ = subs.solve(q, np.arange(5))
    assert done.all()
    # a fresh instance started from another scenario's basis gives the same values
    again = LocalScenarios(drop_self_loops(inst.transitions), inst.price, d, SolverOptions())
    again.solve(q, np.array([4]))
    np.testing.assert_allclose(again.solve(q, np.arange(5))[1], val, rtol=1e-9, atol=1e-9)


def test_decomposition_progress_goes_to_stderr(capsys):
    inst = random_instance(20, 5, T=20)
    d = first_choice_counts(inst, None, 6, seed=0)
    res = solve_saa_lp(inst, d, method="decomposition", options=SolverOptions(verbose=True))
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith("L-shaped")]
    assert out == ""
    assert len(lines) >= 2
    assert lines[-1].startswith("L-shaped optimal") and f"{res.objective:.8g}" in lines[-1]
    # the incumbent value printed each iteration never decreases (serious steps only raise it)
    values = [float(ln.split(" value ")[1].split()[0]) for ln in lines[:-1]]
    assert values == sorted(values)


def _trap_instance(customers: int = 1) -> Instance:
    """``i`` ↔ ``a`` is a closed cycle (ρ_ia = ρ_ai = 1) and ``j`` sends half its customers to i.

    On S = {i, j} the reduced chain has ρ^S_ii = 1: with i sold out a customer at i walks
    i, a, i, … forever and never buys, so the row of i must lead nowhere (she leaves).
    """
    rho = sp.csr_array(([1.0, 1.0, 0.5], ([0, 1, 2], [1, 0, 0])), shape=(3, 3))
    return Instance(
        ids=("i", "a", "j"),
        price=np.array([5.0, 4.0, 6.0]),
        cost=np.array([2.0, 1.0, 1.0]),
        arrival=np.array([0.3, 0.2, 0.4]),
        transitions=rho,
        customers_mean=customers,
    )


def test_self_loop_of_one_means_she_leaves_in_both_chain_users() -> None:
    from assortopt.choice.mc import chain_probabilities, choice_probabilities, reduced_chain
    from assortopt.exact import expected_profit

    inst = _trap_instance()
    s_mask = np.array([True, False, True])
    lam_s, rho_s, pos = reduced_chain(inst, s_mask)
    assert pos.tolist() == [0, 2]
    np.testing.assert_allclose(rho_s.toarray(), [[0.0, 0.0], [0.5, 0.0]], atol=1e-15)
    # choice user: the reduced chain's probabilities equal the full chain's and the exact DP's
    # (one customer, one unit of every offered product) on every offer set A ⊆ S
    for a_set in ([True, False], [False, True], [True, True]):
        a = np.array(a_set)
        p_red = chain_probabilities(lam_s, rho_s, a)[0]
        full = np.zeros(3, bool)
        full[pos[a]] = True
        np.testing.assert_allclose(p_red, choice_probabilities(inst, full)[pos], atol=1e-12)
        dp = expected_profit(inst, full.astype(int))
        assert dp == pytest.approx(inst.price[pos] @ p_red - inst.cost[full].sum(), abs=1e-12)
    # the input chain is not modified, a self-loop row of 1 becomes empty
    loops = sp.csr_array(np.array([[1.0, 0.0], [0.25, 0.5]]))
    np.testing.assert_array_equal(drop_self_loops(loops).toarray(), [[0.0, 0.0], [0.5, 0.0]])
    np.testing.assert_array_equal(loops.toarray(), [[1.0, 0.0], [0.25, 0.5]])
    # SAA-LP user: i does not pay (price below cost), so every customer reaching i spills along
    # the row of i; at the mean demand the fluid optimum stocks j for its own first choices only
    # and earns T·(r_j − c_j)·P_j({j}) with P from the full chain
    t = 100
    inst = _trap_instance(t).replace(price=np.array([0.5, 4.0, 6.0]))
    counts = (t * lam_s)[None, :]
    f = build_saa_lp(inst, counts, s_mask)
    res = f.solve(SolverOptions(threads=1))
    p_j = choice_probabilities(inst, np.array([False, False, True]))[2]
    assert p_j == pytest.approx(0.4, abs=1e-12)
    assert res.objective == pytest.approx(t * (6.0 - 1.0) * p_j, rel=1e-9)
    assert f.stock(res.x, inst.n).tolist() == [0, 0, round(t * p_j)]
