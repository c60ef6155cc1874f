"""The LP bound solved as an optimal-stopping problem (policy iteration on sparse solves).

The dual of the LP bound is ``v_j = max(m_j, Σ_i ρ_ji v_i)``: a customer standing at j is
stopped (she buys j) or walks on. Policy iteration alternates one sparse linear solve (the
value of a stopping set S: ``v = m`` on S, ``v = ρ v`` off S) with the greedy improvement
``S ← {j : m_j > (ρ v)_j}`` and ends at the optimal set S*, in a handful of iterations. The
primal vertex (π, z) is then one transposed solve on S*: π = P(S*), z = R(S*).

With a budget row ``T·c·π ≤ W`` the bound is ``min_{μ≥0} g(μ)``, ``g(μ) = T·LP(m − μc) + μW``,
convex and piecewise linear in μ; each evaluation is a stopping problem. `budget_stopping`
walks the breakpoints by intersecting the lines of two policies on either side of the budget
and returns, at the optimal μ*, the mixture of the two adjacent policies that spends exactly W.
The math (and why both answers are certified by weak duality) is in models/lp_bound.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .choice.mc import _absorbable, _identity_minus, _solve, chain_probabilities

__all__ = [
    "StoppingFailed",
    "StoppingResult",
    "StoppingTimeout",
    "budget_stopping",
    "policy_iteration",
    "policy_value",
    "unconstrained_stopping",
]

#: A product switches action only when it gains more than this (relative to max |margin|);
#: keeping the current action in ties makes policy iteration terminate.
IMPROVE_RTOL = 1e-12
#: Policy iteration stops after this many improvements (it needs a handful in practice).
MAX_POLICY_ITER = 500
#: Breakpoint search stops after this many evaluations of g.
MAX_BREAKPOINTS = 200


class StoppingFailed(Exception):
    """The stopping solve gave no answer (the caller falls back to HiGHS)."""


class StoppingTimeout(StoppingFailed):
    """The deadline passed during a stopping solve."""


@dataclass
class StoppingResult:
    """An optimal (or best found) stopping solution of the LP bound.

    ``offered`` is S* (bool mask; with a binding budget the union of the two mixed policies),
    ``pi`` and ``z`` the primal vertex, ``v`` the stopping values for the margins
    ``m − mu·c``, ``value`` the primal objective T·m·π, ``dual`` the dual objective
    T·λ·v + mu·W, ``iterations`` the number of policy evaluations (sparse solves).
    """

    offered: np.ndarray
    pi: np.ndarray
    z: np.ndarray
    v: np.ndarray
    value: float
    dual: float
    mu: float
    margin: np.ndarray
    iterations: int
    budget_binding: bool = False


def policy_value(
    rho: sp.csr_array, exit_prob: np.ndarray, margin: np.ndarray, stop: np.ndarray
) -> np.ndarray:
    """Value of stopping set ``stop``: ``v = margin`` on it, ``v = ρ v`` off it (N,).

    A product from which a walk can never reach the stopping set or leave is worth 0.
    """
    good = _absorbable(rho, ~stop, exit_prob)
    a_idx, s_idx = np.flatnonzero(good), np.flatnonzero(stop)
    v = np.zeros(len(margin))
    v[s_idx] = margin[s_idx]
    if len(a_idx) and len(s_idx):
        rows = rho[a_idx]
        rhs = rows[:, s_idx] @ margin[s_idx]
        v[a_idx] = _solve(_identity_minus(rows[:, a_idx]), rhs)
    return v


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise StoppingTimeout


def policy_iteration(
    rho: sp.csr_array,
    exit_prob: np.ndarray,
    margin: np.ndarray,
    stop: np.ndarray | None = None,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Optimal stopping set and values for ``margin``: ``(stop, v, evaluations)``.

    Starts from ``stop`` (default: every product with a positive margin) and only ever
    stops at products with a positive margin (a product with margin ≤ 0 is never worth more
    stopped than walking on, since v ≥ 0). Raises `StoppingTimeout` past ``deadline``
    (``time.perf_counter()`` seconds).
    """
    pos = margin > 0
    stop = pos.copy() if stop is None else stop & pos
    tol = IMPROVE_RTOL * max(1.0, float(np.abs(margin).max(initial=0.0)))
    for it in range(1, MAX_POLICY_ITER + 1):
        _check_time(deadline)
        v = policy_value(rho, exit_prob, margin, stop)
        cont = rho @ v
        new = pos & ((margin > cont + tol) | (stop & (margin >= cont - tol)))
        if np.array_equal(new, stop):
            return stop, v, it
        stop = new
    return stop, v, MAX_POLICY_ITER


