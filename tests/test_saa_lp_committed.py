"""The SAA-LP around committed stock: the L-shaped decomposition (`solve_saa_lp(...,
committed=...)`, what the heuristic and the waves use) against the monolithic HiGHS solve of
the same LP with the stock columns fixed (`fix_committed`), the independent truth: same value,
the committed units kept exactly, and the decomposition's stock optimal in the monolithic LP."""

from __future__ import annotations

import numpy as np
import pytest

from assortopt.commitment import FREE
from assortopt.models.committed import fix_committed
from assortopt.models.formulation import Formulation
from assortopt.models.saa_lp import build_saa_lp, solve_saa_lp
from tests.test_saa_lp import random_instance, stopping_value


@pytest.mark.parametrize(
    "n,k_count,seed,salvage,budget,restrict,share",
    [
        (12, 5, 0, False, None, True, 0.3),
        (40, 20, 1, True, None, True, 0.5),
        (60, 30, 2, False, 150.0, True, 0.2),
        (30, 15, 3, True, 60.0, False, 0.4),
        (50, 10, 4, False, None, True, 1.0),
    ],
)
def test_committed_decomposition_equals_monolithic(
    n, k_count, seed, salvage, budget, restrict, share
):
    inst = random_instance(n, seed, salvage=salvage, budget=budget, T=n, poisson=bool(seed % 2))
    rng = np.random.default_rng(seed + 7)
    mask = np.ones(n, bool)
    if restrict:  # S* plus a few products outside it (committed ones need not be in S*)
        v = stopping_value(inst)
        mask = ((inst.margin > 0) & (v <= inst.margin + 1e-12)) | (rng.random(n) < 0.2)
    pos = np.flatnonzero(mask)
    committed = np.full(n, FREE, np.int64)
    pick = pos[rng.random(len(pos)) < share]
    committed[pick] = rng.integers(0, 4, len(pick))  # some at 0 units, some above any demand
    if budget is not None:  # keep the commitment inside the budget
        while inst.cost @ np.maximum(committed, 0) > 0.7 * budget:
            committed[np.flatnonzero(committed > 0)[0]] -= 1
    d = rng.poisson(1.5, size=(k_count, len(pos))) * (rng.random((k_count, len(pos))) < 0.5)
    mono = solve_saa_lp(inst, d, mask, method="monolithic", committed=committed)
    dec = solve_saa_lp(inst, d, mask, method="decomposition", tol=1e-7, committed=committed)
    assert mono.status == dec.status == "optimal"
    assert dec.objective == pytest.approx(mono.objective, rel=1e-6, abs=1e-6)
    assert dec.extra["bound"] >= mono.objective - 1e-6 * max(1.0, abs(mono.objective))
    fixed = committed >= 0
    np.testing.assert_array_equal(dec.stock_frac[fixed], committed[fixed])
    np.testing.assert_array_equal(mono.stock_frac[fixed], committed[fixed])
    assert np.all(dec.stock_frac[~mask] == 0)
    if budget is not None:
        assert inst.cost @ dec.stock_frac <= budget + 1e-6
    # the decomposition's plan is optimal: fix all stock at it in the monolithic LP
    f = fix_committed(build_saa_lp(inst, d, mask, chain="full"), committed)
    cols = f.var_blocks["stock"].cols
    f.lp.col_lo[cols] = f.lp.col_hi[cols] = dec.stock_frac[f.info["products"]]
    at_plan = Formulation("at-plan", f.lp, f.var_blocks, f.row_blocks, f.info).solve()
    assert at_plan.objective == pytest.approx(mono.objective, rel=1e-6, abs=1e-6)
    # without the commitment the optimum is at least as good (a commitment only constrains)
    free = solve_saa_lp(inst, d, mask, method="monolithic")
    assert free.objective >= mono.objective - 1e-7 * max(1.0, abs(mono.objective))


def test_committed_product_outside_s_is_refused():
    inst = random_instance(10, 0)
    mask = np.zeros(10, bool)
    mask[:5] = True
    committed = np.full(10, FREE, np.int64)
    committed[7] = 2
    d = np.ones((3, 5))
    from assortopt.exceptions import OptionError

    with pytest.raises(OptionError, match="position 7"):
        solve_saa_lp(inst, d, mask, committed=committed)
