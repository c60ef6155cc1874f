"""Exact list sampling rates (issue 8): customers per second for each sampling method.

Chains:

* ``simopt-dynamnews``: the shipped ``instances/simopt-dynamnews.json`` (MNL-induced, utilities
  6..15, customers leave with probability about 2e-7 per step): target ≥ 1 million customers/s
  (the naive uncut walk measured about 6,600/s in MEASUREMENTS.md).
* ``sparse``: ``generate("sparse", 1000, 1000, seed)`` (8 substitutes per product, exit in
  [0.2, 0.5]): "auto" must not be slower than "walk" there.

Every method is exact (no step cap); the walk on the rare-exit chain is timed on fewer customers.
One core, best of ``--repeat`` runs; compare ratios within one run (shared machine).

    python benchmarks/bench_sampling.py [--customers 200000] [--walk-customers 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from assortopt.generators import generate
from assortopt.instance import Instance, load_instance
from assortopt.sampling import MarkovChainSampler

ROOT = Path(__file__).resolve().parents[1]


def rates(inst: Instance, plan: list[tuple[str, int]], repeat: int, per_scenario: int) -> dict:
    """Best-of-``repeat`` customers/s per method; methods interleaved (alternating order) so
    machine-load drift does not favour one of them."""
    samplers = {m: MarkovChainSampler(inst, method=m) for m, _ in plan}
    counts = {m: np.full(max(1, n // per_scenario), per_scenario) for m, n in plan}
    for m, s in samplers.items():
        s.sample_lists(counts[m][:1], 0)  # warm up / load the numba cache
    best = {m: float("inf") for m in samplers}
    out = {}
    for r in range(repeat):
        order = list(samplers) if r % 2 == 0 else list(samplers)[::-1]
        for m in order:
            t0 = time.perf_counter()
            st = samplers[m].sample_lists(counts[m], r + 1)
            best[m] = min(best[m], time.perf_counter() - t0)
            out[m] = (st.n_customers, st.list_lengths.mean(), samplers[m].method)
    return {m: (n / best[m], mean_len, used, n) for m, (n, mean_len, used) in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--walk-customers", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    news = load_instance(ROOT / "instances" / "simopt-dynamnews.json")
    sparse = generate("sparse", 1000, 1000, a.seed, k=8, leave=[0.2, 0.5])
    n = a.customers
    cases = [
        (
            "simopt-dynamnews",
            news,
            30,
            [
                ("auto", n),
                ("mnl", n),
                ("jump", n // 4),
                ("hybrid", n // 4),
                ("walk", a.walk_customers),
            ],
        ),
        ("sparse-1000", sparse, 1000, [("auto", 5 * n), ("walk", 5 * n), ("jump", n)]),
    ]
    print(
        f"{'chain':<18}{'method':<9}{'runs as':<9}{'customers':>11}{'mean len':>10}"
        f"{'customers/s':>15}"
    )
    table: dict[tuple[str, str], float] = {}
    for name, inst, per, plan in cases:
        for method, (r, mean_len, used, count) in rates(inst, plan, a.repeat, per).items():
            table[(name, method)] = r
            print(f"{name:<18}{method:<9}{used:<9}{count:>11,}{mean_len:>10.2f}{r:>15,.0f}")
    news_speedup = table[("simopt-dynamnews", "auto")] / table[("simopt-dynamnews", "walk")]
    sparse_ratio = table[("sparse-1000", "auto")] / table[("sparse-1000", "walk")]
    print(
        f"simopt-dynamnews: auto / walk = {news_speedup:,.0f}x "
        f"(target: auto >= 1,000,000 customers/s)"
    )
    print(f"sparse-1000: auto / walk = {sparse_ratio:.2f} (must not be below ~1)")


if __name__ == "__main__":
    main()
