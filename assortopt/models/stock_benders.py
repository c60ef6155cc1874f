"""Logic-based Benders over the stock vector: a HiGHS master, cuts from the sample-path facts.

Prototype measured against `assortopt.models.stock_bnb` (models/stock_benders.md). The master
is a MIP over unary stock variables ``z[j, u] = [q_j ≥ u]`` (u = 1..hi_j) and one revenue
variable ``θ_k`` per merged scenario:

    max Σ_k w_k θ_k − Σ_j c̃_j Σ_u z[j, u] − Σ_j f_j z[j, 1],   z[j, u+1] ≤ z[j, u],

with every cut valid for every plan q (proofs in models/stock_benders.md §2):

* root cuts, per scenario and multiplier γ ≥ 0 on a grid (the γ-bound of models/stock_bnb.md
  §3.1 per scenario, whose ``min(q_j, x_kj) = Σ_{u ≤ x_kj} z[j, u]`` is linear in z);
* at each plan x the master proposes, after simulating it exactly, two "sample-path Benders"
  cuts per scenario (exact at q = x, so x is never proposed again with a value above its own).

The master's dual bound is a valid bound on the SAA optimum at every iteration (the cuts only
remove points above the true revenue), so the method stops at a time limit with the best
simulated plan and that bound.
"""

from __future__ import annotations

import sys
import time

import highspy
import numpy as np

from .. import _bnb_kernels
from ..instance import Instance
from ..solver import FEASIBLE, INFEASIBLE, OPTIMAL, gap_of
from ..streams import Stream
from .stock_bnb import BnbResult, StockProblem, _feasible

__all__ = ["solve_stock_benders"]


class _Master:
    """The HiGHS master: columns z (unary stock of the candidates) then θ (one per scenario)."""

    def __init__(self, prob: StockProblem, lo: np.ndarray, hi: np.ndarray, threads: int) -> None:
        self.prob = prob
        self.lo, self.hi = lo, hi
        n = len(hi)
        self.start = np.concatenate([[0], np.cumsum(hi)]).astype(np.int64)  # z[j, u] col
        self.nz = int(self.start[-1])
        self.k = prob.stream.n_scenarios
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("mip_rel_gap", 0.0)
        ncol = self.nz + self.k
        lower = np.zeros(ncol)
        upper = np.concatenate([np.ones(self.nz), np.full(self.k, highspy.kHighsInf)])
        for j in range(n):  # min_stock: the first lo_j units are bought
            lower[self.start[j] : self.start[j] + lo[j]] = 1.0
        cost = np.zeros(ncol)
        for j in range(n):
            cost[self.start[j] : self.start[j + 1]] = -prob.net_cost[j]
            if hi[j] > 0:
                cost[self.start[j]] -= prob.fixed[j]
        cost[self.nz :] = prob.weight
        h.addVars(ncol, lower, upper)
        h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
        if self.nz:
            h.changeColsIntegrality(
                self.nz,
                np.arange(self.nz, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * self.nz),
            )
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h = h
        rows: list[tuple[list[int], list[float], float]] = []
        for j in range(n):  # z[j, u+1] ≤ z[j, u]
            for u in range(1, hi[j]):
                c = self.start[j] + u
                rows.append(([c, c - 1], [1.0, -1.0], 0.0))
        inst = prob.inst
        if inst.budget is not None:
            cols = list(range(self.nz))
            vals = [float(inst.cost[j]) for j in range(n) for _ in range(hi[j])]
            rows.append((cols, vals, float(inst.budget)))
        if inst.max_products is not None:
            cols = [int(self.start[j]) for j in range(n) if hi[j] > 0]
            rows.append((cols, [1.0] * len(cols), float(inst.max_products)))
        self.add(rows)
        self.cuts = 0

    def add(self, rows: list[tuple[list[int], list[float], float]]) -> None:
        """Add rows ``Σ vals·cols ≤ rhs``."""
        if not rows:
            return
        starts = np.cumsum([0] + [len(r[0]) for r in rows[:-1]]).astype(np.int32)
        idx = np.concatenate([np.asarray(r[0], dtype=np.int32) for r in rows])
        val = np.concatenate([np.asarray(r[1], dtype=np.float64) for r in rows])
        ub = np.array([r[2] for r in rows])
        self.h.addRows(len(rows), np.full(len(rows), -highspy.kHighsInf), ub, len(idx),
                       starts, idx, val)  # fmt: skip

    def prefix(self, j: int, a: int, b: int) -> list[int]:
        """Columns z[j, u] for a < u ≤ b (so Σ of them = (min(q_j, b) − a)^+ for a ≤ b)."""
        b = min(b, int(self.hi[j]))
        return list(range(self.start[j] + a, self.start[j] + b)) if b > a else []

    def plan(self, x: np.ndarray) -> np.ndarray:
        """The master's column values of plan x (for a warm start)."""
        v = np.zeros(self.nz + self.k)
        for j in range(len(x)):
            v[self.start[j] : self.start[j] + min(int(x[j]), int(self.hi[j]))] = 1.0
        return v

    def solve(self, seconds: float | None, start: np.ndarray | None, theta: np.ndarray | None):
        """(dual bound, plan q, θ) of the master, or None when HiGHS found no solution."""
        h = self.h
        h.setOptionValue("time_limit", float(seconds) if seconds is not None else highspy.kHighsInf)
        if start is not None:
            v = self.plan(start)
            v[self.nz :] = theta
            sol = highspy.HighsSolution()
            sol.col_value = v
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:  # no feasible point: only the bound (if any)
            b = float(info.mip_dual_bound)
            return (b if np.isfinite(b) else None), None, None
        col = np.asarray(h.getSolution().col_value)
        z = col[: self.nz] > 0.5
        q = np.array([int(z[self.start[j] : self.start[j + 1]].sum()) for j in range(len(self.hi))])
        b = float(info.mip_dual_bound)
        if not np.isfinite(b) or h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            b = (
                max(b, float(info.objective_function_value))
                if np.isfinite(b)
                else float(info.objective_function_value)
            )
        return b, q.astype(np.int64), col[self.nz :]


