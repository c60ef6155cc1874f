"""Compiled kernels for incremental re-simulation of unit moves on a fixed stream.

A season is simulated once for a plan q (`season_trajectory`); it records, per customer, the
product she bought (or −1) and where in her list, and per product the season's buyers and the
customers who *missed* it (reached it out of stock), both sorted by arrival. A move of product j
from q_j to q'_j is then replayed as a short chain of events (`season_delta`) instead of a new
simulation: with d = new − old remaining stock per product (d_j = q'_j − q_j at the start),

* a product l with d_l < 0 changes the season at its old buyers who would find it empty:
  the old purchases of l whose rank u (1-based) has q_l − u + 1 + d_l ≤ 0;
* a product l with d_l > 0 changes it at the customers who missed l in the old season;
* nothing else changes: a customer acts differently only if a product of her list up to her
  old purchase is in stock in one season and not in the other.

Events are handled in arrival order; each event customer picks the first product of her list
in stock in the new season (old remaining stock from the buyers' ranks, plus d) and updates d.
The result is the exact new revenue of the season, the same trajectory a full re-simulation
would give (the argument is written in docs/methods.md, "Incremental rounding").
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.int64(1) << np.int64(62)


@njit(cache=True)
def _bisect_right(a, lo, hi, x):  # pragma: no cover - numba
    """First index in [lo, hi) with a[i] > x (a sorted)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _bisect_left(a, lo, hi, x):  # pragma: no cover - numba
    """First index in [lo, hi) with a[i] >= x (a sorted)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def season_trajectory(  # pragma: no cover - numba
    k,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    rem,
    mcnt,
    purch,
    ppos,
    buy_ptr,
    buy_c,
    miss_ptr,
    miss_c,
    sales,
    missed,
    rev,
):
    """Simulate season k under ``stock`` and record its trajectory.

    Fills ``purch``/``ppos`` for its customers, row k of ``buy_ptr``/``miss_ptr`` (N+1) with
    the season's buyers of each product in ``buy_c[sc_off[k]:]`` and its misses in
    ``miss_c[offsets[sc_off[k]]:]`` (sorted by customer), and row k of sales, missed and rev.
    ``rem`` and ``mcnt`` are scratch arrays of length N.
    """
    n = stock.shape[0]
    c0 = sc_off[k]
    c1 = sc_off[k + 1]
    for i in range(n):
        rem[i] = stock[i]
        sales[k, i] = 0
        missed[k, i] = False
        mcnt[i] = 0
    r = 0.0
    for c in range(c0, c1):
        lo = offsets[c]
        hi = offsets[c + 1]
        got = -1
        pos = hi
        for t in range(lo, hi):
            i = items[t]
            if rem[i] > 0:
                rem[i] -= 1
                sales[k, i] += 1
                r += gain[i]
                got = i
                pos = t
                break
            missed[k, i] = True
            mcnt[i] += 1
        purch[c] = got
        ppos[c] = pos
    rev[k] = r
    b = c0
    m = offsets[c0]
    for i in range(n):
        buy_ptr[k, i] = b
        b += sales[k, i]
        miss_ptr[k, i] = m
        m += mcnt[i]
    buy_ptr[k, n] = b
    miss_ptr[k, n] = m
    for i in range(n):
        rem[i] = buy_ptr[k, i]
        mcnt[i] = miss_ptr[k, i]
    for c in range(c0, c1):
        for t in range(offsets[c], ppos[c]):
            i = items[t]
            miss_c[mcnt[i]] = c
            mcnt[i] += 1
        p = purch[c]
        if p >= 0:
            buy_c[rem[p]] = c
            rem[p] += 1


@njit(cache=True)
def _old_rem(k, l, c, stock, buy_ptr, buy_c):  # pragma: no cover - numba
    """Units of l left in the old season when customer c arrives."""
    lo = buy_ptr[k, l]
    return stock[l] - (_bisect_left(buy_c, lo, buy_ptr[k, l + 1], c) - lo)


@njit(cache=True)
def _next_event(k, l, t, d, stock, buy_ptr, buy_c, miss_ptr, miss_c):  # pragma: no cover
    """First customer after t whose choice the stock difference d of product l changes."""
    if d < 0:
        lo = buy_ptr[k, l]
        hi = buy_ptr[k, l + 1]
        idx = _bisect_right(buy_c, lo, hi, t)
        thr = lo + stock[l] + d
        if idx < thr:
            idx = thr
        return buy_c[idx] if idx < hi else _INF
    if d > 0:
        lo = miss_ptr[k, l]
        hi = miss_ptr[k, l + 1]
        idx = _bisect_right(miss_c, lo, hi, t)
        return miss_c[idx] if idx < hi else _INF
    return _INF


@njit(cache=True)
def season_delta(  # pragma: no cover - numba
    k,
    j,
    newq,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    buy_ptr,
    buy_c,
    miss_ptr,
    miss_c,
    diff,
    act,
    act_t,
):
    """Revenue change of season k when product j's stock goes from stock[j] to newq.

    Returns (delta, number of customers whose purchase changes). ``diff`` (N, zeros) is
    restored on return; ``act``/``act_t`` are scratch arrays (length ≥ season customers + 2).
    """
    d0 = newq - stock[j]
    if d0 == 0:
        return 0.0, 0
    diff[j] = d0
    act[0] = j
    act_t[0] = _next_event(k, j, sc_off[k] - 1, d0, stock, buy_ptr, buy_c, miss_ptr, miss_c)
    nact = 1
    delta = 0.0
    nch = 0
    while nact > 0:
        c = _INF
        for a in range(nact):
            if act_t[a] < c:
                c = act_t[a]
        if c >= _INF:
            break
        lo = offsets[c]
        hi = offsets[c + 1]
        newp = -1
        for t in range(lo, hi):
            l = items[t]
            orem = 0 if t < ppos[c] else _old_rem(k, l, c, stock, buy_ptr, buy_c)
            if orem + diff[l] > 0:
                newp = l
                break
        oldp = purch[c]
        if newp != oldp:
            nch += 1
            for side in range(2):
                p = oldp if side == 0 else newp
                if p < 0:
                    continue
                if side == 0:  # she no longer buys oldp: one more unit of it left
                    delta -= gain[p]
                    diff[p] += 1
                else:
                    delta += gain[p]
                    diff[p] -= 1
                found = False
                for a in range(nact):
                    if act[a] == p:
                        found = True
                        break
                if not found:
                    act[nact] = p
                    act_t[nact] = -1  # recomputed below
                    nact += 1
        a = 0
        while a < nact:
            l = act[a]
            if diff[l] == 0:
                nact -= 1
                act[a] = act[nact]
                act_t[a] = act_t[nact]
                continue
            if act_t[a] <= c or l == oldp or l == newp:
                act_t[a] = _next_event(k, l, c, diff[l], stock, buy_ptr, buy_c, miss_ptr, miss_c)
            a += 1
    for a in range(nact):
        diff[act[a]] = 0
    return delta, nch


@njit(cache=True)
def move_deltas(  # pragma: no cover - numba
    mj, mq, offsets, items, sc_off, stock, gain, purch, ppos, buy_ptr, buy_c, miss_ptr, miss_c
):
    """Revenue change summed over seasons for each move (product mj[m] → mq[m])."""
    n = stock.shape[0]
    n_scen = sc_off.shape[0] - 1
    maxc = 1
    for k in range(n_scen):
        maxc = max(maxc, sc_off[k + 1] - sc_off[k])
    diff = np.zeros(n, np.int64)
    act = np.empty(2 * maxc + 2, np.int64)
    act_t = np.empty(2 * maxc + 2, np.int64)
    out = np.zeros(mj.shape[0])
    for m in range(mj.shape[0]):
        d = 0.0
        for k in range(n_scen):
            dk, _ = season_delta(
                k,
                mj[m],
                mq[m],
                offsets,
                items,
                sc_off,
                stock,
                gain,
                purch,
                ppos,
                buy_ptr,
                buy_c,
                miss_ptr,
                miss_c,
                diff,
                act,
                act_t,
            )
            d += dk
        out[m] = d
    return out


@njit(cache=True)
def changed_seasons(  # pragma: no cover - numba
    j, newq, offsets, items, sc_off, stock, gain, purch, ppos, buy_ptr, buy_c, miss_ptr, miss_c
):
    """Seasons whose trajectory the move j → newq changes (int64 array)."""
    n = stock.shape[0]
    n_scen = sc_off.shape[0] - 1
    maxc = 1
    for k in range(n_scen):
        maxc = max(maxc, sc_off[k + 1] - sc_off[k])
    diff = np.zeros(n, np.int64)
    act = np.empty(2 * maxc + 2, np.int64)
    act_t = np.empty(2 * maxc + 2, np.int64)
    out = np.empty(n_scen, np.int64)
    cnt = 0
    for k in range(n_scen):
        _, nch = season_delta(
            k,
            j,
            newq,
            offsets,
            items,
            sc_off,
            stock,
            gain,
            purch,
            ppos,
            buy_ptr,
            buy_c,
            miss_ptr,
            miss_c,
            diff,
            act,
            act_t,
        )
        if nch > 0:
            out[cnt] = k
            cnt += 1
    return out[:cnt]
