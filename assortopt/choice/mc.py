"""Markov chain choice model: purchase probabilities, absorption and the reduced chain.

A customer first visits product i with probability λ_i (nothing with λ_0 = 1 − Σλ). At an
offered product she buys; at an unoffered product i she moves to j with probability ρ_ij or
leaves with 1 − Σ_j ρ_ij. For an offer set S (S̄ = the rest) the balance equations

    P_j + R_j = λ_j + Σ_i ρ_ij R_i,     P = 0 off S,  R = 0 on S

give the purchase probabilities P and the expected visits R to unoffered products:
``R_S̄ = (I − ρ_S̄S̄ᵀ)^{-1} λ_S̄`` and ``P_j = λ_j + Σ_{i∈S̄} ρ_ij R_i`` for j ∈ S (models/lp_bound.md).

The S̄ block is solved sparsely: a direct sparse LU when it is small, otherwise BiCGSTAB
(several right-hand sides at once) with the true residual checked, falling back to the LU.
LU fill-in on random sparse substitution graphs grows like n² (an expander has no good
elimination order), whereas Krylov iterations stay at a few dozen sparse products even when
exits are rare, because such chains mix fast.

Chains whose rows may sum to 1 are handled so: only products from which a walk can reach S or
the exit enter the solve; a walk that reaches a product from which it can never be absorbed
never buys (counted in P_0, its visits R are infinite). `drop_self_loops` treats a self-loop of
1 the same way (the customer leaves).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from ..exceptions import OptionError
from ..instance import Instance

#: S̄ blocks up to this size are factorised directly (sparse LU); larger ones go to BiCGSTAB.
DIRECT_MAX = 1500
#: Chains this small are solved with dense numpy linear algebra (no sparse overhead).
DENSE_MAX = 48
_RTOL = 1e-13  # BiCGSTAB target (relative 2-norm residual per column)
_ACCEPT = 1e-10  # true relative residual accepted without falling back to the LU
_MAXITER = 1000
_BLOCK = 128  # right-hand sides per BiCGSTAB batch

__all__ = [
    "absorption",
    "chain_probabilities",
    "choice_details",
    "choice_probabilities",
    "drop_self_loops",
    "offered_mask",
    "reduced_chain",
]


# ----------------------------------------------------------------------------- offer sets
def offered_mask(inst: Instance, offered: Any) -> np.ndarray:
    """Turn an offer set into a bool mask of length N.

    ``offered`` may be a bool mask (length N), product ids (strings), or integer positions.
    Raises `OptionError` for an unknown id, a position out of range or a mask of wrong length.
    """
    n = inst.n
    if isinstance(offered, str):
        offered = [offered]
    arr = np.asarray(offered if not isinstance(offered, (set, frozenset)) else sorted(offered))
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise OptionError(f"offered: a bool mask must have {n} entries, got {arr.shape}")
        return arr.copy()
    mask = np.zeros(n, dtype=bool)
    if arr.size == 0:
        return mask
    arr = arr.ravel()
    if arr.dtype.kind in "US":
        index = inst.index
        for pid in arr.tolist():
            if pid not in index:
                raise OptionError(f"offered: unknown product id {pid!r}")
            mask[index[pid]] = True
        return mask
    if arr.dtype.kind not in "iu":
        raise OptionError("offered: give a bool mask, product ids or integer positions")
    if np.any(arr < 0) or np.any(arr >= n):
        raise OptionError(f"offered: positions must be in [0, {n})")
    mask[arr] = True
    return mask


_to_mask = offered_mask  # reduced_chain's parameter shadows the name


# ----------------------------------------------------------------------------- linear algebra
def _as_chain(rho: Any) -> sp.csr_array | np.ndarray:
    if isinstance(rho, np.ndarray):
        return np.asarray(rho, dtype=np.float64)
    return sp.csr_array(rho, dtype=np.float64)


def _sub(rho: sp.csr_array | np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Any:
    """``rho[rows][:, cols]`` (rows, cols: unique positions)."""
    if isinstance(rho, np.ndarray):
        return rho[np.ix_(rows, cols)]
    return _csr_block(sp.csr_array(rho), np.asarray(rows), np.asarray(cols))


def _csr_block(a: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> sp.csr_array:
    """The block ``a[rows][:, cols]`` in a few passes over the selected rows' entries.

    scipy's column indexing costs far more than a pass over the entries at 10^6 columns (a
    10^6-product re-pooling step spent most of its time in it); this one gathers the rows'
    entries, maps their columns through a position table and keeps those that map.
    """
    indptr, indices = a.indptr, a.indices
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    total = int(lens.sum())
    first = np.cumsum(lens) - lens  # where each selected row starts in the gathered entries
    pos = np.repeat(starts - first, lens) + np.arange(total, dtype=starts.dtype)
    itype = np.int32 if max(a.nnz, a.shape[1]) < 2**31 - 1 else np.int64
    colmap = np.full(a.shape[1], -1, dtype=itype)
    colmap[cols] = np.arange(len(cols), dtype=itype)
    new_cols = colmap[indices[pos]]
    keep = new_cols >= 0
    counts = np.bincount(np.repeat(np.arange(len(rows)), lens)[keep], minlength=len(rows))
    new_ptr = np.zeros(len(rows) + 1, dtype=itype)
    np.cumsum(counts, out=new_ptr[1:])
    return sp.csr_array((a.data[pos[keep]], new_cols[keep], new_ptr), shape=(len(rows), len(cols)))


def _row_sums(rho: sp.csr_array | np.ndarray) -> np.ndarray:
    return np.asarray(rho.sum(axis=1)).ravel()


def _absorbable(rho: Any, bar: np.ndarray, exit_prob: np.ndarray) -> np.ndarray:
    """Bool mask (length N): products of S̄ from which a walk through S̄ can reach S or exit."""
    n = len(bar)
    direct = exit_prob > 0
    if not bar.all():  # a step into S (ρ ≥ 0: a matrix-vector product, no column slicing)
        direct |= rho @ (~bar).astype(np.float64) > 0
    direct &= bar
    if np.array_equal(direct, bar):
        return bar.copy()
    # reverse reachability inside S̄ from the directly absorbable products (virtual source n)
    b_idx = np.flatnonzero(bar)
    g = sp.csr_array(_sub(rho, b_idx, b_idx))
    nb = len(b_idx)
    coo = g.tocoo()
    src = np.flatnonzero(direct[b_idx])
    rows = np.concatenate([coo.col, np.full(len(src), nb)])  # reversed edges j -> i
    cols = np.concatenate([coo.row, src])
    graph = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(nb + 1, nb + 1))
    reach = csgraph.breadth_first_order(graph, nb, directed=True, return_predecessors=False)
    good = np.zeros(n, dtype=bool)
    good[b_idx[reach[reach < nb]]] = True
    return good


def _lu(m: Any) -> Any:
    return spla.splu(sp.csc_matrix(m), permc_spec="MMD_AT_PLUS_A")


def _bicgstab_block(
    a: sp.csr_array, b: np.ndarray, x0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """BiCGSTAB on every column of ``b`` at once, from ``x0`` (default 0); returns (X, ok) with
    ok = converged columns."""
    n, k = b.shape
    x = np.zeros((n, k)) if x0 is None else np.array(x0, dtype=np.float64).reshape(n, k)
    bnorm = np.linalg.norm(b, axis=0)
    ok = bnorm == 0
    x[:, ok] = 0.0
    act = np.flatnonzero(~ok)
    if len(act) == 0:
        return x, ok
    xa = x[:, act]
    r = b[:, act] - a @ xa if x0 is not None else b[:, act].copy()
    # a dense shadow residual: with rhat = r0 a sparse right-hand side breaks BiCGSTAB down
    rhat = np.random.default_rng(12345).standard_normal(r.shape) + r / bnorm[act]
    tol = _RTOL * bnorm[act]
    rho_old = np.ones(len(act))
    alpha = np.ones(len(act))
    omega = np.ones(len(act))
    v = np.zeros_like(r)
    p = np.zeros_like(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(_MAXITER):
            rho_new = np.einsum("ij,ij->j", rhat, r)
            beta = (rho_new / rho_old) * (alpha / omega)
            p = r + beta * (p - omega * v)
            v = a @ p
            alpha = rho_new / np.einsum("ij,ij->j", rhat, v)
            s = r - alpha * v
            t = a @ s
            tt = np.einsum("ij,ij->j", t, t)
            omega = np.where(tt > 0, np.einsum("ij,ij->j", t, s) / tt, 0.0)
            xa += alpha * p + omega * s
            r = s - omega * t
            rho_old = rho_new
            rn = np.linalg.norm(r, axis=0)
            bad = ~np.isfinite(rn) | ~np.isfinite(xa).all(axis=0)
            done = (rn <= tol) | bad | (omega == 0)
            if done.any():
                x[:, act[done]] = xa[:, done]
                keep = ~done
                act, xa, r, rhat, p, v = (
                    act[keep],
                    xa[:, keep],
                    r[:, keep],
                    rhat[:, keep],
                    p[:, keep],
                    v[:, keep],
                )
                tol, rho_old, alpha, omega = tol[keep], rho_old[keep], alpha[keep], omega[keep]
                if len(act) == 0:
                    break
    if len(act):
        x[:, act] = xa
    res = np.linalg.norm(b - a @ x, axis=0)
    ok = np.isfinite(x).all(axis=0) & (res <= _ACCEPT * np.maximum(bnorm, 1e-300))
    ok |= bnorm == 0
    return x, ok


def _solve(m: Any, b: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """Solve ``m X = b`` (m = I − ρ-block, nonsingular M-matrix), one or many right-hand sides.

    ``x0`` (the shape of ``b``) is a starting guess for the iterative solve (ignored by the
    direct ones): the same tolerance is met in fewer products when it is close.
    """
    one = b.ndim == 1
    if b.size == 0:
        return np.zeros(b.shape)
    bb = b.reshape(len(b), -1).astype(np.float64, copy=False)
    n = bb.shape[0]
    if isinstance(m, np.ndarray):
        x = np.linalg.solve(m, bb)
    elif n <= DIRECT_MAX:
        x = _lu(m).solve(np.asfortranarray(bb))
    else:
        a = sp.csr_array(m)
        x = np.empty_like(bb)
        failed: list[int] = []
        g = None if x0 is None else np.asarray(x0, dtype=np.float64).reshape(bb.shape)
        for c0 in range(0, bb.shape[1], _BLOCK):
            guess = None if g is None else g[:, c0 : c0 + _BLOCK]
            xs, ok = _bicgstab_block(a, bb[:, c0 : c0 + _BLOCK], guess)
            x[:, c0 : c0 + _BLOCK] = xs
            failed.extend((c0 + np.flatnonzero(~ok)).tolist())
        if failed:
            x[:, failed] = _lu(m).solve(np.asfortranarray(bb[:, failed]))
    return x.ravel() if one else x


def _identity_minus(block: Any) -> Any:
    n = block.shape[0]
    if isinstance(block, np.ndarray):
        return np.eye(n) - block
    return sp.csr_array(sp.eye_array(n, format="csr") - block)


# ----------------------------------------------------------------------------- probabilities
def chain_probabilities(
    arrival: np.ndarray,
    transitions: Any,
    offered: np.ndarray,
    *,
    guess: np.ndarray | None = None,
    transposed: sp.csr_array | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Purchase probabilities for a chain given as arrays.

    Parameters
    ----------
    arrival
        λ, length N (sum ≤ 1).
    transitions
        ρ, N×N (scipy sparse or dense ndarray); row deficits are exit probabilities.
    offered
        Bool mask of the offer set S.

    guess
        Optional (N,) guess of the visits R (e.g. those of a nearby offer set), a starting
        point for the iterative solve; the answer meets the same tolerance without it.
    transposed
        Optional ρᵀ as CSR (`Instance.transitions_t`), so that many calls on one chain do not
        each transpose it.

    Returns ``(P, R, P0)``: P (N,) purchase probabilities (0 off S); R (N,) expected visits to
    each unoffered product (0 on S, ``inf`` where a walk is trapped forever); P0 the
    probability of buying nothing (including walks that are never absorbed).
    """
    lam = np.asarray(arrival, dtype=np.float64)
    rho = _as_chain(transitions)
    mask = np.asarray(offered, dtype=bool)
    n = len(lam)
    if not isinstance(rho, np.ndarray) and n <= DENSE_MAX:
        rho = rho.toarray()
    exit_prob = np.maximum(0.0, 1.0 - _row_sums(rho))
    lam0 = max(0.0, 1.0 - float(lam.sum()))
    bar = ~mask
    good = _absorbable(rho, bar, exit_prob)
    a_idx = np.flatnonzero(good)
    s_idx = np.flatnonzero(mask)
    P = np.zeros(n)
    R = np.zeros(n)
    if isinstance(rho, np.ndarray):
        rho_t: Any = rho.T
    else:
        rho_t = sp.csr_array(rho.T) if transposed is None else transposed
    x0 = None
    if guess is not None:
        x0 = np.asarray(guess, dtype=np.float64)[a_idx]
        x0 = np.where(np.isfinite(x0), x0, 0.0)
    r_a = np.maximum(_solve(_identity_minus(_sub(rho_t, a_idx, a_idx)), lam[a_idx], x0), 0.0)
    R[a_idx] = r_a
    inflow_all = rho_t @ R  # Σ_i ρ_ij R_i for every j (R is 0 outside the solved block)
    if len(s_idx):
        P[s_idx] = lam[s_idx] + inflow_all[s_idx]
    p0 = lam0 + float(exit_prob[a_idx] @ r_a)
    trap = bar & ~good
    if trap.any():
        t_idx = np.flatnonzero(trap)
        inflow = lam[t_idx] + inflow_all[t_idx]
        p0 += float(inflow.sum())
        # every trapped product reachable from one with inflow is visited infinitely often
        g = sp.csr_array(_sub(rho, t_idx, t_idx))
        nt = len(t_idx)
        src = np.flatnonzero(inflow > 0)
        coo = g.tocoo()
        graph = sp.csr_array(
            (
                np.ones(len(coo.row) + len(src)),
                (np.concatenate([coo.row, np.full(len(src), nt)]), np.concatenate([coo.col, src])),
            ),
            shape=(nt + 1, nt + 1),
        )
        reach = csgraph.breadth_first_order(graph, nt, directed=True, return_predecessors=False)
        R[t_idx[reach[reach < nt]]] = np.inf
    return P, R, p0


