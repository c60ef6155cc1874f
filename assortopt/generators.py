"""Instance generators: heavy-tailed first-choice demand and several substitution structures.

``generate(family, n_products, customers, seed, **params)`` builds an `Instance`; the family fixes
how unsatisfied customers substitute (the transition matrix ρ), the common parameters fix
everything else (arrivals, prices, costs, customers, constraints). The catalogue size N and the
number of customers T are independent, so with a heavy tail most products can sit in the long tail
(T·λ_i < 1), the regime the paper's assortment step targets (README.md).

Families (``FAMILIES``):

``mnl``
    The Markov chain induced by an MNL model (exact; `assortopt.choice.mnl`): utilities
    ``u = U·w/Σw`` with ``U = (1 − λ0)/λ0``, so λ_i = u_i/(1+U), ρ_ij = u_j/(1+U−u_i). Dense.
    The share who leave is fixed by ``no_purchase`` (exit_i = 1/(1+U−u_i)); ``leave`` is refused.
``dense``
    Every product substitutes to every other: exit_i ~ ``leave``, the rest split ∝ Exp(1)
    (``weights="exp"``) or ∝ λ_j (``weights="arrival"``). N² entries: N ≤ 5,000.
``sparse``
    ``k`` (default 8) distinct random neighbours per product, split ∝ Exp(1) or ∝ λ_j.
``cluster``
    Products in random categories of ``category_size`` (default 5–20) products; a share
    ``inside`` (default U[0.8, 0.95]) of each row's substitution mass goes to the rest of the
    category (∝ Exp(1)), the remainder to ``k_out`` (default 3) random products outside it.
``vertical``
    A sorted attribute (e.g. cocoa percentage, ``attribute`` range, default 50–100): product i
    substitutes to the ``width`` (default 3) nearest products on each side of the attribute order,
    mass ∝ ``decay`` (default 0.5) to the power of the distance in that order.
``online``
    The Markov chain calibrated to a multi-step online choice model (search, examination, MNL);
    see `generate_online`, which also returns the ground-truth model
    (`assortopt.choice.online.OnlineChoiceModel`), and ``ONLINE_DEFAULTS`` for its parameters.

Common parameters (all optional): ``tail`` ("zipf" with ``alpha``, "pareto" with ``shape``,
"lognormal" with ``sigma``), ``no_purchase`` (λ0, default 0.3), ``leave`` (exit probability of
every product, a number or a ``[lo, hi]`` range drawn uniformly per product; default
``[0.1, 0.6]``), ``margin`` ("low"|"medium"|"high": cost = κ·price with κ = 0.8/0.5/0.2, or a
number κ), ``price`` (``[lo, hi]`` uniform, default ``[1, 10]``), ``salvage`` (fraction of cost,
default 0), ``fixed_cost`` (a number or ``[lo, hi]``, default 0), ``distribution``
("fixed"|"poisson"), ``max_products``, ``budget`` (a number, or ``budget_share``: that share of
the cost of stocking every product at its mean first-choice demand), ``name``.

Products are numbered by popularity rank: ``p0001`` has the largest λ. Every random part (arrivals,
prices, substitution) has its own child seed, so changing the margin regime, say, keeps the same
substitution structure. The generator's family, seed and resolved parameters are recorded in
``metadata["generator"]``, so ``generate(**metadata["generator"])`` rebuilds the instance and the
saved file is byte-identical. Per-product facts of the structure are kept in the metadata too:
``utilities`` (mnl), ``category`` labels (cluster), ``attribute`` values (vertical), in product
order.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .choice.mnl import mnl_to_mc
from .choice.online import OnlineChoiceModel, calibration_error, examination_probabilities
from .choice.online_io import write_generated
from .exceptions import OptionError
from .instance import Instance

__all__ = [
    "FAMILIES",
    "COMMON_DEFAULTS",
    "ONLINE_DEFAULTS",
    "generate",
    "generate_file",
    "generate_online",
    "heavy_tail_weights",
    "parse_params",
]

COMMON_DEFAULTS: dict[str, Any] = {
    "tail": "zipf",
    "alpha": 1.0,
    "shape": 1.5,
    "sigma": 1.5,
    "no_purchase": 0.3,
    "leave": [0.1, 0.6],
    "margin": "medium",
    "price": [1.0, 10.0],
    "salvage": 0.0,
    "fixed_cost": 0.0,
    "distribution": "fixed",
    "max_products": None,
    "budget": None,
    "budget_share": None,
    "name": None,
}
_MARGINS = {"low": 0.8, "medium": 0.5, "high": 0.2}
_DENSE_LIMIT = 5000

# child seed streams: one per random part of an instance
_ARRIVAL, _PRICE, _SUBST, _EXTRA = range(4)


# ====================================================================== building blocks
def heavy_tail_weights(
    n: int,
    tail: str,
    rng: np.random.Generator,
    alpha: float = 1.0,
    shape: float = 1.5,
    sigma: float = 1.5,
) -> np.ndarray:
    """Positive popularity weights in decreasing order (rank 1 first), summing to 1.

    ``zipf``: w_r ∝ r^(−alpha) (deterministic). ``pareto``: sorted draws of a Pareto(shape) with
    minimum 1 (rank-size slope −1/shape on log-log). ``lognormal``: sorted exp(sigma·Z).
    """
    if tail == "zipf":
        if not alpha >= 0:
            raise OptionError(f"alpha must be >= 0, got {alpha}")
        w = np.arange(1, n + 1, dtype=np.float64) ** (-float(alpha))
    elif tail == "pareto":
        if not shape > 0:
            raise OptionError(f"shape must be > 0, got {shape}")
        w = np.sort(rng.pareto(float(shape), n) + 1.0)[::-1]
    elif tail == "lognormal":
        if not sigma >= 0:
            raise OptionError(f"sigma must be >= 0, got {sigma}")
        w = np.sort(np.exp(float(sigma) * rng.standard_normal(n)))[::-1]
    else:
        raise OptionError(f"unknown tail {tail!r} (choose zipf, pareto or lognormal)")
    # math.fsum is correctly rounded: numpy's SIMD sum differs in the last bit between CPUs,
    # and the shipped instance files must regenerate byte for byte everywhere
    return np.ascontiguousarray(w / math.fsum(w))


def _range_or_value(x: Any, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """A number → that value for every product; ``[lo, hi]`` → uniform draws per product."""
    if isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool):
        return np.full(n, float(x))
    try:
        lo, hi = (float(v) for v in x)
    except (TypeError, ValueError):
        raise OptionError(f"{what} must be a number or a [lo, hi] pair, got {x!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise OptionError(f"{what} range must have finite lo <= hi, got {x!r}")
    return rng.uniform(lo, hi, n)


def _exit_probs(leave: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    ex = _range_or_value(leave, n, rng, "leave")
    if np.any(ex <= 0) or np.any(ex > 1):
        raise OptionError(
            f"leave must lie in (0, 1] (customers must be able to leave), got {leave!r}"
        )
    return ex


def _rows_to_csr(
    n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, mass: np.ndarray
) -> sp.csr_array:
    """CSR with row i's entries scaled to sum to ``mass[i]`` (rows without entries stay empty)."""
    rows = np.asarray(rows, dtype=np.int64)
    sums = np.bincount(rows, weights=weights, minlength=n)
    scale = np.divide(mass, sums, out=np.zeros(n), where=sums > 0)
    vals = weights * scale[rows]
    return sp.csr_array((vals, (rows, np.asarray(cols, dtype=np.int64))), shape=(n, n))


