"""Compiled kernels for incremental re-simulation of unit moves on a fixed stream.

The seasons are simulated once for a plan q (`build_trajectories`); that records, per customer,
the product she bought (or −1) and where in her list, and per (product, season) pair its buyers
and the customers who *missed* it (reached it out of stock), both sorted by arrival, in one slot
per occurrence of the product in that season (so no list ever outgrows its slots, and patching a
list moves at most one season's entries: `pair_index` builds the layout). A move of product j
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
would give (the argument is written in docs/methods.md, "Incremental rounding"). Accepting
a move (`apply_move`) patches only the customers whose purchase changed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import _search  # first index in [lo, hi) with a[i] > x (a sorted)

_INF = np.int64(1) << np.int64(62)


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
def _pair(l, k, pair_ptr, pair_k):  # pragma: no cover - numba
    """Index of the (product l, season k) segment, or −1 when l is in no list of season k."""
    lo = pair_ptr[l]
    end = pair_ptr[l + 1]
    hi = end
    while lo < hi:
        mid = (lo + hi) >> 1
        if pair_k[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    if lo < end and pair_k[lo] == k:
        return lo
    return -1


@njit(cache=True)
def pair_index(offsets, items, sc_off, n):  # pragma: no cover - numba
    """The (product, season) segments of a stream: ``(pair_ptr, pair_k, seg)``.

    Product l's pairs are ``pair_ptr[l]:pair_ptr[l+1]``, in season order ``pair_k``; pair p owns
    the slots ``seg[p]:seg[p+1]`` (one per occurrence of its product in its season's lists).
    """
    npairs = np.zeros(n + 1, np.int64)
    last = np.full(n, -1, np.int64)
    n_sc = sc_off.shape[0] - 1
    for k in range(n_sc):
        for t in range(offsets[sc_off[k]], offsets[sc_off[k + 1]]):
            l = items[t]
            if last[l] != k:
                last[l] = k
                npairs[l + 1] += 1
    pair_ptr = np.cumsum(npairs)
    total = pair_ptr[n]
    pair_k = np.empty(total, np.int32)
    occ = np.zeros(total + 1, np.int64)
    fill = pair_ptr[:n].copy()
    cur = np.full(n, -1, np.int64)
    last[:] = -1
    for k in range(n_sc):
        for t in range(offsets[sc_off[k]], offsets[sc_off[k + 1]]):
            l = items[t]
            if last[l] != k:
                last[l] = k
                cur[l] = fill[l]
                pair_k[fill[l]] = k
                fill[l] += 1
            occ[cur[l] + 1] += 1
    seg = np.cumsum(occ)
    return pair_ptr, pair_k, seg


@njit(cache=True)
def build_trajectories(  # pragma: no cover - numba
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
    sales,
    missed,
    rev,
):
    """Simulate every season under ``stock`` and record the trajectories.

    ``purch``/``ppos``: each customer's purchase (−1: none) and its place in ``items`` (the end
    of her list if none). The buyers and misses (customers who reached it out of stock) of
    product l in season k, in arrival order, sit in ``buy_c`` / ``miss_c`` from ``seg[p]``,
    p = the pair (l, k) (``buy_cnt[p]`` / ``miss_cnt[p]`` of them; the segment has one slot per
    occurrence, a bound on both). Also fills sales (K, N), missed (K, N) and rev (K,).
    """
    n = stock.shape[0]
    rem = np.empty(n, np.int64)
    for p in range(buy_cnt.shape[0]):
        buy_cnt[p] = 0
        miss_cnt[p] = 0
    for k in range(sc_off.shape[0] - 1):
        for i in range(n):
            rem[i] = stock[i]
            sales[k, i] = 0
            missed[k, i] = False
        r = 0.0
        for c in range(sc_off[k], sc_off[k + 1]):
            lo = offsets[c]
            hi = offsets[c + 1]
            got = -1
            pos = hi
            for t in range(lo, hi):
                i = items[t]
                p = _pair(i, k, pair_ptr, pair_k)
                if rem[i] > 0:
                    rem[i] -= 1
                    sales[k, i] += 1
                    r += gain[i]
                    got = i
                    pos = t
                    buy_c[seg[p] + buy_cnt[p]] = c
                    buy_cnt[p] += 1
                    break
                missed[k, i] = True
                miss_c[seg[p] + miss_cnt[p]] = c
                miss_cnt[p] += 1
            purch[c] = got
            ppos[c] = pos
        rev[k] = r


@njit(cache=True)
def _old_rem(k, l, c, stock, pair_ptr, pair_k, seg, buy_cnt, buy_c):  # pragma: no cover
    """Units of l left in season k's old trajectory when customer c arrives."""
    p = _pair(l, k, pair_ptr, pair_k)
    if p < 0:
        return stock[l]
    lo = seg[p]
    return stock[l] - (_bisect_left(buy_c, lo, lo + buy_cnt[p], c) - lo)


