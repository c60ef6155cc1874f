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
