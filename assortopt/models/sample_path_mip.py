"""The exact sample-path SAA MIP (PAPER-NOTES §9.1): integer stock, customers replayed one by one.

For K sampled streams (preference lists per customer, in arrival order) choose integer stock q_i
to maximise the average profit of the *simulated* season: each customer buys the first product
of her list that still has a unit when she arrives. For fixed integer q the second stage has
exactly one feasible point, the simulator's outcome, customer by customer; so the optimum is the
exact SAA optimum. Write-up with proofs: models/sample_path_mip.md.

Two formulations share the data preparation (`prepare_pairs`):

* ``"bigm"``: the textbook model (binary buy ``y`` and available ``a`` per customer and list
  position, ``a ≤ B ≤ U·a`` on the units left ``B = q − earlier purchases``), kept for comparison.
* ``"strong"`` (default): unary stock ``w_iu = [q_i ≥ u]``, units-left variables ``left`` per
  (customer, product) updated along the product's interested customers, availability monotone
  along them, ``a_j ≥ w_ij`` (the j-th interested customer finds a unit if ≥ j were stocked),
  ``B_j ≤ Σ_{u≥j} w_u + min(j−1, U)·a_j`` instead of ``B ≤ U·a``, a sell-out only by a purchase
  (``a_{j+1} ≥ a_j − y_j``), continuous ``y`` (integral once ``a`` is), and identical scenarios
  merged with a weight.

Both honour ``max_products`` (``Σ z ≤ C``), ``budget`` (``Σ c q ≤ W``), fixed costs (``− Σ f z``)
and salvage (through r − v and c − v).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import OptionError
from ..instance import Instance
from ..solver import (
    INFEASIBLE,
    OPTIMAL,
    SolveResult,
    SolverOptions,
    Termination,
    gap_of,
    solve_lp,
    time_left,
)
from ..solver.linear import LPBuilder
from ..streams import Stream
from .formulation import Formulation

FORMULATIONS = ("strong", "bigm")


# ----------------------------------------------------------------------------- data
@dataclass
class PairData:
    """Customers and their (customer, product) pairs after the exact reductions.

    Pairs are stored in *group order*: by scenario, then product column, then arrival; a group is
    one (scenario, product) and ``j`` is the pair's rank among the product's interested
    customers in that scenario (0-based). Customers are the kept ones (non-empty restricted
    lists, in kept scenarios), numbered 0..C'−1.
    """

    products: np.ndarray  # candidate positions (column order of the stock block)
    units: np.ndarray  # U_i, the largest useful stock per candidate
    weights: np.ndarray  # per kept scenario: how many original scenarios it stands for
    scen_orig: np.ndarray  # per kept scenario: its original index
    cust_global: np.ndarray  # per kept customer: index in the original stream
    cust_scen: np.ndarray  # per kept customer: kept scenario
    cust_t: np.ndarray  # per kept customer: arrival position in her scenario
    pair_cust: np.ndarray
    pair_prod: np.ndarray  # product column (0..n−1)
    pair_rank: np.ndarray  # position in her restricted list
    pair_j: np.ndarray  # rank among interested customers of the product in the scenario
    group_start: np.ndarray  # per pair: index of the first pair of its group
    n_scenarios: int  # K (original)
    stream: Stream  # the restricted stream (all original customers, candidates only)
    scen_rep: np.ndarray  # per original scenario: the kept scenario standing for it (−1: none)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_cust)

    @property
    def n_customers(self) -> int:
        return len(self.cust_scen)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For element e, the indices ``starts[e] .. starts[e]+counts[e]−1``: (element, index)."""
    counts = np.asarray(counts, dtype=np.int64)
    elem = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    idx = np.repeat(np.asarray(starts, dtype=np.int64), counts) + (
        np.arange(len(elem), dtype=np.int64) - np.repeat(first, counts)
    )
    return elem, idx


