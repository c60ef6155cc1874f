"""The spill MIP (models/spill_mip.md): the SAA-LP, but customers spill only out of sold-out
products.

On top of `build_saa_lp` (blocks ``stock``, ``sales``, ``spill``; rows ``balance``, ``capacity``,
``budget``) it adds, per scenario k and stockable product i, a binary w_ki (``stockout``):

    u_ki ≤ Mu_ki · w_ki                 (spill_link: spill out of i only if i sold out)
    s_ki − q_i − M_i · w_ki ≥ −M_i      (sold_out: w_ki = 1 ⇒ sales = stock)

with integer stock q_i ≤ M_i, and binaries z_i (``carry``) when fixed costs or ``max_products``
need them: q_i − M_i z_i ≤ 0 (carry_link), Σ z_i ≤ C (max_products), objective − Σ f_i z_i.
Big-M's come from the counts: Mu_ki = the inflow into i if nothing sold anywhere,
``(I − ρ̃ᵀ)^{-1} d_k``, which bounds every spill; M_i = ⌈max_k Mu_ki⌉ bounds the useful stock (a
unit
beyond the largest possible inflow never sells and costs c − v ≥ 0). Write-up: models/spill_mip.md.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..instance import Instance
from ..solver.linear import LPBuilder
from .formulation import Formulation
from .saa_lp import build_saa_lp


def max_inflow(chain: sp.csr_array, counts: np.ndarray) -> np.ndarray:
    """(K, n) inflow into each node when nothing is sold: ``(I − ρᵀ)^{-1} d_k`` per scenario."""
    n = chain.shape[0]
    if n == 0:
        return np.zeros_like(counts, dtype=np.float64)
    a = sp.csc_matrix(sp.eye(n) - sp.csr_array(chain).T)
    v = spla.splu(a).solve(np.ascontiguousarray(np.asarray(counts, np.float64).T))
    return np.maximum(np.atleast_2d(v.T if v.ndim == 2 else v[None, :]), 0.0)


def _offdiag(a: sp.csr_array) -> sp.csr_array:
    a = sp.csr_array(a)
    out = sp.csr_array(a - sp.diags_array(a.diagonal()))
    out.eliminate_zeros()
    return out


def _chain_of(f: Formulation) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Recover (chain, sellable node indices, counts per node) from a built SAA-LP."""
    lp = f.lp
    u = f.var_blocks["spill"].cols
    s = f.var_blocks["sales"].cols
    k_count, n_nodes = u.shape
    b0, _ = f.row_blocks["balance"]
    # scenario 0's balance rows: coefficient of u_0j in row i is −ρ_ji (i ≠ j)
    rows = lp.A[b0 : b0 + n_nodes]
    chain = _offdiag(-rows[:, u[0]]).T.tocsr()
    sell = np.asarray(sp.csc_array(rows[:, s[0]]).indices, dtype=np.int64)
    d = lp.row_lo[b0 : b0 + k_count * n_nodes].reshape(k_count, n_nodes)
    return chain, sell, d


def build_spill_mip(
    inst: Instance,
    counts: np.ndarray,
    offered_mask: np.ndarray | None = None,
    rho: sp.csr_array | None = None,
    chain: str = "reduced",
    big_m: np.ndarray | None = None,
) -> Formulation:
    """Build the spill MIP on S (arguments as `assortopt.models.saa_lp.build_saa_lp`).

    ``big_m`` (length |S|) is the stock bound and big-M per product; default the largest
    no-sale inflow over the K scenarios (no optimum stocks more). A larger value is valid too,
    e.g. the bound of all K scenarios when this model is one scenario of a decomposition
    (`assortopt.mpi`); a smaller one would cut off plans and raises ``ValueError``.

    Returns a `Formulation` with the SAA-LP blocks plus ``stockout`` (scenario, id) binaries,
    integer ``stock`` and, when fixed costs or ``max_products`` are present, ``carry`` binaries.
    Rows added: ``spill_link``, ``sold_out``, ``stock_cap`` and ``carry_link``/``max_products``.
    Units: integer stock in units, the objective in currency per season (average over the K
    scenarios, fixed costs included). Raises ``ValueError`` as `build_saa_lp`.
    """
    base = build_saa_lp(inst, counts, offered_mask, rho=rho, chain=chain)
    pos = np.asarray(base.info["products"])
    net, sell, d = _chain_of(base)
    vmax = max_inflow(net, d)[:, sell]  # (K, |S|)
    big = np.ceil(vmax.max(axis=0) - 1e-9) if vmax.size else np.zeros(len(pos))
    big = np.maximum(big, 0.0)
    if big_m is not None:
        big_m = np.asarray(big_m, dtype=np.float64)
        if big_m.shape != big.shape or np.any(big_m < big):
            raise ValueError("big_m must have one entry per product of S, each >= its default")
        big = big_m
    k_count, m = vmax.shape

    lp = base.lp
    b = LPBuilder("max")
    # replay the base columns and rows, then add the new ones (cheap: arrays only)
    q = b.add_vars(
        "stock",
        np.ones(m, bool),
        base.var_blocks["stock"].labels,
        cost=lp.c[base.var_blocks["stock"].cols],
        hi=big,
        integer=True,
    )
    s = b.add_vars(
        "sales",
        np.ones((k_count, m), bool),
        base.var_blocks["sales"].labels,
        cost=lp.c[base.var_blocks["sales"].cols],
    )
    nodes = base.var_blocks["spill"].cols.shape[1]
    u = b.add_vars("spill", np.ones((k_count, nodes), bool), base.var_blocks["spill"].labels)
    assert b.n == lp.n_cols  # same column order as the SAA-LP
    coo = sp.coo_array(lp.A)
    for name, (r0, r1) in base.row_blocks.items():
        sel = (coo.row >= r0) & (coo.row < r1)
        b.add_rows(
            name,
            r1 - r0,
            coo.row[sel] - r0,
            coo.col[sel],
            coo.data[sel],
            lo=lp.row_lo[r0:r1],
            hi=lp.row_hi[r0:r1],
        )
    w = b.add_vars(
        "stockout", np.ones((k_count, m), bool), base.var_blocks["sales"].labels, binary=True
    )
    rr = np.arange(k_count * m, dtype=np.int64)
    u_sell = u[:, sell].ravel()
    b.add_rows(
        "spill_link",
        k_count * m,
        np.concatenate([rr, rr]),
        np.concatenate([u_sell, w.ravel()]),
        np.concatenate([np.ones(k_count * m), -vmax.ravel()]),
        hi=0.0,
    )
    bigk = np.tile(big, k_count)
    b.add_rows(
        "sold_out",
        k_count * m,
        np.concatenate([rr, rr, rr]),
        np.concatenate([s.ravel(), np.tile(q, k_count), w.ravel()]),
        np.concatenate([np.ones(k_count * m), -np.ones(k_count * m), -bigk]),
        lo=-bigk,
    )
    need_z = bool(np.any(inst.fixed_cost[pos] > 0)) or inst.max_products is not None
    if need_z:
        z = b.add_vars(
            "carry",
            np.ones(m, bool),
            base.var_blocks["stock"].labels,
            cost=-inst.fixed_cost[pos],
            binary=True,
        )
        ri = np.arange(m, dtype=np.int64)
        b.add_rows(
            "carry_link",
            m,
            np.concatenate([ri, ri]),
            np.concatenate([q, z]),
            np.concatenate([np.ones(m), -big]),
            hi=0.0,
        )
        if inst.max_products is not None:
            b.add_rows(
                "max_products", 1, np.zeros(m, np.int64), z, 1.0, hi=float(inst.max_products)
            )
    info = dict(base.info)
    info.update(big_m=big, sellable_nodes=sell)
    return Formulation("spill_mip", b.build(), b.var_blocks, b.row_blocks, info=info)


