"""The refined chain of a choice model: the fit's EM run on the model's own choice probabilities.

The Blanchet–Gallego–Goyal chain (`assortopt.choice.approx.bgg_chain`) matches a model on the
N + 1 sets "all" and "all but i" only. The refined chain is fitted to the model on many offer
sets: each training set S (the N + 1 BGG sets and ``n_sets`` random ones,
`assortopt.choice.approx.random_offer_sets`) becomes a group of the fit's grouped data with
cell (S, j) weighted by P(j | S) (one pseudo-visit per set, split by the model's probabilities).
EM (`assortopt.fit.em.fit_em`, warm-started from the BGG chain) then maximises
Σ_S Σ_j P(j | S) log Q(j | S), i.e. minimises the summed Kullback–Leibler divergence from the
model's P(· | S) to the chain's Q(· | S) over the training sets. EM never lowers that objective,
so the refined chain fits the training sets at least as well as BGG in that sense; for an MNL
both are the MNL chain (`mnl_to_mc`), which reproduces the model on every set. The comparison
on fresh random sets is in ``models/choice_models.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..choice.approx import bgg_chain, random_offer_sets
from ..choice.approx import to_markov_chain as bgg_to_markov_chain
from ..exceptions import OptionError
from ..instance import Instance
from .chain import DENSE_SUPPORT_MAX
from .data import SalesData, group_visits
from .em import ChainParams, fit_em

__all__ = ["REFINE_SETS", "refined_chain", "to_markov_chain", "training_data"]

#: random training sets of the refined chain by default (besides the N + 1 BGG sets)
REFINE_SETS = 200
_START_FLOOR = 1e-6  # every supported pair starts with at least this mass (EM keeps zeros at 0)


def training_data(model: Any, sets: np.ndarray) -> SalesData:
    """Grouped data of the offer sets ``sets`` (bool K×N): cell (S, j) weighted P(j | S)."""
    probs = model.probabilities(sets)
    out_sets = [np.flatnonzero(~s) for s in sets]
    k, j = np.nonzero(probs > 0)
    return group_visits(model.ids, out_sets, k, j, probs[k, j], has_no_purchase=True)


def refined_chain(
    model: Any,
    n_sets: int = REFINE_SETS,
    seed: int = 0,
    support: Any = "auto",
    tol: float = 1e-10,
    max_iter: int = 500,
    time_limit: float | None = None,
    info: dict[str, Any] | None = None,
) -> tuple[np.ndarray, sp.csr_array]:
    """``(arrival, transitions csr)`` of the chain fitted by EM to ``model`` on the N + 1 BGG
    sets and ``n_sets`` random offer sets drawn from ``seed``.

    ``support``: ``"auto"`` (every pair up to `DENSE_SUPPORT_MAX` products, else the BGG
    chain's pattern), ``"dense"``, ``"bgg"`` or a sparse N×N matrix whose pattern is used.
    Each E-step factorises I − ρ restricted to each training set's missing products, so the
    cost grows like ``n_sets`` × (N/2)³ per iteration: meant for catalogues of up to a few
    hundred products. ``info`` (a dict) receives the EM's iterations, time, stop reason and
    the objective before and after.
    """
    if n_sets < 0:
        raise OptionError(f"n_sets must be >= 0, got {n_sets}")
    n = model.n_products
    lam, rho = bgg_chain(model)
    if isinstance(support, str) and support == "auto":
        support = "dense" if n <= DENSE_SUPPORT_MAX else "bgg"
    if isinstance(support, str) and support == "dense":
        pattern = sp.csr_array(np.ones((n, n)) - np.eye(n))
    elif isinstance(support, str) and support == "bgg":
        pattern = sp.csr_array((rho != 0).astype(np.float64))
    elif sp.issparse(support):
        pattern = sp.csr_array((sp.csr_array(support) != 0).astype(np.float64))
        pattern.setdiag(0)
        pattern.eliminate_zeros()
    else:
        raise OptionError(f"support must be 'auto', 'dense', 'bgg' or a matrix, got {support!r}")
    sets = np.vstack(
        [np.ones((1, n), bool), ~np.eye(n, dtype=bool), random_offer_sets(n, n_sets, seed)]
    )
    data = training_data(model, sets)
    # start: BGG on the pattern; supported pairs BGG leaves at 0 get the floor (EM keeps zeros)
    on = sp.csr_array(pattern.multiply(rho))
    zero = sp.csr_array(pattern - pattern.multiply(sp.csr_array((rho != 0).astype(np.float64))))
    start = sp.csr_array(on + zero * _START_FLOOR)
    start.sort_indices()
    params = ChainParams.from_chain(np.where(lam > 0, lam, _START_FLOOR), start)
    params = params.normalised()
    res = fit_em(params, data, tol=tol, max_iter=max_iter, time_limit=time_limit)
    p = res.params
    out = p.rho()
    out.eliminate_zeros()
    out.sort_indices()
    if info is not None:
        info.update(
            {
                "iterations": res.iterations,
                "seconds": res.seconds,
                "stopped": res.stopped,
                "objective_start": res.history[0],
                "objective": res.loglik,
                "training_sets": int(sets.shape[0]),
                "seed": int(seed),
            }
        )
    return p.arrival, sp.csr_array(out)


def to_markov_chain(
    model: Any,
    catalogue: Any,
    customers: float,
    distribution: str = "fixed",
    *,
    method: str = "bgg",
    name: str = "",
    max_products: int | None = None,
    budget: float | None = None,
    n_sets: int = REFINE_SETS,
    seed: int = 0,
) -> Instance:
    """An `Instance` whose chain summarises ``model``: ``method="bgg"`` the
    Blanchet–Gallego–Goyal chain (`assortopt.choice.approx.to_markov_chain`), ``"refined"``
    the chain EM fits to the model on ``n_sets`` random offer sets (`refined_chain`)."""
    if method not in ("bgg", "refined"):
        raise OptionError(f"method must be bgg or refined, got {method!r}")
    kw = {"name": name, "max_products": max_products, "budget": budget}
    if method == "bgg":
        return bgg_to_markov_chain(model, catalogue, customers, distribution, **kw)
    model = model.aligned(catalogue.ids) if tuple(model.ids) != tuple(catalogue.ids) else model
    info: dict[str, Any] = {}
    chain = refined_chain(model, n_sets=n_sets, seed=seed, info=info)
    inst = bgg_to_markov_chain(model, catalogue, customers, distribution, chain=chain, **kw)
    inst.metadata["refined"] = info
    return inst
