"""Method ``heuristic``: the paper's two-step plan (pool, then SAA-LP), adapted to the long tail.

Steps (the write-up with the reasons is the "Method" section of ``models/saa_lp.md``):

1. **Pooling assortment.** S* = the LP bound's assortment (support of an optimal vertex of the
   margin LP): the set that maximises one customer's expected margin.
2. **Long tail / constraints (adaptation).** Products of S* whose pooled demand D_j (customers
   reaching j first among the stocked set) cannot pay for a single unit are left out, and the
   demand is *re-pooled* on the smaller set, which sends their customers, through the chain, to the
   products still stocked. This repeats (a few lowest-value products at a time) until every product
   kept earns its newsvendor keep; ``max_products`` and fixed costs are enforced in the same loop.
3. **SAA-LP** on the kept set S with K scenarios of first-choice counts (reduced chain on S),
   solved by decomposition to a 1e-4 relative gap: fractional stock x (the spill newsvendor only
   if the solve runs out of time).
4. **Rounding** between ⌊x⌋ and ⌈x⌉ by unit moves scored exactly on K simulated seasons (common
   random numbers), with "drop the product" moves (re-pooling decisions checked on the sample);
   budget repairs drop the units of lowest simulated value per cost. If the stocked set shrank,
   go back to 3 on it (re-pool), at most ``max_rounds`` times.

Every choice is a ``params`` option (see `heuristic`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bound import lp_bound
from ..commitment import committed_mask, impose
from ..exceptions import OptionError
from ..instance import Instance
from ..solver import SolverOptions
from ..solver.status import HEURISTIC, OPTIMAL, Termination
from .base import Plan, PlanRequest, bound_failed, register, time_is_up, time_left
from .empty import constraint_empties
from .local_search import improve, planning_stream
from .params import boolean, choice, float_gt, float_in, int_ge, optional
from .rounding import (
    PooledDemand,
    critical_ratio,
    fit_budget,
    newsvendor_plan,
    newsvendor_value,
)

QUANTITIES = ("auto", "saa-lp", "spill", "newsvendor")
#: ``quantities="auto"``: the SAA-LP while the kept set has at most this many products, else the
#: spill newsvendor. A size rule, not a clock, so the same request gives the same plan on any
#: machine (measured: |S| = 189 solves in 3-6 s, |S| = 1,453 not in 30 s; models/saa_lp.md).
SAA_MAX_PRODUCTS = 1000
ROUNDINGS = ("simulate", "nearest", "floor", "ceil")
#: Declared type and range of each option (``--param KEY=VALUE``), checked before any work.
PARAMS = {
    "tail": choice("repool", "none"),
    "tail_step": float_in(0.0, 1.0),
    "quantities": choice(*QUANTITIES),
    "saa_max_products": int_ge(0),
    "saa_time_limit": optional(float_gt(0.0)),
    "rounding": choice(*ROUNDINGS),
    "window": int_ge(0),
    "add_back": boolean,
    "max_sweeps": int_ge(1),
    "max_rounds": int_ge(1),
}


def pooled_probabilities(inst: Instance, mask: np.ndarray) -> np.ndarray:
    """P_{j,S}: probability that a customer's walk reaches j first among S (0 outside S)."""
    return _pooled(inst, mask)[0]


