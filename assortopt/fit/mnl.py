"""The two comparison models of a fit: MNL (maximum likelihood with scipy) and independent demand.

MNL: P_j(S) = u_j / (1 + Σ_{k∈S} u_k), u = exp(β), the no-purchase utility fixed at 1. Its
grouped log-likelihood only needs, per offer set, the utility of the *unavailable* products:
Σ_{k∈S} u_k = U − Σ_{k∈B} u_k. The fitted MNL is also the EM's warm start (its induced chain) and
the shrinkage target of unidentified rows (``models/fit.md``).

Independent demand is the Markov chain with ρ ≡ 0 (a customer whose product is out leaves); it is
fitted by the same EM on an empty support.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize as so
import scipy.sparse as sp

from .data import SalesData

__all__ = ["fit_mnl", "mnl_loglik", "out_matrix"]

_BETA_MIN = -30.0  # products never bought: u ≥ e^-30 keeps the problem bounded


def out_matrix(data: SalesData) -> sp.csr_array:
    """Groups × products 0/1 matrix of unavailable products."""
    return sp.csr_array(
        (np.ones(len(data.out_indices)), data.out_indices, data.out_indptr),
        shape=(data.n_groups, data.n),
    )


def _nll(beta: np.ndarray, out: sp.csr_array, sizes: np.ndarray, sales: np.ndarray):
    u = np.exp(beta)
    denom = np.maximum(1.0 + u.sum() - out @ u, 1.0)
    ll = sales[:-1] @ beta - sizes @ np.log(denom)
    q = sizes / denom
    grad = sales[:-1] - u * (q.sum() - out.T @ q)
    return -ll, -grad


def fit_mnl(data: SalesData) -> np.ndarray:
    """MNL utilities u (length N, no-purchase utility 1) maximising the likelihood of ``data``.

    When the data record no no-purchases the scale is not identified; the caller imputes
    no-purchases first (``fit_markov_chain``). Raises nothing; L-BFGS-B with analytic gradient.
    """
    out = out_matrix(data)
    sizes = data.group_sizes()
    sales = data.sales()
    share = np.maximum(sales[:-1], 0.5) / max(sales[-1], 0.5)
    x0 = np.clip(np.log(share), _BETA_MIN, 30.0)
    res = so.minimize(
        _nll,
        x0,
        args=(out, sizes, sales),
        jac=True,
        method="L-BFGS-B",
        bounds=[(_BETA_MIN, 30.0)] * data.n,
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
    )
    return np.exp(res.x)


def mnl_loglik(u: np.ndarray, data: SalesData) -> float:
    """Σ over visits of log P_choice(offer set) under MNL utilities u."""
    if data.n_groups == 0:
        return 0.0
    return float(-_nll(np.log(u), out_matrix(data), data.group_sizes(), data.sales())[0])
