"""Fitting the Markov chain from sales (issue 16): grouped exact EM against the textbook EM.

The textbook EM (written here, as the reference implementation python_choice_models runs it):
per transaction and per iteration, two dense solves with I − ρ_S̄S̄ and dense accumulation of
the expected counts. The package's EM groups transactions by offer set (one factorisation per
distinct offer set, one combined right-hand side) in a numba kernel, and accelerates with
SQUAREM. Both start from the same MNL-induced chain on a dense support.

Printed per size (11 products / 5,000 visits, 30 / 20,000, 120 / 40,000; data sampled from a
sparse chain with 4 substitutes per product, stock-out-driven offer sets):
* seconds per EM iteration (E-step + M-step) of each, and their ratio (target ≥ 50×);
* log-likelihood per visit at convergence: the grouped EM run to its tolerance, the textbook EM
  run until its relative gain per iteration is below 1e-7 or ``--textbook-seconds`` is spent;
* the package's total fit time (`fit_markov_chain`: MNL warm start, EM, comparisons).
``--large`` adds the catalogue-scale run: 1,000 products, 1,000,000 visits (Zipf demand, about
five products out at a time), total time and peak memory (target ≤ 10 min, ≤ 4 GiB).

    python benchmarks/bench_fit.py [--textbook-seconds 30] [--large]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from assortopt.fit import fit_markov_chain, sample_sales
from assortopt.fit.chain import choose_support, mnl_start
from assortopt.fit.data import SalesData
from assortopt.fit.em import ChainParams, estep, fit_em, loglik, mstep
from assortopt.fit.mnl import fit_mnl
from assortopt.generators import generate


# ----------------------------------------------------------------------------- textbook EM
def transactions(data: SalesData) -> list[tuple[np.ndarray, int]]:
    """One (offer-set mask, choice) per visit (choice N = no purchase)."""
    out = []
    for g in range(data.n_groups):
        mask = data.offered(g)
        for e in range(data.ch_indptr[g], data.ch_indptr[g + 1]):
            out.extend([(mask, int(data.ch_product[e]))] * int(round(data.ch_count[e])))
    return out


def textbook_step(lam, lam0, rho, exitp, trans):
    """One EM iteration, transaction by transaction, dense linear algebra."""
    n = len(lam)
    F = np.zeros(n + 1)
    X = np.zeros((n, n))
    Xe = np.zeros(n)
    ll = 0.0
    for mask, j in trans:
        b = np.flatnonzero(~mask)
        sub = rho[np.ix_(b, b)]
        m = np.eye(len(b)) - sub
        theta = np.linalg.solve(m.T, lam[b])
        rj, lj = (rho[b, j], lam[j]) if j < n else (exitp[b], lam0)
        psi = np.linalg.solve(m, rj)
        p = lj + lam[b] @ psi
        ll += np.log(p)
        F[b] += lam[b] * psi / p
        F[j] += lj / p
        X[np.ix_(b, b)] += np.outer(theta, psi) * sub / p
        if j < n:
            X[b, j] += theta * rho[b, j] / p
        else:
            Xe[b] += theta * exitp[b] / p
    tot = F.sum()
    visits = X.sum(axis=1) + Xe
    ok = visits > 0
    rho_new = rho.copy()
    ex_new = exitp.copy()
    rho_new[ok] = X[ok] / visits[ok, None]
    ex_new[ok] = Xe[ok] / visits[ok]
    return ll, F[:n] / tot, F[n] / tot, rho_new, ex_new


def textbook_fit(start: ChainParams, trans, budget: float, tol: float = 1e-7):
    lam, lam0 = start.arrival.copy(), start.lam0
    rho, ex = start.rho().toarray(), start.exit.copy()
    t0 = time.perf_counter()
    times, lls = [], []
    while True:
        t = time.perf_counter()
        ll, lam, lam0, rho, ex = textbook_step(lam, lam0, rho, ex, trans)
        times.append(time.perf_counter() - t)
        lls.append(ll)
        if len(lls) > 1 and abs(lls[-1] - lls[-2]) <= tol * abs(lls[-1]):
            break
        if time.perf_counter() - t0 > budget:
            break
    return lls[-1], len(lls), float(np.median(times))


# ----------------------------------------------------------------------------- runs
def one_size(n: int, visits: int, budget: float, seed: int = 0) -> dict:
    truth = generate("sparse", n, 100, seed=seed, k=4)
    data = sample_sales(truth, visits, seed=seed + 1)
    start = mnl_start(fit_mnl(data), choose_support(data, "dense"))
    estep(start, data)  # numba warm-up (cache load)
    reps = max(3, int(2000 // max(1, data.n_groups)))
    t = time.perf_counter()
    for _ in range(reps):
        ll, F, X, Xe = estep(start, data)
        mstep(start, F, X, Xe)
    ours_iter = (time.perf_counter() - t) / reps
    res = fit_em(start, data, tol=1e-9, max_iter=5000, progress=False)
    trans = transactions(data)
    tb_ll, tb_iters, tb_iter = textbook_fit(start, trans, budget)
    cat = [{"id": p, "price": 2.0, "cost": 1.0} for p in truth.ids]
    t = time.perf_counter()
    _, rep = fit_markov_chain(data, cat, 100, progress=False)
    total = time.perf_counter() - t
    truth_ll = loglik(ChainParams.from_chain(truth.arrival, truth.transitions), data)
    return {
        "n": n,
        "visits": visits,
        "groups": data.n_groups,
        "ours_iter": ours_iter,
        "tb_iter": tb_iter,
        "ratio": tb_iter / ours_iter,
        "ours_ll": res.loglik / visits,
        "ours_steps": res.iterations,
        "tb_ll": tb_ll / visits,
        "tb_iters": tb_iters,
        "truth_ll": truth_ll / visits,
        "total": total,
        "rep_steps": rep["iterations"],
    }


def large(seed: int = 0) -> None:
    t0 = time.perf_counter()
    truth = generate("sparse", 1000, 10000, seed=seed, k=8)
    data = sample_sales(truth, 1_000_000, seed=seed + 1, periods=10000, mean_out=5)
    t_sample = time.perf_counter() - t0
    cat = [{"id": p, "price": 2.0, "cost": 1.0} for p in truth.ids]
    t = time.perf_counter()
    inst, rep = fit_markov_chain(data, cat, 10000, holdout=0.1, seed=0, progress=False)
    t_fit = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    ll = rep["loglik"]
    print(
        f"\nlarge: 1,000 products, 1,000,000 visits, {data.n_groups} offer sets, support "
        f"{rep['support']} pairs; sampling {t_sample:.1f} s; fit {t_fit:.1f} s "
        f"({rep['iterations']} E-steps, stopped on {rep['stopped']}); peak RSS {peak:.2f} GiB"
    )
    print(
        "  log-lik/visit in sample / held out: MC {:.5f} / {:.5f}, MNL {:.5f} / {:.5f}, "
        "independent {:.5f} / {:.5f}; rows not identified: {}".format(
            ll["markov_chain"]["in_sample"],
            ll["markov_chain"]["holdout"],
            ll["mnl"]["in_sample"],
            ll["mnl"]["holdout"],
            ll["independent"]["in_sample"],
            ll["independent"]["holdout"],
            len(rep["not_identified"]),
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--textbook-seconds", type=float, default=30.0)
    ap.add_argument("--large", action="store_true")
    a = ap.parse_args()
    print(
        f"{'N':>4} {'visits':>7} {'sets':>5} | {'s/iter ours':>11} {'textbook':>9} "
        f"{'ratio':>7} | {'ll ours':>9} {'(steps)':>7} {'textbook':>9} {'(iters)':>7} "
        f"{'truth':>9} | {'fit s':>6}"
    )
    for n, v in ((11, 5000), (30, 20000), (120, 40000)):
        r = one_size(n, v, a.textbook_seconds)
        print(
            f"{r['n']:>4} {r['visits']:>7} {r['groups']:>5} | {r['ours_iter']:>11.2e} "
            f"{r['tb_iter']:>9.3f} {r['ratio']:>6.0f}x | {r['ours_ll']:>9.5f} "
            f"{r['ours_steps']:>7} {r['tb_ll']:>9.5f} {r['tb_iters']:>7} {r['truth_ll']:>9.5f} "
            f"| {r['total']:>6.2f}",
            flush=True,
        )
    if a.large:
        large()


if __name__ == "__main__":
    main()
