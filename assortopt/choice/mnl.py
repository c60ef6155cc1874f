"""The multinomial logit (MNL) model as a Markov chain (no-purchase weight 1).

With utilities (preference weights) u_i ≥ 0 and U = Σ u, the chain with
``λ_i = u_i / (1 + U)`` and ``ρ_ij = u_j / (1 + U − u_i)`` (j ≠ i) reproduces the MNL exactly:
``P_j(S) = u_j / (1 + Σ_{l∈S} u_l)`` for every offer set S (Blanchet, Gallego & Goyal). From any
product the odds among the other products and the exit are u_j : 1, so a customer's
preference list is a draw without replacement ∝ u that stops when the exit is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..exceptions import OptionError
from ..instance import Instance
from .protocol import ProductModel, draw_stream, offer_matrix, permutation
from .rankings import plackett_luce_lists

__all__ = [
    "MNLModel",
    "logit_probabilities",
    "mnl_choice_probabilities",
    "mnl_instance",
    "mnl_to_mc",
]


def _weights(u: Any) -> np.ndarray:
    w = np.asarray(u, dtype=np.float64)
    if w.ndim != 1:
        raise OptionError(f"MNL weights must be a 1-d array, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise OptionError("MNL weights must be finite and >= 0")
    return w


def mnl_to_mc(u: Any) -> tuple[np.ndarray, sp.csr_array]:
    """The Markov chain of an MNL with weights ``u`` (no-purchase weight 1).

    Returns ``(arrival (N,), transitions (csr N×N, zero diagonal))``. The chain is dense
    (N(N−1) entries): fine for N in the low thousands. Raises `OptionError` for negative or
    non-finite weights.
    """
    w = _weights(u)
    n = len(w)
    total = float(w.sum())
    arrival = w / (1.0 + total)
    rows = np.repeat(np.arange(n), n)
    cols = np.tile(np.arange(n), n)
    off = rows != cols
    rows, cols = rows[off], cols[off]
    vals = w[cols] / (1.0 + total - w[rows])
    rho = sp.csr_array((vals, (rows, cols)), shape=(n, n))
    rho.eliminate_zeros()
    rho.sort_indices()
    return arrival, rho


def mnl_choice_probabilities(u: Any, offered: Any) -> np.ndarray:
    """MNL purchase probabilities ``u_j / (1 + Σ_{l∈S} u_l)`` for j ∈ S, 0 elsewhere (N,).

    ``offered`` is a bool mask of length N or integer positions.
    """
    w = _weights(u)
    arr = np.asarray(offered)
    if arr.dtype == bool:
        if arr.shape != w.shape:
            raise OptionError(f"offered: a bool mask must have {len(w)} entries")
        mask = arr
    else:
        mask = np.zeros(len(w), dtype=bool)
        mask[arr.astype(np.int64).ravel()] = True
    p = np.where(mask, w, 0.0)
    return p / (1.0 + p.sum())


def mnl_instance(
    u: Any,
    price: Any,
    cost: Any,
    customers: float,
    *,
    ids: Any = None,
    distribution: str = "fixed",
    name: str = "mnl",
    **fields: Any,
) -> Instance:
    """An `Instance` whose choice model is the MNL with weights ``u`` (via `mnl_to_mc`).

    ``ids`` default to ``p0, p1, ...``; extra keyword arguments (salvage, fixed_cost,
    max_products, budget, metadata) go to `Instance`.
    """
    arrival, rho = mnl_to_mc(u)
    n = len(arrival)
    ids = tuple(f"p{i}" for i in range(n)) if ids is None else tuple(ids)
    meta = dict(fields.pop("metadata", {}) or {})
    meta.setdefault("choice_model", "mnl")
    meta.setdefault("mnl_weights", [float(x) for x in np.asarray(u, dtype=float)])
    return Instance(
        ids=ids,
        price=np.asarray(price, float),
        cost=np.asarray(cost, float),
        arrival=arrival,
        transitions=rho,
        customers_mean=customers,
        customers_distribution=distribution,  # type: ignore[arg-type]
        name=name,
        metadata=meta,
        **fields,
    )


class MNLModel(ProductModel):
    """The MNL as a `assortopt.choice.protocol.ChoiceModel`: utilities v (no-purchase 0),
    ``P(j | S) = e^{v_j} / (1 + Σ_{l∈S} e^{v_l})``.

    Its lists are exact: a Gumbel-perturbed utility order is the Plackett–Luce order, draws
    without replacement ∝ e^{v} with the no-purchase option (weight 1) in the urn
    (`assortopt.choice.rankings.plackett_luce_lists`). Its Markov chain is `mnl_to_mc`.
    """

    def __init__(self, ids: Any, utility: Any) -> None:
        self._ids = tuple(str(p) for p in ids)
        self.utility = np.ascontiguousarray(utility, dtype=np.float64)
        if self.utility.shape != (len(self._ids),):
            raise OptionError("MNLModel: one utility per product")
        if not np.all(np.isfinite(self.utility)):
            raise OptionError("MNLModel: utilities must be finite")

    @property
    def weights(self) -> np.ndarray:
        """Preference weights u = e^{v} (no-purchase weight 1)."""
        return np.exp(self.utility)

    def __repr__(self) -> str:
        return f"MNLModel({self.n_products} products)"

    def probabilities(self, offered: Any) -> np.ndarray:
        """B×(N+1) purchase probabilities, column N = no purchase."""
        return logit_probabilities(offer_matrix(offered, self._ids), self.utility)

    def sample_lists(self, counts: Any, seed: Any) -> Any:
        """Exact preference lists (Plackett–Luce draws ∝ e^{v}, outside weight 1)."""
        w = np.ascontiguousarray(self.weights[None, :])
        cum = np.ones(1)
        return draw_stream(
            counts, seed, self.n_products, lambda rng, n: plackett_luce_lists(rng, n, cum, w)
        )

    def aligned(self, ids: Any) -> MNLModel:
        perm = permutation(self._ids, ids)
        return MNLModel(tuple(ids), self.utility[perm])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "assortopt-choice/1",
            "model": "mnl",
            "utility": {p: float(v) for p, v in zip(self._ids, self.utility, strict=True)},
        }


def logit_probabilities(mask: np.ndarray, utility: np.ndarray) -> np.ndarray:
    """MNL P(j | S) for a B×N offer matrix and utilities v: B×(N+1), column N = no purchase.
    Computed with the largest utility factored out (no overflow for large v)."""
    top = max(0.0, float(np.max(utility))) if utility.size else 0.0
    e = np.where(mask, np.exp(utility - top)[None, :], 0.0)
    out = np.empty((mask.shape[0], mask.shape[1] + 1))
    den = np.exp(-top) + e.sum(axis=1)
    out[:, :-1] = e / den[:, None]
    out[:, -1] = np.exp(-top) / den
    return out
