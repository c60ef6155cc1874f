"""SAA-LP solve time: the decomposition (solve_saa_lp default) vs monolithic HiGHS, in one run.

Sparse heavy-tailed instances (`generate("sparse", N, N, 1)`: Zipf arrivals, 8 substitutes per
product, T = N), counts sampled on the product set S (`first_choice_counts`). Two sets: S* (the LP
bound's assortment) and "kept" (S* after the heuristic's long-tail re-pooling, the set the
`heuristic` method solves the SAA-LP on). The monolithic solve (dual simplex on the sparse
pass-through form, `method="monolithic"`) is capped at --cap seconds; when it hits the cap the
ratio is printed as ">= cap / decomposition time". --others adds HiGHS IPM (no crossover) and PDLP
on the same sparse LP, for comparison only (their objective is printed; PDLP is not exact).

    python benchmarks/bench_saa_lp.py [--sizes 100 1000] [--scenarios 10 100] [--cap 60]
        [--sets kept star] [--others pdlp ipm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assortopt.generators import generate
from assortopt.methods.heuristic import prune_tail
from assortopt.models.lp_bound import lp_bound
from assortopt.models.saa_lp import build_saa_lp, solve_saa_lp
from assortopt.models.scenario_data import first_choice_counts
from assortopt.solver import SolverOptions, highs_from_lp


def other_method(inst, d, mask, meth: str, cap: float) -> tuple[float, str]:
    """Seconds and objective (or status) of HiGHS ``meth`` on the sparse monolithic LP."""
    f = build_saa_lp(inst, d, mask, chain="full")
    extra = {"run_crossover": "off"} if meth == "ipm" else {}
    h = highs_from_lp(f.lp, SolverOptions(time_limit=cap, lp_method=meth, highs=extra))
    t = time.perf_counter()
    h.run()
    dt = time.perf_counter() - t
    st = h.modelStatusToString(h.getModelStatus())
    if st != "Optimal":
        return dt, f"{st}"
    return dt, f"{h.getInfo().objective_function_value:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--scenarios", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--sets", nargs="+", default=["kept", "star"], choices=["kept", "star"])
    ap.add_argument("--others", nargs="*", default=[], choices=["pdlp", "ipm"])
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    opts = SolverOptions(time_limit=a.cap)
    print(
        f"{'N':>6} {'set':>5} {'|S|':>5} {'K':>4} {'dec s':>7} {'mono s':>7} {'ratio':>8} "
        f"{'dec obj':>12} {'mono obj':>12} {'gap':>8} {'iters':>5} {'exact':>5}",
        flush=True,
    )
    for n in a.sizes:
        inst = generate("sparse", n, n, 1)
        star = np.asarray(lp_bound(inst).offered, bool)
        sets = {"star": star, "kept": prune_tail(inst, star).keep}
        for name in a.sets:
            mask = sets[name]
            for k in a.scenarios:
                d = first_choice_counts(inst, mask, k, 0)
                t = time.perf_counter()
                dec = solve_saa_lp(inst, d, mask, opts, tol=a.tol)
                td = time.perf_counter() - t
                t = time.perf_counter()
                mono = solve_saa_lp(inst, d, mask, opts, method="monolithic")
                tm = time.perf_counter() - t
                capped = mono.status != "optimal"
                ratio = f"{'>=' if capped else ''}{tm / td:.1f}"
                mo = "capped" if capped else f"{mono.objective:12.4f}"
                st = dec.extra.get("stats")
                print(
                    f"{n:>6} {name:>5} {int(mask.sum()):>5} {k:>4} {td:7.2f} {tm:7.2f} "
                    f"{ratio:>8} {dec.objective:12.4f} {mo:>12} {dec.extra['gap']:8.1e} "
                    f"{dec.iterations:>5} {0 if st is None else st.exact_solves:>5}",
                    flush=True,
                )
                for meth in a.others:
                    dt, res = other_method(inst, d, mask, meth, a.cap)
                    print(f"{'':>20} {meth}: {dt:.2f} s, {res}", flush=True)


if __name__ == "__main__":
    main()
