"""Sales records sampled from a known chain: stock-out-driven offer sets, exact choice draws.

Used by the tests, the worked example and the benchmark. The season is cut into periods; in each
period a few products are out of stock (Poisson many, chosen with probability ∝ λ_i + mean λ:
popular products sell out more, every product sometimes); the period's visits choose by the
exact choice probabilities of the chain for that offer set (`chain_probabilities`).
"""

from __future__ import annotations

import numpy as np

from ..choice.mc import chain_probabilities
from ..instance import Instance
from .data import SalesData, group_visits

__all__ = ["sample_sales", "random_offer_sets"]


def random_offer_sets(
    inst: Instance, count: int, rng: np.random.Generator, mean_out: float = 2.0
) -> np.ndarray:
    """``count`` unavailable sets (lists of positions) driven by stock-outs (module docstring)."""
    n = inst.n
    w = inst.arrival + inst.arrival.mean() + 1e-12
    w = w / w.sum()
    sets = []
    for _ in range(count):
        k = min(int(rng.poisson(mean_out)), n - 1)
        sets.append(np.sort(rng.choice(n, size=k, replace=False, p=w)) if k else np.zeros(0, int))
    return sets  # type: ignore[return-value]


def sample_sales(
    inst: Instance,
    n_visits: int,
    seed: int,
    periods: int | None = None,
    mean_out: float = 2.0,
    record_no_purchase: bool = True,
) -> SalesData:
    """``n_visits`` visits from ``inst``'s chain over ``periods`` periods (default
    max(20, n_visits // 100)), grouped. ``record_no_purchase=False`` drops the visits that
    bought nothing (sales-only data)."""
    rng = np.random.default_rng(seed)
    n = inst.n
    periods = periods or max(20, n_visits // 100)
    outs = random_offer_sets(inst, periods, rng, mean_out)
    per = rng.multinomial(n_visits, np.full(periods, 1.0 / periods))
    cg, cp, cc = [], [], []
    for g, out in enumerate(outs):
        mask = np.ones(n, dtype=bool)
        mask[out] = False
        p, _, p0 = chain_probabilities(inst.arrival, inst.transitions, mask)
        probs = np.append(p, max(p0, 0.0))
        probs = np.maximum(probs, 0.0) / probs.sum()
        x = rng.multinomial(per[g], probs)
        if not record_no_purchase:
            x[n] = 0
        nz = np.flatnonzero(x)
        cg.append(np.full(len(nz), g))
        cp.append(nz)
        cc.append(x[nz].astype(np.float64))
    return group_visits(
        inst.ids,
        outs,
        np.concatenate(cg),
        np.concatenate(cp),
        np.concatenate(cc),
        has_no_purchase=record_no_purchase,
        source="sampled",
    )
