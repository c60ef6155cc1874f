"""Timing of choice probabilities, the reduced chain and the LP bound on a large sparse instance.

    python benchmarks/bench_bound.py [--n 10000] [--k 8] [--seed 0] [--pyomo-n 2000]

Prints wall times (noisy on a shared machine) and the Pyomo / fast-path ratio measured in the
same run. The instance: N products, k random neighbours each, Zipf first-choice demand
(`assortopt.generators.generate("sparse", ...)` when available, else built inline).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from assortopt.choice.mc import choice_probabilities, reduced_chain
from assortopt.instance import Instance
from assortopt.models.lp_bound import build_lp_bound, lp_bound
from assortopt.solver import SolverOptions


def make_instance(n: int, k: int, seed: int) -> Instance:
    try:
        from assortopt.generators import generate

        return generate("sparse", n, 1000, seed, k=k, tail="zipf")
    except ImportError:
        # inline fallback: k random neighbours, Exp(1) split, exit U[0.1, 0.5], Zipf(1) arrivals
        rng = np.random.default_rng(seed)
        rows = np.repeat(np.arange(n), k)
        cols = rng.integers(0, n - 1, n * k)
        cols = cols + (cols >= rows)
        rho = sp.csr_array((rng.exponential(1.0, n * k), (rows, cols)), shape=(n, n))
        rho.sum_duplicates()
        scale = rng.uniform(0.5, 0.9, n) / np.asarray(rho.sum(axis=1)).ravel()
        rho = sp.csr_array(sp.diags_array(scale) @ rho)
        lam = 1.0 / np.arange(1, n + 1)
        rng.shuffle(lam)
        price = rng.uniform(1, 10, n)
        return Instance(
            ids=[f"p{i}" for i in range(n)],
            price=price,
            cost=price * rng.uniform(0.3, 0.8, n),
            arrival=0.9 * lam / lam.sum(),
            transitions=rho,
            customers_mean=1000,
        )


def timed(fn, *args, repeat: int = 3, **kw):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--pyomo-n",
        type=int,
        default=10_000,
        help="size for the Pyomo comparison (model building is Python-bound)",
    )
    a = ap.parse_args()
    inst = make_instance(a.n, a.k, a.seed)
    print(f"instance: N={inst.n}, nnz(rho)={inst.transitions.nnz}, T={inst.customers_mean}")
    rng = np.random.default_rng(1)
    for frac in (0.0, 0.1, 0.5, 0.9):
        mask = rng.random(inst.n) < frac
        t, p = timed(choice_probabilities, inst, mask)
        print(f"choice_probabilities |S|={mask.sum():6d}: {t * 1e3:8.1f} ms  sum P={p.sum():.6f}")
    t_lp, b = timed(lp_bound, inst, repeat=1)
    print(f"lp_bound: {t_lp:.2f} s  value={b.value:.4f}  |S*|={len(b.assortment)}")
    t, p = timed(choice_probabilities, inst, b.offered)
    print(f"choice_probabilities(S*): {t * 1e3:.1f} ms  T*m.P(S*)={1000 * inst.margin @ p:.4f}")
    for size in (100, 500):
        mask = np.zeros(inst.n, bool)
        mask[rng.choice(inst.n, size, replace=False)] = True
        t, red = timed(reduced_chain, inst, mask, repeat=1)
        print(f"reduced_chain |S|={size}: {t:.2f} s  nnz={red[1].nnz}")

    small = inst if a.pyomo_n == a.n else make_instance(a.pyomo_n, a.k, a.seed)
    opts = SolverOptions(lp_method="ipm", highs={"run_crossover": "on"})  # as lp_bound does
    t0 = time.perf_counter()
    fast = build_lp_bound(small).solve(opts, path="fast")
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = build_lp_bound(small)
    f.model  # noqa: B018  (materialise the Pyomo model)
    t_build = time.perf_counter() - t0
    std = f.solve(opts, path="standard-form")
    t_pyomo = time.perf_counter() - t0
    assert abs(std.objective - fast.objective) <= 1e-7 * max(1.0, abs(fast.objective))
    print(
        f"N={small.n}: fast path build+solve {t_fast:.3f} s; Pyomo build {t_build:.2f} s, "
        f"build+standard-form solve {t_pyomo:.2f} s; ratio pyomo/fast = {t_pyomo / t_fast:.1f}x"
    )


if __name__ == "__main__":
    main()
