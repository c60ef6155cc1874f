"""Exact SAA-LP solve by L-shaped decomposition (multi-cut Benders with a trust region).

The SAA-LP (`assortopt.models.saa_lp`) is ``max_q −(c − v)·q + Σ_k w_k V_k(q)`` where, for stock q
fixed, V_k(q) is scenario k's fluid-spill LP on the chain ρ̃ of the product set S:

    V_k(q) = max (r − v)·s  s.t.  s + u − ρ̃ᵀu = d_k,  0 ≤ s ≤ q,  u ≥ 0.

Its dual is ``min d_k·π + q·μ`` over π ≥ ρ̃π (an optimal-stopping value) and μ ≥ (r − v − π)^+. Any
dual-feasible (π, μ) gives a cut ``V_k(q') ≤ d_k·π + q'·μ`` valid for every q' (weak duality), tight
at the q it was computed for. The master keeps one θ_k per scenario (multi-cut):

    max −(c − v)·q + Σ_k w_k θ_k  s.t.  θ_k ≤ d_k·π^j + μ^j·q (all cuts j),  budget,
                                      0 ≤ q ≤ q_max,  ‖q − q̂‖∞ ≤ Δ (trust region).

q_max_i = the largest no-sale inflow of i over scenarios: no optimum needs more. Scenario LPs are
small (|S| rows on the reduced chain) and are re-solved from their previous basis with only the
bounds of s changed, which takes a few dual simplex iterations. Identical count vectors are merged
(weights w_k = multiplicity / K). The trust region follows Linderoth & Wright (2003): a step is
"serious" (the centre q̂ moves) when it realises at least a fraction of the predicted gain, the
region doubles after a serious step that hit its boundary and halves after repeated null steps.

Stopping: the master without the trust region is a global upper bound; the method stops when
(UB − f(q̂)) ≤ ``tol``·max(1, |f(q̂)|), so the returned stock is optimal to that relative gap.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from ..solver import SolverOptions, highs_from_lp
from ..solver.linear import LinearProgram
from ..solver.status import Termination


@dataclass
class BendersStats:
    """Progress of one decomposition run (for the write-up and the benchmark)."""

    iterations: int = 0
    serious: int = 0
    cuts: int = 0
    sub_iterations: int = 0
    exact_solves: int = 0
    sub_s: float = 0.0
    master_s: float = 0.0
    setup_s: float = 0.0
    lower: float = -np.inf
    upper: float = np.inf
    scenarios_unique: int = 0
    message: str = ""


class _MasterError(RuntimeError):
    """The master LP failed (HiGHS status in the message)."""


def _scenario_lp(chain: sp.csr_array, rev: np.ndarray) -> LinearProgram:
    """One scenario's LP (rhs 0, stock 0; set per solve): min −rev·s, s + (I − ρ̃ᵀ)u = d."""
    m = chain.shape[0]
    eye = sp.eye_array(m, format="csr")
    a = sp.hstack([eye, eye - chain.T], format="csr")
    zero = np.zeros(m)
    return LinearProgram(
        c=np.concatenate([-rev, zero]),
        A=a,
        row_lo=zero,
        row_hi=zero,
        col_lo=np.zeros(2 * m),
        col_hi=np.concatenate([zero, np.full(m, np.inf)]),
        sense="min",
    )


