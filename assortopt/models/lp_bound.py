"""The LP upper bound on expected profit (Feldman & Topaloglu's assortment LP with margins).

    max  T · Σ_i m_i π_i
    s.t. π_i + z_i − Σ_j ρ_ji z_j = λ_i     (balance, every product i)
         T · Σ_i c_i π_i ≤ W                 (budget, only when the instance has one)
         π, z ≥ 0

m = price − cost, T = E[customers]. Every plan's expected profit is at most the optimum, and
the support of π at an optimal vertex is an optimal single-customer assortment S*. The
validity conditions and the proof sketch are in models/lp_bound.md.
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
