"""Exact list sampling rates (issue 8): customers per second for each sampling method.

Chains:

* ``simopt-dynamnews``: the shipped ``instances/simopt-dynamnews.json`` (MNL-induced, utilities
  6..15, customers leave with probability about 2e-7 per step): target ≥ 1 million customers/s
  (the naive uncut walk measured about 6,600/s in MEASUREMENTS.md).
* ``sparse``: ``generate("sparse", 1000, 1000, seed)`` (8 substitutes per product, exit in
  [0.2, 0.5]): "auto" must not be slower than "walk" there.

True choice models (issue 17), N = 1,000: the exact list samplers of an MNL, a 5-class
latent-class MNL, a 20-nest nested logit and a 1,000-type ranked-lists model, each against the
chain sampler (``auto``) on the same model's Blanchet–Gallego–Goyal chain (same catalogue, same
first choices); target: each within 3x of its chain's customers/s. Also the time of
``to_markov_chain`` (``assortopt approx``) for each model.

Every method is exact (no step cap); the walk on the rare-exit chain is timed on fewer customers.
One core, best of ``--repeat`` runs; compare ratios within one run (shared machine).

    python benchmarks/bench_sampling.py [--customers 200000] [--walk-customers 2000] [--repeat 3]
                                        [--models-only]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from assortopt.catalogue import Catalogue
from assortopt.choice.approx import to_markov_chain
from assortopt.choice.latent_class import LatentClassMNL
from assortopt.choice.mnl import MNLModel
from assortopt.choice.nested import NestedLogit
from assortopt.choice.ranked_lists import RankedLists
from assortopt.generators import generate
from assortopt.instance import Instance, load_instance
from assortopt.sampling import MarkovChainSampler

ROOT = Path(__file__).resolve().parents[1]


def rates(inst: Instance, plan: list[tuple[str, int]], repeat: int, per_scenario: int) -> dict:
    """Best-of-``repeat`` customers/s per method; methods interleaved (alternating order) so
    machine-load drift does not favour one of them."""
    samplers = {m: MarkovChainSampler(inst, method=m) for m, _ in plan}
    counts = {m: np.full(max(1, n // per_scenario), per_scenario) for m, n in plan}
    for m, s in samplers.items():
        s.sample_lists(counts[m][:1], 0)  # warm up / load the numba cache
    best = {m: float("inf") for m in samplers}
    out = {}
    for r in range(repeat):
        order = list(samplers) if r % 2 == 0 else list(samplers)[::-1]
        for m in order:
            t0 = time.perf_counter()
            st = samplers[m].sample_lists(counts[m], r + 1)
            best[m] = min(best[m], time.perf_counter() - t0)
            out[m] = (st.n_customers, st.list_lengths.mean(), samplers[m].method)
    return {m: (n / best[m], mean_len, used, n) for m, (n, mean_len, used) in out.items()}


def true_models(n: int, seed: int) -> tuple[Catalogue, dict[str, object]]:
    """The four true models of the comparison on n products (utilities N(−4.5, 1): about 9% of
    customers want nothing; lists of 8 to 18 products)."""
    rng = np.random.default_rng(seed)
    ids = tuple(f"p{i}" for i in range(n))
    z = np.zeros(n)
    cat = Catalogue(ids, np.full(n, 10.0), np.full(n, 5.0), z, z, (None,) * n, (None,) * n)
    v = rng.normal(-4.5, 1.0, n)
    lists = [rng.choice(n, int(rng.integers(1, 20)), replace=False) for _ in range(n)]
    return cat, {
        "mnl": MNLModel(ids, v),
        "latent-class-5": LatentClassMNL(ids, np.full(5, 0.2), rng.normal(-4.5, 1.0, (5, n))),
        "nested-20": NestedLogit(ids, v, rng.integers(0, 20, n), rng.uniform(0.3, 0.9, 20)),
        "ranked-lists": RankedLists(ids, np.full(n, 0.9 / n), lists),
    }


def model_rates(n_customers: int, repeat: int, seed: int) -> None:
    """Customers/s of each true model's list sampler and of the chain sampler on its BGG chain,
    interleaved; and the time of the chain construction."""
    cat, models = true_models(1000, seed)
    counts = np.full(max(1, n_customers // 1000), 1000)
    print(
        f"\n{'true model (N=1000)':<20}{'approx s':>9}{'model/s':>12}{'len':>7}"
        f"{'its chain/s':>13}{'len':>7}{'model/chain':>13}"
    )
    for name, model in models.items():
        t0 = time.perf_counter()
        inst = to_markov_chain(model, cat, 1000)
        t_approx = time.perf_counter() - t0
        pair = {"model": model, "chain": MarkovChainSampler(inst)}
        for s in pair.values():
            s.sample_lists(counts[:1], 0)  # warm up / load the numba cache
        best = {k: float("inf") for k in pair}
        lens = {}
        for r in range(repeat):
            for k in list(pair) if r % 2 == 0 else list(pair)[::-1]:
                t0 = time.perf_counter()
                st = pair[k].sample_lists(counts, r + 1)
                best[k] = min(best[k], time.perf_counter() - t0)
                lens[k] = st.list_lengths.mean()
        rate = {k: counts.sum() / best[k] for k in pair}
        print(
            f"{name:<20}{t_approx:>9.2f}{rate['model']:>12,.0f}{lens['model']:>7.1f}"
            f"{rate['chain']:>13,.0f}{lens['chain']:>7.1f}{rate['model'] / rate['chain']:>13.2f}"
        )
    print("target: model/chain >= 1/3 for every model; approx of the nested logit in seconds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--walk-customers", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models-only", action="store_true", help="only the true-model table")
    a = ap.parse_args()
    if a.models_only:
        model_rates(a.customers, a.repeat, a.seed)
        return

    news = load_instance(ROOT / "instances" / "simopt-dynamnews.json")
    sparse = generate("sparse", 1000, 1000, a.seed, k=8, leave=[0.2, 0.5])
    n = a.customers
    cases = [
        (
            "simopt-dynamnews",
            news,
            30,
            [
                ("auto", n),
                ("mnl", n),
                ("jump", n // 4),
                ("hybrid", n // 4),
                ("walk", a.walk_customers),
            ],
        ),
        ("sparse-1000", sparse, 1000, [("auto", 5 * n), ("walk", 5 * n), ("jump", n)]),
    ]
    print(
        f"{'chain':<18}{'method':<9}{'runs as':<9}{'customers':>11}{'mean len':>10}"
        f"{'customers/s':>15}"
    )
    table: dict[tuple[str, str], float] = {}
    for name, inst, per, plan in cases:
        for method, (r, mean_len, used, count) in rates(inst, plan, a.repeat, per).items():
            table[(name, method)] = r
            print(f"{name:<18}{method:<9}{used:<9}{count:>11,}{mean_len:>10.2f}{r:>15,.0f}")
    news_speedup = table[("simopt-dynamnews", "auto")] / table[("simopt-dynamnews", "walk")]
    sparse_ratio = table[("sparse-1000", "auto")] / table[("sparse-1000", "walk")]
    print(
        f"simopt-dynamnews: auto / walk = {news_speedup:,.0f}x "
        f"(target: auto >= 1,000,000 customers/s)"
    )
    print(f"sparse-1000: auto / walk = {sparse_ratio:.2f} (must not be below ~1)")
    model_rates(a.customers, a.repeat, a.seed)


if __name__ == "__main__":
    main()
