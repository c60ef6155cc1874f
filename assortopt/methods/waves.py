"""Method ``waves``: plan vendor by vendor, committing each vendor's units before the next.

Buying for a season happens one vendor at a time. Wave w knows the products of the first w
vendors (in ``order``), plans them with an inner method (``inner``, default ``heuristic``) with
the units of earlier waves (and any outside commitment) fixed, and commits the current vendor's
units. What the wave assumes about the vendors still to come is ``lookahead``:

* ``none`` (myopic): the chain restricted to the known products, customers who reach a product
  not yet known find it unavailable and walk on (the exact stochastic complement,
  `wave_instance`; planned as the catalogue with the unknown products committed at 0 units,
  the same model with a sparse chain);
* ``pooled`` (default): each future vendor is ONE pooled product (arrival and transitions
  aggregated, price/cost/salvage the demand-weighted averages), committed in the wave at its own
  pooled-newsvendor level, so that today's wave does not stock for customers tomorrow's vendor
  will serve.

The construction is written out in ``models/waves.md``. The final plan is the union of the
waves' commitments and is evaluated on the whole catalogue like any other plan. Without vendor
labels (or with one vendor) there is one wave on the instance itself: the inner method's plan.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..commitment import FREE, check_commitment, commitment_problem
from ..exceptions import OptionError
from ..instance import Instance
from ..solver.status import HEURISTIC, holds_plan
from .base import Plan, PlanRequest, get_method, register, time_left

__all__ = [
    "ASSIGNMENTS",
    "LOOKAHEADS",
    "assign_vendors",
    "pooled_instance",
    "vendor_order",
    "wave_instance",
    "waves",
]

LOOKAHEADS = ("pooled", "none")
PARAMS = ("order", "lookahead", "inner")
ASSIGNMENTS = ("random", "rank", "category")


def assign_vendors(inst: Instance, vendors: int, by: str = "random", seed: int = 0) -> Instance:
    """The instance with ``vendor`` labels ``v1``…``vV`` assigned to its products (for
    benchmarks of the price of sequentiality).

    ``by``: ``"random"`` (a seeded random split into V groups of near-equal size),
    ``"rank"`` (by first-choice demand: v1 gets the most wanted N/V products, v2 the next, …) or
    ``"category"`` (the instance's categories in order of first appearance, category k to vendor
    k mod V). Raises `OptionError` for V < 1, V > N, an unknown rule, or ``category`` without
    category labels.
    """
    v = int(vendors)
    if v < 1 or v > inst.n:
        raise OptionError(f"vendors must be in 1..{inst.n}, got {vendors}")
    if by == "random":
        perm = np.random.default_rng(seed).permutation(inst.n)
        group = np.empty(inst.n, np.int64)
        group[perm] = np.arange(inst.n) * v // inst.n
    elif by == "rank":
        order = np.argsort(-inst.arrival, kind="stable")
        group = np.empty(inst.n, np.int64)
        group[order] = np.arange(inst.n) * v // inst.n
    elif by == "category":
        if inst.category is None or any(c is None for c in inst.category):
            raise OptionError("assign_vendors by category needs a category for every product")
        cats = {c: k for k, c in enumerate(dict.fromkeys(inst.category))}
        group = np.array([cats[c] % v for c in inst.category], np.int64)
    else:
        raise OptionError(f"by must be one of {', '.join(ASSIGNMENTS)}, got {by!r}")
    return inst.replace(vendor=tuple(f"v{g + 1}" for g in group))


def vendor_order(inst: Instance, order: Any = None) -> list[str]:
    """The vendors in planning order: ``order`` (a list or ``"v1,v2"``; must name every vendor
    once) or their order of first appearance. No labels: one unnamed vendor ``""``.

    Raises `OptionError` when ``order`` is not a permutation of the vendors or some products
    have a vendor and others do not."""
    if inst.vendor is None:
        if order not in (None, "", []):
            raise OptionError("waves: order given but the instance has no vendor labels")
        return [""]
    missing = [inst.ids[i] for i, v in enumerate(inst.vendor) if v is None]
    if missing:
        raise OptionError(f"waves: products without a vendor: {', '.join(missing[:5])}")
    seen = list(dict.fromkeys(inst.vendor))
    if order is None or order == "":
        return seen  # type: ignore[return-value]
    names = [s.strip() for s in order.split(",")] if isinstance(order, str) else list(order)
    if sorted(names) != sorted(seen):  # type: ignore[type-var]
        raise OptionError(
            f"waves: order must name every vendor once ({', '.join(map(str, seen))}), "
            f"got {', '.join(names)}"
        )
    return names


def _vendor_of(inst: Instance) -> np.ndarray:
    return np.array([""] * inst.n if inst.vendor is None else list(inst.vendor), dtype=object)


def wave_instance(inst: Instance, known: np.ndarray) -> tuple[Instance, np.ndarray]:
    """``lookahead=none``: the instance restricted to the ``known`` products, products not yet
    known passed through as unavailable (the exact reduced chain on the known set). Returns
    the sub-instance and the positions of its products in ``inst``."""
    from ..choice.mc import reduced_chain

    known = np.asarray(known, dtype=bool)
    if known.all():
        return inst, np.arange(inst.n)
    lam, rho, pos = reduced_chain(inst, known)
    return _sub(inst, pos, lam, rho), pos


def _sub(inst: Instance, pos: np.ndarray, lam: np.ndarray, rho: sp.csr_array) -> Instance:
    lab = lambda a: None if a is None else tuple(a[i] for i in pos)  # noqa: E731
    return Instance(
        ids=[inst.ids[i] for i in pos],
        price=inst.price[pos],
        cost=inst.cost[pos],
        arrival=np.clip(lam, 0.0, None),
        transitions=rho,
        customers_mean=inst.customers_mean,
        customers_distribution=inst.customers_distribution,
        salvage=inst.salvage[pos],
        fixed_cost=inst.fixed_cost[pos],
        max_products=inst.max_products,
        budget=inst.budget,
        name=inst.name,
        vendor=lab(inst.vendor),
        category=lab(inst.category),
    )


def visit_weights(inst: Instance) -> np.ndarray:
    """Expected visits per customer to each product when nothing is available,
    ``z = (I − ρᵀ)⁻¹ λ``: the demand weight of a product in its pool."""
    a = sp.identity(inst.n, format="csc") - sp.csc_array(inst.transitions).T
    z = spla.spsolve(sp.csc_matrix(a), inst.arrival)
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def pooled_instance(
    inst: Instance, known: np.ndarray, future: list[np.ndarray], names: list[str]
) -> tuple[Instance, np.ndarray]:
    """``lookahead=pooled``: known products as they are, each future vendor's products
    (``future[v]``, bool masks) aggregated into one product named ``[vendor names[v]]``.

    With group matrix G (N × M) and demand weights w (`visit_weights`): arrival ``Gᵀλ``;
    transitions ``D⁻¹ Gᵀ W ρ G`` (D = Gᵀw: a pooled row is the w-weighted average of its
    products' rows, a column the sum of its products' columns); the within-pool self-loop is
    dropped and the row rescaled by ``1/(1 − self)``; price, cost and salvage are w-weighted
    averages, fixed cost 0. Returns the instance (known products first, in catalogue order)
    and, for each of its nodes, the catalogue position (−1 for a pool)."""
    known = np.asarray(known, dtype=bool)
    kpos = np.flatnonzero(known)
    m = len(kpos) + len(future)
    group = np.full(inst.n, -1, np.int64)
    group[kpos] = np.arange(len(kpos))
    for v, mask in enumerate(future):
        group[np.asarray(mask, dtype=bool)] = len(kpos) + v
    if np.any(group < 0):
        raise OptionError("waves: every product must be known or in a future vendor")
    g = sp.csr_array((np.ones(inst.n), (np.arange(inst.n), group)), shape=(inst.n, m))
    w = visit_weights(inst) + 1e-12
    wsum = g.T @ w
    agg = lambda x: (g.T @ (w * x)) / wsum  # noqa: E731
    big = sp.csr_array(g.T @ sp.diags_array(w) @ inst.transitions @ g)
    big = sp.csr_array(sp.diags_array(1.0 / wsum) @ big)
    self_loop = big.diagonal()
    big.setdiag(0.0)
    big.eliminate_zeros()
    scale = np.where(self_loop < 1 - 1e-12, 1.0 / (1.0 - np.minimum(self_loop, 1 - 1e-12)), 0.0)
    rho = sp.csr_array(sp.diags_array(scale) @ big)
    price, cost, salvage = agg(inst.price), agg(inst.cost), agg(inst.salvage)
    salvage = np.minimum(salvage, np.minimum(cost, price * (1 - 1e-9)))
    node_pos = np.concatenate([kpos, np.full(len(future), -1, np.int64)])

    def lab(a: Any, fill: list[Any]) -> tuple[Any, ...] | None:
        return None if a is None else tuple([a[i] for i in kpos] + list(fill))

    sub = Instance(
        ids=[inst.ids[i] for i in kpos] + [f"[vendor {n}]" for n in names],
        price=price,
        cost=cost,
        arrival=np.clip(g.T @ inst.arrival, 0.0, None),
        transitions=rho,
        customers_mean=inst.customers_mean,
        customers_distribution=inst.customers_distribution,
        salvage=salvage,
        fixed_cost=np.concatenate([inst.fixed_cost[kpos], np.zeros(len(future))]),
        max_products=None if inst.max_products is None else inst.max_products + len(future),
        budget=inst.budget,
        name=inst.name,
        vendor=lab(inst.vendor, names),
        category=lab(inst.category, [None] * len(future)),
    )
    return sub, node_pos


def pool_levels(sub: Instance, pools: np.ndarray) -> np.ndarray:
    """Units of each pooled product (``pools``: its positions in ``sub``): the newsvendor
    quantile of its pooled demand when every product with a positive margin is offered, so a
    pool stands for a future vendor that serves its own customers and those who walk to it."""
    from .heuristic import pooled_probabilities
    from .rounding import PooledDemand, critical_ratio

    offered = sub.price > sub.cost
    demand = PooledDemand.of(sub, pooled_probabilities(sub, offered))
    q = np.where(offered, demand.quantile(critical_ratio(sub)), 0)
    return np.asarray(q, dtype=np.int64)[pools]


@register("waves", params=PARAMS)
def waves(inst: Instance, req: PlanRequest) -> Plan:
    """Plan vendor by vendor (module docstring; ``models/waves.md``).

    Params: ``order`` (``"v1,v2,…"``, default: order of first appearance), ``lookahead``
    (``"pooled"`` default, or ``"none"``), ``inner`` (the method planning each wave, default
    ``"heuristic"``; it gets the wave's commitment, seed, scenarios and a share of the time
    limit). An outside commitment (``req.committed``) is kept in every wave.
    """
    t0 = time.perf_counter()
    lookahead = str(req.param("lookahead", "pooled"))
    if lookahead not in LOOKAHEADS:
        raise OptionError(f"waves: lookahead must be one of {', '.join(LOOKAHEADS)}")
    inner = str(req.param("inner", "heuristic"))
    if inner == "waves":
        raise OptionError("waves: inner cannot be waves")
    fn = get_method(inner)
    order = vendor_order(inst, req.param("order", None))
    vendor = _vendor_of(inst)
    committed = check_commitment(inst, req.committed)
    done = np.full(inst.n, FREE, np.int64) if committed is None else committed.copy()
    history: list[dict[str, Any]] = []
    last: Plan | None = None
    for w, v in enumerate(order):
        known = np.isin(vendor, order[: w + 1])
        current = vendor == v
        rest = order[w + 1 :]
        if lookahead == "pooled" and rest:
            sub, node_pos = pooled_instance(inst, known, [vendor == r for r in rest], rest)
        else:
            # unknown products committed at 0 units: a customer reaching one walks on. The same
            # model as the reduced chain on the known set (`wave_instance`), but sparse.
            sub, node_pos = inst, np.arange(inst.n)
        real = node_pos >= 0
        sub_c = np.full(sub.n, FREE, np.int64)
        sub_c[real] = done[node_pos[real]]
        if sub is inst:
            sub_c[~known & (sub_c < 0)] = 0
        if not real.all():
            pools = np.flatnonzero(~real)
            units = pool_levels(sub, pools)
            sub_c[pools] = _fit_pools(sub, sub_c, pools, units)
            if inst.max_products is not None:  # pools with units take no real product's slot
                sub = sub.replace(max_products=inst.max_products + int((sub_c[pools] > 0).sum()))
        share = (w + 1) / len(order)  # wave w ends by (w + 1)/V of the limit
        sub_req = dataclasses.replace(
            req,
            params={},
            write_model=None,
            committed=None if np.all(sub_c == FREE) else sub_c,
            options=time_left(req.options, t0, share),
        )
        plan = fn(sub, sub_req)
        if not holds_plan(plan.status):
            plan.message = f"wave {w + 1} (vendor {v!r}): {plan.message}"
            return plan
        q = np.asarray(plan.stock, dtype=np.int64)
        mine = np.flatnonzero(real & current[np.where(real, node_pos, 0)])
        done[node_pos[mine]] = np.where(done[node_pos[mine]] >= 0, done[node_pos[mine]], q[mine])
        history.append(
            {
                "vendor": v,
                "known": int(known.sum()),
                "pools": int((~real).sum()),
                "units": int(q[mine].sum()),
                "stocked": int((q[mine] > 0).sum()),
                "inner_status": plan.status,
            }
        )
        last = plan
    stock = np.maximum(done, 0)
    assert last is not None
    single = len(order) == 1
    return Plan(
        stock,
        status=last.status if single else HEURISTIC,
        termination=last.termination if single else "heuristic_done",
        objective=last.objective if single else None,
        bound=last.bound if single else None,
        gap=last.gap if single else None,
        message=last.message
        if single
        else f"{len(order)} waves ({lookahead} lookahead, inner {inner})",
        extra={**(last.extra if single else {}), "waves": history, "lookahead": lookahead},
    )


def _fit_pools(
    sub: Instance, sub_c: np.ndarray, pools: np.ndarray, units: np.ndarray
) -> np.ndarray:
    """Pool units scaled down (floored) so that the wave's commitment fits the budget."""
    trial = sub_c.copy()
    trial[pools] = units
    if commitment_problem(sub, trial) is None or sub.budget is None:
        return units
    base = np.maximum(sub_c, 0)
    base[pools] = 0
    room = sub.budget - float(sub.cost @ base)
    spend = float(sub.cost[pools] @ units)
    if room <= 0 or spend <= 0:
        return np.zeros_like(units)
    return np.floor(units * min(1.0, room / spend)).astype(np.int64)
