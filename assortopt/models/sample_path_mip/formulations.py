"""The two sample-path MIP formulations, one function per block of rows.

Math, names of the row blocks and exactness proofs: models/sample_path_mip.md (§3 the textbook
``"bigm"`` model, §4 the ``"strong"`` one with its compact and unit-level variants). The blocks
are added in a fixed order, so the same data always gives the same column and row numbering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...exceptions import OptionError
from ...instance import Instance
from ...solver.linear import LPBuilder
from ...streams import Stream
from ..formulation import Formulation
from .data import PairData, PairLabels, UnitLabels, candidate_mask, prepare_pairs, ranges

__all__ = ["FORMULATIONS", "UNIT_LEVEL_RATIO", "build_sample_path_mip", "unit_level_entries"]

FORMULATIONS = ("strong", "bigm")

#: ``unit_level="auto"``: the unit-level state is used while it has at most this many entries per
#: pair (measured: 3 products × 6 customers has ≈ 1.4, where it makes the relaxation integral;
#: 100 customers per scenario has ≈ 20 and the model is then 20× larger than compact and slower).
UNIT_LEVEL_RATIO = 4.0


def unit_level_entries(d: PairData) -> int:
    """Number of ``sold`` binaries the unit-level state would add: Σ_p min(j(p), U_i)."""
    return int(np.minimum(d.pair_j, d.units[d.pair_prod]).sum())


@dataclass
class _Cols:
    """Column arrays of the blocks the rows refer to (``z``: None without ``carry``)."""

    q: np.ndarray  # stock, one per candidate
    z: np.ndarray | None  # carry, one per candidate
    y: np.ndarray  # buy, one per pair
    a: np.ndarray  # avail, one per pair


def build_sample_path_mip(
    inst: Instance,
    stream: Stream,
    formulation: str = "strong",
    candidates: Any = None,
    *,
    min_stock: np.ndarray | None = None,
    merge_scenarios: bool = True,
    binary_buys: bool = False,
    unit_level: bool | str = "auto",
) -> Formulation:
    """Build the sample-path SAA MIP on the K scenarios of ``stream``.

    Parameters
    ----------
    inst
        The instance (prices, costs, salvage, fixed costs, max_products, budget).
    stream
        K scenarios of preference lists over the instance's N products (e.g. from
        `assortopt.sampling.sample_streams`); profit is averaged over them.
    formulation
        ``"strong"`` (default) or ``"bigm"`` (the textbook model, for comparison).
    candidates
        Products that may be stocked (see `candidate_mask`; default: positive margin).
    min_stock
        Optional int array (length N): units that must be stocked (forces products in).
    merge_scenarios
        Merge identical scenarios into one with a weight (exact; strong formulation only).
    binary_buys
        Declare the buy variables binary in the strong formulation (they are integral anyway).
    unit_level
        Strong formulation only: ``True`` adds the unit-level sales state (``sold``; the
        relaxation is then usually integral, but it has Σ_p min(j(p), U_i) binaries, quadratic in
        the interested customers per scenario), ``False`` the compact units-left variant, and
        ``"auto"`` (default) the unit-level state while it has at most `UNIT_LEVEL_RATIO` times
        as many entries as there are pairs (short seasons), else compact (long seasons, e.g.
        100 customers per scenario). ``info["unit_level"]`` records the choice.

    Returns
    -------
    Formulation
        Blocks ``stock`` (integer, one per candidate, ``info["products"]``), ``carry`` (binary,
        only with fixed costs or ``max_products``), per-pair blocks ``buy`` and ``avail``
        indexed ``(scenario, arrival, id)``, and for ``"strong"`` also ``units``
        (``[q_i ≥ u]``), ``tail`` (``Σ_{v≥u} w_iv``) and ``left`` (units of the product left
        when the customer arrives). ``info`` keeps the `PairData` under ``"pairs"``. The
        objective is the average profit per season over the K scenarios (currency; fixed
        costs and salvage included): for fixed stock, exactly `simulate_stream`'s mean.

    Raises
    ------
    OptionError
        Unknown formulation or candidate specification.
    """
    if formulation not in FORMULATIONS:
        raise OptionError(
            f"formulation must be one of {', '.join(FORMULATIONS)}, got {formulation!r}"
        )
    if min_stock is not None:
        min_stock = np.asarray(min_stock, dtype=np.int64)
    mask = candidate_mask(inst, candidates, min_stock)
    strong = formulation == "strong"
    d = prepare_pairs(inst, stream, mask, min_stock, merge_scenarios=merge_scenarios and strong)
    if unit_level == "auto":
        unit_level = unit_level_entries(d) <= UNIT_LEVEL_RATIO * max(d.n_pairs, 1)
    elif not isinstance(unit_level, bool):
        raise OptionError(f"unit_level must be true, false or 'auto', got {unit_level!r}")
    ids = [inst.ids[i] for i in d.products]
    labels = PairLabels(d, inst.ids)

    b = LPBuilder("max")
    v = _add_plan_and_pair_vars(b, inst, d, ids, labels, min_stock, binary_buys or not strong)
    _add_choice_rows(b, d, v)
    if strong:
        w = _add_unit_stock(b, d, ids, v)
        if not unit_level:
            _add_compact_state(b, d, ids, labels, v, w)
        _add_strong_availability(b, d, v, w)
        if unit_level:
            _add_unit_level(b, d, labels, v, w)
    else:
        _add_bigm_rows(b, d, v)
    _add_plan_limits(b, inst, d, v)

    lp = b.build()
    return Formulation(
        name="sample_path_mip",
        lp=lp,
        var_blocks=b.var_blocks,
        row_blocks=b.row_blocks,
        info={
            "products": d.products,
            "formulation": formulation,
            "scenarios": d.n_scenarios,
            "scenarios_kept": len(d.weights),
            "customers_kept": d.n_customers,
            "pairs": d,
            "units": d.units,
            "binaries": int(lp.integer.sum()) if lp.integer is not None else 0,
            "unit_level": bool(unit_level) and strong,
        },
    )


# ----------------------------------------------------------------------------- blocks
def _add_plan_and_pair_vars(
    b: LPBuilder,
    inst: Instance,
    d: PairData,
    ids: list[str],
    labels: PairLabels,
    min_stock: np.ndarray | None,
    integer_buys: bool,
) -> _Cols:
    """Columns ``stock``, ``carry`` (with fixed costs or ``max_products``), ``buy``, ``avail``.

    The objective sits on them: net revenue per purchase weighted by its scenario's share,
    minus net cost per unit and fixed cost per carried product.
    """
    prods = d.products
    n = len(prods)
    r_net = (inst.price - inst.salvage)[prods]
    c_net = (inst.cost - inst.salvage)[prods]
    fixed = inst.fixed_cost[prods]
    units = d.units.astype(np.float64)
    lo = np.zeros(n) if min_stock is None else min_stock[prods].astype(np.float64)
    need_carry = bool(np.any(fixed > 0)) or inst.max_products is not None
    P = d.n_pairs
    pair_w = d.weights[d.cust_scen[d.pair_cust]] / d.n_scenarios
    q = b.add_vars("stock", np.ones(n, bool), (ids,), lo=lo, hi=units, cost=-c_net, integer=True)
    z = None
    if need_carry:
        z = b.add_vars("carry", np.ones(n, bool), (ids,), cost=-fixed, binary=True)
    y = b.add_vars(
        "buy",
        np.ones(P, bool),
        (labels,),
        lo=0.0,
        hi=1.0,
        cost=r_net[d.pair_prod] * pair_w,
        integer=integer_buys,
    )
    a = b.add_vars("avail", np.ones(P, bool), (labels,), binary=True)
    return _Cols(q=q, z=z, y=y, a=a)


def _add_choice_rows(b: LPBuilder, d: PairData, v: _Cols) -> None:
    """(1) one purchase per customer; (3) she buys at or before every available position;
    (2) she buys only what is available."""
    P = d.n_pairs
    ar = np.arange(P, dtype=np.int64)
    y, a = v.y, v.a
    b.add_rows("one_purchase", d.n_customers, d.pair_cust, y, 1.0, hi=1.0)
    by_cust = np.lexsort((d.pair_rank, d.pair_cust))
    e, idx = ranges(np.arange(P) - d.pair_rank[by_cust], d.pair_rank[by_cust] + 1)
    b.add_rows(
        "first_available",
        P,
        np.concatenate([e, ar]),
        np.concatenate([y[by_cust[idx]], a[by_cust]]),
        np.concatenate([np.ones(len(e)), -np.ones(P)]),
        lo=0.0,
    )
    b.add_rows(
        "buy_if_available",
        P,
        np.concatenate([ar, ar]),
        np.concatenate([y, a]),
        np.concatenate([np.ones(P), -np.ones(P)]),
        hi=0.0,
    )


def _add_bigm_rows(b: LPBuilder, d: PairData, v: _Cols) -> None:
    """The textbook model's stock rows: (4a)/(4b) availability from the units left, (5) sales
    within stock, and ``q ≤ U z``."""
    P = d.n_pairs
    n = len(d.products)
    ar = np.arange(P, dtype=np.int64)
    q, z, y, a = v.q, v.z, v.y, v.a
    prod_of, j = d.pair_prod, d.pair_j
    U = d.units.astype(np.float64)
    Ui = U[prod_of]
    # earlier purchases of the same product in the same scenario: pairs group_start .. p−1
    e_prev, idx_prev = ranges(d.group_start, j)
    # (4a) a ≤ q − Σ earlier y ;  (4b) q − Σ earlier y ≤ U·a
    b.add_rows(
        "avail_has_unit",
        P,
        np.concatenate([ar, ar, e_prev]),
        np.concatenate([a, q[prod_of], y[idx_prev]]),
        np.concatenate([np.ones(P), -np.ones(P), np.ones(len(e_prev))]),
        hi=0.0,
    )
    b.add_rows(
        "unit_makes_avail",
        P,
        np.concatenate([ar, ar, e_prev]),
        np.concatenate([q[prod_of], a, y[idx_prev]]),
        np.concatenate([np.ones(P), -Ui, -np.ones(len(e_prev))]),
        hi=0.0,
    )
    # (5) sales ≤ stock per (scenario, product)
    gid = np.cumsum(j == 0) - 1
    n_groups = int(gid[-1] + 1) if P else 0
    gfirst = np.flatnonzero(j == 0)
    b.add_rows(
        "sales_le_stock",
        n_groups,
        np.concatenate([gid, np.arange(n_groups)]),
        np.concatenate([y, q[prod_of[gfirst]]]),
        np.concatenate([np.ones(P), -np.ones(n_groups)]),
        hi=0.0,
    )
    if z is not None:
        b.add_rows(
            "carry_link",
            n,
            np.concatenate([np.arange(n)] * 2),
            np.concatenate([q, z]),
            np.concatenate([np.ones(n), -U]),
            hi=0.0,
        )


def _add_unit_stock(b: LPBuilder, d: PairData, ids: list[str], v: _Cols) -> np.ndarray:
    """Unary stock ``units`` (w_iu = [q_i ≥ u]) with ``q_i = Σ_u w_iu``, w monotone in u, and
    ``z_i = w_i1``; returns the (candidates, max U) column array of ``units``."""
    n = len(d.products)
    q, z = v.q, v.z
    umax = int(d.units.max()) if n else 0
    wmask = np.arange(1, umax + 1)[None, :] <= d.units[:, None]
    w = b.add_vars("units", wmask, (ids, list(range(1, umax + 1))), binary=True)
    wi, wu = np.nonzero(wmask)  # row-major: per product, u ascending
    nw = len(wi)
    rn = np.flatnonzero(wu + 1 < d.units[wi])
    # q_i = Σ_u w_iu ; w_i,u+1 ≤ w_iu
    b.add_rows(
        "stock_units",
        n,
        np.concatenate([np.arange(n), wi]),
        np.concatenate([q, w[wi, wu]]),
        np.concatenate([np.ones(n), -np.ones(nw)]),
        lo=0.0,
        hi=0.0,
    )
    b.add_rows(
        "units_monotone",
        len(rn),
        np.concatenate([np.arange(len(rn))] * 2),
        np.concatenate([w[wi[rn], wu[rn] + 1], w[wi[rn], wu[rn]]]),
        np.concatenate([np.ones(len(rn)), -np.ones(len(rn))]),
        hi=0.0,
    )
    if z is not None:
        # z_i = [q_i ≥ 1] = w_i1 (z_i = 0 when no unit can be stocked)
        r1 = np.flatnonzero(d.units >= 1)
        b.add_rows(
            "carry_link",
            n,
            np.concatenate([np.arange(n), r1]),
            np.concatenate([z, w[r1, 0]]),
            np.concatenate([np.ones(n), -np.ones(len(r1))]),
            lo=0.0,
            hi=0.0,
        )
    return w


def _add_compact_state(
    b: LPBuilder, d: PairData, ids: list[str], labels: PairLabels, v: _Cols, w: np.ndarray
) -> None:
    """The compact units-left state: ``tail`` (max(q_i − u + 1, 0)) and ``left`` per pair, with
    (4a) ``a ≤ left`` and (4b') ``left_j ≤ tail_{i,j+1} + min(j, U_i)·a_j``."""
    P = d.n_pairs
    ar = np.arange(P, dtype=np.int64)
    q, y, a = v.q, v.y, v.a
    prod_of, j = d.pair_prod, d.pair_j
    umax = w.shape[1]
    wmask = w >= 0
    wi, wu = np.nonzero(wmask)
    nw = len(wi)
    rn = np.flatnonzero(wu + 1 < d.units[wi])
    f_idx = np.flatnonzero(j == 0)
    nf = np.flatnonzero(j != 0)
    m_nf = len(nf)
    rr = np.arange(m_nf)
    Ui = d.units[prod_of]
    ht = np.flatnonzero(j < Ui)
    tail = b.add_vars(
        "tail",
        wmask,
        (ids, list(range(1, umax + 1))),
        lo=0.0,
        hi=np.broadcast_to(
            (d.units[:, None] - np.arange(umax)[None, :]).astype(float), wmask.shape
        ),
    )
    left = b.add_vars(
        "left", np.ones(P, bool), (labels,), lo=0.0, hi=d.units.astype(np.float64)[prod_of]
    )
    # tail_iu = w_iu + tail_i,u+1 (= max(q_i − u + 1, 0))
    b.add_rows(
        "tail_def",
        nw,
        np.concatenate([np.arange(nw), np.arange(nw), rn]),
        np.concatenate([tail[wi, wu], w[wi, wu], tail[wi[rn], wu[rn] + 1]]),
        np.concatenate([np.ones(nw), -np.ones(nw), -np.ones(len(rn))]),
        lo=0.0,
        hi=0.0,
    )
    # left: first interested customer sees q; then left_{j+1} = left_j − y_j
    b.add_rows(
        "left_first",
        len(f_idx),
        np.concatenate([np.arange(len(f_idx))] * 2),
        np.concatenate([left[f_idx], q[prod_of[f_idx]]]),
        np.concatenate([np.ones(len(f_idx)), -np.ones(len(f_idx))]),
        lo=0.0,
        hi=0.0,
    )
    b.add_rows(
        "left_next",
        m_nf,
        np.concatenate([rr, rr, rr]),
        np.concatenate([left[nf], left[nf - 1], y[nf - 1]]),
        np.concatenate([np.ones(m_nf), -np.ones(m_nf), np.ones(m_nf)]),
        lo=0.0,
        hi=0.0,
    )
    # (4a) a ≤ left ; (4b') left_j ≤ tail_{i,j+1} + min(j, U_i)·a_j  (j earlier ones)
    b.add_rows(
        "avail_has_unit",
        P,
        np.concatenate([ar, ar]),
        np.concatenate([a, left]),
        np.concatenate([np.ones(P), -np.ones(P)]),
        hi=0.0,
    )
    coef = np.minimum(j, Ui).astype(np.float64)
    b.add_rows(
        "unit_makes_avail",
        P,
        np.concatenate([ar, ar, ht]),
        np.concatenate([left, a, tail[prod_of[ht], j[ht]]]),
        np.concatenate([np.ones(P), -coef, -np.ones(len(ht))]),
        hi=0.0,
    )


def _add_strong_availability(b: LPBuilder, d: PairData, v: _Cols, w: np.ndarray) -> None:
    """Availability along a product's interested customers: ``a_j ≥ w_{i,j+1}``, monotone,
    a sell-out only by a purchase, and ``a_1 ≤ w_i1``."""
    y, a = v.y, v.a
    prod_of, j = d.pair_prod, d.pair_j
    f_idx = np.flatnonzero(j == 0)
    nf = np.flatnonzero(j != 0)
    m_nf = len(nf)
    rr = np.arange(m_nf)
    ht = np.flatnonzero(j < d.units[prod_of])
    # a_j ≥ w_{i,j+1}: if more than j units are stocked, the (j+1)-th interested finds one
    b.add_rows(
        "stocked_unit_avail",
        len(ht),
        np.concatenate([np.arange(len(ht))] * 2),
        np.concatenate([a[ht], w[prod_of[ht], j[ht]]]),
        np.concatenate([np.ones(len(ht)), -np.ones(len(ht))]),
        lo=0.0,
    )
    # availability monotone along interested customers; a sell-out needs a purchase
    b.add_rows(
        "avail_monotone",
        m_nf,
        np.concatenate([rr, rr]),
        np.concatenate([a[nf], a[nf - 1]]),
        np.concatenate([np.ones(m_nf), -np.ones(m_nf)]),
        hi=0.0,
    )
    b.add_rows(
        "sellout_by_purchase",
        m_nf,
        np.concatenate([rr, rr, rr]),
        np.concatenate([a[nf], a[nf - 1], y[nf - 1]]),
        np.concatenate([np.ones(m_nf), -np.ones(m_nf), np.ones(m_nf)]),
        lo=0.0,
    )
    # the first interested customer finds a unit only if one is stocked: a_1 ≤ w_i1
    fw = f_idx[d.units[prod_of[f_idx]] >= 1]
    b.add_rows(
        "avail_needs_stock",
        len(fw),
        np.concatenate([np.arange(len(fw))] * 2),
        np.concatenate([a[fw], w[prod_of[fw], 0]]),
        np.concatenate([np.ones(len(fw)), -np.ones(len(fw))]),
        hi=0.0,
    )


def _add_plan_limits(b: LPBuilder, inst: Instance, d: PairData, v: _Cols) -> None:
    """``Σ z ≤ max_products`` and ``Σ c q ≤ budget`` when the instance sets them."""
    n = len(d.products)
    if inst.max_products is not None and v.z is not None:
        b.add_rows("max_products", 1, np.zeros(n, np.int64), v.z, 1.0, hi=float(inst.max_products))
    if inst.budget is not None:
        b.add_rows(
            "budget", 1, np.zeros(n, np.int64), v.q, inst.cost[d.products], hi=float(inst.budget)
        )


def _add_unit_level(b: LPBuilder, d: PairData, labels: PairLabels, v: _Cols, w: np.ndarray) -> None:
    """Unit-level sales state ``sold[p, u] = [earlier purchases of the product ≥ u]``."""
    q, y, a = v.q, v.y, v.a
    P = d.n_pairs
    j = d.pair_j
    Ui = d.units[d.pair_prod]
    cnt = np.minimum(j, Ui)
    e, base_idx = ranges(np.zeros(P, np.int64), cnt)
    u = base_idx + 1  # 1..cnt[p]
    ne = len(e)
    g = b.add_vars("sold", np.ones(ne, bool), (UnitLabels(labels, e, u),), binary=True)
    first = np.searchsorted(e, np.arange(P))  # e is sorted: p's entries start here
    col = lambda pp, uu: g[first[pp] + uu - 1]  # noqa: E731
    prod = d.pair_prod[e]
    ones = np.ones(ne)
    er = np.arange(ne)
    # a_p ≤ q − Σ_u sold[p,u]: available only if a unit is left
    P_ar = np.arange(P)
    b.add_rows(
        "avail_has_unit",
        P,
        np.concatenate([P_ar, P_ar, e]),
        np.concatenate([a, q[d.pair_prod], g]),
        np.concatenate([np.ones(P), -np.ones(P), ones]),
        hi=0.0,
    )
    # Σ_u sold[p,u] = Σ_u sold[p−1,u] + y_{p−1}: one more sold iff the previous one bought
    pc = np.flatnonzero(j >= 1)
    row_of = np.full(P, -1, dtype=np.int64)
    row_of[pc] = np.arange(len(pc))
    prev_e = np.flatnonzero(u <= np.minimum(j[e] - 1, Ui[e]))  # entries (p−1, u) seen from p
    b.add_rows(
        "sold_count",
        len(pc),
        np.concatenate([row_of[e], np.arange(len(pc)), row_of[e[prev_e]]]),
        np.concatenate([g, y[pc - 1], col(e[prev_e] - 1, u[prev_e])]),
        np.concatenate([ones, -np.ones(len(pc)), -np.ones(len(prev_e))]),
        lo=0.0,
        hi=0.0,
    )
    # monotone in u; sold ≤ stocked
    m = np.flatnonzero(u >= 2)
    rm = np.arange(len(m))
    b.add_rows(
        "sold_monotone",
        len(m),
        np.concatenate([rm, rm]),
        np.concatenate([g[m], g[m - 1]]),
        np.concatenate([np.ones(len(m)), -np.ones(len(m))]),
        hi=0.0,
    )
    b.add_rows(
        "sold_le_stocked",
        ne,
        np.concatenate([er, er]),
        np.concatenate([g, w[prod, u - 1]]),
        np.concatenate([ones, -ones]),
        hi=0.0,
    )
    # a ≥ w_u − sold_u ; a + sold_u − w_{u+1} ≤ 1
    b.add_rows(
        "unit_left_avail",
        ne,
        np.concatenate([er, er, er]),
        np.concatenate([a[e], w[prod, u - 1], g]),
        np.concatenate([ones, -ones, ones]),
        lo=0.0,
    )
    nxt = np.flatnonzero(u < d.units[prod])
    b.add_rows(
        "avail_needs_unit",
        ne,
        np.concatenate([er, er, nxt]),
        np.concatenate([a[e], g, w[prod[nxt], u[nxt]]]),
        np.concatenate([ones, ones, -np.ones(len(nxt))]),
        hi=1.0,
    )
    # transitions from the previous interested customer (pair p−1, same group)
    prev_has = u <= cnt[np.maximum(e - 1, 0)] * (j[e] >= 1)  # (p−1, u) exists
    ph = np.flatnonzero(prev_has)
    rp = np.arange(len(ph))
    b.add_rows(
        "sold_grows",
        len(ph),
        np.concatenate([rp, rp]),
        np.concatenate([g[ph], col(e[ph] - 1, u[ph])]),
        np.concatenate([np.ones(len(ph)), -np.ones(len(ph))]),
        lo=0.0,
    )
    # sold[p,u] − sold[p−1,u] ≤ y_{p−1}
    b.add_rows(
        "sold_step",
        ne,
        np.concatenate([er, er, ph]),
        np.concatenate([g, y[e - 1], col(e[ph] - 1, u[ph])]),
        np.concatenate([ones, -ones, -np.ones(len(ph))]),
        hi=0.0,
    )
    # sold[p,u] ≤ sold[p−1,u−1] (u ≥ 2) ; sold[p,u] ≥ y_{p−1} + sold[p−1,u−1] − 1
    rm2 = np.arange(len(m))
    b.add_rows(
        "sold_one_step",
        len(m),
        np.concatenate([rm2, rm2]),
        np.concatenate([g[m], col(e[m] - 1, u[m] - 1)]),
        np.concatenate([np.ones(len(m)), -np.ones(len(m))]),
        hi=0.0,
    )
    pm = np.concatenate([m, np.flatnonzero(u == 1)])
    rq = np.arange(len(pm))
    has_pp = u[pm] >= 2
    b.add_rows(
        "sold_by_purchase",
        len(pm),
        np.concatenate([rq, rq, rq[has_pp]]),
        np.concatenate([g[pm], y[e[pm] - 1], col(e[pm][has_pp] - 1, u[pm][has_pp] - 1)]),
        np.concatenate([np.ones(len(pm)), -np.ones(len(pm)), -np.ones(int(has_pp.sum()))]),
        lo=np.where(has_pp, -1.0, 0.0),
    )
