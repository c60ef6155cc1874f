"""A planner's view of a plan: one row per product, from a seeded simulation that records who
bought what.

Each simulated season plays customers (preference lists, `assortopt.sample_streams`) against
the plan (`assortopt.simulate_stream` with ``record=True``): a customer's *first choice* is the
first product of her list, and she buys the first product of her list in stock. Per product the
table reports, per season on average: the first-choice demand T·λ (exact), sales, sell-through
(sales / units), the probability of selling out, the substitution into the product (sales to
customers whose first choice was another product) and out of it (its first-choice customers who
bought another product), and the first-choice customers lost (who bought nothing). README.md
("A planner's view") describes the columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import OptionError
from .instance import Instance
from .rng import child_seeds

__all__ = ["TABLE_COLUMNS", "PlanDetail", "plan_detail", "plan_table"]

#: Columns of `plan_table`, in order.
TABLE_COLUMNS = (
    "id",
    "vendor",
    "category",
    "units",
    "price",
    "cost",
    "first_choice_demand",
    "expected_sales",
    "sell_through",
    "stockout_probability",
    "substitution_in",
    "substitution_out",
    "lost_first_choice",
    "expected_leftover",
)

#: Customers simulated per block (bounds memory; the result does not depend on it).
BLOCK_CUSTOMERS = 2_000_000


@dataclass
class PlanDetail:
    """What `plan_detail` measured.

    Attributes
    ----------
    table
        One row per product (`TABLE_COLUMNS`); sell-through and stock-out probability are NaN
        for products the plan does not carry.
    profits
        (reps,) profit of each simulated season.
    flows
        Substitution flows: ``from`` (first choice), ``to`` (product bought instead),
        ``per_season`` (expected customers per season), largest first.
    reps, seed
        Seasons simulated and the seed they came from.
    """

    table: pd.DataFrame
    profits: np.ndarray
    flows: pd.DataFrame
    reps: int
    seed: int

    @property
    def mean(self) -> float:
        return float(self.profits.mean())

    @property
    def stderr(self) -> float:
        k = len(self.profits)
        return float(self.profits.std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan")


def plan_detail(inst: Instance, stock: Any, reps: int = 2000, seed: int = 1) -> PlanDetail:
    """Simulate ``reps`` seasons of plan ``stock`` (dict id → units or int array) from ``seed``
    and measure the planner's table, the season profits and the substitution flows.

    Raises `OptionError` for ``reps < 1`` and `InstanceError` for a bad plan.
    """
    from .sampling import sample_streams
    from .simulation import simulate_stream

    if reps < 1:
        raise OptionError(f"reps must be >= 1, got {reps}")
    q = inst.stock_vector(stock)
    n = inst.n
    per_block = max(1, min(reps, BLOCK_CUSTOMERS // max(1, int(np.ceil(inst.customers_mean)))))
    n_blocks = -(-reps // per_block)
    seeds = child_seeds(seed, n_blocks)
    sales = np.zeros(n)
    soldout = np.zeros(n)
    sub_in = np.zeros(n)
    sub_out = np.zeros(n)
    lost = np.zeros(n)
    pairs = np.zeros(0, np.int64)
    profits = []
    left = reps
    for b in range(n_blocks):
        k = min(per_block, left)
        left -= k
        stream = sample_streams(inst, k, int(seeds[b]))
        out = simulate_stream(inst, q, stream, record=True)
        profits.append(out.profits)
        sales += out.sales.sum(axis=0)
        soldout += ((out.sales >= q[None, :]) & (q[None, :] > 0)).sum(axis=0)
        lens = np.diff(stream.offsets)
        first = np.full(stream.n_customers, -1, np.int64)
        has = lens > 0
        first[has] = stream.items[stream.offsets[:-1][has]]
        bought = np.asarray(out.purchases, dtype=np.int64)
        swap = (bought >= 0) & (first >= 0) & (bought != first)
        sub_in += np.bincount(bought[swap], minlength=n)
        sub_out += np.bincount(first[swap], minlength=n)
        gone = (first >= 0) & (bought < 0)
        lost += np.bincount(first[gone], minlength=n)
        pairs = np.concatenate([pairs, first[swap] * n + bought[swap]])
    carried = q > 0
    exp_sales = sales / reps
    with np.errstate(invalid="ignore", divide="ignore"):
        sell_through = np.where(carried, exp_sales / np.maximum(q, 1), np.nan)
    table = pd.DataFrame(
        {
            "id": list(inst.ids),
            "vendor": list(inst.vendor) if inst.vendor is not None else [None] * n,
            "category": list(inst.category) if inst.category is not None else [None] * n,
            "units": q,
            "price": inst.price,
            "cost": inst.cost,
            "first_choice_demand": float(inst.customers_mean) * inst.arrival,
            "expected_sales": exp_sales,
            "sell_through": sell_through,
            "stockout_probability": np.where(carried, soldout / reps, np.nan),
            "substitution_in": sub_in / reps,
            "substitution_out": sub_out / reps,
            "lost_first_choice": lost / reps,
            "expected_leftover": q - exp_sales,
        },
        columns=list(TABLE_COLUMNS),
    )
    codes, counts = np.unique(pairs, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    codes, counts = codes[order], counts[order]
    ids = np.array(inst.ids, dtype=object)
    flows = pd.DataFrame(
        {"from": ids[codes // n], "to": ids[codes % n], "per_season": counts / reps}
    )
    return PlanDetail(table, np.concatenate(profits), flows, reps, seed)


def plan_table(inst: Instance, stock: Any, reps: int = 2000, seed: int = 1) -> pd.DataFrame:
    """The planner's table of `plan_detail` (one row per product, `TABLE_COLUMNS`)."""
    return plan_detail(inst, stock, reps, seed).table
