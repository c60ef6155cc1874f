"""Plan under the calibrated Markov chain, evaluate under the multi-step online ground truth.

`generate_online` draws a search → examination → MNL choice model (the "truth") and the Markov
chain calibrated to it (the instance every method plans on). ``assortopt generate online ... -o
X.json`` writes the same pair to disk (``X.json`` and ``X.online.json``); `load_ground_truth`
reads the model back. The truth samples customers as preference lists, so `simulate` evaluates
any plan under it exactly (``sampler=truth``); the benchmark's ``truth_*`` columns do the same.

We compare the MC-planned ``mip`` and ``heuristic`` plans with an "oracle" SAA plan that was
planned on customers drawn from the truth itself: the gap is what calibration costs.

Run: ``python docs/examples/online_ground_truth.py [--small]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import assortopt
from assortopt.choice.online_io import load_ground_truth, write_generated
from assortopt.generators import generate_online
from assortopt.models import build
from assortopt.models.sample_path_mip import complete_start
from assortopt.simulation import paired_difference, simulate, simulate_stream


def main(small: bool = False) -> dict[str, dict[str, float]]:
    n, customers, scenarios = (10, 15, 10) if small else (20, 50, 20)
    reps = 2000 if small else 20000
    inst, truth = generate_online(n, customers, seed=4, samples=20000)

    # The files `assortopt generate online` writes, read back (the usual way in).
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "online.json"
        write_generated(inst, path, truth)
        inst = assortopt.load_instance(path)
        truth = load_ground_truth(inst)  # aligned to the instance's product order
    tv = inst.metadata["calibration"]["error"]["max_tv"]  # worst total variation on test sets
    print(f"online instance: {n} products, {customers} customers; calibration error TV {tv:.4f}")

    # 1. plans made on the calibrated Markov chain (what any method sees)
    options = assortopt.SolverOptions(time_limit=120)
    plans = {
        m: assortopt.solve(inst, m, scenarios=scenarios, seed=0, eval_reps=0, options=options).stock
        for m in ("heuristic", "mip")
    }
    # 2. the oracle: the same sample-path MIP, on customers drawn from the truth
    truth_streams = assortopt.sample_streams(inst, scenarios, 0, sampler=truth)
    oracle = build("sample_path_mip", inst, truth_streams)
    start = complete_start(oracle, inst, plans["mip"])  # warm start: the MC plan, replayed
    # presolve off as method "mip" does; a time-limited solve never returns worse than the start
    fast = assortopt.SolverOptions(time_limit=120, highs={"presolve": "off"})
    res = oracle.solve(fast, start=start)
    plans["oracle"] = oracle.plan(res).stock
    assert res.bound is not None, res.summary()

    # 3. evaluate every plan under both models, common random numbers within each model
    out: dict[str, dict[str, float]] = {}
    ev_truth = {m: simulate(inst, q, reps=reps, seed=7, sampler=truth) for m, q in plans.items()}
    for m, q in plans.items():
        ev_mc = simulate(inst, q, reps=reps, seed=7)
        d, se = paired_difference(ev_truth[m], ev_truth["oracle"])
        out[m] = {"mc": ev_mc.mean, "truth": ev_truth[m].mean, "vs_oracle": d, "se": se}
        print(
            f"  {m:9s} {int(q.sum()):4d} units on {int((q > 0).sum()):3d} products: "
            f"MC says {ev_mc.mean:7.2f}, truth says {ev_truth[m].mean:7.2f} ± "
            f"{ev_truth[m].stderr:.2f}; vs oracle {d:+.2f} ± {se:.2f}"
        )

    # Checks that could fail: the oracle's proven bound caps every plan on the truth's streams
    # (no MC plan beats the exact SAA optimum there); its objective is its plan's simulated value.
    for m, q in plans.items():
        val = float(simulate_stream(inst, q, truth_streams).profits.mean())
        assert val <= res.bound + 1e-6, (m, val, res.bound)
    assert (
        abs(
            float(simulate_stream(inst, plans["oracle"], truth_streams).profits.mean())
            - res.objective
        )
        < 1e-6
    )
    return out


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
