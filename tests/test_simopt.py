"""Cross-check against simopt's dynamic newsvendor (package ``simoptlib``, model ``DynamNews``).

simopt draws each customer's utilities ``c_j + G_j`` (G_j Gumbel with scale μ, location −μγ) and
she buys the in-stock product of highest utility: a ranking by an MNL (Plackett–Luce) draw with
weights ``u_j = exp(c_j/μ)``, which is exactly the list law of the MNL-induced Markov chain
(λ_i = u_i/(1+U), ρ_ij = u_j/(1+U−u_i)) *except* for the no-purchase option: simopt's
customers always buy when anything is in stock, while the chain's outside option has weight 1
(utility 0). The two agree only when the outside option is negligible, i.e. when the utilities
are large. simopt's choice is unchanged by adding the same constant to every c_j, so we compare
simopt (its own utilities 6+j) with the chain of utilities ``6 + j + SHIFT``: the outside option
then comes first with probability below 10/(1+e^26) ≈ 5e-11 per customer, whatever the stock.
The shipped ``instances/simopt-dynamnews.json`` (utilities 6+j, no shift) keeps the outside
option; its default-plan profit is measurably (about 0.05) below simopt's 120, checked below.

With simopt's default uniform price 9 the profit of a plan q is 9·min(30, Σq) − 5·Σq on every
path once every customer buys, so the profit comparison is exact equality there; the random
response we compare on those plans is simopt's ``n_prod_stockout`` (products with no stock left
at the end). A third plan with per-product prices makes the profit itself random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assortopt.choice.mnl import mnl_to_mc
from assortopt.instance import Instance, load_instance
from assortopt.rng import child_seeds
from assortopt.sampling import MarkovChainSampler, sample_streams
from assortopt.simulation import simulate, simulate_stream

simopt_dynamnews = pytest.importorskip("simopt.models.dynamnews")
mrg32k3a = pytest.importorskip("mrg32k3a.mrg32k3a")

ROOT = Path(__file__).resolve().parents[1]
SHIFT = 20.0  # common utility shift: simopt's choices unchanged, outside option negligible
SIMOPT_REPS = 400
OUR_REPS = 20_000


def _simopt_run(factors: dict, reps: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """(profit, n_prod_stockout) of ``reps`` simopt replications on one MRG32k3a stream."""
    model = simopt_dynamnews.DynamNews(fixed_factors=factors)
    model.before_replicate([mrg32k3a.MRG32k3a(s_ss_sss_index=[stream, 0, 0])])
    profit, stockout = np.empty(reps), np.empty(reps)
    for r in range(reps):
        resp, _ = model.replicate()
        profit[r] = resp["profit"]
        stockout[r] = resp["n_prod_stockout"]
    return profit, stockout


def _equivalent_instance(factors: dict, shift: float) -> Instance:
    c = np.asarray(factors["c_utility"], dtype=float) + shift
    arrival, rho = mnl_to_mc(np.exp(c / factors["mu"]))
    n = len(c)
    return Instance(
        ids=tuple(f"product{j + 1}" for j in range(n)),
        price=np.asarray(factors["price"], float),
        cost=np.asarray(factors["cost"], float),
        arrival=arrival,
        transitions=rho,
        customers_mean=factors["num_customer"],
        name="simopt-dynamnews-shifted",
    )


def _our_run(inst: Instance, q: np.ndarray, reps: int, seed: int):
    """`simulate`'s evaluation, and stock-out counts per replication of a stream (``seed``)."""
    ev = simulate(inst, q, reps=reps, seed=seed)
    stream = sample_streams(inst, reps, seed)
    sales = simulate_stream(inst, q, stream).sales
    stockouts = np.sum(q[None, :] - sales == 0, axis=1)
    return ev, stockouts


