"""Grouped exact EM for the Markov chain choice model (Şimşek & Topaloglu), with SQUAREM.

The chain is held as `ChainParams`: λ (N), λ0, ρ on a fixed sparse support (CSR) and the exit
probabilities, so that every row of (ρ_i·, exit_i) and (λ, λ0) sums to one. One E-step visits each
distinct offer set once: it factorises I − ρ_B̄B̄ (B = the unavailable products, dense LU without
pivoting: an M-matrix), solves once for the expected visits θ (transposed system) and once for the
count-weighted absorption vector Ψ (all choices of the offer set in one right-hand side, since the
expected counts are linear in the per-choice absorption vectors). The math is in ``models/fit.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numba as nb
import numpy as np
import scipy.sparse as sp

from ..exceptions import OptionError
from .data import SalesData

__all__ = ["ChainParams", "estep", "mstep", "loglik", "fit_em", "EMResult"]

_FLOOR = 1e-12  # extrapolated (SQUAREM) entries are clipped here before renormalising


@dataclass(frozen=True, eq=False)
class ChainParams:
    """A Markov chain on a fixed support: λ, λ0, ρ (CSR arrays) and exit probabilities."""

    arrival: np.ndarray
    lam0: float
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    exit: np.ndarray

    @property
    def n(self) -> int:
        return len(self.arrival)

    @classmethod
    def from_chain(cls, arrival: np.ndarray, transitions: Any) -> ChainParams:
        """The chain of an instance (λ, ρ) on ρ's own support."""
        rho = sp.csr_array(transitions, dtype=np.float64)
        rho.sort_indices()
        lam = np.asarray(arrival, dtype=np.float64)
        return cls(
            arrival=lam.copy(),
            lam0=max(0.0, 1.0 - float(lam.sum())),
            indptr=rho.indptr.astype(np.int64),
            indices=rho.indices.astype(np.int64),
            data=rho.data.copy(),
            exit=np.maximum(0.0, 1.0 - np.asarray(rho.sum(axis=1)).ravel()),
        )

    def rho(self) -> sp.csr_array:
        """ρ as a CSR array."""
        return sp.csr_array((self.data, self.indices, self.indptr), shape=(self.n, self.n))

    def vector(self) -> np.ndarray:
        return np.concatenate([self.arrival, [self.lam0], self.data, self.exit])

    def from_vector(self, v: np.ndarray) -> ChainParams:
        n, m = self.n, len(self.data)
        return replace(
            self,
            arrival=v[:n].copy(),
            lam0=float(v[n]),
            data=v[n + 1 : n + 1 + m].copy(),
            exit=v[n + 1 + m :].copy(),
        )

    def normalised(self) -> ChainParams:
        """Clip to the floor and rescale (λ, λ0) and every row (ρ_i·, exit_i) to sum 1."""
        lam = np.maximum(self.arrival, _FLOOR)
        lam0 = max(self.lam0, _FLOOR)
        s = lam.sum() + lam0
        data = np.maximum(self.data, _FLOOR)
        ex = np.maximum(self.exit, _FLOOR)
        rows = np.repeat(np.arange(self.n), np.diff(self.indptr))
        tot = np.bincount(rows, weights=data, minlength=self.n) + ex
        return replace(self, arrival=lam / s, lam0=lam0 / s, data=data / tot[rows], exit=ex / tot)


@nb.njit(cache=True)
def _lu_inplace(a: np.ndarray) -> None:
    n = a.shape[0]
    for k in range(n):
        piv = a[k, k]
        for i in range(k + 1, n):
            a[i, k] /= piv
            f = a[i, k]
            if f != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= f * a[k, j]


