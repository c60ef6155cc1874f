"""Sales records sampled from a known chain: stock-out-driven offer sets, exact choice draws.

Used by the tests, the worked example and the benchmark. The season is cut into periods; in each
period a few products are out of stock (Poisson many, chosen with probability ∝ λ_i + mean λ:
popular products sell out more, every product sometimes); the period's visits choose by the
exact choice probabilities of the chain for that offer set (`chain_probabilities`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..choice.mc import chain_probabilities
from ..instance import Instance
from ..sampling import MarkovChainSampler
from .data import SalesData, group_visits

__all__ = ["sample_sales", "random_offer_sets", "fitted_family", "FITTED_DEFAULTS"]


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


#: parameters of the benchmark family ``fitted`` beyond the generator's common ones
FITTED_DEFAULTS: dict[str, Any] = {"k": 8, "weights": "exp", "visits": 10000, "mean_out": 2.0}


def fitted_family(
    n_products: int, customers: float, seed: int, **params: Any
) -> tuple[Instance, MarkovChainSampler]:
    """The benchmark family ``fitted``: ``(fitted instance, sampler of the truth)``.

    The truth is ``generate("sparse", n_products, customers, seed, k, weights, ...)``; ``visits``
    visits are sampled from it (`sample_sales`, ``mean_out`` products out per period), the chain
    is fitted (`fit_markov_chain`, default options) and the instance keeps the truth's prices,
    costs, customers and constraints. Plans made on it are evaluated under the truth (the
    benchmark's ``truth_*`` columns): the planning loss due to estimation.
    Raises `OptionError` for unknown parameters (as `generate`).
    """
    from ..generators import generate
    from .chain import fit_markov_chain

    p = {**FITTED_DEFAULTS, **params}
    visits, mean_out = int(p.pop("visits")), float(p.pop("mean_out"))
    truth = generate("sparse", n_products, customers, seed, **p)
    data = sample_sales(truth, visits, seed=seed + 7919, mean_out=mean_out)
    cat = [
        {"id": pid, "price": a, "cost": b, "salvage": s, "fixed_cost": f}
        for pid, a, b, s, f in zip(
            truth.ids,
            truth.price.tolist(),
            truth.cost.tolist(),
            truth.salvage.tolist(),
            truth.fixed_cost.tolist(),
            strict=True,
        )
    ]
    fitted, rep = fit_markov_chain(
        data, cat, truth.customers_mean, truth.customers_distribution, progress=False
    )
    meta = {
        "generator": {
            "family": "fitted",
            "n_products": n_products,
            "customers": customers,
            "seed": seed,
            "params": {**params, "visits": visits, "mean_out": mean_out},
        },
        "fit": {k: rep[k] for k in ("visits", "iterations", "loglik")},
    }
    fitted = fitted.replace(
        max_products=truth.max_products,
        budget=truth.budget,
        name=f"fitted-n{n_products}-t{customers}-v{visits}-s{seed}",
        metadata=meta,
    )
    return fitted, MarkovChainSampler(truth)