@njit(cache=True)
def _next_event(k, l, t, d, stock, pair_ptr, pair_k, seg, buy_cnt, buy_c, miss_cnt, miss_c):  # noqa
    """First customer of season k after t whose choice the stock difference d of l changes."""
    if d == 0:
        return _INF
    p = _pair(l, k, pair_ptr, pair_k)
    if p < 0:
        return _INF
    lo = seg[p]
    if d < 0:
        hi = lo + buy_cnt[p]
        idx = _search(buy_c, lo, hi, t)
        thr = lo + stock[l] + d
        if idx < thr:
            idx = thr
        return buy_c[idx] if idx < hi else _INF
    hi = lo + miss_cnt[p]
    idx = _search(miss_c, lo, hi, t)
    return miss_c[idx] if idx < hi else _INF


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
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
    diff,
    act,
    act_t,
    out_c,
    out_p,
    out_pos,
):
    """Revenue change of season k when product j's stock goes from stock[j] to newq.

    Returns (delta, number of customers whose purchase changes); those customers, their new
    purchases and positions go to ``out_c``/``out_p``/``out_pos`` (length ≥ season
    customers). ``diff`` (N, zeros) is restored on return; ``act``/``act_t`` are scratch
    arrays (length ≥ 2·season customers + 2).
    """
    d0 = newq - stock[j]
    if d0 == 0:
        return 0.0, 0
    diff[j] = d0
    act[0] = j
    state = (stock, pair_ptr, pair_k, seg, buy_cnt, buy_c, miss_cnt, miss_c)
    act_t[0] = _next_event(k, j, sc_off[k] - 1, d0, *state)
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
        newpos = hi
        for t in range(lo, hi):
            l = items[t]
            orem = (
                0
                if t < ppos[c]
                else _old_rem(k, l, c, stock, pair_ptr, pair_k, seg, buy_cnt, buy_c)
            )
            if orem + diff[l] > 0:
                newp = l
                newpos = t
                break
        oldp = purch[c]
        if newp != oldp:
            out_c[nch] = c
            out_p[nch] = newp
            out_pos[nch] = newpos
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
                act_t[a] = _next_event(k, l, c, diff[l], *state)
            a += 1
    for a in range(nact):
        diff[act[a]] = 0
    return delta, nch


@njit(cache=True)
def _scratch(n, sc_off):  # pragma: no cover - numba
    maxc = 1
    for k in range(sc_off.shape[0] - 1):
        maxc = max(maxc, sc_off[k + 1] - sc_off[k])
    return (
        np.zeros(n, np.int64),
        np.empty(2 * maxc + 2, np.int64),
        np.empty(2 * maxc + 2, np.int64),
        np.empty(maxc, np.int64),
        np.empty(maxc, np.int64),
        np.empty(maxc, np.int64),
    )


@njit(cache=True)
def _move_delta(  # pragma: no cover - numba
    j,
    newq,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
    diff,
    act,
    act_t,
    out_c,
    out_p,
    out_pos,
):
    """Revenue change of the move j → newq summed over all seasons (scratch given)."""
    d = 0.0
    for k in range(sc_off.shape[0] - 1):
        dk, _ = season_delta(
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
            pair_ptr,
            pair_k,
            seg,
            buy_cnt,
            buy_c,
            miss_cnt,
            miss_c,
            diff,
            act,
            act_t,
            out_c,
            out_p,
            out_pos,
        )
        d += dk
    return d


@njit(cache=True)
def move_deltas(  # pragma: no cover - numba
    mj,
    mq,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
):
    """Revenue change summed over seasons for each move (product mj[m] → mq[m])."""
    diff, act, act_t, out_c, out_p, out_pos = _scratch(stock.shape[0], sc_off)
    out = np.zeros(mj.shape[0])
    for m in range(mj.shape[0]):
        d = _move_delta(
            mj[m],
            mq[m],
            offsets,
            items,
            sc_off,
            stock,
            gain,
            purch,
            ppos,
            pair_ptr,
            pair_k,
            seg,
            buy_cnt,
            buy_c,
            miss_cnt,
            miss_c,
            diff,
            act,
            act_t,
            out_c,
            out_p,
            out_pos,
        )
        out[m] = d
    return out


