"""Unit-move local search on simulated streams with common random numbers, and method
``local-search``.

A plan is scored on one fixed set of K sampled seasons (a `Stream`): the sample average profit.
Moves change one product's stock: ``up`` (+1, adding the product when it had none), ``down`` (−1)
and ``drop`` (to 0). Each move is evaluated *exactly on the sample* and incrementally, using two
sample-path facts (customers buy the first product of their list in stock):

* +1 unit of j changes a season only if some customer found j out of stock there (``missed``);
* −1 unit of j changes a season only if j sold out there (the last unit went to a customer who
  would otherwise have walked on); dropping j changes a season only if j sold at all.

Every other season keeps its trajectory, so its profit changes by the purchase cost only. A
compiled kernel re-simulates just the affected seasons for a whole batch of moves. Lists are
restricted to the products that may ever be stocked (`Stream.restrict`, exact).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numba import njit

from .._incremental import (
    apply_move,
    build_trajectories,
    move_deltas,
    move_deltas_parallel,
    pair_index,
)
from ..exceptions import OptionError
from ..instance import Instance
from ..rng import child_seeds
from ..solver.status import ERROR, HEURISTIC, Termination
from ..streams import Stream
from .base import Plan, PlanRequest, register, start_plan, time_left
from .params import any_value, int_ge, method_name, words


# ----------------------------------------------------------------------------- kernels
@njit(cache=True)
def _season(offsets, items, c0, c1, stock, rem, gain, touched):  # pragma: no cover - numba
    """Revenue (Σ gain of units sold) of customers c0..c1-1; ``rem`` must equal ``stock`` and is
    restored on return."""
    nt = 0
    rev = 0.0
    for c in range(c0, c1):
        for t in range(offsets[c], offsets[c + 1]):
            i = items[t]
            if rem[i] > 0:
                rem[i] -= 1
                rev += gain[i]
                touched[nt] = i
                nt += 1
                break
    for t in range(nt):
        rem[touched[t]] = stock[touched[t]]
    return rev


@njit(cache=True)
def _simulate_rows(  # pragma: no cover - numba
    offsets, items, sc_off, scen, stock, gain, sales, missed, rev
):
    """Simulate seasons ``scen``; overwrite their rows of sales (K,N), missed (K,N), rev (K,)."""
    n = stock.shape[0]
    rem = stock.copy()
    for s in range(scen.shape[0]):
        k = scen[s]
        for i in range(n):
            sales[k, i] = 0
            missed[k, i] = False
        r = 0.0
        for c in range(sc_off[k], sc_off[k + 1]):
            for t in range(offsets[c], offsets[c + 1]):
                i = items[t]
                if rem[i] > 0:
                    rem[i] -= 1
                    sales[k, i] += 1
                    r += gain[i]
                    break
                missed[k, i] = True
        rev[k] = r
        for i in range(n):
            rem[i] = stock[i]


@njit(cache=True)
def _move_deltas(  # pragma: no cover - numba
    offsets, items, sc_off, stock, gain, base_rev, mj, mq, aff_ptr, aff
):
    """Revenue change (summed over affected seasons) of each move (product mj[m] → mq[m])."""
    rem = stock.copy()
    maxc = 1
    for k in range(sc_off.shape[0] - 1):
        maxc = max(maxc, sc_off[k + 1] - sc_off[k])
    touched = np.empty(maxc, np.int64)
    out = np.zeros(mj.shape[0])
    for m in range(mj.shape[0]):
        j = mj[m]
        old = stock[j]
        stock[j] = mq[m]
        rem[j] = mq[m]
        d = 0.0
        for a in range(aff_ptr[m], aff_ptr[m + 1]):
            k = aff[a]
            d += _season(offsets, items, sc_off[k], sc_off[k + 1], stock, rem, gain, touched)
            d -= base_rev[k]
        out[m] = d
        stock[j] = old
        rem[j] = old
    return out


# ----------------------------------------------------------------------------- evaluator
#: Batches of at least this many moves are scored on numba's thread pool
#: (`move_deltas_parallel`, the same numbers as the serial kernel); single re-scores stay serial.
PARALLEL_MOVES = 256


class CRNEvaluator:
    """Exact sample-average profit of plans on one fixed stream, with incremental moves.

    Parameters
    ----------
    inst
        The instance (prices, costs, salvage, fixed costs).
    stream
        K sampled seasons (common random numbers for every plan scored here).
    candidates
        Bool mask of products that may ever be stocked; lists are restricted to them (default:
        products with price > cost, the only ones a unit can pay for).
    """

    def __init__(
        self,
        inst: Instance,
        stream: Stream,
        candidates: np.ndarray | None = None,
        incremental: bool = True,
    ):
        self.inst = inst
        #: replay moves as event chains (`assortopt._incremental`); False: re-simulate the
        #: affected seasons in full (the reference the tests compare against)
        self.incremental = bool(incremental)
        if candidates is None:
            candidates = inst.price > inst.cost
        self.candidates = np.asarray(candidates, dtype=bool)
        st = stream.restrict(self.candidates) if not self.candidates.all() else stream
        self.offsets, self.items, self.sc_off = st.offsets, st.items, st.scenario_offsets
        self.k = st.n_scenarios
        self.gain = np.ascontiguousarray(inst.price - inst.salvage, dtype=np.float64)
        self.unit_cost = inst.cost - inst.salvage
        self.stock = np.zeros(inst.n, np.int64)
        self.sales = np.zeros((self.k, inst.n), np.int32)  # units sold per season fit int32
        self.missed = np.zeros((self.k, inst.n), np.bool_)
        self.rev = np.zeros(self.k)
        self.evaluations = 0
        if self.incremental:
            n_cust = len(self.offsets) - 1
            self._purch = np.full(n_cust, -1, np.int32)
            self._ppos = np.zeros(n_cust, np.int64)
            # one sorted buyer / miss list per (product, season): a patch moves one season's
            self._pair_ptr, self._pair_k, self._seg = pair_index(
                self.offsets, self.items, self.sc_off, inst.n
            )
            n_pairs = len(self._pair_k)
            self._buy_cnt = np.zeros(n_pairs, np.int32)
            self._miss_cnt = np.zeros(n_pairs, np.int32)
            # customer numbers fit int32 up to 2³¹ customers (K·T): half the memory
            cust = np.int32 if n_cust < 2**31 - 1 else np.int64
            self._buy_c = np.zeros(len(self.items), cust)
            self._miss_c = np.zeros(len(self.items), cust)

    def _state(self) -> tuple:
        return (
            self.offsets,
            self.items,
            self.sc_off,
            self.stock,
            self.gain,
            self._purch,
            self._ppos,
            self._pair_ptr,
            self._pair_k,
            self._seg,
            self._buy_cnt,
            self._buy_c,
            self._miss_cnt,
            self._miss_c,
        )

    def set_plan(self, q: np.ndarray) -> float:
        """Simulate plan ``q`` on every season; returns its sample average profit."""
        q = np.asarray(q, dtype=np.int64)
        if np.any(q[~self.candidates] > 0):
            raise ValueError("plan stocks a product outside the evaluator's candidates")
        self.stock = q.copy()
        if self.incremental:
            build_trajectories(*self._state(), self.sales, self.missed, self.rev)
            return self.profit
        _simulate_rows(
            self.offsets,
            self.items,
            self.sc_off,
            np.arange(self.k),
            self.stock,
            self.gain,
            self.sales,
            self.missed,
            self.rev,
        )
        return self.profit

    @property
    def profit(self) -> float:
        """Sample average profit of the current plan."""
        q = self.stock
        return float(self.rev.mean() - self.unit_cost @ q - self.inst.fixed_cost @ (q > 0))

    def season_profits(self) -> np.ndarray:
        """(K,) profit of the current plan in each season."""
        q = self.stock
        return self.rev - float(self.unit_cost @ q + self.inst.fixed_cost @ (q > 0))

    def _affected(self, j: np.ndarray, newq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        old = self.stock[j]
        up = newq > old
        sold = self.sales[:, j]
        mask = np.where(
            up[None, :],
            self.missed[:, j],
            np.where((newq == 0)[None, :], sold > 0, sold >= old[None, :]),
        )
        mask &= (newq != old)[None, :]
        cnt = mask.sum(axis=0)
        ptr = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
        aff = np.nonzero(mask.T)[1].astype(np.int64)
        return ptr, aff

    def deltas(self, j: np.ndarray, newq: np.ndarray) -> np.ndarray:
        """Exact change of the sample average profit for each move (product j[m] → newq[m])."""
        j = np.asarray(j, dtype=np.int64)
        newq = np.asarray(newq, dtype=np.int64)
        if len(j) == 0:
            return np.zeros(0)
        if self.incremental:
            if len(j) >= PARALLEL_MOVES:
                nchunk = 4 * numba.get_num_threads()
                d_rev = move_deltas_parallel(nchunk, j, newq, *self._state()) / self.k
            else:
                d_rev = move_deltas(j, newq, *self._state()) / self.k
            return self._with_costs(j, newq, d_rev)
        ptr, aff = self._affected(j, newq)
        d_rev = (
            _move_deltas(
                self.offsets,
                self.items,
                self.sc_off,
                self.stock,
                self.gain,
                self.rev,
                j,
                newq,
                ptr,
                aff,
            )
            / self.k
        )
        return self._with_costs(j, newq, d_rev)

    def _with_costs(self, j: np.ndarray, newq: np.ndarray, d_rev: np.ndarray) -> np.ndarray:
        self.evaluations += len(j)
        old = self.stock[j]
        fc = self.inst.fixed_cost[j]
        return (
            d_rev
            - self.unit_cost[j] * (newq - old)
            - fc * ((newq > 0).astype(float) - (old > 0).astype(float))
        )

    def apply(self, j: int, newq: int) -> None:
        """Make a move, re-simulating only the seasons it changes."""
        if self.incremental:
            apply_move(int(j), int(newq), *self._state(), self.sales, self.missed, self.rev)
            return
        ptr, aff = self._affected(np.array([j]), np.array([newq]))
        self.stock[j] = newq
        if len(aff):
            _simulate_rows(
                self.offsets,
                self.items,
                self.sc_off,
                aff,
                self.stock,
                self.gain,
                self.sales,
                self.missed,
                self.rev,
            )


# ----------------------------------------------------------------------------- search
@dataclass
class SearchResult:
    """Outcome of `improve`: the plan, its sample average profit and how the search ended."""

    stock: np.ndarray
    objective: float
    start_objective: float
    stopped: str  # "local-optimum" | "time-limit" | "max-sweeps"
    sweeps: int
    accepted: int
    evaluations: int
    time_s: float
    extra: dict[str, Any] = field(default_factory=dict)


MOVES = ("up", "down", "drop")
moves_list = words(*MOVES)


def _generate(ev: CRNEvaluator, lo, hi, moves, spend, n_stocked) -> tuple[np.ndarray, np.ndarray]:
    inst = ev.inst
    q = ev.stock
    cand = ev.candidates
    js, qs = [], []
    if "up" in moves:
        ok = cand & (q + 1 <= hi)
        if inst.budget is not None:
            ok &= spend + inst.cost <= inst.budget * (1 + 1e-12) + 1e-12
        if inst.max_products is not None and n_stocked >= inst.max_products:
            ok &= q > 0
        # adding a product only pays if some customer looked for it
        ok &= (q > 0) | ev.missed.any(axis=0)
        j = np.flatnonzero(ok)
        js.append(j)
        qs.append(q[j] + 1)
    if "down" in moves:
        j = np.flatnonzero((q > 0) & (q - 1 >= lo))
        js.append(j)
        qs.append(q[j] - 1)
    if "drop" in moves:
        j = np.flatnonzero(q > 1)
        js.append(j)
        qs.append(np.zeros(len(j), np.int64))
    if not js:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(js), np.concatenate(qs)


def _repair(ev: CRNEvaluator, deadline: float | None, fixed: np.ndarray | None = None) -> int:
    """Make the current plan feasible: drop products beyond max_products, then units over budget,
    each time taking the move that loses least (per unit of cost saved, for the budget).
    Products in ``fixed`` (committed stock) are never touched."""
    inst = ev.inst
    done = 0
    free = np.ones(inst.n, bool) if fixed is None else ~fixed
    while inst.max_products is not None and int((ev.stock > 0).sum()) > inst.max_products:
        j = np.flatnonzero((ev.stock > 0) & free)
        if len(j) == 0:
            break
        d = ev.deltas(j, np.zeros(len(j), np.int64))
        b = int(np.argmax(d))
        ev.apply(int(j[b]), 0)
        done += 1
    while inst.budget is not None and float(inst.cost @ ev.stock) > inst.budget * (1 + 1e-12):
        j = np.flatnonzero((ev.stock > 0) & (inst.cost > 0) & free)
        if len(j) == 0:
            break
        d = ev.deltas(j, ev.stock[j] - 1)
        b = int(np.argmax(d / inst.cost[j]))
        ev.apply(int(j[b]), int(ev.stock[j[b]] - 1))
        done += 1
        if deadline is not None and time.perf_counter() > deadline and done > 10 * inst.n:
            break
    return done


def improve(
    inst: Instance,
    start: np.ndarray,
    stream: Stream,
    *,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    moves: tuple[str, ...] = MOVES,
    candidates: np.ndarray | None = None,
    time_limit: float | None = None,
    max_sweeps: int = 1000,
    evaluator: CRNEvaluator | None = None,
    fixed: np.ndarray | None = None,
) -> SearchResult:
    """Improve a plan by unit moves until no move raises the sample average profit.

    Parameters
    ----------
    inst, start, stream
        The instance, the starting plan (int, length N) and the fixed seasons that score plans.
    lo, hi
        Per-product bounds on the stock for ``up``/``down`` moves (defaults 0 and unbounded).
        ``drop`` (to 0) ignores ``lo``: it is the "leave this product out" decision.
    moves
        Subset of ``("up", "down", "drop")``; ``up`` from 0 adds a product.
    candidates
        Products that may be stocked (default: price > cost, plus those ``start`` stocks).
    time_limit
        Seconds; the best plan so far is returned when it runs out.
    max_sweeps
        Cap on the passes over all moves.
    fixed
        Bool mask of products never moved (committed stock, `assortopt.commitment`): they keep
        their units from ``start``, and repairs and moves only touch the others.

    A plan that breaks ``max_products`` or ``budget`` is first repaired with the least damaging
    drops / unit removals; every move keeps it feasible. Each sweep scores every move exactly on the
    sample, then accepts improving moves best first, re-checking each against the current plan.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + float(time_limit)
    bad = set(moves) - set(MOVES)
    if bad:
        raise OptionError(f"unknown move(s) {sorted(bad)}; choose from {MOVES}")
    start = np.asarray(start, dtype=np.int64)
    if evaluator is None:
        if candidates is None:
            candidates = (inst.price > inst.cost) | (start > 0)
        evaluator = CRNEvaluator(inst, stream, candidates | (start > 0))
    ev = evaluator
    obj0 = ev.set_plan(start)
    lo_a = np.zeros(inst.n, np.int64) if lo is None else np.asarray(lo, np.int64)
    hi_a = np.full(inst.n, np.iinfo(np.int64).max // 2) if hi is None else np.asarray(hi, np.int64)
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=bool)
    repaired = _repair(ev, deadline, fixed)
    scale = max(1.0, abs(ev.profit))
    tol = 1e-9 * scale
    accepted = sweeps = 0
    stopped = "max-sweeps"
    while sweeps < max_sweeps:
        sweeps += 1
        spend = float(inst.cost @ ev.stock)
        n_stocked = int((ev.stock > 0).sum())
        j, nq = _generate(ev, lo_a, hi_a, moves, spend, n_stocked)
        if fixed is not None:
            j, nq = j[~fixed[j]], nq[~fixed[j]]
        d = ev.deltas(j, nq)
        order = np.argsort(-d, kind="stable")
        order = order[d[order] > tol]
        if len(order) == 0:
            stopped = "local-optimum"
            break
        n_acc = 0
        timed_out = False
        for m in order:
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                break
            jm, qm = int(j[m]), int(nq[m])
            if n_acc:
                # the plan changed since the batch: check feasibility and re-score this move
                if qm == ev.stock[jm] or not _feasible_move(ev, jm, qm, lo_a, hi_a):
                    continue
                dm = float(ev.deltas(np.array([jm]), np.array([qm]))[0])
                if dm <= tol:
                    continue
            ev.apply(jm, qm)
            n_acc += 1
        accepted += n_acc
        if timed_out:
            stopped = "time-limit"
            break
    return SearchResult(
        stock=ev.stock.copy(),
        objective=ev.profit,
        start_objective=obj0,
        stopped=stopped,
        sweeps=sweeps,
        accepted=accepted,
        evaluations=ev.evaluations,
        time_s=time.perf_counter() - t0,
        extra={"repair_moves": repaired},
    )