def random_neighbours(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """An (n, min(k, n−1)) array: for each product, distinct random others (never itself).

    Small n: a random permutation of the others per row. Large n: uniform draws with the rare
    rows holding a repeat drawn again (vectorised; about k²/2n of the rows per round).
    """
    k = min(int(k), n - 1)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64)
    if n * n <= 4_000_000:
        keys = rng.random((n, n))
        np.fill_diagonal(keys, np.inf)
        return np.argpartition(keys, k - 1, axis=1)[:, :k].astype(np.int64)
    out = np.empty((n, k), dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        draw = rng.integers(0, n - 1, size=(todo.size, k))
        draw += draw >= todo[:, None]  # skip the product itself
        s = np.sort(draw, axis=1)
        ok = np.all(s[:, 1:] != s[:, :-1], axis=1)
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return out


def _weights(kind: str, cols: np.ndarray, arrival: np.ndarray, rng: np.random.Generator):
    if kind == "exp":
        return rng.exponential(1.0, cols.shape)
    if kind == "arrival":
        return arrival[cols] + 1e-300
    if kind == "uniform":
        return np.ones(cols.shape)
    raise OptionError(f"weights must be exp, arrival or uniform, got {kind!r}")


# ====================================================================== substitution families
def _subst_dense(n, arrival, rng, p):
    if n > _DENSE_LIMIT:
        raise OptionError(f"the dense family stores N² transitions; use N <= {_DENSE_LIMIT}")
    exit_ = _exit_probs(p["leave"], n, rng)
    rows = np.repeat(np.arange(n), n)
    cols = np.tile(np.arange(n), n)
    off = rows != cols
    rows, cols = rows[off], cols[off]
    w = _weights(p["weights"], cols, arrival, rng)
    return _rows_to_csr(n, rows, cols, w, 1.0 - exit_)


def _subst_sparse(n, arrival, rng, p):
    k = int(p["k"])
    if k < 0:
        raise OptionError(f"k must be >= 0, got {k}")
    exit_ = _exit_probs(p["leave"], n, rng)
    nb = random_neighbours(n, k, rng)
    rows = np.repeat(np.arange(n), nb.shape[1])
    cols = nb.ravel()
    w = _weights(p["weights"], cols, arrival, rng)
    return _rows_to_csr(n, rows, cols, w, 1.0 - exit_)


def categories(n: int, size: Any, rng: np.random.Generator) -> np.ndarray:
    """Random category labels 0..C−1 for n products, category sizes uniform in ``size``.

    Products are shuffled before being cut into categories, so categories mix popular and
    long-tail products. A last category smaller than 2 is merged into the previous one.
    """
    lo, hi = (int(v) for v in size)
    if not 1 <= lo <= hi:
        raise OptionError(f"category_size must be [lo, hi] with 1 <= lo <= hi, got {size!r}")
    sizes = rng.integers(lo, hi + 1, size=n // lo + 1)
    cut = np.cumsum(sizes)
    m = int(np.searchsorted(cut, n)) + 1
    sizes = sizes[:m].copy()
    sizes[-1] = n - (cut[m - 2] if m > 1 else 0)
    if m > 1 and sizes[-1] < 2:
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    labels = np.repeat(np.arange(sizes.size), sizes)
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = labels
    return out


def _subst_cluster(n, arrival, rng, p):
    exit_ = _exit_probs(p["leave"], n, rng)
    cat = categories(n, p["category_size"], rng)
    inside = _range_or_value(p["inside"], n, rng, "inside")
    if np.any(inside < 0) or np.any(inside > 1):
        raise OptionError(f"inside must lie in [0, 1], got {p['inside']!r}")
    # inside pairs: every ordered pair within a category
    order = np.argsort(cat, kind="stable")
    sizes = np.bincount(cat)
    start = np.concatenate([[0], np.cumsum(sizes)])[cat[order]]
    sz = sizes[cat[order]]
    rows_in = np.repeat(order, sz)
    pos = np.arange(rows_in.size) - np.repeat(np.cumsum(sz) - sz, sz)
    cols_in = order[np.repeat(start, sz) + pos]
    keep = rows_in != cols_in
    rows_in, cols_in = rows_in[keep], cols_in[keep]
    # outside: k_out random products of other categories
    k_out = int(p["k_out"])
    n_other = n - sizes[cat]
    k_eff = np.minimum(k_out, n_other)
    rows_out = np.repeat(np.arange(n), k_eff)
    cols_out = np.full(rows_out.size, -1, dtype=np.int64)
    todo = np.arange(rows_out.size)
    while todo.size:  # rejection: wrong category or a repeat within the row is drawn again
        cand = rng.integers(0, n, size=todo.size)
        ok = cat[cand] != cat[rows_out[todo]]
        cols_out[todo[ok]] = cand[ok]
        key = rows_out * n + cols_out
        srt = np.argsort(key, kind="stable")
        dup = np.zeros(key.size, dtype=bool)
        dup[srt[1:]] = (key[srt[1:]] == key[srt[:-1]]) & (cols_out[srt[1:]] >= 0)
        todo = np.flatnonzero((cols_out < 0) | dup)
    has_in = sizes[cat] > 1
    has_out = k_eff > 0
    mass = 1.0 - exit_
    share_in = np.where(has_out, np.where(has_in, inside, 0.0), 1.0)
    w_in = _weights(p["weights"], cols_in, arrival, rng)
    w_out = _weights(p["weights"], cols_out, arrival, rng)
    rin = _rows_to_csr(n, rows_in, cols_in, w_in, mass * share_in)
    rout = _rows_to_csr(n, rows_out, cols_out, w_out, mass * (1.0 - share_in))
    return (rin + rout).tocsr(), {"category": cat}


def _subst_vertical(n, arrival, rng, p):
    exit_ = _exit_probs(p["leave"], n, rng)
    lo, hi = (float(v) for v in p["attribute"])
    attr = rng.uniform(lo, hi, n)
    width, decay = int(p["width"]), float(p["decay"])
    if width < 1 or not 0 < decay <= 1:
        raise OptionError("vertical needs width >= 1 and 0 < decay <= 1")
    order = np.argsort(attr, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    offs = np.concatenate([np.arange(-width, 0), np.arange(1, width + 1)])
    r2 = rank[:, None] + offs[None, :]
    ok = (r2 >= 0) & (r2 < n)
    rows = np.broadcast_to(np.arange(n)[:, None], r2.shape)[ok]
    cols = order[r2[ok]]
    w = decay ** (np.abs(np.broadcast_to(offs, r2.shape)[ok]) - 1.0)
    return _rows_to_csr(n, rows, cols, w, 1.0 - exit_), {"attribute": attr}


ONLINE_DEFAULTS: dict[str, Any] = {
    "queries_per_product": 0.5,
    "query_alpha": 1.0,
    "list_length": 10,
    "examination": "log",
    "top_k": 5,
    "category_size": [5, 20],
    "outside_share": 0.2,
    "relevance_noise": 1.0,
    "mode": "auto",
    "samples": 200_000,
    "error_sets": 20,
}


def _build_queries(
    n: int, v: np.ndarray, rng: np.random.Generator, p: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Result lists: each category gets queries; a list holds mostly products of its category
    (every product anchored in at least one list) plus a share from elsewhere, ranked by
    relevance log v + Gumbel noise."""
    length = int(p["list_length"])
    if length < 1:
        raise OptionError(f"list_length must be >= 1, got {length}")
    share = float(p["outside_share"])
    if not 0 <= share < 1:
        raise OptionError(f"outside_share must lie in [0, 1), got {share}")
    cat = categories(n, p["category_size"], rng)
    n_in = max(1, round(length * (1.0 - share)))
    offsets, items = [0], []
    for c in range(int(cat.max()) + 1):
        members = np.flatnonzero(cat == c)
        others = np.flatnonzero(cat != c)
        n_q = max(-(-members.size // n_in), round(float(p["queries_per_product"]) * members.size))
        anchors = rng.permutation(members)
        for j in range(n_q):
            anchored = anchors[j::n_q]
            rest = np.setdiff1d(members, anchored)
            k_in = min(n_in, members.size) - anchored.size
            inside = np.concatenate([anchored, rng.choice(rest, max(0, k_in), replace=False)])
            k_out = min(length - inside.size, others.size)
            chosen = np.concatenate([inside, rng.choice(others, k_out, replace=False)])
            score = np.log(v[chosen]) + float(p["relevance_noise"]) * rng.gumbel(size=chosen.size)
            items.append(chosen[np.argsort(-score, kind="stable")])
            offsets.append(offsets[-1] + chosen.size)
    return np.array(offsets), np.concatenate(items).astype(np.int32)


_Subst = Callable[[int, np.ndarray, np.random.Generator, dict[str, Any]], Any]

#: family name → (its own parameters with defaults, substitution builder or None)
FAMILIES: dict[str, tuple[dict[str, Any], _Subst | None]] = {
    "mnl": ({}, None),
    "dense": ({"weights": "exp"}, _subst_dense),
    "sparse": ({"k": 8, "weights": "exp"}, _subst_sparse),
    "cluster": (
        {"category_size": [5, 20], "inside": [0.8, 0.95], "k_out": 3, "weights": "exp"},
        _subst_cluster,
    ),
    "vertical": ({"attribute": [50.0, 100.0], "width": 3, "decay": 0.5}, _subst_vertical),
    "online": (ONLINE_DEFAULTS, None),  # built by generate_online
}


# ====================================================================== the public entry point
def _resolve(family: str, params: dict[str, Any]) -> dict[str, Any]:
    if family not in FAMILIES:
        raise OptionError(f"unknown family {family!r} (choose {', '.join(FAMILIES)})")
    own = FAMILIES[family][0]
    allowed = {**COMMON_DEFAULTS, **own}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise OptionError(
            f"unknown parameter(s) {', '.join(unknown)} for family {family!r} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    if family in ("mnl", "online") and "leave" in params:
        raise OptionError(f"family {family!r}: the leave share is set by no_purchase, not leave")
    for key, value in params.items():
        _check_value(key, allowed[key], value)
    out = {**allowed, **params}
    if family in ("mnl", "online"):
        del out["leave"]
    # JSON-friendly: tuples become lists, numpy scalars become Python numbers
    for key, val in out.items():
        if isinstance(val, tuple | np.ndarray):
            out[key] = [v.item() if isinstance(v, np.generic) else v for v in val]
        elif isinstance(val, np.generic):
            out[key] = val.item()
    return out


#: parameters that take a number or a ``[lo, hi]`` range (drawn uniformly per product)
_RANGE_KEYS = frozenset({"leave", "fixed_cost", "price", "category_size", "inside", "attribute"})
#: parameters whose default is None but that take a number (or null)
_NUMBER_KEYS = {"max_products": int, "budget": float, "budget_share": float}


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and bool(np.isfinite(x))


def _check_value(key: str, default: Any, value: Any) -> None:
    """Refuse a value of the wrong type for ``key`` before any work (a string where a number
    goes, NaN, a half range), naming the key; ranges and words are checked where they are used."""
    if isinstance(default, str) or default is None and key not in _NUMBER_KEYS:
        if key == "margin" and _is_number(value):
            return
        if isinstance(value, str) or (default is None and value is None):
            return
        raise OptionError(f"--set {key}={value!r}: expected a word")
    if key in _NUMBER_KEYS:
        kind = _NUMBER_KEYS[key]
        if value is None:
            return
        if _is_number(value) and value >= 0 and (kind is float or float(value).is_integer()):
            return
        what = "an integer >= 0" if kind is int else "a number >= 0"
        raise OptionError(f"--set {key}={value!r}: expected {what} or null")
    if key in _RANGE_KEYS or isinstance(default, list):
        if _is_number(value) or (
            isinstance(value, list)
            and len(value) == 2
            and all(map(_is_number, value))
            and value[0] <= value[1]
        ):
            return
        raise OptionError(f"--set {key}={value!r}: expected a finite number or a range lo,hi")
    if isinstance(default, int) and not isinstance(default, bool):
        if _is_number(value) and float(value).is_integer():
            return
        raise OptionError(f"--set {key}={value!r}: expected an integer")
    if not _is_number(value):
        raise OptionError(f"--set {key}={value!r}: expected a finite number")


def _seeds(seed: int) -> list[np.random.Generator]:
    ss = np.random.SeedSequence(int(seed))
    return [np.random.default_rng(s) for s in ss.spawn(4)]


def common_parts(
    n: int, customers: float, seed: int, p: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Arrival weights (sum 1, decreasing), price, cost and the `Instance` keyword arguments
    shared by all families (customers, salvage, fixed cost, constraints)."""
    if n < 1:
        raise OptionError(f"n_products must be >= 1, got {n}")
    g = _seeds(seed)
    lam0 = float(p["no_purchase"])
    if not 0 < lam0 < 1:
        raise OptionError(f"no_purchase must lie in (0, 1), got {lam0}")
    w = heavy_tail_weights(n, p["tail"], g[_ARRIVAL], p["alpha"], p["shape"], p["sigma"])
    price = _range_or_value(p["price"], n, g[_PRICE], "price")
    if np.any(price <= 0):
        raise OptionError(f"prices must be > 0, got range {p['price']!r}")
    margin = p["margin"]
    kappa = _MARGINS.get(margin, margin) if isinstance(margin, str) else float(margin)
    if isinstance(kappa, str) or not 0 <= kappa < 1:
        raise OptionError(f"margin must be low, medium, high or a number in [0, 1), got {margin!r}")
    # readable files: prices in cents, costs and salvage values to 4 decimals (on a grid that
    # holds the cost, so rounded salvage ≤ cost < price still holds)
    rounded = np.round(price, 2)
    price = rounded if np.all(rounded > 0) else price
    cost = np.round(kappa * price, 4)
    salvage = np.round(float(p["salvage"]) * cost, 4)
    if not 0 <= float(p["salvage"]) <= 1:
        raise OptionError(f"salvage is a fraction of cost in [0, 1], got {p['salvage']!r}")
    fixed = np.round(_range_or_value(p["fixed_cost"], n, g[_PRICE], "fixed_cost"), 2)
    if np.any(fixed < 0):
        raise OptionError("fixed_cost must be >= 0")
    dist = p["distribution"]
    if dist not in ("fixed", "poisson"):
        raise OptionError(f"distribution must be fixed or poisson, got {dist!r}")
    if not customers > 0:
        raise OptionError(f"customers must be > 0, got {customers}")
    if dist == "fixed":
        if float(customers) != int(customers):
            raise OptionError(f"a fixed number of customers must be whole, got {customers}")
        customers = int(customers)
    budget = p["budget"]
    if budget is None and p["budget_share"] is not None:
        lam = (1 - lam0) * w
        budget = round(float(p["budget_share"]) * float(np.sum(cost * np.ceil(customers * lam))), 2)
    kw = {
        "customers_mean": customers,
        "customers_distribution": dist,
        "salvage": salvage,
        "fixed_cost": fixed,
        "max_products": None if p["max_products"] is None else int(p["max_products"]),
        "budget": None if budget is None else float(budget),
    }
    return w, price, cost, kw


def product_ids(n: int) -> tuple[str, ...]:
    """``p0001``, ``p0002``, ...: zero-padded so string order is rank order."""
    width = max(4, len(str(n)))
    return tuple(f"p{i:0{width}d}" for i in range(1, n + 1))


def generate(family: str, n_products: int, customers: float, seed: int, **params: Any) -> Instance:
    """A random instance of ``family`` with ``n_products`` products and ``customers`` customers.

    Parameters
    ----------
    family
        One of ``FAMILIES``: "mnl", "dense", "sparse", "cluster", "vertical", "online".
    n_products
        N, the catalogue size.
    customers
        T: the number of customers (fixed) or its mean (``distribution="poisson"``).
    seed
        Every random draw comes from this seed; the same arguments give the same instance.
    **params
        Common and family parameters (module docstring); unknown names are refused.

    Returns
    -------
    Instance
        Named ``{family}-n{N}-t{T}-s{seed}`` unless ``name`` is given, with
        ``metadata["generator"] = {"family", "n_products", "customers", "seed", "params"}``.
        For "online" the ground-truth model is dropped: use `generate_online` to keep it.

    Raises
    ------
    OptionError
        Unknown family or parameter, or a value out of range.
    """
    if family == "online":
        return generate_online(n_products, customers, seed, **params)[0]
    p = _resolve(family, params)
    n = int(n_products)
    w, price, cost, kw = common_parts(n, customers, seed, p)
    lam0 = float(p["no_purchase"])
    g_sub = _seeds(seed)[_SUBST]
    extra: dict[str, Any] = {}
    if family == "mnl":
        if n > _DENSE_LIMIT:
            raise OptionError(f"the mnl family stores N² transitions; use N <= {_DENSE_LIMIT}")
        big_u = (1.0 - lam0) / lam0
        u = big_u * w
        arrival, rho = mnl_to_mc(u)
        extra["utilities"] = u.tolist()
    else:
        arrival = (1.0 - lam0) * w
        res = FAMILIES[family][1](n, arrival, g_sub, p)  # type: ignore[misc]
        rho, labels = res if isinstance(res, tuple) else (res, {})
        extra.update({key: val.tolist() for key, val in labels.items()})
    return _finish(family, n, seed, p, arrival, rho, price, cost, kw, extra)


def _finish(family, n, seed, p, arrival, rho, price, cost, kw, extra) -> Instance:
    name = p["name"] or f"{family}-n{n}-t{kw['customers_mean']}-s{seed}"
    params = {k: v for k, v in p.items() if k != "name" or v is not None}
    meta: dict[str, Any] = {
        "generator": {
            "family": family,
            "n_products": n,
            "customers": kw["customers_mean"],
            "seed": int(seed),
            "params": params,
        }
    }
    meta.update(extra)
    return Instance(
        ids=product_ids(n),
        price=price,
        cost=cost,
        arrival=arrival,
        transitions=sp.csr_array(rho),
        name=name,
        metadata=meta,
        **kw,
    )


def generate_online(
    n_products: int, customers: float, seed: int, **params: Any
) -> tuple[Instance, OnlineChoiceModel]:
    """A multi-step online choice model and the Markov chain instance calibrated to it.

    Products get heavy-tailed MNL weights v (``tail``/``alpha``/``shape``/``sigma``), random
    categories; each category gets about ``queries_per_product``·size queries whose result
    lists (``list_length``, a share ``outside_share`` from other categories) are ranked by
    relevance; query popularity is Zipf(``query_alpha``) in random order; examination is
    ``examination`` ("log", "topk" with ``top_k``, or a list). v0 is solved so that
    P(no purchase | all) = ``no_purchase``. The chain is calibrated (``mode``, ``samples``)
    and its error on ``error_sets`` random offer sets is recorded in
    ``metadata["calibration"]``. Products are renumbered by λ rank (p0001 most chosen).
    Prices, costs and constraints follow the common parameters (module docstring).
    """
    p = _resolve("online", params)
    n = int(n_products)
    w_prod, price, cost, kw = common_parts(n, customers, seed, p)
    g = _seeds(seed)[_SUBST]
    v = w_prod * n
    offsets, items = _build_queries(n, v, g, p)
    n_q = offsets.size - 1
    zipf = np.arange(1, n_q + 1, dtype=np.float64) ** (-float(p["query_alpha"]))
    w = np.empty(n_q)
    w[g.permutation(n_q)] = zipf / zipf.sum()
    e = examination_probabilities(p["examination"], int(np.diff(offsets).max()), int(p["top_k"]))
    ids = tuple(f"x{i}" for i in range(n))
    model = OnlineChoiceModel(ids, offsets, items, w, e, v, 1.0)
    mode = model.resolved_mode(p["mode"])
    samples = int(p["samples"])
    # the v0 solve and the calibration see the same draws (one fresh _EXTRA stream each)
    model = model.with_no_purchase_share(
        float(p["no_purchase"]), mode, samples, _seeds(seed)[_EXTRA]
    )
    info: dict[str, Any] = {}
    arrival, rho = model.calibrate(mode, samples, _seeds(seed)[_EXTRA], info=info)
    # renumber products by λ rank
    order = np.lexsort((np.arange(n), -arrival))
    new_ids = list(ids)
    final_ids = product_ids(n)
    for rank, old in enumerate(order):
        new_ids[old] = final_ids[rank]
    model = OnlineChoiceModel(tuple(new_ids), offsets, items, w, e, v, model.v0).aligned_to(
        final_ids
    )
    arrival = arrival[order]
    rho = sp.csr_array(rho[order][:, order])
    inst = _finish("online", n, seed, p, arrival, rho, price, cost, kw, {"calibration": info})
    if int(p["error_sets"]) > 0:
        info["error"] = calibration_error(
            model, inst, int(p["error_sets"]), seed=int(seed), mode=mode, samples=samples
        )
        inst.metadata["calibration"] = info
    model.metadata.update({"generator": inst.metadata["generator"], "instance": inst.name})
    return inst, model


def generate_file(
    family: str,
    n_products: int,
    customers: float,
    seed: int,
    path: str | os.PathLike[str],
    **params: Any,
) -> Instance:
    """Generate and write an instance file (for ``assortopt generate``).

    For "online" the ground-truth model is written next to it (``X.online.json`` for ``X.json``)
    and named in the instance's ``metadata["ground_truth"]``. Returns the instance as written.
    """
    if family == "online":
        inst, model = generate_online(n_products, customers, seed, **params)
        return write_generated(inst, path, ground_truth=model)
    return write_generated(generate(family, n_products, customers, seed, **params), path)


def parse_params(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """``["alpha=1.2", "leave=0.1,0.5", "tail=pareto"]`` → ``{"alpha": 1.2, "leave": [0.1, 0.5],
    "tail": "pareto"}`` (for ``assortopt generate --set KEY=VALUE``).

    A value is read as JSON when it parses (numbers, ``null``, ``[1, 2]``), as a list of numbers
    when it is comma-separated numbers (``2,2`` → ``[2, 2]``), else as a string. Dashes in keys
    become underscores. Raises `OptionError` for an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"{flag} expects KEY=VALUE, got {item!r}")
        key = key.strip().replace("-", "_")
        text = text.strip()
        try:
            value: Any = json.loads(text)
        except ValueError:
            try:
                value = [json.loads(x) for x in text.split(",")]
            except ValueError:
                value = text
            if len(value) < 2 or not all(isinstance(x, int | float) for x in value):
                value = text
        out[key] = value
    return out
