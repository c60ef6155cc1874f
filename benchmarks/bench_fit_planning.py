"""What estimating the chain costs the plan: planning loss against the number of visits n.

For each seed a truth chain (``generate("sparse", N, T, seed, k=4)``), n visits sampled from it
with stock-out-driven offer sets (`assortopt.fit.sample_sales`), the chain fitted
(`fit_markov_chain`, default shrinkage), the heuristic planned on the fitted chain and on the
truth, and both plans simulated under the truth with common random numbers. Printed and written
(``--output`` directory: ``results.csv``, ``loss.png``): the loss (truth plan − fitted plan
profit under the truth, % of the truth plan's profit, paired standard error), the held-out
log-likelihood gap to the truth, and the soft RMSE on unseen offer sets.

    python benchmarks/bench_fit_planning.py [--products 100] [--customers 1000]
        [--visits 1000 10000 100000 1000000] [--seeds 3] [--output benchmarks/results/fit]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import assortopt
from assortopt.fit import fit_markov_chain, sample_sales, soft_rmse
from assortopt.fit.em import ChainParams, loglik
from assortopt.fit.synthetic import random_offer_sets

_TRUTH_PLANS: dict[tuple[int, int, int], object] = {}


def run(n: int, customers: int, visits: int, seed: int, reps: int) -> dict:
    truth = assortopt.generate("sparse", n, customers, seed=seed, k=4)
    data = sample_sales(truth, visits, seed=1000 + seed)
    held = sample_sales(truth, 20000, seed=2000 + seed)
    cat = [
        {"id": p, "price": float(a), "cost": float(b)}
        for p, a, b in zip(truth.ids, truth.price, truth.cost, strict=True)
    ]
    t = time.perf_counter()
    fitted, rep = fit_markov_chain(data, cat, customers, holdout=held, progress=False)
    fit_s = time.perf_counter() - t
    q_fit = assortopt.solve(fitted, "heuristic", scenarios=100, seed=0, eval_reps=0).stock
    key = (n, customers, seed)
    if key not in _TRUTH_PLANS:  # the truth's plan does not depend on n
        _TRUTH_PLANS[key] = assortopt.solve(truth, "heuristic", scenarios=100, seed=0, eval_reps=0)
    q_true = _TRUTH_PLANS[key].stock  # type: ignore[attr-defined]
    ev_f = assortopt.simulate(truth, q_fit, reps=reps, seed=7)
    ev_t = assortopt.simulate(truth, q_true, reps=reps, seed=7)
    d, se = assortopt.paired_difference(ev_t, ev_f)
    unseen = []
    for out in random_offer_sets(truth, 30, np.random.default_rng(seed), mean_out=4):
        m = np.ones(n, dtype=bool)
        m[out] = False
        unseen.append(m)
    truth_held = loglik(ChainParams.from_chain(truth.arrival, truth.transitions), held)
    return {
        "products": n,
        "customers": customers,
        "visits": visits,
        "seed": seed,
        "fit_s": round(fit_s, 3),
        "e_steps": rep["iterations"],
        "truth_profit": ev_t.mean,
        "fitted_plan_profit": ev_f.mean,
        "loss": d,
        "loss_se": se,
        "loss_pct": 100 * d / ev_t.mean,
        "heldout_ll_gap": truth_held / held.n_visits - rep["loglik"]["markov_chain"]["holdout"],
        "soft_rmse": soft_rmse(fitted, truth, np.array(unseen)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=100)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--visits", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--output", default=None)
    a = ap.parse_args()
    rows = []
    for v in a.visits:
        for s in range(a.seeds):
            r = run(a.products, a.customers, v, s, a.reps)
            rows.append(r)
            se_pct = 100 * r["loss_se"] / r["truth_profit"]
            print(
                f"n={v:>8} seed={s} loss {r['loss_pct']:6.2f}% (±{se_pct:.2f}) "
                f"held-out ll gap {r['heldout_ll_gap']:.5f} soft RMSE {r['soft_rmse']:.5f} "
                f"fit {r['fit_s']:.1f} s",
                flush=True,
            )
    print("\nmean over seeds:")
    for v in a.visits:
        sub = [r for r in rows if r["visits"] == v]
        print(
            f"n={v:>8}: loss {np.mean([r['loss_pct'] for r in sub]):6.2f}%, soft RMSE "
            f"{np.mean([r['soft_rmse'] for r in sub]):.5f}, held-out ll gap "
            f"{np.mean([r['heldout_ll_gap'] for r in sub]):.5f}"
        )
    if a.output:
        out = Path(a.output)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "results.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
        for key, axis, label in (
            ("loss_pct", ax[0], "planning loss, % of truth plan"),
            ("soft_rmse", ax[1], "soft RMSE, unseen offer sets"),
        ):
            means = [np.mean([r[key] for r in rows if r["visits"] == v]) for v in a.visits]
            axis.plot(a.visits, means, "o-")
            axis.set_xscale("log")
            if key == "soft_rmse":
                axis.set_yscale("log")
            axis.set_xlabel("visits n")
            axis.set_ylabel(label)
            axis.grid(alpha=0.3)
        fig.suptitle(f"fitted chain, N = {a.products}, T = {a.customers}")
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=120)
        print(f"wrote {out / 'results.csv'} and {out / 'loss.png'}")


if __name__ == "__main__":
    main()