def candidate_mask(
    inst: Instance, candidates: Any = None, min_stock: np.ndarray | None = None
) -> np.ndarray:
    """Products the MIP may stock (bool, length N).

    Default (``None`` or ``"margin"``): positive margin ``price > cost``, and ``cost ≤ budget``.
    Dropping a product with margin ≤ 0 never lowers any sample-path profit
    (models/sample_path_mip.md §2), so this is exact. ``"all"``: every product. A bool mask or a
    sequence of ids/positions: exactly those. Products with positive ``min_stock`` are always kept.
    """
    n = inst.n
    if candidates is None or (isinstance(candidates, str) and candidates == "margin"):
        mask = inst.margin > 0
    elif isinstance(candidates, str) and candidates == "all":
        mask = np.ones(n, dtype=bool)
    elif isinstance(candidates, str):
        raise OptionError(f"candidates must be 'margin', 'all', a mask or ids, got {candidates!r}")
    else:
        arr = np.asarray(candidates)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise OptionError(f"candidate mask must have length {n}")
            mask = arr.copy()
        else:
            mask = np.zeros(n, dtype=bool)
            for c in arr.tolist():
                if isinstance(c, str):
                    if c not in inst.index:
                        raise OptionError(f"candidates: unknown product id {c!r}")
                    mask[inst.index[c]] = True
                else:
                    mask[int(c)] = True
    if inst.budget is not None:
        mask &= inst.cost <= inst.budget + 1e-9
    if min_stock is not None:
        mask |= np.asarray(min_stock) > 0
    return mask


def prepare_pairs(
    inst: Instance,
    stream: Stream,
    mask: np.ndarray,
    min_stock: np.ndarray | None = None,
    merge_scenarios: bool = True,
) -> PairData:
    """Restrict the lists to the candidates and index every (customer, product) pair.

    Exact reductions only: products outside ``mask`` leave every list (`Stream.restrict`);
    customers with an empty restricted list are dropped (they never buy); identical scenarios are
    merged into one with a weight (``merge_scenarios``); candidates that appear in no list and are
    not forced are dropped (a unit of them never sells).
    """
    if stream.n_products != inst.n:
        raise ValueError(f"stream is over {stream.n_products} products, instance has {inst.n}")
    mask = np.asarray(mask, dtype=bool)
    rs = stream.restrict(mask)
    k_count = rs.n_scenarios
    n_all = inst.n
    lengths = rs.list_lengths
    cps = rs.customers_per_scenario
    cust_scen_all = np.repeat(np.arange(k_count, dtype=np.int64), cps)
    cust_t_all = np.arange(rs.n_customers, dtype=np.int64) - rs.scenario_offsets[cust_scen_all]
    keep_c = lengths > 0
    # scenario keys: the sequence of non-empty lists (identical ⇒ identical second stage)
    weights = np.ones(k_count, dtype=np.int64)
    keep_s = np.zeros(k_count, dtype=bool)
    nonempty_per_s = np.bincount(cust_scen_all[keep_c], minlength=k_count)
    keep_s[nonempty_per_s > 0] = True
    if merge_scenarios and k_count > 1:
        seen: dict[bytes, int] = {}
        so, off, items = rs.scenario_offsets, rs.offsets, rs.items
        for k in np.flatnonzero(keep_s):
            c0, c1 = so[k], so[k + 1]
            lens = lengths[c0:c1]
            key = lens[lens > 0].tobytes() + b"|" + items[off[c0] : off[c1]].tobytes()
            first = seen.setdefault(key, int(k))
            if first != k:
                weights[first] += 1
                keep_s[k] = False
    rep = np.where(keep_s, np.arange(k_count), -1)
    if merge_scenarios and k_count > 1:
        for key_k in np.flatnonzero(~keep_s & (nonempty_per_s > 0)):
            c0, c1 = rs.scenario_offsets[key_k], rs.scenario_offsets[key_k + 1]
            lens = lengths[c0:c1]
            key = (
                lens[lens > 0].tobytes()
                + b"|"
                + rs.items[rs.offsets[c0] : rs.offsets[c1]].tobytes()
            )
            rep[key_k] = seen[key]
    keep_c &= keep_s[cust_scen_all]
    # candidates: those appearing in a kept list, or forced
    appear = np.zeros(n_all, dtype=bool)
    cust_of_item = np.repeat(np.arange(rs.n_customers), lengths)
    appear[np.unique(rs.items[keep_c[cust_of_item]])] = True
    forced = np.zeros(n_all, dtype=bool) if min_stock is None else np.asarray(min_stock) > 0
    prods = np.flatnonzero(mask & (appear | forced))
    col_of = np.full(n_all, -1, dtype=np.int64)
    col_of[prods] = np.arange(len(prods))
    # pairs of kept customers
    new_cust = np.cumsum(keep_c) - 1
    pair_sel = keep_c[cust_of_item]
    p_cust = new_cust[cust_of_item[pair_sel]]
    p_prod = col_of[rs.items[pair_sel]]
    p_rank = (np.arange(len(rs.items)) - np.repeat(rs.offsets[:-1], lengths))[pair_sel]
    kept_scen = np.flatnonzero(keep_s)
    scen_new = np.full(k_count, -1, dtype=np.int64)
    scen_new[kept_scen] = np.arange(len(kept_scen))
    cust_scen = scen_new[cust_scen_all[keep_c]]
    p_scen = cust_scen[p_cust]
    order = np.lexsort((p_cust, p_prod, p_scen))
    p_cust, p_prod, p_rank, p_scen = p_cust[order], p_prod[order], p_rank[order], p_scen[order]
    n_pairs = len(order)
    new_group = np.ones(n_pairs, dtype=bool)
    if n_pairs:
        new_group[1:] = (p_scen[1:] != p_scen[:-1]) | (p_prod[1:] != p_prod[:-1])
    gidx = np.flatnonzero(new_group)
    gstart = np.repeat(gidx, np.diff(np.append(gidx, n_pairs)))
    p_j = np.arange(n_pairs, dtype=np.int64) - gstart
    units = np.zeros(len(prods), dtype=np.int64)
    np.maximum.at(units, p_prod, p_j + 1)
    if min_stock is not None:
        units = np.maximum(units, np.asarray(min_stock, dtype=np.int64)[prods])
    if inst.budget is not None:
        c = inst.cost[prods]
        cap = np.where(c > 0, np.floor(inst.budget / np.where(c > 0, c, 1.0) + 1e-9), units)
        units = np.minimum(units, cap.astype(np.int64))
    return PairData(
        products=prods,
        units=units,
        weights=weights[kept_scen],
        scen_orig=kept_scen,
        cust_global=np.flatnonzero(keep_c),
        cust_scen=cust_scen,
        cust_t=cust_t_all[keep_c],
        pair_cust=p_cust,
        pair_prod=p_prod,
        pair_rank=p_rank,
        pair_j=p_j,
        group_start=gstart,
        n_scenarios=k_count,
        stream=rs,
        scen_rep=np.where(rep >= 0, scen_new[np.maximum(rep, 0)], -1),
    )


