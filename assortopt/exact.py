"""Exact expected profit by dynamic programming over inventory states (tiny instances).

The test oracle for every method and for the simulator. With n customers still to come and
inventory I (availability A(I) = {i : I_i ≥ 1}),

    W_n(I) = Σ_i P_{i,A(I)} (r_i + W_{n−1}(I − e_i)) + P_{0,A(I)} W_{n−1}(I),
    W_0(I) = Σ_i salvage_i I_i,

and the expected profit of plan x is ``W_T(x) − c·x − Σ_i f_i [x_i > 0]``. W does not depend
on the starting plan, so one pass over the box 0 ≤ I ≤ M values every plan in the box at once
(`profit_table`). Poisson T mixes ``Σ_n Poisson(n; mean) W_n``, truncated once the remaining
tail mass is below 1e-13 (W_n ≤ Σ_i r_i M_i bounds the error).

The purchase probabilities P_{·,A} depend only on which stocked products are available; they
are computed once per availability pattern on the reduced chain of the stocked products
(`assortopt.choice.mc.reduced_chain`, exact for every subset).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from .choice.mc import chain_probabilities, reduced_chain
from .exceptions import OptionError
from .instance import Instance

__all__ = ["expected_profit", "optimal_plan", "profit_table", "unit_caps"]

#: Largest box (number of inventory states) the DP accepts.
MAX_STATES = 5_000_000
#: Largest number of products with positive stock in the box (2^k availability patterns).
MAX_STOCKED = 16
_TAIL = 1e-13


def _pattern_table(inst: Instance, pos: np.ndarray, model: Any = None) -> np.ndarray:
    """(2^k, k+1): row ``code`` = purchase probabilities of the k products ``pos`` (bit b of
    code = product pos[b] available) and, last, of buying nothing. With ``model`` (a
    `ChoiceModel` in the instance's product order) its P(j | A) replaces the chain's."""
    k = len(pos)
    table = np.zeros((1 << k, k + 1))
    if k == 0:
        table[0, 0] = 1.0
        return table
    if model is not None:
        offered = np.zeros((1 << k, inst.n), dtype=bool)
        offered[:, pos] = (np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1 > 0
        probs = model.probabilities(offered)
        table[:, :k] = probs[:, pos]
        table[:, k] = probs[:, inst.n]
        return table
    mask = np.zeros(inst.n, dtype=bool)
    mask[pos] = True
    arr_k, rho_k, _ = reduced_chain(inst, mask)
    rho_d = rho_k.toarray()
    bits = 1 << np.arange(k)
    for code in range(1 << k):
        p, _, p0 = chain_probabilities(arr_k, rho_d, (code & bits) > 0)
        table[code, :k] = p
        table[code, k] = p0
    return table


def _value_function(inst: Instance, box: np.ndarray, model: Any = None) -> np.ndarray:
    """W_T over the box 0 ≤ I ≤ ``box`` (array of shape ``box + 1``), E over T if Poisson."""
    box = np.asarray(box, dtype=np.int64)
    pos = np.flatnonzero(box > 0)
    k = len(pos)
    if k > MAX_STOCKED:
        raise OptionError(f"exact DP: at most {MAX_STOCKED} stocked products, got {k}")
    dims = tuple(int(box[i]) + 1 for i in pos)
    n_states = int(np.prod(dims, dtype=np.float64)) if dims else 1
    if n_states > MAX_STATES:
        raise OptionError(f"exact DP: the box has {n_states} inventory states (max {MAX_STATES})")
    table = _pattern_table(inst, pos, model)
    grids = [
        np.arange(d).reshape([-1 if a == b else 1 for a in range(k)]) for b, d in enumerate(dims)
    ]
    code = np.zeros(dims, dtype=np.int64)
    w0 = np.zeros(dims)
    for b, g in enumerate(grids):
        code |= (g >= 1).astype(np.int64) << b
        w0 = w0 + inst.salvage[pos[b]] * g
    probs = [table[:, b][code] for b in range(k)]
    p_none = table[:, k][code]
    price = inst.price[pos]
    hi = [tuple(slice(1, None) if a == b else slice(None) for a in range(k)) for b in range(k)]
    lo = [tuple(slice(None, -1) if a == b else slice(None) for a in range(k)) for b in range(k)]

    def step(w: np.ndarray) -> np.ndarray:
        out = p_none * w
        for b in range(k):
            out[hi[b]] += probs[b][hi[b]] * (price[b] + w[lo[b]])
        return out

    if inst.customers_distribution == "poisson":
        mean = float(inst.customers_mean)
        n_max = int(stats.poisson.isf(_TAIL, mean)) + 1
        pmf = stats.poisson.pmf(np.arange(n_max + 1), mean)
        acc = pmf[0] * w0
        w = w0
        for n in range(1, n_max + 1):
            w = step(w)
            acc += pmf[n] * w
        return acc
    w = w0
    for _ in range(int(round(inst.customers_mean))):
        w = step(w)
    return w


def profit_table(inst: Instance, max_stock: Any, model: Any = None) -> np.ndarray:
    """Expected profit of every plan 0 ≤ x ≤ ``max_stock``, as an array of shape
    ``max_stock + 1`` (one axis per product; ``table[tuple(x)]`` is plan x's profit).

    Profit = revenue + salvage of leftovers − cost·x − fixed costs. Constraints
    (max_products, budget) are not applied here. Raises `OptionError` when the box is too big.
    ``model``: customers choose by this `ChoiceModel` (instance product order) instead of the
    instance's chain.
    """
    box = np.asarray(inst.stock_vector(max_stock), dtype=np.int64)
    pos = np.flatnonzero(box > 0)
    w = _value_function(inst, box, model)
    shape = tuple(int(b) + 1 for b in box)
    w = w.reshape(shape)
    prof = w.copy()
    for i in pos:
        g = np.arange(box[i] + 1).reshape([-1 if a == i else 1 for a in range(inst.n)])
        prof = prof - inst.cost[i] * g - inst.fixed_cost[i] * (g > 0)
    return prof


def expected_profit(inst: Instance, stock: Any, model: Any = None) -> float:
    """Exact expected profit of plan ``stock`` (dict id → units or length-N array); with
    ``model``, customers choose by that `ChoiceModel` (in the instance's product order).

    Cost grows like Π_i (stock_i + 1) · T; meant for tiny instances (the test oracle).
    Units: currency per season. Raises `InstanceError` for a bad plan.
    """
    q = inst.stock_vector(stock)
    return float(profit_table(inst, q, model)[tuple(q)])


def unit_caps(inst: Instance, tail: float = 1e-12) -> np.ndarray:
    """Per product, a number of units beyond which more units never raise expected profit.

    Sample-path argument: with the same customers, adding the (k+1)-th unit of i changes
    anything only if at least k+1 customers come, and then raises revenue (net of salvage) by at
    most r_i − v_i; so it is worthless once ``P(T ≥ k+1) (r_i − v_i) ≤ c_i − v_i``. Fixed T:
    at most T. Poisson with c_i = v_i (free units): cut where ``P(T ≥ k+1) ≤ tail``, losing at
    most ``tail·(r_i − v_i)`` per product. A budget caps units at ⌊budget / c_i⌋ as well.
    """
    net_r = inst.price - inst.salvage
    net_c = inst.cost - inst.salvage
    if inst.customers_distribution == "poisson":
        mean = float(inst.customers_mean)
        top = int(stats.poisson.isf(tail, mean)) + 1
        sf = stats.poisson.sf(np.arange(top + 1), mean)  # sf[k] = P(T ≥ k+1)
        ratio = np.where(net_r > 0, net_c / np.where(net_r > 0, net_r, 1.0), np.inf)
        ratio = np.maximum(ratio, tail)
        caps = np.array([int(np.argmax(sf <= r)) if np.any(sf <= r) else top for r in ratio])
    else:
        caps = np.full(inst.n, int(round(inst.customers_mean)), dtype=np.int64)
    caps = np.where(net_r <= net_c, 0, caps)
    if inst.budget is not None:
        with np.errstate(divide="ignore"):
            lim = np.where(
                inst.cost > 0, np.floor(inst.budget / np.where(inst.cost > 0, inst.cost, 1.0)), caps
            )
        caps = np.minimum(caps, lim)
    return np.asarray(caps, dtype=np.int64)


def optimal_plan(inst: Instance, max_units: Any = None) -> tuple[np.ndarray, float]:
    """The exact optimal plan by enumerating every plan in a box, honouring max_products and
    budget (``Σ cost·q ≤ budget``). Returns ``(stock int64 (N,), expected profit)``.

    ``max_units``: an int or per-product array bounding the box; default `unit_caps` (exact for
    fixed T; for Poisson T exact unless a unit is free, c_i = salvage_i). Raises `OptionError`
    when the box has more than `MAX_STATES` states. Ties go to the first plan in C order.
    """
    caps = unit_caps(inst)
    if max_units is not None:
        caps = np.broadcast_to(np.asarray(max_units, dtype=np.int64), (inst.n,)).copy()
        if np.any(caps < 0):
            raise OptionError("max_units must be >= 0")
    prof = profit_table(inst, caps)
    feasible = np.ones(prof.shape, dtype=bool)
    spend = np.zeros(prof.shape)
    count = np.zeros(prof.shape, dtype=np.int64)
    for i in np.flatnonzero(caps > 0):
        g = np.arange(caps[i] + 1).reshape([-1 if a == i else 1 for a in range(inst.n)])
        spend = spend + inst.cost[i] * g
        count = count + (g > 0)
    if inst.budget is not None:
        feasible &= spend <= inst.budget + 1e-9 * max(1.0, inst.budget)
    if inst.max_products is not None:
        feasible &= count <= inst.max_products
    masked = np.where(feasible, prof, -np.inf)
    flat = int(np.argmax(masked))
    stock = np.array(np.unravel_index(flat, prof.shape), dtype=np.int64)
    return stock, float(masked.flat[flat])
