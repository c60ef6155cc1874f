"""Compiled (numba) kernels for customer streams and the simulator.

Random numbers come from an in-kernel xoshiro256** generator. Scenario ``k`` of a call seeds its
own generator from ``(block_seeds[k // block], k % block)`` through splitmix64, so a scenario's
customers depend only on the seed and on ``k``: never on how scenarios are chunked or threaded.

Nothing here cuts a walk short. The Markov chain sampler walks step by step and, once a customer
has made many steps without a new visit, switches to jumping straight to her next new product (or
the exit) with the absorption probabilities of the visited set V, kept as the dense inverse
``N = (I − ρ_VV)^{-1}`` and grown one product at a time by the bordered-inverse (Schur) formula.
Every quantity in that update is a sum of nonnegative terms (the escape masses ``e_v = exit_v +
Σ_{j∉V} ρ_vj`` are summed, never obtained as ``1 − Σ_{j∈V} ρ_vj``), so the update keeps its
relative accuracy even when exits are rare and N has huge entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SMALL_MNL = 32  # up to this many products the MNL sampler scans instead of using a sum tree
_U53 = 1.0 / 9007199254740992.0  # 2**-53

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11 = np.uint64(11)
_S17 = np.uint64(17)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S45 = np.uint64(45)
_S7 = np.uint64(7)
_S57 = np.uint64(57)
_S64_45 = np.uint64(19)  # 64 − 45
_FIVE = np.uint64(5)
_NINE = np.uint64(9)
_ONE = np.uint64(1)


# ------------------------------------------------------------------------------------ PRNG
@njit(cache=True)
def _mix64(z: np.uint64) -> np.uint64:
    """splitmix64 finaliser (a bijection of 64-bit words)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def seed_state(state: np.ndarray, block_seed: np.uint64, k: np.int64) -> None:
    """Fill a xoshiro256** state (4 words) for scenario ``k`` of a block."""
    x = block_seed ^ _mix64(np.uint64(k) * _GOLDEN + _GOLDEN)
    for i in range(4):
        x = x + _GOLDEN
        state[i] = _mix64(x)
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = _ONE


@njit(cache=True)
def _next(s: np.ndarray) -> np.uint64:
    """xoshiro256** step."""
    s1 = s[1]
    x = s1 * _FIVE
    result = ((x << _S7) | (x >> _S57)) * _NINE
    t = s1 << _S17
    s[2] ^= s[0]
    s[3] ^= s1
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = (s[3] << _S45) | (s[3] >> _S64_45)
    return result


@njit(cache=True)
def uniform(s: np.ndarray) -> float:
    """A double uniform on [0, 1) with 53 random bits."""
    return float(_next(s) >> _S11) * _U53


@njit(cache=True)
def _search(cum: np.ndarray, lo: int, hi: int, u: float) -> int:
    """First index t in [lo, hi) with cum[t] > u (cum nondecreasing, u < cum[hi − 1])."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _find(indices: np.ndarray, lo: int, hi: int, j: int) -> int:
    """Position of column j in the sorted slice indices[lo:hi], or −1."""
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < j:
            lo = mid + 1
        elif v > j:
            hi = mid
        else:
            return mid
    return -1


@njit(cache=True)
def _grow_items(items: np.ndarray, need: int) -> np.ndarray:
    cap = items.shape[0]
    if need <= cap:
        return items
    new_cap = max(need, 2 * cap)
    out = np.empty(new_cap, dtype=np.int32)
    out[:cap] = items
    return out


@njit(cache=True)
def row_cumsum(indptr: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Cumulative sums restarted at every CSR row (no accumulation across rows)."""
    out = np.empty(data.shape[0])
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t]
            out[t] = acc
    return out


# ------------------------------------------------------------------ Markov chain: jump state
@njit(cache=True)
def _escape(v: int, indptr, indices, data, exit_p, in_v, token) -> float:
    """e_v = exit_v + Σ_{j ∉ V} ρ_vj, summed (no cancellation)."""
    e = exit_p[v]
    for t in range(indptr[v], indptr[v + 1]):
        if in_v[indices[t]] != token:
            e += data[t]
    return e