class _PairLabels(Sequence):
    """Lazy Pyomo index of a pair block: ``(scenario, arrival, product id)``."""

    def __init__(self, d: PairData, ids: Sequence[str]) -> None:
        self.d, self.ids = d, ids

    def __len__(self) -> int:
        return self.d.n_pairs

    def __getitem__(self, p: Any) -> Any:
        d = self.d
        c = int(d.pair_cust[p])
        return (
            int(d.scen_orig[d.cust_scen[c]]),
            int(d.cust_t[c]),
            self.ids[int(d.products[d.pair_prod[p]])],
        )


# ----------------------------------------------------------------------------- builder
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
    d = prepare_pairs(
        inst, stream, mask, min_stock, merge_scenarios=merge_scenarios and formulation == "strong"
    )
    prods = d.products
    n = len(prods)
    ids = [inst.ids[i] for i in prods]
    k_count = d.n_scenarios
    r_net = (inst.price - inst.salvage)[prods]
    c_net = (inst.cost - inst.salvage)[prods]
    fixed = inst.fixed_cost[prods]
    U = d.units.astype(np.float64)
    lo = np.zeros(n) if min_stock is None else min_stock[prods].astype(np.float64)
    need_carry = bool(np.any(fixed > 0)) or inst.max_products is not None
    P = d.n_pairs
    if unit_level == "auto":
        unit_level = unit_level_entries(d) <= UNIT_LEVEL_RATIO * max(P, 1)
    elif not isinstance(unit_level, bool):
        raise OptionError(f"unit_level must be true, false or 'auto', got {unit_level!r}")
    pair_w = d.weights[d.cust_scen[d.pair_cust]] / k_count
    labels = _PairLabels(d, inst.ids)

    b = LPBuilder("max")
    q = b.add_vars("stock", np.ones(n, bool), (ids,), lo=lo, hi=U, cost=-c_net, integer=True)
    z = None
    if need_carry:
        z = b.add_vars("carry", np.ones(n, bool), (ids,), cost=-fixed, binary=True)
    strong = formulation == "strong"
    y = b.add_vars(
        "buy",
        np.ones(P, bool),
        (labels,),
        lo=0.0,
        hi=1.0,
        cost=r_net[d.pair_prod] * pair_w,
        integer=(binary_buys or not strong),
    )
    a = b.add_vars("avail", np.ones(P, bool), (labels,), binary=True)
    prod_of = d.pair_prod
    j = d.pair_j
    ar = np.arange(P, dtype=np.int64)

    # (1) one purchase per customer; (3) she buys at or before every available position
    b.add_rows("one_purchase", d.n_customers, d.pair_cust, y, 1.0, hi=1.0)
    by_cust = np.lexsort((d.pair_rank, d.pair_cust))
    e, idx = _ranges(np.arange(P) - d.pair_rank[by_cust], d.pair_rank[by_cust] + 1)
    b.add_rows(
        "first_available",
        P,
        np.concatenate([e, ar]),
        np.concatenate([y[by_cust[idx]], a[by_cust]]),
        np.concatenate([np.ones(len(e)), -np.ones(P)]),
        lo=0.0,
    )
    # (2) buy only what is available
    b.add_rows(
        "buy_if_available",
        P,
        np.concatenate([ar, ar]),
        np.concatenate([y, a]),
        np.concatenate([np.ones(P), -np.ones(P)]),
        hi=0.0,
    )
    # earlier purchases of the same product in the same scenario: pairs group_start .. p−1
    e_prev, idx_prev = _ranges(d.group_start, j)

    if not strong:
        Ui = U[prod_of]
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
    else:
        umax = int(d.units.max()) if n else 0
        wmask = np.arange(1, umax + 1)[None, :] <= d.units[:, None]
        ulabels = list(range(1, umax + 1))
        w = b.add_vars("units", wmask, (ids, ulabels), binary=True)
        wi, wu = np.nonzero(wmask)  # row-major: per product, u ascending
        nw = len(wi)
        has_next = wu + 1 < d.units[wi]
        rn = np.flatnonzero(has_next)
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
        first = j == 0
        f_idx = np.flatnonzero(first)
        nf = np.flatnonzero(~first)
        m_nf = len(nf)
        rr = np.arange(m_nf)
        Ui = d.units[prod_of]
        ht = np.flatnonzero(j < Ui)
        if not unit_level:
            tail = b.add_vars(
                "tail",
                wmask,
                (ids, ulabels),
                lo=0.0,
                hi=np.broadcast_to(
                    (d.units[:, None] - np.arange(umax)[None, :]).astype(float), wmask.shape
                ),
            )
            left = b.add_vars("left", np.ones(P, bool), (labels,), lo=0.0, hi=U[prod_of])
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
        if unit_level:
            _add_unit_level(b, d, labels, q, w, y, a)

    if inst.max_products is not None and z is not None:
        b.add_rows("max_products", 1, np.zeros(n, np.int64), z, 1.0, hi=float(inst.max_products))
    if inst.budget is not None:
        b.add_rows("budget", 1, np.zeros(n, np.int64), q, inst.cost[prods], hi=float(inst.budget))

    lp = b.build()
    return Formulation(
        name="sample_path_mip",
        lp=lp,
        var_blocks=b.var_blocks,
        row_blocks=b.row_blocks,
        info={
            "products": prods,
            "formulation": formulation,
            "scenarios": k_count,
            "scenarios_kept": len(d.weights),
            "customers_kept": d.n_customers,
            "pairs": d,
            "units": d.units,
            "binaries": int(lp.integer.sum()) if lp.integer is not None else 0,
            "unit_level": bool(unit_level) and formulation == "strong",
        },
    )


