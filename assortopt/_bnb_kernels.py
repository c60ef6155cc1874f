"""Compiled (numba) kernels of the stock branch-and-bound (`assortopt.models.stock_bnb`).

`box_sales` plays every scenario of a stream once per product whose box is not a point, with that
product at the top of its box and every other product at the bottom; `expected_min` turns such
sales into the per-product tables E[min(q_j, d_kj)] of the box bound (models/stock_bnb.md §3).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _season_sales(offsets, items, c0, c1, inv, j, cap):
    """Sales of product j in one season from stock ``inv`` (modified); stops once j sold ``cap``."""
    sold = 0
    for c in range(c0, c1):
        for t in range(offsets[c], offsets[c + 1]):
            i = items[t]
            if inv[i] > 0:
                inv[i] -= 1
                if i == j:
                    sold += 1
                    if sold >= cap:
                        return sold
                break
    return sold


@njit(cache=True, nogil=True)
def box_sales(offsets, items, scen_offsets, lo, hi):
    """d[k, j] = sales of j in scenario k with j at ``hi[j]`` units and every other product at
    ``lo`` (for j with ``hi[j] == lo[j]``: its sales at ``lo``). Returns d (K, N) int64."""
    n_scen = scen_offsets.shape[0] - 1
    n = lo.shape[0]
    d = np.zeros((n_scen, n), dtype=np.int64)
    inv = np.empty(n, dtype=np.int64)
    for k in range(n_scen):
        c0 = scen_offsets[k]
        c1 = scen_offsets[k + 1]
        for i in range(n):
            inv[i] = lo[i]
        for c in range(c0, c1):
            for t in range(offsets[c], offsets[c + 1]):
                i = items[t]
                if inv[i] > 0:
                    inv[i] -= 1
                    d[k, i] += 1
                    break
        for j in range(n):
            if hi[j] > lo[j]:
                for i in range(n):
                    inv[i] = lo[i]
                inv[j] = hi[j]
                d[k, j] = _season_sales(offsets, items, c0, c1, inv, j, hi[j])
    return d


@njit(cache=True, nogil=True)
def expected_min(d, weight, lo, hi, width):
    """E[j, r] = Σ_k w_k min(lo_j + r, d[k, j]) for r = 0..hi_j − lo_j (0 beyond).
    Returns E (N, width)."""
    n_scen, n = d.shape
    out = np.zeros((n, width))
    for j in range(n):
        top = hi[j]
        cnt = np.zeros(top + 2)
        for k in range(n_scen):
            v = d[k, j]
            if v > top:
                v = top
            cnt[v] += weight[k]
        ge = 0.0
        for v in range(top + 1):
            ge += cnt[v]
        e = 0.0
        for m in range(top + 1):
            if m > 0:
                ge -= cnt[m - 1]
                e += ge
            if m >= lo[j]:
                out[j, m - lo[j]] = e
    return out


@njit(cache=True, nogil=True)
def customer_sets(offsets, items, scen_offsets, lo, hi):
    """Per customer c: ``cut[c]`` = how many leading entries of her list she can buy anywhere in
    the box (up to and including the first product with a unit left when she arrives in the run
    from ``lo``: the products after it stay available for her at every q ≥ lo), and ``buys[c]``
    = whether she buys in the run from ``hi`` (nobody else buys in the box;
    models/stock_bnb.md §3.4)."""
    n_cust = offsets.shape[0] - 1
    n = lo.shape[0]
    cut = np.zeros(n_cust, dtype=np.int64)
    buys = np.zeros(n_cust, dtype=np.bool_)
    inv = np.empty(n, dtype=np.int64)
    for k in range(scen_offsets.shape[0] - 1):
        c0 = scen_offsets[k]
        c1 = scen_offsets[k + 1]
        for i in range(n):
            inv[i] = lo[i]
        for c in range(c0, c1):
            a, b = offsets[c], offsets[c + 1]
            cut[c] = b - a
            for t in range(a, b):
                i = items[t]
                if inv[i] > 0:
                    inv[i] -= 1
                    cut[c] = t - a + 1
                    break
        for i in range(n):
            inv[i] = hi[i]
        for c in range(c0, c1):
            for t in range(offsets[c], offsets[c + 1]):
                i = items[t]
                if inv[i] > 0:
                    inv[i] -= 1
                    buys[c] = True
                    break
    return cut, buys


@njit(cache=True, nogil=True)
def _claim_size(m, dk, ek, npos):
    s = min(m, dk)
    if npos < s:
        s = npos
    low = min(m, ek)
    return low if s < low else s


@njit(cache=True, nogil=True)
def claim_tables(offsets, items, scen_offsets, cut, buys, mu, gain, d, e, weight, lo, hi,
                 width, qstar):  # fmt: skip
    """The customer-price bound's tables (models/stock_bnb.md §3.4) for prices ``mu`` (one per
    customer, ≥ 0): H[j, r] = Σ_k w_k (best sum of g_j − μ_c over the customers c who can buy j,
    taking between min(q, e_kj) and min(q, d_kj) of them) at q = lo_j + r, and the constant
    Σ_k w_k Σ_{c buys at hi} μ_c. With ``qstar`` (length N, else empty): also the subgradient
    w_k (1 − #products claiming c) of the bound in μ_c at that plan (0 for non-buyers)."""
    n = lo.shape[0]
    n_cust = offsets.shape[0] - 1
    H = np.zeros((n, width))
    grad = np.zeros(n_cust)
    const = 0.0
    want = qstar.shape[0] == n
    for k in range(scen_offsets.shape[0] - 1):
        c0 = scen_offsets[k]
        c1 = scen_offsets[k + 1]
        w = weight[k]
        m_c = c1 - c0
        vals = np.empty((n, m_c))
        who = np.empty((n, m_c), dtype=np.int64)
        cnt = np.zeros(n, dtype=np.int64)
        for c in range(c0, c1):
            if not buys[c]:
                continue
            const += w * mu[c]
            if want:
                grad[c] += w
            a = offsets[c]
            for t in range(a, a + cut[c]):
                i = items[t]
                vals[i, cnt[i]] = gain[i] - mu[c]
                who[i, cnt[i]] = c
                cnt[i] += 1
        for j in range(n):
            nj = cnt[j]
            order = np.argsort(-vals[j, :nj])
            pref = np.zeros(nj + 1)
            npos = 0
            for r in range(nj):
                v = vals[j, order[r]]
                pref[r + 1] = pref[r] + v
                if v > 0:
                    npos += 1
            dk = d[k, j]
            ek = e[k, j]
            for m in range(lo[j], hi[j] + 1):
                H[j, m - lo[j]] += w * pref[min(_claim_size(m, dk, ek, npos), nj)]
            if want:
                s = min(_claim_size(qstar[j], dk, ek, npos), nj)
                for r in range(s):
                    grad[who[j, order[r]]] -= w
    return H, const, grad
