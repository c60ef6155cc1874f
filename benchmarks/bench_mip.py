"""Benchmark of the sample-path SAA MIP: strong vs textbook big-M, scale, and plan quality.

Run: ``python benchmarks/bench_mip.py [--large] [--threads 1]``

1. strong/bigm solve-time ratio at K ∈ {50, 100, 200} on a 3-product, 6-customer instance,
   measured in one run (timings on a shared machine are noisy: read the ratio);
2. the largest K (doubling from 250) the strong formulation solves to gap ≤ 0.01% within 60 s;
3. with ``--large``: how far K goes on 20- and 50-product instances within 5 minutes;
4. `mip` vs `heuristic` out-of-sample profit on a few small instances (common random numbers);
5. with ``--certify``: time to certify the SAA optimum (gap ≤ 0.01%), ``mip`` with
   ``formulation=bnb`` (stock branch-and-bound, models/stock_bnb.md) against the strong HiGHS
   formulation in the same run, on ``generate`` families dense / mnl / sparse at the shapes
   N=10 T=50 K=50 (limit 60 s), N=20 T=100 K=50 and N=10 T=50 K=200 (limit 600 s), 3 seeds
   each; ``--certify-limit`` caps every limit, ``--certify-shapes`` picks shapes (1,2,3),
   ``--seeds`` the number of seeds, ``--seed-from`` the first one (seeds ``seed-from..seeds``,
   to complete a table), ``--certify-forms`` the formulations (default both).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from assortopt.instance import Instance
from assortopt.models.sample_path_mip import build_sample_path_mip, solve_sample_path_mip
from assortopt.solver import SolverOptions
from assortopt.streams import Stream


def dense3(t: int = 6) -> Instance:
    """3 products, every pair substitutes with prob. 0.4, 6 customers (the MEASUREMENTS kind)."""
    rho = np.full((3, 3), 0.4)
    np.fill_diagonal(rho, 0)
    return Instance(
        ids=("a", "b", "c"),
        price=np.array([10.0, 8, 6]),
        cost=np.array([5.0, 3, 4]),
        arrival=np.array([0.35, 0.3, 0.25]),
        transitions=sp.csr_array(rho),
        customers_mean=t,
        name="dense3",
    )


def streams(inst: Instance, k: int, seed: int) -> tuple[Stream, str]:
    try:
        from assortopt.sampling import sample_streams
    except ImportError:
        return _walk(inst, k, seed), "bench walk sampler"
    return sample_streams(inst, k, seed), "assortopt.sampling"


def _walk(inst: Instance, k_count: int, seed: int) -> Stream:
    """Step-by-step first-visit lists (used only while assortopt.sampling is missing)."""
    rng = np.random.default_rng(seed)
    n = inst.n
    rho = inst.transitions.toarray()
    exits = np.maximum(0.0, 1 - rho.sum(1))
    start = np.append(inst.arrival, inst.no_purchase)
    start /= start.sum()
    scen = []
    for _ in range(k_count):
        t = (
            rng.poisson(inst.customers_mean)
            if inst.customers_distribution == "poisson"
            else int(inst.customers_mean)
        )
        custs = []
        for _ in range(t):
            lst: list[int] = []
            cur = rng.choice(n + 1, p=start)
            while cur < n:
                if cur not in lst:
                    lst.append(int(cur))
                row = np.append(rho[cur], exits[cur])
                cur = rng.choice(n + 1, p=row / row.sum())
            custs.append(lst)
        scen.append(custs)
    return Stream.from_lists(scen, n)


def solve(inst: Instance, st: Stream, form: str, limit: float, threads: int) -> tuple:
    t0 = time.perf_counter()
    f = build_sample_path_mip(inst, st, form)
    tb = time.perf_counter() - t0
    if form == "strong":  # what method `mip` does: LP first, presolve off
        opts = SolverOptions(threads=threads, time_limit=limit, highs={"presolve": "off"})
        res = solve_sample_path_mip(f, inst, opts)
    else:
        res = f.solve(SolverOptions(threads=threads, time_limit=limit))
    return f, res, tb


def part_ratio(threads: int) -> None:
    inst = dense3()
    print("\n== 1. strong vs bigm, 3 products, 6 customers per scenario (solve to gap 0.01%)")
    print(
        f"{'K':>5} {'bigm s':>8} {'strong s':>9} {'ratio':>7} {'bigm obj':>10} {'strong obj':>11}"
        f" {'bigm bin':>9} {'strong bin':>10}"
    )
    for k in (50, 100, 200):
        st, _ = streams(inst, k, seed=k)
        fb, rb, _ = solve(inst, st, "bigm", 600, threads)
        fs, rs, _ = solve(inst, st, "strong", 600, threads)
        # a solve that hit the 600 s cap makes the ratio a lower bound (">=")
        ratio = (">=" if rb.status != "optimal" else "") + f"{rb.time_s / rs.time_s:.1f}"
        print(
            f"{k:>5} {rb.time_s:>8.2f} {rs.time_s:>9.2f} {ratio:>7} "
            f"{_num(rb.objective):>10} {_num(rs.objective):>11} {fb.info['binaries']:>9} "
            f"{fs.info['binaries']:>10}  ({rb.status}/{rs.status})"
        )


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def part_largest(threads: int) -> None:
    inst = dense3()
    print("\n== 2. largest K solved by strong to gap <= 0.01% within 60 s (build + solve)")
    k = 250
    while k <= 16000:
        st, src = streams(inst, k, seed=7)
        f, r, tb = solve(inst, st, "strong", 60.0, threads)
        tot = tb + r.time_s
        ok = r.status == "optimal" and tot <= 60
        print(
            f"K={k:>6} build {tb:6.2f}s solve {r.time_s:6.2f}s  {r.status:<8} gap="
            f"{(r.gap or 0) * 100:.4f}%  cols={f.lp.n_cols} rows={f.lp.n_rows} "
            f"({r.termination}) "
            f"scenarios kept={f.info['scenarios_kept']}  [{src}]"
        )
        if not ok:
            break
        k *= 2


def part_large(threads: int) -> None:
    print("\n== 3. 20- and 50-product instances: K within 5 minutes")
    try:
        from assortopt.generators import generate
    except ImportError:
        print("assortopt.generators missing: skipped")
        return
    for n, t in ((20, 30), (50, 50)):
        inst = generate("dense", n, t, seed=1)
        k = 10
        while True:
            st, _ = streams(inst, k, seed=3)
            f, r, tb = solve(inst, st, "strong", 300, threads)
            print(
                f"N={n} T={t} K={k:>5}: {r.status:<8} gap={(r.gap or 0) * 100:.3f}% "
                f"build {tb:.1f}s solve {r.time_s:.1f}s binaries={f.info['binaries']}"
            )
            if r.status != "optimal" or r.time_s > 150:
                break
            k *= 2


def part_quality(threads: int) -> None:
    print("\n== 4. mip vs heuristic out-of-sample (10,000 reps, common random numbers)")
    try:
        from assortopt.methods.base import PlanRequest, get_method
        from assortopt.simulation import simulate

        heur = get_method("heuristic")
        mip = get_method("mip")
    except Exception as exc:  # noqa: BLE001 - report what is missing and go on
        print(f"skipped: {exc}")
        return
    cases = [dense3(), dense3(10), dense3(6).replace(max_products=2, name="dense3-cap2")]
    for inst in cases:
        req = PlanRequest(
            scenarios=300, seed=1, options=SolverOptions(threads=threads), params={"start": "none"}
        )
        pm = mip(inst, req)
        ph = heur(inst, PlanRequest(scenarios=300, seed=1))
        em = simulate(inst, pm.stock, reps=10000, seed=99)
        eh = simulate(inst, ph.stock, reps=10000, seed=99)
        print(
            f"{inst.name or 'inst'} T={inst.customers_mean}: mip {em.mean:.3f}±{em.stderr:.3f} "
            f"{pm.stock.tolist()}  heuristic {eh.mean:.3f}±{eh.stderr:.3f} "
            f"{ph.stock.tolist()}"
        )


CERTIFY_SHAPES = {1: (10, 50, 50, 60.0), 2: (20, 100, 50, 600.0), 3: (10, 50, 200, 600.0)}


def part_certify(
    threads: int,
    shapes: list[int],
    seeds: int,
    cap: float | None,
    forms: tuple[str, ...] = ("bnb", "strong"),
    seed_from: int = 1,
    families: tuple[str, ...] = ("dense", "mnl", "sparse"),
    extra_params: dict[str, str] | None = None,
) -> None:
    from assortopt.generators import generate
    from assortopt.methods.base import PlanRequest, get_method
    from assortopt.models.sample_path_mip import candidate_mask
    from assortopt.models.stock_bnb import StockProblem
    from assortopt.sampling import sample_streams

    mip = get_method("mip")
    heur = get_method("heuristic")
    print("\n== 5. time to certify the SAA optimum: bnb vs strong (method mip, start none)")
    print("   row 'heuristic': its plan's in-sample SAA value on the same K scenarios; 'gap %' is")
    print("   (best bound - value) / best bound, best bound = min of the two formulations' bounds:")
    print("   a certified upper bound on the heuristic's SAA suboptimality")
    print(
        f"{'shape':<16} {'family':<7} {'seed':>4} {'form':<9} {'status':<9} {'time s':>7} "
        f"{'objective':>10} {'bound':>10} {'gap %':>8}"
    )
    for sh in shapes:
        n, t, k, limit = CERTIFY_SHAPES[sh]
        limit = limit if cap is None else min(limit, cap)
        label = f"N={n} T={t} K={k}"
        for fam in families:
            for seed in range(seed_from, seeds + 1):
                inst = generate(fam, n, t, seed=seed)
                bounds = []
                for form in forms:
                    req = PlanRequest(
                        scenarios=k,
                        seed=seed,
                        options=SolverOptions(threads=threads, time_limit=limit),
                        params={"formulation": form, "start": "none", **(extra_params or {})},
                    )
                    t0 = time.perf_counter()
                    p = mip(inst, req)
                    el = time.perf_counter() - t0
                    if p.bound is not None:
                        bounds.append(p.bound)
                    gap = "-" if p.gap is None else f"{100 * p.gap:.3f}"
                    print(
                        f"{label:<16} {fam:<7} {seed:>4} {form:<9} {p.status:<9} {el:>7.1f} "
                        f"{_num(p.objective):>10} {_num(p.bound):>10} {gap:>8}",
                        flush=True,
                    )
                t0 = time.perf_counter()
                ph = heur(inst, PlanRequest(scenarios=k, seed=seed))
                el = time.perf_counter() - t0
                cand = candidate_mask(inst, None, None) | (ph.stock > 0)
                val = StockProblem(inst, sample_streams(inst, k, seed), cand).value(ph.stock)
                ub = min(bounds) if bounds else None
                gap = "-" if not ub else f"{100 * (ub - val) / ub:.3f}"
                print(
                    f"{label:<16} {fam:<7} {seed:>4} {'heuristic':<9} {ph.status:<9} {el:>7.1f} "
                    f"{val:>10.4f} {_num(ub):>10} {gap:>8}",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true", help="also run part 3 (up to ~20 min)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma list of parts to skip (1,2,4)")
    ap.add_argument("--certify", action="store_true", help="also run part 5 (long)")
    ap.add_argument("--certify-shapes", default="1,2,3", help="part 5 shapes (1,2,3)")
    ap.add_argument("--certify-limit", type=float, default=None, help="cap on part 5 limits (s)")
    ap.add_argument("--seeds", type=int, default=3, help="part 5 seeds per family")
    ap.add_argument(
        "--seed-from", type=int, default=1, help="part 5: first seed (runs seed-from..seeds)"
    )
    ap.add_argument(
        "--certify-forms",
        default="bnb,strong",
        help="part 5 formulations (bnb,strong,portfolio)",
    )
    ap.add_argument(
        "--certify-families", default="dense,mnl,sparse", help="part 5 families (dense,mnl,sparse)"
    )
    ap.add_argument(
        "--certify-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="part 5: a mip param for every run (repeatable), e.g. branching=pseudocost",
    )
    a = ap.parse_args()
    skip = set(a.skip.split(","))
    if "1" not in skip:
        part_ratio(a.threads)
    if "2" not in skip:
        part_largest(a.threads)
    if a.large:
        part_large(a.threads)
    if "4" not in skip:
        part_quality(a.threads)
    if a.certify:
        shapes = [int(x) for x in a.certify_shapes.split(",") if x.strip()]
        forms = tuple(f for f in a.certify_forms.split(",") if f)
        if not forms or set(forms) - {"bnb", "strong", "portfolio"}:
            ap.error(
                f"--certify-forms: a comma list of bnb, strong, portfolio; got {a.certify_forms!r}"
            )
        if not 1 <= a.seed_from <= a.seeds:
            ap.error(f"--seed-from: between 1 and --seeds ({a.seeds}); got {a.seed_from}")
        fams = tuple(f for f in a.certify_families.split(",") if f)
        if not fams or set(fams) - {"dense", "mnl", "sparse"}:
            ap.error(f"--certify-families: a comma list of dense, mnl, sparse; got {fams}")
        extra = dict(kv.split("=", 1) for kv in a.certify_param if "=" in kv)
        part_certify(a.threads, shapes, a.seeds, a.certify_limit, forms, a.seed_from, fams, extra)


if __name__ == "__main__":
    main()
