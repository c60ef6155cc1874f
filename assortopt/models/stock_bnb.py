"""Branch-and-bound over the stock vector alone: the exact SAA optimum of the sample-path model.

The SAA objective of a plan q is the average over K fixed scenarios (streams of preference lists)
of the simulated profit. On one scenario, one more unit of product j never raises another
product's sales and never lowers j's own (models/stock_bnb.md §2). So over a box
``lo ≤ q ≤ hi`` product j sells at most ``min(q_j, d_kj)`` in scenario k, where ``d_kj`` is its
sales with j at ``hi_j`` and every other product at ``lo`` (§3). That gives a separable upper
bound on the profit over the box, maximised product by product (with a Lagrange multiplier for a
budget and a top-C choice for ``max_products``). Boxes are split on one product at a time, best
bound first; each box's bound maximiser is simulated exactly and becomes the incumbent when it is
better. A box that is a single plan has bound = its exact profit, so the search is exact.

`solve_stock_bnb` is the entry point; method ``mip`` calls it for ``formulation="bnb"``.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _bnb_kernels, _kernels
from ..exceptions import OptionError
from ..instance import Instance
from ..solver import FEASIBLE, INFEASIBLE, OPTIMAL, Termination, gap_of
from ..streams import Stream

__all__ = ["BnbResult", "StockProblem", "solve_stock_bnb"]

_NO_RECORD = np.empty(0, dtype=np.int64)
_NO_D = np.empty((0, 0), dtype=np.int32)
#: Memory the open boxes' sales tables may take (bytes, counted as if none were shared); boxes
#: queued beyond it keep no table and replay their runs (same bound, models/stock_bnb.md §4).
_TABLE_BYTES = 2 * 1024**3
#: Seconds to free one queued box when the search ends (its arrays: 4–7 µs per box apart,
#: ~15 µs in a 12,000-box queue on the shared 2-core machine): the time limit keeps this much
#: per queued box in reserve, so that a stopped search returns within it (models/stock_bnb.md §4).
_FREE_S = 2e-5
#: Seconds between two calls of ``solve_stock_bnb``'s ``external`` hook.
_EXTERNAL_S = 0.25


@dataclass
class BnbResult:
    """Outcome of `solve_stock_bnb`: the best plan found (int64, N), its in-sample value, a
    proven upper bound on the SAA optimum, the relative gap (`assortopt.solver.gap_of`), status
    ``optimal`` / ``feasible`` / ``infeasible`` and search statistics."""

    stock: np.ndarray
    objective: float | None
    bound: float | None
    gap: float | None
    status: str
    nodes: int
    time_s: float
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def termination(self) -> Termination:
        """Why the search stopped (`assortopt.solver.status`)."""
        if self.status == INFEASIBLE:
            return Termination.INFEASIBLE
        if self.status == OPTIMAL:
            return Termination.OPTIMAL if not self.gap else Termination.GAP_LIMIT
        if self.message == "node limit":
            return Termination.ITERATION_LIMIT
        return Termination.TIME_LIMIT


class StockProblem:
    """The SAA problem on fixed scenarios: scoring of plans and bounds over boxes.

    ``stream`` is restricted to the candidate products (exact: a product never stocked is never
    bought). ``weight`` holds the scenario weights (identical scenarios merged), summing to 1.
    """

    def __init__(self, inst: Instance, stream: Stream, candidates: np.ndarray) -> None:
        if stream.n_products != inst.n:
            raise OptionError(f"stream has {stream.n_products} products, the instance has {inst.n}")
        self.inst = inst
        self.candidates = np.asarray(candidates, dtype=bool)
        st = stream.restrict(self.candidates)
        self.stream, self.weight = _merge_scenarios(st)
        self.gain = np.ascontiguousarray(inst.price - inst.salvage, dtype=np.float64)
        self.net_cost = np.ascontiguousarray(inst.cost - inst.salvage, dtype=np.float64)
        self.fixed = np.ascontiguousarray(inst.fixed_cost, dtype=np.float64)
        self.evaluations = 0
        self.runs = 0  # sales-table runs of `node` (one season each)
        self.price_decay = 0.5

    def value(self, q: np.ndarray) -> float:
        """Exact SAA objective of plan q (weighted mean simulated profit)."""
        q = np.ascontiguousarray(q, dtype=np.int64)
        base = float(-(self.net_cost @ q) - self.fixed[q > 0].sum())
        sales = np.zeros((1, self.inst.n), dtype=np.int64)
        s = self.stream
        prof, _ = _kernels.simulate_kernel(
            s.offsets, s.items, s.scenario_offsets, q, self.gain, base, sales, False,
            _NO_RECORD, False,
        )  # fmt: skip
        self.evaluations += 1
        return float(self.weight @ (prof - base) + base)

    def interested(self) -> np.ndarray:
        """U_i: the largest number of customers of one scenario whose list contains i."""
        s = self.stream
        cust_scen = np.repeat(np.arange(s.n_scenarios), s.customers_per_scenario)
        item_scen = np.repeat(cust_scen, s.list_lengths)
        counts = np.zeros((s.n_scenarios, self.inst.n), dtype=np.int64)
        np.add.at(counts, (item_scen, s.items.astype(np.int64)), 1)
        return counts.max(axis=0) if s.n_scenarios else np.zeros(self.inst.n, np.int64)

    def sales(self, q: np.ndarray) -> np.ndarray:
        """Sales (K, N) of every (merged) scenario with plan q."""
        s = self.stream
        q = np.ascontiguousarray(q, dtype=np.int64)
        sales = np.zeros((s.n_scenarios, self.inst.n), dtype=np.int64)
        _kernels.simulate_kernel(
            s.offsets, s.items, s.scenario_offsets, q, self.gain, 0.0, sales, True,
            _NO_RECORD, False,
        )  # fmt: skip
        return sales

    def box(self, lo: np.ndarray, hi: np.ndarray) -> BoxTables:
        """The tables of the bound over the box ``lo ≤ q ≤ hi`` (models/stock_bnb.md §3)."""
        s = self.stream
        d = _bnb_kernels.box_sales(s.offsets, s.items, s.scenario_offsets, lo, hi)
        # units beyond max_k d_kj never sell anywhere in the box (models/stock_bnb.md §3.2)
        hi = np.minimum(hi, np.maximum(lo, d.max(axis=0) if len(d) else lo))
        width = int((hi - lo).max()) + 1 if len(hi) else 1
        e = self.sales(hi)
        upper = _bnb_kernels.expected_min(d, self.weight, lo, hi, width)
        lower = _bnb_kernels.expected_min(e, self.weight, lo, hi, width)
        total = float(self.weight @ e.sum(axis=1))
        m = lo[:, None] + np.arange(width)[None, :]
        valid = m <= hi[:, None]
        cost = self.net_cost[:, None] * m + np.where(m > 0, self.fixed[:, None], 0.0)
        cost = np.where(valid, cost, np.inf)
        return BoxTables(lo, hi, upper, lower, total, cost, d, e)

    def node(
        self, lo: np.ndarray, hi: np.ndarray, parent: tuple | None, steps: int
    ) -> tuple[float, np.ndarray, np.ndarray, tuple, float, bool]:
        """The γ-bound of the box ``lo ≤ q ≤ hi`` without budget or ``max_products``, in one
        compiled call (`assortopt._bnb_kernels.node_bound`): (bound, maximiser, shrunk hi,
        sales tables for the children, exact value of the maximiser, whether the shrunk box is
        a point). ``parent``: ``(d, mask, e, j)`` of the parent box, j = -1 for the child
        ``q_j ≤ s`` (same lo: no run for d) and j for ``q_j ≥ s + 1`` (only the runs that had
        j sold out are replayed), models/stock_bnb.md §4."""
        return self.count(self.node_raw(lo, hi, parent, steps))

    def node_raw(self, lo: np.ndarray, hi: np.ndarray, parent: tuple | None, steps: int) -> tuple:
        """`node`'s compiled call alone (it releases the GIL, so a second thread can run one
        at the same time); `count` turns its output into `node`'s."""
        s = self.stream
        d, mask, e, j = (_NO_D, _NO_D, _NO_D, -1) if parent is None else parent
        return _bnb_kernels.node_bound(
            s.offsets, s.items, s.scenario_offsets, self.weight, self.gain, self.net_cost,
            self.fixed, lo, hi, d, mask, j, e, steps,
        )  # fmt: skip

    def count(self, raw: tuple) -> tuple[float, np.ndarray, np.ndarray, tuple, float, bool]:
        """`node`'s result from `node_raw`'s, with the runs and evaluations counted."""
        ub, q, hi2, d2, m2, e2, v, point, runs = raw
        self.runs += runs
        if not point:
            self.evaluations += 1
        return ub, q, hi2, (d2, m2, e2), v, point

    def price_bound(
        self,
        tab: BoxTables,
        mu: np.ndarray,
        iters: int,
        target: float,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """The customer-price bound over the box (models/stock_bnb.md §3.4), no budget or
        ``max_products``: ``iters`` projected subgradient steps on the prices μ ≥ 0 from
        ``mu`` (Polyak steps towards ``target``). Returns the smallest bound met (every μ ≥ 0
        gives a valid one), its maximiser and its prices."""
        s = self.stream
        cut, buys = _bnb_kernels.customer_sets(s.offsets, s.items, s.scenario_offsets,
                                               tab.lo, tab.hi)  # fmt: skip
        width = tab.cost.shape[1]
        best = (np.inf, tab.lo, mu)
        theta = 1.0
        for it in range(iters):
            h, const, grad = _bnb_kernels.claim_tables(
                s.offsets, s.items, s.scenario_offsets, cut, buys, mu, self.gain, tab.d, tab.e,
                self.weight, tab.lo, tab.hi, width, _NO_RECORD,
            )  # fmt: skip
            vals = h - tab.cost
            r = vals.argmax(axis=1)
            ub = float(vals[np.arange(len(r)), r].sum() + const)
            q = tab.lo + r
            if ub < best[0]:
                best = (ub, q, mu)
            else:
                theta *= self.price_decay
            if ub <= target or it == iters - 1:
                break
            # the subgradient at the maximiser q
            _, _, grad = _bnb_kernels.claim_tables(
                s.offsets, s.items, s.scenario_offsets, cut, buys, mu, self.gain, tab.d, tab.e,
                self.weight, tab.lo, tab.hi, width, q,
            )  # fmt: skip
            norm = float(grad @ grad)
            if norm <= 0:
                break
            mu = np.maximum(0.0, mu - theta * (ub - target) / norm * grad)
        return best


@dataclass
class BoxTables:
    """Per-product tables of one box: ``upper[j, r]`` = Σ_k w_k min(q, d_kj) and ``lower[j, r]``
    = Σ_k w_k min(q, e_kj) at q = lo_j + r (d: j at hi_j, others at lo; e: every product at hi),
    ``total`` = Σ_k w_k (total sales at hi), ``cost[j, r]`` = c̃_j q + f_j [q > 0] (inf outside)."""

    lo: np.ndarray
    hi: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    total: float
    cost: np.ndarray
    d: np.ndarray | None = None
    e: np.ndarray | None = None

    def values(self, gain: np.ndarray, gamma: float) -> tuple[np.ndarray, float]:
        """Separable value tables for the multiplier γ ≥ 0 on total sales, and the constant
        γ · total: revenue ≤ Σ_j (g_j − γ) S_j + γ TS (models/stock_bnb.md §3.1)."""
        a = (gain - gamma)[:, None]
        rev = np.where(a >= 0, a * self.upper, a * self.lower)
        return rev - self.cost, gamma * self.total


def _merge_scenarios(st: Stream) -> tuple[Stream, np.ndarray]:
    """Identical scenarios (same sequence of non-empty lists) merged into one with a weight."""
    keep = st.list_lengths > 0
    keys: dict[bytes, int] = {}
    order: list[int] = []
    counts: list[int] = []
    for k in range(st.n_scenarios):
        c0, c1 = st.scenario_offsets[k], st.scenario_offsets[k + 1]
        lens = st.list_lengths[c0:c1][keep[c0:c1]]
        key = lens.tobytes() + b"|" + st.items[st.offsets[c0] : st.offsets[c1]].tobytes()
        if key in keys:
            counts[keys[key]] += 1
        else:
            keys[key] = len(order)
            order.append(k)
            counts.append(1)
    sub = st.select(np.asarray(order, dtype=np.int64)) if order else st
    w = np.asarray(counts, dtype=np.float64)
    return sub, w / max(1.0, w.sum())


def _choose(
    vals: np.ndarray,
    lo: np.ndarray,
    cost: np.ndarray,
    lam: float,
    cap: int | None,
) -> tuple[float, np.ndarray]:
    """max Σ_j (vals[j, r_j] − λ c_j (lo_j + r_j)) with at most ``cap`` products stocked:
    (value, r). Products with lo_j > 0 are stocked whatever r is."""
    width = vals.shape[1]
    m = lo[:, None] + np.arange(width)[None, :]
    v = vals - lam * cost[:, None] * m if lam > 0 else vals
    r = v.argmax(axis=1)
    best = v[np.arange(len(r)), r]
    if cap is None:
        return float(best.sum()), r
    free = lo == 0
    n_forced = int((~free).sum())
    r = r.copy()
    total = float(best[~free].sum())
    if width > 1:
        pos_r = v[:, 1:].argmax(axis=1) + 1
        pos = v[np.arange(len(r)), pos_r]
    else:
        pos_r = np.zeros(len(r), dtype=np.int64)
        pos = np.full(len(r), -np.inf)
    gain = np.where(free, pos - v[:, 0], -np.inf)
    total += float(v[free, 0].sum())
    slots = max(0, cap - n_forced)
    order = np.argsort(-gain, kind="stable")[:slots]
    order = order[gain[order] > 0]
    r[free] = 0
    r[order] = pos_r[order]
    total += float(gain[order].sum())
    return total, r


def _bound(
    vals: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cost: np.ndarray,
    budget: float | None,
    cap: int | None,
    gain: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Upper bound on the profit over the box and the plan maximising it (models/stock_bnb.md
    §3.3): Lagrangian dual of the budget, minimised over λ ≥ 0 by golden-section search."""
    val0, r0 = _choose(vals, lo, cost, 0.0, cap)
    q0 = lo + r0
    if budget is None or float(cost @ q0) <= budget + 1e-9:
        return val0, q0
    pos = cost > 0
    lam_hi = float((gain[pos] / cost[pos]).max()) if pos.any() else 0.0
    a, b = 0.0, lam_hi
    g = (np.sqrt(5.0) - 1) / 2

    def dual(lam: float) -> float:
        return _choose(vals, lo, cost, lam, cap)[0] + lam * budget

    x1, x2 = b - g * (b - a), a + g * (b - a)
    f1, f2 = dual(x1), dual(x2)
    best_val, best_lam = min((val0, 0.0), (dual(b), b), (f1, x1), (f2, x2))
    for _ in range(40):
        if f1 <= f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = dual(x1)
            if f1 < best_val:
                best_val, best_lam = f1, x1
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = dual(x2)
            if f2 < best_val:
                best_val, best_lam = f2, x2
        if b - a <= 1e-9 * max(1.0, lam_hi):
            break
    _, r = _choose(vals, lo, cost, best_lam, cap)
    return best_val, lo + r


def _box_bound(
    tab: BoxTables,
    cost: np.ndarray,
    budget: float | None,
    cap: int | None,
    gain: np.ndarray,
    steps: int,
) -> tuple[float, np.ndarray]:
    """min over γ ∈ [0, max g] of the γ-bound (convex in γ: golden-section search; every γ
    gives a valid bound, so stopping the search early only loosens it). The search's path with
    a budget or ``max_products``; without them it uses the compiled grid of `StockProblem.node`."""

    def at(gamma: float) -> tuple[float, np.ndarray]:
        vals, const = tab.values(gain, gamma)
        ub, q = _bound(vals, tab.lo, tab.hi, cost, budget, cap, gain)
        return ub + const, q

    best = at(0.0)
    if steps <= 0 or np.array_equal(tab.lo, tab.hi):
        return best
    a, b = 0.0, float(gain.max()) if len(gain) else 0.0
    g = (np.sqrt(5.0) - 1) / 2
    x1, x2 = b - g * (b - a), a + g * (b - a)
    r1, r2 = at(x1), at(x2)
    best = min(best, r1, r2, key=lambda t: t[0])
    for _ in range(steps):
        if r1[0] <= r2[0]:
            b, x2, r2 = x2, x1, r1
            x1 = b - g * (b - a)
            r1 = at(x1)
            best = min(best, r1, key=lambda t: t[0])
        else:
            a, x1, r1 = x1, x2, r2
            x2 = a + g * (b - a)
            r2 = at(x2)
            best = min(best, r2, key=lambda t: t[0])
    return best


def _gamma_values(tab: BoxTables, gain: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """The unconstrained γ-bound at every γ of ``gammas`` in one array operation: (len,)."""
    a = gain[None, :, None] - gammas[:, None, None]
    rev = np.where(a >= 0, a * tab.upper[None], a * tab.lower[None]) - tab.cost[None]
    return rev.max(axis=2).sum(axis=1) + gammas * tab.total


def _best_gamma(tab: BoxTables, gain: np.ndarray) -> float:
    """The γ of the smallest unconstrained γ-bound on a grid (starting prices of §3.4)."""
    gs = np.linspace(0.0, float(gain.max()), 65)
    return float(gs[int(np.argmin(_gamma_values(tab, gain, gs)))])


def _feasible(q: np.ndarray, cost: np.ndarray, budget: float | None, cap: int | None) -> bool:
    if budget is not None and float(cost @ q) > budget * (1 + 1e-12) + 1e-9:
        return False
    return cap is None or int((q > 0).sum()) <= cap


def solve_stock_bnb(
    inst: Instance,
    stream: Stream,
    *,
    candidates: np.ndarray | None = None,
    min_stock: np.ndarray | None = None,
    max_stock: np.ndarray | None = None,
    start: np.ndarray | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-4,
    max_nodes: int | None = None,
    verbose: bool = False,
    gamma_steps: int = 8,
    price_steps: int | None = None,
    root_price_steps: int = 100,
    branching: str = "bound-point",
    polish: Callable[[np.ndarray, float | None], np.ndarray] | None = None,
    polish_share: float = 0.1,
    reuse_sales: bool | str = True,
    external: Callable[[float, np.ndarray], tuple[float | None, list[np.ndarray]]] | None = None,
    workers: int = 1,
) -> BnbResult:
    """The SAA optimum of the sample-path model on ``stream``, by branch-and-bound over stock.

    Parameters
    ----------
    inst, stream
        The instance (budget, max_products, fixed costs, salvage are honoured) and the K
        scenarios of preference lists that define the SAA objective.
    candidates
        Products that may be stocked (bool, N). Default: positive margin (exact,
        models/sample_path_mip.md §2), plus products with positive ``min_stock``.
    min_stock, max_stock
        Per-product stock bounds (int, N); ``max_stock`` is a restriction like any user bound.
    start
        A plan to start from (its value is the first incumbent when it is feasible).
    time_limit, mip_gap, max_nodes
        The search stops at the time or node limit (status ``feasible``) or once
        ``gap_of(best, bound) ≤ mip_gap`` (status ``optimal``); the bound is always valid.
    verbose
        One progress line on stderr about every 2 seconds, and a summary.
    gamma_steps
        Effort of the search over the total-sales multiplier γ (§3.1).
    price_steps, root_price_steps
        Subgradient steps of the customer-price bound (§3.4) per box (prices inherited from
        the parent box, applied when the box comes to the top of the queue) and at the root.
        Default 0 (off): at N = 10, T = 50 it cuts the excess of a box's bound over the
        incumbent by ~20% but costs as much as the rest of the node, and lost in time
        (models/stock_bnb.md §5). Ignored with a budget or ``max_products``.
    polish, polish_share
        Optional incumbent improver ``polish(q, seconds) -> plan`` (method ``mip`` passes unit
        moves on the same scenarios, `assortopt.methods.local_search.improve`): called on the
        root bound's maximiser and on every new incumbent while the time spent in it stays
        below ``polish_share`` of the time elapsed (models/stock_bnb.md §4). Its plans are
        scored here, so it cannot make the result wrong, only better.
    reuse_sales
        The children take their sales table d from the parent box instead of replaying every
        run (exact by Lemmas 2 and 3, models/stock_bnb.md §4): the child ``q_j ≤ s`` all of it,
        ``q_j ≥ s + 1`` the runs in which j had units left; ``"lo"``: only the first; ``False``:
        neither. The last two only to measure it.
    external
        Another search on the same SAA problem (``mip`` with ``formulation="portfolio"`` runs
        the strong HiGHS model in a second process, `assortopt.methods.mip_portfolio`):
        ``external(best, best_q) -> (bound or None, plans)`` is called about every
        `_EXTERNAL_S` seconds and at the end with this search's incumbent. Its plans are scored
        here like polished ones; its bound (a proven bound on the same optimum) caps the
        reported bound, and the search stops as optimal once the incumbent meets it.
    workers
        2: the two best boxes of the queue are split at once, the children of the second
        bounded in a second thread (the compiled node releases the GIL), then all four are
        queued in order (models/stock_bnb.md §4). Without budget and ``max_products`` only;
        1 otherwise.
    """
    t0 = time.perf_counter()
    n = inst.n
    lo0 = np.zeros(n, np.int64) if min_stock is None else np.asarray(min_stock, np.int64).copy()
    if candidates is None:
        candidates = (inst.margin > 0) | (lo0 > 0)
        if inst.budget is not None:
            candidates &= (inst.cost <= inst.budget + 1e-9) | (lo0 > 0)
    cand = np.asarray(candidates, dtype=bool) | (lo0 > 0)
    prob = StockProblem(inst, stream, cand)
    cost = np.asarray(inst.cost, dtype=np.float64)
    budget = inst.budget
    cap = inst.max_products
    hi0 = np.where(cand, prob.interested(), 0).astype(np.int64)
    if budget is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            afford = np.where(cost > 0, np.floor((budget + 1e-9) / np.maximum(cost, 1e-300)), hi0)
        hi0 = np.minimum(hi0, afford.astype(np.int64))
    if max_stock is not None:
        hi0 = np.minimum(hi0, np.asarray(max_stock, np.int64))
    hi0 = np.maximum(hi0, lo0)
    stats: dict[str, Any] = {"scenarios_kept": prob.stream.n_scenarios}

    def done(stock, obj, bound, status, nodes, msg=""):
        gap = gap_of(obj, bound) if obj is not None else None
        stats["evaluations"] = prob.evaluations
        stats["runs"] = prob.runs
        res = BnbResult(stock, obj, bound, gap, status, nodes, time.perf_counter() - t0, msg, stats)
        if verbose:
            print(
                f"bnb: {status} after {nodes} nodes, {res.time_s:.2f}s: best {obj} bound {bound}"
                f" gap {gap}",
                file=sys.stderr,
            )
        return res

    if max_stock is not None and np.any(np.asarray(max_stock) < lo0):
        return done(np.zeros(n, np.int64), None, None, INFEASIBLE, 0, "max_stock < min_stock")
    if not _feasible(lo0, cost, budget, cap):
        return done(np.zeros(n, np.int64), None, None, INFEASIBLE, 0,
                    "min_stock breaks the budget or max_products")  # fmt: skip

    best_q = lo0.copy()
    best = prob.value(best_q)
    if start is not None:
        qs = np.clip(np.asarray(start, np.int64), lo0, hi0)
        qs[~cand] = lo0[~cand]
        if _feasible(qs, cost, budget, cap):
            v = prob.value(qs)
            if v > best:
                best, best_q = v, qs
    stats["start_objective"] = best

    def tol() -> float:
        return max(mip_gap * max(1.0, abs(best)), 1e-9 * max(1.0, abs(best)))

    pruned = -np.inf  # largest bound of a box discarded with a tolerance
    heap: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray, Any, bool, Any]] = []
    if budget is not None or cap is not None:
        price_steps = 0
    elif price_steps is None:
        price_steps = 0
    stats["price_steps"] = price_steps
    counter = 0
    nodes = 0

    polish_s = 0.0
    polishing = False

    def run_polish(q: np.ndarray, force: bool = False) -> None:
        """Unit moves from q within the share of time allowed (models/stock_bnb.md §4)."""
        nonlocal polish_s, polishing
        if polish is None or polishing:
            return
        el = time.perf_counter() - t0
        if not force and polish_s > polish_share * el:
            return
        left = None if time_limit is None else max(0.0, time_limit - el)
        budget_s = 0.5 * left if left is not None else None
        if force and left is not None:
            budget_s = 0.1 * left
        elif left is not None:
            budget_s = min(budget_s, max(0.05, polish_share * el - polish_s))
        polishing = True
        t1 = time.perf_counter()
        try:
            qp = np.asarray(polish(q.copy(), budget_s), dtype=np.int64)
        finally:
            polishing = False
            polish_s += time.perf_counter() - t1
        if qp.shape == q.shape and np.all(qp >= lo0) and np.all(qp <= hi0):
            offer(qp)

    def offer(q: np.ndarray, v: float | None = None) -> None:
        nonlocal best, best_q
        if _feasible(q, cost, budget, cap):
            v = prob.value(q) if v is None else v
            if v > best:
                best, best_q = v, q.copy()
                run_polish(best_q)

    compiled = budget is None and cap is None

    def process(
        lo: np.ndarray,
        hi: np.ndarray,
        mu: np.ndarray | None,
        d: np.ndarray | None = None,
        raw: tuple | None = None,
    ) -> float:
        """Bound a new box with the γ-bound (returned); the price bound waits until the box is
        on top. ``d``: the parent's sales table when the box has the parent's lo (§4); ``raw``: the
        compiled node already computed (`StockProblem.node_raw`, by the second worker)."""
        nonlocal counter, nodes, pruned
        nodes += 1
        if compiled:
            if raw is None:
                raw = prob.node_raw(lo, hi, d if reuse_sales else None, gamma_steps)
            ub, qstar, hi, d, v, point = prob.count(raw)
            offer(qstar, v)
        else:
            tab = prob.box(lo, hi)
            hi = tab.hi
            ub, qstar = _box_bound(tab, cost, budget, cap, prob.gain, gamma_steps)
            d = None
            point = np.array_equal(lo, hi)
            offer(qstar, ub if point else None)
        if ub <= best + tol() or point:
            pruned = max(pruned, min(ub, best + tol()))
            return ub
        counter += 1
        if d is not None and len(heap) * d[0].nbytes * 3 > _TABLE_BYTES:
            d = None
        heapq.heappush(heap, (-ub, counter, lo, hi, qstar, mu, price_steps <= 0, d))
        return ub

    def price(ub: float, lo: np.ndarray, hi: np.ndarray, q: np.ndarray, mu: Any, d: Any) -> None:
        """Tighten the top box with the customer-price bound (§3.4) and put it back."""
        nonlocal counter, pruned
        tab = prob.box(lo, hi)
        if mu is None:
            mu = np.full(prob.stream.offsets.shape[0] - 1, _best_gamma(tab, prob.gain))
            steps = root_price_steps
        else:
            steps = price_steps
        ub_p, q_p, mu = prob.price_bound(tab, mu.astype(np.float64), steps, best)
        offer(q_p)
        if ub_p < ub:
            ub, q = ub_p, q_p
        if ub <= best + tol():
            pruned = max(pruned, min(ub, best + tol()))
            return
        counter += 1
        heapq.heappush(heap, (-ub, counter, lo, hi, q, mu.astype(np.float32), True, d))

    process(lo0, hi0, None)
    if heap:
        run_polish(heap[0][4], force=True)
    if heap and not heap[0][6]:
        top, _, lo, hi, qstar, mu, _, d = heapq.heappop(heap)
        price(-top, lo, hi, qstar, mu, d)
    stats["root_bound"] = float(-heap[0][0] if heap else max(best, pruned))
    last = last_ext = time.perf_counter()
    status = OPTIMAL
    msg = ""
    ext_bound = np.inf

    def ask_external() -> None:
        nonlocal ext_bound
        if external is None:
            return
        b, plans = external(best, best_q.copy())
        for q in plans:
            q = np.asarray(q, np.int64)
            inside = q.shape == lo0.shape and np.all(q >= lo0) and np.all(q <= hi0)
            if inside and not q[~cand].any():
                offer(q)
        if b is not None:
            ext_bound = min(ext_bound, float(b))

    ask_external()

    def split_box(ub: float, lo, hi, qstar, mu, d) -> tuple[float, int, list[tuple]]:
        """The split of a box by the branching rule: (its bound, the product split, the
        arguments of `process` for both children, q_j ≤ s first)."""
        if branching == "pseudocost":
            j, split = _pseudo_branch(lo, hi, qstar, prob.gain, pcost)
        else:
            j, split = _branch(lo, hi, qstar, prob.gain, branching)
        hi1 = hi.copy()
        hi1[j] = split
        lo2 = lo.copy()
        lo2[j] = split + 1
        d1 = None if d is None else (*d, -1)
        d2 = None if d is None or reuse_sales == "lo" else (*d, j)
        return ub, j, [(lo, hi1, mu, d1), (lo2, hi, mu, d2)]

    def child_raws(split: tuple) -> tuple[tuple, tuple]:
        """Both children's compiled nodes (`StockProblem.node_raw`; no Python state touched,
        so the second thread may run it)."""
        return tuple(
            prob.node_raw(lo, hi, d if reuse_sales else None, gamma_steps)
            for lo, hi, _, d in split[2]
        )

    pool = ThreadPoolExecutor(1) if workers > 1 and compiled else None
    pcost = np.zeros((4, n))  # per product: bound drop down / splits, up / splits
    try:
        while heap:
            ub = -heap[0][0]
            if best + tol() >= ext_bound:
                status, msg = OPTIMAL, "the other search's bound met"
                break
            if external is not None and time.perf_counter() - last_ext > _EXTERNAL_S:
                ask_external()
                last_ext = time.perf_counter()
                continue
            if ub <= best + tol():
                pruned = max(pruned, min(ub, best + tol()))
                heap.clear()
                break
            if (
                time_limit is not None
                and time.perf_counter() - t0 + _FREE_S * len(heap) > time_limit
            ):
                status, msg = FEASIBLE, "time limit"
                break
            if max_nodes is not None and nodes >= max_nodes:
                status, msg = FEASIBLE, "node limit"
                break
            top, _, lo, hi, qstar, mu, priced, d = heapq.heappop(heap)
            if not priced:
                price(-top, lo, hi, qstar, mu, d)
                continue
            splits = [split_box(-top, lo, hi, qstar, mu, d)]
            if pool is not None and heap and heap[0][6] and -heap[0][0] > best + tol():
                # the next box too: its children are bounded in the second thread
                top2, _, lo, hi, qstar, mu, _, d = heapq.heappop(heap)
                splits.append(split_box(-top2, lo, hi, qstar, mu, d))
                second = pool.submit(child_raws, splits[1])
                stats["paired_splits"] = stats.get("paired_splits", 0) + 1
                raws = [child_raws(splits[0]), second.result()]
            else:
                raws = [(None, None)]
            for (ub, j, kids), (r1, r2) in zip(splits, raws, strict=True):
                u1 = process(*kids[0], r1)
                u2 = process(*kids[1], r2)
                pcost[0, j] += max(0.0, ub - u1)
                pcost[1, j] += 1
                pcost[2, j] += max(0.0, ub - u2)
                pcost[3, j] += 1
            if verbose and time.perf_counter() - last > 2.0:
                last = time.perf_counter()
                top = -heap[0][0] if heap else best
                print(
                    f"bnb: {nodes} nodes, {len(heap)} open, best {best:.6g}, bound {top:.6g}, "
                    f"{last - t0:.1f}s",
                    file=sys.stderr,
                )
    finally:
        if pool is not None:
            pool.shutdown()
    open_ub = -heap[0][0] if heap else -np.inf
    if heap and status != OPTIMAL:
        ask_external()
    bound = float(max(best, min(max(best, pruned, open_ub), ext_bound)))
    if status != OPTIMAL and heap and gap_of(best, bound) <= mip_gap:
        status, msg = OPTIMAL, "the other search's bound met"
    stats["open_nodes"] = len(heap)
    if external is not None:
        stats["external_bound"] = None if not np.isfinite(ext_bound) else float(ext_bound)
    t_free = time.perf_counter()
    heap.clear()
    stats["free_s"] = time.perf_counter() - t_free
    stats["polish_s"] = polish_s
    if status == OPTIMAL and gap_of(best, bound) > mip_gap + 1e-12:
        status = FEASIBLE  # cannot happen unless tolerances misbehave; stay honest
    return done(best_q, float(best), bound, status, nodes, msg)


def _pseudo_branch(
    lo: np.ndarray, hi: np.ndarray, qstar: np.ndarray, gain: np.ndarray, pcost: np.ndarray
) -> tuple[int, int]:
    """Pseudo-cost branching: the product whose past splits dropped the bound most (product
    of the mean drops of both children), among those whose maximiser is above lo."""
    elig = (hi > lo) & (qstar > lo)
    if not elig.any() or pcost[1].sum() == 0:
        return _branch(lo, hi, qstar, gain, "bound-point")
    seen = pcost[1] > 0
    avg_dn = pcost[0, seen].sum() / pcost[1, seen].sum()
    avg_up = pcost[2, seen].sum() / pcost[3, seen].sum()
    dn = np.where(seen, pcost[0] / np.maximum(pcost[1], 1), avg_dn)
    up = np.where(seen, pcost[2] / np.maximum(pcost[3], 1), avg_up)
    score = np.maximum(dn, 1e-6) * np.maximum(up, 1e-6) * (qstar - lo) * gain
    score = np.where(elig, score, -1.0)
    j = int(np.argmax(score))
    s = int((lo[j] + qstar[j]) // 2)
    return j, min(max(s, int(lo[j])), int(hi[j]) - 1)


def _branch(
    lo: np.ndarray, hi: np.ndarray, qstar: np.ndarray, gain: np.ndarray, rule: str
) -> tuple[int, int]:
    """The product to split and the split point s: children q_j ≤ s and q_j ≥ s + 1.

    ``"bound-point"``: the product whose bound maximiser is furthest above lo (times its gain),
    split halfway between lo and the maximiser; ``"widest"``: the widest box side (times gain),
    split in the middle; ``"at-point"``: as bound-point, split just below the maximiser."""
    if rule == "bound-point":
        j, s = _bnb_kernels.branch_bound_point(lo, hi, qstar, gain)
        return int(j), int(s)
    width = hi - lo
    above = np.where(width > 0, (qstar - lo).astype(float), -1.0)
    if rule != "widest" and above.max() > 0:
        j = int(np.argmax(above * gain))
        if rule == "at-point":
            s = int(qstar[j]) - 1
        else:
            s = int((lo[j] + qstar[j]) // 2)
        s = min(max(s, int(lo[j])), int(hi[j]) - 1)
        return j, s
    score = np.where(width > 0, width * gain, -1.0)
    j = int(np.argmax(score))
    return j, int((lo[j] + hi[j]) // 2)