def complete_start(
    f: Formulation, stock: np.ndarray, deadline: float | None = None
) -> np.ndarray | None:
    """A full column vector for `build_spill_mip`'s model from integer stock on S (length |S|).

    The second stage is the "sell first" fluid outcome: each product sells up to its stock and
    spills only what it cannot serve (so w_ki = [i sold out]); stock is clipped to the big-M.
    Each scenario is a fixed point of sparse solves (measured: 0.2 s a scenario at |S| = 1,000,
    20 s for K = 100), so with a ``deadline`` (a `time.perf_counter` instant) the completion
    returns None as soon as its pace says it cannot finish by then: no start rather than a late
    one.
    """
    lp = f.lp
    big = np.asarray(f.info["big_m"])
    sell = np.asarray(f.info["sellable_nodes"])
    q = np.minimum(np.asarray(stock, np.float64), big)
    u_cols = f.var_blocks["spill"].cols
    k_count, n_nodes = u_cols.shape
    b0, _ = f.row_blocks["balance"]
    rho_t = _offdiag(-lp.A[b0 : b0 + n_nodes][:, u_cols[0]]).tocsr()  # ρᵀ
    d = lp.row_lo[b0 : b0 + k_count * n_nodes].reshape(k_count, n_nodes)
    cap = np.zeros(n_nodes)
    cap[sell] = q
    x = np.zeros(lp.n_cols)
    x[f.var_blocks["stock"].cols] = q
    ident = sp.eye(n_nodes, format="csc")
    t_start = time.perf_counter()
    for k in range(k_count):
        now = time.perf_counter()
        # give up as soon as the pace so far says the deadline cannot be met
        if deadline is not None and (now - t_start) * k_count / max(k, 1) > deadline - t_start:
            return None
        u = np.zeros(n_nodes)
        out = np.zeros(n_nodes, bool)
        for _ in range(4 * n_nodes + 10):
            inflow = d[k] + rho_t @ u
            new_out = inflow > cap + 1e-9
            if np.array_equal(new_out, out) and _:
                break
            out |= new_out
            # exact spill for the current sold-out set: (I − ρᵀ_WW) u_W = d_W + ρᵀ_W,·… − cap_W
            wi = np.flatnonzero(out)
            u = np.zeros(n_nodes)
            if len(wi):
                a = ident[wi][:, wi] - rho_t[wi][:, wi]
                u[wi] = (
                    spla.spsolve(sp.csc_matrix(a), d[k][wi] - cap[wi])
                    if len(wi) > 1
                    else ((d[k][wi] - cap[wi]) / a.toarray().ravel())
                )
        inflow = d[k] + rho_t @ u
        sales = np.minimum(inflow, cap)
        x[f.var_blocks["spill"].cols[k]] = np.maximum(u, 0.0)
        x[f.var_blocks["sales"].cols[k]] = sales[sell]
        x[f.var_blocks["stockout"].cols[k]] = out[sell].astype(float)
    if "carry" in f.var_blocks:
        x[f.var_blocks["carry"].cols] = (q > 0).astype(float)
    return x
