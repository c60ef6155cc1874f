"""Nested logit: products in nests m with dissimilarities τ_m ∈ (0, 1], no-purchase alone.

With V_m(S) = Σ_{i∈S∩m} e^{v_i/τ_m},

    P(j | S) = V_m^{τ_m} / (1 + Σ_l V_l^{τ_l}) · e^{v_j/τ_m} / V_m     (j ∈ S ∩ m).

Lists are exact by Cardell's construction (`assortopt.choice.rankings.nested_lists`): the
nest-level error is τ_m log S_m with S_m positive stable of index τ_m, which makes the joint
law of the utilities the nested-logit GEV law, so every offer set sees exactly P(· | S).
Nests with τ = 1 and single-product nests are plain MNL products (their τ does not enter
P(j | S)); the sampler pools them into one τ = 1 nest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import OptionError
from .protocol import ProductModel, draw_stream, offer_matrix, permutation
from .rankings import nested_lists

__all__ = ["NestedLogit"]


class NestedLogit(ProductModel):
    """A `assortopt.choice.protocol.ChoiceModel`: ``utility`` (N,), ``nest`` (N,) the nest of
    each product (0..M−1), ``tau`` (M,) dissimilarities, optional nest ``names``."""

    def __init__(self, ids: Any, utility: Any, nest: Any, tau: Any, names: Any = None) -> None:
        self._ids = tuple(str(p) for p in ids)
        n = len(self._ids)
        self.utility = np.ascontiguousarray(utility, dtype=np.float64)
        self.nest = np.ascontiguousarray(nest, dtype=np.int64)
        self.tau = np.ascontiguousarray(tau, dtype=np.float64).ravel()
        m = len(self.tau)
        self.names = tuple(names) if names is not None else tuple(f"nest{k}" for k in range(m))
        if self.utility.shape != (n,) or self.nest.shape != (n,) or len(self.names) != m:
            raise OptionError("NestedLogit: one utility and one nest per product")
        if not np.all(np.isfinite(self.utility)):
            raise OptionError("NestedLogit: utilities must be finite")
        if n and (self.nest.min() < 0 or self.nest.max() >= m):
            raise OptionError("NestedLogit: nest index out of range")
        if np.any(~(self.tau > 0) | (self.tau > 1)):
            raise OptionError("NestedLogit: dissimilarities must lie in (0, 1]")
        self._sampler_args = self._build_sampler()

    def __repr__(self) -> str:
        return f"NestedLogit({len(self.tau)} nests, {self.n_products} products)"

    def _scaled(self) -> tuple[np.ndarray, np.ndarray]:
        """(v_j/τ_{m(j)} − c_{m(j)}, c_m) with c_m the nest's largest v/τ (no overflow)."""
        x = self.utility / self.tau[self.nest]
        c = np.full(len(self.tau), -np.inf)
        np.maximum.at(c, self.nest, x)
        c = np.where(np.isfinite(c), c, 0.0)
        return x - c[self.nest], c

    def probabilities(self, offered: Any) -> np.ndarray:
        """B×(N+1) purchase probabilities, column N = no purchase (log-sum-exp form)."""
        mask = offer_matrix(offered, self._ids)
        b, n = mask.shape
        m = len(self.tau)
        xs, c = self._scaled()
        e = np.where(mask, np.exp(xs)[None, :], 0.0)  # e^{v/τ − c}
        big_v = np.zeros((b, m))
        np.add.at(big_v.T, self.nest, e.T)  # V_m e^{−c_m}
        with np.errstate(divide="ignore"):
            log_iv = self.tau * (np.log(big_v) + c)  # log V_m^{τ_m}, −inf for empty nests
        top = np.maximum(0.0, log_iv.max(axis=1, initial=0.0))
        den = np.exp(-top) + np.exp(log_iv - top[:, None]).sum(axis=1)
        share = np.exp(log_iv - top[:, None]) / den[:, None]  # nest shares (B, M)
        safe = np.where(big_v > 0, big_v, 1.0)
        within = e / safe[:, self.nest]
        out = np.empty((b, n + 1))
        out[:, :n] = share[:, self.nest] * within
        out[:, n] = np.exp(-top) / den
        return out

    def _build_sampler(self) -> tuple[np.ndarray, ...]:
        n = self.n_products
        single = np.bincount(self.nest, minlength=len(self.tau)) <= 1
        pooled = (self.tau >= 1.0) | single  # plain MNL products
        groups = np.where(pooled[self.nest], -1, self.nest)
        keys = np.unique(groups)
        order = np.argsort(groups, kind="stable")
        counts = np.array([np.count_nonzero(groups == k) for k in keys], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        tau = np.array([1.0 if k < 0 else self.tau[k] for k in keys])
        x = self.utility / np.where(groups < 0, 1.0, self.tau[np.maximum(groups, 0)])
        items = order.astype(np.int32)
        shift = np.array([x[order[ptr[g] : ptr[g + 1]]].max() for g in range(len(keys))])
        w = np.exp(x[order] - np.repeat(shift, counts))
        if n == 0:
            ptr, tau, shift, w = np.zeros(1, np.int64), np.ones(0), np.zeros(0), np.zeros(0)
        return ptr, items, np.ascontiguousarray(w), shift, tau

    def sample_lists(self, counts: Any, seed: Any) -> Any:
        """Exact lists by Cardell's construction (see the module docstring)."""
        ptr, items, w, shift, tau = self._sampler_args
        return draw_stream(
            counts,
            seed,
            self.n_products,
            lambda rng, k: nested_lists(rng, k, ptr, items, w, shift, tau),
        )

    def aligned(self, ids: Any) -> NestedLogit:
        perm = permutation(self._ids, ids)
        return NestedLogit(tuple(ids), self.utility[perm], self.nest[perm], self.tau, self.names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "assortopt-choice/1",
            "model": "nested-logit",
            "utility": {p: float(v) for p, v in zip(self._ids, self.utility, strict=True)},
            "nests": [
                {
                    "name": str(name),
                    "dissimilarity": float(t),
                    "products": [self._ids[i] for i in np.flatnonzero(self.nest == k)],
                }
                for k, (name, t) in enumerate(zip(self.names, self.tau, strict=True))
            ],
        }