def _root_cuts(m: _Master, d0: np.ndarray, e: np.ndarray, steps: int) -> list:
    """θ_k ≤ γ TS_k(hi) + Σ_j (g_j − γ) min(q_j, x_kj), x = d0 (g_j ≥ γ) or e (g_j < γ)."""
    g = m.prob.gain
    rows = []
    total = e.sum(axis=1)
    for gamma in np.linspace(0.0, float(g.max()) if len(g) else 0.0, steps + 1):
        for k in range(m.k):
            cols, vals = [m.nz + k], [1.0]
            for j in range(len(g)):
                x = d0[k, j] if g[j] >= gamma else e[k, j]
                c = m.prefix(j, 0, int(x))
                cols += c
                vals += [-(g[j] - gamma)] * len(c)
            rows.append((cols, vals, float(gamma * total[k])))
    return rows


def _plan_cuts(m: _Master, x: np.ndarray, rev: np.ndarray, a: np.ndarray, d0: np.ndarray):
    """The two cuts per scenario at plan x (models/stock_benders.md §2): with L = the units
    removed from x, π_i = (G − g_i)^+ the most a removed unit of i can add,

    A: θ_k ≤ R_k(x) + Σ_i π_i (x_i − q_i)^+ + Σ_j g_j (min(q_j, d0_kj) − x_j)^+
    B: θ_k ≤ R_k(x) + Σ_i (π_i + Σ_{j ∈ J_k, j ≠ i} g_j)(x_i − q_i)^+
               + Σ_j g_j (min(q_j, a_kj) − x_j)^+,

    a_kj = S_kj(∞, x_{−j}), J_k = {j : min(hi_j, d0_kj) > max(a_kj, x_j)}."""
    g = m.prob.gain
    n = len(g)
    big = float(g.max()) if n else 0.0
    pi = np.maximum(0.0, big - g)
    rows = []
    low_cols = [m.prefix(i, 0, int(x[i])) for i in range(n)]
    for k in range(m.k):
        jk = (np.minimum(m.hi, d0[k]) > np.maximum(a[k], x)).astype(np.float64)
        for which in ("A", "B"):
            cols, vals = [m.nz + k], [1.0]
            rhs = float(rev[k])
            extra = 0.0
            for i in range(n):
                p = pi[i] if which == "A" else pi[i] + float(g @ jk) - g[i] * jk[i]
                if p > 0 and x[i] > 0:
                    cols += low_cols[i]
                    vals += [p] * len(low_cols[i])
                    extra += p * len(low_cols[i])
                top = int(d0[k, i] if which == "A" else a[k, i])
                c = m.prefix(i, int(x[i]), top)
                cols += c
                vals += [-g[i]] * len(c)
            rows.append((cols, vals, rhs + extra))
    return rows