def merge_scenarios(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identical count vectors merged: (unique rows as float, index of each row's unique row,
    weight of each unique row = multiplicity / K). Deterministic, so every MPI rank agrees."""
    uniq, inv, mult = np.unique(d, axis=0, return_inverse=True, return_counts=True)
    return uniq.astype(np.float64), np.asarray(inv).ravel(), mult / d.shape[0]


class ExactScenarios(Protocol):
    """Exact scenario LPs at stock q (the fallback when the mat-vec certificate fails)."""

    def solve(
        self, q: np.ndarray, which: np.ndarray, deadline: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """(done, V, π, μ, sales, simplex iterations) for the unique scenarios ``which``; rows
        with ``done`` False were skipped at the deadline and hold no values."""
        ...


class LocalScenarios:
    """Scenario LPs solved in this process, each a HiGHS instance kept warm between solves
    (built on first use, so an MPI rank holds only the scenarios it is asked to solve)."""

    def __init__(self, chain: sp.csr_array, rev: np.ndarray, d: np.ndarray, opts: SolverOptions):
        import highspy

        self.m = chain.shape[0]
        self.rev = rev
        self.d = d
        self.lp = _scenario_lp(chain, rev)
        self.opts = opts
        self.hs: dict[int, Any] = {}
        self.cols = np.arange(self.m, dtype=np.int32)
        self.ok = highspy.HighsModelStatus.kOptimal
        self.basis: Any = None

    def _highs(self, k: int) -> Any:
        h = self.hs.get(k)
        if h is None:
            h = highs_from_lp(self.lp, self.opts)
            # dual simplex: after a change of stock bounds the old basis stays dual feasible
            h.setOptionValue("simplex_strategy", 1)
            h.changeRowsBounds(self.m, self.cols, self.d[k], self.d[k])
            if self.basis is not None:
                # the scenarios differ only in their rhs: another one's optimal basis is dual
                # feasible here (1,052 → 57 dual simplex iterations at N = 1,000)
                h.setBasis(self.basis)
            self.hs[k] = h
        return h

    def solve(
        self, q: np.ndarray, which: np.ndarray, deadline: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Exact V_k(q), duals π, μ and sales for scenarios ``which`` (HiGHS, warm-started),
        skipping the rest once ``deadline`` (a ``time.perf_counter()`` value) has passed."""
        n = len(which)
        done = np.zeros(n, bool)
        val = np.zeros(n)
        pi = np.zeros((n, self.m))
        sales = np.zeros((n, self.m))
        its = 0
        lo = np.zeros(self.m)
        for j, k in enumerate(which):
            if deadline is not None and time.perf_counter() > deadline:
                break
            h = self._highs(int(k))
            h.changeColsBounds(self.m, self.cols, lo, q)
            h.run()
            if h.getModelStatus() != self.ok:
                raise RuntimeError(h.modelStatusToString(h.getModelStatus()))
            self.basis = h.getBasis()
            sol = h.getSolution()
            pi[j] = -np.asarray(sol.row_dual)
            sales[j] = np.asarray(sol.col_value)[: self.m]
            val[j] = -h.getInfo().objective_function_value
            its += int(h.getInfo().simplex_iteration_count)
            done[j] = True
        mu = np.maximum(self.rev[None, :] - pi, 0.0)
        return done, val, pi, mu, sales, its


def no_sale_flow(chain: sp.csr_array, d: np.ndarray) -> np.ndarray:
    """Inflow of each node when nothing is sold: f_k = (I − ρ̃ᵀ)^{-1} d_k, shape (K, m)."""
    import scipy.sparse.linalg as spla

    m = chain.shape[0]
    lu = spla.splu(sp.csc_matrix(sp.eye(m) - chain.T))
    return np.asarray(lu.solve(np.ascontiguousarray(d.T, dtype=np.float64))).T


class _OutOfTime(Exception):
    """The deadline passed inside a fixed-point iteration (no valid value to return)."""


def _fixed_point(
    step: Any, x: np.ndarray, tol: float, max_iter: int = 10_000, deadline: float | None = None
) -> np.ndarray:
    """Iterate ``x ← step(x)`` (a monotone contraction) until the largest change is ≤ tol.
    Raises `_OutOfTime` once ``deadline`` (a ``time.perf_counter()`` value) has passed: a point
    short of the fixed point is no valid bound, so there is nothing to return."""
    for _ in range(max_iter):
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime
        xn = step(x)
        if np.max(np.abs(xn - x), initial=0.0) <= tol:
            return xn
        x = xn
    return x


def greedy_oracle(
    chain: Any,
    d: np.ndarray,
    q: np.ndarray,
    rev: np.ndarray,
    tol: float = 1e-11,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scenario LPs at stock q for all K scenarios at once, by sparse/dense mat-vecs only.

    Primal: every customer buys where she finds stock ("sell first"): inflow x_k is the fixed
    point of x = d_k + ρ̃ᵀ(x − q)^+ and sales s_k = min(q, x_k). A feasible solution, so
    G_k = rev·s_k ≤ V_k(q). Dual: π_k = the least fixed point of π_i = max(rev_i, (ρ̃π)_i) at
    nodes with spare stock (x_i < q_i) and π_i = (ρ̃π)_i at sold-out nodes, μ = (rev − π)^+.
    (π, μ) is dual feasible by construction, so D_k = d_k·π_k + q·μ_k ≥ V_k(q) and the cut
    V_k(q') ≤ d_k·π_k + q'·μ_k holds for every q'. When D_k = G_k both are optimal: this is the
    case whenever selling first is optimal, which it is on the pooled set S* where stopping is
    optimal for the margins (checked, not assumed: callers solve the rest exactly).

    Returns (G, D, π, μ, s), G and D of shape (K,), the others (K, m). Raises `_OutOfTime`
    when ``deadline`` (``time.perf_counter()``) passes before both fixed points are reached.
    """
    scale = max(1.0, float(np.max(d, initial=0.0)))
    x = _fixed_point(
        lambda x: d + np.maximum(x - q, 0.0) @ chain, d, tol * scale, deadline=deadline
    )
    s = np.minimum(q, x)
    sat = x >= q - 1e-9 * scale
    rv = np.broadcast_to(rev, d.shape)
    chain_t = chain.T
    pi = _fixed_point(
        lambda p: (
            np.where(sat, 0.0, rv)
            + np.where(sat, 1.0, 0.0) * (p @ chain_t)
            + np.where(sat, 0.0, 1.0) * np.maximum(p @ chain_t - rv, 0.0)
        ),
        np.where(sat, 0.0, rv),
        tol * max(1.0, float(np.max(rev, initial=0.0))),
        deadline=deadline,
    )
    mu = np.maximum(rev - pi, 0.0)
    return s @ rev, np.einsum("km,km->k", d, pi) + mu @ q, pi, mu, s


def benders(
    chain: sp.csr_array,
    d: np.ndarray,
    rev: np.ndarray,
    ucost: np.ndarray,
    buy_cost: np.ndarray,
    budget: float | None,
    options: SolverOptions | None = None,
    tol: float = 1e-4,
    start: np.ndarray | None = None,
    max_iter: int = 500,
    deadline: float | None = None,
    delta0: float = 1.0,
    probes: tuple[float, ...] = (),
    keep_idle: int = 3,
    exact: ExactScenarios | None = None,
    inexact: float = 0.3,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray, BendersStats, str]:
    """Maximise −ucost·q + mean_k V_k(q) (the SAA-LP on ``chain``) to relative gap ``tol``.

    Parameters
    ----------
    chain
        (m, m) substochastic chain on the sellable nodes (self-loops removed).
    d
        (K, m) first-choice counts.
    rev, ucost, buy_cost
        r − v, c − v and c per node.
    budget
        Σ c·q ≤ budget, or None.
    options
        HiGHS options (threads); its time_limit bounds the whole run; ``verbose`` prints one
        progress line per iteration to stderr (HiGHS itself stays quiet).
    tol
        Relative gap (upper bound − incumbent) / max(1, |incumbent|) at which to stop.
    start
        Optional starting stock (m,), clipped to [0, q_max]; default a per-node newsvendor on d.
    deadline
        ``time.perf_counter()`` value after which the run stops with the best stock found.
    exact
        Exact solver of the unique scenarios of `merge_scenarios` (default: `LocalScenarios`;
        `assortopt.mpi` passes one that spreads them over the ranks).
    fixed
        Optional (m,) stock fixed per node (NaN = free): committed units. A fixed node's column
        has lower = upper = its units, above q_max too (those units cost, never sell), so the
        objective is the monolithic SAA-LP's with the stock columns fixed (`fix_committed`).

    Scenarios whose mat-vec certificate fails are solved exactly only as far as the evaluation
    needs: the largest slacks D_k − G_k first, until the weighted slack left is at most
    ``inexact`` times the current gap estimate (and tol/4 once the bound is near; 0.3 against
    0.1 halved the exact solves at N = 1,000, models/saa_lp.md). The cuts of
    the others are still valid (any dual-feasible point is), so the bound stays certified, and
    the incumbent value is the feasible G-value: inexactness only costs iterations.

    Returns (stock, objective, sales (K, m), stats, termination) with termination ``optimal``
    (gap ≤ tol), ``time_limit``, ``iteration_limit`` or ``error`` (the master LP failed:
    ``stats.message`` holds HiGHS's word; then the stock
    is the best feasible one found and ``stats`` holds its gap).
    """
    import highspy

    t0 = time.perf_counter()
    options = options or SolverOptions()
    sub_opts = SolverOptions(threads=options.threads, verbose=False, highs=options.highs)
    k_all, m = d.shape
    st = BendersStats()
    uniq, inv, w = merge_scenarios(d)
    k_count = uniq.shape[0]
    st.scenarios_unique = k_count
    flow = no_sale_flow(chain, uniq)
    qmax = np.maximum(flow.max(axis=0), 0.0) * (rev > 0)
    qlo = np.zeros(m)
    is_fixed = np.zeros(m, bool) if fixed is None else np.isfinite(fixed)
    if fixed is not None:
        qlo = np.where(is_fixed, fixed, 0.0)
        qmax = np.where(is_fixed, fixed, qmax)
    subs = exact if exact is not None else LocalScenarios(chain, rev, uniq, sub_opts)
    dense = chain.toarray() if m <= 4000 and chain.nnz > 0.05 * m * m else sp.csr_array(chain)
    if start is None:
        crit = np.where(rev > 0, np.clip((rev - ucost) / np.maximum(rev, 1e-300), 0, 1), 0.0)
        start = (
            np.array(
                [
                    np.quantile(uniq[:, i], crit[i], weights=w, method="inverted_cdf")
                    for i in range(m)
                ]
            )
            if m
            else np.zeros(0)
        )
    q_hat = np.clip(np.asarray(start, dtype=np.float64), qlo, qmax)
    if budget is not None and buy_cost @ q_hat > budget:  # scale the free stock into the budget
        free_spend = buy_cost @ np.where(is_fixed, 0.0, q_hat)
        room = max(budget - buy_cost @ qlo, 0.0)
        q_hat = np.where(is_fixed, q_hat, q_hat * room / max(free_spend, 1e-300))

    # master: columns q (m), θ (K); rows = cuts (+ budget)
    nb = 1 if budget is not None else 0
    a0 = sp.csr_array((buy_cost, (np.zeros(m, np.int64), np.arange(m))), shape=(1, m + k_count))[
        :nb
    ]
    master = highs_from_lp(
        LinearProgram(
            c=np.concatenate([-ucost, w]),
            A=a0,
            row_lo=np.full(nb, -np.inf),
            row_hi=np.full(nb, float(budget) if budget is not None else 0.0),
            col_lo=np.concatenate([qlo, np.full(k_count, -np.inf)]),
            col_hi=np.concatenate([qmax, np.full(k_count, np.inf)]),
        ),
        sub_opts,
    )
    st.setup_s = time.perf_counter() - t0
    ok = highspy.HighsModelStatus.kOptimal
    idle: list[int] = []  # master solves since each cut was last active

    def evaluate(q: np.ndarray, allow: float) -> tuple[float, np.ndarray, np.ndarray, float]:
        """f(q) ≥ the returned value ≥ f(q) − slack, slack ≤ ``allow`` unless the deadline hit."""
        ts = time.perf_counter()
        val, dual, pi, mu, sales = greedy_oracle(dense, uniq, q, rev, deadline=deadline)
        slack = np.maximum(dual - val, 0.0)
        bad = np.flatnonzero(slack > 1e-9 * np.maximum(1.0, np.abs(dual)))
        ws = w[bad] * slack[bad]
        order = np.argsort(-ws, kind="stable")
        left = np.cumsum(ws[order][::-1])[::-1]  # weighted slack left if solving stops at j
        bad = np.sort(bad[order[: int(np.count_nonzero(left > allow))]])
        if len(bad):  # selling first is not optimal there: solve those scenarios exactly
            done, v2, p2, m2, s2, its = subs.solve(q, bad, deadline)
            bad = bad[done]
            st.exact_solves += len(bad)
            val[bad], pi[bad], mu[bad], sales[bad] = v2[done], p2[done], m2[done], s2[done]
            slack[bad] = 0.0
            st.sub_iterations += its
        st.sub_s += time.perf_counter() - ts
        # cuts: θ_k − μ_k·q ≤ d_k·π_k
        rhs = np.einsum("km,km->k", uniq, pi)
        blk = sp.csr_array(sp.hstack([-sp.csr_array(mu), sp.eye_array(k_count)], format="csr"))
        blk.eliminate_zeros()
        master.addRows(
            k_count,
            np.full(k_count, -np.inf),
            rhs,
            blk.nnz,
            blk.indptr[:-1].astype(np.int32),
            blk.indices.astype(np.int32),
            blk.data,
        )
        st.cuts += k_count
        idle.extend([0] * k_count)
        return float(-ucost @ q + w @ val), val, sales, float(w @ slack)

    def solve_master(delta: float | None) -> tuple[np.ndarray, float]:
        ts = time.perf_counter()
        if delta is None:
            lo, hi = qlo, qmax
        else:
            lo, hi = np.maximum(q_hat - delta, qlo), np.minimum(q_hat + delta, qmax)
        master.changeColsBounds(m, np.arange(m, dtype=np.int32), lo, hi)
        master.run()
        if master.getModelStatus() != ok:  # numerical trouble: once more from scratch
            master.clearSolver()
            master.run()
        st.master_s += time.perf_counter() - ts
        if master.getModelStatus() != ok:
            raise _MasterError(master.modelStatusToString(master.getModelStatus()))
        sol = master.getSolution()
        x = np.asarray(sol.col_value)
        obj = float(master.getInfo().objective_function_value)
        if delta is not None and len(idle):
            # cut management: drop cuts that have been slack for `keep_idle` master solves
            active = np.abs(np.asarray(sol.row_dual)[nb:]) > 1e-12
            ages = np.where(active, 0, np.asarray(idle) + 1)
            old = np.flatnonzero(ages > keep_idle)
            if len(old):
                master.deleteRows(len(old), (old + nb).astype(np.int32))
                ages = np.delete(ages, old)
            idle[:] = ages.tolist()
        return np.clip(x[:m], qlo, qmax), obj

    def tight(f: float) -> float:
        return 0.25 * tol * max(1.0, abs(f))

    # the start is evaluated by mat-vecs only: exact solves pay off near the optimum
    try:
        f_hat, _, sales_hat, slack_hat = evaluate(q_hat, np.inf)
    except _OutOfTime:  # not even the start could be valued: no incumbent
        st.message = "time limit reached while valuing the start"
        return q_hat, -np.inf, np.zeros((k_all, m)), st, Termination.TIME_LIMIT
    st.lower = f_hat
    status = Termination.ITERATION_LIMIT
    try:
        for p in probes:  # extra cuts around the start: slopes on both sides of its kinks
            evaluate(np.clip(q_hat + p, qlo, qmax), np.inf)
    except _OutOfTime:
        probes, max_iter, status = (), 0, Termination.TIME_LIMIT
    scale = max(1.0, float(np.abs(qmax).max()) if m else 1.0)
    delta = delta0
    nulls = 0
    master_error = ""
    try:
        for it in range(1, max_iter + 1):
            if deadline is not None and time.perf_counter() > deadline:
                status = Termination.TIME_LIMIT
                break
            st.iterations = it
            try:
                q_new, pred = solve_master(delta)
            except _MasterError as e:
                status, master_error = Termination.ERROR, str(e)
                break
            tr_bound = bool(np.any(np.abs(q_new - q_hat) >= delta - 1e-9))
            if not tr_bound:
                st.upper = min(st.upper, pred)
            if st.upper - f_hat <= tol * max(1.0, abs(f_hat)):
                status = Termination.OPTIMAL
                break
            if pred - f_hat <= tol * max(1.0, abs(f_hat)) and slack_hat > tight(f_hat):
                # the gap may be the incumbent's own inexactness: evaluate it more exactly
                f_re, _, sales_re, slack_hat = evaluate(q_hat, tight(f_hat))
                if f_re > f_hat:
                    f_hat, sales_hat = f_re, sales_re
                st.lower = f_hat
                continue
            if pred - f_hat <= tol * max(1.0, abs(f_hat)):
                # the region is too small to show the remaining gap: bound it globally
                try:
                    _, ub = solve_master(None)
                except _MasterError as e:
                    status, master_error = Termination.ERROR, str(e)
                    break
                st.upper = min(st.upper, ub)
                if st.upper - f_hat <= tol * max(1.0, abs(f_hat)):
                    status = Termination.OPTIMAL
                    break
                delta *= 2.0
                continue
            gap_est = min(pred, st.upper) - f_hat
            f_new, _, sales_new, slack_new = evaluate(q_new, max(inexact * gap_est, tight(f_hat)))
            if f_new >= f_hat + 1e-4 * (pred - f_hat):
                st.serious += 1
                if tr_bound and f_new >= f_hat + 0.5 * (pred - f_hat):
                    delta = min(2.0 * delta, scale)
                q_hat, f_hat, sales_hat, slack_hat = q_new, f_new, sales_new, slack_new
                nulls = 0
            else:
                nulls += 1
                rho = (f_hat - f_new) / max(pred - f_hat, 1e-300)
                if rho > 0 and nulls >= 3:
                    delta = max(delta / 2.0, 1e-3)
                    nulls = 0
            st.lower = f_hat
            if options.verbose:  # one line per iteration on stderr (stdout may carry JSON)
                print(
                    f"L-shaped {it:4d} {time.perf_counter() - t0:8.1f}s value {f_hat:.8g} "
                    f"bound {st.upper:.8g} model {pred:.8g} box {delta:.3g} "
                    f"exact solves {st.exact_solves}",
                    file=sys.stderr,
                    flush=True,
                )
    except _OutOfTime:  # an evaluation was cut short: the incumbent stands
        status = Termination.TIME_LIMIT
    st.lower = f_hat
    if status in (Termination.TIME_LIMIT, Termination.ITERATION_LIMIT):
        with contextlib.suppress(_MasterError):  # certify what was reached: the cuts' bound
            st.upper = min(st.upper, solve_master(None)[1])
    if options.verbose:
        print(
            f"L-shaped {status.value}: value {f_hat:.8g} bound {st.upper:.8g} after "
            f"{st.iterations} "
            f"iterations, {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    st.message = master_error
    return q_hat, f_hat, sales_hat[inv], st, status
