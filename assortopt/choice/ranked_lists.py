"""Ranked lists (the nonparametric rank-based model): customer types with weights, each a list.

A type-k customer (probability w_k, Σ w ≤ 1; the rest buy nothing) buys the first available
product of her list, so ``P(j | S) = Σ_{k : first of list_k in S is j} w_k``. Her preference
list is her type's list itself: sampling is a draw of the type, exact by definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import OptionError
from .protocol import ProductModel, draw_stream, offer_matrix, permutation

__all__ = ["RankedLists"]


class RankedLists(ProductModel):
    """A `assortopt.choice.protocol.ChoiceModel`: ``weights`` (K,) and ``lists`` (K lists of
    product positions, no repeats)."""

    def __init__(self, ids: Any, weights: Any, lists: Any) -> None:
        self._ids = tuple(str(p) for p in ids)
        n = len(self._ids)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64).ravel()
        lists = [np.asarray(lst, dtype=np.int64).ravel() for lst in lists]
        if len(lists) != len(self.weights):
            raise OptionError("RankedLists: one weight per list")
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0):
            raise OptionError("RankedLists: weights must be finite and >= 0")
        if self.weights.sum() > 1.0 + 1e-9:
            raise OptionError("RankedLists: weights must sum to at most 1")
        for lst in lists:
            if lst.size and (lst.min() < 0 or lst.max() >= n or len(set(lst.tolist())) < lst.size):
                raise OptionError("RankedLists: a list has an unknown or repeated product")
        self.ptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
        self.items = (
            np.concatenate(lists).astype(np.int32) if lists else np.zeros(0, dtype=np.int32)
        )

    @property
    def lists(self) -> list[np.ndarray]:
        return [self.items[self.ptr[k] : self.ptr[k + 1]] for k in range(len(self.weights))]

    def __repr__(self) -> str:
        return f"RankedLists({len(self.weights)} types, {self.n_products} products)"

    def probabilities(self, offered: Any) -> np.ndarray:
        """B×(N+1): each type's weight goes to the first offered product of its list."""
        mask = offer_matrix(offered, self._ids)
        b, n = mask.shape
        out = np.zeros((b, n + 1))
        rows = np.arange(b)
        for w, lst in zip(self.weights, self.lists, strict=True):
            if lst.size == 0:
                out[:, n] += w
                continue
            hit = mask[:, lst]
            first = np.where(hit.any(axis=1), lst[np.argmax(hit, axis=1)], n)
            np.add.at(out, (rows, first), w)
        out[:, n] += max(0.0, 1.0 - float(self.weights.sum()))
        return out

    def sample_lists(self, counts: Any, seed: Any) -> Any:
        """Each customer's type ∝ weights (no type, an empty list, with the remaining mass)."""
        cum = np.cumsum(self.weights)
        lens_t = np.diff(self.ptr)

        def block(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
            k = np.searchsorted(cum, rng.random(size), side="right")  # len(cum): no type
            lengths = np.append(lens_t, 0)[k]
            starts = self.ptr[k]
            offs = np.concatenate([[0], np.cumsum(lengths)])
            idx = np.repeat(starts - offs[:-1], lengths) + np.arange(offs[-1])
            return lengths, self.items[idx]

        return draw_stream(counts, seed, self.n_products, block)

    def aligned(self, ids: Any) -> RankedLists:
        """Products renumbered in the order of ``ids``, which may add products that no list
        holds (nobody wants them); every product of a list must be in ``ids``."""
        ids = tuple(ids)
        extra = [p for p in ids if p not in set(self._ids)]
        perm = permutation(self._ids + tuple(extra), ids)
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        return RankedLists(ids, self.weights, [inv[lst] for lst in self.lists])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "assortopt-choice/1",
            "model": "ranked-lists",
            "types": [
                {"weight": float(w), "list": [self._ids[i] for i in lst]}
                for w, lst in zip(self.weights, self.lists, strict=True)
            ],
        }