def _agree(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    diff = a.mean() - b.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(diff), float(se)


DEFAULTS = simopt_dynamnews.DynamNews().factors


@pytest.mark.parametrize(
    ("label", "init_level", "price"),
    [
        ("default", DEFAULTS["init_level"], DEFAULTS["price"]),
        ("top-heavy", [0, 0, 0, 0, 4, 4, 4, 6, 8, 10], DEFAULTS["price"]),
        ("scarce-favourites", [6, 6, 6, 6, 6, 1, 1, 1, 1, 1], DEFAULTS["price"]),
        ("priced", [2, 2, 2, 2, 2, 3, 3, 4, 5, 8], [6.0 + 0.5 * j for j in range(10)]),
    ],
)
def test_dynamnews_matches_simulator(label: str, init_level: list[int], price: list[float]) -> None:
    factors = dict(DEFAULTS, init_level=list(init_level), price=list(price))
    sim_profit, sim_stockout = _simopt_run(factors, SIMOPT_REPS, stream=3)
    inst = _equivalent_instance(factors, SHIFT)
    assert MarkovChainSampler(inst).method == "mnl"
    q = np.asarray(init_level, dtype=np.int64)
    ev, stockouts = _our_run(inst, q, OUR_REPS, seed=11)
    diff, se = _agree(sim_profit, ev.profits)
    assert abs(diff) <= 4 * se + 1e-9, (label, sim_profit.mean(), ev.mean, se)
    diff, se = _agree(sim_stockout, stockouts.astype(float))
    assert abs(diff) <= 4 * se + 1e-9, (label, sim_stockout.mean(), stockouts.mean(), se)
    if price == DEFAULTS["price"]:
        # everybody buys while stock lasts: the profit is the same number on every path
        total = int(q.sum())
        expected = 9 * min(30, total) - 5 * total
        assert np.all(sim_profit == expected) and np.all(ev.profits == expected)
    else:
        assert ev.stderr > 0 and sim_profit.std() > 0  # a real stochastic comparison


def test_shipped_instance_is_the_default_problem() -> None:
    inst = load_instance(ROOT / "instances" / "simopt-dynamnews.json")
    u = np.exp(np.arange(6.0, 16.0))
    arrival, rho = mnl_to_mc(u)
    np.testing.assert_allclose(inst.arrival, arrival, rtol=1e-12)
    np.testing.assert_allclose(inst.transitions.toarray(), rho.toarray(), rtol=1e-12)
    assert inst.customers_mean == 30 and inst.customers_distribution == "fixed"
    assert np.all(inst.price == 9) and np.all(inst.cost == 5)
    assert inst.metadata["utilities"] == [6.0 + j for j in range(10)]
    # exact sampling (no step cap) finds the last units: the profit is just below simopt's 120;
    # the gap is the outside option (utility 0), which simopt does not have
    q = inst.stock_vector(inst.metadata["default_stock"])
    ev = simulate(inst, q, reps=OUR_REPS, seed=5)
    assert 119.8 < ev.mean < 120.0
    assert 120.0 - ev.mean > 4 * ev.stderr
    # a walk cut after 10·N + 50 steps would drop the customers who find the last units
    # (profit near 59); ours are complete. P(list holds all ten) = P(the outside option's
    # exponential clock rings last) = ∫ e^{-t} Π_j (1 − e^{−u_j t}) dt
    # = Σ_{S ⊆ products} (−1)^{|S|} / (1 + Σ_{j∈S} u_j)   (inclusion–exclusion, 1024 terms)
    bits = (np.arange(1024)[:, None] >> np.arange(10)[None, :]) & 1
    p_full = float(np.sum((-1.0) ** bits.sum(axis=1) / (1.0 + bits @ u)))
    n = 20_000
    lists = MarkovChainSampler(inst).sample_lists(np.array([n]), int(child_seeds(1, 1)[0]))
    frac = np.mean(lists.list_lengths == 10)
    assert 0.99 < p_full < 1.0
    assert abs(frac - p_full) < 5 * np.sqrt(p_full * (1 - p_full) / n)
