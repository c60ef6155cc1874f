"""Exact preference-list samplers for random-utility models (numba kernels).

A customer's list is the products she ranks above no-purchase, best first. Two kernels:

`plackett_luce_lists`
    MNL and latent-class MNL. Given her class c (drawn ∝ class weights), utilities are
    ``v_cj + Gumbel`` and the no-purchase option ``Gumbel``; the order of Gumbel-perturbed
    utilities is the Plackett–Luce order: draws without replacement ∝ u_cj = e^{v_cj}, with the
    no-purchase option (weight 1) in the urn, and the list ends where it is drawn. Sum tree per
    class; parents are re-summed from their children, never updated by subtraction.
`nested_lists`
    Nested logit by Cardell's construction: in nest m (dissimilarity τ_m) the utility of j is
    ``v_j + τ_m log S_m + τ_m ζ_j`` with ζ iid Gumbel and S_m positive stable of index τ_m
    (Laplace transform e^{−s^τ}, Kanter's formula), which gives exactly the nested-logit GEV
    distribution ``exp(−Σ_m (Σ_{j∈m} e^{−ε_j/τ_m})^{τ_m})``. Inside a nest, given S_m, the
    ordered utilities are ``τ_m (log S_m − log t_k)`` where t_1 < t_2 < ... are the arrival
    times of an exponential race with rates e^{v_j/τ_m}: t_{k+1} = t_k + Exp(1)/V_rest and the
    product is drawn ∝ e^{v_j/τ_m} among those left. The nests are merged best-first with a
    max tree; a nest stops once its next utility falls below no-purchase. Cost per customer:
    O(M + L log N) for M nests and a list of length L.

Both kernels take a ``numpy.random.Generator`` (numba supports it) and return
``(lengths, items)`` for ``size`` customers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["build_trees", "nested_lists", "plackett_luce_lists", "stable_log"]


@njit(cache=True)
def _pow2(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


@njit(cache=True)
def build_trees(weights: np.ndarray, ptr: np.ndarray, extra: float) -> tuple:
    """Sum trees, one per group g of leaves ``weights[ptr[g]:ptr[g+1]]`` (plus one last leaf of
    weight ``extra`` when extra > 0), stored in one flat array: returns (trees, tree_ptr, size)."""
    n_groups = ptr.shape[0] - 1
    sizes = np.empty(n_groups, dtype=np.int64)
    tree_ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for g in range(n_groups):
        m = ptr[g + 1] - ptr[g] + (1 if extra > 0.0 else 0)
        sizes[g] = _pow2(max(1, m))
        tree_ptr[g + 1] = tree_ptr[g] + 2 * sizes[g]
    trees = np.zeros(tree_ptr[-1])
    for g in range(n_groups):
        base, size = tree_ptr[g], sizes[g]
        m = ptr[g + 1] - ptr[g]
        for i in range(m):
            trees[base + size + i] = weights[ptr[g] + i]
        if extra > 0.0:
            trees[base + size + m] = extra
        for i in range(size - 1, 0, -1):
            trees[base + i] = trees[base + 2 * i] + trees[base + 2 * i + 1]
    return trees, tree_ptr, sizes


@njit(cache=True)
def _pick(trees, base, size, x) -> int:
    """Leaf (local index) found by descending with x ∈ [0, root); only leaves of weight > 0."""
    node = 1
    while node < size:
        left = trees[base + 2 * node]
        if (x < left or trees[base + 2 * node + 1] <= 0.0) and left > 0.0:
            node = 2 * node
        else:
            x -= left
            node = 2 * node + 1
    return node - size


@njit(cache=True)
def _set(trees, base, size, leaf, w) -> None:
    node = size + leaf
    trees[base + node] = w
    node >>= 1
    while node >= 1:
        trees[base + node] = trees[base + 2 * node] + trees[base + 2 * node + 1]
        node >>= 1


@njit(cache=True)
def _grow(items: np.ndarray, need: int) -> np.ndarray:
    if need <= items.shape[0]:
        return items
    out = np.empty(max(need, 2 * items.shape[0]), dtype=np.int32)
    out[: items.shape[0]] = items
    return out


@njit(cache=True, nogil=True)
def plackett_luce_lists(rng, size, class_cum, weights):
    """Lists of a latent-class MNL: ``weights`` (C, N) = e^{v_cj}, ``class_cum`` the cumulative
    class weights. Returns (lengths (size,), items)."""
    n_class, n = weights.shape
    ptr = np.arange(n_class + 1) * n
    trees, tree_ptr, sizes = build_trees(weights.ravel(), ptr, 1.0)
    lengths = np.zeros(size, dtype=np.int64)
    items = np.empty(max(16, 2 * size), dtype=np.int32)
    pos = 0
    for c in range(size):
        k = 0
        if n_class > 1:
            x = rng.random() * class_cum[n_class - 1]
            while k < n_class - 1 and class_cum[k] <= x:
                k += 1
        base, tsize = tree_ptr[k], sizes[k]
        items = _grow(items, pos + n)
        start = pos
        while pos - start < n:
            leaf = _pick(trees, base, tsize, rng.random() * trees[base + 1])
            if leaf >= n:
                break
            items[pos] = leaf
            pos += 1
            _set(trees, base, tsize, leaf, 0.0)
        for t in range(start, pos):
            _set(trees, base, tsize, items[t], weights[k, items[t]])
        lengths[c] = pos - start
    return lengths, items[:pos].copy()


@njit(cache=True)
def stable_log(rng, alpha: float) -> float:
    """log S for S positive stable of index alpha ∈ (0, 1] with E e^{−sS} = e^{−s^alpha}
    (Kanter 1975: S = sin(αU)/sin(U)^{1/α} · (sin((1−α)U)/E)^{(1−α)/α}, U ~ U(0, π), E ~ Exp(1))."""
    if alpha >= 1.0:
        return 0.0
    u = math.pi * rng.random()
    while u <= 0.0:
        u = math.pi * rng.random()
    e = rng.standard_exponential()
    return (
        math.log(math.sin(alpha * u))
        - math.log(math.sin(u)) / alpha
        + (1.0 - alpha) / alpha * (math.log(math.sin((1.0 - alpha) * u)) - math.log(e))
    )


@njit(cache=True, nogil=True)
def nested_lists(rng, size, nest_ptr, nest_items, nest_w, shift, tau):
    """Lists of a nested logit. Nest m holds products ``nest_items[nest_ptr[m]:nest_ptr[m+1]]``
    with race rates ``nest_w = e^{v_j/τ_m − shift_m}`` and dissimilarity ``tau[m]``.
    Returns (lengths (size,), items)."""
    n_nest = tau.shape[0]
    n = nest_items.shape[0]
    trees, tree_ptr, sizes = build_trees(nest_w, nest_ptr, 0.0)
    msize = _pow2(max(1, n_nest))
    best = np.full(2 * msize, -np.inf)
    log_s = np.zeros(n_nest)
    t = np.zeros(n_nest)
    lengths = np.zeros(size, dtype=np.int64)
    items = np.empty(max(16, 2 * size), dtype=np.int32)
    local = np.empty(n, dtype=np.int64)
    owner = np.empty(n, dtype=np.int64)
    pos = 0
    for c in range(size):
        u0 = -math.log(rng.standard_exponential())
        for m in range(n_nest):
            log_s[m] = stable_log(rng, tau[m])
            t[m] = rng.standard_exponential() / trees[tree_ptr[m] + 1]
            um = tau[m] * (log_s[m] - math.log(t[m]) + shift[m])
            best[msize + m] = um if um > u0 else -np.inf
        for i in range(msize - 1, 0, -1):
            best[i] = max(best[2 * i], best[2 * i + 1])
        items = _grow(items, pos + n)
        start = pos
        while best[1] > u0:
            node = 1
            while node < msize:
                node = 2 * node if best[2 * node] >= best[2 * node + 1] else 2 * node + 1
            m = node - msize
            base, tsize = tree_ptr[m], sizes[m]
            leaf = _pick(trees, base, tsize, rng.random() * trees[base + 1])
            items[pos] = nest_items[nest_ptr[m] + leaf]
            local[pos - start] = leaf
            owner[pos - start] = m
            pos += 1
            _set(trees, base, tsize, leaf, 0.0)
            rest = trees[base + 1]
            um = -np.inf
            if rest > 0.0:
                t[m] += rng.standard_exponential() / rest
                um = tau[m] * (log_s[m] - math.log(t[m]) + shift[m])
            node = msize + m
            best[node] = um if um > u0 else -np.inf
            node >>= 1
            while node >= 1:
                best[node] = max(best[2 * node], best[2 * node + 1])
                node >>= 1
        for r in range(pos - start):
            m = owner[r]
            _set(trees, tree_ptr[m], sizes[m], local[r], nest_w[nest_ptr[m] + local[r]])
        lengths[c] = pos - start
    return lengths, items[:pos].copy()
