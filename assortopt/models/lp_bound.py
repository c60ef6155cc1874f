"""The LP upper bound as a `Formulation`, for research use (add constraints, inspect duals).

The LP itself, its validity and `lp_bound` (the solve every method calls) live in
`assortopt.bound`; models/lp_bound.md has the math. This module wraps the same arrays.
"""

from __future__ import annotations

import numpy as np

from ..bound import (
    SUPPORT_RTOL,
    LPBound,
    ignored_constraints,
    lp_bound,
    lp_bound_builder,
    stopping_value,
)
from ..instance import Instance
from .formulation import Formulation

__all__ = ["LPBound", "build_lp_bound", "ignored_constraints", "lp_bound", "stopping_value"]
__all__ += ["SUPPORT_RTOL"]


def build_lp_bound(
    inst: Instance, use_budget: bool = True, committed: np.ndarray | None = None
) -> Formulation:
    """Build the LP bound as a `Formulation` (arrays for HiGHS, lazy Pyomo model).

    Variable blocks ``"pi"`` (purchase probability per customer) and ``"z"`` (expected visits
    to a product while unavailable), both indexed by product id; row blocks ``"balance"`` (one
    per product) and, when ``use_budget`` and the instance has a budget, ``"budget"``.
    ``info["products"]`` holds the positions of the products (all of them). There is no
    ``"stock"`` block: the bound has no stock variables (``Formulation.plan`` refuses it).

    Units: the objective is expected profit per season, ``T·Σ_i (price_i − cost_i)·π_i``, in
    the instance's currency. Raises nothing (the instance was checked when it was made).
    ``committed``: the bound over plans that keep that stock (`lp_bound_builder`).
    """
    b, has_budget = lp_bound_builder(inst, use_budget, committed)
    info = {
        "products": np.arange(inst.n),
        "customers": float(inst.customers_mean),
        "budget_row": has_budget,
    }
    return Formulation("lp_bound", b.build(), b.var_blocks, b.row_blocks, info=info)
