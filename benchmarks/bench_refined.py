"""The refined chain against the Blanchet–Gallego–Goyal chain (issue 17): for true models of the
truth families (latent-class MNL, nested logit, ranked lists), each chain's approximation error
on fresh random offer sets (max and mean |P(j|S) error, 100 sets never used in training) and the
profit under the truth of the heuristic's plan made on each chain (simulated under the true
model on common seeds). Also the refined chain's EM time and iterations.

    python benchmarks/bench_refined.py [--products 20] [--ratio 10] [--seeds 0 1] [--reps 4000]
                                       [--out benchmarks/results/refined.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from assortopt.api import solve
from assortopt.choice.approx import approximation_error
from assortopt.fit.refine import to_markov_chain
from assortopt.truth import truth_evaluation
from assortopt.truth_families import TRUTH_FAMILIES, generate_truth


def run(n: int, ratio: float, seeds: list[int], reps: int) -> list[dict]:
    rows = []
    for family in TRUTH_FAMILIES:
        for seed in seeds:
            bgg, model = generate_truth(family, n, ratio * n, seed)
            t0 = time.perf_counter()
            ref = to_markov_chain(
                model, bgg, bgg.customers_mean, bgg.customers_distribution,
                method="refined", seed=seed + 1000, max_products=bgg.max_products,
                budget=bgg.budget,
            )  # fmt: skip
            t_ref = time.perf_counter() - t0
            row = {"family": family, "N": n, "T": bgg.customers_mean, "seed": seed}
            for label, inst in (("bgg", bgg), ("refined", ref)):
                err = approximation_error(model, inst, n_sets=100, seed=seed + 5000)
                plan = solve(inst, "heuristic", seed=seed, eval_reps=0).plan.stock
                ev = truth_evaluation(inst, plan, model, reps=reps, seed=seed + 7)
                row[f"{label}_max_err"] = err["max_abs"]
                row[f"{label}_mean_err"] = err["mean_abs"]
                row[f"{label}_truth_profit"] = ev.mean
                row[f"{label}_truth_se"] = ev.stderr
            row["refined_seconds"] = t_ref
            row["refined_iterations"] = ref.metadata["refined"]["iterations"]
            rows.append(row)
            print(row, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    cols = [
        ("family", "{}"), ("N", "{}"), ("T", "{}"), ("seed", "{}"),
        ("bgg_max_err", "{:.3g}"), ("refined_max_err", "{:.3g}"),
        ("bgg_mean_err", "{:.3g}"), ("refined_mean_err", "{:.3g}"),
        ("bgg_truth_profit", "{:.2f}"), ("refined_truth_profit", "{:.2f}"),
        ("refined_truth_se", "{:.2f}"), ("refined_seconds", "{:.2f}"),
        ("refined_iterations", "{}"),
    ]  # fmt: skip
    out = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f.format(r[c]) for c, f in cols) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--ratio", type=float, default=10.0, help="customers T = ratio × N")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--reps", type=int, default=4000)
    ap.add_argument("--out", default=None, help="write the markdown table here")
    a = ap.parse_args()
    text = table(run(a.products, a.ratio, a.seeds, a.reps))
    print(text)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
