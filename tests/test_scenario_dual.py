"""The scenario-decomposition (Lagrangian) bound is a valid bound on the SAA optimum.

Independent truth: the exhaustive SAA optimum (every plan of the box simulated on the same
scenarios). Claims: at every round the Lagrangian bound is ≥ that optimum (it is valid for
every multiplier, models/scenario_dual.md), the master LP's value (a relaxation that mixes
plans) is at most every Lagrangian bound (weak duality), and the best plan's reported value is
its simulated SAA value.
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_instance
from test_stock_bnb import exhaustive, saa

from assortopt.models.sample_path_mip import candidate_mask
from assortopt.models.scenario_dual import ScenarioDual
from assortopt.models.stock_bnb import StockProblem
from assortopt.sampling import sample_streams


@pytest.mark.parametrize("seed", range(3))
def test_scenario_dual_bound_is_valid(seed: int) -> None:
    inst = random_instance(3, seed=200 + seed, T=5, fixed=seed == 1)
    st = sample_streams(inst, 6, seed)
    cand = candidate_mask(inst, None, None)
    prob = StockProblem(inst, st, cand)
    hi = np.where(cand, prob.interested(), 0).astype(np.int64)
    lo = np.zeros(inst.n, np.int64)
    want, _ = exhaustive(inst, st, lo, hi)
    sd = ScenarioDual(prob, hi)
    res = sd.solve(lo, hi, [lo], rounds=8)
    assert res.bound >= want - 1e-6
    for _, master, lag in res.history:
        assert lag >= want - 1e-6
        assert master <= lag + 1e-6  # weak duality: the master LP is at most every bound
    assert res.best_value <= want + 1e-9
    assert res.best_value == pytest.approx(saa(inst, st, res.best_q), abs=1e-9)