@njit(cache=True)
def _add_to_v(p, m, nmat, esc, vlist, vpos, in_v, token, indptr, indices, data, exit_p, a, g):
    """Grow V (size m, products vlist[:m]) by product p; update N = (I − ρ_VV)^{-1} and e.

    Returns False when V ∪ {p} has no way out (no exit, no unvisited product reachable), in
    which case the list is complete.
    """
    in_v[p] = token
    vpos[p] = m
    vlist[m] = p
    # a = ρ_{p,V}; p's own escape mass
    for k in range(m):
        a[k] = 0.0
    ep = exit_p[p]
    for t in range(indptr[p], indptr[p + 1]):
        j = indices[t]
        if in_v[j] == token:
            if j != p:
                a[vpos[j]] = data[t]
        else:
            ep += data[t]
    esc[m] = ep
    # b = ρ_{V,p} (stored temporarily in g); rows with a positive entry lose p from their escape
    for k in range(m):
        v = vlist[k]
        pos = _find(indices, indptr[v], indptr[v + 1], p)
        if pos >= 0:
            g[k] = data[pos]
            # subtract while that keeps relative accuracy (at most halves e_k), else re-sum
            if 2.0 * data[pos] <= esc[k]:
                esc[k] -= data[pos]
            else:
                esc[k] = _escape(v, indptr, indices, data, exit_p, in_v, token)
        else:
            g[k] = 0.0
    # s = e_p + a^T N e (escape probability from p within V ∪ {p}); x = a^T N; y = N b
    s = ep
    y = nmat[m + 1]  # scratch row beyond the live block (capacity ≥ m + 2)
    for i in range(m):
        acc_y = 0.0
        acc_g = 0.0
        row = nmat[i]
        for k in range(m):
            acc_y += row[k] * g[k]
            acc_g += row[k] * esc[k]
        y[i] = acc_y
        s += a[i] * acc_g
    if not s > 0.0:
        for k in range(m + 1):  # row m all zero: a jump from p finds no way out either
            nmat[m, k] = 0.0
        return False
    x = nmat[m]
    for k in range(m):
        x[k] = 0.0
    for i in range(m):
        ai = a[i]
        if ai != 0.0:
            row = nmat[i]
            for k in range(m):
                x[k] += ai * row[k]
    inv_s = 1.0 / s
    for i in range(m):
        yi = y[i] * inv_s
        if yi != 0.0:
            row = nmat[i]
            for k in range(m):
                row[k] += yi * x[k]
        nmat[i, m] = yi
    for k in range(m):
        x[k] *= inv_s
    nmat[m, m] = inv_s
    return True


@njit(cache=True)
def _jump(ci, m, nmat, esc, vlist, in_v, token, indptr, indices, data, exit_p, st) -> int:
    """From V's member at index ci, the next product outside V the walk reaches, or −1 (exit).

    The walk leaves V from v with probability N[ci, v]·e_v; then it goes to j ∉ V with
    probability ∝ ρ_vj, or exits ∝ exit_v. Returns −2 when no way out remains.
    """
    row = nmat[ci]
    total = 0.0
    for k in range(m):
        total += row[k] * esc[k]
    if not total > 0.0:
        return -2
    u = uniform(st) * total
    k_out = m - 1
    acc = 0.0
    for k in range(m):
        w = row[k] * esc[k]
        acc += w
        if u < acc and w > 0.0:
            k_out = k
            break
    while k_out > 0 and not row[k_out] * esc[k_out] > 0.0:  # rounding guard
        k_out -= 1
    v = vlist[k_out]
    u2 = uniform(st) * esc[k_out]
    acc = 0.0
    last = -1
    for t in range(indptr[v], indptr[v + 1]):
        j = indices[t]
        if in_v[j] != token and data[t] > 0.0:
            acc += data[t]
            last = j
            if u2 < acc:
                return j
    if exit_p[v] > 0.0 or last < 0:
        return -1
    return last


@njit(cache=True)
def _ensure_matrix(nmat: np.ndarray, need: int) -> np.ndarray:
    cap = nmat.shape[0]
    if need <= cap:
        return nmat
    new_cap = max(need, 2 * cap)
    out = np.zeros((new_cap, new_cap))
    out[:cap, :cap] = nmat
    return out


