"""The Markov chain of any choice model (Blanchet, Gallego & Goyal) and what it costs.

From the model's probabilities on the N + 1 offer sets "all products" and "all but i":

    λ_i = P(i | N),     ρ_ij = (P(j | N∖{i}) − P(j | N)) / P(i | N)   (j ≠ i),

and ρ_i0 = 1 − Σ_j ρ_ij = (P(0 | N∖{i}) − P(0 | N)) / P(i | N). The chain reproduces the model
on those N + 1 sets by construction and is exact on every set for MNL (it is then `mnl_to_mc`).
For a random-utility model removing a product never lowers another's probability, so ρ ≥ 0
and rows sum to at most 1; round-off below zero is clipped. A product nobody buys first
(P(i | N) = 0) gets arrival 0 and an empty row (customers who reach it leave): the
construction has no information about it. `approximation_error` measures the chain against
the model on random offer sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..exceptions import OptionError
from ..instance import Instance, _check_can_leave, _Checker
from ..rng import as_generator
from .mc import chain_probabilities

__all__ = ["approximation_error", "bgg_chain", "to_markov_chain"]


def bgg_chain(model: Any) -> tuple[np.ndarray, sp.csr_array]:
    """``(arrival (N,), transitions csr N×N)`` of the Blanchet–Gallego–Goyal chain of
    ``model`` (any `ChoiceModel`); N + 1 probability evaluations, dense N×N work."""
    n = model.n_products
    full = model.probabilities(np.ones((1, n), dtype=bool))[0]
    loo = model.probabilities(~np.eye(n, dtype=bool))  # row i: all but i
    lam = np.clip(full[:n], 0.0, 1.0)
    diff = loo[:, :n] - full[None, :n]
    np.fill_diagonal(diff, 0.0)
    scale = np.maximum(np.abs(loo[:, :n]), full[None, :n])
    diff[diff < 0] = np.where(diff[diff < 0] > -1e-9 * scale[diff < 0] - 1e-15, 0.0, np.nan)
    if np.isnan(diff).any():
        i, j = np.argwhere(np.isnan(diff))[0]
        raise OptionError(
            f"removing product {model.ids[i]} lowers P({model.ids[j]}): not a random-utility "
            "model, no Blanchet-Gallego-Goyal chain"
        )
    pos = lam > 0
    rho = np.zeros((n, n))
    rho[pos] = diff[pos] / lam[pos, None]
    sums = rho.sum(axis=1)
    over = sums > 1.0
    rho[over] /= sums[over, None]  # round-off only: a RUM's rows sum to at most 1
    if lam.sum() > 1.0:
        lam = lam / lam.sum()
    out = sp.csr_array(rho)
    out.eliminate_zeros()
    out.sort_indices()
    return lam, out


def to_markov_chain(
    model: Any,
    catalogue: Any,
    customers: float,
    distribution: str = "fixed",
    *,
    name: str = "",
    max_products: int | None = None,
    budget: float | None = None,
    chain: tuple[np.ndarray, sp.csr_array] | None = None,
) -> Instance:
    """An `Instance` whose chain is the Blanchet–Gallego–Goyal chain of ``model`` (or
    ``chain`` = ``(arrival, transitions)`` when given, e.g. `assortopt.fit.refine`'s).

    ``catalogue`` is an `assortopt.catalogue.Catalogue` (or any object with ``ids``, ``price``,
    ``cost`` and optionally ``salvage``, ``fixed_cost``); the model is aligned to its ids.
    Raises `OptionError` when the products differ or customers could never leave the chain.
    """
    model = model.aligned(catalogue.ids) if tuple(model.ids) != tuple(catalogue.ids) else model
    lam, rho = bgg_chain(model) if chain is None else chain
    n = len(lam)
    sums = np.asarray(rho.sum(axis=1)).ravel()
    try:
        _check_can_leave(_Checker(None), rho, sums, tuple(catalogue.ids), "transitions")
    except Exception as exc:  # InstanceError: report it as a property of the model
        raise OptionError(f"the model's chain traps customers: {exc}") from None
    if distribution not in ("fixed", "poisson"):
        raise OptionError(f"distribution must be fixed or poisson, got {distribution!r}")
    if not customers > 0 or (distribution == "fixed" and customers != int(customers)):
        raise OptionError(f"customers must be > 0 (an integer when fixed), got {customers}")
    zeros = np.zeros(n)
    meta = {
        "choice_model": model.to_dict().get("model", type(model).__name__),
        "bgg": chain is None,
    }
    return Instance(
        ids=tuple(catalogue.ids),
        price=np.asarray(catalogue.price, float),
        cost=np.asarray(catalogue.cost, float),
        salvage=np.asarray(getattr(catalogue, "salvage", zeros), float),
        fixed_cost=np.asarray(getattr(catalogue, "fixed_cost", zeros), float),
        arrival=lam,
        transitions=rho,
        customers_mean=int(customers) if distribution == "fixed" else float(customers),
        customers_distribution=distribution,  # type: ignore[arg-type]
        max_products=max_products,
        budget=budget,
        name=name,
        metadata=meta,
    )


def random_offer_sets(n: int, n_sets: int, seed: Any) -> np.ndarray:
    """``n_sets`` offer sets (bool, n_sets×n): each set's share of offered products is
    uniform on (0, 1), then each product is offered independently with that share."""
    rng = as_generator(seed)
    share = rng.random((n_sets, 1))
    sets = rng.random((n_sets, n)) < share
    empty = ~sets.any(axis=1)
    sets[empty, rng.integers(0, n, size=int(empty.sum()))] = True
    return sets


def approximation_error(
    model: Any, inst: Instance, n_sets: int = 100, seed: int = 0
) -> dict[str, Any]:
    """Max and mean absolute error of the chain's P(j | S) against the model's, over
    ``n_sets`` random offer sets (`random_offer_sets`) and every option j ∈ S ∪ {0}."""
    if n_sets < 1:
        raise OptionError(f"n_sets must be >= 1, got {n_sets}")
    model = model.aligned(inst.ids) if tuple(model.ids) != inst.ids else model
    sets = random_offer_sets(inst.n, n_sets, seed)
    truth = model.probabilities(sets)
    rho = inst.transitions.toarray() if inst.n <= 2000 else inst.transitions
    errs = []
    for b, s in enumerate(sets):
        p, _, p0 = chain_probabilities(inst.arrival, rho, s)
        errs.append(np.abs(np.append(p[s], p0) - np.append(truth[b, :-1][s], truth[b, -1])))
    e = np.concatenate(errs)
    return {
        "max_abs": float(e.max()),
        "mean_abs": float(e.mean()),
        "n_sets": int(n_sets),
        "seed": int(seed),
    }
