"""The exact sample-path SAA MIP: integer stock, customers replayed one by one.

For K sampled streams (preference lists per customer, in arrival order) choose integer stock q_i
to maximise the average profit of the *simulated* season: each customer buys the first product
of her list that still has a unit when she arrives. For fixed integer q the second stage has
exactly one feasible point, the simulator's outcome, customer by customer; so the optimum is the
exact SAA optimum. Write-up with proofs: models/sample_path_mip.md.

Two formulations share the data preparation (`prepare_pairs`):

* ``"bigm"``: the textbook model (binary buy ``y`` and available ``a`` per customer and list
  position, ``a ≤ B ≤ U·a`` on the units left ``B = q − earlier purchases``), kept for comparison.
* ``"strong"`` (default): unary stock ``w_iu = [q_i ≥ u]``, units-left variables ``left`` per
  (customer, product) updated along the product's interested customers, availability monotone
  along them, ``a_j ≥ w_ij`` (the j-th interested customer finds a unit if ≥ j were stocked),
  ``B_j ≤ Σ_{u≥j} w_u + min(j−1, U)·a_j`` instead of ``B ≤ U·a``, a sell-out only by a purchase
  (``a_{j+1} ≥ a_j − y_j``), continuous ``y`` (integral once ``a`` is), and identical scenarios
  merged with a weight.

Both honour ``max_products`` (``Σ z ≤ C``), ``budget`` (``Σ c q ≤ W``), fixed costs (``− Σ f z``)
and salvage (through r − v and c − v).

The package follows the jobs: `data` (reduction of the streams to the pairs the MIP needs),
`formulations` (the two models, one function per block of rows), `starts` (warm starts by
replaying a plan), `solve` (relaxation first, then the MIP).
"""

from __future__ import annotations

from .data import PairData, candidate_mask, prepare_pairs
from .formulations import (
    FORMULATIONS,
    UNIT_LEVEL_RATIO,
    build_sample_path_mip,
    unit_level_entries,
)
from .solve import solve_sample_path_mip
from .starts import complete_start, in_sample_profit, second_stage_purchases

__all__ = [
    "FORMULATIONS",
    "UNIT_LEVEL_RATIO",
    "PairData",
    "build_sample_path_mip",
    "candidate_mask",
    "complete_start",
    "in_sample_profit",
    "prepare_pairs",
    "second_stage_purchases",
    "solve_sample_path_mip",
    "unit_level_entries",
]