# ------------------------------------------------------------------ Markov chain: lists
@njit(cache=True, nogil=True)
def sample_mc_lists(
    counts, k0, block_seeds, block, arr_cum, indptr, indices, data, row_cum, exit_p, method
):
    """Preference lists of scenarios k0 .. k0+K−1 (customers per scenario in ``counts``).

    ``method``: 0 = walk (step by step), 1 = jump (from the first product on), 2 = hybrid (walk,
    jump after many steps without a new visit). ``row_cum`` holds each CSR row's cumulative
    probabilities; a step leaves when u ≥ the row total. Returns (offsets, items).
    """
    n = arr_cum.shape[0]
    n_scen = counts.shape[0]
    n_cust = 0
    for k in range(n_scen):
        n_cust += counts[k]
    offsets = np.empty(n_cust + 1, dtype=np.int64)
    offsets[0] = 0
    items = np.empty(max(16, 2 * n_cust + n), dtype=np.int32)
    lam = arr_cum[n - 1] if n > 0 else 0.0
    visited = np.zeros(n, dtype=np.int64)
    in_v = np.zeros(n, dtype=np.int64)
    vpos = np.zeros(n, dtype=np.int64)
    vlist = np.zeros(n + 1, dtype=np.int64)
    esc = np.zeros(n + 1)
    a = np.zeros(n + 1)
    g = np.zeros(n + 1)
    nmat = np.zeros((min(n + 2, 16), min(n + 2, 16)))
    st = np.zeros(4, dtype=np.uint64)
    # hybrid: jump once a customer with m listed products made 48 + m³/16 steps with no new one
    patience = 48 if method == 2 else 1 << 62
    pos = 0
    c = 0
    for k in range(n_scen):
        kg = k0 + k
        seed_state(st, block_seeds[kg // block], kg % block)
        for _ in range(counts[k]):
            token = c + 1
            items = _grow_items(items, pos + n)
            u = uniform(st)
            if u < lam:
                cur = _search(arr_cum, 0, n, u)
                start = pos
                items[pos] = cur
                pos += 1
                visited[cur] = token
                m = 1
                ci = 0
                jumping = method == 1
                if jumping:
                    nmat = _ensure_matrix(nmat, 16)
                    _add_to_v(
                        cur,
                        0,
                        nmat,
                        esc,
                        vlist,
                        vpos,
                        in_v,
                        token,
                        indptr,
                        indices,
                        data,
                        exit_p,
                        a,
                        g,
                    )
                    ci = 0
                stale = 0
                limit = patience + 1
                while m < n:
                    if not jumping:
                        lo = indptr[cur]
                        hi = indptr[cur + 1]
                        if lo == hi:
                            break
                        u = uniform(st)
                        if u >= row_cum[hi - 1]:
                            break
                        cur = indices[_search(row_cum, lo, hi, u)]
                        if visited[cur] != token:
                            visited[cur] = token
                            items[pos] = cur
                            pos += 1
                            m += 1
                            stale = 0
                            limit = patience + (m * m * m >> 4)
                        else:
                            stale += 1
                            if stale >= limit:
                                # switch: build N over the list so far, then jump from cur
                                jumping = True
                                nmat = _ensure_matrix(nmat, m + 2)
                                ok = True
                                for t in range(m):
                                    ok = _add_to_v(
                                        items[start + t],
                                        t,
                                        nmat,
                                        esc,
                                        vlist,
                                        vpos,
                                        in_v,
                                        token,
                                        indptr,
                                        indices,
                                        data,
                                        exit_p,
                                        a,
                                        g,
                                    )
                                    if not ok:
                                        break
                                if not ok:
                                    break
                                ci = vpos[cur]
                        continue
                    j = _jump(
                        ci, m, nmat, esc, vlist, in_v, token, indptr, indices, data, exit_p, st
                    )
                    if j < 0:
                        break
                    visited[j] = token
                    items[pos] = j
                    pos += 1
                    nmat = _ensure_matrix(nmat, m + 2)
                    if not _add_to_v(
                        j,
                        m,
                        nmat,
                        esc,
                        vlist,
                        vpos,
                        in_v,
                        token,
                        indptr,
                        indices,
                        data,
                        exit_p,
                        a,
                        g,
                    ):
                        m += 1
                        break
                    ci = m
                    m += 1
            c += 1
            offsets[c] = pos
    return offsets, items[:pos].copy()


# ------------------------------------------------------------------ MNL-induced chains
@njit(cache=True, nogil=True)
def sample_mnl_lists(counts, k0, block_seeds, block, weights):
    """Lists of an MNL-induced chain: draws without replacement ∝ u, stopping at the outside
    option (weight 1), with a sum tree (leaf N is the outside option; parents are recomputed as
    sums of their children, never by subtraction). Returns (offsets, items)."""
    n = weights.shape[0]
    size = 1
    while size < n + 1:
        size *= 2
    tree = np.zeros(2 * size)
    for i in range(n):
        tree[size + i] = weights[i]
    tree[size + n] = 1.0
    for i in range(size - 1, 0, -1):
        tree[i] = tree[2 * i] + tree[2 * i + 1]
    n_scen = counts.shape[0]
    n_cust = 0
    for k in range(n_scen):
        n_cust += counts[k]
    offsets = np.empty(n_cust + 1, dtype=np.int64)
    offsets[0] = 0
    items = np.empty(max(16, 2 * n_cust + n), dtype=np.int32)
    st = np.zeros(4, dtype=np.uint64)
    small = n <= _SMALL_MNL
    rem = weights.copy()
    pos = 0
    c = 0
    for k in range(n_scen):
        kg = k0 + k
        seed_state(st, block_seeds[kg // block], kg % block)
        for _ in range(counts[k]):
            items = _grow_items(items, pos + n)
            start = pos
            if small:
                # few products: scan the remaining weights (re-summed each draw, no subtraction)
                while pos - start < n:
                    total = 1.0
                    for i in range(n):
                        total += rem[i]
                    x = uniform(st) * total
                    if x < 1.0:
                        break
                    x -= 1.0
                    pick = -1
                    for i in range(n):
                        w = rem[i]
                        if w > 0.0:
                            pick = i
                            if x < w:
                                break
                            x -= w
                    if pick < 0:
                        break
                    items[pos] = pick
                    pos += 1
                    rem[pick] = 0.0
                for t in range(start, pos):
                    rem[items[t]] = weights[items[t]]
                c += 1
                offsets[c] = pos
                continue
            while pos - start < n:
                x = uniform(st) * tree[1]
                node = 1
                while node < size:
                    left = tree[2 * node]
                    if (x < left or tree[2 * node + 1] <= 0.0) and left > 0.0:
                        node = 2 * node
                    else:
                        x -= left
                        node = 2 * node + 1
                leaf = node - size
                if leaf >= n:
                    break
                items[pos] = leaf
                pos += 1
                tree[node] = 0.0
                node >>= 1
                while node >= 1:
                    tree[node] = tree[2 * node] + tree[2 * node + 1]
                    node >>= 1
            for t in range(start, pos):
                node = size + items[t]
                tree[node] = weights[items[t]]
                node >>= 1
                while node >= 1:
                    tree[node] = tree[2 * node] + tree[2 * node + 1]
                    node >>= 1
            c += 1
            offsets[c] = pos
    return offsets, items[:pos].copy()


# ------------------------------------------------------------------ simulator
@njit(cache=True, nogil=True)
def simulate_kernel(
    offsets, items, scen_offsets, stock, gain, base, sales, per_scenario, purchases, record
):
    """Dynamic stock-out substitution over a stream.

    Each customer buys the first product of her list with stock left. ``gain`` = price − salvage
    per unit sold, ``base`` = Σ salvage·q − cost·q − fixed·[q>0]; profit = base + Σ gain·sales.
    ``sales`` is (K, N) when ``per_scenario``, else (1, N) accumulated over scenarios.
    ``purchases`` (C,) gets the product bought or −1 when ``record``. Returns (profits (K,),
    counters (3,) = [purchases, customers with a non-empty list, purchases past the first
    choice]).
    """
    n_scen = scen_offsets.shape[0] - 1
    n = stock.shape[0]
    profits = np.empty(n_scen)
    counters = np.zeros(3, dtype=np.int64)
    inv = np.empty(n, dtype=np.int64)
    bought = 0
    nonempty = 0
    subst = 0
    for k in range(n_scen):
        for j in range(n):
            inv[j] = stock[j]
        row = k if per_scenario else 0
        prof = base
        for c in range(scen_offsets[k], scen_offsets[k + 1]):
            lo = offsets[c]
            hi = offsets[c + 1]
            got = -1
            if hi > lo:
                nonempty += 1
                for t in range(lo, hi):
                    j = items[t]
                    if inv[j] > 0:
                        inv[j] -= 1
                        sales[row, j] += 1
                        prof += gain[j]
                        got = j
                        bought += 1
                        if t > lo:
                            subst += 1
                        break
            if record:
                purchases[c] = got
        profits[k] = prof
    counters[0] = bought
    counters[1] = nonempty
    counters[2] = subst
    return profits, counters
