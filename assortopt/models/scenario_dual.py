"""Scenario (Lagrangian) decomposition bound of the SAA problem over a box of stock vectors.

Copy the plan per scenario, ``q_k = x`` for every k, and relax those nonanticipativity rows
with multipliers λ_k (models/scenario_dual.md). For every λ and box B = [lo, hi],

    max_{x ∈ B} F(x) ≤ Σ_k max_{q ∈ B} (w_k F_k(q) − λ_k·q) + max_{x ∈ B} (Σ_k λ_k)·x,

where ``F_k`` is the profit of scenario k. Each scenario's problem is the exact strong MIP of one
sample path (``build_sample_path_mip`` on that scenario alone, solved by HiGHS; its dual bound is
used, so the bound stays valid even when a solve stops early). The multipliers come from a
Dantzig–Wolfe master (an LP over convex combinations of the plans met, per scenario, solved by
HiGHS through scipy): its duals are the λ of the next round. Every plan a scenario problem
returns is scored by the simulator on all scenarios: it is a candidate plan, and a column of
every scenario's pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from ..solver import SolverOptions
from ..solver.highs import highs_from_lp
from .sample_path_mip import build_sample_path_mip
from .stock_bnb import StockProblem

__all__ = ["DualResult", "ScenarioDual"]


@dataclass
class DualResult:
    """Smallest Lagrangian bound met, the best plan met (and its SAA value), the master's LP
    value (the dual's current estimate), rounds run and time."""

    bound: float
    best_q: np.ndarray
    best_value: float
    master: float
    rounds: int
    time_s: float
    history: list[tuple[float, float, float]] = field(default_factory=list)


class _Sub:
    """The one-scenario strong MIP of scenario k, with one extra column per product for units
    beyond the scenario's interested customers (they never sell there, but a multiplier may pay
    for them): ``e_j ≤ (hi_j − U_kj) [q_j ≥ U_kj]``."""

    def __init__(self, prob: StockProblem, k: int, hi: np.ndarray, threads: int) -> None:
        import highspy

        inst = prob.inst
        st = prob.stream.select(np.array([k]))
        f = build_sample_path_mip(inst, st, "strong", candidates=prob.candidates)
        self.lp = f.lp
        self.products = np.asarray(f.info["products"], dtype=np.int64)
        self.qcol = np.asarray(f.var_blocks["stock"].cols, dtype=np.int64)
        self.units = np.asarray(f.info["units"], dtype=np.int64)
        w = f.var_blocks["units"].cols
        opts = SolverOptions(threads=threads, mip_gap=1e-9, highs={"presolve": "on"})
        self.h = highs_from_lp(self.lp, opts)
        self.h.setOptionValue("mip_rel_gap", 1e-9)
        self.h.setOptionValue("mip_abs_gap", 1e-9)
        self.base_cost = self.lp.c.copy()
        self.net_cost = prob.net_cost[self.products]
        n0 = self.lp.n_cols
        self.ecol = np.arange(n0, n0 + len(self.products))
        for i, j in enumerate(self.products):
            room = float(max(0, hi[j] - self.units[i]))
            self.h.addCol(0.0, 0.0, room, 0, np.array([], np.int32), np.array([], np.float64))
            self.h.changeColIntegrality(int(self.ecol[i]), highspy.HighsVarType.kInteger)
            u = int(self.units[i])
            if u >= 1 and room > 0:
                col = int(w[i, u - 1])
                self.h.addRow(-np.inf, 0.0, 2, np.array([self.ecol[i], col], np.int32),
                              np.array([1.0, -room]))  # fmt: skip

    def price(self, lam: np.ndarray, weight: float, lo: np.ndarray, hi: np.ndarray,
              time_limit: float | None) -> tuple[float, np.ndarray]:  # fmt: skip
        """max_q w F_k(q) − λ·q over the box: (valid upper bound on it, a maximising plan)."""
        h = self.h
        p = self.products
        cost = self.base_cost.copy()
        cost[self.qcol] -= lam[p] / weight
        cols = np.concatenate([np.arange(len(cost)), self.ecol])
        vals = np.concatenate([cost, -self.net_cost - lam[p] / weight])
        h.changeColsCost(len(cols), cols.astype(np.int32), vals)
        qlo = np.minimum(lo[p], self.units).astype(np.float64)
        qhi = np.minimum(hi[p], self.units).astype(np.float64)
        elo = np.maximum(0, lo[p] - self.units).astype(np.float64)
        ehi = np.maximum(0, hi[p] - self.units).astype(np.float64)
        h.changeColsBounds(len(p), self.qcol.astype(np.int32), qlo, qhi)
        h.changeColsBounds(len(p), self.ecol.astype(np.int32), elo, ehi)
        h.setOptionValue("time_limit", float(time_limit) if time_limit else 1e30)
        h.run()
        info = h.getInfo()
        x = np.asarray(h.getSolution().col_value)
        q = np.zeros(len(lam), dtype=np.int64)
        q[p] = np.rint(x[self.qcol] + x[self.ecol]).astype(np.int64)
        ub = float(info.mip_dual_bound)
        if not np.isfinite(ub):
            ub = float(info.objective_function_value)
        return weight * ub, q


class ScenarioDual:
    """The scenario-decomposition bound of the SAA problem ``prob`` over boxes inside
    ``[0, hi]``: one one-scenario MIP per merged scenario (budget and ``max_products`` are rows
    of each), a pool of plans shared by all scenarios, `solve` for column generation
    (models/scenario_dual.md). Measured, not used by method ``mip``: slower than the
    branch-and-bound for the bound it reaches."""

    def __init__(self, prob: StockProblem, hi: np.ndarray, threads: int = 1) -> None:
        self.prob = prob
        self.subs = [_Sub(prob, k, hi, threads) for k in range(prob.stream.n_scenarios)]
        self.cols: list[np.ndarray] = []  # plans (int64, N)
        self.vals: list[np.ndarray] = []  # per-scenario profit of each plan (K,)
        self.seen: set[bytes] = set()

    def scenario_values(self, q: np.ndarray) -> np.ndarray:
        """F_k(q) for every scenario k (simulated)."""
        prob = self.prob
        s = prob.sales(q)
        base = -(prob.net_cost @ q) - prob.fixed[q > 0].sum()
        return s @ prob.gain + base

    def add(self, q: np.ndarray) -> float:
        """Add plan q to every scenario's pool; returns its SAA value."""
        q = np.asarray(q, dtype=np.int64)
        v = self.scenario_values(q)
        key = q.tobytes()
        if key not in self.seen:
            self.seen.add(key)
            self.cols.append(q.copy())
            self.vals.append(v)
        return float(self.prob.weight @ v)

    def master(self, lo: np.ndarray, hi: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The master LP over the pools restricted to the box: (value, λ (K, N)); None if no
        plan of the pools lies in the box."""
        prob = self.prob
        n = prob.inst.n
        kk = prob.stream.n_scenarios
        inside = [i for i, q in enumerate(self.cols) if np.all(q >= lo) and np.all(q <= hi)]
        if not inside:
            return None
        qs = np.array([self.cols[i] for i in inside])  # (C, N)
        vs = np.array([self.vals[i] for i in inside])  # (C, K)
        nc = len(inside)
        # variables: pi[k, c] (k-major), then x (N)
        nv = kk * nc + n
        c = np.zeros(nv)
        c[: kk * nc] = -(vs.T * prob.weight[:, None]).ravel()
        import scipy.sparse as sp

        rows, colsx, data = [], [], []
        for k in range(kk):
            for j in range(n):
                r = k * n + j
                nz = np.flatnonzero(qs[:, j])
                rows.extend([r] * len(nz))
                colsx.extend((k * nc + nz).tolist())
                data.extend(qs[nz, j].tolist())
                rows.append(r)
                colsx.append(kk * nc + j)
                data.append(-1.0)
        for k in range(kk):
            r = kk * n + k
            rows.extend([r] * nc)
            colsx.extend(range(k * nc, (k + 1) * nc))
            data.extend([1.0] * nc)
        a = sp.csr_array((data, (rows, colsx)), shape=(kk * n + kk, nv))
        b = np.concatenate([np.zeros(kk * n), np.ones(kk)])
        bounds = [(0, None)] * (kk * nc) + [(float(lo[j]), float(hi[j])) for j in range(n)]
        res = linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
        if res.status != 0:
            return None
        lam = -np.asarray(res.eqlin.marginals[: kk * n]).reshape(kk, n)
        return -float(res.fun), lam

    def lagrangian(
        self, lam: np.ndarray, lo: np.ndarray, hi: np.ndarray, deadline: float | None
    ) -> tuple[float, list[np.ndarray]]:
        """The bound at λ (valid for every λ) and the scenario problems' plans."""
        prob = self.prob
        total = 0.0
        plans = []
        for k, sub in enumerate(self.subs):
            left = None if deadline is None else max(0.01, deadline - time.perf_counter())
            ub, q = sub.price(lam[k], float(prob.weight[k]), lo, hi, left)
            total += ub
            plans.append(q)
        s = lam.sum(axis=0)
        total += float(np.where(s > 0, s * hi, s * lo).sum())
        return total, plans

    def solve(
        self,
        lo: np.ndarray,
        hi: np.ndarray,
        start: list[np.ndarray],
        rounds: int = 50,
        time_limit: float | None = None,
        target: float = -np.inf,
        tol: float = 1e-6,
    ) -> DualResult:
        """Column generation over the box from the plans ``start`` (at least one inside)."""
        t0 = time.perf_counter()
        deadline = None if time_limit is None else t0 + time_limit
        best_v, best_q = -np.inf, lo.copy()
        for q in start:
            v = self.add(q)
            if v > best_v:
                best_v, best_q = v, np.asarray(q, np.int64).copy()
        bound = np.inf
        hist = []
        mval = np.nan
        r = 0
        while r < rounds:
            r += 1
            m = self.master(lo, hi)
            if m is None:
                break
            mval, lam = m
            ub, plans = self.lagrangian(lam, lo, hi, deadline)
            bound = min(bound, ub)
            for q in plans:
                v = self.add(q)
                if v > best_v:
                    best_v, best_q = v, q.copy()
            hist.append((time.perf_counter() - t0, mval, ub))
            if bound - mval <= tol * max(1.0, abs(bound)) or bound <= target:
                break
            if deadline is not None and time.perf_counter() > deadline:
                break
        return DualResult(bound, best_q, best_v, mval, r, time.perf_counter() - t0, hist)
