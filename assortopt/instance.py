"""The problem data: products, the Markov chain, customers and constraints.

`Instance` holds numpy arrays indexed by product position; ids map to positions. Loading,
validation and saving of the JSON file format (``assortopt-instance/1``) live in this module too.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from .exceptions import InstanceError
from .jsonio import LONG_LIST, dumps, dumps_at, read_json, write_atomic
from .npzio import is_npz, read_npz, write_npz_atomic

FORMAT = "assortopt-instance/1"

StockLike = "dict[str, int] | np.ndarray | list[int]"


@dataclass(frozen=True, eq=False)
class Instance:
    """A joint assortment and inventory planning problem under the Markov chain choice model.

    Attributes
    ----------
    ids
        Product ids, in file order; product ``i`` is ``ids[i]``.
    price, cost, salvage, fixed_cost
        Per-unit selling price, purchase cost, salvage value of a leftover unit, and the
        fixed cost paid once when a product is stocked at all (arrays of length N).
    arrival
        λ: probability that a customer first wants product i (sum ≤ 1; the rest want nothing).
    transitions
        ρ as an N×N ``scipy.sparse.csr_array``: ``transitions[i, j]`` is the probability that a
        customer at unavailable product i moves to j. Row i's deficit ``1 - Σ_j ρ_ij`` is the
        probability that she leaves.
    customers_mean, customers_distribution
        Number of customers in the season: fixed (an integer) or Poisson with that mean.
    max_products, budget
        Optional constraints: at most ``max_products`` products stocked; ``Σ cost·q ≤ budget``.
    vendor, category
        Optional labels per product (tuples of str, None for a product without one; the whole
        attribute is None when no product has that label). Ignored by the choice model; used by
        planning in waves (``--method waves``) and the planner's table.
    """

    ids: tuple[str, ...]
    price: np.ndarray
    cost: np.ndarray
    arrival: np.ndarray
    transitions: sp.csr_array
    customers_mean: float
    customers_distribution: Literal["fixed", "poisson"] = "fixed"
    salvage: np.ndarray | None = None
    fixed_cost: np.ndarray | None = None
    max_products: int | None = None
    budget: float | None = None
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    vendor: tuple[str | None, ...] | None = None
    category: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        object.__setattr__(self, "price", f64(self.price))
        object.__setattr__(self, "cost", f64(self.cost))
        object.__setattr__(self, "arrival", f64(self.arrival))
        object.__setattr__(
            self, "salvage", np.zeros(n) if self.salvage is None else f64(self.salvage)
        )
        object.__setattr__(
            self, "fixed_cost", np.zeros(n) if self.fixed_cost is None else f64(self.fixed_cost)
        )
        rho = sp.csr_array(self.transitions, dtype=np.float64)
        rho.eliminate_zeros()
        rho.sort_indices()
        object.__setattr__(self, "transitions", rho)
        object.__setattr__(self, "ids", tuple(self.ids))
        for label in ("vendor", "category"):
            val = getattr(self, label)
            if val is not None:
                val = tuple(None if v is None else str(v) for v in val)
                if len(val) != n:
                    raise ValueError(f"{label} must have one entry per product ({n})")
                object.__setattr__(self, label, val)

    # ----------------------------------------------------------------- derived data
    @property
    def n(self) -> int:
        """Number of products N."""
        return len(self.ids)

    @property
    def margin(self) -> np.ndarray:
        """price − cost per product."""
        return self.price - self.cost

    @property
    def no_purchase(self) -> float:
        """λ0: probability that a customer wants nothing at all."""
        return max(0.0, 1.0 - float(self.arrival.sum()))

    @cached_property
    def exit_prob(self) -> np.ndarray:
        """Probability of leaving from each unavailable product, ``1 − Σ_j ρ_ij``."""
        return np.maximum(0.0, 1.0 - np.asarray(self.transitions.sum(axis=1)).ravel())

    @cached_property
    def transitions_t(self) -> sp.csr_array:
        """ρᵀ as CSR, built once: the purchase-probability solves work on ρᵀ's blocks (int32
        indices where they fit: less memory traffic per sparse product)."""
        t = sp.csr_array(self.transitions.T)
        if max(t.nnz, self.n) < 2**31 - 1:
            t = sp.csr_array(
                (t.data, t.indices.astype(np.int32), t.indptr.astype(np.int32)), shape=t.shape
            )
        return t

    @cached_property
    def index(self) -> dict[str, int]:
        """Product id → position."""
        return {pid: i for i, pid in enumerate(self.ids)}

    @property
    def has_constraints(self) -> bool:
        return self.max_products is not None or self.budget is not None

    def replace(self, **changes: Any) -> Instance:
        """A copy with some fields changed (e.g. ``inst.replace(budget=None)``)."""
        return dataclasses.replace(self, **changes)

    def stock_vector(self, stock: Any) -> np.ndarray:
        """Turn a plan (dict id → units, or a length-N sequence) into an int64 array.

        Raises `InstanceError` for unknown ids, negative or non-integral units, or a wrong length.
        """
        if isinstance(stock, dict):
            q = np.zeros(self.n, dtype=np.int64)
            for pid, units in stock.items():
                if pid not in self.index:
                    raise InstanceError(f"stock.{pid}", "unknown product id")
                q[self.index[pid]] = _as_units(units, f"stock.{pid}")
            return q
        arr = np.asarray(stock)
        if arr.shape != (self.n,):
            raise InstanceError("stock", f"expected {self.n} entries, got shape {arr.shape}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise InstanceError("stock", "units must be whole numbers")
        elif arr.dtype.kind not in "iub":
            raise InstanceError("stock", "units must be whole numbers")
        if np.any(arr < 0):
            raise InstanceError("stock", "units must be >= 0")
        return arr.astype(np.int64)

    def stock_dict(self, q: np.ndarray) -> dict[str, int]:
        """Plan array → ``{id: units}`` with only positive entries, in product order."""
        q = np.asarray(q)
        return {self.ids[i]: int(q[i]) for i in np.flatnonzero(q > 0)}


def _as_units(units: Any, where: str) -> int:
    if isinstance(units, bool) or not isinstance(units, int | float | np.integer | np.floating):
        raise InstanceError(where, "units must be a whole number")
    if not np.isfinite(units) or float(units) != int(units):
        raise InstanceError(where, "units must be a whole number")
    if units < 0:
        raise InstanceError(where, "units must be >= 0")
    return int(units)


# ===================================================================== JSON file format
# Everything below reads, checks and writes the ``assortopt-instance/1`` format
# (README.md, "Instance").
# Checks run on whole columns with numpy, so a 10,000-product file is checked in milliseconds;
# only the structural pass (types, keys, ids) visits each JSON object once.

_TOL = 1e-9  # slack on "sums to at most 1" and on "sums to 1" (no exit) for rows
_TOP_KEYS = (
    "format",
    "name",
    "customers",
    "products",
    "transitions",
    "transition_matrix",
    "constraints",
    "metadata",
)
_CUSTOMER_KEYS = ("mean", "distribution")
#: Largest money amount (price, cost, salvage, fixed cost, budget) accepted: profits of a season
#: (amount × customers) then stay far inside float64 and exact to the cent.
MAX_MONEY = 1e15
#: Largest (mean) number of customers a season: planning and evaluation hold every customer of
#: a sampled season in memory (about 16 bytes each, so 10⁷ customers take some 160 MB a season).
MAX_CUSTOMERS = 10**7
_PRODUCT_REQUIRED = ("id", "price", "cost", "arrival")
_PRODUCT_KEYS = (*_PRODUCT_REQUIRED, "salvage", "fixed_cost", "vendor", "category")
_TRANSITION_KEYS = ("from", "to", "prob")
_CONSTRAINT_KEYS = ("max_products", "budget")
_DISTRIBUTIONS = ("fixed", "poisson")
_FAST_NUMBER_TYPES = {int, float}


def _type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float | np.integer | np.floating):
        return "a number"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _fmt(x: float) -> str:
    return f"{float(x):.10g}"


class _Checker:
    """Raises `InstanceError`s that name the file; holds the column checks."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, field: str, message: str) -> NoReturn:
        raise InstanceError(field, message, self.source)

    def obj(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, got {_type_name(value)}")
        return value

    def keys(
        self, d: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...], field: str
    ) -> None:
        prefix = f"{field}." if field else ""
        for key in d:
            if key not in allowed:
                self.fail(f"{prefix}{key}", f"unknown key (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in d:
                self.fail(f"{prefix}{key}", "missing (required)")

    def number(self, value: Any, field: str) -> float:
        if not _is_number(value):
            self.fail(field, f"must be a number, got {_type_name(value)}")
        try:
            x = float(value)
        except OverflowError:
            self.fail(field, "is too large")
        if not np.isfinite(x):
            self.fail(field, f"must be a finite number, got {value}")
        return x

    def integer(self, value: Any, field: str) -> int:
        x = self.number(value, field)
        if not x.is_integer():
            self.fail(field, f"must be a whole number, got {_fmt(x)}")
        return int(value)

    def column(self, values: list[Any], field: str) -> np.ndarray:
        """Finite float64 array from JSON numbers; ``field`` has a ``{}`` for the position."""
        if set(map(type, values)) <= _FAST_NUMBER_TYPES:
            try:
                arr = np.array(values, dtype=np.float64)
            except OverflowError:
                arr = None
            if arr is not None:
                bad = np.flatnonzero(~np.isfinite(arr))
                if bad.size:
                    k = int(bad[0])
                    self.fail(field.format(k), f"must be a finite number, got {values[k]}")
                return arr
        return np.array([self.number(v, field.format(k)) for k, v in enumerate(values)])

    def where(self, bad: np.ndarray, field: str, message: str, values: np.ndarray) -> None:
        """Fail at the first position where ``bad`` holds; ``message`` may use ``{value}``."""
        hits = np.flatnonzero(bad)
        if hits.size:
            k = int(hits[0])
            self.fail(field.format(k), message.format(value=_fmt(values[k]), k=k))


def instance_from_dict(d: Any, source: str | None = None) -> Instance:
    """Build an `Instance` from the parsed JSON of an instance file, checking every rule.

    Parameters
    ----------
    d
        The parsed file (a dict), as README.md ("Instance") describes it.
    source
        The file name to put at the start of error messages (None: no file).

    Raises
    ------
    InstanceError
        On the first broken rule, with a one-line message ``FILE: FIELD: what is wrong``, e.g.
        ``chocolate.json: products[3].price: must be > 0, got -1``.
    """
    ck = _Checker(source)
    if not isinstance(d, dict):
        ck.fail("", f"must be a JSON object (an instance), got {_type_name(d)}")
    ck.keys(d, _TOP_KEYS, ("customers", "products"), "")

    if "format" in d and d["format"] != FORMAT:
        ck.fail("format", f"must be {FORMAT!r}, got {d['format']!r}")
    name = d.get("name", "")
    if not isinstance(name, str):
        ck.fail("name", f"must be a string, got {_type_name(name)}")

    # ---------------------------------------------------------------- customers
    customers = ck.obj(d["customers"], "customers")
    ck.keys(customers, _CUSTOMER_KEYS, ("mean",), "customers")
    distribution = customers.get("distribution", "fixed")
    if not isinstance(distribution, str) or distribution not in _DISTRIBUTIONS:
        ck.fail("customers.distribution", f"must be 'fixed' or 'poisson', got {distribution!r}")
    mean = ck.number(customers["mean"], "customers.mean")
    if not mean > 0:
        ck.fail("customers.mean", f"must be > 0, got {_fmt(mean)}")
    if mean > MAX_CUSTOMERS:
        ck.fail(
            "customers.mean",
            f"must be <= {MAX_CUSTOMERS:.0e} (every customer of a sampled season is held in "
            f"memory), got {_fmt(mean)}",
        )
    customers_mean: float = mean
    if distribution == "fixed":
        if not mean.is_integer():
            ck.fail("customers.mean", f"must be a whole number when fixed, got {_fmt(mean)}")
        customers_mean = int(mean)

    # ---------------------------------------------------------------- products
    products = d["products"]
    if _columnar(products):  # columnar form (.npz): one array per field
        ids, index, price, cost, arrival, salvage, fixed_cost = _product_columns(ck, products)
        labels = {key: _column_labels(ck, products, key, len(ids)) for key in LABELS}
    else:
        ids, index, price, cost, arrival, salvage, fixed_cost = _product_list(ck, products)
        labels = {key: _labels(ck, products, key) for key in LABELS}
    n = len(ids)
    ck.where(~(price > 0), "products[{}].price", "must be > 0, got {value}", price)
    ck.where(~(cost >= 0), "products[{}].cost", "must be >= 0, got {value}", cost)
    ck.where(~(salvage >= 0), "products[{}].salvage", "must be >= 0, got {value}", salvage)
    ck.where(~(salvage < price), "products[{}].salvage", "must be < price, got {value}", salvage)
    ck.where(~(salvage <= cost), "products[{}].salvage", "must be <= cost, got {value}", salvage)
    ck.where(~(fixed_cost >= 0), "products[{}].fixed_cost", "must be >= 0, got {value}", fixed_cost)
    ck.where(~(arrival >= 0), "products[{}].arrival", "must be >= 0, got {value}", arrival)
    for money, col in (
        ("price", price),
        ("cost", cost),
        ("salvage", salvage),
        ("fixed_cost", fixed_cost),
    ):
        ck.where(
            col > MAX_MONEY,
            "products[{}]." + money,
            f"must be <= {MAX_MONEY:.0e} (larger amounts overflow the profit), got {{value}}",
            col,
        )
    total = float(arrival.sum())
    if total > 1 + _TOL:
        ck.fail(
            "products[*].arrival", f"the arrival probabilities sum to {_fmt(total)}, must be <= 1"
        )

    # ---------------------------------------------------------------- transitions
    if "transitions" in d and "transition_matrix" in d:
        ck.fail("transition_matrix", "give either transitions or transition_matrix, not both")
    if "transition_matrix" in d:
        trans_field = "transition_matrix"
        rho = _dense_transitions(ck, d["transition_matrix"], n)
    else:
        trans_field = "transitions"
        rho = _sparse_transitions(ck, d.get("transitions", []), index, ids)
    sums = np.asarray(rho.sum(axis=1)).ravel()
    _check_can_leave(ck, rho, sums, ids, trans_field)

    # ---------------------------------------------------------------- constraints, metadata
    max_products: int | None = None
    budget: float | None = None
    if "constraints" in d:
        constraints = ck.obj(d["constraints"], "constraints")
        ck.keys(constraints, _CONSTRAINT_KEYS, (), "constraints")
        if "max_products" in constraints:
            max_products = ck.integer(constraints["max_products"], "constraints.max_products")
            if max_products < 0:
                ck.fail("constraints.max_products", f"must be >= 0, got {max_products}")
        if "budget" in constraints:
            budget = ck.number(constraints["budget"], "constraints.budget")
            if not budget >= 0:
                ck.fail("constraints.budget", f"must be >= 0, got {_fmt(budget)}")
            if budget > MAX_MONEY * 1e3:
                ck.fail(
                    "constraints.budget",
                    f"must be <= {MAX_MONEY * 1e3:.0e} (or left out for no budget), "
                    f"got {_fmt(budget)}",
                )
    metadata = ck.obj(d.get("metadata", {}), "metadata")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        ck.fail("metadata", f"must hold plain JSON with finite numbers ({exc})")

    return Instance(
        ids=ids,
        price=price,
        cost=cost,
        arrival=arrival,
        transitions=rho,
        customers_mean=customers_mean,
        customers_distribution=distribution,  # type: ignore[arg-type]
        salvage=salvage,
        fixed_cost=fixed_cost,
        max_products=max_products,
        budget=budget,
        name=name,
        metadata=copy.deepcopy(metadata),
        source=source,
        vendor=labels["vendor"],
        category=labels["category"],
    )


def _columnar(table: Any) -> bool:
    """A table given as numpy columns (read from .npz; parsed JSON never holds arrays)."""
    return (
        isinstance(table, dict)
        and bool(table)
        and all(isinstance(v, np.ndarray) for v in table.values())
    )


def _add_id(
    ck: _Checker, k: int, pid: Any, index: dict[str, int], stripped: dict[str, str]
) -> None:
    """Check product ``k``'s id (a non-empty string, unique, also up to surrounding white space)
    and record it in ``index``."""
    if not isinstance(pid, str) or not pid.strip():
        ck.fail(f"products[{k}].id", f"must be a string with a visible character, got {pid!r}")
    if pid in index:
        ck.fail(f"products[{k}].id", f"duplicate id {pid!r} (also products[{index[pid]}])")
    other = stripped.get(pid.strip())
    if other is not None:
        ck.fail(
            f"products[{k}].id",
            f"id {pid!r} differs from products[{index[other]}].id {other!r} only by "
            "surrounding whitespace",
        )
    index[pid] = k
    stripped[pid.strip()] = pid


def _product_list(ck: _Checker, products: Any) -> tuple:
    """Ids, id → position and the numeric columns of the JSON ``products`` list."""
    if not isinstance(products, list):
        ck.fail("products", f"must be a list of objects, got {_type_name(products)}")
    if not products:
        ck.fail("products", "must not be empty")
    index: dict[str, int] = {}
    stripped: dict[str, str] = {}
    required = set(_PRODUCT_REQUIRED)
    allowed = set(_PRODUCT_KEYS)
    for k, p in enumerate(products):
        if not isinstance(p, dict):
            ck.fail(f"products[{k}]", f"must be an object, got {_type_name(p)}")
        if not (required <= p.keys() <= allowed):
            ck.keys(p, _PRODUCT_KEYS, _PRODUCT_REQUIRED, f"products[{k}]")
        _add_id(ck, k, p["id"], index, stripped)
    ids = tuple(index)

    price = ck.column([p["price"] for p in products], "products[{}].price")
    cost = ck.column([p["cost"] for p in products], "products[{}].cost")
    arrival = ck.column([p["arrival"] for p in products], "products[{}].arrival")
    salvage = ck.column([p.get("salvage", 0.0) for p in products], "products[{}].salvage")
    fixed_cost = ck.column([p.get("fixed_cost", 0.0) for p in products], "products[{}].fixed_cost")
    return ids, index, price, cost, arrival, salvage, fixed_cost


def _numeric_column(ck: _Checker, arr: Any, field: str, n: int) -> np.ndarray:
    """A finite float64 column of a columnar table; ``field`` has a ``{}`` for the row."""
    table = field.split("[", 1)[0]
    name = field.rsplit(".", 1)[1]
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        ck.fail(f"{table}.{name}", f"must be a column of numbers, got {arr.dtype} {arr.shape}")
    if len(arr) != n:
        ck.fail(f"{table}.{name}", f"must have {n} rows, got {len(arr)}")
    out = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        k = int(bad[0])
        ck.fail(field.format(k), f"must be a finite number, got {out[k]}")
    return out


def _product_columns(ck: _Checker, cols: dict[str, Any]) -> tuple:
    """Ids, id → position and the numeric columns of a columnar products table."""
    ck.keys(cols, _PRODUCT_KEYS, _PRODUCT_REQUIRED, "products")
    raw = np.asarray(cols["id"])
    if raw.ndim != 1 or raw.dtype.kind != "U":
        ck.fail("products.id", f"must be a column of strings, got {raw.dtype} {raw.shape}")
    n = len(raw)
    if n == 0:
        ck.fail("products", "must not be empty")
    ids = tuple(raw.tolist())
    index: dict[str, int] = {}
    stripped: dict[str, str] = {}
    for k, pid in enumerate(ids):
        _add_id(ck, k, pid, index, stripped)
    zeros = np.zeros(n)
    columns = [
        _numeric_column(ck, cols[key], f"products[{{}}].{key}", n) if key in cols else zeros.copy()
        for key in ("price", "cost", "arrival", "salvage", "fixed_cost")
    ]
    return (ids, index, *columns)


#: Optional string labels of a product (ignored by the choice model).
LABELS = ("vendor", "category")


def _column_labels(
    ck: _Checker, cols: dict[str, Any], key: str, n: int
) -> tuple[str | None, ...] | None:
    """A label column of the columnar form (strings; an empty string is no label), or None."""
    if key not in cols:
        return None
    arr = np.asarray(cols[key])
    if arr.ndim != 1 or arr.dtype.kind != "U" or len(arr) != n:
        ck.fail(f"products.{key}", f"must be a column of {n} strings, got {arr.dtype} {arr.shape}")
    return tuple(v if v.strip() else None for v in arr.tolist())


def _labels(
    ck: _Checker, products: list[dict[str, Any]], key: str
) -> tuple[str | None, ...] | None:
    """The optional string label ``key`` of every product (None where absent), or None when no
    product has it; a label must be a non-empty string."""
    if not any(key in p for p in products):
        return None
    out: list[str | None] = []
    for k, p in enumerate(products):
        v = p.get(key)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            ck.fail(f"products[{k}].{key}", f"must be a non-empty string, got {v!r}")
        out.append(v)
    return tuple(out)


def _sparse_transitions(
    ck: _Checker, trans: Any, index: dict[str, int], ids: tuple[str, ...]
) -> sp.csr_array:
    """ρ from the sparse ``transitions`` list, checking ids, probabilities, pairs and row sums."""
    n = len(ids)
    if _columnar(trans):  # columnar form (.npz): from/to are row positions
        return _coo_checks(ck, *_transition_columns(ck, trans, n), ids)
    if not isinstance(trans, list):
        ck.fail("transitions", f"must be a list of objects, got {_type_name(trans)}")
    keyset = set(_TRANSITION_KEYS)
    rows: list[int] = []
    cols: list[int] = []
    for k, t in enumerate(trans):
        if not isinstance(t, dict):
            ck.fail(f"transitions[{k}]", f"must be an object, got {_type_name(t)}")
        if t.keys() != keyset:
            ck.keys(t, _TRANSITION_KEYS, _TRANSITION_KEYS, f"transitions[{k}]")
        for end, out in (("from", rows), ("to", cols)):
            pid = t[end]
            if not isinstance(pid, str):
                ck.fail(f"transitions[{k}].{end}", f"must be a product id, got {_type_name(pid)}")
            pos = index.get(pid)
            if pos is None:
                ck.fail(f"transitions[{k}].{end}", f"unknown product id {pid!r}")
            out.append(pos)
    prob = ck.column([t["prob"] for t in trans], "transitions[{}].prob")
    row = np.array(rows, dtype=np.int64)
    col = np.array(cols, dtype=np.int64)
    return _coo_checks(ck, row, col, prob, ids)


def _transition_columns(
    ck: _Checker, cols: dict[str, Any], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from, to, prob) of a columnar transitions table, positions checked against N."""
    ck.keys(cols, _TRANSITION_KEYS, _TRANSITION_KEYS, "transitions")
    m = len(np.asarray(cols["prob"]).reshape(-1))
    ends = []
    for end in ("from", "to"):
        arr = np.asarray(cols[end])
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            ck.fail(f"transitions.{end}", f"must be a column of row positions, got {arr.dtype}")
        if len(arr) != m:
            ck.fail(f"transitions.{end}", f"must have {m} rows (as prob), got {len(arr)}")
        arr = arr.astype(np.int64)
        bad = np.flatnonzero((arr < 0) | (arr >= n))
        if bad.size:
            k = int(bad[0])
            ck.fail(
                f"transitions[{k}].{end}",
                f"unknown product position {int(arr[k])} (the products table has {n} rows)",
            )
        ends.append(arr)
    prob = _numeric_column(ck, cols["prob"], "transitions[{}].prob", m)
    return ends[0], ends[1], prob


def _coo_checks(
    ck: _Checker, row: np.ndarray, col: np.ndarray, prob: np.ndarray, ids: tuple[str, ...]
) -> sp.csr_array:
    """ρ from COO triplets, checking probabilities, self-loops, duplicate pairs and row sums."""
    n = len(ids)
    ck.where(~(prob >= 0), "transitions[{}].prob", "must be >= 0, got {value}", prob)
    ck.where(row == col, "transitions[{}].to", "must differ from 'from' (no self-loops)", prob)
    pair = row * n + col
    order = np.argsort(pair, kind="stable")
    repeated = order[1:][pair[order[1:]] == pair[order[:-1]]]
    if repeated.size:
        k = int(repeated.min())
        first = int(np.flatnonzero(pair == pair[k])[0])
        ck.fail(
            f"transitions[{k}]",
            f"duplicate pair {ids[row[k]]} -> {ids[col[k]]} (also transitions[{first}])",
        )
    sums = np.bincount(row, weights=prob, minlength=n)
    over = np.flatnonzero(sums > 1 + _TOL)
    if over.size:
        i = int(over[0])
        ck.fail(
            "transitions",
            f"the probabilities out of {ids[i]} sum to {_fmt(sums[i])}, must be <= 1",
        )
    keep = prob > 0
    return sp.csr_array((prob[keep], (row[keep], col[keep])), shape=(n, n))


def _dense_transitions(ck: _Checker, matrix: Any, n: int) -> sp.csr_array:
    """ρ from a dense ``transition_matrix`` (N lists of N numbers, zero diagonal)."""
    field = "transition_matrix"
    if not isinstance(matrix, list):
        ck.fail(field, f"must be a list of {n} lists, got {_type_name(matrix)}")
    if len(matrix) != n:
        ck.fail(field, f"must have one row per product ({n}), got {len(matrix)}")
    for i, row in enumerate(matrix):
        if not isinstance(row, list):
            ck.fail(f"{field}[{i}]", f"must be a list of {n} numbers, got {_type_name(row)}")
        if len(row) != n:
            ck.fail(f"{field}[{i}]", f"must have {n} entries (one per product), got {len(row)}")
    rows = [ck.column(row, f"{field}[{i}][{{}}]") for i, row in enumerate(matrix)]
    dense = np.array(rows, dtype=np.float64).reshape(n, n)
    neg = np.argwhere(~(dense >= 0))
    if neg.size:
        i, j = (int(v) for v in neg[0])
        ck.fail(f"{field}[{i}][{j}]", f"must be >= 0, got {_fmt(dense[i, j])}")
    diag = np.flatnonzero(np.diagonal(dense) != 0)
    if diag.size:
        i = int(diag[0])
        ck.fail(f"{field}[{i}][{i}]", f"must be 0 (the diagonal), got {_fmt(dense[i, i])}")
    sums = dense.sum(axis=1)
    over = np.flatnonzero(sums > 1 + _TOL)
    if over.size:
        i = int(over[0])
        ck.fail(f"{field}[{i}]", f"row sums to {_fmt(sums[i])}, must be <= 1")
    return sp.csr_array(dense)


def _check_can_leave(
    ck: _Checker, rho: sp.csr_array, sums: np.ndarray, ids: tuple[str, ...], field: str
) -> None:
    """Reject a group of products a customer can never leave (README.md, "Instance": leaving).

    Product i can lead to an exit if some product reachable from i (i itself included) has a row
    summing to less than 1 (beyond the 1e-9 slack). Breadth-first search on the reversed graph
    from a virtual exit node finds all such products at once.
    """
    n = len(ids)
    exits = np.flatnonzero(sums < 1 - _TOL)
    if exits.size == n:
        return
    coo = rho.tocoo()
    src = np.concatenate([coo.col, np.full(exits.size, n)])
    dst = np.concatenate([coo.row, exits])
    reverse = sp.csr_array((np.ones(src.size), (src, dst)), shape=(n + 1, n + 1))
    reached = csgraph.breadth_first_order(reverse, n, directed=True, return_predecessors=False)
    can_leave = np.zeros(n + 1, dtype=bool)
    can_leave[reached] = True
    trapped = np.flatnonzero(~can_leave[:n])
    if trapped.size:
        t = int(trapped[0])
        group = np.sort(
            csgraph.breadth_first_order(rho, t, directed=True, return_predecessors=False)
        )
        names = ", ".join(ids[i] for i in group[:6])
        if group.size > 6:
            names += f" and {group.size - 6} more"
        ck.fail(
            field,
            f"customers at {ids[t]} can never leave (rows of {names} sum to 1 and lead only "
            "to each other)",
        )


def load_instance(path: str | os.PathLike[str]) -> Instance:
    """Read and check an instance file (README.md, "Instance").

    The instance's ``name`` defaults to the file's stem and ``source`` is the path as given.

    Raises
    ------
    InstanceError
        The file is unreadable, not JSON, or breaks a rule; the message names the file and field.
    """
    source = str(path)
    inst = instance_from_dict(read_npz(path) if is_npz(path) else read_json(path), source=source)
    if not inst.name:
        inst = inst.replace(name=Path(path).stem)
    return inst


def validate_file(path: str | os.PathLike[str]) -> Instance:
    """Check an instance file (``assortopt validate``): the `Instance`, or `InstanceError`."""
    return load_instance(path)


def instance_to_dict(inst: Instance) -> dict[str, Any]:
    """The instance in the file format: sparse ``transitions``, defaults (salvage 0, fixed cost 0,
    no constraints, empty metadata) left out. ``instance_from_dict`` of it gives ``inst`` back.
    Raises nothing (an `Instance` is valid by construction)."""
    out = _dict_without_transitions(inst)
    coo = inst.transitions.tocoo()
    ids = np.asarray(inst.ids, dtype=object)  # ids by position in C, not a Python loop
    out["transitions"] = [
        {"from": i, "to": j, "prob": v}
        for i, j, v in zip(
            ids[coo.row].tolist(), ids[coo.col].tolist(), coo.data.tolist(), strict=True
        )
    ]
    return _reorder(out)


def _reorder(out: dict[str, Any]) -> dict[str, Any]:
    """The file's key order: format, name, customers, products, transitions, then the rest."""
    first = ("format", "name", "customers", "products", "transitions")
    return {k: out[k] for k in first if k in out} | {k: v for k, v in out.items() if k not in first}


def instance_json_text(inst: Instance) -> str:
    """The JSON text of `save_instance` (``dumps(instance_to_dict(inst))``, the same characters),
    with the transitions, a million rows for a dense N = 1,000 chain, formatted in one pass
    over columns instead of one dict per row."""
    out = _reorder(_dict_without_transitions(inst) | {"transitions": []})
    nnz = inst.transitions.nnz
    if nnz <= LONG_LIST:  # a short list may take one line: the general layout decides
        return dumps(instance_to_dict(inst))
    coo = inst.transitions.tocoo()
    quoted = np.array([json.dumps(i, ensure_ascii=False) for i in inst.ids], dtype=object)
    pad = "    "
    rows = f",\n{pad}".join(
        map(
            '{{"from": {}, "to": {}, "prob": {!r}}}'.format,
            quoted[coo.row].tolist(),
            quoted[coo.col].tolist(),
            coo.data.tolist(),
        )
    )
    parts = []
    for key, value in out.items():
        text = f"[\n{pad}{rows}\n  ]" if key == "transitions" else dumps_at(value, 2)
        parts.append(f"  {json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _dict_without_transitions(inst: Instance) -> dict[str, Any]:
    head = instance_to_dict_header(inst)
    out = {k: head[k] for k in ("format", "name", "customers") if k in head}
    products = []
    salvage = inst.salvage.tolist()
    fixed_cost = inst.fixed_cost.tolist()
    for i, (pid, p, c, a) in enumerate(
        zip(inst.ids, inst.price.tolist(), inst.cost.tolist(), inst.arrival.tolist(), strict=True)
    ):
        prod: dict[str, Any] = {"id": pid, "price": p, "cost": c, "arrival": a}
        if salvage[i] != 0:
            prod["salvage"] = salvage[i]
        if fixed_cost[i] != 0:
            prod["fixed_cost"] = fixed_cost[i]
        for label in ("vendor", "category"):
            val = getattr(inst, label)
            if val is not None and val[i] is not None:
                prod[label] = val[i]
        products.append(prod)
    out["products"] = products
    out.update((k, v) for k, v in head.items() if k not in out)  # constraints, metadata
    return out


def save_instance(inst: Instance, path: str | os.PathLike[str]) -> None:
    """Write ``inst`` to ``path`` atomically in the file format.

    The dict is checked with the loader's rules first, so assortopt never writes an instance
    file it would refuse to read (an invalid ``inst`` raises `InstanceError` naming ``path``).
    """
    if is_npz(path):
        d = instance_to_columns(inst)
        instance_from_dict(d, source=str(path))
        write_npz_atomic(path, d)
        return
    instance_from_dict(instance_to_columns(inst), source=str(path))  # the same rules, vectorised
    text = instance_json_text(inst)
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def instance_to_columns(inst: Instance) -> dict[str, Any]:
    """The instance dict with columnar ``products`` and ``transitions`` (the ``.npz`` form):
    `instance_from_dict` checks it with the same rules and gives ``inst`` back."""
    d = instance_to_dict_header(inst)
    ids = np.array(inst.ids, dtype=str)
    products: dict[str, np.ndarray] = {
        "id": ids,
        "price": inst.price,
        "cost": inst.cost,
        "arrival": inst.arrival,
    }
    if np.any(inst.salvage != 0):
        products["salvage"] = inst.salvage
    if np.any(inst.fixed_cost != 0):
        products["fixed_cost"] = inst.fixed_cost
    for key in LABELS:
        values = getattr(inst, key)
        if values is not None:
            products[key] = np.array([v or "" for v in values], dtype=str)
    coo = inst.transitions.tocoo()
    small = inst.n < 2**31
    d["products"] = products
    d["transitions"] = {
        "from": coo.row.astype(np.int32 if small else np.int64),
        "to": coo.col.astype(np.int32 if small else np.int64),
        "prob": coo.data.astype(np.float64),
    }
    return d


def instance_to_dict_header(inst: Instance) -> dict[str, Any]:
    """The instance file's fields other than ``products`` and ``transitions``."""
    mean = inst.customers_mean
    if inst.customers_distribution == "fixed" and float(mean).is_integer():
        mean = int(mean)
    else:
        mean = float(mean)
    out: dict[str, Any] = {"format": FORMAT}
    if inst.name:
        out["name"] = inst.name
    out["customers"] = {"mean": mean, "distribution": inst.customers_distribution}
    constraints: dict[str, Any] = {}
    if inst.max_products is not None:
        constraints["max_products"] = int(inst.max_products)
    if inst.budget is not None:
        constraints["budget"] = float(inst.budget)
    if constraints:
        out["constraints"] = constraints
    if inst.metadata:
        out["metadata"] = copy.deepcopy(inst.metadata)
    return out
