"""Shared helpers of the planning methods: pooled demand, newsvendor quantities, constraints.

The newsvendor layer works on *pooled* demand: D_j = number of customers whose walk reaches product
j first among a product set S. D_j ~ Bin(T, P_{j,S}) for a fixed number T of customers and
Poisson(E[T]·P_{j,S}) for Poisson T (docs/methods.md, "Pooled demand"). With S = every product,
P = λ (plain first
choices: the textbook newsvendor). Every sales-and-cost figure here uses salvage v: a unit bought
costs c − v net, a unit sold earns r − v more than a leftover one.

Key fact behind the pooled values (docs/methods.md, "Pooled demand"): when exactly the
products of S are in stock, on every sample path Sales_j ≥ min(D_j, q_j). So
`newsvendor_value` summed over S is a *lower bound* on the expected profit of the plan, a cheap
proxy that the heuristic uses to choose S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..instance import Instance


@dataclass(frozen=True)
class PooledDemand:
    """Independent per-product demand: Bin(trials, p) (``trials`` = T) or Poisson(mean).

    Attributes
    ----------
    mean
        (N,) expected demand E[D_j] (0 for products outside the set).
    trials
        T for binomial demand (fixed number of customers); None for Poisson demand.
    """

    mean: np.ndarray
    trials: int | None

    @staticmethod
    def of(inst: Instance, probs: np.ndarray) -> PooledDemand:
        """Demand of ``inst``'s customers when each goes to j with probability ``probs[j]``."""
        probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
        if inst.customers_distribution == "poisson":
            return PooledDemand(float(inst.customers_mean) * probs, None)
        t = int(round(inst.customers_mean))
        return PooledDemand(t * probs, t)

    def take(self, idx: np.ndarray) -> PooledDemand:
        """The demand of the products at positions ``idx`` only."""
        return PooledDemand(self.mean[idx], self.trials)

    def _p(self) -> np.ndarray:
        assert self.trials is not None
        return np.clip(self.mean / max(self.trials, 1), 0.0, 1.0)

    def sf(self, k: np.ndarray) -> np.ndarray:
        """P(D_j > k_j), elementwise (k may be negative: then 1)."""
        k = np.asarray(k, dtype=np.float64)
        if self.trials is None:
            return stats.poisson.sf(k, self.mean)
        return stats.binom.sf(k, self.trials, self._p())

    def quantile(self, ratio: np.ndarray) -> np.ndarray:
        """Smallest q with P(D_j ≤ q) ≥ ratio_j (int64; 0 where ratio ≤ 0 or demand is 0)."""
        ratio = np.clip(np.asarray(ratio, dtype=np.float64), 0.0, 1.0)
        # ppf at exactly 1 is the support's top (T or inf): cap the ratio just below 1
        r = np.minimum(ratio, 1.0 - 1e-12)
        if self.trials is None:
            q = stats.poisson.ppf(r, self.mean)
        else:
            q = stats.binom.ppf(r, self.trials, self._p())
        q = np.where((ratio <= 0) | (self.mean <= 0), 0.0, np.nan_to_num(q, nan=0.0))
        return np.maximum(q, 0.0).astype(np.int64)

    def expected_sales(self, q: np.ndarray) -> np.ndarray:
        """E min(D_j, q_j), closed form: E D − E(D − q)^+."""
        q = np.asarray(q, dtype=np.float64)
        mu = self.mean
        if self.trials is None:
            excess = mu * stats.poisson.sf(q - 1, mu) - q * stats.poisson.sf(q, mu)
        else:
            p = self._p()
            # E[D 1{D > q}] = T p P(Bin(T − 1, p) ≥ q)
            excess = mu * stats.binom.sf(q - 1, self.trials - 1, p) - q * stats.binom.sf(
                q, self.trials, p
            )
        return np.where(q > 0, mu - np.maximum(excess, 0.0), 0.0)


def critical_ratio(inst: Instance) -> np.ndarray:
    """Newsvendor critical ratio (r − c)/(r − v) per product, clipped to [0, 1]."""
    return np.clip((inst.price - inst.cost) / (inst.price - inst.salvage), 0.0, 1.0)


def newsvendor_value(
    inst: Instance, demand: PooledDemand, q: np.ndarray, at: np.ndarray | None = None
) -> np.ndarray:
    """Expected newsvendor profit per product: (r − v) E min(D, q) − (c − v) q − f·[q > 0].

    ``at``: positions the (taken, `PooledDemand.take`) demand and ``q`` refer to; default all.
    """
    q = np.asarray(q)
    sel = slice(None) if at is None else at
    return (
        (inst.price[sel] - inst.salvage[sel]) * demand.expected_sales(q)
        - (inst.cost[sel] - inst.salvage[sel]) * q
        - inst.fixed_cost[sel] * (q > 0)
    )


