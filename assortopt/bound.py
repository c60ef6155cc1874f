"""The LP upper bound on expected profit (Feldman & Topaloglu's assortment LP with margins).

    max  T · Σ_i m_i π_i
    s.t. π_i + z_i − Σ_j ρ_ji z_j = λ_i     (balance, every product i)
         T · Σ_i c_i π_i ≤ W                 (budget, only when the instance has one)
         π, z ≥ 0

m = price − cost, T = E[customers]. Every plan's expected profit is at most the optimum, and
the support of π at an optimal vertex is an optimal single-customer assortment S*. The
validity conditions and the proof sketch are in models/lp_bound.md. `lp_bound` solves the LP
with HiGHS on its arrays; `assortopt.models.build_lp_bound` gives the same LP as a Pyomo-backed
`Formulation` for research use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from .choice.mc import offered_mask
from .exceptions import OptionError
from .instance import Instance
from .solver import LPBuilder, SolverOptions, solve_lp
from .solver.linear import INF
from .solver.status import ERROR, OPTIMAL, Termination
from .stopping import (
    StoppingFailed,
    StoppingTimeout,
    budget_stopping,
    policy_value,
    unconstrained_stopping,
)

__all__ = [
    "LP_BOUND_METHODS",
    "LPBound",
    "ignored_constraints",
    "lp_bound",
    "lp_bound_builder",
    "stopping_value",
]

#: π_i counts as offered when it exceeds this fraction of the largest π.
SUPPORT_RTOL = 1e-9


def lp_bound_builder(
    inst: Instance, use_budget: bool = True, committed: np.ndarray | None = None
) -> tuple[LPBuilder, bool]:
    """The LP bound as arrays: an `LPBuilder` with blocks ``"pi"``, ``"z"`` (one column per
    product), rows ``"balance"`` and, when ``use_budget`` and the instance has a budget,
    ``"budget"``; and whether the budget row is there. `lp_bound` solves it and
    `assortopt.models.lp_bound.build_lp_bound` wraps it as a `Formulation`.

    ``committed`` (`assortopt.commitment`): a product committed at 0 units has π = 0; one
    committed at u > 0 units earns r − v per sale with T·π ≤ u, and its sunk cost (c − v)·u is
    the LP's constant offset; the budget row covers the free products with the committed spend
    taken off (models/lp_bound.md, "Committed stock")."""
    n = inst.n
    t = float(inst.customers_mean)
    ids = list(inst.ids)
    b = LPBuilder("max")
    cost = t * inst.margin
    pi_hi = np.full(n, INF)
    free = np.ones(n, bool)
    spent = 0.0
    if committed is not None:
        fixed = committed >= 0
        units = np.where(fixed, committed, 0).astype(np.float64)
        free = ~fixed
        cost = np.where(fixed, t * (inst.price - inst.salvage), cost)
        pi_hi = np.where(fixed, units / t if t > 0 else 0.0, INF)
        b.offset = -float((inst.cost - inst.salvage) @ units)
        spent = float(inst.cost @ units)
    pi = b.add_vars("pi", np.ones(n, bool), [ids], cost=cost, hi=pi_hi)
    z = b.add_vars("z", np.ones(n, bool), [ids])
    rho = sp.coo_array(inst.transitions)
    ar = np.arange(n)
    # row i: π_i + z_i − Σ_j ρ_ji z_j = λ_i  (ρ_ji is entry (j, i): row index = column of ρ)
    b.add_rows(
        "balance",
        n,
        row=np.concatenate([ar, ar, rho.col]),
        col=np.concatenate([pi, z, z[rho.row]]),
        val=np.concatenate([np.ones(n), np.ones(n), -rho.data]),
        lo=inst.arrival,
        hi=inst.arrival,
    )
    has_budget = use_budget and inst.budget is not None
    if has_budget:
        nz = np.flatnonzero((inst.cost != 0) & free)
        b.add_rows(
            "budget",
            1,
            row=np.zeros(len(nz), np.int64),
            col=pi[nz],
            val=t * inst.cost[nz],
            hi=float(inst.budget) - spent,
        )  # type: ignore[arg-type]
    return b, has_budget


@dataclass
class LPBound:
    """The LP upper bound and its optimal vertex.

    Attributes
    ----------
    value
        T·LP*: an upper bound on the expected profit of every feasible plan (see ``ignored``).
    assortment
        Ids of S*, the support of π at the optimal vertex (products with margin ≤ 0 removed:
        they add nothing). Without a binding budget row, S* is an optimal single-customer
        assortment: ``value = T · Σ_j m_j P_j(S*)``.
    offered
        S* as a bool mask (length N).
    pi, z
        The optimal vertex: per-customer purchase probabilities and unavailable visits.
    per_customer
        LP* = value / T.
    customers
        T, the mean number of customers used.
    ignored
        Constraints of the instance the bound does not model (``"max_products"``,
        ``"fixed_cost"``); dropping them only loosens the bound, so it stays valid.
    v
        Without a budget row: the optimal-stopping values of S* (`stopping_value`), the dual
        solution; ``Σ_j λ_j v_j = LP*``. None with a budget row.
    status, termination, message, time_s
        ``"optimal"`` or ``"error"`` (then ``value`` is ``inf``, still a valid if useless bound,
        and ``termination`` says why: ``time_limit``, ``error``, ...; ``message`` what went
        wrong), and the wall time of build + solve.
    method
        ``"stopping"`` or ``"highs"``: which solve answered.
    """

    value: float
    assortment: list[str]
    offered: np.ndarray
    pi: np.ndarray
    z: np.ndarray
    per_customer: float
    customers: float
    ignored: list[str] = field(default_factory=list)
    status: str = OPTIMAL
    time_s: float = 0.0
    budget_row: bool = False
    v: np.ndarray | None = None
    method: str = "highs"
    message: str = ""
    termination: Termination = Termination.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        """The JSON object `assortopt bound` prints (README.md, "Command line")."""
        return {
            "value": float(self.value),
            "assortment": list(self.assortment),
            "per_customer": float(self.per_customer),
            "customers": float(self.customers),
            "ignored": list(self.ignored),
            "budget_row": bool(self.budget_row),
            "status": self.status,
            "termination": self.termination.value,
            "time_s": round(float(self.time_s), 6),
            "method": self.method,
            **({"message": self.message} if self.message else {}),
        }


def ignored_constraints(inst: Instance) -> list[str]:
    """Names of the instance's constraints/costs the LP bound leaves out."""
    out = []
    if inst.max_products is not None:
        out.append("max_products")
    if inst.fixed_cost is not None and np.any(inst.fixed_cost > 0):
        out.append("fixed_cost")
    return out


