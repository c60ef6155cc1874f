"""Logic-based Benders prototype against the stock branch-and-bound, same instance, same limit.

Run: ``python benchmarks/bench_benders.py FAMILY N T K LIMIT [SEED] [-v]``; prints one line per
method (status, wall time, objective, bound, gap, iterations or nodes, cuts), run one after the
other in one process (models/stock_benders.md).
"""

from __future__ import annotations

import functools
import sys
import time

from assortopt.generators import generate
from assortopt.models.stock_benders import solve_stock_benders
from assortopt.models.stock_bnb import solve_stock_bnb
from assortopt.sampling import sample_streams


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "-v"]
    fam, n, t, k, lim = args[0], int(args[1]), int(args[2]), int(args[3]), float(args[4])
    seed = int(args[5]) if len(args) > 5 else 1
    inst = generate(fam, n, t, seed=seed)
    st = sample_streams(inst, k, seed)
    methods = (
        ("benders", solve_stock_benders),
        ("benders+nb", functools.partial(solve_stock_benders, neighbours=True)),
        ("bnb", solve_stock_bnb),
    )
    for name, f in methods:
        t0 = time.perf_counter()
        r = f(inst, st, time_limit=lim, verbose=name == "benders" and "-v" in sys.argv)
        print(
            name, r.status, f"{time.perf_counter() - t0:.1f}s", r.objective, r.bound, r.gap,
            r.nodes, r.extra.get("cuts"), flush=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
