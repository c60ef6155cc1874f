"""Exact Monte Carlo evaluation of a stocking plan under dynamic stock-out substitution.

Customers are preference lists (`assortopt.streams.Stream`); each buys the first product of her
list with stock left when she arrives, so the simulator is exact for any choice model that
samples lists (the instance's Markov chain, MNL, the multi-step online model) and never needs to
know which one produced them. Profit of a season with plan q:
``Σ price·sales + salvage·(q − sales) − cost·q − fixed_cost·[q > 0]``.

Common random numbers: `simulate` draws its customers from ``(seed, reps)`` only, in blocks of
replications with child seeds (`assortopt.rng.child_seeds`), so two plans simulated with the same
seed meet the same customers and `paired_difference` compares them with little noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _kernels
from .exceptions import OptionError
from .instance import Instance
from .rng import child_seeds
from .sampling import ListSampler, default_sampler, sample_streams
from .streams import Stream

__all__ = [
    "Evaluation",
    "StreamOutcome",
    "block_reps",
    "paired_difference",
    "simulate",
    "simulate_stream",
]

#: Customers per replication block in `simulate` (memory bound; the block size in replications
#: depends only on the instance, never on the plan).
BLOCK_CUSTOMERS = 1 << 18


@dataclass(frozen=True, eq=False)
class StreamOutcome:
    """Result of `simulate_stream`: ``profits`` (K,), ``sales`` (K, N) int64, and ``purchases``
    (C,) int64 (product bought by each customer, −1 for none) when recorded, else None."""

    profits: np.ndarray
    sales: np.ndarray
    purchases: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Out-of-sample simulation of a plan.

    Attributes
    ----------
    mean, stderr
        Mean profit per season and the standard error of that mean over ``reps`` replications.
    reps, seed
        Replications and the seed that fixes the customers.
    profits
        Profit of each replication (for paired comparisons).
    sales, leftover
        Mean units sold and left over per product (N,).
    fill_rate
        Purchases / customers with a non-empty list (those who wanted something).
    substitution_share
        Share of purchases that were not the customer's first choice.
    stock
        The plan simulated (int64, N).
    """

    mean: float
    stderr: float
    reps: int
    seed: int
    profits: np.ndarray
    sales: np.ndarray
    leftover: np.ndarray
    fill_rate: float
    substitution_share: float
    stock: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """The solution file's ``evaluation`` block (README.md, "Solution file")."""
        return {
            "mean": float(self.mean),
            "stderr": float(self.stderr),
            "reps": int(self.reps),
            "seed": int(self.seed),
        }


def profit_terms(inst: Instance, q: np.ndarray) -> tuple[np.ndarray, float]:
    """(gain per unit sold = price − salvage, profit with no sale)."""
    gain = np.ascontiguousarray(inst.price - inst.salvage, dtype=np.float64)
    base = float(np.sum((inst.salvage - inst.cost) * q) - np.sum(inst.fixed_cost[q > 0]))
    return gain, base


def _check_stream(inst: Instance, stream: Stream) -> None:
    if stream.n_products != inst.n:
        raise OptionError(f"stream has {stream.n_products} products, the instance has {inst.n}")


_NO_RECORD = np.empty(0, dtype=np.int64)


def run_kernel(
    stream: Stream,
    q: np.ndarray,
    gain: np.ndarray,
    base: float,
    sales: np.ndarray,
    purchases: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The compiled simulator on one stream: per-scenario profits and counters
    [purchases, customers with a list, substitutions]; adds sales into ``sales`` (K×N per
    scenario, or 1×N summed) and writes each customer's purchase into ``purchases`` if given."""
    record = purchases is not None
    return _kernels.simulate_kernel(
        stream.offsets,
        stream.items,
        stream.scenario_offsets,
        q,
        gain,
        base,
        sales,
        sales.shape[0] == stream.n_scenarios,
        purchases if record else _NO_RECORD,
        record,
    )


def simulate_stream(
    inst: Instance, stock: Any, stream: Stream, record: bool = False
) -> StreamOutcome:
    """Play every scenario of ``stream`` against plan ``stock`` (dict id → units or array).

    Inventory starts at ``stock`` in each scenario. Returns per-scenario profits, sales (K, N)
    and, with ``record``, the product each customer bought (−1: none). Raises `InstanceError`
    for a bad plan and `OptionError` for a stream over another number of products.
    """
    q = inst.stock_vector(stock)
    _check_stream(inst, stream)
    gain, base = profit_terms(inst, q)
    k = stream.n_scenarios
    sales = np.zeros((k, inst.n), dtype=np.int64)
    purchases = np.empty(stream.n_customers if record else 0, dtype=np.int64)
    profits, _ = run_kernel(stream, q, gain, base, sales, purchases if record else None)
    return StreamOutcome(profits, sales, purchases if record else None)


def block_reps(inst: Instance) -> int:
    """Replications per block in `simulate` (a function of the instance only)."""
    return int(max(1, min(4096, BLOCK_CUSTOMERS // max(1, math.ceil(inst.customers_mean)))))


def simulate(
    inst: Instance,
    stock: Any,
    reps: int = 10000,
    seed: int = 1,
    sampler: ListSampler | None = None,
) -> Evaluation:
    """Mean profit of plan ``stock`` over ``reps`` simulated seasons (exact substitution).

    Customers come from ``sampler`` (default: the instance's own chain) in blocks of
    `block_reps` replications, block b from ``child_seeds(seed, ·)[b]``, sampled and consumed at
    once (bounded memory). The same ``(seed, reps)`` gives the same customers whatever the plan.
    Raises `OptionError` for ``reps < 1`` and `InstanceError` for a bad plan.
    """
    if reps < 1:
        raise OptionError(f"reps must be >= 1, got {reps}")
    q = inst.stock_vector(stock)
    sampler = default_sampler(inst) if sampler is None else sampler
    gain, base = profit_terms(inst, q)
    block = block_reps(inst)
    n_blocks = -(-reps // block)
    seeds = child_seeds(seed, n_blocks)
    sales = np.zeros((1, inst.n), dtype=np.int64)
    profits = np.empty(reps)
    counters = np.zeros(3, dtype=np.int64)
    for b in range(n_blocks):
        lo = b * block
        hi = min(reps, lo + block)
        stream = sample_streams(inst, hi - lo, int(seeds[b]), sampler)
        _check_stream(inst, stream)
        p, cnt = run_kernel(stream, q, gain, base, sales)
        profits[lo:hi] = p
        counters += cnt
    mean_sales = sales[0] / reps
    bought, wanting, subst = (int(x) for x in counters)
    return Evaluation(
        mean=float(profits.mean()),
        stderr=float(profits.std(ddof=1) / math.sqrt(reps)) if reps > 1 else 0.0,
        reps=int(reps),
        seed=int(seed),
        profits=profits,
        sales=mean_sales,
        leftover=q - mean_sales,
        fill_rate=bought / wanting if wanting else 1.0,
        substitution_share=subst / bought if bought else 0.0,
        stock=q,
    )


def paired_difference(ev_a: Evaluation, ev_b: Evaluation) -> tuple[float, float]:
    """Mean and standard error of ``profit_a − profit_b`` over common replications.

    Both evaluations must come from the same seed and number of replications (common random
    numbers); raises `OptionError` otherwise. With one replication the standard error is NaN:
    one paired sample says nothing about the spread of the difference.
    """
    if ev_a.reps != ev_b.reps or ev_a.seed != ev_b.seed:
        raise OptionError("paired_difference needs evaluations with the same seed and reps")
    d = ev_a.profits - ev_b.profits
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se
