"""The ``heuristic`` method: end-to-end time and plan quality against the baselines, in one run.

(a) TIME: `assortopt.solve(inst, "heuristic", scenarios=K)` end to end (LP bound, S*, re-pooling,
    quantities, simulated rounding, the out-of-sample evaluation with 10,000 replications)
    on sparse Zipf instances with T = N, for N in --sizes and K in --scenarios. The phases are
    printed as shares of the total (timings on a shared machine are noisy; compare ratios),
    with the SAA-LP's own seconds and optimality gap (step 2 is the SAA-LP optimum to that gap
    unless "/fallback" is shown).
(b) QUALITY on several instance shapes: out-of-sample profit as % of the LP bound for heuristic,
    fluid, newsvendor, pooled-newsvendor, saa-lp-all and local-search from heuristic, all
    evaluated on the SAME simulated seasons (common random numbers; a seed independent of the
    planning seed), with the paired difference to the heuristic and its standard error.

``saa-lp-all`` solves the SAA-LP over the whole catalogue (monolithic: the decomposition's fast
oracle needs a pooled set); at N = 1,000 that LP does not solve in minutes with K = 100
(models/saa_lp.md), so it gets --saa-all-scenarios LP scenarios (default
2) and --saa-all-limit seconds; its rounding still uses K simulated seasons. A time-out is
reported as such.

    python benchmarks/bench_heuristic.py [--sizes 100 1000 10000] [--scenarios 10 100]
        [--shapes sparse cluster mnl] [--quality-n 1000] [--eval-reps 2000] [--skip-time]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assortopt.api import solve
from assortopt.generators import generate
from assortopt.methods import baselines, heuristic, local_search  # noqa: F401  (register)
from assortopt.methods.base import PlanRequest, get_method
from assortopt.models.lp_bound import lp_bound
from assortopt.simulation import simulate
from assortopt.solver import SolverOptions

SHAPES = {
    # name: (family, N, T, generator params)
    "sparse": ("sparse", 1000, 1000, {}),
    "cluster": ("cluster", 1000, 1000, {}),
    "mnl": ("mnl", 1000, 300, {}),
    "sparse-poisson-high": ("sparse", 1000, 1000, {"distribution": "poisson", "margin": "high"}),
}


def time_heuristic(sizes: list[int], ks: list[int], eval_reps: int) -> None:
    print("(a) heuristic end to end (sparse Zipf, T = N, fixed T)")
    print(
        f"{'N':>6} {'K':>4} {'total s':>8} {'bound':>6} {'plan':>6} {'eval':>6} {'saa s':>6} "
        f"{'saa gap':>8}  {'|S*|':>5} {'kept':>5} {'stocked':>7} quantities   % of bound"
    )
    for n in sizes:
        inst = generate("sparse", n, n, 0)
        for k in ks:
            sol = solve(inst, "heuristic", scenarios=k, seed=0, eval_reps=eval_reps)
            tm = sol.timings
            tot = tm["total_s"]
            e = sol.plan.extra
            pct = 100 * sol.evaluation.mean / sol.lp_bound
            gap = e.get("round1_saa_gap")
            qm = e["quantities"] + ("/fallback" if "round1_saa_fallback" in e else "")
            print(
                f"{n:>6} {k:>4} {tot:>8.2f} {tm['bound_s'] / tot:>6.0%} "
                f"{tm['plan_s'] / tot:>6.0%} {tm.get('evaluate_s', 0) / tot:>6.0%} "
                f"{e.get('round1_saa_s', 0.0):>6.2f} {'-' if gap is None else f'{gap:.1e}':>8}  "
                f"{e['s_star']:>5} {e['kept']:>5} {e['stocked']:>7} {qm:<12} "
                f"{pct:.1f}",
                flush=True,
            )


def quality(shapes: list[str], k: int, eval_reps: int, saa_k: int, saa_limit: float) -> None:
    print(f"\n(b) out-of-sample profit, % of LP bound; K = {k}; {eval_reps} common seasons")
    runs = [
        ("heuristic", "heuristic", {}, None),
        ("fluid", "fluid", {}, None),
        ("fluid-nearest", "fluid", {"rounding": "nearest"}, None),
        ("newsvendor", "newsvendor", {}, None),
        ("pooled-newsvendor", "pooled-newsvendor", {}, None),
        ("saa-lp-all", "saa-lp-all", {"lp_scenarios": saa_k}, saa_limit),
        ("local-search(heur.)", "local-search", {"start": "heuristic"}, None),
    ]
    for shape in shapes:
        fam, n, t, params = SHAPES[shape]
        inst = generate(fam, n, t, 1, **params)
        b = lp_bound(inst)
        print(
            f"\n{shape}: {fam}, N={n}, T={t} {params or ''}  LP bound {b.value:.1f}, "
            f"|S*| = {len(b.assortment)}"
        )
        print(
            f"  {'method':<20} {'% bound':>8} {'±se':>5} {'Δ vs heur. %':>13} {'±se':>5} "
            f"{'stocked':>7} {'units':>6} {'plan s':>7}"
        )
        base = None
        for label, name, p, limit in runs:
            req = PlanRequest(
                scenarios=k, seed=0, params=p, options=SolverOptions(time_limit=limit)
            )
            t0 = time.perf_counter()
            plan = get_method(name)(inst, req)
            dt = time.perf_counter() - t0
            if plan.status == "error":
                print(f"  {label:<20} failed: {plan.message} ({dt:.1f} s)")
                continue
            ev = simulate(inst, plan.stock, reps=eval_reps, seed=12345)
            prof = np.asarray(ev.profits, dtype=float)
            if base is None:
                base = prof
            d = prof - base
            se_d = d.std(ddof=1) / np.sqrt(len(d)) if np.any(d) else 0.0
            print(
                f"  {label:<20} {100 * ev.mean / b.value:>8.2f} {100 * ev.stderr / b.value:>5.2f}"
                f" {100 * d.mean() / b.value:>+13.2f} {100 * se_d / b.value:>5.2f} "
                f"{int((plan.stock > 0).sum()):>7} {int(plan.stock.sum()):>6} {dt:>7.1f}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--scenarios", type=int, nargs="+", default=[10, 100])
    ap.add_argument(
        "--shapes", nargs="+", default=["sparse", "cluster", "mnl"], choices=sorted(SHAPES)
    )
    ap.add_argument("--quality-k", type=int, default=100)
    ap.add_argument("--eval-reps", type=int, default=2000)
    ap.add_argument("--saa-all-scenarios", type=int, default=2)
    ap.add_argument("--saa-all-limit", type=float, default=60.0)
    ap.add_argument("--skip-time", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    a = ap.parse_args()
    if not a.skip_time:
        time_heuristic(a.sizes, a.scenarios, 10000)
    if not a.skip_quality:
        quality(a.shapes, a.quality_k, a.eval_reps, a.saa_all_scenarios, a.saa_all_limit)


if __name__ == "__main__":
    main()