#: ``unit_level="auto"``: the unit-level state is used while it has at most this many entries per
#: pair (measured: 3 products × 6 customers has ≈ 1.4, where it makes the relaxation integral;
#: 100 customers per scenario has ≈ 20 and the model is then 20× larger than compact and slower).
UNIT_LEVEL_RATIO = 4.0


def unit_level_entries(d: PairData) -> int:
    """Number of ``sold`` binaries the unit-level state would add: Σ_p min(j(p), U_i)."""
    return int(np.minimum(d.pair_j, d.units[d.pair_prod]).sum())


def _add_unit_level(
    b: LPBuilder,
    d: PairData,
    labels: _PairLabels,
    q: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
) -> None:
    """Unit-level sales state ``sold[p, u] = [earlier purchases of the product ≥ u]``."""
    P = d.n_pairs
    j = d.pair_j
    Ui = d.units[d.pair_prod]
    cnt = np.minimum(j, Ui)
    e, base_idx = _ranges(np.zeros(P, np.int64), cnt)
    u = base_idx + 1  # 1..cnt[p]
    ne = len(e)
    g = b.add_vars("sold", np.ones(ne, bool), (_UnitLabels(labels, e, u),), binary=True)
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


class _UnitLabels(Sequence):
    def __init__(self, labels: _PairLabels, e: np.ndarray, u: np.ndarray) -> None:
        self.labels, self.e, self.u = labels, e, u

    def __len__(self) -> int:
        return len(self.e)

    def __getitem__(self, i: Any) -> Any:
        return (*self.labels[int(self.e[i])], int(self.u[i]))


