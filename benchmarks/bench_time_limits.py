"""Time limits hold: planning wall time of every method under ``--time-limit L``, over L.

For every registered method × limit L in --limits × shipped instance with at most --max-n
products, runs ``assortopt.solve(inst, method, time_limit=L, eval_reps=0)`` in this process and
prints the planning wall time (``timings.plan_s``: the method's own work, warm starts, LP
relaxations and rounding included; the solution file's LP bound and evaluation are not planning)
over L, with the status and termination. The rule (README.md, "Time limits"): wall ≤ L +
max(0.1·L, 2 s). Rows breaking it are marked OVER; the worst wall/L and the worst excess over
the allowance are printed at the end. A warm-up solve runs first, so numba compilation is not
counted. Timings on a shared machine are noisy: read the ratios of one run.

    python benchmarks/bench_time_limits.py [--limits 0.01 1 20] [--max-n 1000]
        [--methods heuristic mip ...] [--instances chocolate sparse-n1000-t1000 ...] [-k 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from assortopt.api import solve
from assortopt.instance import load_instance
from assortopt.methods.base import list_methods

ROOT = Path(__file__).resolve().parents[1]


def allowance(limit: float) -> float:
    """The wall time `solve` may take under ``--time-limit limit``."""
    return limit + max(0.1 * limit, 2.0)


def shipped(max_n: int, names: list[str] | None) -> list[Path]:
    out = []
    for p in sorted((ROOT / "instances").glob("*.json")):
        if p.name.endswith(".online.json"):
            continue  # a ground-truth model, not an instance
        if names and p.stem not in names:
            continue
        if load_instance(p).n <= max_n:
            out.append(p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limits", type=float, nargs="+", default=[0.01, 1.0, 20.0])
    ap.add_argument("--max-n", type=int, default=1000)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--instances", nargs="+", default=None, help="file stems (default: all)")
    ap.add_argument("-k", "--scenarios", type=int, default=100)
    a = ap.parse_args()
    methods = a.methods or list(list_methods())
    files = shipped(a.max_n, a.instances)
    warm = load_instance(ROOT / "instances" / "chocolate.json")
    for m in methods:  # compile the numba kernels once, outside the measurements
        solve(warm, m, scenarios=5, eval_reps=0, time_limit=5.0)
    print(
        f"{'instance':24s} {'method':18s} {'limit':>7s} {'wall':>8s} {'wall/L':>8s} "
        f"{'status':>10s} {'termination':>14s}"
    )
    worst_ratio, worst_excess, over = 0.0, -float("inf"), 0
    for path in files:
        inst = load_instance(path)
        for m in methods:
            for lim in a.limits:
                t0 = time.perf_counter()
                try:
                    sol = solve(inst, m, scenarios=a.scenarios, eval_reps=0, time_limit=lim)
                    wall = sol.timings["plan_s"]
                    status, term = sol.status, sol.plan.termination.value
                except Exception as exc:  # noqa: BLE001  (a crash is a finding: print it)
                    wall = time.perf_counter() - t0
                    status, term = "CRASH", type(exc).__name__
                excess = wall - allowance(lim)
                flag = "  OVER" if excess > 0 else ""
                over += excess > 0
                worst_ratio = max(worst_ratio, wall / lim)
                worst_excess = max(worst_excess, excess)
                print(
                    f"{path.stem:24s} {m:18s} {lim:7.2f} {wall:8.2f} {wall / lim:8.1f} "
                    f"{status:>10s} {term:>14s}{flag}",
                    flush=True,
                )
    print(
        f"\nworst wall/L {worst_ratio:.1f}; worst excess over L + max(0.1 L, 2 s): "
        f"{worst_excess:+.2f} s; {over} run(s) over the allowance",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
