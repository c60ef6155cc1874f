"""When a constraint alone leaves nothing to stock, say which one.

``max_products = 0``, or a budget below the cost of one unit of every product with a positive
margin, makes the empty plan the only (hence optimal) plan. Methods check this first, so the
message names the constraint instead of "no product is worth stocking", and the exact MIP never
builds a model without a single stock unit.
"""

from __future__ import annotations

import numpy as np

from ..instance import Instance

__all__ = ["constraint_empties"]


def constraint_empties(inst: Instance) -> str | None:
    """The sentence naming the constraint that forces the empty plan, or None if none does."""
    if inst.max_products == 0:
        return "max_products = 0: the constraint allows no product, so the plan is empty"
    worth = inst.price > inst.cost
    if not worth.any():
        return None
    if inst.budget is not None:
        cheapest = float(np.min(inst.cost[worth]))
        if cheapest > inst.budget + 1e-9:
            return (
                f"the budget {inst.budget:g} is below the cost of one unit of every product "
                f"with a positive margin (cheapest {cheapest:g}), so the plan is empty"
            )
    return None