def choice_details(
    inst: Instance, offered: Any, guess: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(P, R, P0)`` for offer set ``offered`` (mask, ids or positions); see
    `chain_probabilities` (``guess``: visits of a nearby offer set, a warm start)."""
    return chain_probabilities(
        inst.arrival,
        inst.transitions,
        offered_mask(inst, offered),
        guess=guess,
        transposed=inst.transitions_t if inst.n > DENSE_MAX else None,
    )


def choice_probabilities(inst: Instance, offered: Any) -> np.ndarray:
    """P_j(S): probability that one customer buys product j when S is offered, shape (N,).

    ``offered`` is a bool mask, a list of product ids or an array of positions. Sparse: an
    N = 10,000 chain with 8 neighbours per product takes milliseconds to a fraction of a second.
    Raises `OptionError` for an unknown id, a position out of range or a mask of wrong length.
    """
    return choice_details(inst, offered)[0]


def absorption(inst: Instance, offered: Any) -> np.ndarray:
    """Where a walk that starts at each product ends, shape (N, N+1) (dense).

    Row l gives the probability that a customer standing at l buys each product of S
    (columns 0..N−1) or leaves (column N). For l ∈ S the row is e_l; for a product from which
    a walk can never be absorbed the row is 0. ``P = λ + λ_S̄ᵀ H_S̄`` (the absorption form).
    """
    mask = offered_mask(inst, offered)
    n = inst.n
    rho = _as_chain(inst.transitions)
    if not isinstance(rho, np.ndarray) and n <= DENSE_MAX:
        rho = rho.toarray()
    exit_prob = inst.exit_prob
    good = _absorbable(rho, ~mask, exit_prob)
    a_idx, s_idx = np.flatnonzero(good), np.flatnonzero(mask)
    h = np.zeros((n, n + 1))
    h[s_idx, s_idx] = 1.0
    if len(a_idx):
        rhs = np.zeros((len(a_idx), n + 1))
        blk = _sub(rho, a_idx, s_idx)
        rhs[:, s_idx] = blk if isinstance(blk, np.ndarray) else blk.toarray()
        rhs[:, n] = exit_prob[a_idx]
        h[a_idx] = np.maximum(_solve(_identity_minus(_sub(rho, a_idx, a_idx)), rhs), 0.0)
    return h


# ----------------------------------------------------------------------------- reduced chain
def drop_self_loops(r: np.ndarray | sp.csr_array) -> sp.csr_array:
    """Remove the diagonal and rescale each row by 1/(1 − ρ_ii) (a return changes nothing).

    A row with ρ_ii = 1 (to 1e-15) becomes 0: a customer at i comes back to i forever while i is
    unavailable, so she never buys anything else from there; she leaves. The one self-loop
    handler of the package (the reduced chain here, the SAA-LP's chains in
    `assortopt.models.saa_lp`); the input is never modified.
    """
    r = sp.csr_array(r, dtype=np.float64, copy=True)
    d = r.diagonal()
    if not np.any(d):
        r.eliminate_zeros()
        return r
    off = sp.csr_array(r - sp.diags_array(d, format="csr"))
    with np.errstate(divide="ignore"):
        scale = np.where(d < 1.0 - 1e-15, 1.0 / (1.0 - d), 0.0)
    off = sp.csr_array(sp.diags_array(scale, format="csr") @ off)
    off.eliminate_zeros()
    off.sort_indices()
    return off


def reduced_chain(inst: Instance, offered_mask: Any) -> tuple[np.ndarray, sp.csr_array, np.ndarray]:
    """The exact stochastic complement of the chain on S (models/saa_lp.md, "Chain").

    Products outside S are passed through: ``λ^S = P_{·,S}``, ``ρ^S_ij = ρ_ij + Σ_{l∉S} ρ_il
    h_l(j)``, then self-loops are dropped and rows rescaled by ``1/(1 − ρ^S_ii)``. For every
    A ⊆ S the reduced chain gives the same purchase probabilities as the full chain.

    Returns ``(arrival_S (|S|,), rho_S (csr |S|×|S|), positions (|S|,))``; entry k of the
    reduced chain is product ``positions[k]``. One factorisation (or one batched BiCGSTAB) with
    min(#rows of S leaving S, #columns of S entered from outside) right-hand sides.
    Raises `OptionError` for a bad offer set (as `choice_probabilities`).
    """
    mask = _to_mask(inst, offered_mask)
    pos = np.flatnonzero(mask)
    n = inst.n
    k = len(pos)
    if k == 0:
        return np.zeros(0), sp.csr_array((0, 0)), pos
    arrival_s = choice_probabilities(inst, mask)[pos]
    rho = sp.csr_array(inst.transitions)
    good = _absorbable(rho, ~mask, inst.exit_prob)
    a_idx = np.flatnonzero(good)
    rho_ss = rho[pos][:, pos]
    if len(a_idx) == 0 or k == n:
        return arrival_s, drop_self_loops(rho_ss), pos
    rho_sa = sp.csr_array(rho[pos][:, a_idx])
    rho_as = sp.csr_array(rho[a_idx][:, pos])
    rows_f = np.flatnonzero(np.diff(rho_sa.indptr) > 0)  # S rows that leave S into A
    cols_c = np.flatnonzero(np.bincount(rho_as.indices, minlength=k) > 0)  # S entered from A
    if len(rows_f) == 0 or len(cols_c) == 0:
        return arrival_s, drop_self_loops(rho_ss), pos
    m = _identity_minus(rho[a_idx][:, a_idx])
    g = np.zeros((k, k))
    if len(cols_c) <= len(rows_f):
        h = _solve(m, rho_as[:, cols_c].toarray())  # (|A|, |C|): h_l(j)
        g[:, cols_c] = rho_sa @ np.maximum(h, 0.0)
    else:
        y = _solve(sp.csr_array(m.T), rho_sa[rows_f].toarray().T)  # (|A|, |F|)
        g[rows_f] = np.maximum(y, 0.0).T @ rho_as
    full = rho_ss + sp.csr_array(g)
    return arrival_s, drop_self_loops(full), pos
