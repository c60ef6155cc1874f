"""Benchmark families whose customers follow a true random-utility model (not a chain).

``generate_truth(family, n, customers, seed, **params)`` returns ``(instance, model)``: the
instance's chain is the Blanchet–Gallego–Goyal chain of the true ``model``
(`assortopt.choice.approx.to_markov_chain`), so methods plan on the chain, and every plan can
then be judged under the model. Economics and first-choice popularity come from the ``mnl``
family of `assortopt.generators` (heavy-tailed weights u_i = λ_i/λ_0, the common parameters
tail, alpha, margin, price, no_purchase, ...); the model then bends that MNL:

``latent-class``
    ``classes`` classes with Dirichlet(1) weights; class c has utilities log u_i + ``spread``·z_ci
    (z standard normal): segments that disagree about which products are good.
``nested-logit``
    products shuffled into nests of sizes uniform in ``nest_size``, dissimilarities uniform in
    ``dissimilarity``, utilities log u_i: strong substitution inside nests.
``ranked-lists``
    ``types_per_product``·N types (at least N): type i < N starts at product i, the others at a
    product drawn ∝ u; each list continues with Poisson(``list_length`` − 1) further products
    drawn ∝ u without replacement. Type weights ∝ u of the first product, summing to 1 − λ_0,
    so every product is someone's first choice and popularity keeps the heavy tail.

The instance's ``metadata`` holds the model (``truth``, its file form) and the chain's
approximation error on 20 random offer sets (``approximation_error``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .choice.approx import approximation_error, to_markov_chain
from .choice.latent_class import LatentClassMNL
from .choice.nested import NestedLogit
from .choice.ranked_lists import RankedLists
from .exceptions import OptionError
from .generators import generate
from .instance import Instance

__all__ = ["TRUTH_FAMILIES", "generate_truth"]

#: family → its own parameters with defaults (the generators' common parameters also apply)
TRUTH_FAMILIES: dict[str, dict[str, Any]] = {
    "latent-class": {"classes": 3, "spread": 1.0},
    "nested-logit": {"nest_size": [5, 20], "dissimilarity": [0.3, 0.8]},
    "ranked-lists": {"types_per_product": 2, "list_length": 3.0},
}


def _model(family: str, ids: tuple[str, ...], u: np.ndarray, lam0: float, rng, p) -> Any:
    n = len(ids)
    v = np.log(u)
    if family == "latent-class":
        c = int(p["classes"])
        if c < 1:
            raise OptionError("latent-class: classes must be >= 1")
        w = rng.dirichlet(np.ones(c))
        return LatentClassMNL(ids, w, v[None, :] + float(p["spread"]) * rng.standard_normal((c, n)))
    if family == "nested-logit":
        lo, hi = (int(x) for x in p["nest_size"])
        order = rng.permutation(n)
        nest = np.empty(n, dtype=np.int64)
        start, m = 0, 0
        while start < n:
            size = int(rng.integers(lo, hi + 1))
            nest[order[start : start + size]] = m
            start += size
            m += 1
        tlo, thi = (float(x) for x in p["dissimilarity"])
        return NestedLogit(ids, v, nest, rng.uniform(tlo, thi, m))
    k = max(n, int(round(float(p["types_per_product"]) * n)))
    probs = u / u.sum()
    first = np.concatenate([np.arange(n), rng.choice(n, size=k - n, p=probs)])
    lists = []
    for f in first:
        length = min(n, 1 + int(rng.poisson(max(0.0, float(p["list_length"]) - 1.0))))
        rest = np.delete(np.arange(n), f)
        pr = probs[rest] / probs[rest].sum() if n > 1 else None
        lists.append(np.concatenate([[f], rng.choice(rest, size=length - 1, replace=False, p=pr)]))
    w = u[first] / u[first].sum() * (1.0 - lam0)
    return RankedLists(ids, w, lists)


def generate_truth(
    family: str, n_products: int, customers: float, seed: int, **params: Any
) -> tuple[Instance, Any]:
    """``(instance on the true model's BGG chain, true model)``; see the module docstring.
    Raises `OptionError` for an unknown family or parameter."""
    if family not in TRUTH_FAMILIES:
        raise OptionError(f"unknown family {family!r} (choose {', '.join(TRUTH_FAMILIES)})")
    own = dict(TRUTH_FAMILIES[family])
    for key in list(params):
        if key in own:
            own[key] = params.pop(key)
    params.pop("leave", None)  # the mnl base sets exits through no_purchase
    name = params.pop("name", None) or f"{family}-n{n_products}-t{customers:g}-s{seed}"
    base = generate("mnl", n_products, customers, seed, **params)
    lam0 = base.no_purchase
    u = base.arrival / lam0
    rng = np.random.default_rng([int(seed), 17])
    model = _model(family, base.ids, u, lam0, rng, own)
    inst = to_markov_chain(
        model,
        base,
        base.customers_mean,
        base.customers_distribution,
        name=name,
        max_products=base.max_products,
        budget=base.budget,
    )
    inst.metadata["truth"] = model.to_dict()
    inst.metadata["approximation_error"] = approximation_error(model, inst, 20, seed)
    return inst, model
