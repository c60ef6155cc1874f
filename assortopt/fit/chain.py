"""``fit_markov_chain``: sales records + catalogue → an instance with a fitted chain, and a report.

Steps (``models/fit.md``): read and group the visits; hold out a share (or use the file's
out-of-sample set); impute no-purchases when only sales are recorded (``visits`` or
``buy_share``); fit MNL by maximum likelihood; choose the support of ρ; start EM from the
MNL-induced chain; fill the rows of never-unavailable products with the MNL-implied row (their
rows are not identified); run SQUAREM-accelerated EM; fit independent demand for comparison.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalogue import read_catalogue
from ..exceptions import InstanceError, OptionError
from ..instance import Instance
from .data import SalesData, read_sales, read_support
from .em import ChainParams, EMResult, cell_probabilities, fit_em, loglik
from .mnl import fit_mnl, mnl_loglik, out_matrix
from .report import build_report

__all__ = ["fit_markov_chain", "choose_support", "mnl_start", "impute_no_purchases"]

#: catalogues up to this size get a dense support for ρ by default; larger ones the top-k
DENSE_SUPPORT_MAX = 200
TOP_K = 20
#: the named supports of `choose_support` (any other string is a transitions CSV path)
SUPPORT_NAMES = ("auto", "dense", "observed", "none")
IMPUTE_ROUNDS = 3  # re-imputations of no-purchases for sales-only data
SHRINKAGE = 10.0  # default κ: pseudo-visits toward the MNL-implied row (models/fit.md)
_OUT_EXIT_MIN = 1e-9  # fitted rows keep at least this exit probability (no traps in the file)
#: every product keeps at least this first-choice probability in the instance written: a product
#: never bought gets λ → 0 under EM, and exact zeros make the LP bound's certificate fail
_OUT_ARRIVAL_MIN = 1e-8


def choose_support(data: SalesData, support: Any = "auto") -> sp.csr_array:
    """The sparsity pattern of ρ (a 0/1 CSR, zero diagonal).

    ``"dense"``: every pair; ``"observed"``: (i, k) such that k sold while i was unavailable;
    an int K: per row the K observed pairs with the largest lift (k's sales share while i is
    out minus its overall share); a sparse matrix or `Instance`: its pattern; ``"auto"``: dense
    up to ``DENSE_SUPPORT_MAX`` products, else top-``TOP_K``; ``"none"``: empty (independent
    demand). Raises `OptionError` for anything else.
    """
    n = data.n
    if isinstance(support, Instance):
        support = support.transitions
    if sp.issparse(support) or isinstance(support, np.ndarray):
        pat = sp.csr_array(support, dtype=np.float64)
        if pat.shape != (n, n):
            raise OptionError(f"support: expected a {n}×{n} matrix, got {pat.shape}")
        pat = sp.csr_array((pat != 0).astype(np.float64))
    elif support == "auto":
        return choose_support(data, "dense" if n <= DENSE_SUPPORT_MAX else TOP_K)
    elif support == "none":
        return sp.csr_array((n, n))
    elif support == "dense":
        pat = sp.csr_array(np.ones((n, n)))
    elif support == "observed" or (isinstance(support, int) and not isinstance(support, bool)):
        out = out_matrix(data)
        g = np.repeat(np.arange(data.n_groups), np.diff(data.ch_indptr))
        buy = data.ch_product < n
        sales = sp.csr_array(
            (data.ch_count[buy], (g[buy], data.ch_product[buy])), shape=(data.n_groups, n)
        )
        flows = sp.csr_array(out.T @ sales).tocoo()
        if support == "observed":
            pat = sp.csr_array((np.ones(flows.nnz), (flows.row, flows.col)), shape=(n, n))
        else:
            if support < 0:
                raise OptionError("support: top-k needs k >= 0")
            vis_out = out.T @ data.group_sizes()
            share = data.sales()[:n] / max(data.n_visits, 1.0)
            score = flows.data / np.maximum(vis_out[flows.row], 1e-300) - share[flows.col]
            order = np.lexsort((-score, flows.row))
            r = flows.row[order]
            first = np.searchsorted(r, r, side="left")
            rank = np.arange(len(r)) - first
            keep = order[rank < support]
            pat = sp.csr_array(
                (np.ones(len(keep)), (flows.row[keep], flows.col[keep])), shape=(n, n)
            )
    else:
        raise OptionError(
            f"support: expected 'auto', 'dense', 'observed', 'none', an int or a matrix, "
            f"got {support!r}"
        )
    pat.setdiag(0)
    pat.eliminate_zeros()
    pat.sort_indices()
    return pat


def mnl_start(u: np.ndarray, pattern: sp.csr_array) -> ChainParams:
    """The MNL-induced chain (λ_i = u_i/(1+U), ρ_ik = u_k/(1+U−u_i)) restricted to ``pattern``;
    the mass of pairs outside the support goes to the exit."""
    n = len(u)
    big = u.sum()
    indptr = pattern.indptr.astype(np.int64)
    indices = pattern.indices.astype(np.int64)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    data = u[indices] / (1.0 + big - u[rows])
    rowsum = np.bincount(rows, weights=data, minlength=n)
    return ChainParams(
        arrival=u / (1.0 + big),
        lam0=float(1.0 / (1.0 + big)),
        indptr=indptr,
        indices=indices,
        data=data,
        exit=np.maximum(1.0 - rowsum, 0.0),
    ).normalised()


def impute_no_purchases(
    data: SalesData, total_visits: float, p0: np.ndarray | None = None
) -> SalesData:
    """Add no-purchase visits to sales-only data: ``total_visits`` − sales in all, spread over
    the offer sets in proportion to their sales, or, given ``p0`` (each offer set's
    no-purchase probability under a fitted chain), to sales·p0/(1 − p0) (``models/fit.md``)."""
    n = data.n
    sizes = data.group_sizes()
    if p0 is not None:
        sizes = sizes * p0 / np.maximum(1.0 - p0, 1e-12)
    rest = total_visits - data.n_visits
    if rest < 0:
        raise OptionError(
            f"--visits {total_visits:g} is below the number of sales ({data.n_visits:g})"
        )
    g = np.repeat(np.arange(data.n_groups), np.diff(data.ch_indptr))
    add = rest * sizes / sizes.sum()
    return _regroup(
        data,
        np.concatenate([g, np.arange(data.n_groups)]),
        np.concatenate([data.ch_product, np.full(data.n_groups, n)]),
        np.concatenate([data.ch_count, add]),
        True,
    )


def _p0(params: ChainParams, data: SalesData) -> np.ndarray:
    """No-purchase probability of each offer set of ``data`` under ``params``."""
    probe = _regroup(
        data, np.arange(data.n_groups), np.full(data.n_groups, data.n), np.ones(data.n_groups), True
    )
    return cell_probabilities(params, probe)


def _regroup(
    data: SalesData, g: np.ndarray, j: np.ndarray, c: np.ndarray, has_np: bool
) -> SalesData:
    from .data import group_visits

    sets = [
        data.out_indices[data.out_indptr[k] : data.out_indptr[k + 1]] for k in range(data.n_groups)
    ]
    return group_visits(data.ids, sets, g, j, c, has_np, data.source)


def _catalogue(catalogue: Any) -> tuple[list[dict[str, Any]], str | None]:
    if isinstance(catalogue, (str, os.PathLike)):
        return read_catalogue(catalogue).rows(), str(catalogue)
    rows = [dict(r) for r in catalogue]
    for k, r in enumerate(rows):
        for c in ("id", "price", "cost"):
            if c not in r:
                raise InstanceError(f"catalogue[{k}].{c}", "missing")
    return rows, None


def _floor_arrival(params: ChainParams) -> ChainParams:
    """λ_i ≥ ``_OUT_ARRIVAL_MIN`` for every product, λ0 unchanged (the chain written and scored
    on held-out visits)."""
    lam = np.maximum(params.arrival, _OUT_ARRIVAL_MIN)
    lam *= params.arrival.sum() / lam.sum()
    return ChainParams(lam, params.lam0, params.indptr, params.indices, params.data, params.exit)


def _chain_to_instance(
    params: ChainParams,
    products: list[dict[str, Any]],
    customers: float,
    distribution: str,
    name: str,
    metadata: dict[str, Any],
) -> Instance:
    rho = params.rho().copy()
    rows = np.repeat(np.arange(params.n), np.diff(rho.indptr))
    rowsum = np.bincount(rows, weights=rho.data, minlength=params.n)
    scale = np.where(
        rowsum > 1 - _OUT_EXIT_MIN, (1 - _OUT_EXIT_MIN) / np.maximum(rowsum, 1e-300), 1.0
    )
    rho.data = rho.data * scale[rows]
    rho.data[rho.data < 1e-12] = 0.0
    rho.eliminate_zeros()
    get = lambda c, d: np.array([float(p.get(c, d)) for p in products])  # noqa: E731
    return Instance(
        ids=tuple(p["id"] for p in products),
        price=get("price", 0.0),
        cost=get("cost", 0.0),
        salvage=get("salvage", 0.0),
        fixed_cost=get("fixed_cost", 0.0),
        arrival=params.arrival,
        transitions=rho,
        customers_mean=customers,
        customers_distribution=distribution,  # type: ignore[arg-type]
        name=name,
        metadata=metadata,
    )


#: Share of ``fit_markov_chain``'s time limit kept for what follows the chain's EM runs: the
#: independent-demand comparison fit and the report's log-likelihoods.
FIT_RESERVE = 0.15


def fit_budget(time_limit: float | None, em_runs: int, t0: float | None = None) -> Any:
    """A function ``left(phase)`` giving each EM run of a fit its time limit (None: no limit).

    The clock starts at ``t0`` (a `time.perf_counter` instant; default now). The chain's
    ``em_runs`` runs ("em") share the limit less `FIT_RESERVE` of it, each getting the time
    left of that share over the runs left; the comparison fit ("independent") gets whatever
    is left. Never below 1 ms, so a run whose time is gone still makes its first E-step (a
    fit, not an empty answer) and stops.
    """
    t0 = time.perf_counter() if t0 is None else t0
    done = [0]

    def left(phase: str) -> float | None:
        if time_limit is None:
            return None
        spent = time.perf_counter() - t0
        if phase == "em":
            runs_left = max(em_runs - done[0], 1)
            done[0] += 1
            share = ((1 - FIT_RESERVE) * time_limit - spent) / runs_left
        else:
            share = time_limit - spent
        return max(share, 1e-3)

    return left


def fit_markov_chain(
    data: str | os.PathLike[str] | SalesData,
    catalogue: Any,
    customers: float,
    distribution: str = "fixed",
    *,
    holdout: float | SalesData | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    max_iter: int = 2000,
    tol: float = 1e-8,
    visits: float | None = None,
    buy_share: float | None = None,
    support: Any = "auto",
    shrinkage: float = SHRINKAGE,
    name: str | None = None,
    progress: bool | None = None,
    visits_file: str | os.PathLike[str] | None = None,
) -> tuple[Instance, dict[str, Any]]:
    """Fit the Markov chain choice model to sales records; an `Instance` ready for ``solve``.

    Parameters
    ----------
    data
        A sessions CSV, periods CSV or python_choice_models JSON path, or a `SalesData`.
    catalogue
        A catalogue CSV path (``id, price, cost[, salvage, fixed_cost, vendor, category]``) or a
        list of such dicts; it fixes the products and their order.
    customers, distribution
        The season's number of customers T (fixed, or Poisson with that mean).
    holdout
        A share of the visits held out (seeded binomial split) or held-out `SalesData`; by
        default the JSON file's out-of-sample set, if any.
    seed, time_limit, max_iter, tol
        Split seed; EM stops after ``max_iter`` E-steps, when the relative log-likelihood gain
        of a cycle is below ``tol``, or at the time limit: ``time_limit`` seconds cover the
        whole fit from this call on (reading the data, the MNL start, every EM run, the
        comparison fits and the report; `fit_budget` splits them among the EM runs).
    visits, buy_share
        Only for data without no-purchase records: total visits, or the share of visits that
        buy (then visits = sales / buy_share).
    visits_file
        A periods CSV's visits given in a second CSV (columns ``period, visits``).
    support
        The support of ρ (`choose_support`), or the path of a CSV with columns ``from, to``
        listing the allowed transitions (`assortopt.fit.data.read_support`).
    shrinkage
        κ: pseudo-visits per row of ρ, distributed as the MNL-implied row (a Dirichlet prior;
        0 = maximum likelihood). Rows seen in few walks move toward MNL substitution.

    Returns
    -------
    (Instance, dict)
        The instance (arrival and transitions fitted; vendor/category in ``metadata``) and the
        fit report (`assortopt.fit.report.build_report`).

    Raises
    ------
    InstanceError
        Bad data or catalogue (file, row and column named), a product of the data missing from
        the catalogue, data without any purchase.
    OptionError
        Sales-only data without ``visits``/``buy_share`` (λ0 is not identified), or these given
        for data that record no-purchases; a bad holdout share, customers ≤ 0, a bad support.
    """
    t_start = time.perf_counter()
    products, cat_source = _catalogue(catalogue)
    ids = [p["id"] for p in products]
    if isinstance(data, SalesData):
        sales, held = data, None
        if list(sales.ids) != ids:
            missing = [p for p in sales.ids if p not in set(ids)]
            if missing:
                raise InstanceError(
                    "", f"product {missing[0]!r} of the data is not in the catalogue", cat_source
                )
            raise OptionError("data: products must be in catalogue order")
    else:
        sales, held = read_sales(data, ids=ids, catalogue=cat_source, visits_file=visits_file)
    if isinstance(support, str | os.PathLike) and str(support) not in SUPPORT_NAMES:
        support = read_support(support, sales.ids)  # a transitions CSV (from, to)
    if not customers or customers <= 0:
        raise OptionError(f"customers must be > 0, got {customers}")
    if distribution not in ("fixed", "poisson"):
        raise OptionError(f"distribution must be fixed or poisson, got {distribution!r}")
    if isinstance(holdout, SalesData):
        held = holdout
    elif holdout is not None:
        if not 0 < float(holdout) < 1:
            raise OptionError(f"holdout must be a fraction in (0, 1), got {holdout}")
        sales, held = sales.split(float(holdout), seed)
    lam0_source = "data"
    if not sales.has_no_purchase:
        if visits is None and buy_share is None:
            raise OptionError(
                f"{sales.source or 'data'}: no no-purchase records, so the share of visitors "
                "who want nothing is not identified; give --visits or --buy-share"
            )
        if visits is not None and buy_share is not None:
            raise OptionError("give --visits or --buy-share, not both")
        if buy_share is not None and not 0 < buy_share <= 1:
            raise OptionError(f"--buy-share must be in (0, 1], got {buy_share}")
        n_all = sales.n_visits + (held.n_visits if held is not None else 0.0)
        total = float(visits) if visits is not None else n_all / float(buy_share)  # type: ignore[arg-type]
        if total < n_all:
            raise OptionError(f"--visits {total:g} is below the number of sales ({n_all:g})")
        sales_only, held_only = sales, held
        sales = impute_no_purchases(sales_only, total * sales_only.n_visits / n_all)
        if held is not None and held.n_groups and not held.has_no_purchase:
            held = impute_no_purchases(held_only, total * held_only.n_visits / n_all)
        lam0_source = "visits" if visits is not None else "buy_share"
    elif visits is not None or buy_share is not None:
        raise OptionError(
            "--visits/--buy-share are for sales-only data; these data record no-purchases"
        )
    if sales.sales()[: sales.n].sum() <= 0:
        raise InstanceError("", "no purchase of any product in the fitted data", sales.source)

    left = fit_budget(time_limit, 1 + (IMPUTE_ROUNDS if lam0_source != "data" else 0), t_start)
    u = fit_mnl(sales)
    pattern = choose_support(sales, support)
    start = mnl_start(u, pattern)
    if shrinkage < 0:
        raise OptionError(f"shrinkage must be >= 0, got {shrinkage}")
    prior = (float(shrinkage), start) if shrinkage > 0 else None
    res: EMResult = fit_em(
        start,
        sales,
        tol=tol,
        max_iter=max_iter,
        time_limit=left("em"),
        progress=progress,
        prior=prior,
    )
    if lam0_source != "data":
        # re-spread the imputed no-purchases by the fitted chain's P0 per offer set, refit
        for _ in range(IMPUTE_ROUNDS):
            sales = impute_no_purchases(
                sales_only, total * sales_only.n_visits / n_all, _p0(res.params, sales_only)
            )
            res = fit_em(
                res.params,
                sales,
                tol=tol,
                max_iter=max_iter,
                time_limit=left("em"),
                progress=progress,
                prior=prior,
            )
        if held is not None and held_only is not None and not held_only.has_no_purchase:
            held = impute_no_purchases(
                held_only, total * held_only.n_visits / n_all, _p0(res.params, held_only)
            )
    ind = fit_em(
        mnl_start(u, sp.csr_array((sales.n, sales.n))),
        sales,
        tol=tol,
        max_iter=max_iter,
        time_limit=left("independent"),
        progress=False,
    )
    final = _floor_arrival(res.params)
    report = build_report(
        sales,
        held,
        res,
        ind.params,
        u,
        pattern,
        lam0_source=lam0_source,
        shrinkage=shrinkage,
        mnl_ll=(mnl_loglik(u, sales), mnl_loglik(u, held) if held is not None else None),
        ind_ll=(ind.loglik, loglik(ind.params, held) if held is not None else None),
        mc_held=loglik(final, held) if held is not None else None,
    )
    meta: dict[str, Any] = {
        "fit": {k: report[k] for k in ("data", "visits", "iterations", "loglik")}
    }
    for c in ("vendor", "category"):
        if any(c in p for p in products):
            meta[c] = [p.get(c, "") for p in products]
    inst = _chain_to_instance(
        final,
        products,
        customers,
        distribution,
        name or f"fitted-{os.path.splitext(os.path.basename(str(sales.source or 'data')))[0]}",
        meta,
    )
    return inst, report