#: Methods of `lp_bound`.
LP_BOUND_METHODS = ("auto", "stopping", "highs")


def lp_bound(
    inst: Instance,
    options: SolverOptions | None = None,
    method: str = "auto",
    committed: np.ndarray | None = None,
) -> LPBound:
    """The LP bound at an optimal vertex, by optimal stopping (default) or by HiGHS.

    ``method="stopping"`` solves the dual stopping problem by policy iteration (with a budget
    row, through the Lagrangian in the budget multiplier; `assortopt.stopping`) and
    certifies the answer by weak duality: the stopping values are dual feasible and the
    primal vertex (π, z), recovered by one sparse solve, has the same objective. ``"highs"``
    is the LP solve below. ``"auto"`` (default) uses the stopping solve and falls back to
    HiGHS when it cannot certify, saying so in ``message``. ``options.time_limit`` covers
    both; past it ``value`` is ``inf``, ``status`` is ``"error"`` and ``termination``
    ``time_limit``. Raises `OptionError` for an unknown method.

    ``committed`` (`assortopt.commitment`): the bound over plans that keep those units
    (`lp_bound_builder`); committed products with units are in ``offered``, products committed
    at 0 are not. Their sales caps are not a stopping problem, so HiGHS solves it.
    """
    if method not in LP_BOUND_METHODS:
        raise OptionError(f"lp bound method must be one of {', '.join(LP_BOUND_METHODS)}")
    t0 = time.perf_counter()
    base = options or SolverOptions()
    if method == "highs" or committed is not None:
        return _lp_bound_highs(inst, base, committed)
    deadline = None if base.time_limit is None else t0 + float(base.time_limit)
    try:
        out = _lp_bound_stopping(inst, deadline)
    except StoppingTimeout:
        return _failed(
            inst,
            Termination.TIME_LIMIT,
            time.perf_counter() - t0,
            "stopping solve hit the time limit",
        )
    except StoppingFailed as exc:
        out, why = None, str(exc)
    else:
        why = "" if out.status == OPTIMAL else out.message
    if out is not None and out.status == OPTIMAL:
        out.time_s = time.perf_counter() - t0
        return out
    if method == "stopping":
        return _failed(inst, Termination.ERROR, time.perf_counter() - t0, why)
    left = None if deadline is None else deadline - time.perf_counter()
    if left is not None and left <= 0:
        return _failed(
            inst, Termination.TIME_LIMIT, time.perf_counter() - t0, f"{why}; no time left for HiGHS"
        )
    res = _lp_bound_highs(inst, replace(base, time_limit=left))
    res.message = f"{why}; solved by HiGHS instead" if res.status == OPTIMAL else res.message
    res.time_s = time.perf_counter() - t0
    return res


