"""Customer streams: exact first-visit lists from every sampler, never cut short, reproducible.

The truth the samplers are checked against is computed independently here: the probability of a
whole preference list (l1, ..., lm) is λ_{l1} times, for each prefix V = {l1..lt}, the probability
that a walk from l_t moving inside V first leaves V to l_{t+1} (or to the exit, at the end),
i.e. row l_t of ``(I − ρ_VV)^{-1} ρ_{V,·}``, solved densely with numpy. For an MNL-induced chain
the list is a draw without replacement ∝ u with the outside option weight 1 (closed form).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from assortopt.choice.mnl import mnl_instance
from assortopt.exceptions import OptionError
from assortopt.instance import Instance
from assortopt.sampling import (
    SCENARIO_BLOCK,
    ListSampler,
    MarkovChainSampler,
    customer_counts,
    detect_mnl,
    sample_streams,
)
from assortopt.streams import Stream


def _instance(rho: np.ndarray, arrival: np.ndarray, customers: float = 5, **kw) -> Instance:
    n = len(arrival)
    return Instance(
        ids=tuple(f"p{i}" for i in range(n)),
        price=np.full(n, 10.0),
        cost=np.full(n, 4.0),
        arrival=arrival,
        transitions=sp.csr_array(rho),
        customers_mean=customers,
        **kw,
    )


def _ordinary4() -> Instance:
    """Four products, every row substitutes to some others, exits 0.2–0.5."""
    rho = np.array(
        [
            [0.0, 0.5, 0.2, 0.0],
            [0.3, 0.0, 0.2, 0.2],
            [0.1, 0.1, 0.0, 0.3],
            [0.4, 0.0, 0.2, 0.0],
        ]
    )
    return _instance(rho, np.array([0.35, 0.25, 0.2, 0.1]))


def _rare_exit4(exit_p: float = 1e-4) -> Instance:
    """Customers bounce between products 0 and 1 and rarely find 2 and 3; exit 1e-4 per step."""
    rest = 1.0 - exit_p
    rho = np.array(
        [
            [0.0, rest - 1e-3, 1e-3, 0.0],
            [rest - 1e-3, 0.0, 0.0, 1e-3],
            [rest / 2, rest / 2, 0.0, 0.0],
            [0.0, rest / 2, rest / 2, 0.0],
        ]
    )
    return _instance(rho, np.array([0.5, 0.45, 0.03, 0.01]))


def exact_list_probabilities(inst: Instance) -> dict[tuple[int, ...], float]:
    """P(list) for every ordered list of distinct products, by absorbing-chain algebra."""
    rho = inst.transitions.toarray()
    exit_p = 1.0 - rho.sum(axis=1)
    n = inst.n
    out: dict[tuple[int, ...], float] = {(): 1.0 - inst.arrival.sum()}
    for m in range(1, n + 1):
        for lst in itertools.permutations(range(n), m):
            p = inst.arrival[lst[0]]
            for t in range(m):
                if p == 0.0:
                    break
                v = list(lst[: t + 1])
                h = np.linalg.solve(np.eye(len(v)) - rho[np.ix_(v, v)], np.eye(len(v)))
                row = h[v.index(lst[t])]
                if t + 1 < m:
                    p *= row @ rho[v, lst[t + 1]]
                elif m < n:
                    p *= row @ exit_p[v]
            out[lst] = p
    return out


def mnl_list_probability(u: np.ndarray, lst: tuple[int, ...]) -> float:
    """Closed form: sequential draws ∝ u without replacement, outside option weight 1."""
    remaining = float(u.sum())
    p = 1.0
    for j in lst:
        p *= u[j] / (1.0 + remaining)
        remaining -= u[j]
    return p / (1.0 + remaining) if len(lst) < len(u) else p


def _chi2_pvalue(stream: Stream, probs: dict[tuple[int, ...], float]) -> float:
    """Pearson chi-square of observed list frequencies against exact probabilities (cells
    with expected count < 5 pooled)."""
    seen: dict[tuple[int, ...], int] = {}
    for c in range(stream.n_customers):
        key = tuple(int(x) for x in stream.customer(c))
        seen[key] = seen.get(key, 0) + 1
    assert set(seen) <= {k for k, p in probs.items() if p > 0}, "impossible list sampled"
    total = stream.n_customers
    obs, exp, pool_o, pool_e = [], [], 0, 0.0
    for key, p in probs.items():
        if p * total >= 5:
            obs.append(seen.get(key, 0))
            exp.append(p * total)
        else:
            pool_o += seen.get(key, 0)
            pool_e += p * total
    if pool_e > 0:
        obs.append(pool_o)
        exp.append(pool_e)
    exp_a = np.array(exp) * total / np.sum(exp)  # absorb rounding in the probabilities' sum
    return float(stats.chisquare(obs, exp_a).pvalue)


def _lists(inst: Instance, method: str, customers: int, seed: int) -> Stream:
    return MarkovChainSampler(inst, method=method).sample_lists(np.array([customers]), seed)


# ------------------------------------------------------------------------- distribution
def test_exact_probabilities_sum_to_one() -> None:
    for inst in (_ordinary4(), _rare_exit4()):
        assert sum(exact_list_probabilities(inst).values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("method", ["walk", "jump", "auto"])
def test_ordinary_chain_lists_match_exact_law(method: str) -> None:
    inst = _ordinary4()
    probs = exact_list_probabilities(inst)
    stream = _lists(inst, method, 60_000, seed=11)
    assert _chi2_pvalue(stream, probs) > 1e-6


@pytest.mark.parametrize(
    ("method", "customers"), [("walk", 4_000), ("jump", 40_000), ("auto", 40_000)]
)
def test_rare_exit_chain_lists_complete_and_exact(method: str, customers: int) -> None:
    """No step cap: with exit 1e-4 per step most lists hold all four products, in the exact
    proportions."""
    inst = _rare_exit4()
    probs = exact_list_probabilities(inst)
    stream = _lists(inst, method, customers, seed=5)
    full = sum(p for k, p in probs.items() if len(k) == 4)
    assert full > 0.75  # most customers eventually find every product...
    frac = np.mean(stream.list_lengths == 4)
    wanting = 1.0 - probs[()]
    sd = np.sqrt(full * (1 - full) / customers)
    assert abs(frac - full) < 5 * sd + 1e-12
    # ...but only after ~1000 steps each: a walk cut at 10·N+50 = 90 steps would list all four
    # products for under 1% of customers (each rare product is found w.p. < 1 − 0.999^90 ≈ 9%)
    assert frac > 0.7 * wanting
    assert _chi2_pvalue(stream, probs) > 1e-6


def test_auto_switches_to_jump_and_is_fast_on_rare_exits() -> None:
    """The hybrid must give the same law as the walk while taking ~1000x fewer steps; here we
    only check the law on a chain where exits are 1e-7 (a walk would need ~10^7 steps/customer)."""
    inst = _rare_exit4(exit_p=1e-7)
    probs = exact_list_probabilities(inst)
    stream = _lists(inst, "auto", 20_000, seed=2)
    full = sum(p for k, p in probs.items() if len(k) == 4)
    assert full > 0.98  # 1% of customers want nothing; almost all others list every product
    sd = np.sqrt(full * (1 - full) / 20_000)
    assert abs(np.mean(stream.list_lengths == 4) - full) < 5 * sd
    assert _chi2_pvalue(stream, probs) > 1e-6


def test_mnl_chain_closed_forms() -> None:
    u = np.array([3.0, 1.0, 0.5, 2.0])
    inst = mnl_instance(u, [5.0] * 4, [1.0] * 4, 10)
    assert detect_mnl(inst) == pytest.approx(u, rel=1e-12)
    probs = {
        lst: mnl_list_probability(u, lst)
        for m in range(5)
        for lst in itertools.permutations(range(4), m)
    }
    # the chain algebra and the MNL closed form are the same law
    chain = exact_list_probabilities(inst)
    for k, p in probs.items():
        assert chain[k] == pytest.approx(p, rel=1e-9, abs=1e-15)
    for method in ("mnl", "auto", "walk", "jump", "hybrid"):
        stream = _lists(inst, method, 40_000, seed=3)
        assert _chi2_pvalue(stream, probs) > 1e-6, method
        first = stream.first_choices()
        for j in range(4):
            p = u[j] / (1 + u.sum())
            sd = np.sqrt(p * (1 - p) / len(first))
            assert abs(np.mean(first == j) - p) < 5 * sd


def test_mnl_large_utilities_like_simopt() -> None:
    """Utilities e^6..e^15 (simopt DynamNews): lists are long, P(first = j) = u_j/(1+U)."""
    u = np.exp(np.arange(6.0, 16.0))
    inst = mnl_instance(u, [9.0] * 10, [5.0] * 10, 30)
    sampler = MarkovChainSampler(inst)
    assert sampler.method == "mnl"
    stream = sampler.sample_lists(np.full(100, 300), 4)
    first = stream.first_choices()
    for j in (9, 8, 7):
        p = u[j] / (1 + u.sum())
        sd = np.sqrt(p * (1 - p) / len(first))
        assert abs(np.mean(first == j) - p) < 5 * sd
    # lists run to the end almost always: only the outside option (weight 1) stops them
    assert np.mean(stream.list_lengths == 10) > 0.99


def test_detect_mnl_rejects_other_chains() -> None:
    assert detect_mnl(_ordinary4()) is None
    u = np.array([2.0, 1.0, 1.5])
    inst = mnl_instance(u, [5.0] * 3, [1.0] * 3, 4)
    rho = inst.transitions.toarray()
    rho[0, 1] *= 1.01
    assert detect_mnl(inst.replace(transitions=sp.csr_array(rho))) is None
    with pytest.raises(OptionError):
        MarkovChainSampler(_ordinary4(), method="mnl")
    with pytest.raises(OptionError):
        MarkovChainSampler(_ordinary4(), method="gumbel")


def test_methods_agree_on_a_larger_sparse_chain() -> None:
    """60 products, 3 neighbours each: mean list length and first-choice law agree across
    methods (the larger state spaces exercise the incremental inverse)."""
    rng = np.random.default_rng(0)
    n = 60
    rows = np.repeat(np.arange(n), 3)
    cols = (rows + rng.integers(1, n, size=rows.size)) % n
    vals = rng.uniform(0.05, 0.3, size=rows.size)
    rho = sp.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    rho.sum_duplicates()
    arrival = rng.dirichlet(np.ones(n)) * 0.9
    inst = _instance(rho.toarray(), arrival)
    lengths = {}
    for method in ("walk", "jump", "auto"):
        st = _lists(inst, method, 30_000, seed=9)
        lengths[method] = st.list_lengths
    ref = lengths["walk"]
    for method in ("jump", "auto"):
        diff = lengths[method].mean() - ref.mean()
        se = np.sqrt(lengths[method].var() / len(ref) + ref.var() / len(ref))
        assert abs(diff) < 5 * se, method


# ------------------------------------------------------------------------- reproducibility
def test_same_seed_same_bytes_and_chunking_irrelevant() -> None:
    inst = _ordinary4().replace(customers_mean=7.5, customers_distribution="poisson")
    a = sample_streams(inst, 3000, seed=42)
    b = sample_streams(inst, 3000, seed=42)
    for name in ("offsets", "items", "scenario_offsets"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    c = sample_streams(inst, 3000, seed=43)
    assert not np.array_equal(a.items[:100], c.items[:100])
    chunked = MarkovChainSampler(inst, chunk=7, threads=2)
    d = sample_streams(inst, 3000, seed=42, sampler=chunked)
    np.testing.assert_array_equal(a.offsets, d.offsets)
    np.testing.assert_array_equal(a.items, d.items)
    # a scenario's customers depend only on (seed, its index): prefixes agree
    counts = np.full(SCENARIO_BLOCK + 5, 3)
    s_long = MarkovChainSampler(inst).sample_lists(counts, 8)
    s_short = MarkovChainSampler(inst).sample_lists(counts[:10], 8)
    np.testing.assert_array_equal(s_short.items, s_long.select(np.arange(10)).items)


def test_mnl_sampler_reproducible_and_large_n_tree() -> None:
    """More than 32 products uses the sum tree; check the law of the first choice there."""
    rng = np.random.default_rng(1)
    u = rng.lognormal(2.0, 1.5, size=50)
    inst = mnl_instance(u, np.full(50, 5.0), np.full(50, 1.0), 10)
    s1 = MarkovChainSampler(inst).sample_lists(np.full(400, 100), 6)
    s2 = MarkovChainSampler(inst, chunk=13).sample_lists(np.full(400, 100), 6)
    np.testing.assert_array_equal(s1.items, s2.items)
    first = s1.first_choices()
    top = int(np.argmax(u))
    p = u[top] / (1 + u.sum())
    assert abs(np.mean(first == top) - p) < 5 * np.sqrt(p * (1 - p) / len(first))
    p0 = 1 / (1 + u.sum())
    assert abs(np.mean(first == -1) - p0) < 5 * np.sqrt(p0 * (1 - p0) / len(first)) + 1e-4
    # no product twice in one list
    for c in range(0, s1.n_customers, 97):
        lst = s1.customer(c)
        assert len(set(lst.tolist())) == len(lst)


def test_customer_counts() -> None:
    inst = _ordinary4().replace(customers_mean=12.5, customers_distribution="poisson")
    k = customer_counts(inst, 40_000, np.random.default_rng(3))
    assert k.dtype == np.int64 and k.shape == (40_000,)
    assert abs(k.mean() - 12.5) < 5 * np.sqrt(12.5 / 40_000)
    assert k.var() == pytest.approx(12.5, rel=0.05)
    fixed = customer_counts(_ordinary4().replace(customers_mean=9), 5, 0)
    np.testing.assert_array_equal(fixed, [9] * 5)
    st = sample_streams(inst, 500, seed=1)
    np.testing.assert_array_equal(
        st.customers_per_scenario, customer_counts(inst, 500, np.random.default_rng(1))
    )


def test_protocol_and_errors() -> None:
    inst = _ordinary4()
    assert isinstance(MarkovChainSampler(inst), ListSampler)
    with pytest.raises(OptionError):
        sample_streams(inst, 3, seed=None)
    with pytest.raises(OptionError):
        sample_streams(inst, -1, seed=0)
    other = _rare_exit4().replace(ids=("a", "b", "c", "d"))
    assert MarkovChainSampler(other).n_products == 4
    empty = sample_streams(inst, 0, seed=0)
    assert empty.n_scenarios == 0 and empty.n_customers == 0


@pytest.mark.parametrize("method", ["jump", "hybrid", "mnl"])
def test_rare_exit_mnl_chain_exit_law(method: str) -> None:
    """simopt's chain (utilities 6..15, exit ≈ 2e-7 per step): the chance that a list stops
    before the tenth product (the outside option beats a product) is about 0.3%, all from exits
    the walk almost never takes. Closed form: P(full) = Σ_S (−1)^{|S|} / (1 + Σ_{j∈S} u_j)."""
    u = np.exp(np.arange(6.0, 16.0))
    inst = mnl_instance(u, [9.0] * 10, [5.0] * 10, 30)
    bits = (np.arange(1024)[:, None] >> np.arange(10)[None, :]) & 1
    p_full = float(np.sum((-1.0) ** bits.sum(axis=1) / (1.0 + bits @ u)))
    n = 30_000
    stream = _lists(inst, method, n, seed=21)
    wanting = stream.list_lengths > 0
    frac = np.mean(stream.list_lengths[wanting] == 10) * np.mean(wanting)
    assert abs(frac - p_full) < 5 * np.sqrt(p_full * (1 - p_full) / n)
    second = stream.items[stream.offsets[:-1][stream.list_lengths >= 2] + 1]
    first = stream.first_choices()[stream.list_lengths >= 2]
    # P(second = 8 | first = 9) = u_8 / (1 + U − u_9)
    p = u[8] / (1 + u.sum() - u[9])
    sel = second[first == 9]
    assert abs(np.mean(sel == 8) - p) < 5 * np.sqrt(p * (1 - p) / len(sel))
