"""The heuristic's re-pooling loop (`prune_tail`) at catalogue scale: where its time goes.

    python benchmarks/bench_prune.py [--sizes 100000,1000000] [--k 8] [--seed 0]

For each N: a `sparse` instance (T = N, k neighbours), S* from the LP bound, then `prune_tail`
timed with the number of re-pooling iterations and of sparse products (ρ-block × vector) its
chain solves made. Beside it, in the same run, the time of one plain product ρᵀx over the whole
chain, in nanoseconds per nonzero. Each iteration costs a few dozen products over a block of ρ
plus passes over the kept set, so prune time / (products × nonzeros of ρ) is flat in N when the
loop is linear; what still grows is the price of one nonzero once x no longer fits in the cache
(a random sparse chain has no locality to exploit), which the last column shows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from assortopt.bound import lp_bound
from assortopt.generators import generate
from assortopt.methods.heuristic import prune_tail


class CountingProducts:
    """Counts the sparse matrix–vector products made while it is active."""

    def __enter__(self) -> CountingProducts:
        self.count = 0
        self._orig = sp.csr_array._matmul_vector
        self._orig_mv = sp.csr_array._matmul_multivector
        outer = self

        def mv(a, x):
            outer.count += 1
            return outer._orig(a, x)

        def mmv(a, x):
            outer.count += x.shape[1]
            return outer._orig_mv(a, x)

        sp.csr_array._matmul_vector = mv
        sp.csr_array._matmul_multivector = mmv
        return self

    def __exit__(self, *exc: object) -> None:
        sp.csr_array._matmul_vector = self._orig
        sp.csr_array._matmul_multivector = self._orig_mv


def matvec_ns_per_nnz(rho: sp.csr_array, reps: int = 10) -> float:
    x = np.random.default_rng(0).random(rho.shape[1])
    rho @ x
    t0 = time.perf_counter()
    for _ in range(reps):
        rho @ x
    return (time.perf_counter() - t0) / reps / rho.nnz * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(
        f"{'N':>9} {'|S*|':>8} {'kept':>7} {'iters':>5} {'products':>8} {'prune s':>8}"
        f" {'ns/(product*nnz)':>16} {'matvec ns/nnz':>13}",
        flush=True,
    )
    for n in (int(v) for v in a.sizes.split(",")):
        inst = generate("sparse", n, n, a.seed, k=a.k)
        s_star = np.asarray(lp_bound(inst).offered, dtype=bool)
        with CountingProducts() as c:
            t0 = time.perf_counter()
            pr = prune_tail(inst, s_star)
            dt = time.perf_counter() - t0
        nnz = inst.transitions.nnz
        print(
            f"{n:>9} {int(s_star.sum()):>8} {int(pr.keep.sum()):>7} {pr.iterations:>5}"
            f" {c.count:>8} {dt:>8.2f} {dt / max(c.count, 1) / nnz * 1e9:>16.2f}"
            f" {matvec_ns_per_nnz(sp.csr_array(inst.transitions.T)):>13.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
