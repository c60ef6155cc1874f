"""Interop with python_choice_models (Berbeglia, Garassino & Vulcano) Markov chain files.

Their Markov chain model is ``{"code": "mkv", "products": [0, 1, ..., n], "lambdas": [...],
"ros": [[...], ...]}`` with product 0 standing for "no purchase": ``lambdas[0]`` is the share who
first want nothing, ``ros[i][0]`` the probability of leaving from i, row 0 is never used, and the
diagonal ``ros[i][i]`` may be non-zero (their ``from_mnl`` fills it). A return to the same
unavailable product changes nothing, so `import_pcm` drops the diagonal and rescales the rest of
the row by 1/(1 − ros[i][i]). Prices and costs are not part of their model: they
come from arguments or a CSV file.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .exceptions import InstanceError
from .instance import Instance, instance_from_dict, instance_to_dict
from .jsonio import read_json

__all__ = ["import_pcm", "export_pcm", "read_price_csv"]

_TOL = 1e-9


def read_price_csv(path: str | os.PathLike[str]) -> dict[str, tuple[float, float]]:
    """``{product id: (price, cost)}`` from a CSV with columns ``id`` (or ``product``), ``price``,
    ``cost``. Raises `InstanceError` naming the file, row and column."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            key = "id" if "id" in cols else "product" if "product" in cols else None
            if key is None or "price" not in cols or "cost" not in cols:
                raise InstanceError("", "needs columns id (or product), price and cost", source)
            out: dict[str, tuple[float, float]] = {}
            for k, row in enumerate(reader, start=2):
                row = {str(a).strip(): (b or "").strip() for a, b in row.items() if a is not None}
                pid = row[key]
                vals = []
                for col in ("price", "cost"):
                    try:
                        vals.append(float(row[col]))
                    except ValueError:
                        raise InstanceError(
                            f"line {k}.{col}", f"not a number: {row[col]!r}", source
                        ) from None
                if pid in out:
                    raise InstanceError(f"line {k}.{key}", f"duplicate product {pid!r}", source)
                out[pid] = (vals[0], vals[1])
            return out
    except FileNotFoundError:
        raise InstanceError("", "no such file", source) from None
    except OSError as exc:
        raise InstanceError("", f"cannot read file: {exc}", source) from None


def _per_product(x: Any, ids: list[str], what: str, source: str | None) -> np.ndarray:
    """A number for all, a sequence in product order, or a dict id → value."""
    n = len(ids)
    if isinstance(x, dict):
        missing = [pid for pid in ids if pid not in x]
        if missing:
            raise InstanceError(what, f"no value for product {missing[0]!r}", source)
        return np.array([float(x[pid]) for pid in ids])
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise InstanceError(what, f"expected {n} values (one per product), got {arr.size}", source)
    return arr


