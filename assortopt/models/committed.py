"""Committed stock in a built formulation: fix the stock columns' bounds.

Every builder's ``"stock"`` block has one column per product it considers
(``info["products"]``). A commitment (`assortopt.commitment`) fixes those columns: a committed
product's column gets ``lower = upper = units``. When the builder capped a column below the
committed units (the spill MIP caps stock at the largest inflow a scenario can bring, the
sample-path MIP at the customers who list the product), units above the cap never sell in any
scenario, so the column is fixed at the cap and the extra units' cost enters the objective as a
constant (and their spend comes off the budget row): the same objective for every plan that keeps
the commitment. Write-up: ``models/waves.md``, "Committed stock".
"""

from __future__ import annotations

import numpy as np

from ..exceptions import OptionError
from .formulation import Formulation

__all__ = ["fix_committed", "restore_committed"]


def fix_committed(f: Formulation, committed: np.ndarray | None) -> Formulation:
    """Fix ``f``'s stock columns to the commitment, in place; returns ``f``.

    Raises `OptionError` if a product committed at a positive number of units has no stock
    column (the formulation was built without it: pass it in the offered set / candidates), or
    if the Pyomo model was already made (fix before touching ``f.model``).
    """
    if committed is None:
        return f
    if f.materialised:
        raise OptionError("fix the commitment before the Pyomo model is made (f.model)")
    if "stock" not in f.var_blocks:
        raise OptionError(f"{f.name} has no stock columns to fix")
    committed = np.asarray(committed, dtype=np.int64)
    lp = f.lp
    cols = f.var_blocks["stock"].cols
    prods = np.asarray(f.info.get("products", np.arange(len(cols))), dtype=np.int64)
    col_of = np.full(len(committed), -1, np.int64)
    col_of[prods] = cols
    missing = np.flatnonzero((committed > 0) & (col_of < 0))
    if len(missing):
        raise OptionError(
            f"{f.name}: committed product at position {int(missing[0])} is not among the "
            "formulation's products"
        )
    sel = np.flatnonzero((committed >= 0) & (col_of >= 0))
    c = col_of[sel]
    units = committed[sel].astype(np.float64)
    cap = lp.col_hi[c]
    fixed_at = np.minimum(units, cap)
    excess = units - fixed_at
    lp.col_lo[c] = fixed_at
    lp.col_hi[c] = fixed_at
    if np.any(excess > 0):
        lp.offset += float(lp.c[c] @ excess)
        if "budget" in f.row_blocks:
            r0, _ = f.row_blocks["budget"]
            lp.row_hi[r0] -= float(lp.A[[r0], :][:, c].toarray().ravel() @ excess)
    f.info["committed"] = committed
    return f


def restore_committed(stock: np.ndarray, committed: np.ndarray | None) -> np.ndarray:
    """The plan's stock with committed products at their full units (a column fixed at its cap
    by `fix_committed` reads back as the cap)."""
    stock = np.asarray(stock, dtype=np.int64).copy()
    if committed is not None:
        m = committed >= 0
        stock[m] = committed[m]
    return stock