# ----------------------------------------------------------------------------- starts
def _purchases(inst: Instance, stock: np.ndarray, stream: Stream) -> np.ndarray:
    """Product bought by every customer of ``stream`` (−1: none) under full-length ``stock``."""
    try:
        from ..simulation import simulate_stream
    except ImportError:  # pragma: no cover - the simulator is the reference when present
        return _purchases_py(stock, stream)
    return np.asarray(simulate_stream(inst, stock, stream, record=True).purchases, np.int64)


def _purchases_py(stock: np.ndarray, stream: Stream) -> np.ndarray:
    out = np.full(stream.n_customers, -1, dtype=np.int64)
    so, off, items = stream.scenario_offsets, stream.offsets, stream.items
    for k in range(stream.n_scenarios):
        left = np.array(stock, dtype=np.int64)
        for c in range(so[k], so[k + 1]):
            for i in items[off[c] : off[c + 1]]:
                if left[i] > 0:
                    left[i] -= 1
                    out[c] = i
                    break
    return out


def complete_start(f: Formulation, inst: Instance, stock: np.ndarray) -> np.ndarray:
    """A full feasible column vector for ``f`` from a plan (``stock``: length N).

    Units of non-candidates are dropped, stock is clipped to ``[min_stock, U_i]`` (units beyond
    U_i never sell), and every second-stage variable is filled by replaying the same lists.
    The vector may still break ``budget`` or ``max_products`` if the plan does.
    """
    d: PairData = f.info["pairs"]
    prods = d.products
    lp = f.lp
    qb = f.var_blocks["stock"].cols
    qc = np.clip(np.asarray(stock, dtype=np.int64)[prods], lp.col_lo[qb], lp.col_hi[qb])
    qc = np.round(qc).astype(np.int64)
    full = np.zeros(inst.n, dtype=np.int64)
    full[prods] = qc
    bought = _purchases(inst, full, d.stream)[d.cust_global]
    prod_items = prods[d.pair_prod]
    y = (bought[d.pair_cust] == prod_items).astype(np.float64)
    cum = np.cumsum(y)
    before = cum - y - (cum - y)[d.group_start]  # purchases of earlier interested customers
    left = qc[d.pair_prod] - before
    a = (left >= 1).astype(np.float64)
    x = np.zeros(lp.n_cols)
    x[qb] = qc
    x[f.var_blocks["buy"].cols] = y
    x[f.var_blocks["avail"].cols] = a
    if "carry" in f.var_blocks:
        x[f.var_blocks["carry"].cols] = (qc >= 1).astype(float)
    if "units" in f.var_blocks:
        wc = f.var_blocks["units"].cols
        u = np.arange(1, wc.shape[1] + 1)[None, :]
        ok = wc >= 0
        x[wc[ok]] = (qc[:, None] >= u).astype(float)[ok]
    if "tail" in f.var_blocks:
        tc = f.var_blocks["tail"].cols
        x[tc[ok]] = np.maximum(qc[:, None] - u + 1, 0).astype(float)[ok]
    if "left" in f.var_blocks:
        x[f.var_blocks["left"].cols] = left
    if "sold" in f.var_blocks:
        blk = f.var_blocks["sold"]
        e, u = blk.labels[0].e, blk.labels[0].u
        x[blk.cols] = (before[e] >= u).astype(float)
    return x