def _feasible_move(ev: CRNEvaluator, j: int, newq: int, lo, hi) -> bool:
    inst = ev.inst
    old = int(ev.stock[j])
    if newq > old:
        if newq > hi[j]:
            return False
        if inst.budget is not None and float(inst.cost @ ev.stock) + inst.cost[j] > (
            inst.budget * (1 + 1e-12) + 1e-12
        ):
            return False
        if (
            old == 0
            and inst.max_products is not None
            and int((ev.stock > 0).sum()) >= inst.max_products
        ):
            return False
        return True
    if newq == 0:
        return True
    return newq >= lo[j]


def planning_stream(inst: Instance, scenarios: int, seed: int, sampler: Any = None) -> Stream:
    """The fixed seasons a method scores plans on: ``scenarios`` seasons from a child of ``seed``
    (independent of the first-choice counts, which use ``seed`` itself, and of the out-of-sample
    evaluation, which `assortopt.solve` draws from ``seed + 1``). ``sampler``: customers from
    another list sampler (a true choice model) instead of the instance's chain."""
    from ..sampling import sample_streams

    return sample_streams(inst, scenarios, int(child_seeds(seed, 2)[1]), sampler)


# ----------------------------------------------------------------------------- method
@register(
    "local-search",
    params={
        "start": method_name,
        "moves": moves_list,
        "max_sweeps": int_ge(0),
        "truth": any_value,
    },
)
def local_search(inst: Instance, req: PlanRequest) -> Plan:
    """Start from another method's plan (``start``, default ``"heuristic"``) and apply ±1-unit,
    add and drop moves scored on ``req.scenarios`` fixed simulated seasons (common random
    numbers) until none improves the sample average profit or ``req.options.time_limit`` runs
    out (that limit covers the start method too). With ``truth`` (a choice model or its file)
    the seasons are the true model's customers: the search judges plans under the truth."""
    t0 = time.perf_counter()
    start_name = str(req.param("start", "heuristic"))
    if start_name.lower() == "none":
        raise OptionError("local-search: start must name a method")
    moves = req.param("moves", MOVES)
    if isinstance(moves, str):
        moves = tuple(m.strip() for m in moves.split(",") if m.strip())
    max_sweeps = int(req.param("max_sweeps", 1000))
    plan0, label = start_plan(inst, req, start_name, "local-search", t0)
    if plan0 is None:
        return Plan(
            np.zeros(inst.n, np.int64),
            status=ERROR,
            message=f"local search: start {label}",
            termination=Termination.ERROR,
        )
    q0 = np.asarray(plan0.stock, dtype=np.int64)
    truth = req.param("truth", None)  # a choice model or its file: search under its customers
    if truth is not None:
        from ..truth import truth_for

        truth = truth_for(inst, truth)
    stream = planning_stream(inst, req.scenarios, req.seed, truth)
    left = time_left(req.options, t0).time_limit
    fixed = None if req.committed is None else req.committed >= 0
    res = improve(
        inst, q0, stream, moves=tuple(moves), time_limit=left, max_sweeps=max_sweeps, fixed=fixed
    )
    return Plan(
        res.stock,
        status=HEURISTIC,
        termination=(
            Termination.TIME_LIMIT if res.stopped == "time-limit" else Termination.HEURISTIC_DONE
        ),
        objective=res.objective,
        message=f"local search from {start_name}: {res.stopped} after {res.sweeps} sweeps, "
        f"{res.accepted} moves",
        extra={
            "start_method": start_name,
            "start_objective": res.start_objective,
            "sweeps": res.sweeps,
            "accepted": res.accepted,
            "evaluations": res.evaluations,
            "search_s": res.time_s,
        },
    )
