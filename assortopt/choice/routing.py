"""Route demand through the reduced chain on S without forming it (catalogue scale).

`assortopt.choice.mc.reduced_chain` builds the stochastic complement ρ^S on S as a dense
|S|×|S| matrix from |S| right-hand sides of one sparse solve: at N = 10,000 with |S| = 1,453
that is most of a minute, and at N = 100,000 it does not fit in memory. A fluid routing
``y = ρ'ᵀ w`` (ρ' = ρ^S with self-loops dropped, rows rescaled by 1/(1 − d_i), d_i = ρ^S_ii)
needs only one transposed solve per vector (docs/methods.md, "Routing without the reduced
chain"):

    ρ^Sᵀ w = ρ_SSᵀ w + ρ_ASᵀ (I − ρ_AAᵀ)^{-1} ρ_SAᵀ w       (A: the absorbable products off S)
    ρ'ᵀ w  = ρ^Sᵀ (s∘w) − d∘s∘w,   s_i = 1/(1 − d_i)  (0 when d_i = 1)

and the diagonal d once. d_i = ρ_ii + Σ_t [ρ_SA ρ_AA^t ρ_AS]_ii is the probability that a walk
leaving i comes back to i before reaching another product of S: the series is summed term by
term with sparse products until the mass still wandering in A is below ``tol`` or the product
would exceed ``max_nnz`` entries. What is left, ``diag_bound`` (per product), is a certified
upper bound on the part of d_i not counted (every later return needs a walker still in A).
With ``max_nnz=None`` and a small ``tol`` the route equals the dense reduced chain to rounding
(tests/test_routing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..instance import Instance
from .mc import DIRECT_MAX, _absorbable, _identity_minus, _lu, _solve, offered_mask

__all__ = ["ReducedRouting", "reduced_routing"]

#: Sum the return series until the mass still in A is below this (per product).
DIAG_TOL = 1e-12
#: ... or until the next term would have more entries than this multiple of nnz(ρ).
DIAG_NNZ_FACTOR = 16


@dataclass
class ReducedRouting:
    """The reduced chain on S as an operator: ``route(w)`` = ρ'ᵀ w (length |S|).

    ``positions``: the products of S (entry k is product ``positions[k]``); ``diag``: the
    return probabilities d (ρ^S_ii, as counted); ``diag_bound``: per product, an upper bound
    on the return probability not counted (0 when the series was summed to ``tol``);
    ``terms``: the number of series terms summed.
    """

    positions: np.ndarray
    diag: np.ndarray
    diag_bound: np.ndarray
    terms: int
    _rho_ss_t: sp.csr_array
    _rho_sa_t: sp.csr_array | None
    _rho_as_t: sp.csr_array | None
    _m_t: sp.csr_array | None
    _lu: object = None

    @property
    def scale(self) -> np.ndarray:
        """1/(1 − d_i), 0 where a walk from i always comes back (she leaves)."""
        with np.errstate(divide="ignore"):
            return np.where(self.diag < 1.0 - 1e-15, 1.0 / (1.0 - self.diag), 0.0)

    def complement_t(self, w: np.ndarray) -> np.ndarray:
        """ρ^Sᵀ w: where mass w on S (leaving, not buying) is next absorbed in S."""
        w = np.asarray(w, dtype=np.float64)
        y = self._rho_ss_t @ w
        if self._m_t is not None:
            u = self._rho_sa_t @ w
            if np.any(u):
                if self._m_t.shape[0] <= DIRECT_MAX:  # factorise once, reuse per vector
                    if self._lu is None:
                        self._lu = _lu(self._m_t)
                    r = self._lu.solve(u)
                else:
                    r = _solve(self._m_t, u)
                r = np.maximum(r, 0.0)
                y = y + self._rho_as_t @ r
        return y

    def route(self, w: np.ndarray) -> np.ndarray:
        """ρ'ᵀ w: mass w turned away at each product of S, delivered to the *other* products
        of S first reached (a return to the same product is passed on)."""
        sw = self.scale * np.asarray(w, dtype=np.float64)
        return self.complement_t(sw) - self.diag * sw


def reduced_routing(
    inst: Instance,
    offered: object,
    tol: float = DIAG_TOL,
    max_nnz: int | None = -1,
    drop: float = 0.0,
) -> ReducedRouting:
    """The routing operator of the reduced chain on ``offered`` (mask, ids or positions).

    ``max_nnz``: cap on the entries of a series term (-1: ``DIAG_NNZ_FACTOR``·nnz(ρ) + 10⁵;
    None: no cap, the series runs to ``tol``). Raises `OptionError` for a bad offer set.
    """
    mask = offered_mask(inst, offered)
    pos = np.flatnonzero(mask)
    rho = sp.csr_array(inst.transitions, dtype=np.float64)
    if max_nnz == -1:
        max_nnz = DIAG_NNZ_FACTOR * int(rho.nnz) + 100_000
    rows_s = rho[pos]
    rho_ss = sp.csr_array(rows_s[:, pos])
    diag = np.asarray(rho_ss.diagonal(), dtype=np.float64).copy()
    bound = np.zeros(len(pos))
    good = _absorbable(rho, ~mask, inst.exit_prob) if len(pos) < inst.n else np.zeros(inst.n, bool)
    a_idx = np.flatnonzero(good)
    terms = 0
    if len(pos) == 0 or len(a_idx) == 0:
        return ReducedRouting(pos, diag, bound, 0, sp.csr_array(rho_ss.T), None, None, None)
    rho_sa = sp.csr_array(rows_s[:, a_idx])
    rows_a = rho[a_idx]
    rho_as = sp.csr_array(rows_a[:, pos])
    rho_aa = sp.csr_array(rows_a[:, a_idx])
    as_t = sp.csr_array(rho_as.T)  # (|S|, |A|): as_t[i, l] = ρ_li
    dropped = np.zeros(len(pos))
    x = rho_sa  # row i: where a walk leaving i stands after its steps inside A
    while True:
        terms += 1
        diag += np.asarray(x.multiply(as_t).sum(axis=1)).ravel()
        x = sp.csr_array(x @ rho_aa)
        if drop > 0:  # entries below ``drop`` leave the series; their mass joins the bound
            small = x.data < drop
            if small.any():
                r_of = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
                dropped += np.bincount(r_of[small], x.data[small], minlength=x.shape[0])
                x.data[small] = 0.0
        x.eliminate_zeros()
        left = np.asarray(x.sum(axis=1)).ravel()
        if left.max(initial=0.0) <= tol or (max_nnz is not None and x.nnz > max_nnz):
            bound = left + dropped
            break
    m_t = sp.csr_array(_identity_minus(rho_aa).T)
    return ReducedRouting(
        pos,
        np.minimum(diag, 1.0),
        bound,
        terms,
        sp.csr_array(rho_ss.T),
        sp.csr_array(rho_sa.T),
        sp.csr_array(rho_as.T),
        m_t,
    )