def _failed(
    inst: Instance, termination: Termination, time_s: float, message: str, method: str = "stopping"
) -> LPBound:
    """The bound of a solve that failed: ``inf`` (valid, if useless), no assortment."""
    n = inst.n
    return LPBound(
        value=float("inf"),
        assortment=[],
        offered=np.zeros(n, bool),
        pi=np.zeros(n),
        z=np.zeros(n),
        per_customer=float("inf"),
        customers=float(inst.customers_mean),
        ignored=ignored_constraints(inst),
        status=ERROR,
        time_s=time_s,
        budget_row=inst.budget is not None,
        method=method,
        message=message,
        termination=termination,
    )


def _lp_bound_stopping(inst: Instance, deadline: float | None) -> LPBound:
    """Policy iteration (and the budget Lagrangian), certified; status "error" if not."""
    rho = sp.csr_array(inst.transitions)
    t = float(inst.customers_mean)
    m = inst.margin
    budget_row = inst.budget is not None
    if budget_row:
        r = budget_stopping(
            inst.arrival, rho, inst.exit_prob, m, inst.cost, float(inst.budget), t, deadline
        )
    else:
        r = unconstrained_stopping(inst.arrival, rho, inst.exit_prob, m, t, deadline)
    ok = _certified(
        inst, r.v, r.value, rtol=1e-9, margin=r.margin, offset=r.mu * (inst.budget or 0)
    )
    if budget_row:
        spent = t * float(inst.cost @ r.pi)
        ok = ok and spent <= float(inst.budget) * (1 + 1e-9) + 1e-9
    offered = r.offered & (m > 0)
    return LPBound(
        value=r.value,
        assortment=[inst.ids[i] for i in np.flatnonzero(offered)],
        offered=offered,
        pi=r.pi,
        z=r.z,
        per_customer=r.value / t if t > 0 else 0.0,
        customers=t,
        ignored=ignored_constraints(inst),
        status=OPTIMAL if ok else ERROR,
        budget_row=budget_row,
        v=None if budget_row else r.v,
        method="stopping",
        termination=Termination.OPTIMAL if ok else Termination.ERROR,
        message="" if ok else f"stopping solve not certified after {r.iterations} solves",
    )


