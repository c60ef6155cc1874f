"""SAA-LP solve time: product generation vs the monolithic HiGHS solve, in one run (ratios).

Sparse heavy-tailed instances (Zipf arrivals, 8 random substitutes per product, T ≈ N, Poisson
customers), S = S* (support of the optimal-stopping solution v = max(m, ρv), i.e. the LP bound's
assortment), counts sampled on S*. The monolithic solve is capped at --cap seconds (default 60).

    python benchmarks/bench_saa_lp.py [--sizes 100 1000] [--scenarios 10 100] [--cap 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from assortopt.instance import Instance
from assortopt.models.saa_lp import solve_saa_lp
from assortopt.models.scenario_data import first_choice_counts
from assortopt.solver import SolverOptions


def sparse_instance(n: int, seed: int) -> Instance:
    """Inline stand-in for assortopt.generators.generate("sparse", n, n, seed) (not yet there)."""
    try:
        from assortopt.generators import generate

        return generate("sparse", n, n, seed)
    except ImportError:
        pass
    rng = np.random.default_rng(seed)
    lam = np.arange(1, n + 1, dtype=float) ** -1.0
    rng.shuffle(lam)
    lam *= 0.8 / lam.sum()
    price = rng.uniform(1, 10, n)
    nb = np.array([rng.choice(np.delete(np.arange(n), i), 8, replace=False) for i in range(n)])
    w = rng.exponential(1.0, nb.shape)
    w *= (rng.uniform(0.4, 0.9, n) / w.sum(axis=1))[:, None]
    rho = sp.csr_array((w.ravel(), (np.repeat(np.arange(n), 8), nb.ravel())), shape=(n, n))
    return Instance(
        ids=[f"p{i}" for i in range(n)],
        price=price,
        cost=0.5 * price,
        arrival=lam,
        transitions=rho,
        customers_mean=n,
        customers_distribution="poisson",
    )


def s_star(inst: Instance) -> np.ndarray:
    try:
        from assortopt.models.lp_bound import lp_bound

        return np.asarray(lp_bound(inst).offered, bool)
    except ImportError:
        v = np.maximum(inst.margin, 0.0)
        for _ in range(100_000):
            v2 = np.maximum(inst.margin, inst.transitions @ v)
            if np.abs(v2 - v).max() < 1e-13:
                break
            v = v2
        return (inst.margin > 0) & (v <= inst.margin + 1e-10)


def counts_on(inst: Instance, mask: np.ndarray, k: int, seed: int) -> np.ndarray:
    try:
        return first_choice_counts(inst, mask, k, seed)
    except ImportError:  # choice.mc not there yet: route first choices fluidly (mean-preserving)
        from assortopt.models.saa_lp import _Complement

        d = first_choice_counts(inst, None, k, seed).astype(float)
        h = _Complement.of(inst.transitions, mask).h
        return d[:, mask] + d[:, ~mask] @ h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--scenarios", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--cap", type=float, default=60.0)
    a = ap.parse_args()
    opts = SolverOptions(time_limit=a.cap)
    print(
        f"{'N':>6} {'|S*|':>5} {'K':>4} {'gen s':>8} {'mono s':>8} {'ratio':>6} "
        f"{'gen obj':>12} {'mono obj':>12} rounds support",
        flush=True,
    )
    for n in a.sizes:
        inst = sparse_instance(n, 1)
        mask = s_star(inst)
        for k in a.scenarios:
            d = counts_on(inst, mask, k, 0)
            t = time.perf_counter()
            g = solve_saa_lp(inst, d, mask, opts, method="generation")
            tg = time.perf_counter() - t
            t = time.perf_counter()
            m = solve_saa_lp(inst, d, mask, opts, method="monolithic")
            tm = time.perf_counter() - t
            mo = f"{m.objective:12.4f}" if m.status == "optimal" else f"{'cap ' + m.status:>12}"
            go = f"{g.objective:12.4f}" if g.status == "optimal" else f"{g.status:>12}"
            print(
                f"{n:>6} {int(mask.sum()):>5} {k:>4} {tg:8.2f} {tm:8.2f} {tm / tg:6.2f} "
                f"{go} {mo} {g.rounds:>6} {0 if g.support is None else len(g.support)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
