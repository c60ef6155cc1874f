"""The product catalogue CSV (``--catalogue products.csv``) shared by ``approx`` and ``fit``.

Columns: ``id``, ``price``, ``cost`` (required) and ``salvage``, ``fixed_cost``, ``vendor``,
``category`` (optional; an empty cell is the default: 0 for numbers, no label for strings).
Rules are the instance file's: unique non-empty ids, price > 0, cost ≥ 0, 0 ≤ salvage < price
and salvage ≤ cost, fixed_cost ≥ 0. A bad cell raises one `InstanceError` naming the file, the
row and the column (``products.csv: row 4, column price: must be > 0, got -1``).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import InstanceError

__all__ = ["Catalogue", "read_catalogue"]

REQUIRED = ("id", "price", "cost")
OPTIONAL = ("salvage", "fixed_cost", "vendor", "category")


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Per-product economics and labels, in file order."""

    ids: tuple[str, ...]
    price: np.ndarray
    cost: np.ndarray
    salvage: np.ndarray
    fixed_cost: np.ndarray
    vendor: tuple[str | None, ...]
    category: tuple[str | None, ...]
    source: str | None = None

    @property
    def n(self) -> int:
        return len(self.ids)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per product (``id``, ``price``, ``cost``, ``salvage``, ``fixed_cost`` and the
        labels that are set), in file order."""
        out = []
        for k, pid in enumerate(self.ids):
            row: dict[str, Any] = {"id": pid}
            for c in ("price", "cost", "salvage", "fixed_cost"):
                row[c] = float(getattr(self, c)[k])
            for c in ("vendor", "category"):
                if getattr(self, c)[k] is not None:
                    row[c] = getattr(self, c)[k]
            out.append(row)
        return out

    def instance_fields(self) -> dict[str, Any]:
        """Keyword arguments for `assortopt.instance.Instance` (ids, prices, costs, ...)."""
        return {
            "ids": self.ids,
            "price": self.price,
            "cost": self.cost,
            "salvage": self.salvage,
            "fixed_cost": self.fixed_cost,
        }


def _number(text: str, where: str, source: str, default: float | None) -> float:
    if text == "" and default is not None:
        return default
    try:
        x = float(text)
    except ValueError:
        raise InstanceError(where, f"not a number: {text!r}", source) from None
    if not math.isfinite(x):
        raise InstanceError(where, f"must be finite, got {text!r}", source)
    return x


def read_catalogue(path: str | os.PathLike[str]) -> Catalogue:
    """Read and check a catalogue CSV (see the module docstring)."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = [str(c).strip() for c in (reader.fieldnames or [])]
            for c in REQUIRED:
                if c not in cols:
                    raise InstanceError(
                        f"row 1, column {c}", "missing column (needs id, price, cost)", source
                    )
            for c in cols:
                if c not in REQUIRED + OPTIONAL:
                    raise InstanceError(
                        f"row 1, column {c}",
                        f"unknown column (known: {', '.join(REQUIRED + OPTIONAL)})",
                        source,
                    )
            rows = []
            for k, raw in enumerate(reader, start=2):
                if None in raw:
                    raise InstanceError(f"row {k}", "more cells than columns", source)
                rows.append((k, {str(a).strip(): (b or "").strip() for a, b in raw.items()}))
    except FileNotFoundError:
        raise InstanceError("", "no such file", source) from None
    except UnicodeDecodeError:
        raise InstanceError("", "not UTF-8 text", source) from None
    except OSError as exc:
        raise InstanceError("", f"cannot read file: {exc.strerror or exc}", source) from None
    if not rows:
        raise InstanceError("", "no products", source)
    ids: list[str] = []
    seen: dict[str, int] = {}
    vals = {c: [] for c in ("price", "cost", "salvage", "fixed_cost")}
    labels: dict[str, list[str | None]] = {"vendor": [], "category": []}
    for k, row in rows:
        pid = row["id"]
        if not pid:
            raise InstanceError(f"row {k}, column id", "empty product id", source)
        if pid in seen:
            raise InstanceError(f"row {k}, column id", f"duplicate product {pid!r}", source)
        seen[pid] = k
        ids.append(pid)
        price = _number(row["price"], f"row {k}, column price", source, None)
        cost = _number(row["cost"], f"row {k}, column cost", source, None)
        salvage = _number(row.get("salvage", ""), f"row {k}, column salvage", source, 0.0)
        fixed = _number(row.get("fixed_cost", ""), f"row {k}, column fixed_cost", source, 0.0)
        if not price > 0:
            raise InstanceError(f"row {k}, column price", f"must be > 0, got {price:g}", source)
        if cost < 0:
            raise InstanceError(f"row {k}, column cost", f"must be >= 0, got {cost:g}", source)
        if salvage < 0 or salvage >= price or salvage > cost:
            raise InstanceError(
                f"row {k}, column salvage",
                f"must satisfy 0 <= salvage < price and salvage <= cost, got {salvage:g}",
                source,
            )
        if fixed < 0:
            raise InstanceError(
                f"row {k}, column fixed_cost", f"must be >= 0, got {fixed:g}", source
            )
        for c, x in zip(vals, (price, cost, salvage, fixed), strict=True):
            vals[c].append(x)
        for c in labels:
            labels[c].append(row.get(c) or None)
    return Catalogue(
        ids=tuple(ids),
        price=np.array(vals["price"]),
        cost=np.array(vals["cost"]),
        salvage=np.array(vals["salvage"]),
        fixed_cost=np.array(vals["fixed_cost"]),
        vendor=tuple(labels["vendor"]),
        category=tuple(labels["category"]),
        source=source,
    )