def solve_stock_benders(
    inst: Instance,
    stream: Stream,
    *,
    candidates: np.ndarray | None = None,
    min_stock: np.ndarray | None = None,
    start: np.ndarray | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-4,
    max_iterations: int | None = None,
    gamma_steps: int = 8,
    neighbours: bool = False,
    threads: int = 1,
    verbose: bool = False,
) -> BnbResult:
    """The SAA optimum of the sample-path model by logic-based Benders (an iterative master).

    Each iteration solves the master (within the time left), simulates its plan exactly, keeps
    it as incumbent when better and adds its cuts. Stops when the master's bound is within
    ``mip_gap`` of the incumbent (``optimal``), at the time limit or ``max_iterations``
    (``feasible``, with the master's last valid bound). ``neighbours``: also cut at every unit
    move from each master plan. Budget, ``max_products``, fixed costs
    and ``min_stock`` are honoured."""
    t0 = time.perf_counter()
    n = inst.n
    lo = np.zeros(n, np.int64) if min_stock is None else np.asarray(min_stock, np.int64).copy()
    if candidates is None:
        candidates = (inst.margin > 0) | (lo > 0)
    cand = np.asarray(candidates, dtype=bool) | (lo > 0)
    prob = StockProblem(inst, stream, cand)
    cost = np.asarray(inst.cost, dtype=np.float64)
    budget, cap = inst.budget, inst.max_products
    if not _feasible(lo, cost, budget, cap):
        return BnbResult(np.zeros(n, np.int64), None, None, None, INFEASIBLE, 0, 0.0,
                         "min_stock breaks the budget or max_products")  # fmt: skip
    s = prob.stream
    hi = np.where(cand, prob.interested(), 0).astype(np.int64)
    zero = np.zeros(n, np.int64)
    d0 = _bnb_kernels.box_sales(s.offsets, s.items, s.scenario_offsets, zero, hi)
    # units beyond max_k d0_kj never sell (models/stock_bnb.md §3.2)
    hi = np.maximum(lo, np.minimum(hi, d0.max(axis=0) if len(d0) else hi))
    e = prob.sales(hi)
    m = _Master(prob, lo, hi, threads)
    m.add(_root_cuts(m, d0, e, gamma_steps))

    best_q, best = lo.copy(), prob.value(lo)
    seen: set[bytes] = set()

    def visit(x: np.ndarray) -> None:
        nonlocal best, best_q
        x = np.clip(x, lo, hi)
        key = x.tobytes()
        if key in seen:
            return
        seen.add(key)
        sales = prob.sales(x)
        rev = sales @ prob.gain
        if _feasible(x, cost, budget, cap):
            v = float(prob.weight @ rev - prob.net_cost @ x - prob.fixed[x > 0].sum())
            prob.evaluations += 1
            if v > best:
                best, best_q = v, x.copy()
        a = _bnb_kernels.box_sales(s.offsets, s.items, s.scenario_offsets, x, np.maximum(hi, x))
        m.add(_plan_cuts(m, x, rev, a, d0))
        m.cuts += 2 * m.k

    visit(lo)
    if start is not None:
        qs = np.asarray(start, np.int64).copy()
        qs[~cand] = lo[~cand]
        visit(qs)
    bound = None
    it = 0
    status, msg = FEASIBLE, "time limit"
    while True:
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            break
        if max_iterations is not None and it >= max_iterations:
            msg = "iteration limit"
            break
        it += 1
        theta = prob.sales(best_q) @ prob.gain
        b, q, _ = m.solve(left, best_q, theta)
        if b is not None:
            bound = b if bound is None else min(bound, b)
        if verbose:
            print(f"benders: it {it} bound {bound} best {best:.6g} cuts {m.cuts} "
                  f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)  # fmt: skip
        if bound is not None and gap_of(best, max(best, bound)) <= mip_gap:
            status, msg = OPTIMAL, ""
            break
        if q is None or q.tobytes() in seen:
            if m.h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                status, msg = OPTIMAL, ""  # the master's optimum is a simulated plan
                bound = best if q is None else bound
                break
            continue
        visit(q)
        if neighbours:  # cuts at every unit move from the master's plan too
            for j in np.flatnonzero(hi > lo):
                for step in (-1, 1):
                    y = q.copy()
                    y[j] += step
                    if lo[j] <= y[j] <= hi[j]:
                        visit(y)
    bound = None if bound is None else float(max(best, bound))
    gap = None if bound is None else gap_of(best, bound)
    if status == OPTIMAL and gap is not None and gap > mip_gap + 1e-12:
        status = FEASIBLE
    res = BnbResult(best_q, float(best), bound, gap, status, it, time.perf_counter() - t0, msg,
                    {"cuts": m.cuts, "evaluations": prob.evaluations})  # fmt: skip
    return res