def _lp_bound_highs(
    inst: Instance, options: SolverOptions | None = None, committed: np.ndarray | None = None
) -> LPBound:
    """Solve the LP bound with HiGHS and return `LPBound` at an optimal **vertex**.

    HiGHS's interior point method with crossover gives a basic (vertex) optimum and is much
    faster than the simplex method on large chains (N = 10,000: about a second against minutes).
    Without a budget row the answer is certified: the optimal-stopping values of the support
    must satisfy the dual constraints and ``T·λ·v = value``; if not, the LP is re-solved with
    the simplex method. ``options``: time limit, threads, verbosity and native HiGHS options
    are honoured (``lp_method`` is ignored). On a solver failure ``status`` says so and
    ``value`` is ``inf`` (still a valid, if useless, bound); nothing is raised. Units: ``value``
    is expected profit per season in the instance's currency.

    ``committed`` (`assortopt.commitment`): the bound over plans that keep those units
    (`lp_bound_builder`); committed products with units are in ``offered``, products committed
    at 0 are not. It is not certified by the stopping values (the sales caps change the dual).
    """
    t0 = time.perf_counter()
    base = options or SolverOptions()
    builder, budget_row = lp_bound_builder(inst, committed=committed)
    fixed = committed_units = None
    if committed is not None:
        fixed = committed >= 0
        committed_units = np.where(fixed, committed, 0)
    lp = builder.build()
    blocks = builder.var_blocks
    n = inst.n
    t = float(inst.customers_mean)
    ignored = ignored_constraints(inst)
    res = None
    timed_out = False
    for method in ("ipm", "simplex"):
        highs = {"run_crossover": "on"} if method == "ipm" else {}
        highs.update(base.highs)
        left = None  # the time limit covers the build and both attempts
        if base.time_limit is not None:
            left = base.time_limit - (time.perf_counter() - t0)
            if left <= 0:
                timed_out = True
                continue
        opts = SolverOptions(
            time_limit=left,
            mip_gap=base.mip_gap,
            threads=base.threads,
            verbose=base.verbose,
            lp_method=method,
            highs=highs,
        )
        res = solve_lp(lp, opts)
        if res.status != OPTIMAL or res.x is None:
            continue
        pi = np.maximum(blocks["pi"].values(res.x), 0.0)
        z = np.maximum(blocks["z"].values(res.x), 0.0)
        top = float(pi.max()) if n else 0.0
        offered = (pi > SUPPORT_RTOL * top) & (inst.margin > 0) if top > 0 else np.zeros(n, bool)
        value = float(res.objective)  # type: ignore[arg-type]
        if fixed is not None:
            offered = (offered & ~fixed) | (committed_units > 0)
            break
        if budget_row:
            break
        v = stopping_value(inst, offered)
        if _certified(inst, v, value):
            break
    else:
        if timed_out:
            term, why = Termination.TIME_LIMIT, "LP bound: the time limit ran out"
        elif res is not None and res.status != OPTIMAL:
            term = res.termination
            why = f"LP bound not solved: {res.message or res.engine_status}"
        else:
            term, why = Termination.ERROR, "LP bound not certified by either HiGHS method"
        if term is Termination.OPTIMAL:
            term = Termination.ERROR
        return _failed(inst, term, time.perf_counter() - t0, why, method="highs")
    return LPBound(
        value=value,
        assortment=[inst.ids[i] for i in np.flatnonzero(offered)],
        offered=offered,
        pi=pi,
        z=z,
        per_customer=value / t if t > 0 else 0.0,
        customers=t,
        ignored=ignored,
        status=OPTIMAL,
        time_s=time.perf_counter() - t0,
        budget_row=budget_row,
        v=None if budget_row or fixed is not None else v,
    )


def _certified(
    inst: Instance,
    v: np.ndarray,
    value: float,
    rtol: float = 1e-7,
    margin: np.ndarray | None = None,
    offset: float = 0.0,
) -> bool:
    """Dual feasibility of v (v ≥ m, v ≥ ρ v) and equal objectives, to ``rtol``.

    ``margin`` replaces m (the budget Lagrangian's m − μc) and ``offset`` (its μW) is added
    to the dual objective T·λ·v.
    """
    m = inst.margin if margin is None else margin
    scale = max(1.0, float(np.abs(m).max(initial=0.0)))
    tol = rtol * scale
    feasible = bool(np.all(v >= m - tol) and np.all(v >= inst.transitions @ v - tol))
    dual = float(inst.customers_mean) * float(inst.arrival @ v) + offset
    return feasible and abs(dual - value) <= rtol * max(1.0, abs(value))


def stopping_value(inst: Instance, offered: Any) -> np.ndarray:
    """Value of a customer standing at each product when S = ``offered`` is offered (N,).

    ``v_j = m_j`` on S and ``v_j = Σ_i ρ_ji v_i`` off S (leaving is worth 0), i.e. the margin
    she brings on average. For S = S* this is the LP's dual solution, the optimal-stopping
    values ``v_j = max(m_j, Σ_i ρ_ji v_i)`` (Feldman & Topaloglu), and ``λ·v = LP*``.
    """
    mask = offered_mask(inst, offered)
    return policy_value(sp.csr_array(inst.transitions), inst.exit_prob, inst.margin, mask)