def _vertex(
    arrival: np.ndarray, rho: sp.csr_array, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    p, r, _ = chain_probabilities(arrival, rho, stop)
    return p, np.where(np.isfinite(r), r, 0.0)


def unconstrained_stopping(
    arrival: np.ndarray,
    rho: sp.csr_array,
    exit_prob: np.ndarray,
    margin: np.ndarray,
    customers: float,
    deadline: float | None = None,
) -> StoppingResult:
    """The LP bound without a budget row by policy iteration."""
    stop, v, its = policy_iteration(rho, exit_prob, margin, deadline=deadline)
    pi, z = _vertex(arrival, rho, stop)
    t = float(customers)
    return StoppingResult(
        offered=stop,
        pi=pi,
        z=z,
        v=v,
        value=t * float(margin @ pi),
        dual=t * float(arrival @ v),
        mu=0.0,
        margin=margin,
        iterations=its,
    )


def budget_stopping(
    arrival: np.ndarray,
    rho: sp.csr_array,
    exit_prob: np.ndarray,
    margin: np.ndarray,
    cost: np.ndarray,
    budget: float,
    customers: float,
    deadline: float | None = None,
) -> StoppingResult:
    """The LP bound with the row ``T·c·π ≤ W`` through its Lagrangian in the multiplier μ.

    Each policy S gives a line ``ℓ_S(μ) = A_S − μ(C_S − W)`` (``A_S = T·m·P(S)``, ``C_S =
    T·c·P(S)``) and ``g(μ) = max_S ℓ_S(μ)``. Keeping a policy ``a`` with ``C_a > W`` and one
    ``b`` with ``C_b ≤ W``, g is evaluated where their lines cross; if no policy lies above
    that point it is the minimiser μ*, and the LP optimum is the mixture θ·P(a) + (1−θ)·P(b)
    with ``θ·C_a + (1−θ)·C_b = W``. Otherwise the new policy replaces a or b by the sign of
    ``C − W``. Finite: each step removes a breakpoint from the bracket.
    """
    t = float(customers)
    w = float(budget)
    total = 0

    def evaluate(mu: float, start: np.ndarray | None) -> tuple:
        nonlocal total
        marg = margin - mu * cost
        stop, v, its = policy_iteration(rho, exit_prob, marg, start, deadline)
        total += its
        pi, z = _vertex(arrival, rho, stop)
        return stop, v, pi, z, t * float(margin @ pi), t * float(cost @ pi), marg

    def result(stop, v, pi, z, a, mu, marg, binding) -> StoppingResult:  # noqa: ANN001
        return StoppingResult(
            offered=stop,
            pi=pi,
            z=z,
            v=v,
            value=a,
            dual=t * float(arrival @ v) + mu * w,
            mu=mu,
            margin=marg,
            iterations=total,
            budget_binding=binding,
        )

    scale = max(1.0, abs(w))
    lo = evaluate(0.0, None)
    if lo[5] <= w + 1e-12 * scale:
        return result(lo[0], lo[1], lo[2], lo[3], lo[4], 0.0, lo[6], False)
    paid = cost > 0
    mu_hi = float(np.max(margin[paid] / cost[paid]))  # beyond it no paid product is stopped
    hi = evaluate(mu_hi, None)
    a, b = lo, hi
    for _ in range(MAX_BREAKPOINTS):
        _check_time(deadline)
        ca, cb = a[5], b[5]
        if ca - cb <= 1e-15 * scale:
            break
        mu = max(0.0, (a[4] - b[4]) / (ca - cb))  # ℓ_a(μ) = ℓ_b(μ)
        line = a[4] - mu * (ca - w)
        new = evaluate(mu, a[0])
        g = t * float(arrival @ new[1]) + mu * w
        tol = 1e-12 * max(1.0, abs(line))
        if g <= line + tol:
            theta = (w - cb) / (ca - cb)
            pi = theta * a[2] + (1 - theta) * b[2]
            z = theta * a[3] + (1 - theta) * b[3]
            value = theta * a[4] + (1 - theta) * b[4]
            offered = (a[0] | b[0]) & (pi > 0)
            return result(offered, new[1], pi, z, value, mu, new[6], True)
        if abs(new[5] - w) <= 1e-12 * scale:
            return result(new[0], new[1], new[2], new[3], new[4], mu, new[6], True)
        if new[5] > w:
            a = new
        else:
            b = new
    raise StoppingFailed(f"no budget breakpoint found in {MAX_BREAKPOINTS} evaluations")
