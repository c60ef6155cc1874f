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

__all__ = ["mnl_choice_probabilities", "mnl_instance", "mnl_to_mc"]


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
