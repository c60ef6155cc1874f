"""The one small protocol every choice model speaks (`ChoiceModel`), and the helpers it shares.

A choice model over products ``ids`` (position i is ``ids[i]``) gives

* ``probabilities(offered)``: P(j | S) for a batch of offer sets. ``offered`` is a bool matrix
  B×N (or one bool vector of length N, or one list of ids); the result is B×(N+1): column j < N
  is product j (0 when j is not offered), **column N is the no-purchase option**, so the
  product columns keep the products' positions. Each row sums to 1.
* ``sample_lists(counts, seed) -> Stream``: each customer's exact preference list, the products
  she ranks above no-purchase, best first (`assortopt.sampling.ListSampler`). Under any
  availability she buys the first product of her list in stock, which is her choice under the
  model, so the simulator and the sample-path programs consume any model unchanged.
* ``to_dict()``: the model's file form (``assortopt-choice/1``, see `assortopt.choice.files`).
* ``aligned(ids)``: the same model with its products renumbered in the order of ``ids`` (the
  same set of ids), so that positions match an instance's.

Samplers draw customers in blocks of `BLOCK_CUSTOMERS`; block b uses a ``numpy`` generator
seeded with child seed b of ``seed`` (`assortopt.rng.child_seeds`), so a stream depends only on
the seed and the counts, never on how it is consumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..exceptions import OptionError
from ..rng import child_seeds
from ..streams import Stream

__all__ = [
    "BLOCK_CUSTOMERS",
    "ChoiceModel",
    "ProductModel",
    "draw_stream",
    "offer_matrix",
    "permutation",
]

#: Customers per sampling block (fixed: part of the meaning of a seed).
BLOCK_CUSTOMERS = 1 << 16


@runtime_checkable
class ChoiceModel(Protocol):
    """A model of how customers choose among offered products (see the module docstring)."""

    @property
    def ids(self) -> tuple[str, ...]: ...

    @property
    def n_products(self) -> int: ...

    def probabilities(self, offered: Any) -> np.ndarray:
        """P(j | S) for each offer set: B×(N+1), column N = no purchase."""
        ...

    def sample_lists(self, counts: np.ndarray, seed: Any) -> Stream:
        """Scenario k gets ``counts[k]`` customers, each her exact preference list."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The model's file form (``assortopt-choice/1``)."""
        ...

    def aligned(self, ids: Any) -> ChoiceModel:
        """The same model with products in the order of ``ids``."""
        ...


class ProductModel:
    """Base of the models here: the product ids (``self._ids``, set by the subclass) and their
    count, the part of `ChoiceModel` every model answers the same way."""

    _ids: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids

    @property
    def n_products(self) -> int:
        return len(self._ids)


def offer_matrix(offered: Any, ids: tuple[str, ...]) -> np.ndarray:
    """Offer sets as a B×N bool matrix: from a B×N (or length-N) bool array, an integer
    position array, or a list of ids (one set). Raises `OptionError` for anything else."""
    n = len(ids)
    arr = np.asarray(offered) if not isinstance(offered, list | tuple) else None
    if arr is None:
        if all(isinstance(x, str) for x in offered):
            index = {p: i for i, p in enumerate(ids)}
            mask = np.zeros((1, n), dtype=bool)
            for p in offered:
                if p not in index:
                    raise OptionError(f"offered: unknown product {p!r}")
                mask[0, index[p]] = True
            return mask
        arr = np.asarray(offered)
    if arr.dtype == bool:
        mask = np.atleast_2d(arr)
        if mask.ndim != 2 or mask.shape[1] != n:
            raise OptionError(f"offered: a bool mask must have {n} columns, got {arr.shape}")
        return mask
    if arr.size == 0 or np.issubdtype(arr.dtype, np.integer):
        mask = np.zeros((1, n), dtype=bool)
        mask[0, arr.astype(np.int64).ravel()] = True
        return mask
    raise OptionError("offered: a bool mask, integer positions or a list of ids")


def permutation(own: tuple[str, ...], ids: Any) -> np.ndarray:
    """Positions in ``own`` of each id of ``ids`` (the same set); `OptionError` otherwise."""
    ids = tuple(ids)
    index = {p: i for i, p in enumerate(own)}
    if len(ids) != len(own) or set(ids) != set(own):
        extra = sorted(set(ids) - set(own))[:3]
        missing = sorted(set(own) - set(ids))[:3]
        raise OptionError(
            "the model and the instance have different products"
            + (f"; not in the model: {', '.join(extra)}" if extra else "")
            + (f"; not in the instance: {', '.join(missing)}" if missing else "")
        )
    return np.array([index[p] for p in ids], dtype=np.int64)


def _entropy(seed: Any) -> np.random.SeedSequence | int:
    if seed is None:
        raise OptionError("an explicit seed is required (got None)")
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63 - 1))
    return int(seed)


def draw_stream(
    counts: Any,
    seed: Any,
    n_products: int,
    block: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]],
) -> Stream:
    """A stream from a block sampler: ``block(rng, size)`` returns ``(lengths (size,), items)``
    for ``size`` independent customers; block b gets ``default_rng(child_seeds(seed)[b])``."""
    counts = np.ascontiguousarray(counts, dtype=np.int64).ravel()
    if np.any(counts < 0):
        raise OptionError("customer counts must be >= 0")
    total = int(counts.sum())
    n_blocks = -(-total // BLOCK_CUSTOMERS)
    seeds = child_seeds(_entropy(seed), n_blocks) if n_blocks else []
    lens, parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
    for b in range(n_blocks):
        size = min(BLOCK_CUSTOMERS, total - b * BLOCK_CUSTOMERS)
        ln, it = block(np.random.default_rng(int(seeds[b])), size)
        lens.append(np.asarray(ln, dtype=np.int64))
        parts.append(np.asarray(it, dtype=np.int32))
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lens), dtype=np.int64)])
    so = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    return Stream(offsets, np.concatenate(parts), so, n_products)
