"""Nodes per second of the stock branch-and-bound with one and two workers, in one run.

The two-worker search is the same search node for node (tests/test_stock_bnb.py,
`test_two_workers_run_the_same_search`), so the ratio of nodes per second is the whole effect.
Each family's seed-1 instance (N = 10, T = 50 by default), K scenarios, `solve_stock_bnb` with
no warm start, stopped at a fixed node count; the two runs alternate, best of ``--repeat``.

    python benchmarks/bench_bnb_workers.py [--nodes 40000] [--repeat 2] [--n 10 --t 50 --k 50]
"""

from __future__ import annotations

import argparse
import os
import time

from assortopt.generators import generate
from assortopt.models.stock_bnb import solve_stock_bnb
from assortopt.sampling import sample_streams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=40000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--t", type=int, default=50)
    ap.add_argument("--k", type=int, default=50)
    a = ap.parse_args()
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}")
    print(f"{'family':<7} {'nodes':>7} {'1 worker s':>10} {'2 workers s':>11} {'speed-up':>8}")
    for fam in ("dense", "mnl", "sparse"):
        inst = generate(fam, a.n, a.t, seed=1)
        st = sample_streams(inst, a.k, 1)
        solve_stock_bnb(inst, st, max_nodes=50, workers=2)  # compile outside the clock
        best = {1: float("inf"), 2: float("inf")}
        nodes = 0
        for _ in range(a.repeat):
            for w in (1, 2):
                t0 = time.perf_counter()
                r = solve_stock_bnb(inst, st, max_nodes=a.nodes, workers=w)
                best[w] = min(best[w], time.perf_counter() - t0)
                nodes = r.nodes
        print(
            f"{fam:<7} {nodes:>7} {best[1]:>10.2f} {best[2]:>11.2f} {best[1] / best[2]:>8.2f}",
            flush=True,
        )
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
