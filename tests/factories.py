"""Random instances and an independent choice-probability oracle shared by the tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from assortopt.instance import Instance


def random_instance(
    n: int,
    seed: int,
    T: int = 20,
    k: int = 3,
    stay: tuple[float, float] = (0.3, 0.95),
    salvage: bool = False,
    fixed: bool = False,
    poisson: bool = False,
    budget: float | None = None,
    max_products: int | None = None,
) -> Instance:
    """k random successors per product; a walker stays with probability U(stay) per step."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for i in range(n):
        nb = rng.choice(np.delete(np.arange(n), i), size=min(k, n - 1), replace=False)
        w = rng.exponential(1.0, len(nb))
        rows += [i] * len(nb)
        cols += nb.tolist()
        vals += (w / w.sum() * rng.uniform(*stay)).tolist()
    price = rng.uniform(1, 10, n)
    cost = price * rng.uniform(0.2, 0.9, n)
    return Instance(
        ids=[f"p{i}" for i in range(n)],
        price=price,
        cost=cost,
        arrival=rng.dirichlet(np.ones(n + 1))[:n] * rng.uniform(0.7, 1.0),
        transitions=sp.csr_array((vals, (rows, cols)), shape=(n, n)),
        customers_mean=T,
        customers_distribution="poisson" if poisson else "fixed",
        salvage=cost * rng.uniform(0, 0.8, n) if salvage else None,
        fixed_cost=rng.uniform(0, 3, n) if fixed else None,
        budget=budget,
        max_products=max_products,
    )


def walk_mass(inst: Instance, mask: np.ndarray, steps: int = 200_000) -> tuple[np.ndarray, float]:
    """Choice probabilities on the offer set ``mask`` and the no-purchase share, by pushing the
    walkers' probability mass one step at a time (no linear solve: an independent oracle)."""
    rho = inst.transitions.toarray()
    m = inst.arrival.copy()
    p = np.zeros(inst.n)
    left = inst.no_purchase
    exit_prob = 1.0 - rho.sum(axis=1)
    for _ in range(steps):
        p += np.where(mask, m, 0.0)
        m = np.where(mask, 0.0, m)
        left += float(m @ exit_prob)
        m = m @ rho
        if m.sum() < 1e-18:
            break
    return p, left
