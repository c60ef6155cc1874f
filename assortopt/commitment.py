"""Committed stock: units already bought, which every method plans around.

A commitment is an int64 array of length N: ``-1`` means the product is free (the method decides
its stock), ``u >= 0`` means exactly ``u`` units are already bought. Their purchase cost is sunk
but is counted in the profit like any other unit, the same way for every plan, so a commitment is
simply a fixed part of the stock vector: ``budget`` and ``max_products`` count the committed
units, and a product committed at 0 units is never stocked. The write-up is in
``models/waves.md`` (section "Committed stock").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .exceptions import InstanceError, OptionError
from .instance import Instance

__all__ = [
    "FREE",
    "check_commitment",
    "commitment_from_stock",
    "committed_mask",
    "commitment_problem",
    "forced_units_problem",
    "honours",
    "impose",
]

#: The value of a free product in a commitment array.
FREE = -1


def check_commitment(inst: Instance, committed: Any) -> np.ndarray | None:
    """The commitment as an int64 array of length N (None stays None).

    Accepts an array (``-1`` free, ``>= 0`` units) or a mapping ``{id: units}`` (products not
    listed are free). Raises `OptionError` for a wrong length, a value below -1, a non-integer
    or an unknown id.
    """
    if committed is None:
        return None
    if isinstance(committed, Mapping):
        return commitment_from_stock(inst, committed)
    a = np.asarray(committed)
    if a.shape != (inst.n,):
        raise OptionError(f"committed must have length {inst.n} (one entry per product)")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise OptionError("committed units must be integers")
    elif a.dtype.kind not in "iu":
        raise OptionError(f"committed must be an integer array, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if np.any(a < FREE):
        raise OptionError("committed units must be >= 0 (or -1 for a free product)")
    return a


def commitment_from_stock(
    inst: Instance, stock: Mapping[str, Any], source: str | None = None
) -> np.ndarray:
    """A commitment from a solution file's ``stock`` mapping ``{id: units}``: the listed
    products are committed at those units, the others are free. Raises `InstanceError`
    (naming ``stock.<id>``) for an unknown id or a units value that is not an integer >= 0."""
    out = np.full(inst.n, FREE, np.int64)
    index = {pid: i for i, pid in enumerate(inst.ids)}
    for pid, units in stock.items():
        if pid not in index:
            raise InstanceError(f"stock.{pid}", "is not a product of the instance", source)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer, float)):
            raise InstanceError(f"stock.{pid}", "must be an integer >= 0", source)
        if float(units) != int(units) or int(units) < 0:
            raise InstanceError(f"stock.{pid}", f"must be an integer >= 0, got {units}", source)
        out[index[pid]] = int(units)
    return out


def committed_mask(committed: np.ndarray | None, n: int) -> np.ndarray:
    """Bool mask of the committed products (all False without a commitment)."""
    if committed is None:
        return np.zeros(n, bool)
    return np.asarray(committed) >= 0


def commitment_problem(inst: Instance, committed: np.ndarray | None) -> str | None:
    """Why no plan can honour the commitment (its units alone break the budget or
    ``max_products``), or None."""
    if committed is None:
        return None
    return forced_units_problem(inst, np.maximum(committed, 0), "the committed units")


def forced_units_problem(inst: Instance, units: np.ndarray, what: str) -> str | None:
    """Why stock that must be held (``units``: committed, or a MIP's ``min_stock``; ``what``
    names it) breaks the budget or ``max_products`` by itself, or None."""
    if inst.budget is not None and float(inst.cost @ units) > inst.budget * (1 + 1e-9) + 1e-9:
        return f"{what} cost {float(inst.cost @ units):g}, above the budget {inst.budget:g}"
    if inst.max_products is not None and int((units > 0).sum()) > inst.max_products:
        return (
            f"{what} take {int((units > 0).sum())} products, above max_products {inst.max_products}"
        )
    return None


def honours(stock: np.ndarray, committed: np.ndarray | None) -> bool:
    """Whether ``stock`` keeps exactly the committed units."""
    if committed is None:
        return True
    m = committed >= 0
    return bool(np.array_equal(np.asarray(stock)[m], committed[m]))


def impose(
    inst: Instance,
    q: np.ndarray,
    committed: np.ndarray | None,
    value: np.ndarray | None = None,
) -> np.ndarray:
    """A plan's stock with the commitment put in, then made feasible on the free products.

    Committed entries are set to their units; if the plan then breaks ``max_products``, the free
    products of lowest ``value`` (default: margin × units) are dropped; if it breaks the budget,
    free units are removed, lowest value per unit of cost first. Committed units never move.
    Used by plans that follow a fixed rule (the baselines): "fixed after their rule".
    """
    q = np.asarray(q, dtype=np.int64).copy()
    if committed is None:
        return q
    fixed = committed >= 0
    q[fixed] = committed[fixed]
    if value is None:
        value = (inst.price - inst.cost) * q
    value = np.asarray(value, dtype=np.float64)
    cap = inst.max_products
    if cap is not None and int((q > 0).sum()) > cap:
        room = max(cap - int((q[fixed] > 0).sum()), 0)
        free = np.flatnonzero((q > 0) & ~fixed)
        order = free[np.argsort(-value[free], kind="stable")]
        q[order[room:]] = 0
    w = inst.budget
    if w is not None and float(inst.cost @ q) > w * (1 + 1e-12):
        per_unit = value / np.maximum(q, 1) / np.maximum(inst.cost, 1e-300)
        for j in np.argsort(per_unit, kind="stable"):
            if fixed[j] or inst.cost[j] <= 0 or q[j] == 0:
                continue
            over = float(inst.cost @ q) - w
            if over <= 1e-12 * max(1.0, w):
                break
            take = min(int(q[j]), int(np.ceil(over / inst.cost[j] - 1e-12)))
            q[j] -= take
    return q