def _pooled(
    inst: Instance, mask: np.ndarray, guess: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(P_{·,S}, P + R)``: the pooled probabilities and a warm start for a smaller set.

    When S loses products, a dropped product's visits are about its old purchase probability
    and the others' visits about their old ones, so ``P + R`` starts the next solve close.
    """
    from ..choice.mc import choice_details

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(inst.n), np.zeros(inst.n)
    p, r, _ = choice_details(inst, mask, guess=guess)
    p = np.where(mask, np.asarray(p, dtype=np.float64), 0.0)
    return p, p + np.where(np.isfinite(r), r, 0.0)


@dataclass
class Pruning:
    """Outcome of `prune_tail`: the kept set and its pooled demand."""

    keep: np.ndarray
    demand: PooledDemand
    iterations: int
    dropped_tail: int
    dropped_cap: int
    history: list[int] = field(default_factory=list)


def prune_tail(
    inst: Instance,
    start: np.ndarray,
    mode: str = "repool",
    step: float = 0.5,
    max_iter: int = 200,
    deadline: float | None = None,
    committed: np.ndarray | None = None,
) -> Pruning:
    """Shrink a product set until every product left is worth stocking on its pooled demand.

    Parameters
    ----------
    inst
        The instance.
    start
        Bool mask, the starting set (S*).
    mode
        ``"repool"`` (default): drop products whose newsvendor stock on the pooled demand is 0, or
        whose newsvendor profit does not cover the fixed cost, a fraction ``step`` of them at a
        time (lowest expected margin T·P_j·(r_j − c_j) first), recomputing P_{·,S} after each batch
        so the customers of dropped products flow to the rest. ``"none"``: only products with
        price ≤ cost are removed (and ``max_products`` is still enforced).
    step
        Fraction (0, 1] of the current drop candidates removed per iteration: 1 drops them all at
        once; smaller values let a group of mutual substitutes keep one member that then absorbs
        the group's demand.
    max_iter
        Cap on re-pooling iterations.
    deadline
        A `time.perf_counter` instant after which no further iteration starts (the set kept so
        far is returned; the caller's time limit).

    ``max_products`` C: while more than C products are left, drop the lowest-newsvendor-value
    products (a ``step`` fraction of the excess at a time), re-pooling in between.

    ``committed`` (`assortopt.commitment`): products committed with units are always kept (and
    count against C), products committed at 0 are never kept.
    """
    if mode not in ("repool", "none"):
        raise OptionError(f"heuristic: tail must be 'repool' or 'none', got {mode!r}")
    if not (0 < step <= 1):
        raise OptionError(f"heuristic: tail_step must be in (0, 1], got {step}")
    keep = np.asarray(start, dtype=bool) & (inst.price > inst.cost)
    fixed = np.zeros(inst.n, bool) if committed is None else committed >= 0
    if committed is not None:
        keep = (keep & ~fixed) | (committed > 0)
    ratio = critical_ratio(inst)
    margin = inst.price - inst.cost
    cap = inst.max_products
    it = dropped_tail = dropped_cap = 0
    history = [int(keep.sum())]
    pooled, guess = _pooled(inst, keep)
    demand = PooledDemand.of(inst, pooled)
    while it < max_iter:
        if deadline is not None and time.perf_counter() > deadline:
            break
        it += 1
        at = np.flatnonzero(keep)  # the set shrinks far below N: price only what is kept
        kept = demand.take(at)
        q = np.zeros(inst.n, np.int64)
        q[at] = kept.quantile(ratio[at])
        value = np.zeros(inst.n)
        value[at] = newsvendor_value(inst, kept, q[at], at)
        drop = np.zeros(inst.n, bool)
        if mode == "repool":
            cand = np.flatnonzero(keep & ~fixed & ((q == 0) | (value <= 0)))
            if len(cand):
                n_drop = max(1, int(np.ceil(step * len(cand))))
                order = cand[np.argsort(demand.mean[cand] * margin[cand], kind="stable")]
                drop[order[:n_drop]] = True
                dropped_tail += n_drop
        if not drop.any() and cap is not None and keep.sum() > cap:
            excess = int(keep.sum()) - cap
            idx = np.flatnonzero(keep & ~fixed)
            n_drop = max(1, int(np.ceil(step * excess)))
            order = idx[np.argsort(value[idx], kind="stable")]
            drop[order[:n_drop]] = True
            dropped_cap += min(n_drop, len(idx))
        if not drop.any():
            break
        keep &= ~drop
        history.append(int(keep.sum()))
        pooled, guess = _pooled(inst, keep, guess)
        demand = PooledDemand.of(inst, pooled)
    return Pruning(keep, demand, it, dropped_tail, dropped_cap, history)


#: How many products `best_single` tries (largest first-choice margin first): each try is a
#: pooled-probability solve, so the fallback stays cheap on large catalogues.
SINGLE_TRIES = 20


def best_single(inst: Instance, s_star: np.ndarray, tries: int = SINGLE_TRIES) -> int | None:
    """The product that, stocked alone, has the best pooled-newsvendor profit (> 0), or None.

    Re-pooling can empty the kept set when demand is tiny (T = 1: no product reaches its critical
    ratio while the others take their customers). Alone, product j gets every customer whose
    walk reaches it, so this is what a newsvendor on pooled demand would stock; the budget caps
    the units. Tries the ``tries`` products of S* with the largest λ_j·(r_j − c_j).
    """
    cand = np.flatnonzero(np.asarray(s_star, bool) & (inst.price > inst.cost))
    if not len(cand):
        return None
    score = inst.arrival[cand] * (inst.price - inst.cost)[cand]
    cand = cand[np.argsort(-score, kind="stable")[:tries]]
    ratio = critical_ratio(inst)
    best, best_val = None, 0.0
    for j in cand:
        mask = np.zeros(inst.n, bool)
        mask[j] = True
        demand = PooledDemand.of(inst, pooled_probabilities(inst, mask))
        q = np.where(mask, demand.quantile(ratio), 0)
        if inst.budget is not None and inst.cost[j] > 0:
            q[j] = min(q[j], int(np.floor(inst.budget / inst.cost[j] + 1e-9)))
        val = float(newsvendor_value(inst, demand, q)[j])
        if q[j] > 0 and val > best_val + 1e-12:
            best, best_val = int(j), val
    return best


#: Share of the time left that the SAA-LP of the quantity step gets: its fallback, the spill
#: newsvendor, needs time of its own (27 s for |S| = 288 on the dense chain of a 1,000-product
#: nested logit, after an SAA-LP that used the whole time left: 118 s at a 90 s limit).
SAA_LP_SHARE = 2 / 3


def _quantities(
    inst: Instance,
    keep: np.ndarray,
    demand: PooledDemand,
    req: PlanRequest,
    mode: str,
    seed: int,
    time_limit: float | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fractional stock on the kept set: the SAA-LP (``"saa-lp"``) or the pooled newsvendor.

    Under a commitment the SAA-LP holds the committed stock fixed (`solve_saa_lp`'s
    ``committed``); the caller then sets every mode's committed units exactly."""
    info: dict[str, Any] = {}
    if mode == "newsvendor":
        return newsvendor_plan(inst, demand, keep, constraints=False).astype(float), info
    if mode == "spill":
        q, it = spill_newsvendor(inst, keep, demand)
        info["spill_iterations"] = it
        return q.astype(float), info
    from ..models.saa_lp import solve_saa_lp
    from ..models.scenario_data import first_choice_counts

    counts = first_choice_counts(inst, keep, req.scenarios, seed)
    o = req.options
    if time_limit is not None:  # the rest is for the fallback below and the rounding
        time_limit = SAA_LP_SHARE * time_limit
    opts = SolverOptions(time_limit=time_limit, threads=o.threads, verbose=o.verbose, highs=o.highs)
    res = solve_saa_lp(inst, counts, keep, opts, committed=req.committed)
    info.update(
        saa_termination=res.termination.value,
        saa_status=res.status,
        saa_objective=res.objective,
        saa_s=res.time_s,
        saa_method=res.method,
        saa_gap=res.extra.get("gap"),
    )
    if res.status != OPTIMAL:
        # no usable LP optimum (e.g. its time limit): fall back to the spill newsvendor
        info["saa_fallback"] = "spill"
        return spill_newsvendor(inst, keep, demand)[0].astype(float), info
    return np.where(keep, res.stock_frac, 0.0), info


def spill_newsvendor(
    inst: Instance, keep: np.ndarray, demand: PooledDemand, max_iter: int = 30
) -> tuple[np.ndarray, int]:
    """Newsvendor stock on S with fluid spill: demand of j = pooled demand + the expected
    overflow E(D_i − q_i)^+ of the other products routed by the reduced chain on S.

    Fixed point iteration from the pooled newsvendor (overflow rises as stock falls, so the
    stock settles after a few iterations; stops when q repeats or after ``max_iter``). This is
    the mean-demand form of the SAA-LP's fluid spill, without its routing freedom.
    """
    from ..choice.routing import reduced_routing

    pos = np.flatnonzero(keep)
    ratio = critical_ratio(inst)
    base = demand.mean.copy()
    q = np.where(keep, demand.quantile(ratio), 0)
    if len(pos) < 2:
        return q, 0
    route = reduced_routing(inst, keep)  # the reduced chain as an operator, never formed
    pos = route.positions
    seen = {q.tobytes()}
    it = 0
    cur = demand
    while it < max_iter:
        it += 1
        over = np.maximum(cur.mean - cur.expected_sales(q), 0.0)
        mean = base.copy()
        mean[pos] += route.route(over[pos])
        if cur.trials is not None:
            mean = np.minimum(mean, cur.trials)
        cur = PooledDemand(mean, cur.trials)
        new = np.where(keep, cur.quantile(ratio), 0)
        if new.tobytes() in seen:
            q = new
            break
        seen.add(new.tobytes())
        q = new
    return q, it


def _round(x: np.ndarray, rule: str) -> np.ndarray:
    if rule == "floor":
        return np.floor(x + 1e-9).astype(np.int64)
    if rule == "ceil":
        return np.ceil(x - 1e-9).astype(np.int64)
    return np.floor(x + 0.5).astype(np.int64)


@register("heuristic", params=PARAMS)
def heuristic(inst: Instance, req: PlanRequest) -> Plan:
    """Two-step plan: pooling assortment S* from the LP bound, long-tail re-pooling, SAA-LP on the
    kept set, rounding by simulation with common random numbers.

    Params (all optional; defaults in brackets):

    * ``tail`` ["repool"]: or ``"none"``; see `prune_tail`.
    * ``tail_step`` [0.5]: fraction of drop candidates removed per re-pooling iteration.
    * ``quantities`` ["auto"]: ``"saa-lp"`` (the paper's step 2: the SAA-LP on the kept set with
      ``req.scenarios`` scenarios of first-choice counts, solved by decomposition to a relative
      gap of 1e-4, `solve_saa_lp`), ``"spill"`` (newsvendor on pooled demand plus the expected
      overflow of the other kept products, routed by the reduced chain: the mean-demand form of
      the SAA-LP's fluid spill), ``"newsvendor"`` (pooled newsvendor, no spill), or ``"auto"``:
      ``"saa-lp"`` while the kept set has at most ``saa_max_products`` products, else
      ``"spill"``.
    * ``saa_max_products`` [1000]: the size limit of ``"auto"`` (`SAA_MAX_PRODUCTS`).
    * ``saa_time_limit`` [what is left of req.options.time_limit]: seconds per SAA-LP solve
      (never more than the time left); without an optimum
      (gap ≤ 1e-4) in time, or at the decomposition's iteration limit, the ``"spill"`` stock is
      used (the documented fallback; ``extra`` records it as ``round1_saa_fallback``).
    * ``rounding`` ["simulate"]: start from the nearest integer, then unit moves within
      [⌊x⌋ − window, ⌈x⌉ + window], "drop the product" moves and (``add_back``) up to
      max(window, 1) units of products of S* the re-pooling left out, scored exactly on
      ``req.scenarios`` simulated seasons with common random numbers (`improve`). Or
      ``"nearest"``, ``"floor"``, ``"ceil"``: plain rounding, then only the budget is repaired
      (lowest pooled-newsvendor marginal value per cost first).
    * ``window`` [1], ``add_back`` [True], ``max_sweeps`` [3]: of the simulated rounding.
    * ``max_rounds`` [1]: if > 1 and the rounding changed the stocked set, re-pool on the
      stocked set, recompute the quantities and round again (the best plan on the sample wins).
    """
    t0 = time.perf_counter()
    tail = str(req.param("tail", "repool"))
    step = float(req.param("tail_step", 0.5))
    qmode = str(req.param("quantities", "auto"))
    if qmode not in QUANTITIES:
        raise OptionError(
            f"heuristic: quantities must be one of {', '.join(QUANTITIES)}, got {qmode!r}"
        )
    rule = str(req.param("rounding", "simulate"))
    if rule not in ROUNDINGS:
        raise OptionError(
            f"heuristic: rounding must be one of {', '.join(ROUNDINGS)}, got {rule!r}"
        )
    max_rounds = int(req.param("max_rounds", 1))
    window = int(req.param("window", 1))
    add_back = bool(req.param("add_back", True))
    max_sweeps = int(req.param("max_sweeps", 3))
    max_saa = int(req.param("saa_max_products", SAA_MAX_PRODUCTS))
    if window < 0 or max_rounds < 1 or max_sweeps < 1:
        raise OptionError("heuristic: window must be >= 0, max_rounds and max_sweeps >= 1")
    saa_tl = req.param("saa_time_limit", None)
    limit = req.options.time_limit
    deadline = None if limit is None else t0 + limit
    cut: list[str] = []  # phases the time limit cut short (termination time_limit)

    empty = constraint_empties(inst) if req.committed is None else None
    if empty is not None:  # a constraint alone empties the plan: say so, solve nothing
        return Plan(np.zeros(inst.n, np.int64), status=HEURISTIC, objective=0.0, message=empty)
    bound = lp_bound(inst, req.options, committed=req.committed)
    failed = bound_failed(bound)
    if failed is not None:
        return failed
    s_star = np.asarray(bound.offered, dtype=bool)
    t_bound = time.perf_counter() - t0
    pr = prune_tail(inst, s_star, tail, step, deadline=deadline, committed=req.committed)
    if time_is_up(req.options, t0):
        cut.append("re-pooling")
    keep = pr.keep
    if inst.max_products is not None and keep.sum() > inst.max_products:
        # re-pooling was cut before it reached max_products: keep the C best on pooled demand
        q_nv = np.where(keep, pr.demand.quantile(critical_ratio(inst)), 0)
        value = np.where(keep, newsvendor_value(inst, pr.demand, q_nv), -np.inf)
        top = np.argsort(-value, kind="stable")[: inst.max_products]
        keep = np.zeros(inst.n, bool)
        keep[top] = True
    extra: dict[str, Any] = {
        "s_star": int(s_star.sum()),
        "kept": int(keep.sum()),
        "prune_iterations": pr.iterations,
        "quantities": qmode,
        "bound_s": t_bound,
        "prune_s": time.perf_counter() - t0 - t_bound,
    }
    if not keep.any():
        single = best_single(inst, s_star)
        if single is None:
            return Plan(
                np.zeros(inst.n, np.int64),
                status=HEURISTIC,
                objective=0.0,
                message="no product is worth stocking",
                extra=extra,
            )
        keep = np.zeros(inst.n, bool)
        keep[single] = True
        extra.update(kept=1, fallback=f"best single product {inst.ids[single]}")

    stream = None  # the simulated seasons, drawn when the simulated rounding first runs
    fixed = None if req.committed is None else req.committed >= 0
    best_q = np.zeros(inst.n, np.int64)
    best = -np.inf
    sim_s = 0.0
    for rnd in range(1, max_rounds + 1):
        demand = PooledDemand.of(inst, pooled_probabilities(inst, keep))
        mode = qmode
        if qmode == "auto":
            mode = "saa-lp" if keep.sum() <= max_saa else "spill"
        if mode == "saa-lp" and time_is_up(req.options, t0):
            mode = "spill"  # no time left for an LP: the documented fallback
            cut.append("quantities (spill instead of the SAA-LP)")
        tl = time_left(req.options, t0).time_limit
        if saa_tl is not None:
            tl = float(saa_tl) if tl is None else min(float(saa_tl), tl)
        x, info = _quantities(inst, keep, demand, req, mode, req.seed + rnd - 1, tl)
        if req.committed is not None:
            x = np.where(req.committed >= 0, req.committed, x)
        if info.get("saa_fallback") and info.get("saa_termination") == "time_limit":
            cut.append("SAA-LP (spill stock instead)")
        if rnd == 1:
            extra["quantities"] = mode
        extra.update({f"round{rnd}_{k}": v for k, v in info.items()})
        simulated = rule == "simulate"
        if simulated and time_is_up(req.options, t0):
            simulated = False  # no time left to simulate: nearest rounding, budget repaired
            cut.append("rounding (nearest instead of simulated)")
        if simulated:
            ts = time.perf_counter()
            if stream is None:
                stream = planning_stream(inst, req.scenarios, req.seed)
            lo = np.maximum(np.floor(x + 1e-9).astype(np.int64) - window, 0)
            hi = np.where(keep, np.ceil(x - 1e-9).astype(np.int64) + window, 0)
            cand = keep.copy()
            if add_back:
                back = (
                    s_star
                    & ~keep
                    & (inst.price > inst.cost)
                    & ~committed_mask(req.committed, inst.n)
                )
                hi[back] = max(window, 1)
                cand |= back
            if fixed is not None:
                lo = np.where(fixed, req.committed, lo)
                hi = np.where(fixed, req.committed, hi)
            res = improve(
                inst,
                _round(x, "nearest"),
                stream,
                lo=lo,
                hi=hi,
                candidates=cand,
                max_sweeps=max_sweeps,
                time_limit=time_left(req.options, t0).time_limit,
                fixed=fixed,
            )
            if res.stopped == "time-limit":
                cut.append("rounding")
            q, obj = res.stock, res.objective
            sim_s += time.perf_counter() - ts
        else:
            q = fit_budget(
                inst, _round(x, "nearest" if rule == "simulate" else rule), demand=demand
            )
            q = impose(inst, q, req.committed, newsvendor_value(inst, demand, q))
            obj = (
                info["saa_objective"]  # the LP's value only when the LP gave these quantities
                if info.get("saa_status") == OPTIMAL and "saa_fallback" not in info
                else float(newsvendor_value(inst, demand, q).sum())
            )
        if rnd == 1 or obj > best:
            best_q, best = q, obj
        stocked = q > 0
        if np.array_equal(stocked, keep) or not stocked.any() or time_is_up(req.options, t0):
            break
        keep = stocked  # re-pool on the products actually stocked
    extra.update(
        rounds=rnd,
        stocked=int((best_q > 0).sum()),
        units=int(best_q.sum()),
        simulate_s=sim_s,
        total_s=time.perf_counter() - t0,
    )
    if cut:
        extra["time_limit_cut"] = ", ".join(dict.fromkeys(cut))
    return Plan(
        best_q,
        status=HEURISTIC,
        objective=float(best),
        message=f"|S*| = {extra['s_star']}, kept {extra['kept']} after re-pooling, "
        f"stocked {extra['stocked']} ({extra['quantities']}, {rule} rounding)"
        + (f"; the time limit cut short: {extra['time_limit_cut']}" if cut else ""),
        extra=extra,
        termination=Termination.TIME_LIMIT if cut else Termination.HEURISTIC_DONE,
    )
