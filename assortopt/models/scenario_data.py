"""Per-scenario first-choice counts d_ki: the data of the SAA-LP and the spill MIP.

A scenario is one season. For a product set S (the products the model may stock), d_ki is the
number of scenario-k customers whose walk reaches product i ∈ S first among S: under the reduced
chain on S these are the customers who "first want" i (models/saa_lp.md). Two sources:

* `first_choice_counts` samples them directly: ``Multinomial(T, P_{·,S})`` per scenario for a fixed
  number of customers T, independent ``Poisson(E[T]·P_{i,S})`` for Poisson T. For S = all products
  ``P_{·,S} = λ`` (plain first choices).
* `counts_from_stream` counts them on sampled preference lists (the first product of each list that
  lies in S), so the SAA-LP and the sample-path MIP can share one set of customers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..instance import Instance
from ..rng import as_generator
from ..streams import Stream


def offered_positions(n: int, offered_mask: Any) -> np.ndarray:
    """Positions of the offered products from a bool mask of length ``n`` (None: all)."""
    if offered_mask is None:
        return np.arange(n)
    mask = np.asarray(offered_mask)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(f"offered_mask must be a bool array of length {n}")
    return np.flatnonzero(mask)


def first_choice_probabilities(inst: Instance, offered_mask: Any = None) -> np.ndarray:
    """``P_{i,S}`` for i ∈ S (in position order): the probability that a customer's walk reaches
    i first among S. λ itself when S is every product."""
    pos = offered_positions(inst.n, offered_mask)
    if len(pos) == inst.n:
        return inst.arrival.copy()
    from ..choice.mc import choice_probabilities

    mask = np.zeros(inst.n, dtype=bool)
    mask[pos] = True
    return np.asarray(choice_probabilities(inst, mask), dtype=np.float64)[pos]


def first_choice_counts(
    inst: Instance, offered_mask: Any = None, scenarios: int = 100, seed: Any = 0
) -> np.ndarray:
    """Sample first-choice counts among S, an int64 array of shape (K, |S|).

    Parameters
    ----------
    inst
        The instance (its customer distribution decides multinomial vs Poisson counts).
    offered_mask
        Bool mask of length N for S; None means every product.
    scenarios
        K, the number of scenarios.
    seed
        Seed of the draws (int, SeedSequence or Generator; None is refused).
    """
    if scenarios < 1:
        raise ValueError(f"scenarios must be >= 1, got {scenarios}")
    rng = as_generator(seed)
    p = np.clip(first_choice_probabilities(inst, offered_mask), 0.0, None)
    if inst.customers_distribution == "poisson":
        mean = float(inst.customers_mean) * p
        return rng.poisson(mean, size=(scenarios, len(p))).astype(np.int64)
    t = int(round(inst.customers_mean))
    tot = float(p.sum())
    if tot > 1.0:  # rounding noise only (arrival sums are validated ≤ 1 + 1e-9)
        p = p / tot
        tot = 1.0
    probs = np.append(p, max(0.0, 1.0 - tot))
    probs /= probs.sum()
    return rng.multinomial(t, probs, size=scenarios)[:, :-1].astype(np.int64)


def counts_from_stream(stream: Stream, offered_mask: Any = None) -> np.ndarray:
    """First-choice counts among S on sampled customers: int64 array (K, |S|).

    Customer c counts for the first product of her list that lies in S (none if her list has no
    product of S), which is exactly the customer the reduced chain on S would send to it first.
    """
    n = stream.n_products
    pos = offered_positions(n, offered_mask)
    rank = np.full(n, -1, dtype=np.int64)
    rank[pos] = np.arange(len(pos))
    k_count = stream.n_scenarios
    out = np.zeros((k_count, len(pos)), dtype=np.int64)
    if stream.n_customers == 0 or len(pos) == 0:
        return out
    items = stream.items
    big = np.iinfo(np.int64).max
    idx = np.where(rank[items] >= 0, np.arange(len(items), dtype=np.int64), big)
    starts = stream.offsets[:-1]
    lengths = stream.list_lengths
    nonempty = lengths > 0
    first = np.full(stream.n_customers, big, dtype=np.int64)
    if len(items):
        first[nonempty] = np.minimum.reduceat(idx, starts[nonempty])
    hit = first < big
    scen = np.repeat(np.arange(k_count, dtype=np.int64), stream.customers_per_scenario)
    flat = scen[hit] * len(pos) + rank[items[first[hit]]]
    out += np.bincount(flat, minlength=k_count * len(pos)).reshape(k_count, len(pos))
    return out
