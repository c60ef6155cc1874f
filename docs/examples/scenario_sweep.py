"""Sweep the number of scenarios K: the SAA plans' out-of-sample profit converges.

For each K two SAA plans are made on K sampled seasons: the exact sample-path SAA MIP (method
``mip``; it replays every customer, so it stays at modest K) and the ``heuristic`` (pooling +
the SAA-LP, cheap at large K). Every plan is then simulated on the same out-of-sample customers
(common random numbers). Small K over-fits its few seasons; as K grows the plans settle and
their true profit levels off below the LP bound. The plot (matplotlib, Agg backend: no display
needed) shows mean ± 2 se per K.

Run: ``python docs/examples/scenario_sweep.py [--small] [--out PATH]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import assortopt  # noqa: E402
from assortopt.simulation import paired_difference  # noqa: E402


def main(small: bool = False, out: str | Path = "scenario_sweep.png") -> dict[str, dict]:
    if small:
        inst = assortopt.generate("sparse", 5, 8, seed=2, k=2)
        sweeps = {"mip": (2, 5, 10, 20), "heuristic": (2, 5, 10, 20, 50)}
        reps = 3000
    else:
        inst = assortopt.generate("sparse", 8, 15, seed=2, k=2)
        sweeps = {"mip": (2, 5, 10, 20, 50), "heuristic": (2, 5, 10, 20, 50, 100, 200, 500)}
        reps = 20000
    evals: dict[str, dict] = {}
    for method, ks in sweeps.items():
        evals[method] = {}
        for k in ks:
            sol = assortopt.solve(
                inst, method, scenarios=k, seed=0, eval_reps=reps, eval_seed=777, time_limit=120
            )
            ev = evals[method][k] = sol.evaluation
            line = f"out-of-sample {ev.mean:7.3f} ± {ev.stderr:.3f}"
            print(f"  {method:9s} K={k:4d}  stock {sol.stock.tolist()}  {line}")
    bound = sol.lp_bound

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for method, by_k in evals.items():
        ks = list(by_k)
        means = [by_k[k].mean for k in ks]
        errs = [2 * by_k[k].stderr for k in ks]
        ax.errorbar(ks, means, yerr=errs, marker="o", capsize=3, label=method)
    ax.axhline(bound, color="grey", linestyle="--", label="LP bound")
    all_ks = sorted({k for by_k in evals.values() for k in by_k})
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.set_xlabel("scenarios K")
    ax.set_ylabel("expected profit per season")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    print(f"plot written to {out}")

    # Checks that could fail: for each method the largest K is within 2 paired standard errors
    # of its best K, and no plan's simulated profit exceeds the LP bound by 3 standard errors.
    for method, by_k in evals.items():
        ks = list(by_k)
        best = max(ks, key=lambda k: by_k[k].mean)
        d, se = paired_difference(by_k[best], by_k[ks[-1]])
        assert d <= 2 * se + 1e-9, (method, best, ks[-1], d, se)
        for k in ks:
            assert by_k[k].mean <= bound + 3 * by_k[k].stderr, (method, k)
    return evals


if __name__ == "__main__":
    args = sys.argv[1:]
    path = args[args.index("--out") + 1] if "--out" in args else "scenario_sweep.png"
    main(small="--small" in args, out=path)