def import_pcm(
    path_or_dict: str | os.PathLike[str] | dict[str, Any],
    prices: Any = None,
    costs: Any = None,
    price_csv: str | os.PathLike[str] | None = None,
    customers: float = 100,
    distribution: str = "fixed",
    name: str | None = None,
    salvage: Any = None,
    fixed_cost: Any = None,
    max_products: int | None = None,
    budget: float | None = None,
) -> Instance:
    """An `Instance` from a python_choice_models Markov chain model (file or parsed dict).

    Product k ≥ 1 gets id ``str(products[k])`` (or ``ids[k−1]`` when the dict has the ``ids``
    list that `export_pcm` adds). Prices and costs: ``price_csv`` (columns
    id/product, price, cost), or ``prices``/``costs`` (a number for all, a list in product order
    or a dict id → value). The result passes every check of `instance_from_dict`.

    Raises
    ------
    InstanceError
        Missing or malformed ``products``/``lambdas``/``ros`` (the message names the file and
        the field, e.g. ``model.json: ros[3]: ...``), a trap, or missing prices/costs.
    """
    if isinstance(path_or_dict, dict):
        d, source = path_or_dict, None
    else:
        source = str(path_or_dict)
        d = read_json(path_or_dict)
    if isinstance(d, dict) and "products" not in d and isinstance(d.get("model"), dict):
        d = d["model"]
    if not isinstance(d, dict):
        raise InstanceError("", "must be a JSON object with products, lambdas, ros", source)
    for key in ("products", "lambdas", "ros"):
        if key not in d:
            raise InstanceError(
                key, "missing (required by a python_choice_models MC model)", source
            )
    if "code" in d and d["code"] != "mkv":
        raise InstanceError(
            "code", f"must be 'mkv' (a Markov chain model), got {d['code']!r}", source
        )
    products = d["products"]
    if not isinstance(products, list) or len(products) < 2:
        raise InstanceError(
            "products", "must list 0 (no purchase) and at least one product", source
        )
    if products[0] != 0:
        raise InstanceError("products[0]", f"must be 0 (no purchase), got {products[0]!r}", source)
    m = len(products)
    ids = [str(p) for p in products[1:]]
    if "ids" in d:  # written by export_pcm: the original product ids
        if not isinstance(d["ids"], list) or len(d["ids"]) != m - 1:
            raise InstanceError("ids", f"must list {m - 1} product ids", source)
        ids = [str(p) for p in d["ids"]]
    if len(set(ids)) != len(ids) or any(not s for s in ids):
        raise InstanceError("products", "product names must be distinct and non-empty", source)
    lam = _vector(d["lambdas"], m, "lambdas", source)
    ros = d["ros"]
    if not isinstance(ros, list) or len(ros) != m:
        raise InstanceError("ros", f"must be {m} rows of {m} numbers", source)
    mat = np.array([_vector(r, m, f"ros[{i}]", source) for i, r in enumerate(ros)])
    bad = np.argwhere(~(mat[1:] >= 0))
    if bad.size:
        i, j = (int(x) + (1 if k == 0 else 0) for k, x in enumerate(bad[0]))
        raise InstanceError(f"ros[{i}][{j}]", "must be >= 0", source)
    if np.any(lam < 0):
        raise InstanceError(f"lambdas[{int(np.flatnonzero(lam < 0)[0])}]", "must be >= 0", source)
    if abs(lam.sum() - 1.0) > 1e-6:
        raise InstanceError(
            "lambdas", f"must sum to 1 (with lambdas[0]), got {lam.sum():.10g}", source
        )
    rows = mat[1:, :]
    sums = rows.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > 1e-6)
    if off.size:
        raise InstanceError(
            f"ros[{int(off[0]) + 1}]",
            f"must sum to 1 (with ros[i][0]), got {sums[off[0]]:.10g}",
            source,
        )
    rho = mat[1:, 1:].copy()
    diag = np.diagonal(rho).copy()
    stuck = np.flatnonzero(diag >= 1.0 - _TOL)
    if stuck.size:
        raise InstanceError(
            f"ros[{int(stuck[0]) + 1}][{int(stuck[0]) + 1}]",
            "is 1: a customer there never moves on",
            source,
        )
    np.fill_diagonal(rho, 0.0)
    rho /= (1.0 - diag)[:, None]
    arrival = lam[1:]

    if price_csv is not None:
        table = read_price_csv(price_csv)
        missing = [pid for pid in ids if pid not in table]
        if missing:
            raise InstanceError("", f"no price/cost for product {missing[0]!r}", str(price_csv))
        price = np.array([table[pid][0] for pid in ids])
        cost = np.array([table[pid][1] for pid in ids])
    else:
        if prices is None or costs is None:
            raise InstanceError("", "prices and costs are needed (arguments or price_csv)", source)
        price = _per_product(prices, ids, "prices", source)
        cost = _per_product(costs, ids, "costs", source)
    inst = Instance(
        ids=tuple(ids),
        price=price,
        cost=cost,
        arrival=arrival,
        transitions=sp.csr_array(rho),
        customers_mean=customers,
        customers_distribution=distribution,  # type: ignore[arg-type]
        salvage=None if salvage is None else _per_product(salvage, ids, "salvage", source),
        fixed_cost=None
        if fixed_cost is None
        else _per_product(fixed_cost, ids, "fixed_cost", source),
        max_products=max_products,
        budget=budget,
        name=name or (Path(source).stem if source else "pcm"),
        metadata={"imported_from": {"format": "python_choice_models/mkv", "file": source}},
    )
    # the loader's checks (positive prices, trap-free chain, ...) with this file's name
    checked = instance_from_dict(instance_to_dict(inst), source=source)
    return checked.replace(source=source)


def _vector(x: Any, m: int, what: str, source: str | None) -> np.ndarray:
    if not isinstance(x, list) or len(x) != m:
        raise InstanceError(what, f"must be a list of {m} numbers", source)
    for k, v in enumerate(x):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise InstanceError(f"{what}[{k}]", f"must be a finite number, got {v!r}", source)
    return np.array(x, dtype=np.float64)


def export_pcm(inst: Instance) -> dict[str, Any]:
    """The instance's choice model as a python_choice_models Markov chain dict.

    ``products = [0, 1, ..., N]`` (product k is ``inst.ids[k−1]``; the ids themselves are listed
    under ``ids``), ``lambdas = [λ0, λ...]``, dense ``ros`` with the exit in column 0, row 0 all
    zeros and a zero diagonal. Prices and costs are not part of that format.
    """
    n = inst.n
    ros = np.zeros((n + 1, n + 1))
    ros[1:, 1:] = inst.transitions.toarray()
    ros[1:, 0] = inst.exit_prob
    return {
        "code": "mkv",
        "products": list(range(n + 1)),
        "lambdas": [inst.no_purchase, *inst.arrival.tolist()],
        "ros": ros.tolist(),
        "ids": list(inst.ids),
    }
