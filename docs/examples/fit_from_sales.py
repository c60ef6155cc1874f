"""From sales records to a plan: fit the Markov chain, plan on it, evaluate under the truth.

A retailer's history is simulated from a known chain (the "truth"): days with a few products out
of stock, visits choosing by the truth's exact choice probabilities. It is written as a sessions
CSV plus a catalogue CSV — the files a planning team would have — then:

1. ``fit_markov_chain`` (the same as ``assortopt fit sessions.csv --catalogue products.csv
   --customers T --holdout 0.2 -o fitted.json``) fits the chain and reports how well it predicts
   held-out visits against MNL and independent demand;
2. the heuristic plans on the fitted chain and, for reference, on the truth;
3. both plans are simulated under the truth with common random numbers: the difference is what
   estimating the chain from data costs.

Run: ``python docs/examples/fit_from_sales.py [--small]``
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import assortopt
from assortopt.fit import sample_sales, summary
from assortopt.fit.data import write_sessions_csv


def main(small: bool = False) -> dict:
    n, visits, customers = (12, 6000, 60) if small else (40, 100000, 400)
    reps = 2000 if small else 20000
    truth = assortopt.generate("sparse", n, customers, seed=3, k=4)

    with tempfile.TemporaryDirectory() as tmp:
        sessions, catalogue = Path(tmp) / "sessions.csv", Path(tmp) / "products.csv"
        write_sessions_csv(sample_sales(truth, visits, seed=5), sessions)
        with open(catalogue, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "price", "cost"])
            w.writerows(zip(truth.ids, truth.price, truth.cost, strict=True))
        fitted, report = assortopt.fit_markov_chain(
            sessions, catalogue, customers, holdout=0.2, seed=0, progress=False
        )
    print(summary(report))
    ll = report["loglik"]
    # the chain predicts held-out visits better than the models without substitution
    assert ll["markov_chain"]["holdout"] > ll["independent"]["holdout"]

    plans = {
        "fitted": assortopt.solve(fitted, "heuristic", scenarios=50, seed=0, eval_reps=0).stock,
        "truth": assortopt.solve(truth, "heuristic", scenarios=50, seed=0, eval_reps=0).stock,
    }
    ev = {k: assortopt.simulate(truth, q, reps=reps, seed=7) for k, q in plans.items()}
    diff, se = assortopt.paired_difference(ev["fitted"], ev["truth"])
    print(
        f"profit under the truth: plan on fitted chain {ev['fitted'].mean:.2f}, "
        f"plan on truth {ev['truth'].mean:.2f} (difference {diff:.2f} ± {se:.2f})"
    )
    return {
        "fitted": fitted,
        "truth": truth,
        "report": report,
        "evaluations": ev,
        "diff": (diff, se),
    }


if __name__ == "__main__":
    main(small="--small" in sys.argv)
