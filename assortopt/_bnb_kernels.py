"""Compiled (numba) kernels of the stock branch-and-bound (`assortopt.models.stock_bnb`).

`box_sales` plays every scenario of a stream once per product whose box is not a point, with that
product at the top of its box and every other product at the bottom; `expected_min` turns such
sales into the per-product tables E[min(q_j, d_kj)] of the box bound (models/stock_bnb.md §3).
`node_bound` is a whole node of the search without budget or ``max_products`` in one call (sales
tables, carried from the parent box where they cannot have changed, shrink, γ grid, maximiser and
its exact value; `sales_table`, models/stock_bnb.md §4).
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
        _play(offsets, items, c0, c1, lo, inv, d, k)
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


@njit(cache=True, nogil=True)
def _sold_out_mask(inv, skip):
    """Bitmask (int32) of the products p ≠ ``skip`` with no unit left (all bits when N > 31)."""
    n = inv.shape[0]
    if n > 31:
        return np.int32(-1)
    mask = 0
    for p in range(n):
        if p != skip and inv[p] <= 0:
            mask |= 1 << p
    return np.int32(mask)


@njit(cache=True, nogil=True)
def sales_table(offsets, items, scen_offsets, lo, hi, d, mask, j):
    """Fill d[k, i] = S_ki(hi_i, lo_{−i}) (run R_i: i at ``hi_i``, every other product at lo,
    stopped once i sold hi_i) and the bitmask of the products p ≠ i with no unit left when R_i
    ended, in place: every entry when ``j < 0``; else (the child ``q_j ≥ s + 1`` of a box with
    d and mask of the parent) only the entries i ≠ j whose run had j sold out — the others'
    runs are unchanged by more units of j (models/stock_bnb.md §4). Entries with hi_i = 0 are
    0, mask 0. R_i is the run from lo up to the customer after whom i has no unit left there
    (Lemma 2's proof), so one run from lo per scenario, with the stock saved at those moments,
    and R_i's rest from there. Returns the number of runs (or rests of runs) played."""
    n_scen = scen_offsets.shape[0] - 1
    n = lo.shape[0]
    inv = np.empty(n, dtype=np.int64)
    run = np.empty(n, dtype=np.int64)
    sold = np.empty(n, dtype=np.int64)
    snap = np.empty((n, n), dtype=np.int64)
    snap_c = np.empty(n, dtype=np.int64)
    todo = np.empty(n, dtype=np.bool_)
    runs = 0
    for k in range(n_scen):
        c0 = scen_offsets[k]
        c1 = scen_offsets[k + 1]
        any_todo = False
        for i in range(n):
            todo[i] = j < 0 or (i != j and (n > 31 or ((mask[k, i] >> j) & 1) == 1))
            if todo[i] and hi[i] <= 0:
                d[k, i] = 0
                mask[k, i] = 0
                todo[i] = False
            any_todo = any_todo or todo[i]
        if not any_todo:
            continue
        # the run from lo, saving the stock when each product has no unit left
        for i in range(n):
            inv[i] = lo[i]
            sold[i] = 0
            snap_c[i] = -1
        for i in range(n):
            if lo[i] == 0:
                snap_c[i] = c0
                for p in range(n):
                    snap[i, p] = inv[p]
        for c in range(c0, c1):
            for t in range(offsets[c], offsets[c + 1]):
                i = items[t]
                if inv[i] > 0:
                    inv[i] -= 1
                    sold[i] += 1
                    if inv[i] == 0:
                        snap_c[i] = c + 1
                        for p in range(n):
                            snap[i, p] = inv[p]
                    break
        runs += 1
        end = _sold_out_mask(inv, -1)
        for i in range(n):
            if not todo[i]:
                continue
            if snap_c[i] < 0 or hi[i] == lo[i]:
                # i never sold out from lo (R_i is the run from lo) or has no more units
                d[k, i] = sold[i]
                mask[k, i] = np.int32(end & ~(1 << i)) if n <= 31 else end
                continue
            for p in range(n):
                run[p] = snap[i, p]
            run[i] = hi[i] - lo[i]
            got = lo[i] + _season_sales(offsets, items, snap_c[i], c1, run, i, hi[i] - lo[i])
            d[k, i] = got
            mask[k, i] = _sold_out_mask(run, i)
            runs += 1
    return runs


@njit(cache=True, nogil=True)
def _gamma_bound(gamma, gain, upper, lower, cost, span, total):
    """The unconstrained γ-bound Σ_j max_r [(g_j − γ)·(upper or lower)[j, r] − cost[j, r]]
    + γ·total (models/stock_bnb.md §3.1); r runs over 0..span[j]."""
    s = 0.0
    for j in range(gain.shape[0]):
        a = gain[j] - gamma
        tab = upper if a >= 0 else lower
        best = -np.inf
        for r in range(span[j] + 1):
            v = a * tab[j, r] - cost[j, r]
            if v > best:
                best = v
        s += best
    return s + gamma * total


@njit(cache=True, nogil=True)
def _fits(row, q):
    """Whether every product's sales in ``row`` are ≤ its stock in q (then, by Lemma 3 of
    models/stock_bnb.md, the run from any stock between q and the run's own gives these sales)."""
    for p in range(q.shape[0]):
        if row[p] > q[p]:
            return False
    return True


@njit(cache=True, nogil=True)
def _play(offsets, items, c0, c1, q, inv, out, k):
    """Sales of one season from stock q into ``out[k]`` (``inv``: scratch)."""
    n = q.shape[0]
    for p in range(n):
        inv[p] = q[p]
        out[k, p] = 0
    for c in range(c0, c1):
        for t in range(offsets[c], offsets[c + 1]):
            p = items[t]
            if inv[p] > 0:
                inv[p] -= 1
                out[k, p] += 1
                break


@njit(cache=True, nogil=True)
def node_bound(offsets, items, scen_offsets, weight, gain, net_cost, fixed, lo, hi, d_in, mask_in,
               j_up, e_in, steps):  # fmt: skip
    """One node of the stock search without budget or ``max_products`` (models/stock_bnb.md
    §3–4), in one call: the sales d (entry (k, i): i at ``hi_i``, the others at lo, `sales_table`;
    with a parent table ``d_in`` / ``mask_in`` of K rows: the child ``q_j ≤ s`` (``j_up < 0``)
    takes it as it is, the child ``q_j ≥ s + 1`` (``j_up = j``) replays only the runs that had j
    sold out, §4), the shrunk box (§3.2), e = sales at the shrunk hi, the tables E[min(q, d)],
    E[min(q, e)], and the γ-bound minimised over the grid of 2·steps + 1 points on [0, max g]
    refined twice around the best point (γ = 0 on a point box or with steps ≤ 0), and the exact
    value of the maximiser (the bound itself on a point box, where they are equal). With the
    parent's e (``e_in``, K rows), a scenario whose parent sales fit under the shrunk hi keeps
    them, and the value takes e_k in every scenario where e_k fits under the maximiser (both by
    Lemma 3). Returns (bound, maximiser, shrunk hi, d table, mask table, e, value, point, runs
    played); the d table holds min(hi_i, S_ki(∞, lo_{−i})) after taking min(·, hi_i), which is
    all any box below reads."""
    n_scen = scen_offsets.shape[0] - 1
    n = lo.shape[0]
    if d_in.shape[0] != n_scen:
        d_out = np.zeros((n_scen, n), dtype=np.int32)
        mask_out = np.zeros((n_scen, n), dtype=np.int32)
        runs = sales_table(offsets, items, scen_offsets, lo, hi, d_out, mask_out, -1)
    elif j_up < 0:
        d_out, mask_out, runs = d_in, mask_in, 0
    else:
        d_out = d_in.copy()
        mask_out = mask_in.copy()
        runs = sales_table(offsets, items, scen_offsets, lo, hi, d_out, mask_out, j_up)
    d = np.empty((n_scen, n), dtype=np.int64)
    for k in range(n_scen):
        for i in range(n):
            d[k, i] = min(d_out[k, i], hi[i])
    hi2 = hi.copy()
    for j in range(n):
        m = lo[j]
        for k in range(n_scen):
            if d[k, j] > m:
                m = d[k, j]
        if m < hi2[j]:
            hi2[j] = m
    # e = sales at hi2; a scenario whose sales at the parent's hi fit under hi2 keeps them
    e = np.empty((n_scen, n), dtype=np.int32)
    inv = np.empty(n, dtype=np.int64)
    reuse_e = e_in.shape[0] == n_scen
    for k in range(n_scen):
        if reuse_e and _fits(e_in[k], hi2):
            for p in range(n):
                e[k, p] = e_in[k, p]
        else:
            _play(offsets, items, scen_offsets[k], scen_offsets[k + 1], hi2, inv, e, k)
            runs += 1
    span = hi2 - lo
    width = 1
    point = True
    for j in range(n):
        if span[j] + 1 > width:
            width = span[j] + 1
        if span[j] > 0:
            point = False
    upper = expected_min(d, weight, lo, hi2, width)
    lower = expected_min(e, weight, lo, hi2, width)
    total = 0.0
    for k in range(n_scen):
        tk = 0
        for j in range(n):
            tk += e[k, j]
        total += weight[k] * tk
    cost = np.empty((n, width))
    for j in range(n):
        for r in range(span[j] + 1):
            m = lo[j] + r
            cost[j, r] = net_cost[j] * m + (fixed[j] if m > 0 else 0.0)
    best_g = 0.0
    if not point and steps > 0:
        a = 0.0
        b = gain.max()
        pts = 2 * steps + 1
        div = pts - 1
        best_v = np.inf
        for _ in range(3):
            step = (b - a) / div
            v_best = np.inf
            g_best = a
            for i in range(pts):
                if i == div:
                    g = b
                elif step == 0:
                    g = i / div * (b - a) + a
                else:
                    g = i * step + a
                v = _gamma_bound(g, gain, upper, lower, cost, span, total)
                if v < v_best:
                    v_best, g_best = v, g
            if v_best < best_v:
                best_v, best_g = v_best, g_best
            a, b = max(0.0, g_best - step), g_best + step
    q = lo.copy()
    ub = 0.0
    for j in range(n):
        a = gain[j] - best_g
        tab = upper if a >= 0 else lower
        best = -np.inf
        r_best = 0
        for r in range(span[j] + 1):
            v = a * tab[j, r] - cost[j, r]
            if v > best:
                best, r_best = v, r
        ub += best
        q[j] = lo[j] + r_best
    ub += best_g * total
    value = ub
    if not point:  # the exact value of q; a scenario whose sales at hi2 fit under q keeps them
        value = 0.0
        row = np.empty((1, n), dtype=np.int32)
        for k in range(n_scen):
            if _fits(e[k], q):
                src = e[k]
            else:
                _play(offsets, items, scen_offsets[k], scen_offsets[k + 1], q, inv, row, 0)
                runs += 1
                src = row[0]
            rk = 0.0
            for p in range(n):
                rk += gain[p] * src[p]
            value += weight[k] * rk
        for p in range(n):
            value -= net_cost[p] * q[p]
            if q[p] > 0:
                value -= fixed[p]
    return ub, q, hi2, d_out, mask_out, e, value, point, runs


@njit(cache=True, nogil=True)
def branch_bound_point(lo, hi, qstar, gain):
    """The split of `assortopt.models.stock_bnb._branch` for its default rule ``bound-point``:
    the product whose bound maximiser is furthest above lo (times its gain), split halfway
    between lo and the maximiser; the widest side (times gain) in the middle if q* = lo.
    Returns (j, s): children q_j ≤ s and q_j ≥ s + 1."""
    n = lo.shape[0]
    best = -np.inf
    top = -np.inf
    j = 0
    for i in range(n):
        above = float(qstar[i] - lo[i]) if hi[i] > lo[i] else -1.0
        if above > top:
            top = above
        v = above * gain[i]
        if v > best:
            best, j = v, i
    if top > 0:
        s = (lo[j] + qstar[j]) // 2
        s = min(max(s, lo[j]), hi[j] - 1)
        return j, s
    best = -np.inf
    for i in range(n):
        v = (hi[i] - lo[i]) * gain[i] if hi[i] > lo[i] else -1.0
        if v > best:
            best, j = v, i
    return j, (lo[j] + hi[j]) // 2
