"""Large generated instances: generate, validate (save + load) and LP bound times, in one run.

Issue 5 asks that a 10,000-product instance generates, validates and gets its LP bound in well
under a minute. Default: N = 10,000, T = 1,000 (most products in the long tail), Zipf α = 1,
families sparse (8 random substitutes per product), cluster and vertical. The LP bound is
solved twice: by HiGHS interior point + crossover on `build_lp_bound`'s arrays (an optimal
vertex, like simplex) and by `lp_bound()` itself (dual simplex), capped at ``--lp-cap`` seconds.
Timings are wall-clock on a shared machine: compare phases within one run.

    python benchmarks/bench_generate.py [--families sparse cluster] [--products 10000]
        [--customers 1000] [--seed 0] [--lp-cap 120]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assortopt.generators import generate
from assortopt.instance import load_instance, save_instance
from assortopt.models.lp_bound import build_lp_bound, lp_bound
from assortopt.solver import SolverOptions


def run(family: str, n: int, t: int, seed: int, lp_cap: float) -> dict[str, Any]:
    """Time each phase, printing it as soon as it is done."""
    out: dict[str, Any] = {}

    def done(phase: str, t0: float) -> None:
        out[phase] = time.perf_counter() - t0
        print(f"  {family}: {phase:<9} {out[phase]:8.2f} s", flush=True)

    t0 = time.perf_counter()
    inst = generate(family, n, t, seed)
    done("generate", t0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{family}.json"
        t0 = time.perf_counter()
        save_instance(inst, path)
        done("save", t0)
        out["file_mb"] = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        back = load_instance(path)
        done("load", t0)
    assert back.n == n and back.transitions.nnz == inst.transitions.nnz
    t0 = time.perf_counter()
    form = build_lp_bound(back)
    res = form.solve(SolverOptions(lp_method="ipm", highs={"run_crossover": "on"}), path="fast")
    done("lp_ipm", t0)
    out["ipm_value"] = float(res.objective) if res.objective is not None else float("nan")
    t0 = time.perf_counter()
    bound = lp_bound(back, SolverOptions(time_limit=lp_cap))
    done("lp_bound", t0)
    out["lp_value"] = bound.value
    out["lp_status"] = bound.status
    out["support"] = len(bound.assortment)
    out["long_tail_share"] = float(np.mean(t * inst.arrival < 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=["sparse", "cluster", "vertical"])
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--customers", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lp-cap", type=float, default=120.0, help="time limit of lp_bound (s)")
    args = ap.parse_args()
    print(f"N = {args.products}, T = {args.customers}, seed = {args.seed}", flush=True)
    rows = [
        (fam, run(fam, args.products, args.customers, args.seed, args.lp_cap))
        for fam in args.families
    ]
    print(
        f"{'family':<9} {'generate':>9} {'save':>7} {'load':>7} {'LP ipm':>8} {'lp_bound':>9}"
        f" {'MB':>6} {'|S*|':>6} {'T·λ<1':>6} {'ipm value':>11} {'lp_bound':>11}  status"
    )
    for fam, r in rows:
        print(
            f"{fam:<9} {r['generate']:>8.2f}s {r['save']:>6.2f}s {r['load']:>6.2f}s "
            f"{r['lp_ipm']:>7.2f}s {r['lp_bound']:>8.2f}s {r['file_mb']:>6.2f} "
            f"{r['support']:>6d} {r['long_tail_share']:>6.1%} {r['ipm_value']:>11.2f} "
            f"{r['lp_value']:>11.2f}  {r['lp_status']}"
        )
        ratio = r["lp_bound"] / max(r["lp_ipm"], 1e-9)
        print(f"          lp_bound / LP ipm time ratio: {ratio:.0f}x")


if __name__ == "__main__":
    main()