def newsvendor_plan(
    inst: Instance,
    demand: PooledDemand,
    allowed: np.ndarray | None = None,
    constraints: bool = True,
) -> np.ndarray:
    """Independent newsvendor stock per product, then the instance's constraints, greedily.

    1. q_j = critical-ratio quantile of D_j for allowed products with r_j > c_j;
    2. fixed cost: q_j = 0 where the newsvendor profit does not cover f_j (q_j maximises the
       variable profit, so this is the per-product optimum);
    3. ``max_products`` C: keep the C products with the largest newsvendor profit;
    4. ``budget`` W: remove units with the lowest marginal value per unit of cost,
       (r − v) P(D ≥ u) − (c − v) per c for the u-th unit, until Σ c q ≤ W (the greedy of a
       separable concave knapsack).
    """
    ok = inst.price > inst.cost
    if allowed is not None:
        ok &= np.asarray(allowed, dtype=bool)
    q = np.where(ok, demand.quantile(critical_ratio(inst)), 0).astype(np.int64)
    if not constraints:
        return q
    value = newsvendor_value(inst, demand, q)
    q[value <= 0] = 0
    return enforce_max_products(inst, q, newsvendor_value(inst, demand, q), demand)


def enforce_max_products(
    inst: Instance, q: np.ndarray, value: np.ndarray, demand: PooledDemand | None = None
) -> np.ndarray:
    """Keep the ``max_products`` products with the largest ``value``, then fit the budget.

    The budget step removes units by lowest marginal value per cost: the newsvendor marginal
    (r − v) P(D ≥ u) − (c − v) when ``demand`` is given, else the per-product average
    ``value / q`` (a flat profile). Returns a new int64 array.
    """
    q = np.asarray(q, dtype=np.int64).copy()
    c = inst.max_products
    stocked = np.flatnonzero(q > 0)
    if c is not None and len(stocked) > c:
        order = stocked[np.argsort(-value[stocked], kind="stable")]
        q[order[c:]] = 0
    return fit_budget(inst, q, demand=demand, value=value)


def unit_marginals(
    inst: Instance, q: np.ndarray, demand: PooledDemand | None, value: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Every unit (product j, u-th unit for u ≤ q_j) and its marginal expected profit.

    Newsvendor marginal (r − v) P(D ≥ u) − (c − v) with ``demand``; otherwise value_j / q_j.
    """
    q = np.asarray(q, dtype=np.int64)
    prod = np.repeat(np.arange(inst.n), q)
    start = np.repeat(np.cumsum(q) - q, q)
    unit = np.arange(len(prod)) - start + 1
    if demand is not None:
        sub = PooledDemand(demand.mean[prod], demand.trials)
        marg = (inst.price - inst.salvage)[prod] * sub.sf(unit - 1.0) - (inst.cost - inst.salvage)[
            prod
        ]
    else:
        assert value is not None
        marg = (np.asarray(value, dtype=np.float64) / np.maximum(q, 1))[prod]
    return prod, marg


def fit_budget(
    inst: Instance,
    q: np.ndarray,
    demand: PooledDemand | None = None,
    value: np.ndarray | None = None,
) -> np.ndarray:
    """Remove units until Σ c q ≤ budget, lowest marginal value per unit of cost first.

    Marginal values as in `unit_marginals`; units of products that cost nothing are never
    removed (they do not use the budget). Returns a new int64 array (unchanged if no budget).
    """
    q = np.asarray(q, dtype=np.int64).copy()
    w = inst.budget
    if w is None:
        return q
    spend = float(inst.cost @ q)
    if spend <= w * (1 + 1e-12):
        return q
    if value is None and demand is None:
        value = (inst.price - inst.cost) * q
    prod, marg = unit_marginals(inst, q, demand, value)
    cost = inst.cost[prod]
    paid = cost > 0
    prod, marg, cost = prod[paid], marg[paid], cost[paid]
    order = np.lexsort((-np.arange(len(prod)), marg / cost))  # ties: last unit of a product first
    saved = np.cumsum(cost[order])
    n_remove = int(np.searchsorted(saved, spend - w - 1e-9 * max(1.0, w))) + 1
    np.subtract.at(q, prod[order[:n_remove]], 1)
    return q


def scale_to_budget(inst: Instance, q: np.ndarray) -> np.ndarray:
    """Scale a plan down proportionally to the budget, floor, then refill greedily by margin/cost.

    Used by plans without a demand model (fluid): the shape of the plan is kept.
    """
    q = np.asarray(q, dtype=np.int64).copy()
    w = inst.budget
    if w is None or float(inst.cost @ q) <= w * (1 + 1e-12):
        return q
    alpha = w / float(inst.cost @ q)
    new = np.floor(q * alpha).astype(np.int64)
    left = w - float(inst.cost @ new)
    room = q - new  # at most one unit per product was lost to the floor
    for j in np.argsort(-(inst.price - inst.cost) / np.maximum(inst.cost, 1e-300)):
        if room[j] > 0 and inst.cost[j] <= left:
            new[j] += 1
            left -= inst.cost[j]
    return new


def check_plan(inst: Instance, q: np.ndarray) -> list[str]:
    """What is wrong with a plan (empty list: a valid plan for ``inst``)."""
    q = np.asarray(q)
    bad = []
    if q.shape != (inst.n,) or q.dtype != np.int64:
        bad.append(f"stock must be int64 of length {inst.n}, got {q.dtype} {q.shape}")
        return bad
    if np.any(q < 0):
        bad.append("negative stock")
    if inst.max_products is not None and int((q > 0).sum()) > inst.max_products:
        bad.append(f"{int((q > 0).sum())} products stocked > max_products {inst.max_products}")
    if inst.budget is not None and float(inst.cost @ q) > inst.budget * (1 + 1e-9) + 1e-9:
        bad.append(f"spend {float(inst.cost @ q):.6g} > budget {inst.budget:.6g}")
    return bad