@nb.njit(cache=True)
def _solve_lu(a: np.ndarray, b: np.ndarray) -> None:
    """Solve L U x = b in place."""
    n = a.shape[0]
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= a[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= a[i, j] * b[j]
        b[i] = s / a[i, i]


@nb.njit(cache=True)
def _solve_lu_t(a: np.ndarray, b: np.ndarray) -> None:
    """Solve (L U)ᵀ x = b in place: Uᵀ y = b, then Lᵀ x = y."""
    n = a.shape[0]
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= a[j, i] * b[j]
        b[i] = s / a[i, i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= a[j, i] * b[j]
        b[i] = s


@nb.njit(cache=True)
def _estep_kernel(out_ptr, out_idx, ch_ptr, ch_j, ch_c, lam, lam0, indptr, indices, data, exitp):
    n = len(lam)
    n_groups = len(out_ptr) - 1
    F = np.zeros(n + 1)
    X = np.zeros(len(data))
    Xe = np.zeros(n)
    ll = 0.0
    pcell = np.empty(len(ch_j))
    pos = np.full(n, -1, dtype=np.int64)
    cpos = np.full(n + 1, -1, dtype=np.int64)
    for g in range(n_groups):
        b0 = out_ptr[g]
        b = out_ptr[g + 1] - b0
        c0 = ch_ptr[g]
        m = ch_ptr[g + 1] - c0
        for t in range(b):
            pos[out_idx[b0 + t]] = t
        for s in range(m):
            cpos[ch_j[c0 + s]] = s
        mat = np.zeros((b, b))
        rc = np.zeros((b, m))
        for t in range(b):
            i = out_idx[b0 + t]
            mat[t, t] = 1.0
            for e in range(indptr[i], indptr[i + 1]):
                k = indices[e]
                if pos[k] >= 0:
                    mat[t, pos[k]] -= data[e]
                elif cpos[k] >= 0:
                    rc[t, cpos[k]] = data[e]
            if cpos[n] >= 0:
                rc[t, cpos[n]] = exitp[i]
        _lu_inplace(mat)
        theta = np.empty(b)
        for t in range(b):
            theta[t] = lam[out_idx[b0 + t]]
        _solve_lu_t(mat, theta)
        w = np.empty(m)
        for s in range(m):
            j = ch_j[c0 + s]
            p = lam[j] if j < n else lam0
            for t in range(b):
                p += theta[t] * rc[t, s]
            if p < 1e-300:
                p = 1e-300
            pcell[c0 + s] = p
            ll += ch_c[c0 + s] * np.log(p)
            w[s] = ch_c[c0 + s] / p
            F[j] += (lam[j] if j < n else lam0) * w[s]
        psi = np.zeros(b)
        for t in range(b):
            acc = 0.0
            for s in range(m):
                acc += rc[t, s] * w[s]
            psi[t] = acc
        _solve_lu(mat, psi)
        wexit = w[cpos[n]] if cpos[n] >= 0 else 0.0
        for t in range(b):
            i = out_idx[b0 + t]
            F[i] += lam[i] * psi[t]
            th = theta[t]
            for e in range(indptr[i], indptr[i + 1]):
                k = indices[e]
                if pos[k] >= 0:
                    X[e] += th * data[e] * psi[pos[k]]
                elif cpos[k] >= 0:
                    X[e] += th * data[e] * w[cpos[k]]
            Xe[i] += th * exitp[i] * wexit
        for t in range(b):
            pos[out_idx[b0 + t]] = -1
        for s in range(m):
            cpos[ch_j[c0 + s]] = -1
    return ll, F, X, Xe, pcell


def _run_estep(params: ChainParams, data: SalesData) -> tuple[Any, ...]:
    return _estep_kernel(  # type: ignore[no-any-return]
        data.out_indptr,
        data.out_indices,
        data.ch_indptr,
        data.ch_product,
        data.ch_count,
        params.arrival,
        params.lam0,
        params.indptr,
        params.indices,
        params.data,
        params.exit,
    )


def estep(params: ChainParams, data: SalesData) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``(log-likelihood at params, E[#first choice] (N+1, last = nothing), E[X] on the support,
    E[#exits] per product)``."""
    return _run_estep(params, data)[:4]  # type: ignore[return-value]


def cell_probabilities(params: ChainParams, data: SalesData) -> np.ndarray:
    """P_choice(offer set) for every (offer set, choice) cell of ``data``."""
    return _run_estep(params, data)[4]  # type: ignore[no-any-return]


def loglik(params: ChainParams, data: SalesData) -> float:
    """Σ over visits of log P_choice(offer set) under the chain."""
    if data.n_groups == 0:
        return 0.0
    return float(estep(params, data)[0])


def mstep(
    params: ChainParams,
    F: np.ndarray,
    X: np.ndarray,
    Xe: np.ndarray,
    prior: tuple[float, ChainParams] | None = None,
) -> ChainParams:
    """Closed-form M-step; rows with no expected visit (not identified) keep their values.

    ``prior = (κ, target)``: each row of ρ gets κ pseudo-visits distributed as ``target``'s row
    (a Dirichlet prior: the M-step of MAP-EM), which shrinks rows seen in few walks."""
    n = params.n
    tot = F.sum()
    rows = np.repeat(np.arange(n), np.diff(params.indptr))
    if prior is not None and prior[0] > 0:
        kappa, target = prior
        X = X + kappa * target.data
        Xe = Xe + kappa * target.exit
    visits = np.bincount(rows, weights=X, minlength=n) + Xe
    ident = visits > 0
    scale = np.where(ident, 1.0 / np.where(ident, visits, 1.0), 0.0)
    data = np.where(ident[rows], X * scale[rows], params.data)
    ex = np.where(ident, Xe * scale, params.exit)
    return replace(params, arrival=F[:n] / tot, lam0=float(F[n] / tot), data=data, exit=ex)


def _log_prior(p: ChainParams, prior: tuple[float, ChainParams] | None) -> float:
    """κ Σ target·log(row): the Dirichlet log-density (up to a constant) MAP-EM increases."""
    if prior is None or prior[0] <= 0:
        return 0.0
    kappa, t = prior
    with np.errstate(divide="ignore"):
        return float(
            kappa * (t.data @ np.log(np.maximum(p.data, 1e-300)))
            + kappa * (t.exit @ np.log(np.maximum(p.exit, 1e-300)))
        )


@dataclass
class EMResult:
    """The fitted chain and how the fit went (``loglik``: the data's, without the prior term;
    ``history``: the objective EM increases, log-likelihood plus log-prior)."""

    params: ChainParams
    loglik: float
    iterations: int  # E-steps (EM map evaluations)
    seconds: float
    converged: bool
    stopped: str  # "tolerance", "max_iter" or "time_limit"
    history: list[float]


def fit_em(
    params: ChainParams,
    data: SalesData,
    tol: float = 1e-8,
    max_iter: int = 2000,
    time_limit: float | None = None,
    accelerate: bool = True,
    progress: bool | None = None,
    prior: tuple[float, ChainParams] | None = None,
) -> EMResult:
    """Run EM from ``params`` until the relative log-likelihood gain falls below ``tol``.

    With ``accelerate`` (default) each cycle is SQUAREM (Varadhan & Roland, scheme S3): two EM
    steps, an extrapolated point clipped and renormalised to stay feasible, and one EM step from
    it; the extrapolation is kept only if its log-likelihood is no worse than the second EM
    point's, otherwise the cycle falls back to plain EM. Deterministic. ``progress`` shows a
    tqdm bar on stderr (None: only when the output is a terminal).

    Raises
    ------
    OptionError
        ``max_iter`` < 1, ``tol`` < 0 or a non-positive time limit.
    """
    if max_iter < 1 or tol < 0 or (time_limit is not None and time_limit <= 0):
        raise OptionError("EM: need max_iter >= 1, tol >= 0 and a positive time limit")
    from tqdm import tqdm

    t0 = time.perf_counter()
    bar = tqdm(
        total=max_iter,
        desc="fit EM",
        unit="step",
        disable=None if progress is None else not progress,
        leave=False,
    )
    evals = 0
    hist: list[float] = []

    def em(p: ChainParams) -> tuple[float, ChainParams]:
        nonlocal evals
        ll, F, X, Xe = estep(p, data)
        evals += 1
        bar.update(1)
        return float(ll) + _log_prior(p, prior), mstep(p, F, X, Xe, prior)

    cur = params
    ll_cur, nxt = em(cur)
    hist.append(ll_cur)
    stopped, converged = "max_iter", False
    scale = max(abs(ll_cur), 1.0)
    while evals < max_iter:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped = "time_limit"
            break
        ll1, nxt2 = em(nxt)
        new, ll_new = nxt, ll1
        if accelerate and evals + 1 <= max_iter:
            v0, v1, v2 = cur.vector(), nxt.vector(), nxt2.vector()
            r = v1 - v0
            v = v2 - v1 - r
            nv = np.linalg.norm(v)
            alpha = -np.linalg.norm(r) / nv if nv > 0 else -1.0
            alpha = min(alpha, -1.0)
            ext = cur.from_vector(v0 - 2 * alpha * r + alpha * alpha * v).normalised()
            ll_ext, after = em(ext)
            if ll_ext >= ll1:
                cur, ll_cur_new, nxt = ext, ll_ext, after
            else:
                cur, ll_cur_new, nxt = nxt, ll1, nxt2
        else:
            cur, ll_cur_new, nxt = new, ll_new, nxt2
        gain = ll_cur_new - ll_cur
        ll_cur = ll_cur_new
        hist.append(ll_cur)
        bar.set_postfix(ll=f"{ll_cur:.6g}")
        if abs(gain) <= tol * scale:
            stopped, converged = "tolerance", True
            break
    bar.close()
    # nxt is one EM step beyond cur: never worse (EM is monotone), so return it with its value
    ll_final = loglik(nxt, data) + _log_prior(nxt, prior)
    if ll_final >= ll_cur:
        cur, ll_cur = nxt, ll_final
    ll_cur -= _log_prior(cur, prior)
    return EMResult(cur, ll_cur, evals, time.perf_counter() - t0, converged, stopped, hist)
