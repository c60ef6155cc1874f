"""Simulator throughput (issue 2): customers per second through the compiled kernel.

Instance: ``generate("sparse", 1000, 1000, seed)``: 1,000 products, 1,000 customers per season,
Zipf (α = 1) first-choice demand, 8 random substitutes per product, exit probability drawn in
[0.2, 0.5] per product. Plan: ``round(T·λ_j)`` units of each product (stock-outs and
substitution happen, most long-tail products are not stocked).

Figures (one core, best of ``--repeat`` runs, wall clock on a shared machine):

* kernel: pre-sampled streams through the simulator kernel (target ≥ 10 million customers/s);
* sampling: `sample_streams` (exact lists, method "auto");
* end to end: `simulate` (sampling + kernel, in blocks of replications).

    python benchmarks/bench_simulate.py [--scenarios 2000] [--reps 2000] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assortopt.generators import generate
from assortopt.sampling import sample_streams
from assortopt.simulation import profit_terms, run_kernel, simulate, simulate_stream


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    inst = generate("sparse", 1000, 1000, a.seed, k=8, leave=[0.2, 0.5])
    q = np.rint(inst.customers_mean * inst.arrival).astype(np.int64)
    print(
        f"instance: N={inst.n}, T={inst.customers_mean:g}, nnz={inst.transitions.nnz}, "
        f"exit in [{inst.exit_prob.min():.2f}, {inst.exit_prob.max():.2f}], "
        f"stocked={int(np.count_nonzero(q))}, units={int(q.sum())}"
    )

    # warm up (compile or load the numba cache)
    small = sample_streams(inst, 2, a.seed)
    simulate_stream(inst, q, small)
    simulate(inst, q, reps=2, seed=a.seed)

    t_sample = best_time(lambda: sample_streams(inst, a.scenarios, a.seed + 1), a.repeat)
    stream = sample_streams(inst, a.scenarios, a.seed + 1)
    c = stream.n_customers

    gain, base = profit_terms(inst, q)
    sales = np.zeros((1, inst.n), dtype=np.int64)

    def kernel() -> None:
        run_kernel(stream, q, gain, base, sales)

    t_kernel = best_time(kernel, a.repeat)
    t_stream = best_time(lambda: simulate_stream(inst, q, stream), a.repeat)
    t_record = best_time(lambda: simulate_stream(inst, q, stream, record=True), a.repeat)
    t_e2e = best_time(lambda: simulate(inst, q, reps=a.reps, seed=a.seed), a.repeat)
    ev = simulate(inst, q, reps=a.reps, seed=a.seed)
    c_e2e = a.reps * inst.customers_mean

    print(
        f"stream: {a.scenarios} scenarios, {c} customers, mean list length "
        f"{stream.list_lengths.mean():.2f}"
    )
    print(f"{'phase':<40}{'seconds':>10}{'customers/s':>16}")
    rows = [
        ("simulator kernel (pre-sampled)", t_kernel, c),
        ("simulate_stream (sales K x N)", t_stream, c),
        ("simulate_stream(record=True)", t_record, c),
        ("sample_streams (auto, exact lists)", t_sample, c),
        (f"simulate() end to end, reps={a.reps}", t_e2e, c_e2e),
    ]
    for name, t, n in rows:
        print(f"{name:<40}{t:>10.3f}{n / t:>16,.0f}")
    print(f"kernel / end-to-end rate ratio: {(c / t_kernel) / (c_e2e / t_e2e):.1f}x")
    print(
        f"simulate(): mean {ev.mean:.2f} ± {ev.stderr:.2f}, fill rate {ev.fill_rate:.3f}, "
        f"substitution share {ev.substitution_share:.3f}"
    )


if __name__ == "__main__":
    main()
