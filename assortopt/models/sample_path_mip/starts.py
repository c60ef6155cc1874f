"""Warm starts for the sample-path MIP: a plan replayed on the formulation's own lists.

For fixed stock the second stage has exactly one feasible point, the simulator's outcome
(models/sample_path_mip.md §3), so a plan is completed into a full column vector by replaying the
restricted stream with `assortopt.simulation.simulate_stream`.
"""

from __future__ import annotations

import numpy as np

from ...instance import Instance
from ...simulation import simulate_stream
from ...streams import Stream
from ..formulation import Formulation
from .data import PairData

__all__ = ["complete_start", "in_sample_profit", "second_stage_purchases"]


def _purchases(inst: Instance, stock: np.ndarray, stream: Stream) -> np.ndarray:
    """Product bought by every customer of ``stream`` (−1: none) under full-length ``stock``."""
    return np.asarray(simulate_stream(inst, stock, stream, record=True).purchases, np.int64)


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
