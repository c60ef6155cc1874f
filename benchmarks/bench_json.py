"""Writing a large instance file (issue 17: `approx` of a 1,000-product model): the time of
`instance_to_dict` and `jsonio.dumps` for a dense N = 1,000 chain (999,000 transitions, ~69 MB),
with the one-call path for long lists of rows against the general per-row path (the path every
list took before; forced here by disabling the fast path), same text checked. One run; compare
the ratio (shared machine).

    python benchmarks/bench_json.py [--products 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

import assortopt.jsonio as jsonio
from assortopt.instance import Instance, instance_to_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--products", type=int, default=1000)
    n = ap.parse_args().products
    rng = np.random.default_rng(0)
    rho = rng.random((n, n))
    np.fill_diagonal(rho, 0.0)
    rho /= rho.sum(axis=1, keepdims=True) * 1.25
    z = np.zeros(n)
    inst = Instance(
        ids=tuple(f"p{i:04d}" for i in range(n)),
        price=np.full(n, 10.0),
        cost=np.full(n, 4.0),
        salvage=z,
        fixed_cost=z,
        arrival=np.full(n, 0.9 / n),
        transitions=sp.csr_array(rho),
        customers_mean=1000,
        customers_distribution="fixed",
    )
    t = time.perf_counter()
    d = instance_to_dict(inst)
    t_dict = time.perf_counter() - t
    t = time.perf_counter()
    fast = jsonio.dumps(d)
    t_fast = time.perf_counter() - t
    keep = jsonio._all_dicts
    jsonio._all_dicts = lambda items: False  # the general path
    try:
        t = time.perf_counter()
        slow = jsonio.dumps(d)
        t_slow = time.perf_counter() - t
    finally:
        jsonio._all_dicts = keep
    print(f"N = {n}: {inst.transitions.nnz} transitions, {len(fast) / 1e6:.1f} MB")
    print(f"instance_to_dict: {t_dict:.2f} s")
    print(f"dumps, rows path: {t_fast:.2f} s; general path: {t_slow:.2f} s")
    print(f"ratio general / rows path: {t_slow / t_fast:.1f}x; same text: {fast == slow}")


if __name__ == "__main__":
    main()
