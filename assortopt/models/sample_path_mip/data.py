"""Data reduction for the sample-path MIP: streams cut to the (customer, product) pairs it needs.

Only exact reductions (models/sample_path_mip.md §2): non-candidates leave every list, customers
with an empty list are dropped, identical scenarios are merged with a weight, and candidates in
no list are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...exceptions import OptionError
from ...instance import Instance
from ...streams import Stream

__all__ = ["PairData", "PairLabels", "UnitLabels", "candidate_mask", "prepare_pairs", "ranges"]


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


def ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class PairLabels(Sequence):
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


class UnitLabels(Sequence):
    """Lazy Pyomo index of the ``sold`` block: ``(scenario, arrival, product id, unit)``."""

    def __init__(self, labels: PairLabels, e: np.ndarray, u: np.ndarray) -> None:
        self.labels, self.e, self.u = labels, e, u

    def __len__(self) -> int:
        return len(self.e)

    def __getitem__(self, i: Any) -> Any:
        return (*self.labels[int(self.e[i])], int(self.u[i]))
