"""The problem data: products, the Markov chain, customers and constraints.

`Instance` holds numpy arrays indexed by product position; ids map to positions. Loading,
validation and saving of the JSON file format (``assortopt-instance/1``) live in this module too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from .exceptions import InstanceError

FORMAT = "assortopt-instance/1"

StockLike = "dict[str, int] | np.ndarray | list[int]"


@dataclass(frozen=True, eq=False)
class Instance:
    """A joint assortment and inventory planning problem under the Markov chain choice model.

    Attributes
    ----------
    ids
        Product ids, in file order; product ``i`` is ``ids[i]``.
    price, cost, salvage, fixed_cost
        Per-unit selling price, purchase cost, salvage value of a leftover unit, and the
        fixed cost paid once when a product is stocked at all (arrays of length N).
    arrival
        λ: probability that a customer first wants product i (sum ≤ 1; the rest want nothing).
    transitions
        ρ as an N×N ``scipy.sparse.csr_array``: ``transitions[i, j]`` is the probability that a
        customer at unavailable product i moves to j. Row i's deficit ``1 - Σ_j ρ_ij`` is the
        probability that she leaves.
    customers_mean, customers_distribution
        Number of customers in the season: fixed (an integer) or Poisson with that mean.
    max_products, budget
        Optional constraints: at most ``max_products`` products stocked; ``Σ cost·q ≤ budget``.
    """

    ids: tuple[str, ...]
    price: np.ndarray
    cost: np.ndarray
    arrival: np.ndarray
    transitions: sp.csr_array
    customers_mean: float
    customers_distribution: Literal["fixed", "poisson"] = "fixed"
    salvage: np.ndarray | None = None
    fixed_cost: np.ndarray | None = None
    max_products: int | None = None
    budget: float | None = None
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        object.__setattr__(self, "price", f64(self.price))
        object.__setattr__(self, "cost", f64(self.cost))
        object.__setattr__(self, "arrival", f64(self.arrival))
        object.__setattr__(
            self, "salvage", np.zeros(n) if self.salvage is None else f64(self.salvage)
        )
        object.__setattr__(
            self, "fixed_cost", np.zeros(n) if self.fixed_cost is None else f64(self.fixed_cost)
        )
        rho = sp.csr_array(self.transitions, dtype=np.float64)
        rho.eliminate_zeros()
        rho.sort_indices()
        object.__setattr__(self, "transitions", rho)
        object.__setattr__(self, "ids", tuple(self.ids))

    # ----------------------------------------------------------------- derived data
    @property
    def n(self) -> int:
        """Number of products N."""
        return len(self.ids)

    @property
    def margin(self) -> np.ndarray:
        """price − cost per product."""
        return self.price - self.cost

    @property
    def no_purchase(self) -> float:
        """λ0: probability that a customer wants nothing at all."""
        return max(0.0, 1.0 - float(self.arrival.sum()))

    @cached_property
    def exit_prob(self) -> np.ndarray:
        """Probability of leaving from each unavailable product, ``1 − Σ_j ρ_ij``."""
        return np.maximum(0.0, 1.0 - np.asarray(self.transitions.sum(axis=1)).ravel())

    @cached_property
    def index(self) -> dict[str, int]:
        """Product id → position."""
        return {pid: i for i, pid in enumerate(self.ids)}

    @property
    def has_constraints(self) -> bool:
        return self.max_products is not None or self.budget is not None

    def replace(self, **changes: Any) -> Instance:
        """A copy with some fields changed (e.g. ``inst.replace(budget=None)``)."""
        return dataclasses.replace(self, **changes)

    def stock_vector(self, stock: Any) -> np.ndarray:
        """Turn a plan (dict id → units, or a length-N sequence) into an int64 array.

        Raises `InstanceError` for unknown ids, negative or non-integral units, or a wrong length.
        """
        if isinstance(stock, dict):
            q = np.zeros(self.n, dtype=np.int64)
            for pid, units in stock.items():
                if pid not in self.index:
                    raise InstanceError(f"stock.{pid}", "unknown product id")
                q[self.index[pid]] = _as_units(units, f"stock.{pid}")
            return q
        arr = np.asarray(stock)
        if arr.shape != (self.n,):
            raise InstanceError("stock", f"expected {self.n} entries, got shape {arr.shape}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise InstanceError("stock", "units must be whole numbers")
        elif arr.dtype.kind not in "iub":
            raise InstanceError("stock", "units must be whole numbers")
        if np.any(arr < 0):
            raise InstanceError("stock", "units must be >= 0")
        return arr.astype(np.int64)

    def stock_dict(self, q: np.ndarray) -> dict[str, int]:
        """Plan array → ``{id: units}`` with only positive entries, in product order."""
        q = np.asarray(q)
        return {self.ids[i]: int(q[i]) for i in np.flatnonzero(q > 0)}


def _as_units(units: Any, where: str) -> int:
    if isinstance(units, bool) or not isinstance(units, int | float | np.integer | np.floating):
        raise InstanceError(where, "units must be a whole number")
    if not np.isfinite(units) or float(units) != int(units):
        raise InstanceError(where, "units must be a whole number")
    if units < 0:
        raise InstanceError(where, "units must be >= 0")
    return int(units)