def second_stage_purchases(f: Formulation, x: np.ndarray, n_customers: int) -> np.ndarray:
    """Product bought by every customer of the original stream (−1: none) in a solution ``x``.

    Customers of a merged scenario get the purchases of the scenario standing for it (same
    non-empty lists in the same order).
    """
    d: PairData = f.info["pairs"]
    y = f.var_blocks["buy"].values(x)
    kept = np.full(d.n_customers, -1, dtype=np.int64)
    hit = y > 0.5
    kept[d.pair_cust[hit]] = d.products[d.pair_prod[hit]]
    rs = d.stream
    scen = np.repeat(np.arange(rs.n_scenarios), rs.customers_per_scenario)
    nonempty = rs.list_lengths > 0
    cum = np.cumsum(nonempty) - nonempty
    starts = np.append(cum, nonempty.sum())[rs.scenario_offsets[:-1]]
    rank = cum - starts[scen]  # rank among the non-empty customers of her scenario
    first_kept = np.full(len(d.weights), d.n_customers, dtype=np.int64)
    np.minimum.at(first_kept, d.cust_scen, np.arange(d.n_customers))
    out = np.full(n_customers, -1, dtype=np.int64)
    rep = d.scen_rep[scen]
    ok = nonempty & (rep >= 0)
    out[ok] = kept[first_kept[rep[ok]] + rank[ok]]
    return out


def in_sample_profit(f: Formulation, inst: Instance, stock: np.ndarray) -> float:
    """Average profit of ``stock`` on the formulation's streams (the MIP objective of that plan)."""
    x = complete_start(f, inst, stock)
    return f.lp.objective_value(x)


# ----------------------------------------------------------------------------- solving
def solve_sample_path_mip(
    f: Formulation,
    inst: Instance,
    options: SolverOptions | None = None,
    start: np.ndarray | None = None,
    lp_first: bool = True,
    write: str | None = None,
) -> SolveResult:
    """Solve ``f``: first its LP relaxation (IPM with crossover), then, unless that vertex is
    already integral, the MIP from the best of ``start`` and the completed LP stock.

    An integral optimal vertex of the relaxation is a proven optimum of the MIP (its value is an
    upper bound that a feasible point attains), which is the common case for the strong
    formulation. ``start`` is a full column vector (`complete_start`). The LP's time counts
    against ``options.time_limit``. Returns a `SolveResult` (``extra["lp_first"]`` says whether
    the relaxation settled it).
    """
    options = options or SolverOptions()
    t0 = time.perf_counter()
    if write:
        f.write(write, options)
    lp = f.lp
    if not (lp_first and lp.is_mip and not f.materialised):
        return f.solve(options, start=start)
    relax = dataclasses.replace(lp, integer=None)
    # the relaxation gets half of the limit: HiGHS cannot be interrupted while it sets the MIP
    # up, so a MIP started with a sliver of time left overruns it (README.md, "Time limits")
    r = solve_lp(relax, time_left(dataclasses.replace(options, lp_method="ipm"), t0, 0.5))
    if r.status == INFEASIBLE:
        r.message = "the constraints admit no plan (HiGHS proved the relaxation infeasible)"
        r.extra["lp_first"] = True
        return r
    starts = [] if start is None else [np.asarray(start, dtype=np.float64)]
    if r.status == OPTIMAL and r.x is not None:
        integ = lp.integer
        xr = r.x.copy()
        xr[integ] = np.round(xr[integ])
        if np.max(np.abs(r.x[integ] - xr[integ]), initial=0.0) <= 1e-6 and lp.is_feasible(xr):
            obj = lp.objective_value(xr)
            bound = max(float(r.objective), obj)
            return SolveResult(
                status=OPTIMAL,
                termination=Termination.OPTIMAL,
                engine_status="LP relaxation integral",
                objective=obj,
                bound=bound,
                gap=gap_of(obj, bound),
                x=xr,
                time_s=time.perf_counter() - t0,
                path="fast",
                message="",
                nodes=0,
                iterations=r.iterations,
                extra={"lp_first": True},
            )
        full = np.zeros(inst.n, dtype=np.int64)
        full[f.info["products"]] = f.stock(r.x, inst.n)[f.info["products"]]
        starts.append(complete_start(f, inst, full))
    feasible = [s for s in starts if lp.is_feasible(s)]
    best = max(feasible, key=lp.objective_value) if feasible else None
    res = f.solve(time_left(options, t0), start=best)
    res.time_s = time.perf_counter() - t0
    res.extra["lp_first"] = False
    res.extra["lp_bound"] = r.objective if r.status == OPTIMAL else None
    if r.status == OPTIMAL and r.objective is not None and res.objective is not None:
        # the relaxation's value bounds the MIP too: a MIP stopped before its own root LP
        # finished would otherwise report a trivial bound
        if res.bound is None or r.objective < res.bound:
            res.bound = float(r.objective)
            res.gap = gap_of(res.objective, res.bound)
    return res