@njit(cache=True, parallel=True)
def move_deltas_parallel(  # pragma: no cover - numba
    nchunk,
    mj,
    mq,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
):
    """`move_deltas` on the threads of numba's pool: the moves are dealt out in strides,
    each thread with its own scratch; every move is scored exactly as the serial kernel scores
    it (same seasons, same order), so the result is identical. ``nchunk`` strides (a few per
    thread; passed in, a call to numba's thread count here would keep it out of the cache)."""
    nm = mj.shape[0]
    out = np.zeros(nm)
    nchunk = min(nm, nchunk)
    for ci in prange(nchunk):
        diff, act, act_t, out_c, out_p, out_pos = _scratch(stock.shape[0], sc_off)
        for m in range(ci, nm, nchunk):
            d = _move_delta(
                mj[m],
                mq[m],
                offsets,
                items,
                sc_off,
                stock,
                gain,
                purch,
                ppos,
                pair_ptr,
                pair_k,
                seg,
                buy_cnt,
                buy_c,
                miss_cnt,
                miss_c,
                diff,
                act,
                act_t,
                out_c,
                out_p,
                out_pos,
            )
            out[m] = d
    return out


@njit(cache=True)
def _insert(a, seg, cnt, p, c):  # pragma: no cover - numba
    """Insert customer c into pair p's sorted list a[seg[p]:seg[p]+cnt[p]]."""
    lo = seg[p]
    hi = lo + cnt[p]
    pos = _bisect_left(a, lo, hi, c)
    for t in range(hi, pos, -1):
        a[t] = a[t - 1]
    a[pos] = c
    cnt[p] += 1


@njit(cache=True)
def _remove(a, seg, cnt, p, c):  # pragma: no cover - numba
    """Remove customer c from pair p's sorted list."""
    lo = seg[p]
    hi = lo + cnt[p]
    pos = _bisect_left(a, lo, hi, c)
    for t in range(pos, hi - 1):
        a[t] = a[t + 1]
    cnt[p] -= 1


@njit(cache=True)
def apply_move(  # pragma: no cover - numba
    j,
    newq,
    offsets,
    items,
    sc_off,
    stock,
    gain,
    purch,
    ppos,
    pair_ptr,
    pair_k,
    seg,
    buy_cnt,
    buy_c,
    miss_cnt,
    miss_c,
    sales,
    missed,
    rev,
):
    """Make the move j → newq: patch the trajectories of the seasons it changes (their
    customers' purchases, the buyer and miss lists, sales, missed and rev) and set stock[j].
    rev[k] gets the replayed revenue change added (not a re-sum over the season's customers,
    which made a move cost O(T) per changed season): equal to a full re-simulation's sum up
    to floating-point rounding. Returns the number of seasons changed."""
    diff, act, act_t, out_c, out_p, out_pos = _scratch(stock.shape[0], sc_off)
    changed = 0
    for k in range(sc_off.shape[0] - 1):
        dk, nch = season_delta(
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
            pair_ptr,
            pair_k,
            seg,
            buy_cnt,
            buy_c,
            miss_cnt,
            miss_c,
            diff,
            act,
            act_t,
            out_c,
            out_p,
            out_pos,
        )
        if nch == 0:
            continue
        changed += 1
        for e in range(nch):
            c = out_c[e]
            oldp = purch[c]
            newp = out_p[e]
            a = ppos[c]
            b = out_pos[e]
            if oldp >= 0:
                _remove(buy_c, seg, buy_cnt, _pair(oldp, k, pair_ptr, pair_k), c)
                sales[k, oldp] -= 1
            if newp >= 0:
                _insert(buy_c, seg, buy_cnt, _pair(newp, k, pair_ptr, pair_k), c)
                sales[k, newp] += 1
            # her misses are the products before her purchase: items[offsets[c]:position)
            for t in range(a, b):
                _insert(miss_c, seg, miss_cnt, _pair(items[t], k, pair_ptr, pair_k), c)
            for t in range(b, a):
                _remove(miss_c, seg, miss_cnt, _pair(items[t], k, pair_ptr, pair_k), c)
            purch[c] = newp
            ppos[c] = b
        for e in range(nch):
            c = out_c[e]
            lo = offsets[c]
            hi = offsets[c + 1]
            for t in range(lo, hi):
                l = items[t]
                missed[k, l] = miss_cnt[_pair(l, k, pair_ptr, pair_k)] > 0
        rev[k] += dk
    stock[j] = newq
    return changed
