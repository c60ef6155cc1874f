"""Solve the chocolate instance four ways and compare the plans by simulation.

Methods: ``heuristic`` (pooling + SAA-LP), ``mip`` (exact sample-path SAA MIP), ``spill-mip``
(fluid spill, integer stock) and ``fluid`` (the LP bound's deterministic plan). Every plan is
simulated on the *same* customers (same evaluation seed: common random numbers), so the paired
differences have a much smaller standard error than the difference of two independent means.

Run: ``python docs/examples/chocolate_four_ways.py [--small]``
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

import assortopt
from assortopt.simulation import paired_difference, simulate_stream

INSTANCE = Path(__file__).resolve().parents[2] / "instances" / "chocolate.json"
METHODS = ("heuristic", "mip", "spill-mip", "fluid")


def main(small: bool = False) -> dict[str, assortopt.Solution]:
    inst = assortopt.load_instance(INSTANCE)
    scenarios = 10 if small else 30  # the MIP replays every customer: K=30 takes a minute or two
    reps = 2000 if small else 20000
    seed, eval_seed = 0, 12345  # one evaluation seed for all plans = common random numbers

    sols = {
        m: assortopt.solve(
            inst,
            m,
            scenarios=scenarios,
            seed=seed,
            eval_reps=reps,
            eval_seed=eval_seed,
            time_limit=300,
        )
        for m in METHODS
    }
    bound = sols["heuristic"].lp_bound
    print(f"{inst.name}: LP bound {bound:.2f}, K={scenarios}, {reps} evaluation seasons")
    for m, s in sols.items():
        ev = s.evaluation
        line = f"profit {ev.mean:8.2f} ± {ev.stderr:.2f}  status {s.status}"
        print(f"  {m:10s} stock {inst.stock_dict(s.stock)}  {line}")

    # Paired differences against the exact SAA plan (same customers for both plans).
    ref = sols["mip"].evaluation
    for m in METHODS:
        if m == "mip":
            continue
        ev = sols[m].evaluation
        d, se = paired_difference(ev, ref)
        unpaired = math.hypot(ev.stderr, ref.stderr)
        print(f"  {m:10s} - mip = {d:7.2f} ± {se:.2f} (paired; {unpaired:.2f} if independent)")
        if not np.array_equal(ev.stock, ref.stock):
            assert se < unpaired, "common random numbers should reduce the variance"

    # Checks that could fail:
    # 1. every plan respects the shelf (max 2 bars) and the 400 budget;
    for m, s in sols.items():
        assert (s.stock > 0).sum() <= inst.max_products, m
        assert float(inst.cost @ s.stock) <= inst.budget + 1e-9, m
    # 2. the MIP is exact on its own scenarios: no plan does better there (up to its gap).
    stream = assortopt.sample_streams(inst, scenarios, seed)  # the MIP's planning streams
    mip = sols["mip"].plan
    for m, s in sols.items():
        in_sample = float(simulate_stream(inst, s.stock, stream).profits.mean())
        assert in_sample <= mip.bound + 1e-6, (m, in_sample, mip.bound)
        assert in_sample <= mip.objective + (mip.gap or 0.0) * abs(mip.objective) + 1e-6, m
    assert (
        abs(float(simulate_stream(inst, mip.stock, stream).profits.mean()) - mip.objective) < 1e-6
    )
    return sols


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
