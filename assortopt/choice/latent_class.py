"""Latent-class MNL: a mixture of MNLs (class weights summing to 1).

``P(j | S) = Σ_c w_c e^{v_cj} / (1 + Σ_{l∈S} e^{v_cl})``. A customer belongs to class c with
probability w_c and is then an MNL customer of that class: her list is a Plackett–Luce draw
∝ e^{v_c·} with the no-purchase option (weight 1) in the urn, which is exact because the
class is drawn first (`assortopt.choice.rankings.plackett_luce_lists`). Building a ranking by
sequential choices from the mixture's own P(· | remaining) would not be exact: it ignores that
a customer keeps her class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import OptionError
from .mnl import logit_probabilities
from .protocol import ProductModel, draw_stream, offer_matrix, permutation
from .rankings import plackett_luce_lists

__all__ = ["LatentClassMNL"]


class LatentClassMNL(ProductModel):
    """A `assortopt.choice.protocol.ChoiceModel`: ``weights`` (C,) and ``utility`` (C, N)."""

    def __init__(self, ids: Any, weights: Any, utility: Any) -> None:
        self._ids = tuple(str(p) for p in ids)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64).ravel()
        self.utility = np.ascontiguousarray(np.atleast_2d(utility), dtype=np.float64)
        if self.utility.shape != (len(self.weights), len(self._ids)):
            raise OptionError("LatentClassMNL: utility must be (classes, products)")
        if not (np.all(np.isfinite(self.utility)) and np.all(np.isfinite(self.weights))):
            raise OptionError("LatentClassMNL: weights and utilities must be finite")
        if np.any(self.weights < 0) or abs(self.weights.sum() - 1.0) > 1e-9:
            raise OptionError("LatentClassMNL: class weights must be >= 0 and sum to 1")

    @property
    def n_classes(self) -> int:
        return len(self.weights)

    def __repr__(self) -> str:
        return f"LatentClassMNL({self.n_classes} classes, {self.n_products} products)"

    def probabilities(self, offered: Any) -> np.ndarray:
        """B×(N+1) purchase probabilities, column N = no purchase."""
        mask = offer_matrix(offered, self._ids)
        out = np.zeros((mask.shape[0], mask.shape[1] + 1))
        for w, v in zip(self.weights, self.utility, strict=True):
            out += w * logit_probabilities(mask, v)
        return out

    def sample_lists(self, counts: Any, seed: Any) -> Any:
        """Exact lists: class ∝ weights, then Plackett–Luce ∝ e^{v_c} (outside weight 1)."""
        w = np.ascontiguousarray(np.exp(self.utility))
        cum = np.cumsum(self.weights)
        return draw_stream(
            counts, seed, self.n_products, lambda rng, n: plackett_luce_lists(rng, n, cum, w)
        )

    def aligned(self, ids: Any) -> LatentClassMNL:
        perm = permutation(self._ids, ids)
        return LatentClassMNL(tuple(ids), self.weights, self.utility[:, perm])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "assortopt-choice/1",
            "model": "latent-class-mnl",
            "classes": [
                {
                    "weight": float(w),
                    "utility": {p: float(x) for p, x in zip(self._ids, v, strict=True)},
                }
                for w, v in zip(self.weights, self.utility, strict=True)
            ],
        }
